#pragma once
/// \file tables/frequency_split_table.hpp The offline frequency split: ids counted in advance,
/// the most frequent get rows of their own, the rest share a (hashed) table.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/flat_id_map.hpp"
#include "../detail/table_base.hpp"
#include "../detail/validate.hpp"
#include "../errors.hpp"
#include "../fwd.hpp"
#include "../io/byte_io.hpp"
#include "../memory.hpp"
#include "../span.hpp"
#include "../traits.hpp"
#include "full_table.hpp"
#include "hash_table.hpp"

namespace embtab {

/// The `h` ids with the largest counts (`counts[id]`, any integer type), most frequent first,
/// ties to the smaller id; ids with a count of 0 are never chosen.
template <class Counts>
std::vector<std::uint64_t> top_ids_by_count(const Counts& counts, std::size_t h) {
    const auto c = as_span(counts);
    using count_t = typename std::decay_t<decltype(c)>::value_type;
    using entry = std::pair<count_t, std::uint64_t>;
    // min-heap of the best h so far: the top is the worst (smallest count, then largest id)
    const auto better = [](const entry& a, const entry& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    };
    std::priority_queue<entry, std::vector<entry>, decltype(better)> heap(better);
    for (std::size_t id = 0; id < c.size() && h > 0; ++id) {
        if (!(c[id] > 0)) continue;
        const entry e{c[id], id};
        if (heap.size() < h) heap.push(e);
        else if (better(e, heap.top())) {
            heap.pop();
            heap.push(e);
        }
    }
    std::vector<std::uint64_t> ids(heap.size());
    for (std::size_t i = ids.size(); i-- > 0; heap.pop()) ids[i] = heap.top().second;
    return ids;
}

/// Ids `[0, n)`: `hot_ids[i]` uses id `i` of `HotTable` (its own row), every other id uses
/// itself as id of `SharedTable` (typically a `hash_table`). The hot ids are found with an
/// open-addressing map (`memory_bytes().other`), without allocation.
template <class HotTable, class SharedTable>
class frequency_split_table : public detail::table_base<frequency_split_table<HotTable, SharedTable>> {
    static_assert(is_table_v<HotTable> && is_table_v<SharedTable>,
                  "embtab::frequency_split_table<HotTable, SharedTable>: both parts must be "
                  "tables");

public:
    /// The hot table type.
    using hot_table_type = HotTable;
    /// The shared table type.
    using shared_table_type = SharedTable;

    /// Ids `[0, n)`; `hot_ids` (distinct, below n) get rows `0, 1, ...` of `hot`.
    template <class HotIds>
    frequency_split_table(std::uint64_t n, const HotIds& hot_ids, HotTable hot, SharedTable shared)
        : n_(n), hot_(std::move(hot)), shared_(std::move(shared)) {
        const auto ids = as_span(hot_ids);
        if (n == 0)
            detail::fail<bad_parameter>("frequency_split_table: n (ids) is 0; it must be at least 1");
        if (hot_.dim() != shared_.dim())
            detail::fail<bad_parameter>("frequency_split_table: the hot table has dimension ",
                                        hot_.dim(), ", the shared table ", shared_.dim(),
                                        "; they must be equal");
        if (ids.size() > hot_.id_limit())
            detail::fail<bad_parameter>("frequency_split_table: ", ids.size(),
                                        " hot ids do not fit the hot table's ", hot_.id_limit(),
                                        " rows");
        if (ids.size() >= map_.npos)
            detail::fail<bad_parameter>("frequency_split_table: ", ids.size(),
                                        " hot ids; at most ", map_.npos - 1, " are supported");
        if (shared_.id_limit() != detail::no_id_limit && shared_.id_limit() < n)
            detail::fail<bad_parameter>("frequency_split_table: the shared table takes ids below ",
                                        shared_.id_limit(), "; it must take all ", n);
        map_.reserve(ids.size());
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const auto id = ids[i];
            bool negative = false;
            if constexpr (std::is_signed_v<std::decay_t<decltype(id)>>) negative = id < 0;
            if (negative || static_cast<std::uint64_t>(id) >= n)
                detail::fail<bad_parameter>("frequency_split_table: hot id ", +id,
                                            " at position ", i, " is outside [0, ", n, ")");
            if (!map_.insert_or_assign(static_cast<std::uint64_t>(id),
                                       static_cast<std::uint32_t>(i)))
                detail::fail<bad_parameter>("frequency_split_table: hot id ", +id,
                                            " at position ", i, " appears twice");
        }
    }

    /// Output width.
    std::size_t dim() const noexcept { return hot_.dim(); }
    /// n: ids are below it.
    std::uint64_t ids() const noexcept { return n_; }
    /// Number of hot ids.
    std::size_t hot_count() const noexcept { return map_.size(); }
    /// The hot row of `id`, or -1 (as `std::size_t`) when `id` is not hot.
    std::size_t hot_row(std::uint64_t id) const noexcept {
        const auto r = map_.find(id);
        return r == map_.npos ? std::size_t(-1) : r;
    }
    /// The hot table.
    const HotTable& hot_table() const noexcept { return hot_; }
    /// The shared table.
    const SharedTable& shared_table() const noexcept { return shared_; }
    /// Calls `f(hot_table, shared_table)` with both parts mutable, holding this table as an
    /// update does (the threading rule): the one way to change a part in place.
    template <class F>
    decltype(auto) modify_parts(F&& f) {
        [[maybe_unused]] const auto guard = this->exclusive();
        return f(hot_, shared_);
    }
    /// Bytes of both parts, plus the hot-id map as `other`.
    memory_usage memory_bytes() const noexcept {
        memory_usage m = hot_.memory_bytes() + shared_.memory_bytes();
        m.other += map_.memory_bytes();
        return m;
    }

    // Checkpoint hooks (see io/checkpoint.hpp): its own shape and hot ids, then the parts'.

    /// The type signature checkpoints carry, e.g.
    /// `frequency_split_table<full_table<f32,sgd>,hash_table<f32,sgd,xxh3>>`.
    static std::string signature() {
        return "frequency_split_table<" + HotTable::signature() + "," + SharedTable::signature() +
               ">";
    }
    /// Writes the shape (n, number of hot ids), then the parts'.
    void save_shape(io::writer& w) const {
        w.u64(n_);
        w.u64(map_.size());
        hot_.save_shape(w);
        shared_.save_shape(w);
    }
    /// Reads a shape written by `save_shape`; throws `bad_checkpoint` unless it is this one.
    void verify_shape(io::reader& r) const {
        r.expect("frequency split ids", n_);
        r.expect("hot ids", map_.size());
        hot_.verify_shape(r);
        shared_.verify_shape(r);
    }
    /// Writes the hot ids with their rows, then the state of both parts.
    void save_state(io::writer& w) const {
        map_.save_state(w);
        hot_.save_state(w);
        shared_.save_state(w);
    }
    /// Reads what `save_state` wrote: as many hot ids as now, each below n with its own row
    /// among the first ones (may leave the table half-read when it throws: `load_bytes`
    /// loads into a copy).
    void load_state(io::reader& r) {
        const std::size_t count = map_.size(), at_map = r.offset();
        std::vector<unsigned char> row_used(count, 0);
        map_.load_state(r, count, [&](std::uint64_t id, std::uint32_t row, std::size_t at) {
            if (id >= n_) r.fail_at(at, "hot id ", id, " is outside [0, ", n_, ")");
            if (row >= count || row_used[row]++)
                r.fail_at(at, "hot id ", id, " has row ", row, ", out of [0, ", count,
                          ") or taken twice");
        });
        if (map_.size() != count)
            r.fail_at(at_map, "lists ", map_.size(), " hot ids; the shape says ", count);
        hot_.load_state(r);
        shared_.load_state(r);
    }

    // Per-id kernel (unchecked), see detail/table_base.hpp.

    /// Ids must be below n.
    std::uint64_t id_limit() const noexcept { return n_; }
    /// Starts loading the row of `id` (probing the hot-id map on the way).
    void prefetch(std::uint64_t id) const noexcept {
        const auto r = map_.find(id);
        if (r != map_.npos) hot_.prefetch(r);
        else shared_.prefetch(id);
    }
    /// `out[0..dim)` = vector of `id`.
    void embed(std::uint64_t id, float* out) const {
        const auto r = map_.find(id);
        if (r != map_.npos) hot_.embed(r, out);
        else shared_.embed(id, out);
    }
    /// `acc[0..dim) += w ·` vector of `id`.
    void embed_add(std::uint64_t id, float w, float* acc) const {
        const auto r = map_.find(id);
        if (r != map_.npos) hot_.embed_add(r, w, acc);
        else shared_.embed_add(id, w, acc);
    }
    /// Queues `scale · g` as the gradient of `id`'s vector.
    void backward(std::uint64_t id, const float* g, float scale, std::size_t at) {
        const auto r = map_.find(id);
        if (r != map_.npos) hot_.backward(r, g, scale, at);
        else shared_.backward(id, g, scale, at);
    }
    /// Applies the queued gradients of both parts.
    template <class Threads = serial>
    void finish_update(nonfinite_policy p, Threads&& threads = {}) {
        hot_.finish_update(p, threads);
        shared_.finish_update(p, threads);
    }
    /// Keeps the update of both parts, or undoes it.
    void end_update(bool keep) noexcept {
        hot_.end_update(keep);
        shared_.end_update(keep);
    }
    /// Sets the vector of `id` (a hot row, or as the shared table's `assign` says).
    void assign(std::uint64_t id, const float* values) {
        const auto r = map_.find(id);
        if (r != map_.npos) hot_.assign(r, values);
        else shared_.assign(id, values);
    }

private:
    std::uint64_t n_;
    HotTable hot_;
    SharedTable shared_;
    detail::flat_id_map<std::uint32_t> map_;
};

}  // namespace embtab
