#pragma once
/// \file detail/lanes.hpp Float vectors for kernels written once and run at the widest width
/// the CPU has: `with_widest_lanes(f)` calls `f(lanes_tag<V>{})` with `V` = 8 floats in AVX2
/// registers where `use_avx2()`, else 4 in SSE2 (the x86-64 baseline), else 1. A kernel is a
/// generic lambda over `V`; the AVX2 instance is compiled for AVX2 by inlining it into a
/// `target("avx2")`, `flatten` function, so the baseline build stays baseline.
///
/// Lane-wise operations are `+ - * /` and `sqrt` (all correctly rounded, no fused multiply-add),
/// so a lane-wise kernel gives bitwise the same results at every width; `sum` (across lanes)
/// adds in an order that depends on the width.

#include <cmath>
#include <cstddef>
#include <utility>

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
    /// Writes the lanes to `p`.
    void store(float* p) const noexcept { *p = v; }
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
    /// Writes the lanes to `p[0..4)`.
    void store(float* p) const noexcept { _mm_storeu_ps(p, v); }
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

/// Eight floats in an AVX register (CPUs where `use_avx2()`).
struct f32x8 {
    __m256 v;  ///< the lanes
    /// Lanes in the vector.
    static constexpr std::size_t lanes = 8;
    /// `p[0..8)`.
    EMBTAB_AVX2_FN static f32x8 load(const float* p) noexcept { return {_mm256_loadu_ps(p)}; }
    /// `x` in every lane.
    EMBTAB_AVX2_FN static f32x8 all(float x) noexcept { return {_mm256_set1_ps(x)}; }
    /// Writes the lanes to `p[0..8)`.
    EMBTAB_AVX2_FN void store(float* p) const noexcept { _mm256_storeu_ps(p, v); }
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

/// `kernel(lanes_tag<f32x8>{})`, compiled for AVX2: `flatten` inlines the kernel and the
/// vector operations into this function, which has the AVX2 target.
template <class Kernel>
EMBTAB_AVX2_FN __attribute__((flatten)) void run_avx2_lanes(Kernel& kernel) {
    kernel(lanes_tag<f32x8>{});
}

#undef EMBTAB_AVX2_FN

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
