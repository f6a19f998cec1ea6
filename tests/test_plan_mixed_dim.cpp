// plan_mixed_dim: the power-law dimension rule fitted to a byte budget.
#include <cmath>
#include <cstdint>
#include <embtab/embtab.hpp>
#include <embtab/plan/mixed_dim_plan.hpp>
#include <string>
#include <vector>

#include "catch.hpp"

using namespace embtab;
using Catch::Matchers::ContainsSubstring;

static_assert(is_table_v<mixed_dim_plan<int8_rowwise, adagrad>::table_type>);

namespace {

const std::vector<std::size_t> kRows = {10, 100, 1000, 10000, 100000, 3000, 50};
constexpr std::size_t kDim = 32;

std::vector<mixed_dim_block> with_dims(const std::vector<std::size_t>& rows,
                                       const std::vector<std::size_t>& dims) {
    std::vector<mixed_dim_block> b;
    for (std::size_t i = 0; i < rows.size(); ++i) b.push_back({rows[i], dims[i]});
    return b;
}

/// Memory of the table with every block at width `d` (the most the planner can give).
template <class Storage, class Optimizer>
std::size_t full_width_bytes(const std::vector<std::size_t>& rows, std::size_t d) {
    return mixed_dim_table<Storage, Optimizer>::memory_for(
               with_dims(rows, std::vector<std::size_t>(rows.size(), d)), d)
        .total();
}

/// Memory of the rule's floor: the most popular block (index `top`) at `d`, the others at `floor`.
template <class Storage, class Optimizer>
std::size_t floor_bytes(const std::vector<std::size_t>& rows, std::size_t d, std::size_t top,
                        std::size_t floor = 1) {
    std::vector<std::size_t> dims(rows.size(), floor);
    dims[top] = d;
    return mixed_dim_table<Storage, Optimizer>::memory_for(with_dims(rows, dims), d).total();
}

bool is_power_of_2(std::size_t x) { return x && !(x & (x - 1)); }

}  // namespace

TEMPLATE_TEST_CASE("plan_mixed_dim fits the budget, uses most of it and grows with it",
                   "[plan][mixed_dim]", (mixed_dim_table<f32, sgd>),
                   (mixed_dim_table<int8_rowwise, adagrad>), (mixed_dim_table<f16, adam>)) {
    using Storage = typename TestType::storage_type;
    using Optimizer = typename TestType::optimizer_type;
    const std::size_t lo = floor_bytes<Storage, Optimizer>(kRows, kDim, 0);
    const std::size_t hi = full_width_bytes<Storage, Optimizer>(kRows, kDim);
    // one more column of the largest block: the coarsest step of the rule
    const std::size_t step = TestType::memory_for({{100000, 2}}, kDim).total() -
                             TestType::memory_for({{100000, 1}}, kDim).total();
    std::vector<mixed_dim_block> previous;
    int checked_usage = 0;
    for (double budget = static_cast<double>(lo); budget < 1.2 * static_cast<double>(hi);
         budget *= 1.07) {
        const auto b = static_cast<std::size_t>(budget);
        const auto plan = plan_mixed_dim<Storage, Optimizer>(kRows, kDim, b);
        INFO("budget " << b << " alpha " << plan.alpha);
        REQUIRE(plan.dim == kDim);
        REQUIRE(plan.blocks.size() == kRows.size());
        REQUIRE(plan.memory.total() <= b);
        REQUIRE(plan.memory.total() == TestType::memory_for(plan.blocks, kDim).total());
        REQUIRE(plan.blocks[0].dim == kDim);  // the most popular (smallest) block keeps d
        for (std::size_t k = 0; k < kRows.size(); ++k) {
            REQUIRE(plan.blocks[k].rows == kRows[k]);
            REQUIRE(plan.blocks[k].dim >= 1);
            REQUIRE(plan.blocks[k].dim <= kDim);
            for (std::size_t m = 0; m < kRows.size(); ++m)  // more rows: never wider
                if (kRows[m] > kRows[k]) REQUIRE(plan.blocks[m].dim <= plan.blocks[k].dim);
            if (!previous.empty()) REQUIRE(plan.blocks[k].dim >= previous[k].dim);  // monotone
        }
        // Usage: the rule moves all widths with one exponent, so the budget between two of its
        // configurations is left over. Once one more column of the largest block costs at most
        // a tenth of the budget, at least 85% of it is used (below that, e.g. the largest block
        // at width 1 vs 2 is a 2× jump of the dominant cost and no rule can land in between).
        if (b >= 10 * step && b <= hi) {
            REQUIRE(static_cast<double>(plan.memory.total()) >= 0.85 * static_cast<double>(b));
            ++checked_usage;
        }
        if (b >= hi) {  // everything fits: every block at full width
            for (const auto& blk : plan.blocks) REQUIRE(blk.dim == kDim);
        }
        previous = plan.blocks;
    }
    REQUIRE(checked_usage >= 10);
}

TEST_CASE("plan_mixed_dim builds the table it planned", "[plan][mixed_dim]") {
    const auto plan = plan_mixed_dim<int8_rowwise, adagrad>(kRows, kDim, 3'000'000);
    const auto t = plan.make(adagrad{0.2f}, 5);
    REQUIRE(t.memory_bytes().total() == plan.memory.total());
    REQUIRE(t.optimizer().lr == 0.2f);
    REQUIRE(t.dim() == kDim);
    for (std::size_t b = 0; b < kRows.size(); ++b) {
        REQUIRE(t.block_spec(b).rows == plan.blocks[b].rows);
        REQUIRE(t.block_spec(b).dim == plan.blocks[b].dim);
    }
    // the rule: d_b = max(1, round(λ · n_b^(−α))), λ = d · n_min^α
    REQUIRE(plan.lambda == Approx(kDim * std::pow(10.0, plan.alpha)));
    for (std::size_t b = 0; b < kRows.size(); ++b) {
        const double x = plan.lambda * std::pow(double(kRows[b]), -plan.alpha);
        REQUIRE(plan.blocks[b].dim == std::max<std::size_t>(1, std::size_t(std::lround(x))));
    }
    REQUIRE(plan.alpha >= 1e-4);
    REQUIRE(plan.alpha <= 0.5);
}

TEST_CASE("plan_mixed_dim rejects a budget below the minimum and names it",
          "[plan][mixed_dim][errors]") {
    const std::size_t minimum = floor_bytes<f32, sgd>(kRows, kDim, 0);
    const std::string expect = "minimum of " + std::to_string(minimum) + " bytes";
    REQUIRE_THROWS_AS(plan_mixed_dim(kRows, kDim, minimum - 1), bad_parameter);
    REQUIRE_THROWS_WITH(
        plan_mixed_dim(kRows, kDim, minimum - 1),
        ContainsSubstring(expect) && ContainsSubstring("budget of " + std::to_string(minimum - 1)));
    REQUIRE_THROWS_WITH(plan_mixed_dim(kRows, kDim, 1000), ContainsSubstring(expect));
    // At the minimum itself the search goes past α = 0.5: every other block ends at width 1.
    const auto plan = plan_mixed_dim(kRows, kDim, minimum);
    REQUIRE(plan.memory.total() == minimum);
    REQUIRE(plan.alpha > 0.5);
    REQUIRE(plan.blocks[0].dim == kDim);
    for (std::size_t b = 1; b < kRows.size(); ++b) REQUIRE(plan.blocks[b].dim == 1);
    // between that floor and what α = 0.5 costs, α > 0.5 still fits the budget
    const auto at_half = plan_mixed_dim(kRows, kDim, minimum + 20'000);
    REQUIRE(at_half.memory.total() <= minimum + 20'000);
    REQUIRE(at_half.blocks[0].dim == kDim);
    // the floor with rounding is that of the rounded widths (4 for multiples of 4)
    mixed_dim_plan_options by4;
    by4.rounding = dim_rounding::multiple_of_4;
    const std::size_t minimum4 = floor_bytes<f32, sgd>(kRows, kDim, 0, 4);
    REQUIRE_THROWS_WITH(plan_mixed_dim(kRows, kDim, minimum4 - 1, by4),
                        ContainsSubstring("minimum of " + std::to_string(minimum4) + " bytes"));
    REQUIRE(plan_mixed_dim(kRows, kDim, minimum4, by4).memory.total() == minimum4);
}

TEST_CASE("plan_mixed_dim rounds widths to multiples of 4 or powers of 2, never above d",
          "[plan][mixed_dim]") {
    for (std::size_t d : {32u, 24u, 30u}) {
        const std::size_t hi = full_width_bytes<f32, sgd>(kRows, d);
        for (auto rounding : {dim_rounding::multiple_of_4, dim_rounding::power_of_2}) {
            mixed_dim_plan_options opts;
            opts.rounding = rounding;
            std::vector<mixed_dim_block> previous;
            for (double f = 0.2; f < 1.1; f *= 1.1) {
                const auto budget = static_cast<std::size_t>(f * double(hi));
                const auto plan = plan_mixed_dim(kRows, d, budget, opts);
                INFO("d " << d << " budget " << budget);
                REQUIRE(plan.memory.total() <= budget);
                REQUIRE(plan.blocks[0].dim == d);
                for (std::size_t b = 0; b < kRows.size(); ++b) {
                    const std::size_t db = plan.blocks[b].dim;
                    REQUIRE(db <= d);
                    if (rounding == dim_rounding::multiple_of_4)
                        REQUIRE((db % 4 == 0 || db == d));
                    else
                        REQUIRE((is_power_of_2(db) || db == d));
                    if (!previous.empty()) REQUIRE(db >= previous[b].dim);
                }
                previous = plan.blocks;
            }
        }
    }
}

TEST_CASE("plan_mixed_dim follows a given popularity", "[plan][mixed_dim]") {
    // the large block 0 is looked up most per id: it keeps d; the rarest gets the least
    const std::vector<std::size_t> rows = {5000, 20, 300, 4000};
    mixed_dim_plan_options opts;
    opts.popularity = {1.0, 0.001, 0.05, 0.01};
    const std::size_t hi = full_width_bytes<f32, adagrad>(rows, 16);
    const auto plan = plan_mixed_dim<f32, adagrad>(rows, 16, hi * 3 / 4, opts);
    REQUIRE(plan.memory.total() <= hi * 3 / 4);
    REQUIRE(plan.blocks[0].dim == 16);
    REQUIRE(plan.blocks[2].dim >= plan.blocks[3].dim);
    REQUIRE(plan.blocks[3].dim >= plan.blocks[1].dim);
    REQUIRE(plan.blocks[1].dim < 16);
    // equal popularity everywhere: nothing to tell blocks apart, all keep d (if it fits)
    opts.popularity = {2, 2, 2, 2};
    const auto flat = plan_mixed_dim<f32, adagrad>(rows, 16, hi, opts);
    for (const auto& b : flat.blocks) REQUIRE(b.dim == 16);
    REQUIRE_THROWS_WITH((plan_mixed_dim<f32, adagrad>(rows, 16, hi / 3, opts)),
                        ContainsSubstring("minimum of " + std::to_string(hi) + " bytes"));
}

TEST_CASE("plan_mixed_dim rejects bad input", "[plan][mixed_dim][errors]") {
    const std::vector<std::size_t> with_zero = {10, 0, 5}, three = {10, 20, 30};
    REQUIRE_THROWS_WITH(plan_mixed_dim({}, 8, 1'000'000), ContainsSubstring("at least one block"));
    REQUIRE_THROWS_WITH(plan_mixed_dim(with_zero, 8, 1'000'000),
                        ContainsSubstring("block 1 has 0 rows"));
    REQUIRE_THROWS_WITH(plan_mixed_dim({10}, 0, 1'000'000),
                        ContainsSubstring("dimension 0 is outside [1, 1024]"));
    REQUIRE_THROWS_AS(plan_mixed_dim({10}, 2000, 1'000'000'000), bad_parameter);
    mixed_dim_plan_options opts;
    opts.popularity = {1, 2};
    REQUIRE_THROWS_WITH(plan_mixed_dim(three, 8, 1'000'000, opts),
                        ContainsSubstring("popularity has 2 entries; expected 3"));
    opts.popularity = {1, -2, 3};
    REQUIRE_THROWS_WITH(plan_mixed_dim(three, 8, 1'000'000, opts),
                        ContainsSubstring("popularity -2 of block 1"));
    opts.popularity = {1, 2, std::nan("")};
    REQUIRE_THROWS_AS(plan_mixed_dim(three, 8, 1'000'000, opts), bad_parameter);
}
