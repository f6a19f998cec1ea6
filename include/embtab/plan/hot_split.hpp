#pragma once
/// \file plan/hot_split.hpp How many ids of a hot/shared table deserve their own row, from
/// their counts: the split that frequency split and CAFE planners size by.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "../span.hpp"

namespace embtab {

/// What `best_hot_split` chose.
struct hot_split {
    std::size_t hot_rows = 0;  ///< H
    double last_share = 0;     ///< c_(H) / (Σ c + N₁): the traffic share of the H-th hottest id
};

/// The number of hot rows H that minimises the expected collision mass of the ids left in the
/// shared table, for `counts[id]` (exact counts or a sample's: only proportions matter), a
/// budget of `budget` bytes, `hot_row_bytes` a hot row (with its bookkeeping),
/// `shared_row_bytes` a shared row and `fixed_bytes` spent whatever H is:
///   J(H) = (M(H)² − Q(H)) / S(H),   M = Σ_{i>H} c_(i) + N₁,   Q = Σ_{i>H} c_(i)²,
///   S(H) = floor((budget − fixed − H · hot_row_bytes) / shared_row_bytes),
/// with `c_(1) ≥ c_(2) ≥ …` the sorted counts. A cold lookup of id i meets on average
/// (M − c_i)/S lookups of other ids in its shared row; J sums that over the cold lookups, so
/// a hot row is bought while the traffic it takes out of the shared table is worth more than
/// the shared rows it costs. N₁, the number of ids counted once, stands for the traffic of ids
/// never counted (Good–Turing), which is cold whatever H is: a sample cannot talk the split
/// into starving the shared table. Returns 0 when no id was counted or no hot row fits with a
/// shared row beside it.
template <class Counts>
hot_split best_hot_split(const Counts& counts, std::size_t budget, std::size_t hot_row_bytes,
                          std::size_t shared_row_bytes, std::size_t fixed_bytes = 0) {
    const auto cnt = as_span(counts);
    if (hot_row_bytes == 0 || shared_row_bytes == 0 ||
        budget < fixed_bytes + hot_row_bytes + shared_row_bytes)
        return {};
    const std::size_t max_hot = (budget - fixed_bytes - shared_row_bytes) / hot_row_bytes;
    std::vector<double> sorted;
    double mass = 0, squares = 0;
    for (std::size_t i = 0; i < cnt.size(); ++i)
        if (cnt[i] > 0) {
            const auto x = static_cast<double>(cnt[i]);
            sorted.push_back(x);
            mass += x + (cnt[i] == 1);  // + N₁
            squares += x * x;
        }
    const std::size_t top = std::min(max_hot, sorted.size());
    if (top == 0) return {};
    const double total = mass;
    std::partial_sort(sorted.begin(), sorted.begin() + std::ptrdiff_t(top), sorted.end(),
                      std::greater<>());
    const double room = double(budget) - double(fixed_bytes);
    std::size_t best = 0;
    double best_j = std::numeric_limits<double>::infinity();
    for (std::size_t h = 0; h <= top; ++h) {
        if (h > 0) {
            mass -= sorted[h - 1];
            squares -= sorted[h - 1] * sorted[h - 1];
        }
        const double shared = std::floor((room - double(h) * double(hot_row_bytes)) /
                                         double(shared_row_bytes));
        if (shared < 1) break;
        const double j = std::max(0.0, mass * mass - squares) / shared;
        if (j < best_j) best_j = j, best = h;
    }
    return {best, best == 0 ? 0.0 : sorted[best - 1] / total};
}

}  // namespace embtab
