// CPUID / XGETBV checks for the x86-64-v3 and v4 levels and AVX512_BF16 (see cpu_features.h). Compiled for the baseline
// target: nothing here may itself use an instruction it is testing for.
#include "cpu_features.h"

#if defined(__x86_64__)
#include <cpuid.h>

static int bit(unsigned value, int index) { return (value >> index) & 1u; }

int flowformer_cpu_supports_x86_64_v3(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    // Leaf 1, ECX: SSE3 0, SSSE3 9, FMA 12, CX16 13, SSE4.1 19, SSE4.2 20, MOVBE 22, POPCNT 23,
    // XSAVE 26, OSXSAVE 27, AVX 28, F16C 29.
    static const int leaf1[] = {0, 9, 12, 13, 19, 20, 22, 23, 26, 27, 28, 29};
    for (unsigned i = 0; i < sizeof leaf1 / sizeof leaf1[0]; i++)
        if (!bit(ecx, leaf1[i])) return 0;
    // XCR0 bits 1 (SSE) and 2 (AVX): the OS saves XMM and YMM state on context switches.
    unsigned xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 6u) != 6u) return 0;
    // Leaf 7, sub-leaf 0, EBX: BMI1 3, AVX2 5, BMI2 8.
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    if (!bit(ebx, 3) || !bit(ebx, 5) || !bit(ebx, 8)) return 0;
    // Leaf 0x80000001, ECX: LAHF/SAHF 0, LZCNT (ABM) 5.
    if (!__get_cpuid(0x80000001u, &eax, &ebx, &ecx, &edx)) return 0;
    if (!bit(ecx, 0) || !bit(ecx, 5)) return 0;
    return 1;
}
int flowformer_cpu_supports_x86_64_v4(void) {
    if (!flowformer_cpu_supports_x86_64_v3()) return 0;
    unsigned xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 0xE0u) != 0xE0u) return 0;
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    // Leaf 7, sub-leaf 0, EBX: AVX512F 16, AVX512DQ 17, AVX512CD 28, AVX512BW 30, AVX512VL 31.
    static const int leaf7[] = {16, 17, 28, 30, 31};
    for (unsigned i = 0; i < sizeof leaf7 / sizeof leaf7[0]; i++)
        if (!bit(ebx, leaf7[i])) return 0;
    return 1;
}
int flowformer_cpu_supports_avx512_bf16(void) {
    if (!flowformer_cpu_supports_x86_64_v4()) return 0;   // includes the XCR0 check for ZMM state
    unsigned eax, ebx, ecx, edx;
    // Leaf 7, sub-leaf 1, EAX: AVX512_BF16 5 (VCVTNE2PS2BF16, VCVTNEPS2BF16, VDPBF16PS).
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || eax < 1) return 0;
    if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return 0;
    return bit(eax, 5);
}
#else
int flowformer_cpu_supports_x86_64_v3(void) { return 0; }
int flowformer_cpu_supports_x86_64_v4(void) { return 0; }
int flowformer_cpu_supports_avx512_bf16(void) { return 0; }
#endif
