#pragma once
/// \file detail/simd.hpp Run-time selected AVX2/FMA/F16C kernels for the row accumulations that
/// dominate pooled lookup. The library is compiled for the baseline ISA (SSE2 on x86-64); these
/// functions are compiled for AVX2 with a target attribute and called only when the CPU has it.

#include <atomic>
#include <cstddef>
#include <cstdint>

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define EMBTAB_X86_DISPATCH 1
#endif

namespace embtab::detail {

#ifdef EMBTAB_X86_DISPATCH

/// Whether the CPU runs AVX2, FMA and F16C, from cpuid (and the OS saving YMM state).
inline bool detect_avx2() noexcept {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), f16c = c & (1u << 29);
    if (!(fma && osxsave && f16c)) return false;
    unsigned xcr0_lo, xcr0_hi;  // the OS saves the YMM registers
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 6u) != 6u) return false;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 5));  // AVX2
}

/// Detected once at start-up: a plain load on the hot path (no initialisation guard). Before
/// static initialisation reaches it, it reads false and the baseline kernels run.
inline const bool cpu_avx2 = detect_avx2();

/// True when the CPU runs AVX2, FMA and F16C.
inline bool cpu_has_avx2() noexcept { return cpu_avx2; }

/// `acc[0..n) += ws · q[0..n) + wb` for `n` a multiple of 16 byte codes `q`.
__attribute__((target("avx2,fma"))) inline void add_codes_avx2(const std::uint8_t* q, float ws,
                                                                 float wb, float* acc,
                                                                 std::size_t n) noexcept {
    const __m256 vs = _mm256_set1_ps(ws), vb = _mm256_set1_ps(wb);
    for (std::size_t j = 0; j < n; j += 8) {
        const __m128i c = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + j));
        const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c));
        _mm256_storeu_ps(acc + j, _mm256_fmadd_ps(v, vs, _mm256_add_ps(_mm256_loadu_ps(acc + j), vb)));
    }
}

/// `acc[0..n) += ws · q + wb` for `n` a multiple of 16 nibble codes, two a byte, low first.
__attribute__((target("avx2,fma"))) inline void add_nibbles_avx2(const std::uint8_t* q, float ws,
                                                                   float wb, float* acc,
                                                                   std::size_t n) noexcept {
    const __m256 vs = _mm256_set1_ps(ws), vb = _mm256_set1_ps(wb);
    const __m128i mask = _mm_set1_epi8(0x0f);
    for (std::size_t j = 0; j < n; j += 16) {
        const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + j / 2));
        const __m128i codes = _mm_unpacklo_epi8(_mm_and_si128(b, mask),
                                                _mm_and_si128(_mm_srli_epi16(b, 4), mask));
        const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(codes));
        const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(codes, 8)));
        _mm256_storeu_ps(acc + j, _mm256_fmadd_ps(lo, vs, _mm256_add_ps(_mm256_loadu_ps(acc + j), vb)));
        _mm256_storeu_ps(acc + j + 8,
                         _mm256_fmadd_ps(hi, vs, _mm256_add_ps(_mm256_loadu_ps(acc + j + 8), vb)));
    }
}

/// `acc[0..n) += w · h[0..n)` for `n` a multiple of 8 fp16 values.
__attribute__((target("avx2,fma,f16c"))) inline void add_fp16_avx2(const std::uint16_t* h, float w,
                                                                     float* acc,
                                                                     std::size_t n) noexcept {
    const __m256 vw = _mm256_set1_ps(w);
    for (std::size_t j = 0; j < n; j += 8) {
        const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + j)));
        _mm256_storeu_ps(acc + j, _mm256_fmadd_ps(v, vw, _mm256_loadu_ps(acc + j)));
    }
}

/// `acc[0..n) += w · v[0..n)` for `n` a multiple of 8 floats.
__attribute__((target("avx2,fma"))) inline void add_f32_avx2(const float* v, float w, float* acc,
                                                               std::size_t n) noexcept {
    const __m256 vw = _mm256_set1_ps(w);
    for (std::size_t j = 0; j < n; j += 8)
        _mm256_storeu_ps(acc + j, _mm256_fmadd_ps(_mm256_loadu_ps(v + j), vw, _mm256_loadu_ps(acc + j)));
}

#else

/// No run-time dispatch on this compiler or architecture.
inline bool cpu_has_avx2() noexcept { return false; }

#endif

/// -1: use AVX2 when the CPU has it; 0 or 1: force it off or on (tests use this to cover both
/// paths; forcing on is only honoured where `cpu_has_avx2()`).
inline std::atomic<int> avx2_override{-1};

/// Whether the AVX2 kernels run.
inline bool use_avx2() noexcept {
    const int o = avx2_override.load(std::memory_order_relaxed);
    return o < 0 ? cpu_has_avx2() : o == 1 && cpu_has_avx2();
}

}  // namespace embtab::detail
