#pragma once
/// \file detail/row_store.hpp The mechanism every table kind shares: rows in a storage policy,
/// their optimizer state, a queue of gradient contributions that coalesces duplicate rows into
/// one fused optimizer step per row (serial, or split by row across threads), and an undo log
/// that makes an update all-or-nothing.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../errors.hpp"
#include "../io/byte_io.hpp"
#include "../memory.hpp"
#include "../options.hpp"
#include "../threads.hpp"
#include "../traits.hpp"
#include "aligned_buffer.hpp"
#include "checked_size.hpp"
#include "flat_id_map.hpp"
#include "float_arena.hpp"
#include "lanes.hpp"
#include "refused_step.hpp"
#include "rng.hpp"
#include "validate.hpp"

namespace embtab::detail {

/// Whether optimizer `O` can say its hyper-parameters are invalid (`o.invalid()`, a reason or
/// nullptr) and check a row's state (`O::valid_state(s, dim)`); both are optional.
template <class O, class = void>
struct has_invalid : std::false_type {};
template <class O>
struct has_invalid<O, std::void_t<decltype(std::declval<const O&>().invalid())>> : std::true_type {};
/// Whether storage `S` says that encoding finite values stores finite ones
/// (`S::stores_finite`, optional: otherwise a stepped row is read back and checked).
template <class S, class = void>
struct stores_finite : std::false_type {};
template <class S>
struct stores_finite<S, std::void_t<decltype(S::stores_finite)>>
    : std::bool_constant<S::stores_finite> {};
template <class O, class = void>
struct has_valid_state : std::false_type {};
template <class O>
struct has_valid_state<O, std::void_t<decltype(O::valid_state(std::declval<const float*>(),
                                                               std::size_t{}))>> : std::true_type {};

/// `rows × dim` parameters kept by `Storage`, stepped by `Optimizer`. `add_grad` queues a
/// contribution (where its gradient is, and its scale) in O(1) without copying it; `apply_grads`
/// groups the contributions by row and, in one pass a distinct row, sums them (in arrival order)
/// and steps the row — one step with the summed gradient, as with PyTorch sparse gradients. The
/// distinct rows may be split across threads: each row is summed and stepped by one thread, so
/// the result does not depend on the thread count. An update is a transaction: `apply_grads`
/// logs each row and its state before stepping it, and `end_update(false)` puts them back.
template <class Storage, class Optimizer>
class row_store {
    static_assert(is_storage_v<Storage>, "embtab: Storage must be a storage policy");
    static_assert(is_optimizer_v<Optimizer>, "embtab: Optimizer must be an optimizer policy");

public:
    /// Zero rows; `seed` fixes the stochastic-rounding stream.
    row_store(std::size_t rows, std::size_t dim, Storage storage, Optimizer optimizer,
              std::uint64_t seed)
        : rows_(rows),
          dim_(dim),
          row_bytes_(Storage::row_bytes(dim)),
          state_size_(Optimizer::state_size(dim)),
          storage_(std::move(storage)),
          optimizer_(std::move(optimizer)),
          rounding_(derive_seed(seed, 1)),
          data_(checked_bytes(rows, dim, Storage::row_bytes(dim))),
          state_(checked_bytes(rows, dim, Optimizer::state_size(dim) * sizeof(float))),
          scratch_(dim) {
        if (const char* why = hyper_problem(optimizer_))
            fail<bad_parameter>(why, "; got ", fields_of(optimizer_));
        for (std::size_t r = 0; r < rows_; ++r) reset_state(r);
    }

    /// Number of rows.
    std::size_t rows() const noexcept { return rows_; }
    /// Values per row.
    std::size_t dim() const noexcept { return dim_; }
    /// The optimizer (its hyper-parameters may be changed between updates).
    Optimizer& optimizer() noexcept { return optimizer_; }
    /// The optimizer.
    const Optimizer& optimizer() const noexcept { return optimizer_; }
    /// The storage policy.
    const Storage& storage() const noexcept { return storage_; }

    /// Row `r` as fp32 into `out[0..dim)`.
    void read(std::size_t r, float* out) const noexcept { storage_.decode(row(r), out, dim_); }
    /// `acc[0..dim) += w · row r`.
    void read_add(std::size_t r, float w, float* acc) const noexcept {
        storage_.decode_add(row(r), w, acc, dim_);
    }
    /// Where row `r`'s bytes are (read by bag sums).
    const std::byte* address(std::size_t r) const noexcept { return row(r); }
    /// Asks the CPU to start loading every cache line of row `r` into the second-level cache
    /// (hides memory latency when issued a few rows ahead; see `prefetch_line`).
    void prefetch(std::size_t r) const noexcept { prefetch_lines<true>(row(r), row_bytes_); }
    /// Sets row `r` from fp32 values (rounded as the storage says).
    void write(std::size_t r, const float* values) noexcept {
        storage_.encode(values, row(r), dim_, rounding_);
    }
    /// Resets row `r`'s optimizer state to that of a fresh row.
    void reset_state(std::size_t r) noexcept { optimizer_.init_state(state(r), dim_); }

    /// Sets every row to `init(row, values)`.
    template <class Init>
    void fill(Init&& init) {
        for (std::size_t r = 0; r < rows_; ++r) {
            std::fill(scratch_.begin(), scratch_.end(), 0.0f);
            init(r, scratch_.data());
            write(r, scratch_.data());
        }
    }
    /// Sets every value uniform in `[-bound, bound)` from a generator seeded by `seed`.
    void fill_uniform(float bound, std::uint64_t seed) {
        rng gen(derive_seed(seed, 0));
        fill([&](std::size_t, float* v) {
            for (std::size_t j = 0; j < dim_; ++j) v[j] = gen.uniform(-bound, bound);
        });
    }

    /// Queues `scale · g` for row `r`; `at` is the batch position it comes from (named if the
    /// row's step is refused). `g` is read by `apply_grads`: it must stay valid and unchanged
    /// until then (a computed gradient belongs in a `float_arena`, or `add_grad_with`).
    void add_grad(std::size_t r, const float* g, float scale, std::size_t at) {
        const std::uint32_t i = pending_index(r, at);
        queued_.emplace_back(g, scale, i);
    }
    /// Lets `add(slot)` write a gradient for row `r` into `dim` zeroed floats that the update
    /// keeps (a gradient computed on the fly).
    template <class Adder>
    void add_grad_with(std::size_t r, std::size_t at, Adder&& add) {
        float* slot = owned_.take(dim_);
        std::fill(slot, slot + dim_, 0.0f);
        add(slot);
        const std::uint32_t i = pending_index(r, at);
        queued_.emplace_back(slot, 1.0f, i);
    }
    /// Applies the queued gradients — one optimizer step per distinct row, the parts of the
    /// distinct rows (in the order they were first queued) run by `threads`. A step whose row or
    /// state would hold a non-finite value (or a value its storage cannot hold: the row is read
    /// back) is undone at once; then `skip_row` goes on with the next row and `throw_error`
    /// throws `refused_step` for the first such row. Every stepped row stays in the undo log
    /// until `end_update`. Stochastic rounding draws from a stream of the row's position, so
    /// the result does not depend on `threads` either. Once per update.
    template <class Threads = serial>
    void apply_grads(nonfinite_policy policy, Threads&& threads = {}) {
        const std::size_t n = pending_.size();
        undo_rounding_ = rounding_;
        applied_ = true;
        if (n == 0) return;
        group_by_row();
        const std::uint64_t rounding_seed = Storage::in_place ? 0 : rounding_.next();
        const std::size_t entry = log_entry_bytes();
        undo_.at_least(checked_mul(n, entry, "an update's undo log"));
        const std::size_t parts = threads.threads() <= 1 ? 1
                                  : std::min(threads.threads() * parts_per_thread,
                                             std::max<std::size_t>(1, n / min_rows_per_part));
        parts_.assign(parts, part_result{});
        if (part_scratch_.size() < parts * 2 * dim_) part_scratch_.resize(parts * 2 * dim_);
        threads.run(parts, [&](std::size_t p) {
            step_rows(p, n * p / parts, n * (p + 1) / parts, policy, rounding_seed);
        });
        const part_result* first = nullptr;  // the refused row of lowest position
        for (const part_result& q : parts_)
            if (q.refused.part && (!first || q.refused_at < first->refused_at)) first = &q;
        if (first && policy == nonfinite_policy::throw_error)
            throw refused_step{pending_at_[first->refused_at], first->refused.part,
                               first->refused.column, first->refused.value};
    }
    /// Ends an update: `keep` drops the undo log, otherwise every logged row (and the rounding
    /// stream) is put back as it was before `apply_grads`; the gradient queue is emptied either
    /// way.
    void end_update(bool keep) noexcept {
        if (!keep) {
            for (const part_result& q : parts_)
                for (std::size_t i = q.begin; i < q.logged; ++i) restore(i);
            if (applied_) rounding_ = undo_rounding_;
        }
        applied_ = false;
        parts_.clear();
        pending_.clear();
        pending_at_.clear();
        queued_.clear();
        first_.clear();
        cursor_.clear();
        grouped_.clear();
        owned_.clear();
        slots_.clear();
    }

    /// Bytes of rows and optimizer state.
    memory_usage memory() const noexcept {
        return {rows_ * row_bytes_, rows_ * state_size_ * sizeof(float), 0};
    }

    /// Writes the shape (rows, dimension) to a checkpoint.
    void save_shape(io::writer& w) const {
        w.u64(rows_);
        w.u64(dim_);
    }
    /// Reads a shape written by `save_shape`; throws `bad_checkpoint` unless it is this one.
    void verify_shape(io::reader& r) const {
        r.expect("rows", rows_);
        r.expect("dimension", dim_);
    }
    /// Writes the policies' fields, the rounding generator, the rows and the optimizer state
    /// (queued gradients are not kept: there are none between updates).
    void save_state(io::writer& w) const {
        io::save_fields(w, storage_);
        io::save_fields(w, optimizer_);
        rounding_.save_state(w);
        w.bytes(data_.data(), data_.size());
        w.floats(states(), rows_ * state_size_);
    }
    /// Reads what `save_state` wrote for a store of this shape; every row and state value must
    /// be finite.
    void load_state(io::reader& r) {
        io::load_fields(r, storage_);
        const std::size_t fields_at = r.offset();
        io::load_fields(r, optimizer_);
        if (const char* why = hyper_problem(optimizer_))
            r.fail_at(fields_at, "optimizer: ", why, "; got ", fields_of(optimizer_));
        rounding_.load_state(r);
        const std::size_t at = r.offset();
        r.bytes(data_.data(), data_.size(), "rows");
        for (std::size_t i = 0; i < rows_; ++i) {  // decoded, as lookups see them
            read(i, scratch_.data());
            const std::size_t j = first_nonfinite(scratch_.data(), dim_);
            if (j < dim_)
                r.fail_at(at + i * row_bytes_, "row ", i, " holds the non-finite value ",
                          scratch_[j], " at column ", j);
        }
        const std::size_t states_at = r.offset();
        r.floats(states(), rows_ * state_size_, "optimizer state");
        for (std::size_t i = 0; i < rows_; ++i)
            if (!state_ok(state(i), dim_))
                r.fail_at(states_at + i * state_size_ * sizeof(float), "optimizer state of row ", i,
                          " is not one ", Optimizer::name, " can reach");
    }

private:
    /// Why the optimizer's hyper-parameters cannot train: one is not finite, or its `invalid()`
    /// says (if it has one).
    static const char* hyper_problem(const Optimizer& o) noexcept {
        bool finite = true;
        if constexpr (io::has_checkpoint_fields<Optimizer>::value)
            Optimizer::checkpoint_fields(o, [&](const char*, const auto& v, auto...) {
                if constexpr (std::is_floating_point_v<std::decay_t<decltype(v)>>)
                    finite = finite && std::isfinite(v);
            });
        if (!finite) return "optimizer hyper-parameters must be finite";
        if constexpr (has_invalid<Optimizer>::value) return o.invalid();
        else return nullptr;
    }
    /// Whether `s` can be a row's state (its `valid_state`, if it has one).
    static bool state_ok(const float* s, std::size_t dim) noexcept {
        if constexpr (has_valid_state<Optimizer>::value) return Optimizer::valid_state(s, dim);
        else return true;
    }
    /// "lr 0.1, eps 1e-08": the hyper-parameters, for messages.
    static std::string fields_of(const Optimizer& o) {
        std::string s;
        if constexpr (io::has_checkpoint_fields<Optimizer>::value)
            Optimizer::checkpoint_fields(o, [&](const char* name, const auto& v, auto...) {
                s += concat(s.empty() ? "" : ", ", name, " ", v);
            });
        return s;
    }
    /// `rows · row_bytes`, checked (the dimension first, so that `row_bytes` did not wrap).
    static std::size_t checked_bytes(std::size_t rows, std::size_t dim, std::size_t row_bytes) {
        if (rows == 0) fail<bad_parameter>("a table needs at least one row; got 0");
        check_dim("a table", dim);
        return checked_mul(rows, row_bytes, "a table's rows");
    }
    std::byte* row(std::size_t r) noexcept { return data_.data() + r * row_bytes_; }
    const std::byte* row(std::size_t r) const noexcept { return data_.data() + r * row_bytes_; }
    float* states() noexcept { return reinterpret_cast<float*>(state_.data()); }
    const float* states() const noexcept { return reinterpret_cast<const float*>(state_.data()); }
    float* state(std::size_t r) noexcept { return states() + r * state_size_; }
    /// Fewest distinct rows worth a part of their own, and parts a thread gets on average.
    static constexpr std::size_t min_rows_per_part = 256, parts_per_thread = 4;
    /// Rows loaded ahead of their step (8 and 32 measured slower).
    static constexpr std::size_t step_ahead = 16;

    /// One queued gradient: where it is, its scale, and the index of its row in `pending_`
    /// (built in place: a struct assembled on the stack and copied stalled store forwarding).
    struct contribution {
        contribution() = default;
        contribution(const float* g_, float scale_, std::uint32_t row_) noexcept
            : g(g_), scale(scale_), row(row_) {}
        const float* g;
        float scale;
        std::uint32_t row;
    };
    /// The first value a step left non-finite, or none (`part` null).
    struct bad_value {
        const char* part;
        std::size_t column;
        float value;
    };
    /// What one part of `apply_grads` did: rows `[begin, logged)` of `pending_` are in the undo
    /// log (and stepped, but for refused ones, which are put back); the first it refused.
    struct part_result {
        std::size_t begin = 0, logged = 0;
        std::size_t refused_at = 0;
        bad_value refused{nullptr, 0, 0};
    };

    /// The index of row `r` in `pending_`, appended (first queued from position `at`) when the
    /// batch has not queued it yet.
    std::uint32_t pending_index(std::size_t r, std::size_t at) {
        const auto fresh = static_cast<std::uint32_t>(pending_.size());
        const std::uint32_t i = slots_.find_or_insert(r, fresh);
        if (i == fresh) {
            pending_.push_back(r);
            pending_at_.push_back(at);
            first_.push_back(0);
        }
        ++first_[i];
        return i;
    }
    /// Sorts `queued_` into `grouped_` by row, stably (a counting sort over the counts
    /// `pending_index` kept in `first_`): row i's contributions become
    /// `grouped_[first_[i], first_[i+1])`, in arrival order.
    void group_by_row() {
        const std::size_t n = pending_.size();
        std::uint32_t sum = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t c = first_[i];
            first_[i] = sum;
            sum += c;
        }
        first_.push_back(sum);
        grouped_.resize(queued_.size());
        cursor_.assign(first_.begin(), first_.end() - 1);
        for (const contribution& c : queued_) grouped_[cursor_[c.row]++] = c;
    }
    /// The gradient of pending row `i` into `acc`: its contributions summed in arrival order
    /// (a multiply and an add each, never fused: the same sum on every vector width).
    void sum_gradient(std::size_t i, float* acc) const noexcept {
        const contribution* const first = grouped_.data() + first_[i];
        const contribution* const end = grouped_.data() + first_[i + 1];
        for_lanes(dim_, [&](auto tag, std::size_t j) {
            using V = typename decltype(tag)::type;
            V sum = V::all(first->scale) * V::load(first->g + j);
            for (const contribution* c = first + 1; c < end; ++c)
                sum = sum + V::all(c->scale) * V::load(c->g + j);
            sum.store(acc + j);
        });
    }
    /// Part `p` of `apply_grads`: sums and steps pending rows `[begin, end)`.
    void step_rows(std::size_t p, std::size_t begin, std::size_t end, nonfinite_policy policy,
                   std::uint64_t rounding_seed) noexcept {
        part_result& q = parts_[p];
        q.begin = q.logged = begin;
        float* acc = part_scratch_.data() + p * 2 * dim_;
        float* decoded = acc + dim_;
        for (std::size_t i = begin; i < end && i < begin + step_ahead; ++i)
            prefetch_step(pending_[i]);
        for (std::size_t i = begin; i < end; ++i) {
            if (i + step_ahead < end) prefetch_step(pending_[i + step_ahead]);
            log_row(i);
            q.logged = i + 1;
            sum_gradient(i, acc);
            rng gen(derive_seed(rounding_seed, i));
            const bad_value bad = step(pending_[i], acc, decoded, gen);
            if (!bad.part) continue;
            restore(i);
            if (!q.refused.part) {
                q.refused_at = i;
                q.refused = bad;
            }
            if (policy == nonfinite_policy::throw_error) return;
        }
    }
    /// Bytes of one undo-log entry: a row and its optimizer state.
    std::size_t log_entry_bytes() const noexcept {
        return row_bytes_ + state_size_ * sizeof(float);
    }
    /// Writes pending row `i` and its optimizer state to entry `i` of the undo log.
    void log_row(std::size_t i) noexcept {
        std::byte* e = undo_.data() + i * log_entry_bytes();
        const std::size_t r = pending_[i];
        std::memcpy(e, row(r), row_bytes_);
        if (state_size_) std::memcpy(e + row_bytes_, state(r), state_size_ * sizeof(float));
    }
    /// Puts pending row `i` and its state back from entry `i` of the undo log.
    void restore(std::size_t i) noexcept {
        const std::byte* e = undo_.data() + i * log_entry_bytes();
        const std::size_t r = pending_[i];
        std::memcpy(row(r), e, row_bytes_);
        if (state_size_) std::memcpy(state(r), e + row_bytes_, state_size_ * sizeof(float));
    }
    /// Starts loading row `r` and its optimizer state, to be written, for a step.
    void prefetch_step(std::size_t r) const noexcept {
        const auto begin = reinterpret_cast<std::uintptr_t>(row(r));
        for (auto a = begin & ~std::uintptr_t(cache_line - 1); a < begin + row_bytes_; a += cache_line)
            prefetch_line_for_write(reinterpret_cast<const void*>(a));
        const float* s = states() + r * state_size_;
        for (std::size_t j = 0; j < state_size_; j += cache_line / sizeof(float))
            prefetch_line_for_write(s + j);
    }
    /// The first non-finite value of `v[0..n)`, named as in `part`, or none.
    static bad_value check(const char* part, const float* v, std::size_t n) noexcept {
        const std::size_t j = first_nonfinite(v, n);
        return j == n ? bad_value{nullptr, 0, 0} : bad_value{part, j, v[j]};
    }
    /// One optimizer step of row `r` with gradient `g` (`decoded`: dim floats of room for a
    /// row not stored as fp32; `gen`: its rounding), and the first value it left non-finite.
    bad_value step(std::size_t r, const float* g, float* decoded, rng& gen) noexcept {
        float* s = state(r);
        bad_value bad{};
        if constexpr (Storage::in_place) {
            auto* w = reinterpret_cast<float*>(row(r));
            optimizer_.step(w, g, s, dim_);
            bad = check("row", w, dim_);
        } else {
            read(r, decoded);
            optimizer_.step(decoded, g, s, dim_);
            bad = check("row", decoded, dim_);
            if (!bad.part) {
                storage_.encode(decoded, row(r), dim_, gen);
                if constexpr (!detail::stores_finite<Storage>::value) {
                    read(r, decoded);  // beyond the storage's range the stored row is not finite
                    bad = check("row as stored", decoded, dim_);
                }
            }
        }
        return bad.part ? bad : check("optimizer state", s, state_size_);
    }

    std::size_t rows_, dim_, row_bytes_, state_size_;
    Storage storage_;
    Optimizer optimizer_;
    rng rounding_;
    aligned_buffer data_;
    aligned_buffer state_;  // optimizer state, state_size_ floats a row (huge pages, as rows)
    std::vector<float> scratch_;
    std::vector<std::size_t> pending_;     // rows with a queued gradient, in arrival order
    std::vector<std::size_t> pending_at_;  // the batch position each was first queued from
    flat_id_map<std::uint32_t> slots_;     // row → index in pending_
    std::vector<contribution> queued_;     // add_grad calls, in arrival order
    std::vector<std::uint32_t> first_;     // counts a pending row, then where its group starts
    std::vector<std::uint32_t> cursor_;    // group_by_row's write positions
    std::vector<contribution> grouped_;    // queued_ grouped by row
    float_arena owned_;                    // gradients written by add_grad_with
    std::vector<part_result> parts_;       // what each part of apply_grads did
    std::vector<float> part_scratch_;      // 2 · dim floats a part
    scratch_bytes undo_;                   // entry i: pending_[i] and its state before the step
    rng undo_rounding_;                    // the rounding stream before apply_grads
    bool applied_ = false;                 // apply_grads ran in this update
};

}  // namespace embtab::detail
