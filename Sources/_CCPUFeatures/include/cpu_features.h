// Which instruction sets this CPU (and the operating system) lets a process use.
#ifndef FLOWFORMER_CPU_FEATURES_H
#define FLOWFORMER_CPU_FEATURES_H

/// 1 when every instruction that code compiled for the x86-64-v3 level may use is available:
/// AVX, AVX2, FMA, F16C, BMI1, BMI2, LZCNT, MOVBE (and the v2 level below it), and the operating
/// system saves the YMM registers (XSAVE with SSE and AVX state enabled in XCR0). 0 otherwise,
/// and always 0 on other architectures.
int flowformer_cpu_supports_x86_64_v3(void);

/// 1 when, in addition, the x86-64-v4 level is available: AVX512F, AVX512BW, AVX512CD, AVX512DQ,
/// AVX512VL, and the operating system saves the opmask and ZMM registers (XCR0 bits 5–7).
int flowformer_cpu_supports_x86_64_v4(void);

/// 1 when, in addition to x86-64-v4, the CPU has AVX512_BF16 (CPUID leaf 7 sub-leaf 1, EAX bit 5:
/// VDPBF16PS and the bf16 conversions), which the bf16 GEMM (_CBFloat16Gemm) needs.
int flowformer_cpu_supports_avx512_bf16(void);

/// Asks the CPU to start loading the cache line at `address` (a hint; never faults).
static inline void flowformer_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

#endif
