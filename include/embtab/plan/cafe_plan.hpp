#pragma once
/// \file plan/cafe_plan.hpp Sizing a CAFE table from a byte budget: hot rows H, sketch buckets
/// w and shared rows S that together fit the budget — split by a fixed shared fraction when
/// nothing is known of the ids (`plan_cafe`), or by the marginal value of a hot row when their
/// counts (or a sample's) are known (`plan_cafe_from_counts`).
///
/// Each hot row costs its row, its optimizer state, its share of the sketch
/// (`slots_per_hot_row` slots of 16 bytes: 2 by default, i.e. w = H/2 buckets of 4 slots) and one
/// free-list entry; each shared row its row and optimizer state. `memory_bytes().total()` of the
/// built table never exceeds the budget.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include "../detail/checked_size.hpp"
#include "../errors.hpp"
#include "../hash/hashers.hpp"
#include "hot_split.hpp"
#include "../sketch/hot_sketch.hpp"
#include "../span.hpp"
#include "../tables/cafe_table.hpp"
#include "../tables/full_table.hpp"
#include "../tables/hash_table.hpp"

namespace embtab {

/// Choices of `plan_cafe` and `plan_cafe_from_counts` beyond the shape and budget.
struct cafe_plan_options {
    /// r: share of the budget the shared table gets when the ids' counts are unknown. 0.5 never
    /// starves the shared table (which serves every id not hot) at any compression.
    double shared_fraction = 0.5;
    /// Sketch slots bought per hot row (w = ceil(H · slots_per_hot_row / 4) buckets): 2 keeps
    /// as many candidates as hot ids; 4 is one bucket a hot row, as the CAFE paper sizes it.
    double slots_per_hot_row = 2;
    /// Size as the CAFE paper does: threshold and shared fraction from its table by compression
    /// ratio (`paper_threshold_and_fraction`), one bucket a hot row, a fixed threshold and
    /// decay 0.99 — the original configuration, for reproducing it.
    bool paper_table = false;
    /// `plan_cafe_from_counts`: the sketch decays once the H-th hottest id of the counts has
    /// had about this many lookups, so that the scores it ranks by hold enough of each hot
    /// id's traffic to rank it, and no more (older traffic fades by δ a decay).
    double hits_per_decay = 100;
};

/// The sizes a CAFE planner chose, and the table they describe.
struct cafe_plan {
    std::size_t dim = 0;          ///< d
    std::size_t hot_rows = 0;     ///< H: rows of the hot table
    std::size_t buckets = 0;      ///< w: sketch buckets
    std::size_t shared_rows = 0;  ///< S: rows of the shared hash table
    double shared_fraction = 0;   ///< share of the budget the shared table holds
    double compression = 0;       ///< fp32 full-table bytes over the budget
    hot_sketch_options sketch;    ///< the sketch's parameters (buckets, hot rows, threshold...)

    /// The planned table: a `full_table<HotStorage>` of hot rows and a hashing-trick shared
    /// table, both trained by `optimizer`; with `medium_tier`, ids scoring in [β·T, T) add a
    /// second shared row (same memory). (The storages and optimizer must be those planned for,
    /// or the memory will differ.)
    template <class HotStorage = f32, class SharedStorage = f32, class Optimizer = sgd>
    auto make(Optimizer optimizer = {}, std::uint64_t seed = 0,
              importance score = importance::gradient_norm, bool medium_tier = false) const {
        cafe_options o;
        o.sketch = sketch;
        o.sketch.seed = seed + 1;
        o.score = score;
        o.medium_tier = medium_tier;
        hash_table_options h;
        h.rows = shared_rows;
        h.dim = dim;
        h.seed = seed;
        return make_cafe_table(full_table<HotStorage, Optimizer>(hot_rows, dim, optimizer, seed),
                               hash_table<SharedStorage, Optimizer, xxh3>(h, optimizer), o);
    }
};

/// Threshold T and shared fraction r for a compression ratio, from the CAFE paper's Criteo
/// configuration (the column at or below the ratio). Tuned for 33.8M ids and ~45M samples;
/// applied by ratio to smaller id spaces it starves the shared table.
inline std::pair<float, double> paper_threshold_and_fraction(double compression) noexcept {
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

namespace detail {

/// What the rows of a CAFE plan cost.
struct cafe_costs {
    std::size_t hot_row;  // a hot row: row + optimizer state + free-list entry
    std::size_t sketch;   // a hot row's share of the sketch (slots · 16 bytes, rounded up)
    std::size_t shared;   // a shared row: row + optimizer state
    double slots;         // sketch slots a hot row
    std::size_t hot() const noexcept { return hot_row + sketch; }
};

template <class HotStorage, class HotOptimizer, class SharedStorage, class SharedOptimizer>
cafe_costs cafe_row_costs(const char* who, std::uint64_t n, std::size_t d,
                          const cafe_plan_options& o) {
    if (n == 0) fail<bad_parameter>(who, ": n (ids) is 0; it must be at least 1");
    check_dim(who, d);
    if (!(o.shared_fraction > 0 && o.shared_fraction < 1))
        fail<bad_parameter>(who, ": shared_fraction ", o.shared_fraction, " is outside (0, 1)");
    const double slots = o.paper_table ? 4.0 : o.slots_per_hot_row;
    if (!(slots >= 1 && slots <= 64))
        fail<bad_parameter>(who, ": slots_per_hot_row ", slots, " is outside [1, 64]");
    constexpr double slot_bytes =
        double(hot_sketch<mix64>::bucket_bytes) / double(hot_sketch<mix64>::slots);
    return {HotStorage::row_bytes(d) + HotOptimizer::state_size(d) * sizeof(float) +
                sizeof(std::int32_t),
            static_cast<std::size_t>(std::ceil(slots * slot_bytes)),
            SharedStorage::row_bytes(d) + SharedOptimizer::state_size(d) * sizeof(float), slots};
}

/// A plan of `hot` hot rows; the shared table takes what is left of the budget after the hot
/// rows and the sketch (whose bucket count, rounded up, may take a few bytes more than
/// `hot · sketch share`).
inline cafe_plan finish_cafe_plan(const char* who, std::uint64_t n, std::size_t d,
                                  std::size_t budget, std::size_t hot, const cafe_costs& c,
                                  const cafe_plan_options& o, float threshold) {
    constexpr std::size_t slots = hot_sketch<mix64>::slots;
    constexpr std::size_t bucket = hot_sketch<mix64>::bucket_bytes;
    hot = std::min(hot, hot_sketch<mix64>::max_hot_rows);
    cafe_plan p;
    p.dim = d;
    p.hot_rows = hot;
    p.buckets = std::max<std::size_t>(
        1, static_cast<std::size_t>(std::ceil(double(hot) * c.slots / double(slots))));
    const std::size_t hot_bytes = hot * c.hot_row + p.buckets * bucket;
    p.shared_rows = hot_bytes < budget ? (budget - hot_bytes) / c.shared : 0;
    if (p.hot_rows == 0 || p.shared_rows == 0)
        fail<bad_parameter>(who, ": a budget of ", budget, " bytes leaves ", p.hot_rows, " hot and ",
                            p.shared_rows, " shared rows; one hot row (", c.hot_row,
                            " bytes), one sketch bucket (", bucket, ") and one shared row (",
                            c.shared, ") need at least ", c.hot_row + bucket + c.shared, " bytes");
    p.compression = static_cast<double>(n) * static_cast<double>(d) * 4.0 / double(budget);
    p.shared_fraction = double(p.shared_rows * c.shared) / double(budget);
    p.sketch.buckets = p.buckets;
    p.sketch.hot_rows = hot;
    p.sketch.threshold = threshold;
    p.sketch.min_threshold = std::min(p.sketch.min_threshold, threshold);
    if (o.paper_table) {
        p.sketch.adaptive_threshold = false;
        p.sketch.decay = 0.99f;
        p.sketch.score_cap = 0;
    }
    return p;
}

}  // namespace detail

/// Sizes a CAFE table for `n` ids of dimension `d` in `budget` bytes without knowing the ids:
/// the shared table gets `shared_fraction` of the budget and the hot rows the rest, with the
/// sketch's defaults (adaptive threshold from T = 10, decay that follows drift). With
/// `paper_table` the paper's threshold and fraction by ratio instead.
template <class HotStorage = f32, class HotOptimizer = sgd, class SharedStorage = f32,
          class SharedOptimizer = sgd>
cafe_plan plan_cafe(std::uint64_t n, std::size_t d, std::size_t budget,
                    const cafe_plan_options& o = {}) {
    const auto c = detail::cafe_row_costs<HotStorage, HotOptimizer, SharedStorage, SharedOptimizer>(
        "plan_cafe", n, d, o);
    const double compression = static_cast<double>(n) * static_cast<double>(d) * 4.0 / double(budget);
    float threshold = hot_sketch_options{}.threshold;
    double r = o.shared_fraction;
    if (o.paper_table) std::tie(threshold, r) = paper_threshold_and_fraction(compression);
    const auto shared_bytes = static_cast<std::size_t>(r * double(budget));
    std::size_t hot = (budget - std::min(budget, shared_bytes)) / c.hot();
    // at least one hot row wherever one fits beside a shared row: the minimum named on failure
    if (hot == 0 && budget >= c.hot_row + hot_sketch<mix64>::bucket_bytes + c.shared) hot = 1;
    return detail::finish_cafe_plan("plan_cafe", n, d, budget, hot, c, o, threshold);
}

/// Sizes a CAFE table from id counts (`counts[id]` for ids `[0, n)`; a sample's counts do as
/// well): H is `best_hot_split` (plan/hot_split.hpp) at this plan's row costs — a hot row is
/// bought while the traffic it takes out of the shared table is worth more than the shared rows
/// it costs — and the decay period is set from the H-th hottest id's share of the traffic
/// (`hits_per_decay`). Without any counted id it falls back to `plan_cafe`.
template <class HotStorage = f32, class HotOptimizer = sgd, class SharedStorage = f32,
          class SharedOptimizer = sgd, class Counts>
cafe_plan plan_cafe_from_counts(const Counts& counts, std::size_t d, std::size_t budget,
                                const cafe_plan_options& o = {}) {
    const auto cnt = as_span(counts);
    const auto c = detail::cafe_row_costs<HotStorage, HotOptimizer, SharedStorage, SharedOptimizer>(
        "plan_cafe_from_counts", cnt.size(), d, o);
    // one bucket more than H's share: the bucket count is rounded up
    const hot_split split = best_hot_split(counts, budget, c.hot(), c.shared,
                                           hot_sketch<mix64>::bucket_bytes);
    if (split.hot_rows == 0 || o.paper_table)
        return plan_cafe<HotStorage, HotOptimizer, SharedStorage, SharedOptimizer>(cnt.size(), d,
                                                                                   budget, o);
    cafe_plan p = detail::finish_cafe_plan("plan_cafe_from_counts", cnt.size(), d, budget,
                                           split.hot_rows, c, o, hot_sketch_options{}.threshold);
    // decay once the H-th hottest id has had about `hits_per_decay` lookups
    const double period = o.hits_per_decay / split.last_share;
    p.sketch.decay_period = static_cast<float>(std::clamp(
        period / (double(p.sketch.buckets) * double(p.sketch.threshold)), 1.0, 1e12));
    return p;
}

}  // namespace embtab
