#pragma once
/// \file plan/mixed_dim_plan.hpp Memory planner of mixed-dimension tables (ALGORITHMS.md §4):
/// the power-law rule `d_b = max(1, round(λ · s_b^(−α)))` with `α` chosen by bisection so that
/// the table fits a byte budget.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "../errors.hpp"
#include "../fwd.hpp"
#include "../memory.hpp"
#include "../optim/sgd.hpp"
#include "../storage/f32.hpp"
#include "../tables/mixed_dim_table.hpp"

namespace embtab {

/// How planned block widths are rounded (for faster kernels); never above `d`, and the most
/// popular block always keeps `d`.
enum class dim_rounding {
    none,           ///< `d_b` as the rule gives it
    multiple_of_4,  ///< the nearest multiple of 4 (at least 4)
    power_of_2      ///< the nearest power of 2 (in log scale)
};

/// Options of `plan_mixed_dim`.
struct mixed_dim_plan_options {
    /// Per-id popularity of each block (e.g. the block's share of lookups divided by its rows),
    /// any positive scale; empty means `1 / n_b` (smaller blocks are more popular per id).
    std::vector<double> popularity{};
    /// Rounding of the planned widths.
    dim_rounding rounding = dim_rounding::none;
};

/// A planned mixed-dimension table: its blocks, the rule's parameters and its exact memory.
template <class Storage, class Optimizer>
struct mixed_dim_plan {
    /// The table this plan builds.
    using table_type = mixed_dim_table<Storage, Optimizer>;

    std::vector<mixed_dim_block> blocks;  ///< rows and planned width of each block, in id order
    std::size_t dim = 0;                  ///< output width `d`
    double alpha = 0;       ///< exponent of the rule, `d_b = max(1, round(λ · s_b^(−α)))`
    double lambda = 0;      ///< scale of the rule, `d · s_min^α` (may be huge when `α` is)
    memory_usage memory{};  ///< `memory_bytes()` of the table `build` makes

    /// The planned table.
    table_type make(Optimizer optimizer = {}, std::uint64_t seed = 0, Storage storage = {}) const {
        return table_type(blocks, dim, std::move(optimizer), seed, std::move(storage));
    }
};

namespace detail {

/// The planner's rule: block widths for exponent `alpha` given `ratio[b] = s_b / s_min ≥ 1`
/// (`s_b` = inverse per-id popularity); `ratio == 1` keeps `dim`.
inline void mixed_dims(const std::vector<double>& ratio, std::size_t dim, double alpha,
                       dim_rounding rounding, std::vector<mixed_dim_block>& out) {
    const double d = static_cast<double>(dim);
    for (std::size_t b = 0; b < ratio.size(); ++b) {
        const double x = d * std::pow(ratio[b], -alpha);
        std::size_t db =
            x >= d ? dim : std::max<std::size_t>(1, static_cast<std::size_t>(std::floor(x + 0.5)));
        if (db < dim && rounding == dim_rounding::multiple_of_4) {
            db = std::max<std::size_t>(4, 4 * static_cast<std::size_t>(std::floor(x / 4 + 0.5)));
        } else if (db < dim && rounding == dim_rounding::power_of_2) {
            db = std::size_t(1) << static_cast<unsigned>(
                     std::floor(std::log2(std::max(x, 1.0)) + 0.5));
        }
        out[b].dim = std::min(db, dim);
    }
}

}  // namespace detail

/// Plans a `mixed_dim_table<Storage, Optimizer>` of blocks of `block_rows[b]` ids and output
/// width `dim` whose `memory_bytes().total()` (rows, projections, optimizer state and
/// bookkeeping, exactly as the table counts it) is at most `budget_bytes`.
///
/// Rule (ALGORITHMS.md §4, Ginart et al.): `d_b = max(1, round(λ · s_b^(−α)))`, `s_b` the
/// inverse per-id popularity of block `b` (its rows by default), `λ = d · s_min^α` so the most
/// popular block(s) keep `d`. `α` is the smallest value whose table fits, found by bisection on
/// `[1e-4, 0.5]` to 1e-4 — the widest dimensions the budget allows. When even `α = 0.5` does not
/// fit, the upper end is doubled until a table fits (`α` may then exceed 0.5: every block but
/// the most popular shrinks towards width 1) and bisection continues there (to a relative
/// 1e-4). Throws `bad_parameter` when nothing fits: the message names the minimum, the memory
/// with the most popular block(s) at `d` and every other block at its smallest width.
/// More budget never gives a block a smaller width.
template <class Storage = f32, class Optimizer = sgd>
mixed_dim_plan<Storage, Optimizer> plan_mixed_dim(const std::vector<std::size_t>& block_rows,
                                                  std::size_t dim, std::size_t budget_bytes,
                                                  const mixed_dim_plan_options& options = {}) {
    using table = mixed_dim_table<Storage, Optimizer>;
    if (block_rows.empty())
        detail::fail<bad_parameter>("plan_mixed_dim needs at least one block; got none");
    if (dim == 0 || dim > table::max_block_dim)
        detail::fail<bad_parameter>("plan_mixed_dim: dimension ", dim, " is outside [1, ",
                                    table::max_block_dim, "]");
    if (!options.popularity.empty() && options.popularity.size() != block_rows.size())
        detail::fail<bad_parameter>("plan_mixed_dim: popularity has ", options.popularity.size(),
                                    " entries; expected ", block_rows.size(),
                                    " (one per block) or none");
    std::vector<double> ratio(block_rows.size());  // s_b, then s_b / s_min
    for (std::size_t b = 0; b < block_rows.size(); ++b) {
        if (block_rows[b] == 0)
            detail::fail<bad_parameter>("plan_mixed_dim: block ", b,
                                        " has 0 rows; every block needs at least 1");
        if (options.popularity.empty()) {
            ratio[b] = static_cast<double>(block_rows[b]);
        } else {
            const double p = options.popularity[b];
            if (!(p > 0) || !std::isfinite(p))
                detail::fail<bad_parameter>("plan_mixed_dim: popularity ", p, " of block ", b,
                                            " must be finite and > 0");
            ratio[b] = 1.0 / p;
        }
    }
    const double s_min = *std::min_element(ratio.begin(), ratio.end());
    for (double& r : ratio) r /= s_min;

    mixed_dim_plan<Storage, Optimizer> plan;
    plan.dim = dim;
    plan.blocks.resize(block_rows.size());
    for (std::size_t b = 0; b < block_rows.size(); ++b) plan.blocks[b].rows = block_rows[b];
    const auto bytes_at = [&](double alpha) {
        detail::mixed_dims(ratio, dim, alpha, options.rounding, plan.blocks);
        return table::memory_for(plan.blocks, dim).total();
    };

    const double inf = std::numeric_limits<double>::infinity();
    const std::size_t minimum = bytes_at(inf);  // most popular at d, the others at their floor
    if (budget_bytes < minimum)
        detail::fail<bad_parameter>(
            "plan_mixed_dim: the budget of ", budget_bytes, " bytes is below the minimum of ",
            minimum, " bytes for these ", block_rows.size(), " blocks at dimension ", dim,
            " (the most popular block keeps ", dim,
            ", every other block its smallest width); raise the budget or lower the dimension");

    constexpr double alpha_lo = 1e-4, alpha_hi = 0.5, tolerance = 1e-4;
    double lo = alpha_lo, hi = alpha_hi;  // invariant once searching: bytes_at(hi) ≤ budget
    if (bytes_at(lo) <= budget_bytes) {
        hi = lo;
    } else {
        // Ends: at the largest finite α every block with s_b > s_min is at its floor, so the
        // table costs `minimum` ≤ budget.
        while (bytes_at(hi) > budget_bytes) {
            lo = hi;
            hi = hi > std::numeric_limits<double>::max() / 2 ? std::numeric_limits<double>::max()
                                                             : 2 * hi;
        }
        while (hi - lo > tolerance * std::max(1.0, lo)) {
            const double mid = lo + (hi - lo) / 2;
            (bytes_at(mid) <= budget_bytes ? hi : lo) = mid;
        }
    }
    plan.alpha = hi;
    plan.lambda = static_cast<double>(dim) * std::pow(s_min, hi);
    detail::mixed_dims(ratio, dim, hi, options.rounding, plan.blocks);
    plan.memory = table::memory_for(plan.blocks, dim);
    return plan;
}

}  // namespace embtab
