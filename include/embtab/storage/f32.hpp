#pragma once
/// \file storage/f32.hpp Storage policy: rows of plain fp32, updated in place.

#include <cstddef>
#include <cstring>

#include "../detail/rng.hpp"
#include "../detail/simd.hpp"

namespace embtab {

/// Rows kept as fp32; the optimizer steps them in place.
struct f32 {
    /// Name used in messages and checkpoint signatures.
    static constexpr const char* name = "f32";
    /// Rows are plain floats that the optimizer may step directly.
    static constexpr bool in_place = true;

    /// Bytes of one row of `dim` values.
    static constexpr std::size_t row_bytes(std::size_t dim) noexcept { return dim * sizeof(float); }
    /// Row to fp32.
    static void decode(const std::byte* row, float* out, std::size_t dim) noexcept {
        std::memcpy(out, row, dim * sizeof(float));
    }
    /// `acc += w · row` (AVX2 when the CPU has it).
    static void decode_add(const std::byte* row, float w, float* acc, std::size_t dim) noexcept {
        const auto* v = reinterpret_cast<const float*>(row);
        std::size_t j = 0;
#ifdef EMBTAB_X86_DISPATCH
        if (detail::use_avx2()) {
            j = dim & ~std::size_t(7);
            detail::add_f32_avx2(v, w, acc, j);
        }
#endif
        for (; j < dim; ++j) acc[j] += w * v[j];
    }
    /// Values `[j, j + V::lanes)` of a row as a vector (bag sums, detail/bag_sum.hpp).
    template <class V>
    static V lanes_at(const std::byte* row, std::size_t j) noexcept {
        return V::load(reinterpret_cast<const float*>(row) + j);
    }
    /// fp32 to row (exact).
    static void encode(const float* in, std::byte* row, std::size_t dim, detail::rng&) noexcept {
        std::memcpy(row, in, dim * sizeof(float));
    }
};

}  // namespace embtab
