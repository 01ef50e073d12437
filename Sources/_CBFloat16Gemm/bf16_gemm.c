// The bf16 GEMM (bf16_gemm.h): a blocked GEMM (Goto; BLIS) whose micro-kernel is VDPBF16PS.
//
//     C[m, n] = alpha · Σ_p bf16(op(A)[i, p]) · bf16(op(B)[p, j]) + beta · C        fp32 sums
//
// VDPBF16PS multiplies 32 bf16 pairs and adds each lane's two products into one fp32 lane:
//
//     acc[j] += a[2j] · b[2j] + a[2j+1] · b[2j+1]        (j = 0..15; products exact in fp32)
//
// so both operands are packed in pairs along k, one 32-bit word per (row or column, k-pair):
//
//     for jc in 0..<n step NC                      B block: KC × NC, packed once, reused for all of m
//       for pc in 0..<k step KC                    (KC even: a k-pair never straddles two blocks)
//         pack op(B) block as ⌈NC/NR⌉ panels [KC/2][NR] words (word = bf16 pair (p, p+1) of a column)
//         for ic in 0..<m step MC
//           pack op(A) block as ⌈MC/MR⌉ panels [KC/2][MR] words (zero rows beyond m)
//           for each NR panel of B, for each MR panel of A:
//             C tile [12, 32] (+)= A panel · B panel: 24 zmm accumulators; per k-pair two B loads,
//             12 broadcast words of A (embedded broadcasts), 24 VDPBF16PS
//
// Rounding to bf16 happens while packing (VCVTNE2PS2BF16: nearest even, NaN quiet; denormal
// inputs become zero, as VDPBF16PS itself treats them). An odd k is padded with a zero element.
// Every element of C sums its k-pairs in one lane, KC at a time, in order, whatever m, n and the
// tile position: a row's result does not depend on how many rows the product has, so a product
// split over threads at tile boundaries gives bitwise the same numbers.
//
// This file is compiled with -mavx512f -mavx512bw -mavx512vl -mavx512bf16 (Package.swift): every
// function in it may contain those instructions, so nothing here may run before CPUID has said
// AVX512_BF16 (KernelVariant.cpuSupportsAVX512BF16). jobs/check-kernels.sh checks that this
// object defines only flowformer_bf16_* functions.
#include "bf16_gemm.h"

#if defined(__x86_64__) && defined(__AVX512BF16__)
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MR FLOWFORMER_BF16_GEMM_MR
#define NR FLOWFORMER_BF16_GEMM_NR
#define KC 512     // k per block (even): a B panel [KC/2][NR] words is 32 KiB, an A panel 12 KiB
#define MC 144     // rows of A per block: [MC][KC] bf16 = 144 KiB, in L2
#define NC 2048    // columns of B per block: [KC][NC] bf16 = 2 MiB

#define PACKED_A_WORDS ((long)MC * (KC / 2))
#define PACKED_B_WORDS ((long)((NC + NR - 1) / NR) * NR * (KC / 2))
#define SCRATCH_FLOATS ((long)MR * NR)

static long min_long(long x, long y) { return x < y ? x : y; }

// ---- per-thread buffers: packed A block, packed B block, scratch tile (64-byte aligned) ----

static pthread_key_t buffers_key;
static pthread_once_t buffers_once = PTHREAD_ONCE_INIT;
static void make_buffers_key(void) { pthread_key_create(&buffers_key, free); }

static uint32_t *thread_buffers(void) {
    pthread_once(&buffers_once, make_buffers_key);
    void *block = pthread_getspecific(buffers_key);
    if (block == NULL) {
        size_t bytes = (size_t)(PACKED_A_WORDS + PACKED_B_WORDS + SCRATCH_FLOATS) * 4;
        if (posix_memalign(&block, 64, bytes) != 0) {
            fprintf(stderr, "flowformer: cannot allocate %zu bytes for the bf16 GEMM's packing buffers\n", bytes);
            abort();
        }
        pthread_setspecific(buffers_key, block);
    }
    return (uint32_t *)block;
}

// ---- conversion ----

/// Mask of the first `count` (clamped to 0...16) lanes.
static __mmask16 first_lanes(long count) {
    if (count >= 16) return (__mmask16)0xFFFF;
    if (count <= 0) return 0;
    return (__mmask16)((1u << count) - 1u);
}

/// An operand: its elements (floats, or bf16 bit patterns) and their storage type.
typedef struct {
    const char *base;
    int bf16;      // 1: uint16_t bf16 bit patterns; 0: floats
} operand;

/// Bytes per element of `x`.
static inline __attribute__((always_inline)) long element_bytes(operand x) { return x.bf16 ? 2 : 4; }

/// The address of element `offset` of `x`.
static inline __attribute__((always_inline)) const char *element(operand x, long offset) {
    return x.base + offset * element_bytes(x);
}

/// `x` from element `offset` on.
static inline __attribute__((always_inline)) operand operand_at(operand x, long offset) {
    return (operand){element(x, offset), x.bf16};
}

/// 32 consecutive elements from `at` (zero beyond `count`) as 32 bf16 in order: 16 words, word t
/// the pair (x[2t], x[2t+1]). Floats are rounded (VCVTNE2PS2BF16); bf16 elements are loaded.
static inline __m512i bf16_pairs(const char *at, int bf16, long count) {
    if (bf16) {
        __mmask32 lanes = count >= 32 ? (__mmask32)0xFFFFFFFFu : count <= 0 ? 0 : (__mmask32)((1u << count) - 1u);
        return _mm512_maskz_loadu_epi16(lanes, at);
    }
    const float *x = (const float *)at;
    __m512 low = _mm512_maskz_loadu_ps(first_lanes(count), x);
    __m512 high = _mm512_maskz_loadu_ps(first_lanes(count - 16), x + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(high, low);
}

/// 16 + 16 elements of two rows (zero beyond `lanes`; row1 NULL: zeros) as 16 words, word t the
/// pair (row0[t], row1[t]).
static inline __m512i bf16_interleaved16(const char *row0, const char *row1, int bf16, __mmask16 lanes) {
    __m512i both;   // [row0 ×16 | row1 ×16] as bf16
    if (bf16) {
        __m256i first = _mm256_maskz_loadu_epi16(lanes, row0);
        __m256i second = row1 ? _mm256_maskz_loadu_epi16(lanes, row1) : _mm256_setzero_si256();
        both = _mm512_inserti64x4(_mm512_castsi256_si512(first), second, 1);
    } else {
        __m512 first = _mm512_maskz_loadu_ps(lanes, row0);
        __m512 second = row1 ? _mm512_maskz_loadu_ps(lanes, row1) : _mm512_setzero_ps();
        both = (__m512i)_mm512_cvtne2ps_pbh(second, first);
    }
    const __m512i order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                           23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(order, both);
}

// ---- packing ----

/// Transposes a 16 × 16 block of 32-bit words held in 16 registers: afterwards lane r of x[t] is
/// what lane t of x[r] was. Three stages of shuffles, 64 in all:
///   1. unpack 32-bit words of row pairs (r, r+1):   lane L of t holds rows r, r+1 at columns 4L…4L+3
///   2. unpack 64-bit halves of those (row quads):   lane L of u[4g+m] = rows 4g…4g+3 at column 4L+m
///   3. regroup 128-bit lanes across the four quads: x[4L+m] = lane L of u[m], u[4+m], u[8+m], u[12+m]
static inline __attribute__((always_inline)) void transpose_words_16x16(__m512i x[16]) {
    __m512i t[16], u[16];
    for (int r = 0; r < 16; r += 2) {
        t[r] = _mm512_unpacklo_epi32(x[r], x[r + 1]);
        t[r + 1] = _mm512_unpackhi_epi32(x[r], x[r + 1]);
    }
    for (int g = 0; g < 16; g += 4) {
        u[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
        u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
        u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    for (int m = 0; m < 4; m++) {
        // 0x44: lanes 0, 1 of each source; 0xEE: lanes 2, 3; 0x88: even lanes; 0xDD: odd lanes.
        __m512i low01 = _mm512_shuffle_i32x4(u[m], u[4 + m], 0x44), low23 = _mm512_shuffle_i32x4(u[m], u[4 + m], 0xEE);
        __m512i high01 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0x44);
        __m512i high23 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0xEE);
        x[m] = _mm512_shuffle_i32x4(low01, high01, 0x88);
        x[4 + m] = _mm512_shuffle_i32x4(low01, high01, 0xDD);
        x[8 + m] = _mm512_shuffle_i32x4(low23, high23, 0x88);
        x[12 + m] = _mm512_shuffle_i32x4(low23, high23, 0xDD);
    }
}

/// op(A) = A [rows, depth] (row i at a + i·lda) into panels [pairs][MR] words. Per panel and 32
/// k-elements: the MR rows converted to 16 words each (rows MR…15 zero), transposed in registers,
/// then 16 stores of MR words — the panel's words for 16 consecutive k-pairs, contiguous.
static inline __attribute__((always_inline)) void pack_a_rows_of(operand a, int bf16, long lda, long rows, long depth,
                                                                 uint32_t *out) {
    long pairs = (depth + 1) / 2;
    for (long panel = 0; panel < rows; panel += MR) {
        long height = min_long(MR, rows - panel);
        uint32_t *target = out + panel / MR * pairs * MR;
        for (long p = 0; p < depth; p += 32) {
            __m512i words[16];
            for (long r = 0; r < 16; r++) {
                words[r] = r < height ? bf16_pairs(element(a, (panel + r) * lda + p), bf16, depth - p)
                                      : _mm512_setzero_si512();
            }
            transpose_words_16x16(words);
            long count = min_long(16, (depth - p + 1) / 2);
            for (long t = 0; t < count; t++) {
                _mm512_mask_storeu_epi32(target + (p / 2 + t) * MR, (__mmask16)((1u << MR) - 1u), words[t]);
            }
        }
    }
}

/// op(A) = Aᵀ with A stored [depth, rows] (element (i, p) at a + p·lda + i) into panels
/// [pairs][MR] words: two rows of A at a time give MR words.
static void pack_a_columns(operand a, long lda, long rows, long depth, uint32_t *out) {
    long pairs = (depth + 1) / 2;
    for (long panel = 0; panel < rows; panel += MR) {
        __mmask16 lanes = first_lanes(min_long(MR, rows - panel));
        uint32_t *target = out + panel / MR * pairs * MR;
        for (long q = 0; q < pairs; q++) {
            const char *row0 = element(a, 2 * q * lda + panel);
            const char *row1 = 2 * q + 1 < depth ? element(a, (2 * q + 1) * lda + panel) : NULL;
            _mm512_mask_storeu_epi32(target + q * MR, (__mmask16)0x0FFF, bf16_interleaved16(row0, row1, a.bf16, lanes));
        }
    }
}

/// op(B) = B [depth, columns] (element (p, j) at b + p·ldb + j) into panels [pairs][NR] words.
static void pack_b_rows(operand b, long ldb, long depth, long columns, uint32_t *out) {
    long pairs = (depth + 1) / 2;
    for (long panel = 0; panel < columns; panel += NR) {
        long width = min_long(NR, columns - panel);
        __mmask16 left = first_lanes(width), right = first_lanes(width - 16);
        uint32_t *target = out + panel / NR * pairs * NR;
        for (long q = 0; q < pairs; q++) {
            long first = 2 * q * ldb + panel;
            int odd = 2 * q + 1 < depth;
            _mm512_store_si512(target + q * NR,
                               bf16_interleaved16(element(b, first), odd ? element(b, first + ldb) : NULL, b.bf16, left));
            _mm512_store_si512(target + q * NR + 16,
                               bf16_interleaved16(element(b, first + 16), odd ? element(b, first + ldb + 16) : NULL,
                                                  b.bf16, right));
        }
    }
}

/// op(B) = Bᵀ with B stored [columns, depth] (element (p, j) at b + j·ldb + p) into panels
/// [pairs][NR] words: a row of B is a column of the panel, its pairs already adjacent.
static void pack_b_columns(operand b, long ldb, long depth, long columns, uint32_t *out) {
    long pairs = (depth + 1) / 2;
    uint32_t words[16] __attribute__((aligned(64)));
    for (long panel = 0; panel < columns; panel += NR) {
        long width = min_long(NR, columns - panel);
        uint32_t *target = out + panel / NR * pairs * NR;
        for (long r = 0; r < NR; r++) {
            if (r >= width) {
                for (long q = 0; q < pairs; q++) target[q * NR + r] = 0;
                continue;
            }
            for (long p = 0; p < depth; p += 32) {
                _mm512_store_si512(words, bf16_pairs(element(b, (panel + r) * ldb + p), b.bf16, depth - p));
                long count = min_long(16, (depth - p + 1) / 2);
                uint32_t *column = target + p / 2 * NR + r;
                for (long t = 0; t < count; t++) column[t * NR] = words[t];
            }
        }
    }
}

/// pack_a_rows_of, compiled once per storage type (a run-time type inside its row loop kept the
/// 16 rows out of registers: the d × d forward products ran 11 % slower).
static void pack_a_rows(operand a, long lda, long rows, long depth, uint32_t *out) {
    if (a.bf16) pack_a_rows_of(a, 1, lda, rows, depth, out);
    else pack_a_rows_of(a, 0, lda, rows, depth, out);
}

// ---- micro-kernel ----

#define STEP(i)                                                                        \
    {                                                                                  \
        __m512bh broadcast = (__m512bh)_mm512_set1_epi32((int)a[i]);                   \
        acc##i##_0 = _mm512_dpbf16_ps(acc##i##_0, broadcast, b0);                      \
        acc##i##_1 = _mm512_dpbf16_ps(acc##i##_1, broadcast, b1);                      \
    }
#define STORE(i) store_row(c + (i) * ldc, acc##i##_0, acc##i##_1, overwrite, bias, alpha)
#define DECLARE(i) __m512 acc##i##_0 = _mm512_setzero_ps(), acc##i##_1 = _mm512_setzero_ps()

/// C[0..<32] = (or +=) alpha · the two accumulators; `bias` (32 values) is added when overwriting.
static inline __attribute__((always_inline)) void store_row(float *c, __m512 left, __m512 right, int overwrite,
                                                           const float *bias, float alpha) {
    if (alpha != 1.0f) {
        __m512 scale = _mm512_set1_ps(alpha);
        left = _mm512_mul_ps(left, scale);
        right = _mm512_mul_ps(right, scale);
    }
    if (overwrite) {
        if (bias) {
            left = _mm512_add_ps(left, _mm512_loadu_ps(bias));
            right = _mm512_add_ps(right, _mm512_loadu_ps(bias + 16));
        }
    } else {
        left = _mm512_add_ps(_mm512_loadu_ps(c), left);
        right = _mm512_add_ps(_mm512_loadu_ps(c + 16), right);
    }
    _mm512_storeu_ps(c, left);
    _mm512_storeu_ps(c + 16, right);
}

/// C tile [12, 32] (+)= A panel [pairs][12] words · B panel [pairs][32] words.
static void micro_kernel(long pairs, const uint32_t *a, const uint32_t *b, float *c, long ldc, int overwrite,
                         const float *bias, float alpha) {
    // The tile's 24 cache lines of C, asked for (for writing) now and stored after the k loop:
    // the model's outputs are larger than L2, and a store that misses the cache stalls this
    // kernel's next call (`bench sgemm`: 8192 × 1024 × 256 went from 203–207 to 216–218 GFLOP/s).
    for (int r = 0; r < MR; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_ET0);
        _mm_prefetch((const char *)(c + r * ldc + 16), _MM_HINT_ET0);
    }
    DECLARE(0); DECLARE(1); DECLARE(2); DECLARE(3); DECLARE(4); DECLARE(5);
    DECLARE(6); DECLARE(7); DECLARE(8); DECLARE(9); DECLARE(10); DECLARE(11);
    for (long q = 0; q < pairs; q++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(b);
        __m512bh b1 = (__m512bh)_mm512_load_si512(b + 16);
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5)
        STEP(6) STEP(7) STEP(8) STEP(9) STEP(10) STEP(11)
        a += MR;
        b += NR;
    }
    STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5);
    STORE(6); STORE(7); STORE(8); STORE(9); STORE(10); STORE(11);
}

// ---- driver ----

/// C[m, n] = beta · C (beta = 0 writes zeros whatever C held); then bias in every row, if given.
static void scale_c(float *c, long m, long n, long ldc, float beta, const float *bias) {
    for (long i = 0; i < m; i++) {
        float *row = c + i * ldc;
        for (long j = 0; j < n; j++) row[j] = bias ? bias[j] : beta == 0.0f ? 0.0f : beta * row[j];
    }
}

// ---- prefetching the next block's operands ----
//
// Packing reads an operand block from memory in a burst (the model's activations are larger than
// L2), while the micro-kernels that follow read only packed data. So while one block is
// multiplied, the source lines of the block packed next are prefetched, a few per micro-kernel
// call: the packing then reads from cache.

/// Rows of an operand block in memory: `rows` rows of `row_bytes` bytes, `stride` bytes apart.
typedef struct {
    const char *base;
    long stride, rows, row_bytes;
} region;

/// Up to two regions, walked a cache line at a time.
typedef struct {
    region parts[2];
    int count, part;
    long row, offset;
    long lines_per_call;
} prefetcher;

static long region_lines(region r) { return r.rows * ((r.row_bytes + 63) / 64 + 1); }

static void prefetcher_start(prefetcher *p, long calls) {
    long lines = 0;
    for (int i = 0; i < p->count; i++) lines += region_lines(p->parts[i]);
    p->part = 0;
    p->row = 0;
    p->offset = 0;
    p->lines_per_call = calls > 0 ? (lines + calls - 1) / calls : 0;
}

static inline void prefetch_some(prefetcher *p) {
    for (long n = 0; n < p->lines_per_call && p->part < p->count; n++) {
        region r = p->parts[p->part];
        _mm_prefetch(r.base + p->row * r.stride + p->offset, _MM_HINT_T1);
        p->offset += 64;
        if (p->offset >= r.row_bytes + 64) {   // + 64: a row's last line when it starts mid-line
            p->offset = 0;
            if (++p->row == r.rows) {
                p->row = 0;
                p->part++;
            }
        }
    }
}

/// C block [rows, columns] (+)= packed A block · packed B block.
static void multiply_block(long rows, long columns, long depth, const uint32_t *packed_a, const uint32_t *packed_b,
                           float *c, long ldc, int overwrite, const float *bias, float alpha, float *scratch,
                           prefetcher *next) {
    long pairs = (depth + 1) / 2;
    prefetcher_start(next, ((rows + MR - 1) / MR) * ((columns + NR - 1) / NR));
    for (long j = 0; j < columns; j += NR) {
        long width = min_long(NR, columns - j);
        const uint32_t *panel_b = packed_b + j / NR * pairs * NR;
        for (long i = 0; i < rows; i += MR) {
            long height = min_long(MR, rows - i);
            const uint32_t *panel_a = packed_a + i / MR * pairs * MR;
            float *tile = c + i * ldc + j;
            prefetch_some(next);
            if (width == NR && height == MR) {
                micro_kernel(pairs, panel_a, panel_b, tile, ldc, overwrite, bias ? bias + j : NULL, alpha);
                continue;
            }
            // Edge tile: computed into the scratch tile, only its valid part written.
            micro_kernel(pairs, panel_a, panel_b, scratch, NR, 1, NULL, alpha);
            for (long r = 0; r < height; r++) {
                const float *source = scratch + r * NR;
                float *destination = tile + r * ldc;
                if (overwrite && bias) {
                    for (long col = 0; col < width; col++) destination[col] = source[col] + bias[j + col];
                } else if (overwrite) {
                    for (long col = 0; col < width; col++) destination[col] = source[col];
                } else {
                    for (long col = 0; col < width; col++) destination[col] += source[col];
                }
            }
        }
    }
}

void flowformer_bf16_gemm(int trans_a, int a_type, int trans_b, int b_type, long m, long n, long k,
                          float alpha, const void *a, long lda, const void *b, long ldb, float beta,
                          float *c, long ldc, const float *bias) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(c, m, n, ldc, beta, bias);
        return;
    }
    if (beta != 0.0f && beta != 1.0f) scale_c(c, m, n, ldc, beta, NULL);
    operand a_elements = {(const char *)a, a_type == FLOWFORMER_BF16_OPERAND_BF16};
    operand b_elements = {(const char *)b, b_type == FLOWFORMER_BF16_OPERAND_BF16};
    long a_stride = lda * element_bytes(a_elements), b_stride = ldb * element_bytes(b_elements);
    uint32_t *buffers = thread_buffers();
    uint32_t *packed_a = buffers, *packed_b = buffers + PACKED_A_WORDS;
    float *scratch = (float *)(buffers + PACKED_A_WORDS + PACKED_B_WORDS);
    for (long jc = 0; jc < n; jc += NC) {
        long columns = min_long(NC, n - jc);
        for (long pc = 0; pc < k; pc += KC) {
            long depth = min_long(KC, k - pc);
            if (trans_b) pack_b_columns(operand_at(b_elements, jc * ldb + pc), ldb, depth, columns, packed_b);
            else pack_b_rows(operand_at(b_elements, pc * ldb + jc), ldb, depth, columns, packed_b);
            int overwrite = pc == 0 && beta == 0.0f;
            for (long ic = 0; ic < m; ic += MC) {
                long rows = min_long(MC, m - ic);
                // What is packed next: the A block below this one, or the next k block's B and first A block.
                prefetcher next = {.count = 0};
                long next_ic = ic + MC < m ? ic + MC : 0, next_pc = ic + MC < m ? pc : pc + KC;
                if (next_pc < k) {
                    long next_depth = min_long(KC, k - next_pc), next_rows = min_long(MC, m - next_ic);
                    long a_bytes = element_bytes(a_elements), b_bytes = element_bytes(b_elements);
                    if (next_pc != pc) {
                        next.parts[next.count++] = trans_b
                            ? (region){element(b_elements, jc * ldb + next_pc), b_stride, columns, next_depth * b_bytes}
                            : (region){element(b_elements, next_pc * ldb + jc), b_stride, next_depth, columns * b_bytes};
                    }
                    next.parts[next.count++] = trans_a
                        ? (region){element(a_elements, next_pc * lda + next_ic), a_stride, next_depth, next_rows * a_bytes}
                        : (region){element(a_elements, next_ic * lda + next_pc), a_stride, next_rows, next_depth * a_bytes};
                }
                if (trans_a) pack_a_columns(operand_at(a_elements, pc * lda + ic), lda, rows, depth, packed_a);
                else pack_a_rows(operand_at(a_elements, ic * lda + pc), lda, rows, depth, packed_a);
                multiply_block(rows, columns, depth, packed_a, packed_b, c + ic * ldc + jc, ldc, overwrite,
                               overwrite && bias ? bias + jc : NULL, alpha, scratch, &next);
            }
        }
    }
}

#else
#include <stdio.h>
#include <stdlib.h>
// Built without AVX512_BF16 (another architecture): never called (the CPUID probe says no).
void flowformer_bf16_gemm(int trans_a, int a_type, int trans_b, int b_type, long m, long n, long k,
                          float alpha, const void *a, long lda, const void *b, long ldb, float beta,
                          float *c, long ldc, const float *bias) {
    (void)trans_a; (void)a_type; (void)trans_b; (void)b_type; (void)m; (void)n; (void)k; (void)alpha; (void)a;
    (void)lda; (void)b; (void)ldb; (void)beta; (void)c; (void)ldc; (void)bias;
    fprintf(stderr, "flowformer: the bf16 GEMM was called on a build without AVX512_BF16\n");
    abort();
}
#endif
