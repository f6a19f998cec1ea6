// CAFE planners: every plan fits its budget and builds the table it describes; without data the
// shared table keeps its fraction; from counts, H minimises the collision mass J (checked
// against a direct evaluation of J), the shared table is never starved, and the decay period
// follows the H-th hottest id's traffic.
#include <embtab/plan/cafe_plan.hpp>
#include <embtab/plan/hot_split.hpp>
#include <embtab/storage/rowwise_quantized.hpp>
#include <embtab/optim/adagrad.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "catch.hpp"

using namespace embtab;

namespace {

/// Counts of `ids` ids after `n` Zipf(s) draws (popularity shuffled over the ids).
std::vector<std::uint32_t> zipf_counts(std::size_t ids, std::size_t n, double s, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::vector<double> cdf(ids);
    double total = 0;
    for (std::size_t k = 0; k < ids; ++k) cdf[k] = total += std::pow(double(k + 1), -s);
    std::uniform_real_distribution<double> u(0, total);
    std::vector<std::uint32_t> counts(ids, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const auto k = std::size_t(std::lower_bound(cdf.begin(), cdf.end(), u(gen)) - cdf.begin());
        ++counts[(std::min(k, ids - 1) * 2654435761ULL) % ids];
    }
    return counts;
}

/// J(H) evaluated directly from its definition, for the reference.
double collision_mass(const std::vector<std::uint32_t>& counts, std::size_t h, std::size_t budget,
                      std::size_t hot_bytes, std::size_t shared_bytes, std::size_t fixed) {
    std::vector<double> c;
    double singletons = 0;
    for (auto x : counts)
        if (x > 0) c.push_back(x), singletons += x == 1;
    std::sort(c.begin(), c.end(), std::greater<>());
    double m = singletons, q = 0;
    for (std::size_t i = h; i < c.size(); ++i) m += c[i], q += c[i] * c[i];
    const double shared = std::floor((double(budget) - double(fixed) - double(h * hot_bytes)) /
                                     double(shared_bytes));
    return shared < 1 ? INFINITY : (m * m - q) / shared;
}

template <class Plan, class Table>
void fits(const Plan& p, const Table& t, std::size_t budget) {
    const auto used = t.memory_bytes().total();
    INFO("budget " << budget << " used " << used << " hot " << p.hot_rows << " shared "
                   << p.shared_rows << " buckets " << p.buckets);
    REQUIRE(used <= budget);
    REQUIRE(t.hot().id_limit() == p.hot_rows);
    REQUIRE(t.sketch().options().buckets == p.buckets);
}

}  // namespace

TEST_CASE("best_hot_split minimises the collision mass J", "[plan][cafe][hot_split]") {
    const auto counts = zipf_counts(5000, 40000, 1.1, 1);
    for (std::size_t budget : {2000, 8000, 30000, 100000}) {
        const std::size_t hot_bytes = 100, shared_bytes = 64, fixed = 64;
        const hot_split s = best_hot_split(counts, budget, hot_bytes, shared_bytes, fixed);
        double best = INFINITY;
        std::size_t best_h = 0;
        for (std::size_t h = 0; h * hot_bytes + fixed + shared_bytes <= budget; ++h) {
            const double j = collision_mass(counts, h, budget, hot_bytes, shared_bytes, fixed);
            if (j < best) best = j, best_h = h;
        }
        INFO("budget " << budget);
        REQUIRE(s.hot_rows == best_h);
        REQUIRE(s.hot_rows * hot_bytes + fixed + shared_bytes <= budget);
    }
    // nothing counted, or no room for a hot row beside a shared row: no hot rows
    REQUIRE(best_hot_split(std::vector<std::uint32_t>(10, 0), 10000, 100, 64).hot_rows == 0);
    REQUIRE(best_hot_split(counts, 150, 100, 64).hot_rows == 0);
    // uniform counts: taking any id out of the shared table is worth less than its rows
    REQUIRE(best_hot_split(std::vector<std::uint32_t>(100000, 3), 64000, 128, 64).hot_rows == 0);
}

TEST_CASE("plan_cafe keeps the shared fraction and fits the budget", "[plan][cafe]") {
    const std::uint64_t n = 1000000;
    const std::size_t d = 16;
    const std::size_t full = n * d * 4;
    for (double ratio : {2.0, 10.0, 100.0, 1000.0, 5000.0, 10000.0}) {
        const auto budget = static_cast<std::size_t>(double(full) / ratio);
        const auto p = plan_cafe(n, d, budget);
        const auto t = p.make();
        fits(p, t, budget);
        REQUIRE(double(t.memory_bytes().total()) >= 0.98 * double(budget));
        REQUIRE(double(t.shared().memory_bytes().total()) <= 0.5 * double(budget));
        REQUIRE(double(t.shared().memory_bytes().total()) >= 0.49 * double(budget));
        // two sketch slots a hot row: w = H/2 buckets of 4
        REQUIRE(p.buckets == (p.hot_rows + 1) / 2);
        REQUIRE(t.sketch().memory_bytes().other == p.buckets * 64 + p.hot_rows * 4);
        REQUIRE(p.sketch.adaptive_threshold);
    }
    // the paper's configuration, by name
    cafe_plan_options paper;
    paper.paper_table = true;
    const auto p = plan_cafe(n, d, full / 3000, paper);
    REQUIRE(p.sketch.threshold == 500);
    REQUIRE(!p.sketch.adaptive_threshold);
    REQUIRE(p.buckets == p.hot_rows);
    REQUIRE(std::fabs(p.shared_fraction - 0.1) < 0.01);
    fits(p, p.make(), full / 3000);
    REQUIRE_THROWS_WITH(plan_cafe(n, d, 100), Catch::Matchers::ContainsSubstring("need at least"));
}

TEST_CASE("plans fit the budget for every storage and optimizer they are typed on", "[plan][cafe]") {
    const auto counts = zipf_counts(200000, 400000, 1.05, 2);
    for (std::size_t budget : {400, 1000, 5000, 60000, 700000, 3000000}) {
        const auto a = plan_cafe<int8_rowwise, adagrad, f32, adagrad>(200000, 16, budget);
        fits(a, a.make<int8_rowwise, f32>(adagrad{}), budget);
        const auto b = plan_cafe_from_counts<f32, sgd, f32, sgd>(counts, 16, budget);
        fits(b, b.make(), budget);
        const auto c = plan_cafe_from_counts<int8_rowwise, adagrad, f32, adagrad>(counts, 8, budget);
        fits(c, c.make<int8_rowwise, f32>(adagrad{}), budget);
    }
}

TEST_CASE("plan_cafe_from_counts never starves the shared table, from all counts or a sample",
          "[plan][cafe]") {
    const std::size_t ids = 300000, d = 16;
    for (double s : {1.05, 1.2}) {
        const auto all = zipf_counts(ids, 3000000, s, 3);
        const auto sample = zipf_counts(ids, 150000, s, 4);  // a 5% sample
        for (double ratio : {10.0, 100.0, 1000.0, 10000.0}) {
            const auto budget = static_cast<std::size_t>(double(ids * d * 4) / ratio);
            for (const auto* c : {&all, &sample}) {
                const auto p = plan_cafe_from_counts(*c, d, budget);
                INFO("zipf " << s << " ratio " << ratio << " sample " << (c == &sample)
                             << " shared fraction " << p.shared_fraction);
                fits(p, p.make(), budget);
                REQUIRE(p.shared_fraction >= 0.3);
                REQUIRE(p.shared_fraction <= 0.9);
                REQUIRE(p.sketch.decay_period >= 1);
            }
        }
    }
}

TEST_CASE("plan_cafe_from_counts decays once the H-th hottest id had its hits", "[plan][cafe]") {
    const auto counts = zipf_counts(100000, 1000000, 1.1, 5);
    const std::size_t budget = 100000 * 16 * 4 / 100;
    cafe_plan_options o;
    o.hits_per_decay = 50;
    const auto p = plan_cafe_from_counts(counts, 16, budget, o);
    std::vector<std::uint32_t> sorted(counts);
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    double total = 0;
    for (auto x : counts) total += x + (x == 1);
    const double share = sorted[p.hot_rows - 1] / total;
    // the period in inserted score (= lookups, scores have mean 1) gives the H-th id 50 hits
    const double period = double(p.sketch.decay_period) * double(p.buckets) * double(p.sketch.threshold);
    REQUIRE(period * share == Approx(50).epsilon(0.01));
    // without counts it falls back to the plan without data
    const auto none = plan_cafe_from_counts(std::vector<std::uint32_t>(1000, 0), 16, 20000);
    REQUIRE(none.hot_rows == plan_cafe(1000, 16, 20000).hot_rows);
}
