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

/// Whether the CPU runs AVX-512F (and the OS saves the ZMM state), besides `detect_avx2()`.
inline bool detect_avx512() noexcept {
    if (!detect_avx2()) return false;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 16))) return false;
    unsigned xcr0_lo, xcr0_hi;  // YMM, opmask, upper ZMM and ZMM16-31 state
    __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    return (xcr0_lo & 0xe6u) == 0xe6u;
}

/// Detected once at start-up, as `cpu_avx2`.
inline const bool cpu_avx512 = detect_avx512();

/// True when the CPU runs AVX-512F as well as AVX2, FMA and F16C.
inline bool cpu_has_avx512() noexcept { return cpu_avx512; }

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

/// `out[0..n) = ` the fp16 values `h[0..n)` as floats (exact), `n` a multiple of 8.
__attribute__((target("avx2,f16c"))) inline void widen_fp16_avx2(const std::uint16_t* h, float* out,
                                                                   std::size_t n) noexcept {
    for (std::size_t j = 0; j < n; j += 8)
        _mm256_storeu_ps(out + j,
                         _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + j))));
}

/// `out[0..n) = in[0..n)` as fp16, rounded stochastically from the 16-bit uniforms `r16` as
/// `round_stochastic<fp16_format>` does (bitwise the same for finite values), `n` a multiple of
/// 8: normals add `r16 >> 3` below the fp16 precision and convert toward zero; subnormals
/// compare the fraction of |x|·2^24 beyond its code with `r16 · 2^-16`; values from 2^16 on
/// (infinities and NaNs too) convert toward zero.
__attribute__((target("avx2,f16c"))) inline void round_fp16_stochastic_avx2(
    const float* in, const std::uint16_t* r16, std::uint16_t* out, std::size_t n) noexcept {
    const __m256i magnitude = _mm256_set1_epi32(0x7fffffff), sign_bit = _mm256_set1_epi32(int(0x80000000u));
    const __m256i smallest_normal = _mm256_set1_epi32(113 << 23), unnudged = _mm256_set1_epi32(143 << 23);
    for (std::size_t j = 0; j < n; j += 8) {
        const __m256 x = _mm256_loadu_ps(in + j);
        const __m256i b = _mm256_castps_si256(x), a = _mm256_and_si256(b, magnitude);
        const __m256i r = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r16 + j)));
        // normals; from 2^16 on (beyond fp16's range, infinities, NaNs) x itself, which
        // converts toward zero: a finite x saturates, and no nudge carries it into infinity
        const __m256 nudged = _mm256_castsi256_ps(_mm256_add_epi32(b, _mm256_srli_epi32(r, 3)));
        const __m256i nudge = _mm256_cmpgt_epi32(unnudged, a);
        const __m256 normal_in = _mm256_blendv_ps(x, nudged, _mm256_castsi256_ps(nudge));
        const __m128i normal = _mm256_cvtps_ph(normal_in, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        // subnormals: code = trunc(|x|·2^24), up when a uniform falls below the fraction
        const __m256 scaled = _mm256_mul_ps(_mm256_castsi256_ps(a), _mm256_set1_ps(0x1p24f));
        __m256i code = _mm256_cvttps_epi32(scaled);
        const __m256 fraction = _mm256_sub_ps(scaled, _mm256_cvtepi32_ps(code));
        const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(r), _mm256_set1_ps(0x1p-16f));
        code = _mm256_sub_epi32(code, _mm256_castps_si256(_mm256_cmp_ps(u, fraction, _CMP_LT_OQ)));
        const __m256i sub32 = _mm256_or_si256(_mm256_srli_epi32(_mm256_and_si256(b, sign_bit), 16), code);
        const __m128i sub = _mm_packus_epi32(_mm256_castsi256_si128(sub32), _mm256_extracti128_si256(sub32, 1));
        const __m256i is_sub32 = _mm256_cmpgt_epi32(smallest_normal, a);
        const __m128i is_sub = _mm_packs_epi32(_mm256_castsi256_si128(is_sub32), _mm256_extracti128_si256(is_sub32, 1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j), _mm_blendv_epi8(normal, sub, is_sub));
    }
}

/// `out[0..n) = ` the bf16 values `h[0..n)` as floats (exact), `n` a multiple of 8.
__attribute__((target("avx2"))) inline void widen_bf16_avx2(const std::uint16_t* h, float* out,
                                                             std::size_t n) noexcept {
    for (std::size_t j = 0; j < n; j += 8) {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + j)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), _mm256_slli_epi32(w, 16));
    }
}

/// `out[0..n) = in[0..n)` as bf16, rounded stochastically from the 16-bit uniforms `r16` as
/// `round_stochastic<bf16_format>` does (bitwise the same), `n` a multiple of 8: the uniform is
/// added below the bf16 precision and the low half dropped; a carry into infinity keeps the
/// value toward zero, infinities stay, NaNs stay NaN.
__attribute__((target("avx2"))) inline void round_bf16_stochastic_avx2(
    const float* in, const std::uint16_t* r16, std::uint16_t* out, std::size_t n) noexcept {
    const __m256i magnitude = _mm256_set1_epi32(0x7fff), inf = _mm256_set1_epi32(0x7f80);
    const __m256i quiet = _mm256_set1_epi32(0x40);
    for (std::size_t j = 0; j < n; j += 8) {
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + j));
        const __m256i r = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r16 + j)));
        const __m256i lo = _mm256_srli_epi32(b, 16);
        const __m256i up = _mm256_srli_epi32(_mm256_add_epi32(b, r), 16);
        const __m256i a_lo = _mm256_and_si256(lo, magnitude);
        // finite (upper half below infinity's): up unless it reached infinity; else truncate
        const __m256i finite = _mm256_cmpgt_epi32(inf, a_lo);
        const __m256i up_ok = _mm256_cmpgt_epi32(inf, _mm256_and_si256(up, magnitude));
        const __m256i rounded = _mm256_blendv_epi8(lo, up, up_ok);
        // non-finite: infinity stays, NaN is kept NaN (truncate's quiet bit)
        const __m256i is_nan = _mm256_or_si256(
            _mm256_cmpgt_epi32(a_lo, inf),
            _mm256_and_si256(_mm256_cmpeq_epi32(a_lo, inf),
                             _mm256_cmpgt_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0xffff)),
                                                _mm256_setzero_si256())));
        const __m256i special = _mm256_blendv_epi8(lo, _mm256_or_si256(lo, quiet), is_nan);
        const __m256i h = _mm256_blendv_epi8(special, rounded, finite);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j),
                         _mm_packus_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
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
/// No run-time dispatch on this compiler or architecture.
inline bool cpu_has_avx512() noexcept { return false; }

#endif

/// -1: use AVX2 when the CPU has it; 0 or 1: force it off or on (tests use this to cover both
/// paths; forcing on is only honoured where `cpu_has_avx2()`).
inline std::atomic<int> avx2_override{-1};

/// Whether the AVX2 kernels run.
inline bool use_avx2() noexcept {
    const int o = avx2_override.load(std::memory_order_relaxed);
    return o < 0 ? cpu_has_avx2() : o == 1 && cpu_has_avx2();
}

/// As `avx2_override`, for the AVX-512 kernels (which also need `use_avx2()`).
inline std::atomic<int> avx512_override{-1};

/// Whether the AVX-512 kernels run.
inline bool use_avx512() noexcept {
    const int o = avx512_override.load(std::memory_order_relaxed);
    return use_avx2() && (o < 0 ? cpu_has_avx512() : o == 1 && cpu_has_avx512());
}

}  // namespace embtab::detail
