#pragma once
/// \file examples/dlrm/field_hash_table.hpp The CAFE paper's hashing baseline: one hashed table
/// per feature field, `ceil(n_f / ratio)` rows for a field of `n_f` ids, row = local id mod
/// rows. At high ratios it collapses most fields to a handful of rows; it is here so that the
/// paper's "+3.92% over hashing" can be checked like for like. (The paper leaves small fields
/// uncompressed and does not count them; here every field is compressed and every byte counted.)

#include <embtab/embtab.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace embtab_dlrm {

/// Global ids `[0, Σ n_f)`, field after field, each field hashed into its own rows of one
/// `full_table` (row = base_f + (id − offset_f) mod rows_f).
class field_hash_table : public embtab::detail::table_base<field_hash_table> {
public:
    /// Fields of `sizes` ids compressed `ratio` times, rows of `dim` trained by `optimizer`.
    field_hash_table(const std::vector<std::uint64_t>& sizes, double ratio, std::size_t dim,
                     embtab::sgd optimizer, std::uint64_t seed)
        : rows_(layout(sizes, ratio)), table_(rows_.back().base, dim,
             optimizer, seed) {}

    /// Output width.
    std::size_t dim() const noexcept { return table_.dim(); }
    /// Bytes of all fields' rows.
    embtab::memory_usage memory_bytes() const noexcept { return table_.memory_bytes(); }

    // Per-id kernel, see embtab/detail/table_base.hpp.
    std::uint64_t id_limit() const noexcept { return rows_.back().offset; }
    void prefetch(std::uint64_t id) const noexcept { table_.prefetch(row_of(id)); }
    void embed(std::uint64_t id, float* out) const noexcept { table_.embed(row_of(id), out); }
    void embed_add(std::uint64_t id, float w, float* acc) const noexcept {
        table_.embed_add(row_of(id), w, acc);
    }
    void backward(std::uint64_t id, const float* g, float scale, std::size_t at) {
        table_.backward(row_of(id), g, scale, at);
    }
    template <class Threads = embtab::serial>
    void finish_update(embtab::nonfinite_policy p, Threads&& threads = {}) {
        table_.finish_update(p, threads);
    }
    void end_update(bool keep) noexcept { table_.end_update(keep); }
    void assign(std::uint64_t id, const float* v) { table_.assign(row_of(id), v); }

private:
    struct field {
        std::uint64_t offset;  // first global id (the last entry: n, a sentinel)
        std::uint64_t base;    // first row
        std::uint64_t rows;    // rows of the field
    };
    static std::vector<field> layout(const std::vector<std::uint64_t>& sizes, double ratio) {
        std::vector<field> f;
        std::uint64_t offset = 0, base = 0;
        for (std::uint64_t n : sizes) {
            const auto rows = std::max<std::uint64_t>(
                1, static_cast<std::uint64_t>(std::ceil(static_cast<double>(n) / ratio)));
            f.push_back({offset, base, rows});
            offset += n;
            base += rows;
        }
        f.push_back({offset, base, 0});
        return f;
    }
    std::uint64_t row_of(std::uint64_t id) const noexcept {
        const auto it = std::upper_bound(rows_.begin(), rows_.end() - 1, id,
                                         [](std::uint64_t x, const field& f) { return x < f.offset; });
        const field& f = *(it - 1);
        return f.base + (id - f.offset) % f.rows;
    }

    std::vector<field> rows_;
    embtab::full_table<embtab::f32, embtab::sgd> table_;
};

}  // namespace embtab_dlrm
