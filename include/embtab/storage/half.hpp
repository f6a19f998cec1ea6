#pragma once
/// \file storage/half.hpp Storage policies: rows of fp16 or bf16, updated through fp32 with
/// seeded stochastic rounding (or nearest).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../detail/half_bits.hpp"
#include "../detail/simd.hpp"
#include "rounding.hpp"

namespace embtab {

/// Rows of 16-bit floats in `Format` (`detail::fp16_format` or `detail::bf16_format`).
template <class Format>
struct half_storage {
    /// How updated values are rounded back to 16 bits.
    rounding round = rounding::stochastic;

    /// Name used in messages and checkpoint signatures.
    static constexpr const char* name =
        std::is_same_v<Format, detail::fp16_format> ? "f16" : "bf16";
    /// Rows must be decoded to fp32 before an optimizer step.
    static constexpr bool in_place = false;
    /// Calls `f(name, field, largest value)` on the rounding mode (checkpoints restore it).
    template <class Self, class F>
    static void checkpoint_fields(Self& self, F&& f) {
        f("rounding", self.round, rounding::stochastic);
    }

    /// Bytes of one row of `dim` values.
    static constexpr std::size_t row_bytes(std::size_t dim) noexcept {
        return dim * sizeof(std::uint16_t);
    }
    /// Row to fp32 (exact).
    static void decode(const std::byte* row, float* out, std::size_t dim) noexcept {
        std::size_t j = 0;
#ifdef EMBTAB_X86_DISPATCH
        if (detail::use_avx2()) {
            j = dim & ~std::size_t(7);
            const auto* h = reinterpret_cast<const std::uint16_t*>(row);
            if constexpr (std::is_same_v<Format, detail::fp16_format>)
                detail::widen_fp16_avx2(h, out, j);
            else
                detail::widen_bf16_avx2(h, out, j);
        }
#endif
        for (; j < dim; ++j) out[j] = Format::widen(load(row, j));
    }
    /// `acc += w · row` (fp16: F16C when the CPU has it).
    static void decode_add(const std::byte* row, float w, float* acc, std::size_t dim) noexcept {
        std::size_t j = 0;
#ifdef EMBTAB_X86_DISPATCH
        if (std::is_same_v<Format, detail::fp16_format> && detail::use_avx2()) {
            j = dim & ~std::size_t(7);
            detail::add_fp16_avx2(reinterpret_cast<const std::uint16_t*>(row), w, acc, j);
        }
#endif
        for (; j < dim; ++j) acc[j] += w * Format::widen(load(row, j));
    }
    /// Encoding finite values stores finite ones (both roundings saturate at the largest
    /// finite value), so a stepped row need not be read back to be checked.
    static constexpr bool stores_finite = true;
    /// Values `[j, j + V::lanes)` of a row as a vector (bag sums, detail/bag_sum.hpp).
    template <class V>
    static V lanes_at(const std::byte* row, std::size_t j) noexcept {
        const auto* h = reinterpret_cast<const std::uint16_t*>(row) + j;
        if constexpr (std::is_same_v<Format, detail::fp16_format>) return V::load_f16(h);
        else return V::load_bf16(h);
    }
    /// fp32 to row, rounding as `round` says.
    void encode(const float* in, std::byte* row, std::size_t dim, detail::rng& gen) const noexcept {
        std::size_t j = 0;
#ifdef EMBTAB_X86_DISPATCH
        if (round == rounding::stochastic && detail::use_avx2()) {  // 64 values: uniforms, then AVX2
            std::uint16_t r16[64];
            auto* h = reinterpret_cast<std::uint16_t*>(row);  // rounded in place (the kernels
                                                              // store unaligned)
            for (; j + 8 <= dim; j += 64) {
                const std::size_t n = std::min<std::size_t>(64, (dim - j) & ~std::size_t(7));
                for (std::size_t k = 0; k < n; k += 4) {
                    const std::uint64_t random = gen.next();
                    for (std::size_t i = 0; i < 4; ++i)
                        r16[k + i] = static_cast<std::uint16_t>(random >> (16 * i));
                }
                if constexpr (std::is_same_v<Format, detail::fp16_format>)
                    detail::round_fp16_stochastic_avx2(in + j, r16, h + j, n);
                else
                    detail::round_bf16_stochastic_avx2(in + j, r16, h + j, n);
                if (n < 64) {
                    j += n;
                    break;
                }
            }
        }
#endif
        std::uint64_t random = 0;  // stochastic rounding: 16 random bits a value, 4 a draw
        for (std::size_t k = 0; j < dim; ++j, ++k) {
            std::uint16_t h;
            if (round == rounding::stochastic) {
                if (k % 4 == 0) random = gen.next();
                h = detail::round_stochastic<Format>(in[j], static_cast<std::uint32_t>(random & 0xffffu));
                random >>= 16;
            } else {
                h = detail::round_to<Format>(in[j], false, gen);
            }
            std::memcpy(row + j * sizeof h, &h, sizeof h);
        }
    }

private:
    static std::uint16_t load(const std::byte* row, std::size_t j) noexcept {
        std::uint16_t h;
        std::memcpy(&h, row + j * sizeof h, sizeof h);
        return h;
    }
};

}  // namespace embtab
