#pragma once
/// \file tables/full_table.hpp One row per id: the uncompressed baseline, in any storage.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "../detail/row_store.hpp"
#include "../detail/table_base.hpp"
#include "../fwd.hpp"
#include "../io/byte_io.hpp"
#include "../memory.hpp"
#include "../optim/sgd.hpp"
#include "../storage/f32.hpp"
#include "../traits.hpp"

namespace embtab {

/// A table of `rows × dim` parameters, one row per id in `[0, rows)`.
template <class Storage, class Optimizer>
class full_table : public detail::table_base<full_table<Storage, Optimizer>> {
    static_assert(is_storage_v<Storage>,
                  "embtab::full_table<Storage, Optimizer>: Storage must be a storage policy "
                  "(f32, f16, bf16, ...)");
    static_assert(is_optimizer_v<Optimizer>,
                  "embtab::full_table<Storage, Optimizer>: Optimizer must be an optimizer policy "
                  "(sgd, adagrad, rowwise_adagrad, adam, ...)");

public:
    /// The storage policy.
    using storage_type = Storage;
    /// The optimizer policy.
    using optimizer_type = Optimizer;

    /// `rows × dim` values uniform in ±sqrt(1/rows) (DLRM's initialisation) drawn from `seed`.
    full_table(std::size_t rows, std::size_t dim, Optimizer optimizer = {},
               std::uint64_t seed = 0, Storage storage = {})
        : store_(rows, dim, std::move(storage), std::move(optimizer), seed) {
        store_.fill_uniform(static_cast<float>(std::sqrt(1.0 / static_cast<double>(rows))), seed);
    }

    /// Output width.
    std::size_t dim() const noexcept { return store_.dim(); }
    /// Number of ids (rows).
    std::size_t rows() const noexcept { return store_.rows(); }
    /// Bytes of rows and optimizer state.
    memory_usage memory_bytes() const noexcept { return store_.memory(); }
    /// The optimizer, whose hyper-parameters (e.g. `lr`) may change between updates.
    Optimizer& optimizer() noexcept { return store_.optimizer(); }
    /// The optimizer.
    const Optimizer& optimizer() const noexcept { return store_.optimizer(); }
    /// Sets every row to `init(row, values)` (`values` has `dim()` zeros on entry) and resets
    /// the optimizer state.
    template <class Init>
    void initialize(Init&& init) {
        store_.fill(std::forward<Init>(init));
        for (std::size_t r = 0; r < rows(); ++r) store_.reset_state(r);
    }

    // Checkpoint hooks (see io/checkpoint.hpp); composite tables call them on their parts.

    /// The type signature checkpoints carry, e.g. `full_table<f16,adagrad>`.
    static std::string signature() {
        return std::string("full_table<") + Storage::name + "," + Optimizer::name + ">";
    }
    /// Writes the shape (rows, dimension).
    void save_shape(io::writer& w) const { store_.save_shape(w); }
    /// Reads a shape written by `save_shape`; throws `bad_checkpoint` unless it is this one.
    void verify_shape(io::reader& r) const { store_.verify_shape(r); }
    /// Writes rows, optimizer state and hyper-parameters, and the rounding generator.
    void save_state(io::writer& w) const { store_.save_state(w); }
    /// Reads what `save_state` wrote (may leave the table half-read when it throws:
    /// `load_bytes` loads into a copy).
    void load_state(io::reader& r) { store_.load_state(r); }

    // Per-id kernel (unchecked): what table_base builds the interface on, and what tables
    // composed of tables (QR, CAFE, ...) call on their parts. See detail/table_base.hpp.

    /// Ids must be below this.
    std::uint64_t id_limit() const noexcept { return store_.rows(); }
    /// Starts loading the row of `id`.
    void prefetch(std::uint64_t id) const noexcept { store_.prefetch(id); }
    /// `out[0..dim)` = vector of `id`.
    void embed(std::uint64_t id, float* out) const noexcept { store_.read(id, out); }
    /// `acc[0..dim) += w ·` vector of `id`.
    void embed_add(std::uint64_t id, float w, float* acc) const noexcept {
        store_.read_add(id, w, acc);
    }
    /// Calls `emit(row, w)` on the stored row of `id` (its vector is `w` times that row).
    template <class Emit>
    void rows_of(std::uint64_t id, float w, Emit&& emit) const noexcept {
        emit(store_.address(id), w);
    }
    /// Queues `scale · g` as the gradient of `id`'s vector.
    void backward(std::uint64_t id, const float* g, float scale, std::size_t at) {
        store_.add_grad(id, g, scale, at);
    }
    /// Applies the queued gradients (one optimizer step per distinct row).
    template <class Threads = serial>
    void finish_update(nonfinite_policy p, Threads&& threads = {}) {
        store_.apply_grads(p, threads);
    }
    /// Keeps the update, or undoes it.
    void end_update(bool keep) noexcept { store_.end_update(keep); }
    /// Sets the vector of `id` and gives it fresh optimizer state.
    void assign(std::uint64_t id, const float* values) {
        store_.write(id, values);
        store_.reset_state(id);
    }

private:
    detail::row_store<Storage, Optimizer> store_;
};

/// A `full_table<Storage, Optimizer>`, the optimizer type deduced from the argument.
template <class Storage = f32, class Optimizer = sgd>
full_table<Storage, Optimizer> make_full_table(std::size_t rows, std::size_t dim,
                                               Optimizer optimizer = {}, std::uint64_t seed = 0,
                                               Storage storage = {}) {
    return full_table<Storage, Optimizer>(rows, dim, std::move(optimizer), seed,
                                          std::move(storage));
}

}  // namespace embtab
