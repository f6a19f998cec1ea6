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
static_assert((bag_block_vectors & (bag_block_vectors - 1)) == 0, "halving must reach 1");

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

/// `vectors` blocks of `V` from column `j`: blocks of `N` vectors while they fit, the rest in
/// blocks of N/2, N/4, ..., 1 (each width its own instantiation, and few of them: a wider
/// dimension than 8 vectors takes more passes over the bag, a narrower one at most log2 N).
template <class Storage, class V, std::size_t N, class Bag>
inline void sum_bag_lanes(Bag& bag, float* out, std::size_t j, std::size_t vectors,
                          std::size_t dim, bool add) noexcept {
    for (; vectors >= N; vectors -= N, j += N * V::lanes)
        sum_bag_block<Storage, V, N>(bag, out, j, dim, add);
    if constexpr (N > 1)
        if (vectors > 0) sum_bag_lanes<Storage, V, N / 2>(bag, out, j, vectors, dim, add);
}

/// All columns: the widest vectors `V` first, then SSE2's four, then one at a time (a tail of
/// at most three of each, so blocks of two and one).
template <class Storage, class V, class Bag>
inline void sum_bag_all(Bag& bag, float* out, std::size_t dim, bool add) noexcept {
    std::size_t j = dim - dim % V::lanes;
    sum_bag_lanes<Storage, V, bag_block_vectors>(bag, out, 0, j / V::lanes, dim, add);
#ifdef EMBTAB_X86_DISPATCH
    if constexpr (V::lanes > 4) {
        const std::size_t k = j + (dim - j) / 4 * 4;
        sum_bag_lanes<Storage, f32x4, V::lanes / 8>(bag, out, j, (k - j) / 4, dim, add);
        j = k;
    }
#endif
    sum_bag_lanes<Storage, f32x1, 2>(bag, out, j, dim - j, dim, add);
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
