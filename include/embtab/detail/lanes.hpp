#pragma once
/// \file detail/lanes.hpp Float vectors for kernels written once and run at the widest width
/// the CPU has: `with_widest_lanes(f)` calls `f(lanes_tag<V>{})` with `V` = 8 floats in AVX2
/// registers where `use_avx2()`, else 4 in SSE2 (the x86-64 baseline), else 1. A kernel is a
/// generic lambda over `V`; the AVX2 instance is compiled for AVX2 by inlining it into a
/// `target("avx2")`, `flatten` function, so the baseline build stays baseline.
///
/// Lane-wise operations are `+ - * /` and `sqrt` (all correctly rounded, no fused multiply-add),
/// so a lane-wise kernel gives bitwise the same results at every width; `sum` (across lanes)
/// adds in an order that depends on the width. The loads of stored formats (`load_u8`,
/// `load_f16`, `load_bf16`) and `fma` serve the bag sums of detail/bag_sum.hpp: `fma` is fused
/// where the width has it, so its results depend on the width; `f32x16` (AVX-512) has only
/// what bag sums use.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include "half_bits.hpp"
#include "simd.hpp"

namespace embtab::detail {

/// Names the vector type `V` a kernel is instantiated with.
template <class V>
struct lanes_tag {
    using type = V;  ///< the vector type
};

/// One float: the portable fallback, and the scalar tail of every kernel.
struct f32x1 {
    float v;  ///< the value
    /// Lanes in the vector.
    static constexpr std::size_t lanes = 1;
    /// `p[0]`.
    static f32x1 load(const float* p) noexcept { return {*p}; }
    /// `x` in every lane.
    static f32x1 all(float x) noexcept { return {x}; }
    /// The byte `p[0]` as a float.
    static f32x1 load_u8(const std::uint8_t* p) noexcept { return {static_cast<float>(*p)}; }
    /// The fp16 value `p[0]` as a float.
    static f32x1 load_f16(const std::uint16_t* p) noexcept { return {fp16_format::widen(*p)}; }
    /// The bf16 value `p[0]` as a float.
    static f32x1 load_bf16(const std::uint16_t* p) noexcept { return {bf16_format::widen(*p)}; }
    /// The integer `p[0]` as a float.
    static f32x1 load_u16(const std::uint16_t* p) noexcept { return {static_cast<float>(*p)}; }
    /// Writes the lane, in [0, 255], truncated to a byte, to `p[0]`.
    void store_u8(std::uint8_t* p) const noexcept { *p = static_cast<std::uint8_t>(v); }
    /// Writes the lanes to `p`.
    void store(float* p) const noexcept { *p = v; }
    /// `a · b + c`.
    friend f32x1 fma(f32x1 a, f32x1 b, f32x1 c) noexcept { return {a.v * b.v + c.v}; }
    /// Lane-wise sum.
    friend f32x1 operator+(f32x1 a, f32x1 b) noexcept { return {a.v + b.v}; }
    /// Lane-wise difference.
    friend f32x1 operator-(f32x1 a, f32x1 b) noexcept { return {a.v - b.v}; }
    /// Lane-wise product.
    friend f32x1 operator*(f32x1 a, f32x1 b) noexcept { return {a.v * b.v}; }
    /// Lane-wise quotient.
    friend f32x1 operator/(f32x1 a, f32x1 b) noexcept { return {a.v / b.v}; }
    /// Lane-wise square root (of a non-negative value: no errno).
    friend f32x1 sqrt(f32x1 a) noexcept { return {std::sqrt(a.v)}; }
    /// Lane-wise `a < b ? a : b` (as SSE's `minps`).
    friend f32x1 min(f32x1 a, f32x1 b) noexcept { return {a.v < b.v ? a.v : b.v}; }
    /// Lane-wise `a > b ? a : b` (as SSE's `maxps`).
    friend f32x1 max(f32x1 a, f32x1 b) noexcept { return {a.v > b.v ? a.v : b.v}; }
    /// The sum of the lanes.
    float sum() const noexcept { return v; }
    /// The smallest lane.
    float lowest() const noexcept { return v; }
    /// The largest lane.
    float highest() const noexcept { return v; }
};

#ifdef EMBTAB_X86_DISPATCH

/// Four floats in an SSE register (every x86-64 CPU).
struct f32x4 {
    __m128 v;  ///< the lanes
    /// Lanes in the vector.
    static constexpr std::size_t lanes = 4;
    /// `p[0..4)`.
    static f32x4 load(const float* p) noexcept { return {_mm_loadu_ps(p)}; }
    /// `x` in every lane.
    static f32x4 all(float x) noexcept { return {_mm_set1_ps(x)}; }
    /// The bytes `p[0..4)` as floats.
    static f32x4 load_u8(const std::uint8_t* p) noexcept {
        int bytes;
        std::memcpy(&bytes, p, sizeof bytes);
        const __m128i zero = _mm_setzero_si128();
        const __m128i b = _mm_unpacklo_epi8(_mm_cvtsi32_si128(bytes), zero);
        return {_mm_cvtepi32_ps(_mm_unpacklo_epi16(b, zero))};
    }
    /// The fp16 values `p[0..4)` as floats (no F16C in the baseline: one at a time).
    static f32x4 load_f16(const std::uint16_t* p) noexcept {
        return {_mm_setr_ps(fp16_format::widen(p[0]), fp16_format::widen(p[1]),
                            fp16_format::widen(p[2]), fp16_format::widen(p[3]))};
    }
    /// The bf16 values `p[0..4)` as floats.
    static f32x4 load_bf16(const std::uint16_t* p) noexcept {
        const __m128i h = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
        return {_mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), h))};
    }
    /// The integers `p[0..4)` as floats.
    static f32x4 load_u16(const std::uint16_t* p) noexcept {
        const __m128i h = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
        return {_mm_cvtepi32_ps(_mm_unpacklo_epi16(h, _mm_setzero_si128()))};
    }
    /// Writes the lanes, each in [0, 255], truncated to bytes, to `p[0..4)`.
    void store_u8(std::uint8_t* p) const noexcept {
        const __m128i i = _mm_cvttps_epi32(v);
        const int bytes = _mm_cvtsi128_si32(_mm_packus_epi16(_mm_packs_epi32(i, i), i));
        std::memcpy(p, &bytes, sizeof bytes);
    }
    /// Writes the lanes to `p[0..4)`.
    void store(float* p) const noexcept { _mm_storeu_ps(p, v); }
    /// `a · b + c` (two roundings: SSE2 has no fused multiply-add).
    friend f32x4 fma(f32x4 a, f32x4 b, f32x4 c) noexcept {
        return {_mm_add_ps(_mm_mul_ps(a.v, b.v), c.v)};
    }
    /// Lane-wise sum.
    friend f32x4 operator+(f32x4 a, f32x4 b) noexcept { return {_mm_add_ps(a.v, b.v)}; }
    /// Lane-wise difference.
    friend f32x4 operator-(f32x4 a, f32x4 b) noexcept { return {_mm_sub_ps(a.v, b.v)}; }
    /// Lane-wise product.
    friend f32x4 operator*(f32x4 a, f32x4 b) noexcept { return {_mm_mul_ps(a.v, b.v)}; }
    /// Lane-wise quotient.
    friend f32x4 operator/(f32x4 a, f32x4 b) noexcept { return {_mm_div_ps(a.v, b.v)}; }
    /// Lane-wise square root.
    friend f32x4 sqrt(f32x4 a) noexcept { return {_mm_sqrt_ps(a.v)}; }
    /// Lane-wise `a < b ? a : b`.
    friend f32x4 min(f32x4 a, f32x4 b) noexcept { return {_mm_min_ps(a.v, b.v)}; }
    /// Lane-wise `a > b ? a : b`.
    friend f32x4 max(f32x4 a, f32x4 b) noexcept { return {_mm_max_ps(a.v, b.v)}; }
    /// The sum of the lanes, as ((0 + 2) + (1 + 3)).
    float sum() const noexcept {
        const __m128 pairs = _mm_add_ps(v, _mm_movehl_ps(v, v));
        return _mm_cvtss_f32(_mm_add_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1)));
    }
    /// The smallest lane.
    float lowest() const noexcept {
        const __m128 pairs = _mm_min_ps(v, _mm_movehl_ps(v, v));
        return _mm_cvtss_f32(_mm_min_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1)));
    }
    /// The largest lane.
    float highest() const noexcept {
        const __m128 pairs = _mm_max_ps(v, _mm_movehl_ps(v, v));
        return _mm_cvtss_f32(_mm_max_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1)));
    }
};

#define EMBTAB_AVX2_FN __attribute__((target("avx2")))
#define EMBTAB_AVX2_FMA_FN __attribute__((target("avx2,fma,f16c")))
#define EMBTAB_AVX512_FN __attribute__((target("avx512f,avx2,fma,f16c")))

/// Eight floats in an AVX register (CPUs where `use_avx2()`).
struct f32x8 {
    __m256 v;  ///< the lanes
    /// Lanes in the vector.
    static constexpr std::size_t lanes = 8;
    /// `p[0..8)`.
    EMBTAB_AVX2_FN static f32x8 load(const float* p) noexcept { return {_mm256_loadu_ps(p)}; }
    /// `x` in every lane.
    EMBTAB_AVX2_FN static f32x8 all(float x) noexcept { return {_mm256_set1_ps(x)}; }
    /// The bytes `p[0..8)` as floats.
    EMBTAB_AVX2_FN static f32x8 load_u8(const std::uint8_t* p) noexcept {
        const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
        return {_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b))};
    }
    /// The fp16 values `p[0..8)` as floats.
    EMBTAB_AVX2_FMA_FN static f32x8 load_f16(const std::uint16_t* p) noexcept {
        return {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))};
    }
    /// The bf16 values `p[0..8)` as floats.
    EMBTAB_AVX2_FN static f32x8 load_bf16(const std::uint16_t* p) noexcept {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return {_mm256_castsi256_ps(_mm256_slli_epi32(w, 16))};
    }
    /// The integers `p[0..8)` as floats.
    EMBTAB_AVX2_FN static f32x8 load_u16(const std::uint16_t* p) noexcept {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        return {_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(h))};
    }
    /// Writes the lanes to `p[0..8)`.
    EMBTAB_AVX2_FN void store(float* p) const noexcept { _mm256_storeu_ps(p, v); }
    /// Writes the lanes, each in [0, 255], truncated to bytes, to `p[0..8)`.
    EMBTAB_AVX2_FN void store_u8(std::uint8_t* p) const noexcept {
        const __m256i i = _mm256_cvttps_epi32(v);
        const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi16(words, words));
    }
    /// `a · b + c`, fused (one rounding).
    EMBTAB_AVX2_FMA_FN friend f32x8 fma(f32x8 a, f32x8 b, f32x8 c) noexcept {
        return {_mm256_fmadd_ps(a.v, b.v, c.v)};
    }
    /// Lane-wise sum.
    EMBTAB_AVX2_FN friend f32x8 operator+(f32x8 a, f32x8 b) noexcept {
        return {_mm256_add_ps(a.v, b.v)};
    }
    /// Lane-wise difference.
    EMBTAB_AVX2_FN friend f32x8 operator-(f32x8 a, f32x8 b) noexcept {
        return {_mm256_sub_ps(a.v, b.v)};
    }
    /// Lane-wise product.
    EMBTAB_AVX2_FN friend f32x8 operator*(f32x8 a, f32x8 b) noexcept {
        return {_mm256_mul_ps(a.v, b.v)};
    }
    /// Lane-wise quotient.
    EMBTAB_AVX2_FN friend f32x8 operator/(f32x8 a, f32x8 b) noexcept {
        return {_mm256_div_ps(a.v, b.v)};
    }
    /// Lane-wise square root.
    EMBTAB_AVX2_FN friend f32x8 sqrt(f32x8 a) noexcept { return {_mm256_sqrt_ps(a.v)}; }
    /// Lane-wise `a < b ? a : b`.
    EMBTAB_AVX2_FN friend f32x8 min(f32x8 a, f32x8 b) noexcept {
        return {_mm256_min_ps(a.v, b.v)};
    }
    /// Lane-wise `a > b ? a : b`.
    EMBTAB_AVX2_FN friend f32x8 max(f32x8 a, f32x8 b) noexcept {
        return {_mm256_max_ps(a.v, b.v)};
    }
    /// The sum of the lanes: the two halves added, then as `f32x4::sum`.
    EMBTAB_AVX2_FN float sum() const noexcept {
        return f32x4{_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1))}.sum();
    }
    /// The smallest lane.
    EMBTAB_AVX2_FN float lowest() const noexcept {
        return f32x4{_mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1))}.lowest();
    }
    /// The largest lane.
    EMBTAB_AVX2_FN float highest() const noexcept {
        return f32x4{_mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1))}.highest();
    }
};

/// Sixteen floats in an AVX-512 register (CPUs where `use_avx512()`): what bag sums use.
struct f32x16 {
    __m512 v;  ///< the lanes
    /// Lanes in the vector.
    static constexpr std::size_t lanes = 16;
    /// A mask of every lane: the conversions are the zero-masked forms, which GCC's headers do
    /// not write from an "undefined" register (its -Wmaybe-uninitialized reports those).
    static constexpr __mmask16 all_lanes = 0xffff;
    /// `p[0..16)`.
    EMBTAB_AVX512_FN static f32x16 load(const float* p) noexcept { return {_mm512_loadu_ps(p)}; }
    /// `x` in every lane.
    EMBTAB_AVX512_FN static f32x16 all(float x) noexcept { return {_mm512_set1_ps(x)}; }
    /// The bytes `p[0..16)` as floats.
    EMBTAB_AVX512_FN static f32x16 load_u8(const std::uint8_t* p) noexcept {
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        return {_mm512_maskz_cvtepi32_ps(all_lanes, _mm512_maskz_cvtepu8_epi32(all_lanes, b))};
    }
    /// The fp16 values `p[0..16)` as floats.
    EMBTAB_AVX512_FN static f32x16 load_f16(const std::uint16_t* p) noexcept {
        return {_mm512_maskz_cvtph_ps(all_lanes, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)))};
    }
    /// The bf16 values `p[0..16)` as floats.
    EMBTAB_AVX512_FN static f32x16 load_bf16(const std::uint16_t* p) noexcept {
        const __m512i w =
            _mm512_maskz_cvtepu16_epi32(all_lanes, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
        return {_mm512_castsi512_ps(_mm512_maskz_slli_epi32(all_lanes, w, 16))};
    }
    /// Writes the lanes to `p[0..16)`.
    EMBTAB_AVX512_FN void store(float* p) const noexcept { _mm512_storeu_ps(p, v); }
    /// Lane-wise sum.
    EMBTAB_AVX512_FN friend f32x16 operator+(f32x16 a, f32x16 b) noexcept {
        return {_mm512_add_ps(a.v, b.v)};
    }
    /// `a · b + c`, fused (one rounding).
    EMBTAB_AVX512_FN friend f32x16 fma(f32x16 a, f32x16 b, f32x16 c) noexcept {
        return {_mm512_fmadd_ps(a.v, b.v, c.v)};
    }
};

/// `kernel(lanes_tag<f32x8>{})`, compiled for AVX2: `flatten` inlines the kernel and the
/// vector operations into this function, which has the AVX2 target.
template <class Kernel>
EMBTAB_AVX2_FN __attribute__((flatten)) void run_avx2_lanes(Kernel& kernel) {
    kernel(lanes_tag<f32x8>{});
}

#undef EMBTAB_AVX2_FN
#undef EMBTAB_AVX2_FMA_FN
#undef EMBTAB_AVX512_FN

/// Calls `kernel(lanes_tag<V>{})` once, with the widest `V` this CPU runs.
template <class Kernel>
void with_widest_lanes(Kernel&& kernel) {
    if (use_avx2())
        run_avx2_lanes(kernel);
    else
        kernel(lanes_tag<f32x4>{});
}

#else

/// Calls `kernel(lanes_tag<f32x1>{})`: no vectors on this compiler or architecture.
template <class Kernel>
void with_widest_lanes(Kernel&& kernel) {
    kernel(lanes_tag<f32x1>{});
}

#endif

/// A loop over `[0, n)` at the widest width: `body(lanes_tag<V>{}, j)` for each whole vector
/// `[j, j + V::lanes)`, then `body(lanes_tag<f32x1>{}, j)` for each index left.
template <class Body>
void for_lanes(std::size_t n, Body&& body) {
    with_widest_lanes([&](auto tag) {
        using V = typename decltype(tag)::type;
        std::size_t j = 0;
        for (; j + V::lanes <= n; j += V::lanes) body(tag, j);
        for (; j < n; ++j) body(lanes_tag<f32x1>{}, j);
    });
}

/// The smallest and the largest of `p[0..n)`, `n` ≥ 1, by `<` and `>` (a NaN is skipped unless
/// it comes first; of two zeros either may be returned).
inline std::pair<float, float> min_max(const float* p, std::size_t n) noexcept {
    float lo = p[0], hi = p[0];
    with_widest_lanes([&](auto tag) {
        using V = typename decltype(tag)::type;
        std::size_t j = 0;
        if (n >= V::lanes) {
            V vlo = V::load(p), vhi = vlo;
            for (j = V::lanes; j + V::lanes <= n; j += V::lanes) {
                const V x = V::load(p + j);
                vlo = min(x, vlo);
                vhi = max(x, vhi);
            }
            lo = vlo.lowest();
            hi = vhi.highest();
        }
        for (; j < n; ++j) {
            lo = p[j] < lo ? p[j] : lo;
            hi = p[j] > hi ? p[j] : hi;
        }
    });
    return {lo, hi};
}

}  // namespace embtab::detail
