// int8 / int4 row-wise storage: FBGEMM's row format, error bounds, stochastic rounding, training.
#include <embtab/embtab.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "catch.hpp"

using namespace embtab;

namespace {

template <class Storage>
std::vector<std::byte> encode(const std::vector<float>& in, rounding mode, std::uint64_t seed = 1) {
    std::vector<std::byte> row(Storage::row_bytes(in.size()));
    detail::rng gen(seed);
    Storage{mode}.encode(in.data(), row.data(), in.size(), gen);
    return row;
}

template <class Storage>
std::vector<float> decode(const std::vector<std::byte>& row, std::size_t dim) {
    std::vector<float> out(dim);
    Storage::decode(row.data(), out.data(), dim);
    return out;
}

float float_at(const std::vector<std::byte>& row, std::size_t offset) {
    float f;
    std::memcpy(&f, row.data() + offset, sizeof f);
    return f;
}

/// FBGEMM's FloatOrHalfToFused8BitRowwiseQuantizedSBFloat for one row, written out from its
/// published formula: bias = min, scale = range/255, q = lrintf((x − min)·255/(range + 1e-8)).
std::vector<std::uint8_t> fbgemm_fused8(const std::vector<float>& x) {
    float mn = x[0], mx = x[0];
    for (float v : x) mn = std::min(mn, v), mx = std::max(mx, v);
    const float range = mx - mn;
    std::vector<std::uint8_t> out(x.size() + 8);
    const float scale = range / 255.0f, inv = 255.0f / (range + 1e-8f);
    for (std::size_t j = 0; j < x.size(); ++j)
        out[j] = static_cast<std::uint8_t>(std::lrintf((x[j] - mn) * inv));
    std::memcpy(out.data() + x.size(), &scale, 4);
    std::memcpy(out.data() + x.size() + 4, &mn, 4);
    return out;
}

std::vector<float> random_row(std::mt19937& g, std::size_t dim, float lo = -1, float hi = 1) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(dim);
    for (auto& x : v) x = d(g);
    return v;
}

}  // namespace

TEST_CASE("hand-computed int8 and int4 rows", "[quantized]") {
    // [0, 1, 2, 3]: bias 0, scale 3/255, codes 0, 85, 170, 255
    const auto r8 = encode<int8_rowwise>({0, 1, 2, 3}, rounding::nearest);
    REQUIRE(r8.size() == 4 + 8);
    REQUIRE(std::to_integer<int>(r8[0]) == 0);
    REQUIRE(std::to_integer<int>(r8[1]) == 85);
    REQUIRE(std::to_integer<int>(r8[2]) == 170);
    REQUIRE(std::to_integer<int>(r8[3]) == 255);
    REQUIRE(float_at(r8, 4) == 3.0f / 255.0f);
    REQUIRE(float_at(r8, 8) == 0.0f);
    // [-1, 0.5, -0.4]: bias −1, scale 1.5/15 = 0.1, codes 0, 15, 6; packed low nibble first
    const auto r4 = encode<int4_rowwise>({-1, 0.5f, -0.4f}, rounding::nearest);
    REQUIRE(r4.size() == 2 + 8);
    REQUIRE(std::to_integer<int>(r4[0]) == 0xf0);
    REQUIRE(std::to_integer<int>(r4[1]) == 0x06);
    REQUIRE(float_at(r4, 2) == 1.5f / 15.0f);
    REQUIRE(float_at(r4, 6) == -1.0f);
    const auto back = decode<int4_rowwise>(r4, 3);
    REQUIRE(back[0] == -1.0f);
    REQUIRE(back[1] == Approx(0.5f));
    REQUIRE(back[2] == Approx(-0.4f));
    // a constant row: scale 0, every value exact
    const auto flat = decode<int8_rowwise>(encode<int8_rowwise>({2.5f, 2.5f}, rounding::nearest), 2);
    REQUIRE(flat == std::vector<float>{2.5f, 2.5f});
}

TEST_CASE("int8 rows are bit-identical to FBGEMM's fused 8-bit row-wise format", "[quantized]") {
    std::mt19937 g(3);
    for (std::size_t dim : {1u, 2u, 7u, 16u, 33u, 128u}) {
        for (int rep = 0; rep < 50; ++rep) {
            const auto x = random_row(g, dim, -3, 5);
            const auto ours = encode<int8_rowwise>(x, rounding::nearest);
            const auto theirs = fbgemm_fused8(x);
            REQUIRE(std::memcmp(ours.data(), theirs.data(), theirs.size()) == 0);
        }
    }
}

TEMPLATE_TEST_CASE("nearest rounding errs by at most scale/2", "[quantized]", int8_rowwise,
                   int4_rowwise) {
    std::mt19937 g(4);
    for (std::size_t dim : {1u, 3u, 16u, 64u, 129u}) {
        for (int rep = 0; rep < 100; ++rep) {
            const auto x = random_row(g, dim, -10, 10);
            const auto row = encode<TestType>(x, rounding::nearest);
            const float scale = TestType::scale(row.data(), dim);
            const auto y = decode<TestType>(row, dim);
            for (std::size_t j = 0; j < dim; ++j)
                REQUIRE(std::fabs(x[j] - y[j]) <= scale / 2 * (1 + 1e-5f) + 2e-6f * (1 + std::fabs(x[j])));  // + fp32 error
        }
    }
}

TEMPLATE_TEST_CASE("the fast pooled kernel equals its scalar reference", "[quantized]",
                   int8_rowwise, int4_rowwise) {
    std::mt19937 g(5);
    const int path = GENERATE(0, 1);  // baseline SSE2, then AVX2 where the CPU has it
    detail::avx2_override = path;
    INFO("avx2 " << detail::use_avx2());
    for (std::size_t dim = 1; dim <= 70; ++dim) {  // every SIMD tail length
        const auto row = encode<TestType>(random_row(g, dim), rounding::stochastic);
        std::vector<float> fast(dim, 0.25f), slow(dim, 0.25f);
        TestType::decode_add(row.data(), -1.5f, fast.data(), dim);
        TestType::decode_add_ref(row.data(), -1.5f, slow.data(), dim);
        for (std::size_t j = 0; j < dim; ++j) REQUIRE(fast[j] == Approx(slow[j]).margin(1e-6));
    }
    detail::avx2_override = -1;
}

TEMPLATE_TEST_CASE("stochastic encoding follows its definition code by code on every path",
                   "[quantized]", int8_rowwise, int4_rowwise) {
    // q_j = floor(clamp((x_j − min)·inverse + u_j, 0, max_code)), u_j the j-th 16-bit piece of
    // the generator's draws (four a draw, low first) times 2^-16, in float arithmetic
    std::mt19937 g(9);
    const int path = GENERATE(0, 1);  // baseline SSE2, then AVX2 where the CPU has it
    detail::avx2_override = path;
    for (std::size_t dim = 1; dim <= 150; ++dim) {
        auto x = random_row(g, dim, -3, 2);
        if (dim % 7 == 0) x[dim / 2] = x[0];  // ties at the minimum
        const auto row = encode<TestType>(x, rounding::stochastic, dim);
        float lo = x[0], hi = x[0];
        for (float v : x) lo = std::min(lo, v), hi = std::max(hi, v);
        const float inverse = float(TestType::max_code) / ((hi - lo) + 1e-8f);
        detail::rng gen(dim);
        std::uint64_t random = 0;
        for (std::size_t j = 0; j < dim; ++j) {
            if (j % 4 == 0) random = gen.next();
            const float u = float(random & 0xffffu) * 0x1p-16f;
            random >>= 16;
            const float c = (x[j] - lo) * inverse + u;
            const float clamped = c > 0 ? std::min(c, float(TestType::max_code)) : 0.0f;
            INFO("path " << path << ", dim " << dim << ", column " << j);
            REQUIRE(TestType::code(row.data(), j) == unsigned(clamped));
        }
        REQUIRE(TestType::bias(row.data(), dim) == lo);
    }
    detail::avx2_override = -1;
}

TEMPLATE_TEST_CASE("stochastic requantization is unbiased", "[quantized]", int8_rowwise,
                   int4_rowwise) {
    // Row [0, x, 1]: min 0 and max 1 are exact, x lies between two codes. Over N encodings the
    // mean decoded x is x within 5 standard deviations: 5·sqrt(p(1−p)/N)·scale.
    const float x = 0.37f;
    const int n = 50000;
    double sum = 0;
    float scale = 0;
    for (int i = 0; i < n; ++i) {
        const auto row = encode<TestType>({0, x, 1}, rounding::stochastic, 1000 + i);
        scale = TestType::scale(row.data(), 3);
        sum += decode<TestType>(row, 3)[1];
    }
    const double t = x / scale, p = t - std::floor(t);
    REQUIRE(std::fabs(sum / n - x) <= 5 * std::sqrt(p * (1 - p) / n) * scale + 1e-6);
}

TEMPLATE_TEST_CASE("stochastic rounding keeps updates below half a step", "[quantized]",
                   int8_rowwise, int4_rowwise) {
    // Row [0, 0.4, 1], SGD adds step·(step count) to the middle value only. Each step is 1/10 of
    // a code, so nearest rounding never moves it; stochastic moves it by the right amount on
    // average (sd over 200 steps ≤ sqrt(200·0.25)·scale ≈ 7·scale; allow 5 of those).
    const auto run = [](rounding mode) {
        full_table<TestType, sgd> t(1, 3, sgd{1.0f}, 3, TestType{mode});
        t.initialize([](std::size_t, float* v) { v[0] = 0, v[1] = 0.4f, v[2] = 1; });
        const float step = 0.1f / TestType::max_code;
        std::vector<std::int64_t> id = {0};
        std::vector<float> g = {0, -step, 0};
        for (int i = 0; i < 200; ++i) t.update(id, matrix_view<const float>(g.data(), 1, 3));
        float w[3];
        t.lookup(id, matrix_view<float>(w, 1, 3));
        return w[1];
    };
    const float scale = 1.0f / TestType::max_code;
    const float start = std::nearbyint(0.4f / scale) * scale;
    REQUIRE(run(rounding::nearest) == Approx(start).margin(1e-6));
    REQUIRE(run(rounding::stochastic) == Approx(start + 20 * scale).margin(35 * scale));
    REQUIRE(run(rounding::stochastic) > start + 5 * scale);
}

TEMPLATE_TEST_CASE("quantized tables train to a known solution", "[quantized][train]",
                   int8_rowwise, int4_rowwise) {
    // minimise ½‖w_id − target_id‖²; targets span 0.3 per row, so one code is 0.3/max_code
    const std::size_t n = 20, d = 4;
    auto t = make_full_table<TestType>(n, d, sgd{0.5f}, 8);
    std::vector<std::int64_t> ids(n);
    std::vector<float> target(n * d), g(n * d), w(n * d);
    for (std::size_t i = 0; i < n; ++i) {
        ids[i] = static_cast<std::int64_t>(i);
        for (std::size_t j = 0; j < d; ++j) target[i * d + j] = 0.1f * float(j) - 0.05f * float(i);
    }
    for (int s = 0; s < 100; ++s) {
        t.lookup(ids, matrix_view<float>(w.data(), n, d));
        for (std::size_t k = 0; k < g.size(); ++k) g[k] = w[k] - target[k];
        t.update(ids, matrix_view<const float>(g.data(), n, d));
    }
    t.lookup(ids, matrix_view<float>(w.data(), n, d));
    double err = 0;
    for (std::size_t k = 0; k < w.size(); ++k) err = std::max(err, double(std::fabs(w[k] - target[k])));
    REQUIRE(err <= 2 * 0.3 / TestType::max_code);
}

TEST_CASE("quantized memory is exact to the byte", "[quantized][memory]") {
    REQUIRE(make_full_table<int8_rowwise>(1000, 16).memory_bytes().parameters == 1000 * (16 + 8));
    REQUIRE(make_full_table<int4_rowwise>(1000, 16).memory_bytes().parameters == 1000 * (8 + 8));
    REQUIRE(make_full_table<int4_rowwise>(10, 5).memory_bytes().parameters == 10 * (3 + 8));
    REQUIRE(make_full_table<int8_rowwise>(10, 4, adagrad{}).memory_bytes().optimizer_state ==
            10 * 4 * 4);
}
