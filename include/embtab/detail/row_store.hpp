#pragma once
/// \file detail/row_store.hpp The mechanism every table kind shares: rows in a storage policy,
/// their optimizer state, a gradient buffer that coalesces duplicate rows before one optimizer
/// step per row, and an undo log that makes an update all-or-nothing.

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
#include "../traits.hpp"
#include "aligned_buffer.hpp"
#include "checked_size.hpp"
#include "flat_id_map.hpp"
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
template <class O, class = void>
struct has_valid_state : std::false_type {};
template <class O>
struct has_valid_state<O, std::void_t<decltype(O::valid_state(std::declval<const float*>(),
                                                               std::size_t{}))>> : std::true_type {};

/// `rows × dim` parameters kept by `Storage`, stepped by `Optimizer`. Gradients are queued with
/// `add_grad`, summed per row as they arrive, and applied by `apply_grads` (the result equals one
/// step with the summed gradient, as with PyTorch sparse gradients). An update is a transaction:
/// `apply_grads` logs each row and its state before stepping it, and `end_update(false)` puts
/// them back.
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
    /// Asks the CPU to start loading every cache line of row `r` (hides memory latency when
    /// issued a few rows ahead).
    void prefetch(std::size_t r) const noexcept {
        const auto begin = reinterpret_cast<std::uintptr_t>(row(r));
        for (auto a = begin & ~std::uintptr_t(cache_line - 1); a < begin + row_bytes_; a += cache_line)
            prefetch_line(reinterpret_cast<const void*>(a));
    }
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

    /// Adds `scale · g` to the gradient queued for row `r`; `at` is the batch position it comes
    /// from (named if the row's step is refused).
    void add_grad(std::size_t r, const float* g, float scale, std::size_t at) {
        bool fresh;
        float* slot = slot_of(r, at, fresh);
        if (fresh)
            for (std::size_t j = 0; j < dim_; ++j) slot[j] = scale * g[j];
        else
            for (std::size_t j = 0; j < dim_; ++j) slot[j] += scale * g[j];
    }
    /// Lets `add(slot)` add a gradient into the `dim` floats queued for row `r` (zero when `r`
    /// has none yet).
    template <class Adder>
    void add_grad_with(std::size_t r, std::size_t at, Adder&& add) {
        bool fresh;
        float* slot = slot_of(r, at, fresh);
        if (fresh) std::fill(slot, slot + dim_, 0.0f);
        add(slot);
    }
    /// Applies the queued gradients — one optimizer step per distinct row, in the order rows
    /// were first queued. A step whose row or state would hold a non-finite value (or a value
    /// its storage cannot hold: the row is read back) is undone at once; then `skip_row` goes
    /// on with the next row and `throw_error` throws `refused_step`. Every stepped row stays in
    /// the undo log until `end_update`.
    void apply_grads(nonfinite_policy policy) {
        constexpr std::size_t ahead = 16;  // rows loaded ahead of their step (8 and 32 measured slower)
        undo_rounding_ = rounding_;
        applied_ = true;
        for (std::size_t i = 0; i < pending_.size() && i < ahead; ++i) prefetch_step(pending_[i]);
        for (std::size_t i = 0; i < pending_.size(); ++i) {
            if (i + ahead < pending_.size()) prefetch_step(pending_[i + ahead]);
            const std::size_t r = pending_[i];
            log_row(r);
            const bad_value bad = step(r, grads_.data() + i * dim_);
            if (!bad.part) continue;
            restore_last();
            if (policy == nonfinite_policy::throw_error)
                throw refused_step{pending_at_[i], bad.part, bad.column, bad.value};
        }
    }
    /// Ends an update: `keep` drops the undo log, otherwise every logged row (and the rounding
    /// stream) is put back as it was before `apply_grads`; the gradient queue is emptied either
    /// way.
    void end_update(bool keep) noexcept {
        if (!keep) {
            while (!undo_rows_.empty()) restore_last();
            if (applied_) rounding_ = undo_rounding_;
        }
        applied_ = false;
        undo_rows_.clear();
        undo_.clear();
        pending_.clear();
        pending_at_.clear();
        grads_.clear();
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
    /// The gradient slot of row `r`, created (uninitialised, `fresh`) on its first use in the
    /// batch: duplicates are summed as they arrive, in O(1), instead of sorted at the end.
    float* slot_of(std::size_t r, std::size_t at, bool& fresh) {
        auto i = slots_.find(r);
        fresh = i == slots_.npos;
        if (fresh) {
            i = static_cast<std::uint32_t>(pending_.size());
            slots_.insert_or_assign(r, i);
            pending_.push_back(r);
            pending_at_.push_back(at);
            grads_.resize(grads_.size() + dim_);
        }
        return grads_.data() + std::size_t(i) * dim_;
    }
    /// Appends row `r` and its optimizer state to the undo log.
    void log_row(std::size_t r) {
        const std::size_t state_bytes = state_size_ * sizeof(float), n = undo_.size();
        undo_.resize(n + row_bytes_ + state_bytes);
        std::memcpy(undo_.data() + n, row(r), row_bytes_);
        if (state_bytes) std::memcpy(undo_.data() + n + row_bytes_, state(r), state_bytes);
        undo_rows_.push_back(r);
    }
    /// Puts back the row logged last and drops it from the log.
    void restore_last() noexcept {
        const std::size_t state_bytes = state_size_ * sizeof(float), r = undo_rows_.back();
        const std::size_t n = undo_.size() - row_bytes_ - state_bytes;
        std::memcpy(row(r), undo_.data() + n, row_bytes_);
        if (state_bytes) std::memcpy(state(r), undo_.data() + n + row_bytes_, state_bytes);
        undo_.resize(n);
        undo_rows_.pop_back();
    }
    /// Starts loading row `r` and its optimizer state for a step.
    void prefetch_step(std::size_t r) const noexcept {
        prefetch(r);
        const float* s = states() + r * state_size_;
        for (std::size_t j = 0; j < state_size_; j += cache_line / sizeof(float))
            prefetch_line(s + j);
    }
    /// The first value a step left non-finite, or none (`part` null).
    struct bad_value {
        const char* part;
        std::size_t column;
        float value;
    };
    static bad_value check(const char* part, const float* v, std::size_t n) noexcept {
        const std::size_t j = first_nonfinite(v, n);
        return j == n ? bad_value{nullptr, 0, 0} : bad_value{part, j, v[j]};
    }
    /// One optimizer step of row `r`, and the first value it left non-finite.
    bad_value step(std::size_t r, const float* g) {
        float* s = state(r);
        bad_value bad{};
        if constexpr (Storage::in_place) {
            auto* w = reinterpret_cast<float*>(row(r));
            optimizer_.step(w, g, s, dim_);
            bad = check("row", w, dim_);
        } else {
            read(r, scratch_.data());
            optimizer_.step(scratch_.data(), g, s, dim_);
            bad = check("row", scratch_.data(), dim_);
            if (!bad.part) {
                write(r, scratch_.data());
                read(r, scratch_.data());  // beyond the storage's range the stored row is not finite
                bad = check("row as stored", scratch_.data(), dim_);
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
    std::vector<float> grads_;          // their gradients, dim_ floats each
    flat_id_map<std::uint32_t> slots_;  // row → index in pending_
    std::vector<std::byte> undo_;        // rows stepped in this update, then their states
    std::vector<std::size_t> undo_rows_;  // which rows, in the order logged
    rng undo_rounding_;                   // the rounding stream before apply_grads
    bool applied_ = false;                // apply_grads ran in this update
};

}  // namespace embtab::detail
