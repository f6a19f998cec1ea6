// Sizes whose products overflow: every size product of the library is checked and refused with
// bad_parameter naming the values, before anything is allocated or written. A planner either
// returns a plan that make() builds within the budget, or throws bad_parameter.
#include <embtab/embtab.hpp>

#include <cstdint>
#include <limits>
#include <vector>

#include "catch.hpp"

using namespace embtab;

namespace {
constexpr std::size_t big = std::size_t(1) << 62;
}  // namespace

TEST_CASE("a sketch whose bucket bytes overflow is refused", "[hostile][sketch]") {
    hot_sketch_options o;
    o.buckets = (std::size_t(1) << 58) + 1;  // × 64 bytes wraps to 64
    o.hot_rows = 16;
    REQUIRE_THROWS_AS(hot_sketch<mix64>(o), bad_parameter);
    cafe_options c;
    c.sketch = o;
    REQUIRE_THROWS_AS(make_cafe_table(full_table<>(16, 4), plan_hash(100, 4, 4096).make(), c),
                      bad_parameter);
}

TEST_CASE("tables whose rows overflow the address space are refused", "[hostile][tables]") {
    REQUIRE_THROWS_AS(full_table<>(4, big), bad_parameter);
    REQUIRE_THROWS_AS(full_table<>(4, big + 1), bad_parameter);
    REQUIRE_THROWS_AS((full_table<int8_rowwise, sgd>(4, big)), bad_parameter);
    REQUIRE_THROWS_AS(full_table<>(big, 4), bad_parameter);
    REQUIRE_THROWS_AS((make_qr_table<f32, sgd>(std::uint64_t(1) << 63, 1, 4)), bad_parameter);
}

TEST_CASE("planners refuse shapes whose row costs overflow", "[hostile][plan]") {
    for (std::size_t d : {big, big + 1, std::numeric_limits<std::size_t>::max()}) {
        INFO("d = " << d);
        REQUIRE_THROWS_AS(plan_hash(1000, d, 4096), bad_parameter);
        REQUIRE_THROWS_AS(plan_qr(1000, d, 4096), bad_parameter);
        REQUIRE_THROWS_AS(plan_cafe(1000, d, 4096), bad_parameter);
        REQUIRE_THROWS_AS(plan_cafe_from_counts(std::vector<std::uint32_t>(10, 1), d, 4096),
                          bad_parameter);
        REQUIRE_THROWS_AS(plan_frequency_split(std::vector<std::uint32_t>(10, 1), d, 4096),
                          bad_parameter);
        REQUIRE_THROWS_AS(plan_mixed_dim(std::vector<std::size_t>{10, 20}, d, 4096), bad_parameter);
    }
}

TEST_CASE("planners either build within the budget or throw, at absurd sizes", "[hostile][plan]") {
    const std::size_t tib = std::size_t(1) << 40;
    // 1e11 ids in 1 TiB: more hot rows than a sketch hands out are never planned
    const auto p = plan_cafe(100'000'000'000ULL, 16, tib);
    REQUIRE(p.hot_rows <= std::size_t(std::numeric_limits<std::int32_t>::max() / 2));
    REQUIRE(p.sketch.hot_rows == p.hot_rows);
    // plan_qr of a huge n: a plan of positive bytes within the budget, or a refusal
    for (std::uint64_t n : {std::uint64_t(1) << 40, std::uint64_t(1) << 62, ~std::uint64_t(0)}) {
        INFO("n = " << n);
        try {
            const auto q = plan_qr(n, 16, tib);
            REQUIRE(q.bytes > 0);
            REQUIRE(q.bytes <= tib);
        } catch (const bad_parameter&) {
        }
    }
}

TEST_CASE("plan_cafe's named minimum budget is the true one", "[hostile][plan]") {
    std::size_t lo = 1, hi = 1 << 16;  // the smallest budget plan_cafe accepts
    while (lo < hi) {
        const std::size_t mid = (lo + hi) / 2;
        try {
            plan_cafe(1000000, 16, mid);
            hi = mid;
        } catch (const bad_parameter&) {
            lo = mid + 1;
        }
    }
    std::string message;
    try {
        plan_cafe(1000000, 16, lo - 1);
    } catch (const bad_parameter& e) {
        message = e.what();
    }
    INFO(message);
    REQUIRE(message.find("at least " + std::to_string(lo) + " bytes") != std::string::npos);

    REQUIRE(plan_cafe(1000000, 16, lo).make().memory_bytes().total() <= lo);
}
