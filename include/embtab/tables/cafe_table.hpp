#pragma once
/// \file tables/cafe_table.hpp CAFE (Zhang et al., SIGMOD 2024): a HotSketch learns online
/// which ids matter (by gradient norm, or by frequency); those get their own rows in a hot table,
/// all others share a shared table. Ids migrate as their importance changes.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../detail/flat_id_map.hpp"
#include "../detail/table_base.hpp"
#include "../detail/validate.hpp"
#include "../errors.hpp"
#include "../fwd.hpp"
#include "../hash/hashers.hpp"
#include "../io/byte_io.hpp"
#include "../memory.hpp"
#include "../sketch/hot_sketch.hpp"
#include "../traits.hpp"

namespace embtab {

/// What counts as an id's importance.
enum class importance {
    gradient_norm,  ///< s_i = N·‖g_i‖ / Σ_j ‖g_j‖ over the N lookups of a batch (mean 1)
    frequency       ///< s_i = 1 for every lookup
};

/// Parameters of a `cafe_table` beyond its parts.
struct cafe_options {
    hot_sketch_options sketch;                       ///< the sketch; `hot_rows` = hot table rows
    importance score = importance::gradient_norm;    ///< how lookups are scored
    bool medium_tier = false;  ///< ids scoring in [β·T, T) add a second, independent shared row
    float medium_fraction = 0.2f;  ///< β
};

/// Hot rows for the ids the sketch finds important, `SharedTable` for the rest. Any two tables
/// with the per-id kernel compose (a `full_table` in any storage as the hot table; a hash,
/// multi-hash or QR table as the shared one). `update` follows the CAFE training step: the
/// optimizer step on the rows the lookup used, then scores into the sketch, then each newly
/// promoted id's hot row is set to its current shared vector with fresh optimizer state.
/// Demotion writes nothing back: the id resolves to its shared row again. Lookups never change
/// the sketch, so `lookup` stays safe from many threads.
template <class HotTable, class SharedTable, class Hasher>
class cafe_table : public detail::table_base<cafe_table<HotTable, SharedTable, Hasher>> {
    static_assert(is_table_v<HotTable> && is_table_v<SharedTable>,
                  "embtab::cafe_table<HotTable, SharedTable>: both parts must be tables");

public:
    /// The table of hot rows.
    using hot_type = HotTable;
    /// The table the other ids share.
    using shared_type = SharedTable;
    /// The sketch.
    using sketch_type = hot_sketch<Hasher>;

    /// CAFE over `hot` (one row per hot id) and `shared`; `opts.sketch.hot_rows` must equal the
    /// hot table's rows and both tables must have the same dimension.
    cafe_table(HotTable hot, SharedTable shared, const cafe_options& opts, Hasher hasher = {})
        : hot_(std::move(hot)),
          shared_(std::move(shared)),
          sketch_(checked(opts, hot_, shared_).sketch, std::move(hasher)),
          score_(opts.score),
          medium_tier_(opts.medium_tier),
          medium_score_(opts.medium_fraction * opts.sketch.threshold),
          row_(hot_.dim()) {}

    /// Output width.
    std::size_t dim() const noexcept { return hot_.dim(); }
    /// Parameters and optimizer state of both tables; the sketch under `other`.
    memory_usage memory_bytes() const noexcept {
        return hot_.memory_bytes() + shared_.memory_bytes() + sketch_.memory_bytes();
    }
    /// The hot table.
    const HotTable& hot() const noexcept { return hot_; }
    /// The shared table.
    const SharedTable& shared() const noexcept { return shared_; }
    /// The sketch.
    const sketch_type& sketch() const noexcept { return sketch_; }
    /// The hot row of `id`, or `sketch_type::cold`.
    std::int32_t hot_row(std::uint64_t id) const noexcept { return sketch_.query(id); }

    // Checkpoint hooks (see io/checkpoint.hpp): its own settings, then the parts' and the
    // sketch's. The per-batch buffers are not kept: they are empty between updates.

    /// The type signature checkpoints carry, e.g.
    /// `cafe_table<full_table<f32,adagrad>,hash_table<f32,adagrad,xxh3>,mix64>`.
    static std::string signature() {
        return "cafe_table<" + HotTable::signature() + "," + SharedTable::signature() + "," +
               Hasher::name + ">";
    }
    /// Writes the shape (importance, medium tier), then the parts' and the sketch's.
    void save_shape(io::writer& w) const {
        w.u64(static_cast<std::uint64_t>(score_));
        w.u64(medium_tier_);
        hot_.save_shape(w);
        shared_.save_shape(w);
        sketch_.save_shape(w);
    }
    /// Reads a shape written by `save_shape`; throws `bad_checkpoint` unless it is this one.
    void verify_shape(io::reader& r) const {
        r.expect("cafe importance", static_cast<std::uint64_t>(score_));
        r.expect("cafe medium tier", medium_tier_);
        hot_.verify_shape(r);
        shared_.verify_shape(r);
        sketch_.verify_shape(r);
    }
    /// Writes the medium-tier score, then the state of both tables and the sketch.
    void save_state(io::writer& w) const {
        w.value(medium_score_);
        hot_.save_state(w);
        shared_.save_state(w);
        sketch_.save_state(w);
    }
    /// Reads what `save_state` wrote (may leave the table half-read when it throws:
    /// `load_bytes` loads into a copy).
    void load_state(io::reader& r) {
        r.field("cafe medium score", medium_score_);
        hot_.load_state(r);
        shared_.load_state(r);
        sketch_.load_state(r);
    }

    // Per-id kernel (unchecked), see detail/table_base.hpp.

    /// The second shared id of a medium id: an independent hash of it, so that a hashed shared
    /// table gives it another row.
    static std::uint64_t second_key(std::uint64_t id) noexcept {
        return mix64{}(id, 0x6d656469756dULL) >> 1;  // stays a valid non-negative id
    }

    /// Ids the shared table accepts.
    std::uint64_t id_limit() const noexcept { return shared_.id_limit(); }
    /// Starts loading the sketch bucket of `id` and its shared row (hot rows, being hot, are
    /// usually cached; resolving here would cost a second sketch query per lookup).
    void prefetch(std::uint64_t id) const noexcept {
        sketch_.prefetch(id);
        shared_.prefetch(id);
    }
    /// `out[0..dim)` = vector of `id`: its hot row, or its shared vector (plus its second
    /// shared vector when it is a medium id).
    void embed(std::uint64_t id, float* out) const noexcept {
        const where w = resolve(id);
        if (w.hot_row != sketch_type::cold) return hot_.embed(std::uint64_t(w.hot_row), out);
        shared_.embed(id, out);
        if (w.medium) shared_.embed_add(second_key(id), 1.0f, out);
    }
    /// `acc[0..dim) += w ·` vector of `id`.
    void embed_add(std::uint64_t id, float w, float* acc) const noexcept {
        const where r = resolve(id);
        if (r.hot_row != sketch_type::cold) return hot_.embed_add(std::uint64_t(r.hot_row), w, acc);
        shared_.embed_add(id, w, acc);
        if (r.medium) shared_.embed_add(second_key(id), w, acc);
    }
    /// Queues `scale · g` for the row(s) `id` resolves to, and remembers the lookup's gradient
    /// norm.
    void backward(std::uint64_t id, const float* g, float scale, std::size_t at) {
        // an id seen before in this batch resolves as it did then (the sketch only changes in
        // finish_update): one sketch query and one map probe per distinct id
        auto i = batch_index_.find(id);
        if (i == batch_index_.npos) {
            i = static_cast<std::uint32_t>(scored_.size());
            batch_index_.insert_or_assign(id, i);
            scored_.emplace_back(id, resolve(id));
        }
        batch_entry& e = scored_[i];
        if (e.at.hot_row != sketch_type::cold) {
            hot_.backward(std::uint64_t(e.at.hot_row), g, scale, at);
        } else {
            shared_.backward(id, g, scale, at);
            if (e.at.medium) shared_.backward(second_key(id), g, scale, at);
        }
        double norm = 1;
        if (score_ == importance::gradient_norm) {
            // the ids of a bag share one gradient (unchanged until finish_update): its norm is
            // computed once
            if (g != normed_) {
                normed_ = g;
                norm_of_normed_ = norm_of(g, dim());
            }
            norm = std::fabs(double(scale)) * norm_of_normed_;
        }
        ++lookups_;
        norm_sum_ += norm;
        e.norm += norm;
    }
    /// Steps both tables, scores the batch into the sketch (the scores of an id's lookups
    /// summed into one insert) and migrates promoted ids: each gets the vector its lookups
    /// returned (a medium id: both shared rows).
    template <class Threads = serial>
    void finish_update(nonfinite_policy p, Threads&& threads = {}) {
        hot_.finish_update(p, threads);
        shared_.finish_update(p, threads);
        events_.clear();
        if (norm_sum_ > 0) {
            const double unit = static_cast<double>(lookups_) / norm_sum_;  // mean score 1
            const std::size_t n = scored_.size();
            for (std::size_t i = 0; i < n && i < insert_ahead; ++i) sketch_.prefetch(scored_[i].id);
            for (std::size_t i = 0; i < n; ++i) {
                if (i + insert_ahead < n) sketch_.prefetch(scored_[i + insert_ahead].id);
                sketch_.insert(scored_[i].id, static_cast<float>(unit * scored_[i].norm), events_);
            }
        }
        for (const hot_event& e : events_) {
            if (!e.promoted) continue;  // demotion: the id reads its shared vector again
            shared_.embed(e.id, row_.data());
            if (was_medium(e.id)) shared_.embed_add(second_key(e.id), 1.0f, row_.data());
            for (float& v : row_)  // a sum of finite rows may overflow: the nearest finite value
                if (!std::isfinite(v))
                    v = std::isnan(v) ? 0.0f : std::copysign(std::numeric_limits<float>::max(), v);
            hot_.assign(std::uint64_t(e.hot_row), row_.data());
        }
    }
    /// Keeps the update of both tables, or undoes their steps (the sketch keeps what it was
    /// told: a kept update is the only one that reaches it); ends the batch.
    void end_update(bool keep) noexcept {
        hot_.end_update(keep);
        shared_.end_update(keep);
        scored_.clear();
        batch_index_.clear();
        normed_ = nullptr;
        lookups_ = 0;
        norm_sum_ = 0;
    }
    /// Sets the vector of `id` with fresh optimizer state: its hot row, or its shared rows (a
    /// medium id's second shared vector is set to zero).
    void assign(std::uint64_t id, const float* values) {
        const where w = resolve(id);
        if (w.hot_row != sketch_type::cold) return hot_.assign(std::uint64_t(w.hot_row), values);
        shared_.assign(id, values);
        if (w.medium) {
            std::fill(row_.begin(), row_.end(), 0.0f);
            shared_.assign(second_key(id), row_.data());
        }
    }

private:
    /// Where an id's vector lives.
    struct where {
        std::int32_t hot_row;  // or cold
        bool medium;           // cold, and uses a second shared row
    };
    /// Whether promoted `id` read two shared rows before this update's sketch changes: as its
    /// lookups resolved when it is in the batch; otherwise (promoted by a decay) by its score
    /// now, which is the score it had unless that decay took it below β·T.
    bool was_medium(std::uint64_t id) const noexcept {
        if (!medium_tier_) return false;
        const auto i = batch_index_.find(id);
        return i != batch_index_.npos ? scored_[i].at.medium : sketch_.score(id) >= medium_score_;
    }
    where resolve(std::uint64_t id) const noexcept {
        if (!medium_tier_) return {sketch_.query(id), false};
        const auto e = sketch_.find(id);
        return {e.hot_row, e.hot_row == sketch_type::cold && e.score >= medium_score_};
    }

    /// ‖g[0..n)‖, summed in double (g·g of a finite float can overflow float) in four
    /// independent sums, so that the additions overlap rather than wait on each other.
    static double norm_of(const float* g, std::size_t n) noexcept {
        double sq[4] = {0, 0, 0, 0};
        std::size_t j = 0;
        for (; j + 4 <= n; j += 4)
            for (std::size_t k = 0; k < 4; ++k) sq[k] += double(g[j + k]) * double(g[j + k]);
        for (; j < n; ++j) sq[0] += double(g[j]) * double(g[j]);
        return std::sqrt((sq[0] + sq[1]) + (sq[2] + sq[3]));
    }

    static const cafe_options& checked(const cafe_options& o, const HotTable& hot,
                                       const SharedTable& shared) {
        if (hot.dim() != shared.dim())
            detail::fail<bad_parameter>("cafe_table: hot table dimension ", hot.dim(),
                                        " differs from shared table dimension ", shared.dim());
        if (hot.id_limit() != o.sketch.hot_rows)
            detail::fail<bad_parameter>("cafe_table: sketch hands out ", o.sketch.hot_rows,
                                        " hot rows but the hot table has ", hot.id_limit());
        if (o.medium_tier && shared.id_limit() != detail::no_id_limit)
            detail::fail<bad_parameter>("cafe_table: the medium tier needs a hashed shared table "
                                        "(one that accepts every id)");
        if (o.medium_tier && !(o.medium_fraction > 0 && o.medium_fraction < 1))
            detail::fail<bad_parameter>("cafe_table: medium_fraction must be in (0, 1); got ",
                                        o.medium_fraction);
        return o;
    }

    HotTable hot_;
    SharedTable shared_;
    sketch_type sketch_;
    importance score_;
    bool medium_tier_;
    float medium_score_;  // β·T (the initial T: with the adaptive threshold it does not follow)
    /// Sketch buckets loaded ahead of their insert.
    static constexpr std::size_t insert_ahead = 16;
    /// A distinct id of the batch being updated (built in place, as row_store's contributions).
    struct batch_entry {
        batch_entry(std::uint64_t id_, where at_) noexcept : id(id_), norm(0), at(at_) {}
        std::uint64_t id;
        double norm;  // summed gradient norm of its lookups
        where at;    // its resolution
    };
    std::vector<batch_entry> scored_;                 // distinct ids of the batch, first-seen order
    detail::flat_id_map<std::uint32_t> batch_index_;  // id → index in scored_
    std::size_t lookups_ = 0;                               // N: lookups in the batch
    double norm_sum_ = 0;                                   // Σ_j ‖g_j‖
    const float* normed_ = nullptr;  // the gradient whose norm was computed last in this batch
    double norm_of_normed_ = 0;      // ‖normed_‖
    std::vector<hot_event> events_;
    std::vector<float> row_;  // a shared vector being copied into a hot row
};

/// A `cafe_table` from its parts.
template <class Hasher = mix64, class HotTable, class SharedTable>
cafe_table<HotTable, SharedTable, Hasher> make_cafe_table(HotTable hot, SharedTable shared,
                                                          const cafe_options& opts) {
    return cafe_table<HotTable, SharedTable, Hasher>(std::move(hot), std::move(shared), opts);
}

}  // namespace embtab
