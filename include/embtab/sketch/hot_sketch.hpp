#pragma once
/// \file sketch/hot_sketch.hpp HotSketch (CAFE, SIGMOD 2024): finds the ids with the largest
/// accumulated importance online, in buckets of a few slots, and hands hot-table rows to them.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <new>
#include <utility>
#include <vector>

#include "../detail/aligned_buffer.hpp"
#include "../detail/checked_size.hpp"
#include "../detail/fast_range.hpp"
#include "../errors.hpp"
#include "../io/byte_io.hpp"
#include "../memory.hpp"

namespace embtab {

/// Parameters of a `hot_sketch`. The defaults follow drift and fill the hot table: the
/// threshold tracks the H-th largest score, scores saturate at `score_cap · T`, and a decay of
/// δ = 0.7 forgets old traffic, so an id whose traffic stops is demoted within
/// `ceil(log(score_cap) / log(1/δ)) + 1` decays (7 with the defaults) while T holds.
struct hot_sketch_options {
    std::size_t buckets = 1024;      ///< w: number of buckets
    std::size_t hot_rows = 1024;     ///< H: rows of the hot table the sketch hands out
    float threshold = 10;            ///< T: score at which an id is promoted (the initial T
                                     ///< with the adaptive threshold)
    float decay = 0.7f;              ///< δ: scores are multiplied by it at each decay
    float decay_period = 10;         ///< decay when the score inserted since the last one
                                     ///< exceeds decay_period · w · threshold (the initial T)
    bool adaptive_threshold = true;  ///< at each decay T becomes the H-th largest score (never
                                     ///< below min_threshold): the top H ids hold the hot rows
    float min_threshold = 1;         ///< the adaptive threshold's floor (at most `threshold`)
    float score_cap = 8;             ///< scores saturate at score_cap · T (0: no cap), which
                                     ///< bounds how long a stale hot id stays hot
    std::uint64_t seed = 0;          ///< seed of the bucket hash

    /// Calls `f(name, field)` on each parameter a checkpoint keeps (the shape, `buckets` and
    /// `hot_rows`, is checked separately).
    template <class Self, class F>
    static void checkpoint_fields(Self& self, F&& f) {
        f("sketch threshold", self.threshold);
        f("sketch decay", self.decay);
        f("sketch decay period", self.decay_period);
        f("sketch adaptive threshold", self.adaptive_threshold);
        f("sketch minimum threshold", self.min_threshold);
        f("sketch score cap", self.score_cap);
        f("sketch seed", self.seed);
    }
};

/// A change of an id's hot row, reported by `insert`.
struct hot_event {
    std::uint64_t id;      ///< the id
    std::int32_t hot_row;  ///< the row it was given (promotion) or gave back (demotion)
    bool promoted;         ///< true: promoted to `hot_row`; false: demoted from it
};

/// `w` buckets of `Slots` slots (id, score, hot row); with 4 slots a bucket is one 64-byte cache
/// line. `Hasher` maps (id, seed) to 64 bits and picks the bucket.
template <class Hasher, std::size_t Slots = 4>
class hot_sketch {
    static_assert(Slots >= 2, "embtab::hot_sketch needs at least 2 slots a bucket");

public:
    /// Marks a slot's hot row: not hot.
    static constexpr std::int32_t cold = -1;

    /// A sketch of `opts.buckets` buckets handing out `opts.hot_rows` rows.
    explicit hot_sketch(const hot_sketch_options& opts, Hasher hasher = {})
        : opts_(check(opts)),
          hasher_(std::move(hasher)),
          buckets_(opts.buckets * sizeof(bucket)),
          threshold_(opts.threshold) {
        for (std::size_t b = 0; b < opts_.buckets; ++b) new (&at(b)) bucket{};
        free_rows_.reserve(opts_.hot_rows);
        for (std::size_t r = opts_.hot_rows; r-- > 0;) free_rows_.push_back(static_cast<std::int32_t>(r));
    }

    /// The hot row of `id`, or `cold`. Never changes the sketch.
    std::int32_t query(std::uint64_t id) const noexcept { return find(id).hot_row; }

    /// What the sketch holds for an id.
    struct entry {
        std::int32_t hot_row;  ///< its hot row, or `cold`
        float score;           ///< its score, 0 when it holds no slot
    };
    /// The hot row and score of `id` in one bucket scan. Never changes the sketch.
    entry find(std::uint64_t id) const noexcept {
        const bucket& b = at(bucket_of(id));
        for (const slot& s : b.slots)
            if (s.used && s.id == id) return {static_cast<std::int32_t>(s.hot_row), s.score};
        return {cold, 0};
    }

    /// Starts loading the bucket of `id`.
    void prefetch(std::uint64_t id) const noexcept { detail::prefetch_line(&at(bucket_of(id))); }

    /// Adds `score` to `id`'s importance (Space-Saving replacement of the weakest cold slot when
    /// its bucket is full; hot ids are never evicted). Promotions and demotions it causes are
    /// appended to `events`.
    /// A score that is negative, NaN or infinite is ignored: nothing non-finite enters the
    /// sketch.
    void insert(std::uint64_t id, float score, std::vector<hot_event>& events) {
        if (!(score >= 0 && score <= std::numeric_limits<float>::max())) return;
        bucket& b = at(bucket_of(id));
        std::size_t i = find_or_claim(b, id, score);
        if (i == Slots) return;  // dropped: the weakest slot is hot
        if (opts_.score_cap > 0)
            b.slots[i].score = std::min(b.slots[i].score, opts_.score_cap * threshold_);
        i = bubble_up(b, i);
        slot& s = b.slots[i];
        if (s.hot_row == cold && s.score >= threshold_ && !free_rows_.empty()) {
            s.hot_row = free_rows_.back();
            free_rows_.pop_back();
            events.push_back({s.id, static_cast<std::int32_t>(s.hot_row), true});
        }
        inserted_ += score;
        if (inserted_ > decay_every()) decay(events);
    }

    /// Multiplies every score by δ, demotes hot ids below the threshold (after moving it to the
    /// H-th largest score, with the adaptive option), gives the freed rows to the strongest
    /// cold ids at or above the threshold, and restarts the decay count.
    void decay(std::vector<hot_event>& events) {
        inserted_ = 0;
        for (std::size_t b = 0; b < opts_.buckets; ++b)
            for (slot& s : at(b).slots) s.score *= opts_.decay;
        if (opts_.adaptive_threshold) adapt_threshold();
        for (std::size_t b = 0; b < opts_.buckets; ++b)
            for (slot& s : at(b).slots)
                if (s.used && s.hot_row != cold && s.score < threshold_) {
                    events.push_back({s.id, static_cast<std::int32_t>(s.hot_row), false});
                    free_rows_.push_back(static_cast<std::int32_t>(s.hot_row));
                    s.hot_row = cold;
                }
        promote_strongest(events);
    }

    /// Calls `f(id, score, hot_row)` for every id the sketch holds.
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t b = 0; b < opts_.buckets; ++b)
            for (const slot& s : at(b).slots)
                if (s.used) f(s.id, s.score, static_cast<std::int32_t>(s.hot_row));
    }
    /// The current promotion threshold T.
    float threshold() const noexcept { return threshold_; }
    /// The accumulated (decayed) score of `id`, or 0 when it holds no slot.
    float score(std::uint64_t id) const noexcept { return find(id).score; }
    /// Number of hot rows handed out.
    std::size_t hot_count() const noexcept { return opts_.hot_rows - free_rows_.size(); }
    /// The parameters.
    const hot_sketch_options& options() const noexcept { return opts_; }
    /// Bytes of one bucket.
    static constexpr std::size_t bucket_bytes = Slots * 16;
    /// Slots a bucket.
    static constexpr std::size_t slots = Slots;
    /// The most hot rows a sketch hands out (a slot keeps its hot row in 31 bits).
    static constexpr std::size_t max_hot_rows = std::numeric_limits<std::int32_t>::max() / 2;
    /// Score inserted between two decays: decay_period · w · the initial threshold (a fixed
    /// amount, so that an adaptive threshold cannot stretch or shrink the period).
    double decay_every() const noexcept {
        return double(opts_.decay_period) * double(opts_.buckets) * double(opts_.threshold);
    }
    /// Bytes of the buckets and the free-row list.
    memory_usage memory_bytes() const noexcept {
        return {0, 0, opts_.buckets * sizeof(bucket) + opts_.hot_rows * sizeof(std::int32_t)};
    }

    /// Writes the shape (buckets, slots a bucket, hot rows) to a checkpoint.
    void save_shape(io::writer& w) const {
        w.u64(opts_.buckets);
        w.u64(Slots);
        w.u64(opts_.hot_rows);
    }
    /// Reads a shape written by `save_shape`; throws `bad_checkpoint` unless it is this one.
    void verify_shape(io::reader& r) const {
        r.expect("sketch buckets", opts_.buckets);
        r.expect("sketch slots a bucket", Slots);
        r.expect("sketch hot rows", opts_.hot_rows);
    }
    /// Writes the parameters, the current threshold and decay count, every slot and the free
    /// rows (in stack order).
    void save_state(io::writer& w) const {
        io::save_fields(w, hasher_);
        io::save_fields(w, opts_);
        w.value(threshold_);
        w.value(inserted_);
        for (std::size_t b = 0; b < opts_.buckets; ++b)
            for (const slot& s : at(b).slots) {
                w.value(s.id);
                w.value(s.score);
                w.value(static_cast<std::int32_t>(s.hot_row));
                w.value(static_cast<std::uint8_t>(s.used));
            }
        w.u64(free_rows_.size());
        for (std::int32_t r : free_rows_) w.value(r);
    }
    /// Reads what `save_state` wrote for a sketch of this shape, checking that every slot sits
    /// in its id's bucket, used slots come first, and each hot row is either held by one slot or
    /// free (when it throws the sketch may be half-read: `load_bytes` loads into a copy).
    void load_state(io::reader& r) {
        io::load_fields(r, hasher_);
        const std::size_t opts_at = r.offset();
        hot_sketch_options o = opts_;
        io::load_fields(r, o);
        try {
            check(o);
        } catch (const bad_parameter& e) {
            r.fail_at(opts_at, "holds bad sketch parameters (", e.what(), ")");
        }
        opts_ = o;
        const std::size_t threshold_at = r.offset();
        threshold_ = r.value<float>("sketch current threshold");
        if (!(threshold_ > 0 && threshold_ <= std::numeric_limits<float>::max()))
            r.fail_at(threshold_at, "sketch current threshold is ", threshold_,
                      "; it must be finite and > 0");
        const std::size_t inserted_at = r.offset();
        inserted_ = r.value<double>("sketch decay count");
        if (!(inserted_ >= 0 && inserted_ <= std::numeric_limits<double>::max()))
            r.fail_at(inserted_at, "sketch decay count is ", inserted_, "; it must be finite and >= 0");
        constexpr std::size_t slot_bytes = 8 + 4 + 4 + 1;
        r.require_items(opts_.buckets, Slots * slot_bytes, "sketch buckets");
        std::vector<unsigned char> taken(opts_.hot_rows, 0);  // hot rows seen so far
        std::size_t held = 0;
        for (std::size_t b = 0; b < opts_.buckets; ++b) {
            bucket& bk = at(b);
            for (std::size_t i = 0; i < Slots; ++i) {
                const std::size_t slot_at = r.offset();
                const auto id = r.value<std::uint64_t>("slot id");
                const auto score = r.value<float>("slot score");
                if (!(score >= 0 && score <= std::numeric_limits<float>::max()))
                    r.fail_at(slot_at, "slot score is ", score, "; it must be finite and >= 0");
                const auto hot_row = r.value<std::int32_t>("slot hot row");
                const auto used = r.value<std::uint8_t>("slot flag");
                if (used > 1) r.fail_at(slot_at, "slot flag is ", +used, "; it must be 0 or 1");
                if (used && i > 0 && !bk.slots[i - 1].used)
                    r.fail_at(slot_at, "bucket ", b, " has a used slot after an empty one");
                if (!used && (id != 0 || score != 0 || hot_row != cold))
                    r.fail_at(slot_at, "bucket ", b, " has an empty slot that is not blank");
                if (hot_row != cold) {
                    if (hot_row < 0 || std::size_t(hot_row) >= opts_.hot_rows)
                        r.fail_at(slot_at, "slot hot row is ", hot_row, "; it must be -1 or in [0, ",
                                  opts_.hot_rows, ")");
                    if (taken[std::size_t(hot_row)]++)
                        r.fail_at(slot_at, "hot row ", hot_row, " is held twice");
                    ++held;
                }
                if (used) {
                    if (bucket_of(id) != b)
                        r.fail_at(slot_at, "id ", id, " sits in bucket ", b, " but hashes to bucket ",
                                  bucket_of(id));
                    for (std::size_t k = 0; k < i; ++k)
                        if (bk.slots[k].id == id)
                            r.fail_at(slot_at, "id ", id, " appears twice in bucket ", b);
                }
                slot& s = bk.slots[i];
                s.id = id;
                s.score = score;
                s.hot_row = hot_row;
                s.used = used;
            }
        }
        const std::size_t free_at = r.offset();
        const std::uint64_t n_free = r.u64("free hot rows");
        if (n_free != opts_.hot_rows - held)
            r.fail_at(free_at, "lists ", n_free, " free hot rows but ", opts_.hot_rows - held,
                      " of ", opts_.hot_rows, " are not held");
        r.require_items(n_free, sizeof(std::int32_t), "free hot rows");
        free_rows_.clear();
        for (std::uint64_t k = 0; k < n_free; ++k) {
            const std::size_t row_at = r.offset();
            const auto row = r.value<std::int32_t>("free hot row");
            if (row < 0 || std::size_t(row) >= opts_.hot_rows || taken[std::size_t(row)]++)
                r.fail_at(row_at, "free hot row ", row, " is out of range or already held");
            free_rows_.push_back(row);
        }
    }

private:

    struct slot {
        std::uint64_t id = 0;
        float score = 0;
        std::int32_t hot_row : 31;
        std::uint32_t used : 1;
        slot() : hot_row(cold), used(0) {}
    };
    static_assert(sizeof(slot) == 16, "a slot is 16 bytes");
    struct alignas(16) bucket {  // the buffer is cache-line aligned: 4 slots = one line
        slot slots[Slots];  // used slots first, by descending score
    };

    static const hot_sketch_options& check(const hot_sketch_options& o) {
        if (o.buckets == 0) detail::fail<bad_parameter>("hot_sketch needs at least 1 bucket; got 0");
        detail::checked_mul(o.buckets, sizeof(bucket), "hot_sketch buckets");
        if (o.hot_rows > max_hot_rows)
            detail::fail<bad_parameter>("hot_sketch: ", o.hot_rows,
                                        " hot rows is too many; at most ", max_hot_rows);
        if (!(o.threshold > 0 && o.threshold <= std::numeric_limits<float>::max()))
            detail::fail<bad_parameter>("hot_sketch threshold must be finite and > 0; got ",
                                        o.threshold);
        if (!(o.decay > 0 && o.decay <= 1))
            detail::fail<bad_parameter>("hot_sketch decay must be in (0, 1]; got ", o.decay);
        if (!(o.decay_period > 0 && o.decay_period <= std::numeric_limits<float>::max()))
            detail::fail<bad_parameter>("hot_sketch decay_period must be finite and > 0; got ",
                                        o.decay_period);
        if (!(o.min_threshold > 0 && o.min_threshold <= std::numeric_limits<float>::max()))
            detail::fail<bad_parameter>("hot_sketch min_threshold must be finite and > 0; got ",
                                        o.min_threshold);
        if (!(o.score_cap == 0 || (o.score_cap >= 1 && std::isfinite(o.score_cap))))
            detail::fail<bad_parameter>("hot_sketch score_cap must be 0 (none) or a finite "
                                        "number >= 1; got ", o.score_cap);
        return o;
    }
    /// Bucket of `id`: the hash scaled into [0, w) by a multiply (Lemire's fast range), not a
    /// division, which would cost more than the rest of a query.
    std::size_t bucket_of(std::uint64_t id) const noexcept {
        return static_cast<std::size_t>(detail::fast_range(hasher_(id, opts_.seed), opts_.buckets));
    }
    bucket& at(std::size_t b) noexcept { return reinterpret_cast<bucket*>(buckets_.data())[b]; }
    const bucket& at(std::size_t b) const noexcept {
        return reinterpret_cast<const bucket*>(buckets_.data())[b];
    }

    /// The slot that now holds `id` with `score` added, or `Slots` when the insert is dropped.
    static std::size_t find_or_claim(bucket& b, std::uint64_t id, float score) noexcept {
        for (std::size_t i = 0; i < Slots; ++i) {
            slot& s = b.slots[i];
            if (!s.used) {  // used slots come first: id is absent, take the empty slot
                s.id = id, s.score = score, s.used = 1, s.hot_row = cold;
                return i;
            }
            if (s.id == id) {
                s.score += score;
                return i;
            }
        }
        slot& weakest = b.slots[Slots - 1];
        if (weakest.hot_row != cold) return Slots;
        weakest.id = id;  // Space-Saving: inherit the evicted count
        weakest.score += score;
        return Slots - 1;
    }
    /// Restores descending order after slot `i`'s score grew; returns its new position.
    static std::size_t bubble_up(bucket& b, std::size_t i) noexcept {
        for (; i > 0 && b.slots[i - 1].score < b.slots[i].score; --i)
            std::swap(b.slots[i - 1], b.slots[i]);
        return i;
    }
    /// Hands the free rows to the cold ids at or above T, strongest first. Without this, rows
    /// freed by a decay go to whichever id is inserted next, and under a heavy stream of cold
    /// ids that is mostly an id whose score was inherited through Space-Saving replacement.
    void promote_strongest(std::vector<hot_event>& events) {
        if (free_rows_.empty()) return;
        candidates_.clear();
        for (std::size_t b = 0; b < opts_.buckets; ++b)
            for (std::size_t i = 0; i < Slots; ++i) {
                const slot& s = at(b).slots[i];
                if (s.used && s.hot_row == cold && s.score >= threshold_)
                    candidates_.emplace_back(s.score, b * Slots + i);
            }
        const std::size_t n = std::min(candidates_.size(), free_rows_.size());
        std::partial_sort(candidates_.begin(), candidates_.begin() + n, candidates_.end(),
                          std::greater<>());
        for (std::size_t k = 0; k < n; ++k) {
            slot& s = at(candidates_[k].second / Slots).slots[candidates_[k].second % Slots];
            s.hot_row = free_rows_.back();
            free_rows_.pop_back();
            events.push_back({s.id, static_cast<std::int32_t>(s.hot_row), true});
        }
    }
    /// Sets T to the H-th largest score (the smallest when fewer than H ids are held), never
    /// below min_threshold: the hot rows go to the top H ids, and none stays idle while there
    /// are ids to give it to.
    void adapt_threshold() {
        const std::size_t h = opts_.hot_rows;
        if (h == 0) return;
        scores_.clear();
        for (std::size_t b = 0; b < opts_.buckets; ++b)
            for (const slot& s : at(b).slots)
                if (s.used) scores_.push_back(s.score);
        if (scores_.empty()) return;
        const std::size_t k = std::min(h, scores_.size()) - 1;
        std::nth_element(scores_.begin(), scores_.begin() + std::ptrdiff_t(k), scores_.end(),
                         std::greater<float>());
        threshold_ = std::max(std::min(opts_.min_threshold, opts_.threshold), scores_[k]);
    }

    hot_sketch_options opts_;
    Hasher hasher_;
    detail::aligned_buffer buckets_;
    std::vector<std::int32_t> free_rows_;  // hot rows not handed out, a stack
    std::vector<float> scores_;            // scratch of adapt_threshold
    std::vector<std::pair<float, std::size_t>> candidates_;  // scratch of promote_strongest
    float threshold_;
    double inserted_ = 0;  // score inserted since the last decay
};

}  // namespace embtab
