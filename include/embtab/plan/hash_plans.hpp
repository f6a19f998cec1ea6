#pragma once
/// \file plan/hash_plans.hpp Memory planners for the hash-sharing tables: given n ids,
/// dimension d and a budget of B bytes (rows plus optimizer state plus bookkeeping), the
/// parameters of a table that fits, and the table itself (`make`).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "../detail/checked_size.hpp"
#include "../detail/flat_id_map.hpp"
#include "../errors.hpp"
#include "../fwd.hpp"
#include "../hash/hashers.hpp"
#include "../optim/sgd.hpp"
#include "../span.hpp"
#include "../storage/f32.hpp"
#include "../tables/frequency_split_table.hpp"
#include "../tables/full_table.hpp"
#include "../tables/hash_table.hpp"
#include "../tables/qr_table.hpp"
#include "../traits.hpp"

namespace embtab {

namespace detail {

/// Bytes one row of `d` values costs: its storage plus its optimizer state.
template <class Storage, class Optimizer>
constexpr std::size_t row_cost(std::size_t d) noexcept {
    return Storage::row_bytes(d) + Optimizer::state_size(d) * sizeof(float);
}

/// Throws unless n and d are positive.
inline void check_plan_shape(const char* who, std::uint64_t n, std::size_t d) {
    if (n == 0) fail<bad_parameter>(who, ": n (ids) is 0; it must be at least 1");
    check_dim(who, d);
}

}  // namespace detail

/// A hashing-trick / multiple-hashing table for a budget: `options.rows` rows (per table).
template <class Storage, class Optimizer>
struct hash_plan {
    std::uint64_t ids = 0;       ///< n, the ids planned for (any id is accepted)
    std::size_t budget = 0;      ///< B, bytes allowed
    std::size_t bytes = 0;       ///< bytes the built table holds (≤ budget)
    hash_table_options options;  ///< the table's parameters (combine and seed may be changed)

    /// The planned table.
    template <class Hasher = xxh3>
    hash_table<Storage, Optimizer, Hasher> make(Optimizer optimizer = {}, Storage storage = {},
                                                Hasher hasher = {}) const {
        return hash_table<Storage, Optimizer, Hasher>(options, std::move(optimizer),
                                                      std::move(storage), std::move(hasher));
    }
};

/// The hash table of `k = hashes` hash functions that fills `budget` bytes: `m = B / (k ·
/// row cost)` rows with `separate_tables`, else `m = B / row cost` (row cost = row bytes +
/// optimizer state). Throws `bad_parameter` when not even one row fits.
template <class Storage = f32, class Optimizer = sgd>
hash_plan<Storage, Optimizer> plan_hash(std::uint64_t n, std::size_t d, std::size_t budget,
                                        std::size_t hashes = 1, bool separate_tables = false) {
    detail::check_plan_shape("plan_hash", n, d);
    if (hashes == 0) detail::fail<bad_parameter>("plan_hash: hashes (k) is 0; it must be at least 1");
    const std::size_t tables = separate_tables ? hashes : 1;
    const std::size_t cost = detail::row_cost<Storage, Optimizer>(d);
    const std::size_t rows = budget / cost / tables;
    if (rows == 0)
        detail::fail<bad_parameter>("plan_hash: a budget of ", budget, " bytes is too small; ",
                                    tables, " table(s) of one row of ", d, " values (", cost,
                                    " bytes with optimizer state) need at least ", cost * tables,
                                    " bytes");
    hash_plan<Storage, Optimizer> p;
    p.ids = n;
    p.budget = budget;
    p.bytes = rows * tables * cost;
    p.options.rows = rows;
    p.options.dim = d;
    p.options.hashes = hashes;
    p.options.separate_tables = separate_tables;
    return p;
}

/// A quotient–remainder table for a budget: `collisions` = c remainders.
template <class Storage, class Optimizer>
struct qr_plan {
    std::uint64_t ids = 0;         ///< n
    std::size_t budget = 0;        ///< B, bytes allowed
    std::size_t bytes = 0;         ///< bytes the built table holds (≤ budget)
    std::uint64_t collisions = 0;  ///< c: R has c rows, Q has ceil(n/c)
    std::size_t q_rows = 0;        ///< ceil(n/c)
    std::size_t q_dim = 0;         ///< dimension of Q's rows
    std::size_t r_dim = 0;         ///< dimension of R's rows
    qr_combine combine = qr_combine::product;  ///< how Q and R rows are combined
    /// Permute the ids first, so that neighbouring ids do not share a quotient row: on by
    /// default, since a global id space of consecutive field ranges otherwise puts many values
    /// of one field on one Q row (measured: QR 10x far below hashing on real data without it).
    bool scramble = true;

    /// The planned table (Q seeded by `seed`, R by `seed + 1`, the permutation by `seed + 2`).
    qr_table<full_table<Storage, Optimizer>, full_table<Storage, Optimizer>> make(
        Optimizer optimizer = {}, std::uint64_t seed = 0, Storage storage = {}) const {
        return make_qr_table<Storage, Optimizer>(ids, collisions, q_dim, combine,
                                                 std::move(optimizer), seed, std::move(storage),
                                                 r_dim, scramble);
    }
};

/// The QR table (two `full_table` parts) that fills `budget`: c is the smallest integer with
/// `ceil(n/c)·a + c·b ≤ B` (a, b: bytes of a Q and an R row with optimizer state), i.e. the
/// smaller root of `n/c·a + c·b = B` rounded up — the largest Q that fits. For product and sum
/// both parts have dimension d; for concat Q has `d − d/2` and R `d/2`. Throws `bad_parameter`,
/// naming the minimum budget (≈ 2·sqrt(n·a·b), i.e. `B/row bytes ≥ 2·sqrt(n)`), when too small.
template <class Storage = f32, class Optimizer = sgd>
qr_plan<Storage, Optimizer> plan_qr(std::uint64_t n, std::size_t d, std::size_t budget,
                                    qr_combine combine = qr_combine::product) {
    detail::check_plan_shape("plan_qr", n, d);
    if (combine == qr_combine::concat && d < 2)
        detail::fail<bad_parameter>("plan_qr: concat needs d ≥ 2 (d_q + d_r); got ", d);
    const std::size_t dq = combine == qr_combine::concat ? d - d / 2 : d;
    const std::size_t dr = combine == qr_combine::concat ? d / 2 : d;
    const long double a = static_cast<long double>(detail::row_cost<Storage, Optimizer>(dq));
    const long double b = static_cast<long double>(detail::row_cost<Storage, Optimizer>(dr));
    const auto cost = [&](std::uint64_t c) {  // bytes of the table with c remainders
        return static_cast<long double>((n - 1) / c + 1) * a + static_cast<long double>(c) * b;
    };
    // the cheapest c lies next to the real minimiser sqrt(n·a/b)
    const long double best = std::sqrt(static_cast<long double>(n) * a / b);
    std::uint64_t c_min = 1;
    for (auto c = static_cast<std::uint64_t>(std::max<long double>(1, std::floor(best) - 3));
         c <= static_cast<std::uint64_t>(std::ceil(best)) + 3 && c <= n; ++c)
        if (cost(c) < cost(c_min)) c_min = c;
    const long double budget_ld = static_cast<long double>(budget);
    if (cost(c_min) > budget_ld)
        detail::fail<bad_parameter>(
            "plan_qr: a budget of ", budget, " bytes is too small for ", n,
            " ids; quotient-remainder needs B/row bytes >= 2*sqrt(n), here at least ",
            static_cast<std::size_t>(cost(c_min)), " bytes (c = ", c_min, ")");
    // smaller root of b·c² − B·c + n·a = 0, then up to the first c that fits
    const long double disc = std::max<long double>(0, budget_ld * budget_ld - 4 * a * b * n);
    auto c = std::min(c_min, static_cast<std::uint64_t>(std::max<long double>(
                                 1, std::floor((budget_ld - std::sqrt(disc)) / (2 * b)))));
    while (cost(c) > budget_ld) ++c;  // stops at c_min at the latest
    qr_plan<Storage, Optimizer> p;
    p.ids = n;
    p.budget = budget;
    p.bytes = static_cast<std::size_t>(cost(c));
    p.collisions = c;
    p.q_rows = static_cast<std::size_t>((n - 1) / c + 1);
    p.q_dim = dq;
    p.r_dim = dr;
    p.combine = combine;
    return p;
}

/// A frequency split for a budget: `hot_ids` get their own rows, the rest share a hash table.
template <class Storage, class Optimizer>
struct frequency_split_plan {
    std::uint64_t ids = 0;              ///< n
    std::size_t budget = 0;             ///< B, bytes allowed
    std::size_t bytes = 0;              ///< bytes the built table holds (≤ budget)
    std::vector<std::uint64_t> hot_ids; ///< the most frequent ids, most frequent first
    std::size_t hot_rows = 0;           ///< rows of the hot table: max(1, hot ids)
    hash_table_options shared;          ///< the shared table's parameters

    /// The planned table: a `full_table` of hot rows and a `hash_table`.
    template <class Hasher = xxh3>
    frequency_split_table<full_table<Storage, Optimizer>, hash_table<Storage, Optimizer, Hasher>>
    make(Optimizer optimizer = {}, std::uint64_t seed = 0, Storage storage = {},
         Hasher hasher = {}) const {
        hash_table_options o = shared;
        o.seed = seed + 1;
        return {ids, hot_ids, full_table<Storage, Optimizer>(hot_rows, o.dim, optimizer, seed, storage),
                hash_table<Storage, Optimizer, Hasher>(o, optimizer, storage, std::move(hasher))};
    }
};

/// The frequency split of `counts` (`counts[id]` for ids `[0, n)`) that fills `budget`: about
/// `hot_fraction` of it buys hot rows (with their map entries) for the most frequent ids (at
/// most the ids with a non-zero count), the rest buys the shared rows of a `hashes`-hash table.
/// Throws `bad_parameter` naming the minimum (one hot row, its map, one shared row).
template <class Storage = f32, class Optimizer = sgd, class Counts>
frequency_split_plan<Storage, Optimizer> plan_frequency_split(const Counts& counts, std::size_t d,
                                                              std::size_t budget,
                                                              double hot_fraction = 0.5,
                                                              std::size_t hashes = 1) {
    const auto cnt = as_span(counts);
    detail::check_plan_shape("plan_frequency_split", cnt.size(), d);
    if (!(hot_fraction >= 0.0 && hot_fraction <= 1.0))
        detail::fail<bad_parameter>("plan_frequency_split: hot_fraction ", hot_fraction,
                                    " is outside [0, 1]");
    if (hashes == 0)
        detail::fail<bad_parameter>("plan_frequency_split: hashes (k) is 0; it must be at least 1");
    using map = detail::flat_id_map<std::uint32_t>;
    const std::size_t row = detail::row_cost<Storage, Optimizer>(d);
    const auto hot_bytes = [&](std::size_t h) { return h * row + map::bytes_for(h); };
    const std::size_t minimum = hot_bytes(1) + row;
    if (budget < minimum)
        detail::fail<bad_parameter>("plan_frequency_split: a budget of ", budget,
                                    " bytes is too small; one hot row, its map and one shared "
                                    "row need at least ",
                                    minimum, " bytes");
    std::size_t seen = 0;
    for (std::size_t i = 0; i < cnt.size(); ++i) seen += cnt[i] > 0;
    // largest h ≤ seen whose rows and map fit the hot share (and leave one shared row)
    const auto hot_limit = std::min(static_cast<std::size_t>(static_cast<long double>(budget) *
                                                             hot_fraction),
                                    budget - row);
    std::size_t lo = 1, hi = std::max<std::size_t>(seen, 1);
    if (hot_bytes(lo) > hot_limit) hi = lo;
    while (lo < hi) {  // invariant: hot_bytes(lo) fits (or lo = 1)
        const std::size_t mid = lo + (hi - lo + 1) / 2;
        if (hot_bytes(mid) <= hot_limit) lo = mid;
        else hi = mid - 1;
    }
    frequency_split_plan<Storage, Optimizer> p;
    p.ids = cnt.size();
    p.budget = budget;
    p.hot_ids = top_ids_by_count(counts, seen == 0 ? 0 : lo);
    p.hot_rows = lo;
    const std::size_t shared_rows = (budget - hot_bytes(lo)) / row;
    p.shared.rows = shared_rows;
    p.shared.dim = d;
    p.shared.hashes = hashes;
    p.bytes = p.hot_rows * row + map::bytes_for(p.hot_ids.size()) + shared_rows * row;
    return p;
}

}  // namespace embtab
