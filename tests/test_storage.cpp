// fp16 / bf16 storage: exact conversions, nearest rounding, unbiased stochastic rounding.
#include <embtab/embtab.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"

using namespace embtab;
using detail::bf16_format;
using detail::fp16_format;

TEST_CASE("fp16 bit patterns decode to their IEEE values", "[storage][f16]") {
    REQUIRE(fp16_format::widen(0x3c00) == 1.0f);
    REQUIRE(fp16_format::widen(0xc000) == -2.0f);
    REQUIRE(fp16_format::widen(0x7bff) == 65504.0f);
    REQUIRE(fp16_format::widen(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
    REQUIRE(fp16_format::widen(0x0400) == std::ldexp(1.0f, -14));  // smallest normal
    REQUIRE(fp16_format::widen(0x3555) == Approx(0.333251953125f));
    REQUIRE(std::isinf(fp16_format::widen(0x7c00)));
    REQUIRE(std::isnan(fp16_format::widen(0x7e00)));
    REQUIRE(bf16_format::widen(0x3f80) == 1.0f);
    REQUIRE(bf16_format::widen(0xc040) == -3.0f);
}

template <class Format>
void check_every_pattern_round_trips() {
    detail::rng gen(1);
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
        const auto bits = static_cast<std::uint16_t>(h);
        const float x = Format::widen(bits);
        if (std::isnan(x)) continue;
        REQUIRE(detail::round_to<Format>(x, false, gen) == bits);
        REQUIRE(detail::round_to<Format>(x, true, gen) == bits);  // exact values never move
    }
}

TEST_CASE("every 16-bit value rounds to itself", "[storage]") {
    check_every_pattern_round_trips<fp16_format>();
    check_every_pattern_round_trips<bf16_format>();
}

template <class Format>
void check_nearest(float lo, float hi) {
    std::mt19937 g(7);
    std::uniform_real_distribution<float> d(lo, hi);
    detail::rng gen(1);
    for (int i = 0; i < 20000; ++i) {
        const float x = d(g);
        const auto r = detail::round_to<Format>(x, false, gen);
        const double err = std::fabs(double(Format::widen(r)) - x);
        // no neighbour of r is nearer to x (ties allowed)
        for (int step : {-1, 1}) {
            const auto n = static_cast<std::uint16_t>(r + step);
            const float fn = Format::widen(n);
            if (std::isfinite(fn)) REQUIRE(err <= std::fabs(double(fn) - x));
        }
    }
}

TEST_CASE("nearest rounding picks the nearest 16-bit value", "[storage]") {
    check_nearest<fp16_format>(-70000.0f, 70000.0f);
    check_nearest<fp16_format>(-1e-3f, 1e-3f);  // subnormals
    check_nearest<bf16_format>(-1e30f, 1e30f);
    check_nearest<bf16_format>(-1e-3f, 1e-3f);
}

#if defined(__FLT16_MAX__) && defined(__GNUC__) && !defined(__clang__)
TEST_CASE("fp16 nearest rounding agrees with the compiler's _Float16", "[storage][f16]") {
    std::mt19937 g(8);
    std::uniform_real_distribution<float> d(-65000.0f, 65000.0f);
    detail::rng gen(1);
    for (int i = 0; i < 100000; ++i) {
        const float x = i % 2 ? d(g) : d(g) * 1e-6f;
        const auto ours = detail::round_to<fp16_format>(x, false, gen);
        REQUIRE(fp16_format::widen(ours) == static_cast<float>(static_cast<_Float16>(x)));
    }
}
#endif

TEST_CASE("finite values saturate instead of overflowing", "[storage][f16]") {
    detail::rng gen(1);
    REQUIRE(detail::round_to<fp16_format>(1e6f, false, gen) == 0x7bff);
    REQUIRE(detail::round_to<fp16_format>(-70000.0f, true, gen) == 0xfbff);
}

template <class Format>
void check_unbiased(float x) {
    // fraction p of draws must round up; over N draws the mean of the rounded values is x
    // within 5 standard deviations of the binomial count: 5·sqrt(p(1−p)/N)·ulp
    detail::rng gen(11);
    const int n = 100000;
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += Format::widen(detail::round_to<Format>(x, true, gen));
    const float lo = Format::widen(Format::truncate(x));
    const float hi = Format::widen(static_cast<std::uint16_t>(Format::truncate(x) + 1));
    const double p = (double(x) - lo) / (double(hi) - lo);
    const double tol = 5 * std::sqrt(p * (1 - p) / n) * std::fabs(double(hi) - lo);
    INFO("x = " << x << " p = " << p);
    REQUIRE(std::fabs(sum / n - x) <= tol);
}

TEST_CASE("stochastic rounding is unbiased", "[storage]") {
    check_unbiased<fp16_format>(1.0f + 0.3f * std::ldexp(1.0f, -10));
    check_unbiased<fp16_format>(-3.7e-6f);  // subnormal range
    check_unbiased<bf16_format>(0.1f);
    check_unbiased<bf16_format>(-1234.567f);
}

/// Over all 2^16 values of the random bits, `x` must round away from zero exactly
/// `(x − lo)/(hi − lo) · 2^16` times (the probability is exact, not approximate).
template <class Format>
void check_exact_probability(float x) {
    const std::uint16_t lo = Format::truncate(x);
    const auto hi = static_cast<std::uint16_t>(lo + 1);
    const double p = (double(x) - Format::widen(lo)) / (double(Format::widen(hi)) - Format::widen(lo));
    std::uint32_t up = 0;
    for (std::uint32_t r = 0; r < (1u << 16); ++r) {
        const std::uint16_t h = detail::round_stochastic<Format>(x, r);
        REQUIRE((h == lo || h == hi));
        up += h == hi;
    }
    INFO("x = " << x << " p = " << p);
    REQUIRE(double(up) == p * 65536.0);
}

TEST_CASE("stochastic rounding from 16 random bits takes the exact probability", "[storage]") {
    // p a multiple of 2^-16: bf16 always, fp16 normals (2^-13), fp16 subnormals chosen so
    check_exact_probability<bf16_format>(0.1f);
    check_exact_probability<bf16_format>(-1234.567f);
    check_exact_probability<bf16_format>(3.3e38f);  // below the largest finite bf16
    check_exact_probability<fp16_format>(1.0f + 0.3f * std::ldexp(1.0f, -10));
    check_exact_probability<fp16_format>(-1000.3f);
    check_exact_probability<fp16_format>(std::ldexp(20.25f, -24));  // subnormal, p = 1/4
    // at the top of the range a finite value never rounds to infinity
    for (std::uint32_t r = 0; r < (1u << 16); r += 97) {
        REQUIRE(detail::round_stochastic<fp16_format>(65519.0f, r) == 0x7bff);
        REQUIRE(detail::round_stochastic<fp16_format>(-3.4028235e38f, r) == 0xfbff);  // no carry
        REQUIRE(detail::round_stochastic<fp16_format>(3.0e38f, r) == 0x7bff);       // to inf
        REQUIRE(detail::round_stochastic<bf16_format>(3.4028235e38f, r) == 0x7f7f);
    }
}

TEMPLATE_TEST_CASE("16-bit stochastic encoding is the same on the AVX2 and the baseline path",
                   "[storage]", f16, bf16) {
    // finite values of every range: fp16 subnormals, normals, beyond fp16's range, exact values
    std::mt19937 gen(3);
    std::uniform_real_distribution<float> u(-1, 1);
    for (int rep = 0; rep < 500; ++rep) {
        const std::size_t d = 1 + gen() % 150;
        std::vector<float> x(d);
        const float scales[] = {1e-6f, 6.1e-5f, 0.05f, 7e4f, 3.4e38f};
        for (auto& v : x) v = gen() % 6 == 0 ? float(int(u(gen) * 100)) : u(gen) * scales[gen() % 5];
        const TestType s;
        std::vector<std::byte> fast(s.row_bytes(d)), base(s.row_bytes(d));
        detail::rng g_fast(rep), g_base(rep);
        detail::avx2_override = 1;  // taken only where the CPU has AVX2
        s.encode(x.data(), fast.data(), d, g_fast);
        detail::avx2_override = 0;
        s.encode(x.data(), base.data(), d, g_base);
        REQUIRE(fast == base);
        REQUIRE(g_fast.state() == g_base.state());
        std::vector<float> back(d), back_base(d);
        detail::avx2_override = 1;
        s.decode(fast.data(), back.data(), d);
        detail::avx2_override = 0;
        s.decode(fast.data(), back_base.data(), d);
        REQUIRE(back == back_base);
    }
    detail::avx2_override = -1;
}

template <class Storage>
float after_small_steps(rounding mode, float step) {
    // w = 1, then 1000 SGD steps each adding `step`
    full_table<Storage, sgd> t(1, 1, sgd{1.0f}, 3, Storage{mode});
    t.initialize([](std::size_t, float* v) { v[0] = 1.0f; });
    std::vector<std::int64_t> id = {0};
    std::vector<float> g = {-step};
    for (int i = 0; i < 1000; ++i) t.update(id, matrix_view<const float>(g.data(), 1, 1));
    float w;
    t.lookup(id, matrix_view<float>(&w, 1, 1));
    return w;
}

TEST_CASE("stochastic rounding keeps updates that nearest rounding loses", "[storage]") {
    // fp16, step 1e-4 < half an ulp (4.9e-4) at 1: nearest never moves. Stochastic: mean 1.1;
    // per-step variance p(1−p)·ulp² = 0.1·0.9·(2^-10)² ⇒ sd over 1000 steps 0.009; allow 5 sd.
    REQUIRE(after_small_steps<f16>(rounding::nearest, 1e-4f) == 1.0f);
    REQUIRE(after_small_steps<f16>(rounding::stochastic, 1e-4f) == Approx(1.1f).margin(0.046));
    // bf16, step 1e-3 < half an ulp (3.9e-3) at 1: mean 2.0, sd ≤ sqrt(1000·0.25·(2^-7)²) = 0.12
    REQUIRE(after_small_steps<bf16>(rounding::nearest, 1e-3f) == 1.0f);
    REQUIRE(after_small_steps<bf16>(rounding::stochastic, 1e-3f) == Approx(2.0f).margin(0.6));
}

TEST_CASE("row layout: 16-bit storage packs dim values of 2 bytes", "[storage]") {
    REQUIRE(f16::row_bytes(16) == 32);
    REQUIRE(bf16::row_bytes(3) == 6);
    REQUIRE(f32::row_bytes(16) == 64);
    std::vector<std::byte> row(4);
    float in[2] = {1.0f, -2.0f}, out[2];
    detail::rng gen(0);
    f16{rounding::nearest}.encode(in, row.data(), 2, gen);
    f16::decode(row.data(), out, 2);
    REQUIRE(out[0] == 1.0f);
    REQUIRE(out[1] == -2.0f);
    float acc[2] = {1, 1};
    f16::decode_add(row.data(), 0.5f, acc, 2);
    REQUIRE(acc[0] == 1.5f);
    REQUIRE(acc[1] == 0.0f);
}

TEMPLATE_TEST_CASE("16- and 32-bit row accumulation equals a scalar loop on every path",
                   "[storage][simd]", f32, f16, bf16) {
    std::mt19937 g(6);
    std::uniform_real_distribution<float> d(-2, 2);
    const int path = GENERATE(0, 1);  // baseline, then AVX2/F16C where the CPU has it
    detail::avx2_override = path;
    detail::rng gen(2);
    for (std::size_t dim = 1; dim <= 40; ++dim) {
        std::vector<float> v(dim);
        for (auto& x : v) x = d(g);
        std::vector<std::byte> row(TestType::row_bytes(dim));
        TestType{}.encode(v.data(), row.data(), dim, gen);
        std::vector<float> exact(dim), fast(dim, 0.5f), slow(dim, 0.5f);
        TestType::decode(row.data(), exact.data(), dim);
        TestType::decode_add(row.data(), -0.75f, fast.data(), dim);
        for (std::size_t j = 0; j < dim; ++j) slow[j] += -0.75f * exact[j];
        for (std::size_t j = 0; j < dim; ++j) REQUIRE(fast[j] == Approx(slow[j]).margin(1e-6));
    }
    detail::avx2_override = -1;
}
