#pragma once
/// \file detail/row_store.hpp The mechanism every table kind shares: rows in a storage policy,
/// their optimizer state, and a gradient buffer that coalesces duplicate rows before one
/// optimizer step per row.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "../errors.hpp"
#include "../io/byte_io.hpp"
#include "../memory.hpp"
#include "../traits.hpp"
#include "aligned_buffer.hpp"
#include "checked_size.hpp"
#include "flat_id_map.hpp"
#include "rng.hpp"

namespace embtab::detail {

/// `rows × dim` parameters kept by `Storage`, stepped by `Optimizer`. Gradients are queued with
/// `add_grad`, summed per row as they arrive, and applied by `apply_grads` (the result equals one
/// step with the summed gradient, as with PyTorch sparse gradients).
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

    /// Adds `scale · g` to the gradient queued for row `r`.
    void add_grad(std::size_t r, const float* g, float scale) {
        bool fresh;
        float* slot = slot_of(r, fresh);
        if (fresh)
            for (std::size_t j = 0; j < dim_; ++j) slot[j] = scale * g[j];
        else
            for (std::size_t j = 0; j < dim_; ++j) slot[j] += scale * g[j];
    }
    /// Lets `add(slot)` add a gradient into the `dim` floats queued for row `r` (zero when `r`
    /// has none yet).
    template <class Adder>
    void add_grad_with(std::size_t r, Adder&& add) {
        bool fresh;
        float* slot = slot_of(r, fresh);
        if (fresh) std::fill(slot, slot + dim_, 0.0f);
        add(slot);
    }
    /// Applies the queued gradients — one optimizer step per distinct row, in the order rows
    /// were first queued — then clears the queue.
    void apply_grads() {
        constexpr std::size_t ahead = 16;  // rows loaded ahead of their step (8 and 32 measured slower)
        for (std::size_t i = 0; i < pending_.size() && i < ahead; ++i) prefetch_step(pending_[i]);
        for (std::size_t i = 0; i < pending_.size(); ++i) {
            if (i + ahead < pending_.size()) prefetch_step(pending_[i + ahead]);
            step(pending_[i], grads_.data() + i * dim_);
        }
        pending_.clear();
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
    /// Reads what `save_state` wrote for a store of this shape.
    void load_state(io::reader& r) {
        io::load_fields(r, storage_);
        io::load_fields(r, optimizer_);
        rounding_.load_state(r);
        r.bytes(data_.data(), data_.size(), "rows");
        r.floats(states(), rows_ * state_size_, "optimizer state");
    }

private:
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
    float* slot_of(std::size_t r, bool& fresh) {
        auto i = slots_.find(r);
        fresh = i == slots_.npos;
        if (fresh) {
            i = static_cast<std::uint32_t>(pending_.size());
            slots_.insert_or_assign(r, i);
            pending_.push_back(r);
            grads_.resize(grads_.size() + dim_);
        }
        return grads_.data() + std::size_t(i) * dim_;
    }
    /// Starts loading row `r` and its optimizer state for a step.
    void prefetch_step(std::size_t r) const noexcept {
        prefetch(r);
        const float* s = states() + r * state_size_;
        for (std::size_t j = 0; j < state_size_; j += cache_line / sizeof(float))
            prefetch_line(s + j);
    }
    void step(std::size_t r, const float* g) {
        if constexpr (Storage::in_place) {
            optimizer_.step(reinterpret_cast<float*>(row(r)), g, state(r), dim_);
        } else {
            read(r, scratch_.data());
            optimizer_.step(scratch_.data(), g, state(r), dim_);
            write(r, scratch_.data());
        }
    }

    std::size_t rows_, dim_, row_bytes_, state_size_;
    Storage storage_;
    Optimizer optimizer_;
    rng rounding_;
    aligned_buffer data_;
    aligned_buffer state_;  // optimizer state, state_size_ floats a row (huge pages, as rows)
    std::vector<float> scratch_;
    std::vector<std::size_t> pending_;  // rows with a queued gradient, in arrival order
    std::vector<float> grads_;          // their gradients, dim_ floats each
    flat_id_map<std::uint32_t> slots_;  // row → index in pending_
};

}  // namespace embtab::detail
