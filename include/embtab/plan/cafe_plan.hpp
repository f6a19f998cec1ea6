#pragma once
/// \file plan/cafe_plan.hpp Sizing a CAFE table from a byte budget: threshold and shared
/// fraction from the paper's table by compression ratio, then hot rows, sketch buckets and
/// shared rows that together fit the budget.

#include <cstddef>
#include <cstdint>
#include <tuple>
#include <utility>

#include "../errors.hpp"
#include "../hash/hashers.hpp"
#include "../sketch/hot_sketch.hpp"
#include "../tables/cafe_table.hpp"
#include "../tables/full_table.hpp"
#include "../tables/hash_table.hpp"

namespace embtab {

/// The sizes `plan_cafe` chose, and the table they describe.
struct cafe_plan {
    std::size_t dim = 0;          ///< d
    std::size_t hot_rows = 0;     ///< H: rows of the hot table (= sketch buckets w)
    std::size_t shared_rows = 0;  ///< S: rows of the shared hash table
    float threshold = 0;          ///< T: promotion threshold
    double shared_fraction = 0;   ///< r: share of the budget given to the shared table
    double compression = 0;       ///< fp32 full-table bytes over the budget

    /// The planned table: a `full_table<HotStorage>` of hot rows and a hashing-trick shared
    /// table, both trained by `optimizer`. (The storages and optimizer must be those planned
    /// for, or the memory will differ.)
    template <class HotStorage = f32, class SharedStorage = f32, class Optimizer = sgd>
    auto make(Optimizer optimizer = {}, std::uint64_t seed = 0,
              importance score = importance::gradient_norm) const {
        cafe_options o;
        o.sketch.buckets = hot_rows;
        o.sketch.hot_rows = hot_rows;
        o.sketch.threshold = threshold;
        o.sketch.seed = seed + 1;
        o.score = score;
        hash_table_options h;
        h.rows = shared_rows;
        h.dim = dim;
        h.seed = seed;
        return make_cafe_table(full_table<HotStorage, Optimizer>(hot_rows, dim, optimizer, seed),
                               hash_table<SharedStorage, Optimizer, xxh3>(h, optimizer), o);
    }
};

/// Threshold T and shared fraction r for a compression ratio (ALGORITHMS.md §5, the column at
/// or below the ratio).
inline std::pair<float, double> cafe_threshold_and_fraction(double compression) noexcept {
    struct row {
        double at;
        float t;
        double r;
    };
    static constexpr row table[] = {{2, 10, 0.7},    {5, 10, 0.5},    {10, 20, 0.5},
                                    {20, 30, 0.5},   {50, 50, 0.3},   {100, 100, 0.3},
                                    {200, 200, 0.2}, {500, 500, 0.2}, {2000, 500, 0.1}};
    row chosen = table[0];
    for (const row& r : table)
        if (compression >= r.at) chosen = r;
    return {chosen.t, chosen.r};
}

/// Sizes a CAFE table for `n` ids of dimension `d` in `budget` bytes: the shared table gets
/// `r·budget`, and each hot row costs its row, its optimizer state, one sketch bucket and one
/// free-list entry, so that `memory_bytes().total() ≤ budget`.
template <class HotStorage = f32, class HotOptimizer = sgd, class SharedStorage = f32,
          class SharedOptimizer = sgd>
cafe_plan plan_cafe(std::uint64_t n, std::size_t d, std::size_t budget) {
    if (n == 0 || d == 0) detail::fail<bad_parameter>("plan_cafe: n and d must be at least 1");
    const std::size_t hot_cost = HotStorage::row_bytes(d) +
                                 HotOptimizer::state_size(d) * sizeof(float) +
                                 hot_sketch<mix64>::bucket_bytes + sizeof(std::int32_t);
    const std::size_t shared_cost =
        SharedStorage::row_bytes(d) + SharedOptimizer::state_size(d) * sizeof(float);
    cafe_plan p;
    p.dim = d;
    p.compression = static_cast<double>(n) * static_cast<double>(d) * 4.0 / double(budget);
    std::tie(p.threshold, p.shared_fraction) = cafe_threshold_and_fraction(p.compression);
    p.shared_rows = static_cast<std::size_t>(p.shared_fraction * double(budget)) / shared_cost;
    p.hot_rows = (budget - p.shared_rows * shared_cost) / hot_cost;
    if (p.shared_rows == 0 || p.hot_rows == 0)
        detail::fail<bad_parameter>("plan_cafe: a budget of ", budget, " bytes leaves ",
                                    p.hot_rows, " hot and ", p.shared_rows,
                                    " shared rows; it needs at least ",
                                    hot_cost + static_cast<std::size_t>(shared_cost / p.shared_fraction) + 1,
                                    " bytes");
    return p;
}

}  // namespace embtab
