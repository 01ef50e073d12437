// The bf16 GEMM: fp32 operands rounded to bfloat16 (round to nearest even) as they are packed,
// or operands stored as bf16, products summed in fp32 by VDPBF16PS. Compiled for AVX512F/BW/VL + AVX512_BF16
// (Package.swift): call it ONLY when KernelVariant.cpuSupportsAVX512BF16 is true.
#ifndef FLOWFORMER_BF16_GEMM_H
#define FLOWFORMER_BF16_GEMM_H

#ifdef __cplusplus
extern "C" {
#endif

/// Rows of C per micro-tile (the same as the fp32 AVX-512 GEMM, so thread splits align).
#define FLOWFORMER_BF16_GEMM_MR 12
/// Columns of C per micro-tile: two 16-lane fp32 accumulators.
#define FLOWFORMER_BF16_GEMM_NR 32

/// How an operand's elements are stored.
#define FLOWFORMER_BF16_OPERAND_F32 0    /* float, rounded to bf16 (nearest even) as it is packed */
#define FLOWFORMER_BF16_OPERAND_BF16 1   /* uint16_t bf16 bit patterns, taken as they are */

/// C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C, row-major with leading dimensions
/// (as BLAS sgemm with CblasRowMajor); op(A) is A [m, k] (lda ≥ k) or, with trans_a, Aᵀ of A
/// stored [k, m] (lda ≥ m); likewise op(B). `a_type` and `b_type` say how each operand is stored:
/// FLOWFORMER_BF16_OPERAND_F32 (floats, each rounded to bfloat16: nearest even; NaN stays NaN,
/// quiet; ±∞ stays ±∞) or FLOWFORMER_BF16_OPERAND_BF16 (uint16_t bf16 bit patterns); leading
/// dimensions count elements either way, and the same values give the same bits either way.
/// Each product of two bf16 values is exact in fp32 and the sum is fp32. beta = 0 ignores C's old
/// contents (NaN included); with `bias` [n] (beta must be 0) C = alpha · op(A) · op(B) + bias.
/// Thread-safe (per-thread buffers).
void flowformer_bf16_gemm(int trans_a, int a_type, int trans_b, int b_type, long m, long n, long k,
                          float alpha, const void *a, long lda, const void *b, long ldb, float beta,
                          float *c, long ldc, const float *bias);

#ifdef __cplusplus
}
#endif
#endif
