#pragma once
/// \file storage/rowwise_quantized.hpp Storage policies: int8 / int4 row-wise quantized rows in
/// FBGEMM's fused layout — codes, then fp32 `scale` and `bias` — trained by dequantize, fp32
/// optimizer step, requantize.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "../detail/lanes.hpp"
#include "../detail/rng.hpp"
#include "../detail/simd.hpp"
#include "rounding.hpp"

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define EMBTAB_HAVE_SSE2 1
#endif

namespace embtab {

/// Rows of `Bits`-bit codes `q` with value `scale·q + bias`, `scale = (max−min)/(2^Bits−1)`,
/// `bias = min`. int8 rows are bit-compatible with FBGEMM's
/// `FloatOrHalfToFused8BitRowwiseQuantizedSBFloat`; int4 packs two codes a byte, low nibble first.
template <unsigned Bits>
struct rowwise_quantized {
    static_assert(Bits == 8 || Bits == 4, "embtab: row-wise quantization supports 8 or 4 bits");

    /// How requantized values are rounded (stochastic keeps small updates on average).
    rounding round = rounding::stochastic;

    /// Name used in messages and checkpoint signatures.
    static constexpr const char* name = Bits == 8 ? "int8_rowwise" : "int4_rowwise";
    /// Rows must be decoded to fp32 before an optimizer step.
    static constexpr bool in_place = false;
    /// Largest code: 255 or 15.
    static constexpr unsigned max_code = (1u << Bits) - 1;
    /// Calls `f(name, field, largest value)` on the rounding mode (checkpoints restore it).
    template <class Self, class F>
    static void checkpoint_fields(Self& self, F&& f) {
        f("rounding", self.round, rounding::stochastic);
    }

    /// Bytes of the codes of one row.
    static constexpr std::size_t code_bytes(std::size_t dim) noexcept {
        return Bits == 8 ? dim : (dim + 1) / 2;
    }
    /// Bytes of one row: codes, then scale and bias.
    static constexpr std::size_t row_bytes(std::size_t dim) noexcept {
        return code_bytes(dim) + 2 * sizeof(float);
    }
    /// The row's scale.
    static float scale(const std::byte* row, std::size_t dim) noexcept {
        return load_float(row + code_bytes(dim));
    }
    /// The row's bias (its minimum).
    static float bias(const std::byte* row, std::size_t dim) noexcept {
        return load_float(row + code_bytes(dim) + sizeof(float));
    }
    /// The row's scale and bias.
    static std::pair<float, float> affine(const std::byte* row, std::size_t dim) noexcept {
        return {scale(row, dim), bias(row, dim)};
    }
    /// Codes `[j, j + V::lanes)` of an int8 row as a vector (bag sums, detail/bag_sum.hpp; the
    /// value is `scale · code + bias`).
    template <class V, unsigned B = Bits, std::enable_if_t<B == 8, int> = 0>
    static V lanes_at(const std::byte* row, std::size_t j) noexcept {
        return V::load_u8(reinterpret_cast<const std::uint8_t*>(row) + j);
    }
    /// Code `j` of a row.
    static unsigned code(const std::byte* row, std::size_t j) noexcept {
        const auto b = std::to_integer<unsigned>(row[Bits == 8 ? j : j / 2]);
        if constexpr (Bits == 8) return b;
        return j % 2 ? b >> 4 : b & 0xfu;
    }

    /// Row to fp32.
    static void decode(const std::byte* row, float* out, std::size_t dim) noexcept {
        std::fill(out, out + dim, 0.0f);
        decode_add(row, 1.0f, out, dim);
    }
    /// `acc += w · row`, dequantizing on the fly (no temporary row): AVX2 when the CPU has it,
    /// else SSE2, then scalar for the last `dim mod 16` values.
    static void decode_add(const std::byte* row, float w, float* acc, std::size_t dim) noexcept {
        const float ws = w * scale(row, dim), wb = w * bias(row, dim);
        const auto* q = reinterpret_cast<const std::uint8_t*>(row);
        std::size_t j = 0;
#ifdef EMBTAB_X86_DISPATCH
        if (detail::use_avx2()) {
            j = dim & ~std::size_t(15);
            if constexpr (Bits == 8)
                detail::add_codes_avx2(q, ws, wb, acc, j);
            else
                detail::add_nibbles_avx2(q, ws, wb, acc, j);
        }
#endif
#ifdef EMBTAB_HAVE_SSE2
        for (; j + 16 <= dim; j += 16) add16(load16(q, j), ws, wb, acc + j);
#endif
        for (; j < dim; ++j) acc[j] += ws * static_cast<float>(code(row, j)) + wb;
    }
    /// Scalar reference of `decode_add`, one code at a time (for tests and benchmarks).
    static void decode_add_ref(const std::byte* row, float w, float* acc, std::size_t dim) noexcept {
        const float s = scale(row, dim), b = bias(row, dim);
        for (std::size_t j = 0; j < dim; ++j)
            acc[j] += w * (s * static_cast<float>(code(row, j)) + b);
    }

    /// fp32 to row: `bias = min`, `scale = (max−min)/max_code`, codes
    /// `(x−min)·max_code/(max−min+1e-8)` rounded as `round` says (FBGEMM's formula for nearest).
    void encode(const float* in, std::byte* row, std::size_t dim, detail::rng& gen) const noexcept {
        const std::pair<float, float> lowest_highest = detail::min_max(in, dim);
        const float low = lowest_highest.first, range = lowest_highest.second - low;
        const float inverse = static_cast<float>(max_code) / (range + 1e-8f);
        if constexpr (Bits == 4) std::memset(row, 0, code_bytes(dim));
        auto* q = reinterpret_cast<std::uint8_t*>(row);
        constexpr std::size_t chunk = 64;
        float c[chunk];             // codes of values [at, at + n), as floats
        std::uint16_t r16[chunk];   // their 16-bit uniforms, four a draw, low bits first
        for (std::size_t at = 0; at < dim; at += chunk) {
            const std::size_t n = std::min(chunk, dim - at);
            if (round == rounding::nearest) {
                for (std::size_t k = 0; k < n; ++k) c[k] = std::nearbyint((in[at + k] - low) * inverse);
            } else {  // (x − min)·inverse + u, u uniform in [0, 1) of 16 bits, floored below
                for (std::size_t k = 0; k < n; k += 4) {
                    const std::uint64_t random = gen.next();
                    for (std::size_t i = 0; i < 4; ++i)
                        r16[k + i] = static_cast<std::uint16_t>(random >> (16 * i));
                }
                const auto code_of = [&](auto tag, std::size_t k) {
                    using V = typename decltype(tag)::type;
                    return (V::load(in + at + k) - V::all(low)) * V::all(inverse) +
                           V::load_u16(r16 + k) * V::all(0x1p-16f);
                };
                if constexpr (Bits == 8) {  // clamped and stored as bytes in the same pass
                    detail::for_lanes(n, [&](auto tag, std::size_t k) {
                        using V = typename decltype(tag)::type;
                        // max first: a NaN (from a non-finite row) becomes 0
                        min(max(code_of(tag, k), V::all(0.0f)), V::all(float(max_code))).store_u8(q + at + k);
                    });
                    continue;
                }
                detail::for_lanes(n, [&](auto tag, std::size_t k) { code_of(tag, k).store(c + k); });
            }
            for (std::size_t k = 0; k < n; ++k) {
                // into [0, max_code]; NaN (from a non-finite row) becomes 0, never an undefined
                // cast; the cast truncates, which is the floor of a value >= 0
                const float x = c[k] > 0 ? std::min(c[k], static_cast<float>(max_code)) : 0.0f;
                const auto code = static_cast<std::uint8_t>(x);
                const std::size_t j = at + k;
                if constexpr (Bits == 8)
                    q[j] = code;
                else
                    q[j / 2] |= static_cast<std::uint8_t>(j % 2 ? code << 4 : code);
            }
        }
        store_float(row + code_bytes(dim), range / static_cast<float>(max_code));
        store_float(row + code_bytes(dim) + sizeof(float), low);
    }

private:
#ifdef EMBTAB_HAVE_SSE2
    /// Codes `j..j+16` as 16 bytes (int4: the nibbles of 8 bytes, low first).
    static __m128i load16(const std::uint8_t* q, std::size_t j) noexcept {
        if constexpr (Bits == 8) {
            return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + j));
        } else {
            const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + j / 2));
            const __m128i mask = _mm_set1_epi8(0x0f);
            const __m128i lo = _mm_and_si128(b, mask), hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
            return _mm_unpacklo_epi8(lo, hi);
        }
    }
    /// `acc[0..16) += ws · codes + wb`.
    static void add16(__m128i codes, float ws, float wb, float* acc) noexcept {
        const __m128 vs = _mm_set1_ps(ws), vb = _mm_set1_ps(wb);
        const __m128i zero = _mm_setzero_si128();
        const __m128i lo = _mm_unpacklo_epi8(codes, zero), hi = _mm_unpackhi_epi8(codes, zero);
        const __m128i parts[4] = {_mm_unpacklo_epi16(lo, zero), _mm_unpackhi_epi16(lo, zero),
                                  _mm_unpacklo_epi16(hi, zero), _mm_unpackhi_epi16(hi, zero)};
        for (int k = 0; k < 4; ++k) {
            const __m128 v = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(parts[k]), vs), vb);
            _mm_storeu_ps(acc + 4 * k, _mm_add_ps(_mm_loadu_ps(acc + 4 * k), v));
        }
    }
#endif
    static float load_float(const std::byte* p) noexcept {
        float f;
        std::memcpy(&f, p, sizeof f);
        return f;
    }
    static void store_float(std::byte* p, float f) noexcept { std::memcpy(p, &f, sizeof f); }
};

}  // namespace embtab
