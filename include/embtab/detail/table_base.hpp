#pragma once
/// \file detail/table_base.hpp The public interface every table shares (lookup, pooled lookup,
/// update, pooled update), with all input validation, written once over a small per-kind
/// kernel.
///
/// A table kind `T` derives from `table_base<T>` and provides this public per-id kernel (no
/// checks; composite tables call it on their parts):
///   `std::uint64_t id_limit() const`          ids must be below it (or `no_id_limit`)
///   `void prefetch(std::uint64_t id) const`   start loading the memory `embed` will read
///   `void embed(std::uint64_t id, float* out) const`            out[0..dim) = vector of id
///   `void embed_add(std::uint64_t id, float w, float* acc) const`  acc += w · vector of id
///   `void backward(std::uint64_t id, const float* g, float scale, std::size_t at)`
///                                             queue scale·g for id (from batch position `at`)
///                                             (`g` must stay valid until `finish_update`)
///   `void finish_update(nonfinite_policy p, Threads&& t)`  apply what `backward` queued, the
///                                             distinct rows split across thread policy `t`
///                                             (`row_store` refuses steps with non-finite
///                                             results as `p` says)
///   `void end_update(bool keep) noexcept`     end the update: keep it, or undo every step and
///                                             drop what is queued
///   `void assign(std::uint64_t id, const float* v)`  set the vector of id, fresh optimizer state
/// and publicly `std::size_t dim() const` and `memory_usage memory_bytes() const`. A kind whose
/// vector is a weighted sum of stored rows of one storage may also provide
///   `void rows_of(std::uint64_t id, float w, Emit&& emit) const`  `emit(row, weight)` on each
///                                             row of id (`using storage_type`, which has
///                                             `lanes_at`): its bags are summed in registers
///                                             (detail/bag_sum.hpp) rather than by `embed_add`.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "../errors.hpp"
#include "../matrix_view.hpp"
#include "../options.hpp"
#include "../span.hpp"
#include "../threads.hpp"
#include "access_check.hpp"
#include "bag_sum.hpp"
#include "refused_step.hpp"
#include "validate.hpp"

namespace embtab::detail {

/// What `rows_of` is called with when detecting it.
struct row_sink {
    void operator()(const std::byte*, float) const noexcept {}
};
/// Whether table kind `T` names the rows of an id (`rows_of`) in a storage that bag sums read.
template <class T, class = void>
struct sums_rows : std::false_type {};
template <class T>
struct sums_rows<T, std::void_t<typename T::storage_type,
                                decltype(std::declval<const T&>().rows_of(std::uint64_t{}, 1.0f,
                                                                          row_sink{}))>>
    : has_lanes_at<typename T::storage_type> {};

/// CRTP base: the shared interface of all tables; no virtual call, no allocation per id.
template <class Derived>
class table_base {
public:
    /// `out.row(i)` = vector of `ids[i]`; `out` is `ids.size() × dim()`. `threads` (a policy of
    /// threads.hpp) runs parts of the batch in parallel; the result does not depend on it.
    template <class Ids, class Threads = serial>
    void lookup(const Ids& ids, matrix_view<float> out, Threads&& threads = {}) const {
        const access_check::reading reading(access_);
        const auto id = as_span(ids);
        check_shape(out, id.size(), self().dim(), "lookup output", "ids");
        check_ids(id, self().id_limit());
        const std::size_t parts = parts_for(threads, id.size());
        threads.run(parts, [&](std::size_t p) {
            const std::size_t begin = id.size() * p / parts, end = id.size() * (p + 1) / parts;
            prefetch_first(id, begin, end);
            for (std::size_t i = begin; i < end; ++i) {
                prefetch_ahead(id, i, end);
                self().embed(key(id[i]), out.row(i));
            }
        });
    }

    /// EmbeddingBag: `out.row(b)` = sum (or mean) over `i` in `[offsets[b], offsets[b+1])` of
    /// `weights[i] ·` vector of `ids[i]`. `offsets` has bags+1 entries; empty bags give zeros.
    /// `threads` runs groups of whole bags in parallel; the result does not depend on it.
    template <class Ids, class Offsets, class Threads = serial>
    void lookup_pooled(const Ids& ids, const Offsets& offsets, matrix_view<float> out,
                       const pool_options& opts = {}, Threads&& threads = {}) const {
        const access_check::reading reading(access_);
        const auto id = as_span(ids);
        const auto off = as_span(offsets);
        check_offsets(off, id.size());
        check_shape(out, off.size() - 1, self().dim(), "pooled output", "bags");
        check_weights(opts.weights, id.size());
        check_ids(id, self().id_limit());
        const std::size_t parts = parts_for(threads, id.size());
        const auto ids_u = as_unsigned(id);  // signed and unsigned ids: one bag kernel
        threads.run(parts, [&](std::size_t p) {
            // Whole bags, cut where the ids are split evenly; the last part takes the trailing
            // (empty) bags too.
            const std::size_t b0 = p == 0 ? 0 : first_bag_from(off, id.size() * p / parts);
            const std::size_t b1 = p + 1 == parts ? off.size() - 1
                                                  : first_bag_from(off, id.size() * (p + 1) / parts);
            const auto end = static_cast<std::size_t>(off[b1]);
            prefetch_first(id, static_cast<std::size_t>(off[b0]), end);
            for (std::size_t b = b0; b < b1; ++b) {
                if constexpr (sums_rows<Derived>::value) {
                    sum_bag(ids_u, off, b, opts, end, out.row(b));
                } else {
                    float* o = out.row(b);
                    std::fill(o, o + self().dim(), 0.0f);
                    for_each_in_bag(off, b, opts, [&](std::size_t i, float w) {
                        prefetch_ahead(id, i, end);
                        self().embed_add(key(id[i]), w, o);
                    });
                }
            }
        });
    }

    /// Backward and optimizer step: `grads.row(i)` is the loss gradient w.r.t. the vector that
    /// `lookup` returned for `ids[i]`. Duplicate ids are coalesced. `threads` steps parts of the
    /// distinct rows in parallel (each row on one thread); the result does not depend on it.
    template <class Ids, class Threads = serial>
    void update(const Ids& ids, matrix_view<const float> grads, Threads&& threads = {}) {
        const access_check::writing writing(access_);
        const auto id = as_span(ids);
        check_shape(grads, id.size(), self().dim(), "gradient", "ids");
        check_ids(id, self().id_limit());
        mark_nonfinite(grads, "gradient row ");
        transact(id, threads, [&] {
            for (std::size_t i = 0; i < id.size(); ++i)
                if (!skip_[i]) self().backward(key(id[i]), grads.row(i), 1.0f, i);
        });
    }

    /// Backward of `lookup_pooled` and optimizer step: `bag_grads.row(b)` is the gradient w.r.t.
    /// bag `b`'s pooled vector; each id receives it times its weight (over the bag length for
    /// mean). `threads` as for `update`.
    template <class Ids, class Offsets, class Threads = serial>
    void update_pooled(const Ids& ids, const Offsets& offsets, matrix_view<const float> bag_grads,
                       const pool_options& opts = {}, Threads&& threads = {}) {
        const access_check::writing writing(access_);
        const auto id = as_span(ids);
        const auto off = as_span(offsets);
        check_offsets(off, id.size());
        check_shape(bag_grads, off.size() - 1, self().dim(), "bag gradient", "bags");
        check_weights(opts.weights, id.size());
        check_ids(id, self().id_limit());
        mark_nonfinite(bag_grads, "bag gradient row ");
        const auto weight_ok = [&](std::size_t i) {
            if (opts.weights.empty() || std::isfinite(opts.weights[i])) return true;
            if (on_nonfinite_ == nonfinite_policy::throw_error)
                fail<nonfinite_gradient>("per-id weight ", opts.weights[i], " at position ", i,
                                         " (id ", +id[i], ") is not finite");
            return false;
        };
        for (std::size_t i = 0; i < id.size(); ++i) weight_ok(i);  // throws before any change
        transact(id, threads, [&] {
            for (std::size_t b = 0; b + 1 < off.size(); ++b) {
                if (skip_[b]) continue;
                for_each_in_bag(off, b, opts, [&](std::size_t i, float w) {
                    if (weight_ok(i)) self().backward(key(id[i]), bag_grads.row(b), w, i);
                });
            }
        });
    }

    /// What `update` does with NaN or infinite gradients, and with steps whose result would not
    /// be finite (default: throw, table unchanged).
    void set_nonfinite_policy(nonfinite_policy p) noexcept { on_nonfinite_ = p; }
    /// The current non-finite gradient policy.
    nonfinite_policy get_nonfinite_policy() const noexcept { return on_nonfinite_; }

    /// Holds this table as an update does, for the guard's lifetime (with `EMBTAB_CHECK_ACCESS`,
    /// a lookup or update meanwhile throws): taken by `load` / `load_bytes` and by composite
    /// tables' `modify_parts`.
    access_check::writing exclusive() const { return access_check::writing(access_); }

protected:
    table_base() = default;
    ~table_base() = default;
    table_base(const table_base&) = default;
    table_base(table_base&&) noexcept = default;
    table_base& operator=(const table_base&) = default;
    table_base& operator=(table_base&&) noexcept = default;

private:
    const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }
    Derived& self() noexcept { return static_cast<Derived&>(*this); }

    /// The same (checked, so non-negative) ids read as their unsigned type, which may alias them.
    template <class Id>
    static span<const std::make_unsigned_t<Id>> as_unsigned(span<const Id> id) noexcept {
        return {reinterpret_cast<const std::make_unsigned_t<Id>*>(id.data()), id.size()};
    }

    template <class Id>
    static std::uint64_t key(Id id) noexcept {
        return static_cast<std::uint64_t>(id);
    }

    /// How many ids ahead rows are prefetched (into L2, see `row_store::prefetch`): enough to
    /// keep the memory system busy when most rows are cached (Zipf ids) and rows are short.
    /// Measured on bench_tables pooled f32 (M ids/s at distance 8 / 32): dim 16 uniform 53 /
    /// 82, Zipf 76 / 126; dim 64 Zipf 54 / 67. Into L1 instead of L2 (bag sums, Intel Xeon with
    /// AVX-512, f32 dim 16 / 64 / 128): uniform 63 / 28 / 15 against 77 / 38 / 22, Zipf 123 /
    /// 69 / 38 against 133 / 57 / 40; prefetching to both (L2 64 ahead, L1 8) was worse at
    /// dim 16 and no better at 64.
    static constexpr std::size_t prefetch_distance = 32;
    /// Fewest ids worth a part of their own: below it, handing a part over costs more than it
    /// saves.
    static constexpr std::size_t min_ids_per_part = 1024;
    /// Parts a thread gets on average: a thread that starts late takes fewer of them.
    static constexpr std::size_t parts_per_thread = 4;

    /// Parts a batch of `n` ids is cut into under `threads`: `parts_per_thread` a thread, each
    /// of at least `min_ids_per_part` ids (and at least one part, so that bags of no ids are
    /// still zeroed); one when there is one thread.
    template <class Threads>
    static std::size_t parts_for(const Threads& threads, std::size_t n) noexcept {
        const std::size_t t = threads.threads();
        if (t <= 1) return 1;
        const std::size_t most = std::max<std::size_t>(1, n / min_ids_per_part);
        return std::min<std::size_t>(t * parts_per_thread, most);
    }
    /// The first bag starting at or after id position `i` (the bag count when none does).
    template <class Off>
    static std::size_t first_bag_from(span<const Off> off, std::size_t i) noexcept {
        const auto* it = std::lower_bound(
            off.begin(), off.end() - 1, i,
            [](Off o, std::size_t v) { return static_cast<std::size_t>(o) < v; });
        return static_cast<std::size_t>(it - off.begin());
    }

    template <class Id>
    void prefetch_first(span<const Id> id, std::size_t begin, std::size_t end) const noexcept {
        for (std::size_t i = begin; i < begin + prefetch_distance && i < end; ++i)
            self().prefetch(key(id[i]));
    }
    template <class Id>
    void prefetch_ahead(span<const Id> id, std::size_t i, std::size_t end) const noexcept {
        if (i + prefetch_distance < end) self().prefetch(key(id[i + prefetch_distance]));
    }

    /// `o` = bag `b` pooled, by `sum_bag` over the rows `rows_of` names, loaded and summed as
    /// the ids are read (rows ahead prefetched on the first pass over the bag).
    template <class Id, class Off>
    void sum_bag(span<const Id> id, span<const Off> off, std::size_t b, const pool_options& opts,
                 std::size_t end, float* o) const noexcept {
        using storage = typename Derived::storage_type;
        detail::sum_bag<storage>([&](auto&& emit, bool first) {
            for_each_in_bag(off, b, opts, [&](std::size_t i, float w) {
                if (first) prefetch_ahead(id, i, end);
                self().rows_of(key(id[i]), w, emit);
            });
        }, o, self().dim(), false);
    }

    /// Calls `f(i, weight)` for each id of bag `b`; weight folds the per-id weight and 1/length.
    template <class Off, class F>
    static void for_each_in_bag(span<const Off> off, std::size_t b, const pool_options& opts,
                                F&& f) {
        const auto begin = static_cast<std::size_t>(off[b]);
        const auto end = static_cast<std::size_t>(off[b + 1]);
        const float scale = opts.mode == pooling::mean && end > begin
                                ? 1.0f / static_cast<float>(end - begin)
                                : 1.0f;
        for (std::size_t i = begin; i < end; ++i)
            f(i, opts.weights.empty() ? scale : opts.weights[i] * scale);
    }

    /// Runs `queue` (the `backward` calls) and the optimizer step as one transaction: on any
    /// exception every row is put back; a refused step is reported as `nonfinite_result`.
    template <class Id, class Threads, class Queue>
    void transact(span<const Id> id, Threads& threads, Queue&& queue) {
        try {
            queue();
            self().finish_update(on_nonfinite_, threads);
        } catch (const refused_step& r) {
            self().end_update(false);
            fail<nonfinite_result>(
                "update refused, the table is unchanged: the optimizer step of the row that id ",
                +id[r.at], " (position ", r.at, ") updates would leave ",
                r.part == std::string_view("row as stored") ? "a value beyond what its storage holds"
                                                              : "a non-finite value",
                " (", r.value, " at column ", r.column, " of its ", r.part, ")");
        } catch (...) {
            self().end_update(false);
            throw;
        }
        self().end_update(true);
    }

    /// Fills `skip_` (one flag per row of `g`) or throws, as the non-finite policy says.
    void mark_nonfinite(const matrix_view<const float>& g, const char* what) {
        skip_.assign(g.rows(), 0);
        for (std::size_t i = 0; i < g.rows(); ++i) {
            const std::size_t j = first_nonfinite(g.row(i), g.cols());
            if (j == g.cols()) continue;
            if (on_nonfinite_ == nonfinite_policy::throw_error)
                fail<nonfinite_gradient>(what, i, " has the non-finite value ", g.row(i)[j],
                                         " at column ", j);
            skip_[i] = 1;
        }
    }

    nonfinite_policy on_nonfinite_ = nonfinite_policy::throw_error;
    std::vector<unsigned char> skip_;  // reused between calls
    access_check access_;              // the threading rule, checked with EMBTAB_CHECK_ACCESS
};

}  // namespace embtab::detail
