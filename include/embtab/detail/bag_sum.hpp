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

/// Columns `[j, j + N · V::lanes)` of `out = (add ? out : 0) + Σ w · row` over the rows
/// `bag(emit, first)` names by calling `emit(row, w)` on each (`first`: the first pass over
/// the bag, the one that may prefetch). Ids are read, rows loaded and summed in one pass, the
/// N sums in registers: few instructions an id, so that many rows are in flight.
template <class Storage, class V, std::size_t N, class Bag>
inline void sum_bag_block(Bag& bag, float* out, std::size_t j, std::size_t dim,
                          bool add) noexcept {
    constexpr std::size_t L = V::lanes;
    V acc[N];
    for (std::size_t k = 0; k < N; ++k) acc[k] = add ? V::load(out + j + k * L) : V::all(0.0f);
    float bias_sum = 0.0f;
    bag([&](const std::byte* row, float weight) {
        if constexpr (has_affine<Storage>::value) {
            const std::pair<float, float> scale_bias = Storage::affine(row, dim);
            bias_sum += weight * scale_bias.second;
            weight *= scale_bias.first;
        }
        const V vw = V::all(weight);
        for (std::size_t k = 0; k < N; ++k)
            acc[k] = fma(Storage::template lanes_at<V>(row, j + k * L), vw, acc[k]);
    }, j == 0);
    if constexpr (has_affine<Storage>::value) {
        const V vb = V::all(bias_sum);
        for (std::size_t k = 0; k < N; ++k) acc[k] = acc[k] + vb;
    }
    for (std::size_t k = 0; k < N; ++k) acc[k].store(out + j + k * L);
}

/// Columns `[j0, j1)` (a multiple of `V::lanes` wide): blocks of `bag_block_vectors` vectors,
/// the last one narrower (the vector count a compile-time constant in each).
template <class Storage, class V, class Bag>
inline void sum_bag_lanes(Bag& bag, float* out, std::size_t j0, std::size_t j1, std::size_t dim,
                          bool add) noexcept {
    constexpr std::size_t L = V::lanes, B = bag_block_vectors;
    static_assert(B == 8, "the switch below names every block width");
    for (std::size_t j = j0; j < j1; j += B * L) {
        switch (std::min(B, (j1 - j) / L)) {
        case 1: sum_bag_block<Storage, V, 1>(bag, out, j, dim, add); break;
        case 2: sum_bag_block<Storage, V, 2>(bag, out, j, dim, add); break;
        case 3: sum_bag_block<Storage, V, 3>(bag, out, j, dim, add); break;
        case 4: sum_bag_block<Storage, V, 4>(bag, out, j, dim, add); break;
        case 5: sum_bag_block<Storage, V, 5>(bag, out, j, dim, add); break;
        case 6: sum_bag_block<Storage, V, 6>(bag, out, j, dim, add); break;
        case 7: sum_bag_block<Storage, V, 7>(bag, out, j, dim, add); break;
        default: sum_bag_block<Storage, V, 8>(bag, out, j, dim, add); break;
        }
    }
}

/// All columns: the widest vectors `V` first, then SSE2's four, then one at a time.
template <class Storage, class V, class Bag>
inline void sum_bag_all(Bag& bag, float* out, std::size_t dim, bool add) noexcept {
    std::size_t j = dim - dim % V::lanes;
    sum_bag_lanes<Storage, V>(bag, out, 0, j, dim, add);
#ifdef EMBTAB_X86_DISPATCH
    if constexpr (V::lanes > 4) {
        const std::size_t k = j + (dim - j) / 4 * 4;
        sum_bag_lanes<Storage, f32x4>(bag, out, j, k, dim, add);
        j = k;
    }
#endif
    sum_bag_lanes<Storage, f32x1>(bag, out, j, dim, dim, add);
}

#ifdef EMBTAB_X86_DISPATCH
/// `sum_bag_all` with AVX-512 vectors, compiled for AVX-512 (`flatten` inlines it all, the
/// bag's row addressing included).
template <class Storage, class Bag>
__attribute__((target("avx512f,avx2,fma,f16c"), flatten)) void sum_bag_avx512(
    Bag& bag, float* out, std::size_t dim, bool add) noexcept {
    sum_bag_all<Storage, f32x16>(bag, out, dim, add);
}
/// `sum_bag_all` with AVX2 vectors, compiled for AVX2, FMA and F16C.
template <class Storage, class Bag>
__attribute__((target("avx2,fma,f16c"), flatten)) void sum_bag_avx2(Bag& bag, float* out,
                                                                      std::size_t dim,
                                                                      bool add) noexcept {
    sum_bag_all<Storage, f32x8>(bag, out, dim, add);
}
#endif

/// `out[0..dim) = (add ? out : 0) + Σ w · row` over the rows of `Storage` that `bag(emit,
/// first)` passes to `emit(row, w)` (none: zeros, or `out` kept), at the widest width the
/// CPU runs. `bag` is called once for each block of columns, with `first` true once.
template <class Storage, class Bag>
void sum_bag(Bag&& bag, float* out, std::size_t dim, bool add) noexcept {
#ifdef EMBTAB_X86_DISPATCH
    if (use_avx512()) return sum_bag_avx512<Storage>(bag, out, dim, add);
    if (use_avx2()) return sum_bag_avx2<Storage>(bag, out, dim, add);
    sum_bag_all<Storage, f32x4>(bag, out, dim, add);
#else
    sum_bag_all<Storage, f32x1>(bag, out, dim, add);
#endif
}

/// `out[0..dim) = (add ? out : 0) + Σ_{k<n} w[k] · rows[k]` (n may be 0): `sum_bag` over rows
/// already gathered.
template <class Storage>
void sum_rows(const std::byte* const* rows, const float* w, std::size_t n, float* out,
              std::size_t dim, bool add) noexcept {
    sum_bag<Storage>([&](auto&& emit, bool) {
        for (std::size_t k = 0; k < n; ++k) emit(rows[k], w[k]);
    }, out, dim, add);
}

}  // namespace embtab::detail
