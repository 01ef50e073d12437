// The bf16 GEMM: fp32 operands rounded to bfloat16 (round to nearest even) as they are packed,
// products summed in fp32 by VDPBF16PS. Compiled for AVX512F/BW/VL + AVX512_BF16
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

/// C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C, row-major with leading dimensions
/// (as BLAS sgemm with CblasRowMajor); op(A) is A [m, k] (lda ≥ k) or, with trans_a, Aᵀ of A
/// stored [k, m] (lda ≥ m); likewise op(B). Every element of A and B is rounded to bfloat16
/// (nearest even; NaN stays NaN, quiet; ±∞ stays ±∞); each product of two bf16 values is exact
/// in fp32 and the sum is fp32. beta = 0 ignores C's old contents (NaN included); with `bias`
/// [n] (beta must be 0) C = alpha · op(A) · op(B) + bias. Thread-safe (per-thread buffers).
void flowformer_bf16_gemm(int trans_a, int trans_b, long m, long n, long k, float alpha,
                          const float *a, long lda, const float *b, long ldb, float beta,
                          float *c, long ldc, const float *bias);

#ifdef __cplusplus
}
#endif
#endif
