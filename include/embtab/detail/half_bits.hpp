#pragma once
/// \file detail/half_bits.hpp Bit-level conversions between fp32 and the 16-bit formats, and
/// rounding of an fp32 value to them (nearest-even or stochastic).

#include <cmath>
#include <cstdint>
#include <cstring>

#include "rng.hpp"

namespace embtab::detail {

/// The bits of a float.
inline std::uint32_t float_bits(float x) noexcept {
    std::uint32_t b;
    std::memcpy(&b, &x, sizeof b);
    return b;
}

/// The float with these bits.
inline float bits_float(std::uint32_t b) noexcept {
    float x;
    std::memcpy(&x, &b, sizeof x);
    return x;
}

/// IEEE binary16 (fp16): 1 sign, 5 exponent, 10 mantissa bits.
struct fp16_format {
    /// fp16 bits to float (exact). Branch-free, and without subnormal fp32 arithmetic (which
    /// costs a microcode assist per value): normals re-bias the exponent; subnormals are built
    /// as 2^-14·(1 + m/1024) and 2^-14 is subtracted.
    static float widen(std::uint16_t h) noexcept {
        const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
        const std::uint32_t magnitude = h & 0x7fffu;
        const std::uint32_t exponent = magnitude & 0x7c00u;
        const std::uint32_t normal = (magnitude << 13) + (112u << 23);
        const std::uint32_t subnormal =
            float_bits(bits_float((magnitude << 13) + (113u << 23)) - 0x1.0p-14f);
        const std::uint32_t special = 0x7f800000u | ((magnitude & 0x3ffu) << 13);  // inf, NaN
        const std::uint32_t bits = exponent == 0 ? subnormal : exponent == 0x7c00u ? special : normal;
        return bits_float(sign | bits);
    }
    /// Float to fp16 rounding toward zero; overflow saturates to the largest finite value.
    static std::uint16_t truncate(float x) noexcept {
        const std::uint32_t b = float_bits(x);
        const auto sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
        const std::uint32_t a = b & 0x7fffffffu;
        if (a > 0x7f800000u) return sign | 0x7e00u;  // NaN
        if (a == 0x7f800000u) return sign | 0x7c00u;  // infinity
        const int e = static_cast<int>(a >> 23) - 112;  // fp16 biased exponent
        if (e >= 31) return sign | 0x7bffu;
        if (e <= 0) {  // fp16 subnormal or zero
            const int shift = 126 - static_cast<int>(a >> 23);
            if (shift > 24 || (a >> 23) == 0) return sign;
            const std::uint32_t m = (a & 0x7fffffu) | 0x800000u;
            return static_cast<std::uint16_t>(sign | (m >> shift));
        }
        return static_cast<std::uint16_t>(sign | (static_cast<std::uint32_t>(e) << 10) |
                                          ((a >> 13) & 0x3ffu));
    }
    /// True for the infinity bit patterns.
    static bool is_inf(std::uint16_t h) noexcept { return (h & 0x7fffu) == 0x7c00u; }
    /// Stochastic rounding of the finite fp32 with bits `b` from 16 random bits `r16`: fp16
    /// normals by adding random bits below the fp16 precision (13 bits are dropped; `r16 >> 3`
    /// of them: exact); the subnormal range (spacing 2^-24) by comparing the fraction of
    /// |x|·2^24 beyond its code with `r16 · 2^-16`.
    static std::uint16_t round_stochastic(std::uint32_t b, std::uint32_t r16) noexcept {
        const std::uint32_t a = b & 0x7fffffffu;
        if (a >= (143u << 23)) return truncate(bits_float(b));  // |x| >= 2^16: saturates (the
                                                                // nudge could carry x near
                                                                // float max into infinity)
        if (a >= (113u << 23))
            return truncate(bits_float(b + (r16 >> 3)));  // past the largest finite it saturates
        const float scaled = bits_float(b & 0x7fffffffu) * 0x1p24f;  // exact: a power of two
        const auto code = static_cast<std::uint32_t>(scaled);       // < 2^10, truncated
        const float fraction = scaled - static_cast<float>(code);   // exact
        const std::uint32_t up = static_cast<float>(r16) * 0x1p-16f < fraction ? 1u : 0u;
        return static_cast<std::uint16_t>(((b >> 16) & 0x8000u) | (code + up));  // may reach a normal
    }
};

/// bfloat16: the upper half of an fp32.
struct bf16_format {
    /// bf16 bits to float (exact).
    static float widen(std::uint16_t h) noexcept {
        return bits_float(static_cast<std::uint32_t>(h) << 16);
    }
    /// Float to bf16 rounding toward zero (NaN stays NaN).
    static std::uint16_t truncate(float x) noexcept {
        const std::uint32_t b = float_bits(x);
        if ((b & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((b >> 16) | 0x40u);
        return static_cast<std::uint16_t>(b >> 16);
    }
    /// True for the infinity bit patterns.
    static bool is_inf(std::uint16_t h) noexcept { return (h & 0x7fffu) == 0x7f80u; }
    /// Stochastic rounding of the finite fp32 with bits `b` by adding 16 random bits `r16`
    /// below the bf16 precision (exact); a carry into infinity keeps the value toward zero.
    static std::uint16_t round_stochastic(std::uint32_t b, std::uint32_t r16) noexcept {
        const auto up = static_cast<std::uint16_t>((b + r16) >> 16);
        return (up & 0x7fffu) >= 0x7f80u ? static_cast<std::uint16_t>(b >> 16) : up;
    }
};

/// Rounds `x` to `Format` stochastically from 16 random bits `r16` (uniform in [0, 2^16)): to
/// `hi`, the neighbour away from zero, with probability `(x−lo)/(hi−lo)` — exactly for bf16
/// and fp16 normals, to 2^-16 for fp16 subnormals (`Format::round_stochastic`). Non-finite
/// values truncate; finite values never round to infinity (they saturate).
template <class Format>
std::uint16_t round_stochastic(float x, std::uint32_t r16) noexcept {
    const std::uint32_t b = float_bits(x);
    if ((b & 0x7fffffffu) >= 0x7f800000u) return Format::truncate(x);
    return Format::round_stochastic(b, r16);
}

/// Rounds `x` to `Format`. The two neighbours `lo` (toward zero) and `hi` (away from zero) are
/// found by truncation; `hi` is taken as `round_stochastic` says (16 bits of one draw of `gen`)
/// when `stochastic`, else when nearer (ties to even). Finite values never round to infinity
/// (they saturate).
template <class Format>
std::uint16_t round_to(float x, bool stochastic, rng& gen) noexcept {
    if (stochastic) return round_stochastic<Format>(x, static_cast<std::uint32_t>(gen.next() >> 48));
    const std::uint16_t lo = Format::truncate(x);
    const float flo = Format::widen(lo);
    if (flo == x || !std::isfinite(x)) return lo;
    const auto hi = static_cast<std::uint16_t>(lo + 1);  // next magnitude, same sign
    if (Format::is_inf(hi)) return lo;
    const float fhi = Format::widen(hi);
    const double p = (static_cast<double>(x) - flo) / (static_cast<double>(fhi) - flo);
    if (p != 0.5) return p > 0.5 ? hi : lo;
    return (lo & 1u) ? hi : lo;
}

}  // namespace embtab::detail
