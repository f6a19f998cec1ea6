#pragma once
/// \file detail/validate.hpp Checks of caller input, done before a table is touched; each
/// failure throws with the offending value, its position and the valid range.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../errors.hpp"
#include "../matrix_view.hpp"
#include "../span.hpp"

namespace embtab::detail {

/// An `id_limit()` that accepts every non-negative id (hashed tables).
inline constexpr std::uint64_t no_id_limit = std::numeric_limits<std::uint64_t>::max();

/// Throws unless every id is non-negative and below `limit` (or `limit` is `no_id_limit`).
template <class Id>
void check_ids(span<const Id> ids, std::uint64_t limit) {
    static_assert(std::is_integral_v<Id> && !std::is_same_v<Id, bool>,
                  "embtab: ids must be an integer type");
    // First one branch-free pass the compiler vectorises: as unsigned, a negative id is at least
    // 2^63, so every valid id is below `bound`.
    if (!std::is_signed_v<Id> && limit == no_id_limit) return;
    const std::uint64_t bound =
        std::is_signed_v<Id> ? std::min(limit, std::uint64_t(1) << 63) : limit;
    bool any_bad = false;
    for (std::size_t i = 0; i < ids.size(); ++i)
        any_bad |= static_cast<std::uint64_t>(ids[i]) >= bound;
    if (!any_bad) return;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const Id id = ids[i];
        bool bad = false;
        if constexpr (std::is_signed_v<Id>) bad = id < 0;
        if (!bad && limit != no_id_limit) bad = static_cast<std::uint64_t>(id) >= limit;
        if (bad) {
            if (limit == no_id_limit)
                fail<id_out_of_range>("id ", +id, " at position ", i, " is negative");
            fail<id_out_of_range>("id ", +id, " at position ", i, " is outside [0, ", limit, ")");
        }
    }
}

/// Throws unless `offsets` has bags+1 entries, starts at 0, never decreases and ends at
/// `n_ids` (PyTorch's `include_last_offset=True`, FBGEMM's offsets).
template <class Off>
void check_offsets(span<const Off> offsets, std::size_t n_ids) {
    static_assert(std::is_integral_v<Off> && !std::is_same_v<Off, bool>,
                  "embtab: offsets must be an integer type");
    if (offsets.empty())
        fail<bad_offsets>("offsets is empty; it needs bags+1 entries, the last equal to the ",
                          n_ids, " ids");
    if (offsets[0] != 0) fail<bad_offsets>("offsets[0] is ", +offsets[0], "; it must be 0");
    for (std::size_t b = 1; b < offsets.size(); ++b)
        if (offsets[b] < offsets[b - 1])
            fail<bad_offsets>("offsets[", b, "] = ", +offsets[b], " is smaller than offsets[",
                              b - 1, "] = ", +offsets[b - 1], "; offsets must not decrease");
    const auto last = offsets[offsets.size() - 1];
    if (static_cast<std::uint64_t>(last) != n_ids)
        fail<bad_offsets>("the last offset, offsets[", offsets.size() - 1, "] = ", +last,
                          ", must equal the number of ids, ", n_ids);
}

/// Throws unless `m` is `rows × cols`.
template <class T>
void check_shape(const matrix_view<T>& m, std::size_t rows, std::size_t cols, const char* what,
                 const char* rows_meaning) {
    if (m.rows() != rows || m.cols() != cols)
        fail<shape_mismatch>(what, " is ", m.rows(), " × ", m.cols(), "; expected ", rows, " × ",
                             cols, " (", rows_meaning, " × table dimension)");
}

/// Throws unless `weights` is empty or has one entry per id.
inline void check_weights(span<const float> weights, std::size_t n_ids) {
    if (!weights.empty() && weights.size() != n_ids)
        fail<shape_mismatch>("per-id weights has ", weights.size(), " entries; expected ", n_ids,
                             " (one per id) or none");
}

/// Index of the first non-finite value of `p[0..n)`, or `n` when all are finite. The common
/// case (all finite) is one pass of integer ops, written with SSE2 (every x86-64 CPU has it) so
/// that it is vector code at any optimisation level: a float is not finite when its exponent
/// bits are all ones.
inline std::size_t first_nonfinite(const float* p, std::size_t n) noexcept {
    constexpr std::uint32_t exponent = 0x7f800000u;
    std::size_t j = 0;
    std::uint32_t any = 0;
#if defined(__SSE2__)
    const __m128i e = _mm_set1_epi32(static_cast<int>(exponent));
    __m128i a0 = _mm_setzero_si128(), a1 = a0;
    for (; j + 8 <= n; j += 8) {
        const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + j));
        const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + j + 4));
        a0 = _mm_or_si128(a0, _mm_cmpeq_epi32(_mm_and_si128(x0, e), e));
        a1 = _mm_or_si128(a1, _mm_cmpeq_epi32(_mm_and_si128(x1, e), e));
    }
    any = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_or_si128(a0, a1)));
#endif
    for (; j < n; ++j) {
        std::uint32_t bits;
        std::memcpy(&bits, p + j, sizeof bits);
        any |= static_cast<std::uint32_t>((bits & exponent) == exponent);
    }
    if (!any) return n;
    for (j = 0; j < n; ++j)
        if (!std::isfinite(p[j])) return j;
    return n;
}

}  // namespace embtab::detail
