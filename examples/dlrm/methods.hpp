#pragma once
/// \file examples/dlrm/methods.hpp The compression methods, chosen at run time by name and
/// compression ratio, each built by its embtab planner into an `embtab::any_table`.
///
/// Budget: `B = n·d·4 / ratio` bytes (the fp32 full table over the ratio), rows plus optimizer
/// state plus bookkeeping (sketches, maps, projections) — what `memory_bytes().total()` counts.
/// A method that cannot be built within B throws `embtab::bad_parameter` (its planner does);
/// `full`, `fp16` and `int8` ignore the ratio: their size is fixed by the storage
/// (`storage_ratio`). Every table trains with plain SGD (the CAFE paper's setting).

#include <embtab/embtab.hpp>

#include "field_hash_table.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace embtab_dlrm {

/// A method's name and what it is.
struct method_info {
    const char* name;         ///< the name `make_table` takes
    const char* description;  ///< one line for `--help` and reports
    bool fixed_ratio;         ///< its size is fixed by its storage (ratio ignored)
};

/// Every method `make_table` knows, in report order.
inline const std::vector<method_info>& all_methods() {
    static const std::vector<method_info> m = {
        {"full", "full table, fp32 (the baseline, 1x)", true},
        {"fp16", "full table, fp16 rows with stochastic rounding (2x)", true},
        {"int8", "full table, int8 row-wise rows (FBGEMM layout, 4d/(d+8)x)", true},
        {"hash", "hashing trick: one shared table, row = xxh3(id) mod m", false},
        {"multihash", "multiple hashing: sum of k = 2 rows of one shared table", false},
        {"qr", "quotient-remainder, element-wise product of Q[id/c] and R[id mod c]", false},
        {"mde", "mixed dimension: one block a field, planner widths, learned projections", false},
        {"freqsplit", "offline frequency split (the oracle): exactly counted ids own rows, "
                      "the rest hashed, split by plan/hot_split.hpp", false},
        {"hash_perfield", "the CAFE paper's hash baseline: a table a field, ceil(n_f/ratio) rows, "
                          "local id mod rows", false},
        {"cafe", "CAFE: HotSketch-chosen hot rows + hashed shared table, sized from a 5% sample",
         false},
        {"cafe_nodata", "CAFE sized without data (shared fraction 0.5)", false},
        {"cafe_paper", "CAFE sized as the paper (its T and r by ratio, fixed T, decay 0.99)", false},
        {"cafe_int8", "CAFE with an int8 row-wise hot table", false},
        {"cafe_medium", "CAFE with the medium tier (two shared rows for medium ids)", false},
        {"cafe_multihash", "CAFE with a 2-hash shared table", false},
        {"cafe_lean", "CAFE with a leaner sketch: 1.25 slots a hot row (w = 5H/16), the bytes "
                      "saved bought as rows", false},
    };
    return m;
}

/// The entry of `name`; throws `std::invalid_argument` listing the known names.
inline const method_info& find_method(const std::string& name) {
    std::string known;
    for (const method_info& m : all_methods()) {
        if (name == m.name) return m;
        known += known.empty() ? "" : ", ";
        known += m.name;
    }
    throw std::invalid_argument("unknown method '" + name + "'; known: " + known);
}

/// What a table is built for: the id space, the width, the budget and the training setup.
struct table_request {
    std::vector<std::uint64_t> field_sizes;  ///< ids of each field, in order (n = their sum)
    std::size_t dim = 16;                    ///< d
    double ratio = 1;                        ///< compression: budget = n·d·4 / ratio
    float lr = 0.1f;                         ///< SGD rate of the table's rows (and projections)
    std::uint64_t seed = 1;                  ///< initialisation and hash seed
    /// Training-set occurrences of every global id (`n` counts); called by `freqsplit` only,
    /// so a first pass over the data is made only when it is needed.
    std::function<const std::vector<std::uint32_t>&()> counts;
    /// Occurrences of every global id in the first 5% of the training stream: what an online
    /// method may know in advance (yesterday's traffic); called by the `cafe` methods.
    std::function<const std::vector<std::uint32_t>&()> sample_counts;

    /// n: all ids.
    std::uint64_t ids() const noexcept {
        std::uint64_t n = 0;
        for (std::uint64_t s : field_sizes) n += s;
        return n;
    }
    /// Bytes of the fp32 full table: n·d·4.
    double full_bytes() const noexcept {
        return static_cast<double>(ids()) * static_cast<double>(dim) * 4.0;
    }
    /// B = n·d·4 / ratio, rounded down.
    std::size_t budget() const {
        if (!(ratio >= 1) || !std::isfinite(ratio))
            throw embtab::bad_parameter("compression ratio " + std::to_string(ratio) +
                                        " must be a finite number >= 1");
        return static_cast<std::size_t>(std::floor(full_bytes() / ratio));
    }
};

/// Compression of a fixed-ratio method: fp32 bytes over its bytes (1 for a method whose size
/// follows the ratio asked for).
inline double storage_ratio(const std::string& method, std::size_t dim) {
    const double d = static_cast<double>(dim);
    if (method == "fp16") return 2.0;
    if (method == "int8") return 4.0 * d / static_cast<double>(embtab::int8_rowwise::row_bytes(dim));
    return 1.0;
}

/// The table of `method` for `req`, named `method`. Throws `embtab::bad_parameter` when the
/// method cannot reach the ratio (the planner's message says why), `std::invalid_argument`
/// for an unknown method.
inline embtab::any_table make_table(const std::string& method, const table_request& req) {
    using namespace embtab;
    const std::uint64_t n = req.ids();
    const std::size_t d = req.dim;
    const sgd opt{req.lr};
    find_method(method);  // throws for an unknown name
    if (n == 0) throw bad_parameter("make_table: no ids (every field is empty)");
    if (method == "full") return any_table(full_table<f32, sgd>(n, d, opt, req.seed), method);
    if (method == "fp16") return any_table(full_table<f16, sgd>(n, d, opt, req.seed), method);
    if (method == "int8")
        return any_table(full_table<int8_rowwise, sgd>(n, d, opt, req.seed), method);

    const std::size_t budget = req.budget();
    if (method == "hash" || method == "multihash") {
        auto plan = plan_hash<f32, sgd>(n, d, budget, method == "hash" ? 1 : 2);
        plan.options.seed = req.seed;
        return any_table(plan.make(opt), method);
    }
    if (method == "qr") return any_table(plan_qr<f32, sgd>(n, d, budget).make(opt, req.seed), method);
    if (method == "mde") {
        std::vector<std::size_t> rows(req.field_sizes.begin(), req.field_sizes.end());
        return any_table(plan_mixed_dim<f32, sgd>(rows, d, budget).make(opt, req.seed), method);
    }
    if (method == "hash_perfield")
        return any_table(field_hash_table(req.field_sizes, req.ratio, d, opt, req.seed), method);
    const auto counted = [&](const auto& source, const char* what) -> const std::vector<std::uint32_t>& {
        if (!source) throw bad_parameter(std::string("make_table: ") + method + " needs " + what);
        const std::vector<std::uint32_t>& c = source();
        if (c.size() != n)
            throw bad_parameter("make_table: " + method + " got " + std::to_string(c.size()) +
                                " counts for " + std::to_string(n) + " ids");
        return c;
    };
    if (method == "freqsplit") {
        // the hot share by the same marginal-value rule CAFE is sized by, on exact counts
        const std::vector<std::uint32_t>& counts = counted(req.counts, "the id counts");
        const std::size_t row = f32::row_bytes(d);
        const std::size_t per_hot = row + detail::flat_id_map<std::uint32_t>::bytes_for(1 << 20) / (1 << 20);
        const std::size_t hot = best_hot_split(counts, budget, per_hot, row, 64).hot_rows;
        const double fraction = std::min(1.0, double(hot * per_hot) / double(budget));
        return any_table(plan_frequency_split<f32, sgd>(counts, d, budget, fraction).make(opt, req.seed),
                         method);
    }
    if (method == "cafe_nodata")
        return any_table(plan_cafe<f32, sgd, f32, sgd>(n, d, budget).make<f32, f32>(opt, req.seed),
                         method);
    if (method == "cafe_paper") {
        cafe_plan_options o;
        o.paper_table = true;
        return any_table(plan_cafe<f32, sgd, f32, sgd>(n, d, budget, o).make<f32, f32>(opt, req.seed),
                         method);
    }
    const std::vector<std::uint32_t>& sample = counted(req.sample_counts, "a sample's id counts");
    if (method == "cafe" || method == "cafe_lean") {
        cafe_plan_options o;
        if (method == "cafe_lean") o.slots_per_hot_row = 1.25;
        return any_table(plan_cafe_from_counts<f32, sgd, f32, sgd>(sample, d, budget, o)
                             .make<f32, f32>(opt, req.seed),
                         method);
    }
    if (method == "cafe_int8")
        return any_table(plan_cafe_from_counts<int8_rowwise, sgd, f32, sgd>(sample, d, budget)
                             .make<int8_rowwise, f32>(opt, req.seed),
                         method);
    if (method == "cafe_medium")
        return any_table(plan_cafe_from_counts<f32, sgd, f32, sgd>(sample, d, budget)
                             .make<f32, f32>(opt, req.seed, importance::gradient_norm, true),
                         method);
    // cafe_multihash: the planned CAFE table over a 2-hash shared table of the same rows
    const cafe_plan p = plan_cafe_from_counts<f32, sgd, f32, sgd>(sample, d, budget);
    cafe_options o;
    o.sketch = p.sketch;
    o.sketch.seed = req.seed + 1;
    hash_table_options h;
    h.rows = p.shared_rows;
    h.dim = d;
    h.hashes = 2;
    h.seed = req.seed;
    return any_table(make_cafe_table(full_table<f32, sgd>(p.hot_rows, d, opt, req.seed),
                                     hash_table<f32, sgd, xxh3>(h, opt), o),
                     method);
}

}  // namespace embtab_dlrm
