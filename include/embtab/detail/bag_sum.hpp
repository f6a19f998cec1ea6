#pragma once
/// \file detail/bag_sum.hpp The pooled-lookup kernel: `out = Σ w[k] · row[k]` over the rows of
/// a bag, written once over a storage's lane loads (`Storage::lanes_at<V>(row, j)` and, for
/// rows stored as `scale · code + bias`, `Storage::affine(row, dim)`). The sum of a block of
/// columns stays in registers across the whole bag — one load of each row's cache lines and
/// one store of the result — at the widest width the CPU has (AVX-512, AVX2 with FMA, SSE2).

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "lanes.hpp"

namespace embtab::detail {

/// Whether `Storage` can load its values lane-wise (`lanes_at`), so bags sum in registers.
template <class Storage, class = void>
struct has_lanes_at : std::false_type {};
template <class Storage>
struct has_lanes_at<Storage, std::void_t<decltype(Storage::template lanes_at<f32x1>(
                                 std::declval<const std::byte*>(), std::size_t{}))>>
    : std::true_type {};

/// Whether `Storage` rows hold codes with a per-row scale and bias (`affine(row, dim)`).
template <class Storage, class = void>
struct has_affine : std::false_type {};
template <class Storage>
struct has_affine<Storage, std::void_t<decltype(Storage::affine(std::declval<const std::byte*>(),
                                                                std::size_t{}))>>
    : std::true_type {};

/// Vectors of a column block: the sum of a block stays in these registers across a bag.
inline constexpr std::size_t bag_block_vectors = 8;

/// Columns `[j0, j1)` (a multiple of `V::lanes` wide) of `out = (add ? out : 0) + Σ_k w[k] ·
/// rows[k]`.
template <class Storage, class V>
inline void sum_rows_lanes(const std::byte* const* rows, const float* w, std::size_t n,
                           float* out, std::size_t j0, std::size_t j1, std::size_t dim, bool add) noexcept {
    constexpr std::size_t L = V::lanes, B = bag_block_vectors;
    for (std::size_t j = j0; j < j1; j += B * L) {
        const std::size_t vectors = std::min(B, (j1 - j) / L);
        V acc[B];
        for (std::size_t k = 0; k < B; ++k)
            acc[k] = add && k < vectors ? V::load(out + j + k * L) : V::all(0.0f);
        float bias_sum = 0.0f;
        for (std::size_t r = 0; r < n; ++r) {
            const std::byte* row = rows[r];
            float weight = w[r];
            if constexpr (has_affine<Storage>::value) {
                const std::pair<float, float> scale_bias = Storage::affine(row, dim);
                bias_sum += weight * scale_bias.second;
                weight *= scale_bias.first;
            }
            const V vw = V::all(weight);
            for (std::size_t k = 0; k < B; ++k)
                if (k < vectors)
                    acc[k] = fma(Storage::template lanes_at<V>(row, j + k * L), vw, acc[k]);
        }
        if constexpr (has_affine<Storage>::value) {
            const V vb = V::all(bias_sum);
            for (std::size_t k = 0; k < B; ++k)
                if (k < vectors) acc[k] = acc[k] + vb;
        }
        for (std::size_t k = 0; k < B; ++k)
            if (k < vectors) acc[k].store(out + j + k * L);
    }
}

/// All columns: the widest vectors `V` first, then SSE2's four, then one at a time.
template <class Storage, class V>
inline void sum_rows_all(const std::byte* const* rows, const float* w, std::size_t n, float* out,
                         std::size_t dim, bool add) noexcept {
    std::size_t j = dim - dim % V::lanes;
    sum_rows_lanes<Storage, V>(rows, w, n, out, 0, j, dim, add);
#ifdef EMBTAB_X86_DISPATCH
    if constexpr (V::lanes > 4) {
        const std::size_t k = j + (dim - j) / 4 * 4;
        sum_rows_lanes<Storage, f32x4>(rows, w, n, out, j, k, dim, add);
        j = k;
    }
#endif
    sum_rows_lanes<Storage, f32x1>(rows, w, n, out, j, dim, dim, add);
}

#ifdef EMBTAB_X86_DISPATCH
/// `sum_rows_all` with AVX-512 vectors, compiled for AVX-512 (`flatten` inlines it all).
template <class Storage>
__attribute__((target("avx512f,avx2,fma,f16c"), flatten)) void sum_rows_avx512(
    const std::byte* const* rows, const float* w, std::size_t n, float* out, std::size_t dim,
    bool add) noexcept {
    sum_rows_all<Storage, f32x16>(rows, w, n, out, dim, add);
}
/// `sum_rows_all` with AVX2 vectors, compiled for AVX2, FMA and F16C.
template <class Storage>
__attribute__((target("avx2,fma,f16c"), flatten)) void sum_rows_avx2(
    const std::byte* const* rows, const float* w, std::size_t n, float* out, std::size_t dim,
    bool add) noexcept {
    sum_rows_all<Storage, f32x8>(rows, w, n, out, dim, add);
}
#endif

/// `out[0..dim) = (add ? out : 0) + Σ_{k<n} w[k] · rows[k]` for rows of `Storage` (n may be
/// 0), at the widest width the CPU runs.
template <class Storage>
void sum_rows(const std::byte* const* rows, const float* w, std::size_t n, float* out,
              std::size_t dim, bool add) noexcept {
#ifdef EMBTAB_X86_DISPATCH
    if (use_avx512()) return sum_rows_avx512<Storage>(rows, w, n, out, dim, add);
    if (use_avx2()) return sum_rows_avx2<Storage>(rows, w, n, out, dim, add);
    sum_rows_all<Storage, f32x4>(rows, w, n, out, dim, add);
#else
    sum_rows_all<Storage, f32x1>(rows, w, n, out, dim, add);
#endif
}

}  // namespace embtab::detail
