// Planners of the hash-sharing tables: the built table fits the budget and uses most of it;
// budgets that are too small throw bad_parameter naming the minimum.
#include <embtab/embtab.hpp>
#include <embtab/plan/hash_plans.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"

using namespace embtab;
using Catch::Matchers::ContainsSubstring;

namespace {

/// Budgets from `lo` to `hi`, about `per_decade` a decade, plus some odd values.
std::vector<std::size_t> budgets(std::size_t lo, std::size_t hi, int per_decade = 6) {
    std::vector<std::size_t> b;
    for (double x = double(lo); x <= double(hi); x *= std::pow(10.0, 1.0 / per_decade))
        b.push_back(static_cast<std::size_t>(x));
    b.push_back(hi - 1);
    return b;
}

template <class Storage, class Optimizer>
std::size_t cost_of(std::size_t d) {  // written out: row bytes plus optimizer floats
    return Storage::row_bytes(d) + Optimizer::state_size(d) * 4;
}

}  // namespace

TEMPLATE_TEST_CASE("plan_hash fills the budget", "[plan][hash]", (std::pair<f32, sgd>),
                   (std::pair<int8_rowwise, adagrad>), (std::pair<f16, adam>)) {
    using Storage = typename TestType::first_type;
    using Optimizer = typename TestType::second_type;
    const std::size_t d = 16, cost = cost_of<Storage, Optimizer>(d);
    for (std::size_t k : {1, 4})
        for (bool separate : {false, true}) {
            const std::size_t tables = separate ? k : 1;
            for (std::size_t b : budgets(cost * tables, 4 << 20)) {
                INFO("k " << k << " separate " << separate << " budget " << b);
                const auto p = plan_hash<Storage, Optimizer>(1000000, d, b, k, separate);
                const auto t = p.make();
                REQUIRE(t.memory_bytes().total() == p.bytes);
                REQUIRE(p.bytes <= b);
                if (b >= 10 * cost * tables) REQUIRE(p.bytes >= 0.9 * double(b));
                REQUIRE(t.hashes() == k);
                REQUIRE(t.rows() == b / cost / tables);
            }
            const std::size_t minimum = cost * tables;
            REQUIRE_THROWS_AS((plan_hash<Storage, Optimizer>(1000, d, minimum - 1, k, separate)),
                              bad_parameter);
            REQUIRE_THROWS_WITH((plan_hash<Storage, Optimizer>(1000, d, minimum - 1, k, separate)),
                                ContainsSubstring("at least " + std::to_string(minimum) + " bytes"));
        }
    REQUIRE_THROWS_AS((plan_hash<Storage, Optimizer>(0, d, 1 << 20)), bad_parameter);
    REQUIRE_THROWS_AS((plan_hash<Storage, Optimizer>(10, 0, 1 << 20)), bad_parameter);
    REQUIRE_THROWS_AS((plan_hash<Storage, Optimizer>(10, d, 1 << 20, 0)), bad_parameter);
}

TEMPLATE_TEST_CASE("plan_qr picks the smallest c that fits the budget", "[plan][qr]",
                   (std::pair<f32, sgd>), (std::pair<int8_rowwise, adagrad>),
                   (std::pair<f16, rowwise_adagrad>)) {
    using Storage = typename TestType::first_type;
    using Optimizer = typename TestType::second_type;
    const std::size_t d = 8;
    for (auto combine : {qr_combine::product, qr_combine::sum, qr_combine::concat})
        for (std::uint64_t n : {1ull, 2ull, 1000ull, 100003ull}) {
            const std::size_t dq = combine == qr_combine::concat ? d - d / 2 : d;
            const std::size_t dr = combine == qr_combine::concat ? d / 2 : d;
            const std::size_t a = cost_of<Storage, Optimizer>(dq), b = cost_of<Storage, Optimizer>(dr);
            const auto bytes = [&](std::uint64_t c) { return ((n + c - 1) / c) * a + c * b; };
            // brute force: the smallest table over all c, and the largest that fits a budget
            std::size_t minimum = bytes(1);
            for (std::uint64_t c = 1; c <= n; ++c) minimum = std::min(minimum, bytes(c));
            REQUIRE(double(minimum) >= 2 * std::sqrt(double(n) * a * b) - 1e-9);
            INFO("combine " << int(combine) << " n " << n << " minimum " << minimum);
            REQUIRE_THROWS_AS((plan_qr<Storage, Optimizer>(n, d, minimum - 1, combine)),
                              bad_parameter);
            REQUIRE_THROWS_WITH((plan_qr<Storage, Optimizer>(n, d, minimum - 1, combine)),
                                ContainsSubstring("at least " + std::to_string(minimum) + " bytes") &&
                                    ContainsSubstring("2*sqrt(n)"));
            for (std::size_t budget : budgets(minimum, std::max<std::size_t>(minimum * 50, 4096))) {
                INFO("budget " << budget);
                const auto p = plan_qr<Storage, Optimizer>(n, d, budget, combine);
                std::uint64_t smallest = 1;  // the smaller root, rounded to a c that fits
                while (bytes(smallest) > budget) ++smallest;
                REQUIRE(p.collisions == smallest);
                REQUIRE(p.bytes == bytes(p.collisions));
                REQUIRE(p.bytes <= budget);
                // consecutive c change Q's rows by < 1/11 from c = 12 on: ≥ 90% reachable
                if (p.collisions >= 12) REQUIRE(p.bytes >= 0.9 * double(budget));
                const auto t = p.make(Optimizer{}, 3);
                REQUIRE(t.memory_bytes().total() == p.bytes);
                REQUIRE(t.dim() == d);
                REQUIRE(t.id_limit() == n);
                REQUIRE(t.collisions() == p.collisions);
            }
        }
    REQUIRE_THROWS_AS((plan_qr<Storage, Optimizer>(0, d, 1 << 20)), bad_parameter);
    REQUIRE_THROWS_AS((plan_qr<Storage, Optimizer>(100, 0, 1 << 20)), bad_parameter);
    REQUIRE_THROWS_AS((plan_qr<Storage, Optimizer>(100, 1, 1 << 20, qr_combine::concat)),
                      bad_parameter);
}

TEST_CASE("plan_qr solves n/c + c = B/row bytes for the smaller root", "[plan][qr]") {
    // n = 10⁶, d = 16 f32/sgd: row = 64 bytes. B = 64·(10⁴ + 100) gives c = 100 exactly.
    const auto p = plan_qr(1000000, 16, 64 * (10000 + 100));
    REQUIRE(p.collisions == 100);
    REQUIRE(p.q_rows == 10000);
    REQUIRE(p.bytes == 64 * 10100);
    REQUIRE_THROWS_WITH(plan_qr(1000000, 16, 64 * 1999),
                        ContainsSubstring("at least 128000 bytes"));  // 2·sqrt(10⁶) rows
}

TEMPLATE_TEST_CASE("plan_frequency_split fills the budget with hot and shared rows",
                   "[plan][frequency]", (std::pair<f32, sgd>), (std::pair<int8_rowwise, adagrad>)) {
    using Storage = typename TestType::first_type;
    using Optimizer = typename TestType::second_type;
    const std::size_t d = 8, row = cost_of<Storage, Optimizer>(d);
    // Zipf-like counts over 20000 ids, a quarter never seen
    std::vector<std::uint64_t> counts(20000);
    std::mt19937 gen(6);
    for (std::size_t i = 0; i < counts.size(); ++i)
        counts[(i * 7919) % counts.size()] = i % 4 == 3 ? 0 : 100000 / (i + 1);
    std::size_t seen = 0;
    for (auto c : counts) seen += c > 0;
    const std::size_t minimum = 2 * row + detail::flat_id_map<>::bytes_for(1);
    REQUIRE_THROWS_WITH((plan_frequency_split<Storage, Optimizer>(counts, d, minimum - 1)),
                        ContainsSubstring("at least " + std::to_string(minimum) + " bytes"));
    for (double fraction : {0.0, 0.25, 0.5, 0.9, 1.0})
        for (std::size_t budget : budgets(minimum, 4 << 20, 4)) {
            INFO("fraction " << fraction << " budget " << budget);
            const auto p = plan_frequency_split<Storage, Optimizer>(counts, d, budget, fraction, 2);
            const auto t = p.make();
            REQUIRE(t.memory_bytes().total() == p.bytes);
            REQUIRE(p.bytes <= budget);
            REQUIRE(p.bytes + row > budget);  // less than one row left over
            if (budget >= 10 * row) REQUIRE(p.bytes >= 0.9 * double(budget));
            REQUIRE(p.hot_ids.size() <= seen);
            REQUIRE(p.hot_ids == top_ids_by_count(counts, p.hot_rows));
            REQUIRE(t.hot_count() == p.hot_ids.size());
            REQUIRE(t.shared_table().hashes() == 2);
            if (p.hot_ids.size() < seen) {  // one more hot id (row + map) would not fit
                const std::size_t h = p.hot_rows + 1;
                const double limit = std::min(fraction * double(budget), double(budget - row));
                REQUIRE(double(h * row + detail::flat_id_map<>::bytes_for(h)) > limit);
            }
        }
    REQUIRE_THROWS_AS(plan_frequency_split<Storage>(counts, d, 1 << 20, 1.5), bad_parameter);
    REQUIRE_THROWS_AS(plan_frequency_split<Storage>(std::vector<int>{}, d, 1 << 20), bad_parameter);
}
