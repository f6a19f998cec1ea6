#pragma once
/// \file tables/mixed_dim_table.hpp Mixed-dimension embeddings (MDE, Ginart et al. 2019): ids
/// fall in consecutive blocks, block `b` keeps `n_b` rows of its own width `d_b ≤ d` and a
/// learned projection `P_b` (`d_b × d`) to the common output width `d`.

#include <Eigen/Core>
#include <Eigen/QR>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../detail/rng.hpp"
#include "../detail/row_store.hpp"
#include "../detail/table_base.hpp"
#include "../errors.hpp"
#include "../fwd.hpp"
#include "../io/byte_io.hpp"
#include "../matrix_view.hpp"
#include "../memory.hpp"
#include "../optim/sgd.hpp"
#include "../storage/f32.hpp"
#include "../traits.hpp"

namespace embtab {

/// One block of a mixed-dimension table: `rows` consecutive ids embedded in `dim` values.
struct mixed_dim_block {
    std::size_t rows = 0;  ///< number of ids in the block (at least 1)
    std::size_t dim = 0;   ///< the block's own width `d_b`, in `[1, d]`
};

/// A table whose id `i` of block `b` (ids `[start_b, start_b + n_b)`, blocks in order) has the
/// vector `E_b[i − start_b] · P_b`: rows `E_b` (`n_b × d_b`, in `Storage`) and a projection
/// `P_b` (`d_b × d`, fp32, no bias). Both learn through `update` / `update_pooled`, with the
/// same optimizer policy; duplicate ids and all uses of a projection are coalesced into one
/// optimizer step per row per batch.
template <class Storage, class Optimizer>
class mixed_dim_table : public detail::table_base<mixed_dim_table<Storage, Optimizer>> {
    static_assert(is_storage_v<Storage>,
                  "embtab::mixed_dim_table<Storage, Optimizer>: Storage must be a storage policy "
                  "(f32, f16, bf16, ...)");
    static_assert(is_optimizer_v<Optimizer>,
                  "embtab::mixed_dim_table<Storage, Optimizer>: Optimizer must be an optimizer "
                  "policy (sgd, adagrad, rowwise_adagrad, adam, ...)");

  public:
    /// The storage policy of the rows `E_b` (projections are always fp32).
    using storage_type = Storage;
    /// The optimizer policy of rows and projections.
    using optimizer_type = Optimizer;

    /// Largest block width `d_b`: lookups keep a block row in a stack buffer of this many floats
    /// (no allocation and no shared scratch, so `lookup` may run on many threads at once).
    static constexpr std::size_t max_block_dim = 1024;

    /// Blocks in id order, output width `dim`. Rows are uniform in ±sqrt(1/n_b) (as
    /// `full_table`), projections Xavier-uniform in ±sqrt(6/(d_b + d)), all drawn from `seed`.
    /// Throws `bad_parameter` for no blocks, a block of 0 rows, or `d_b` outside
    /// `[1, min(dim, max_block_dim)]`.
    mixed_dim_table(const std::vector<mixed_dim_block>& blocks, std::size_t dim,
                    Optimizer optimizer = {}, std::uint64_t seed = 0, Storage storage = {})
        : dim_(checked(blocks, dim)), row_scratch_(dim) {
        blocks_.reserve(blocks.size());
        starts_.reserve(blocks.size() + 1);
        starts_.push_back(0);
        for (std::size_t b = 0; b < blocks.size(); ++b) {
            const auto [n, db] = blocks[b];
            const std::uint64_t rows_seed = detail::derive_seed(seed, 2 * b + 2);
            const std::uint64_t proj_seed = detail::derive_seed(seed, 2 * b + 3);
            blocks_.push_back(
                block{detail::row_store<Storage, Optimizer>(n, db, storage, optimizer, rows_seed),
                      detail::row_store<f32, Optimizer>(db, dim, f32{}, optimizer, proj_seed),
                      std::vector<float>(db * dim, 0.0f), false, 0});
            block& blk = blocks_.back();
            blk.rows.fill_uniform(static_cast<float>(std::sqrt(1.0 / static_cast<double>(n))),
                                  rows_seed);
            blk.projection.fill_uniform(
                static_cast<float>(std::sqrt(6.0 / static_cast<double>(db + dim))), proj_seed);
            starts_.push_back(starts_.back() + n);
        }
    }

    /// Output width `d`.
    std::size_t dim() const noexcept { return dim_; }
    /// Number of ids (rows of all blocks).
    std::size_t rows() const noexcept { return static_cast<std::size_t>(starts_.back()); }
    /// Number of blocks.
    std::size_t blocks() const noexcept { return blocks_.size(); }
    /// Block `b`'s rows and width (`b < blocks()`, unchecked).
    mixed_dim_block block_spec(std::size_t b) const noexcept {
        return {blocks_[b].rows.rows(), blocks_[b].rows.dim()};
    }
    /// First id of block `b` (`b ≤ blocks()`; `block_start(blocks()) == rows()`), unchecked.
    std::uint64_t block_start(std::size_t b) const noexcept { return starts_[b]; }
    /// The block holding `id` (`id < rows()`, unchecked): a binary search over block starts.
    std::size_t block_of(std::uint64_t id) const noexcept {
        return static_cast<std::size_t>(std::upper_bound(starts_.begin() + 1, starts_.end(), id) -
                                        (starts_.begin() + 1));
    }

    /// Bytes of rows and projections (parameters), of their optimizer state, and (other) of
    /// the block starts and the per-block projection-gradient accumulators.
    memory_usage memory_bytes() const noexcept {
        memory_usage m = index_memory(blocks_.size());
        for (const block& blk : blocks_) m += block_memory(blk.rows.rows(), blk.rows.dim(), dim_);
        return m;
    }
    /// What `memory_bytes()` of a table of these blocks and width would be, without building it
    /// (the memory planner's cost model; specs are not checked).
    static memory_usage memory_for(const std::vector<mixed_dim_block>& blocks,
                                   std::size_t dim) noexcept {
        memory_usage m = index_memory(blocks.size());
        for (const mixed_dim_block& s : blocks) m += block_memory(s.rows, s.dim, dim);
        return m;
    }

    /// The optimizer (every block's rows and projection use a copy of it).
    const Optimizer& optimizer() const noexcept { return blocks_.front().rows.optimizer(); }
    /// Replaces the optimizer's hyper-parameters (e.g. `lr`) of every block; state is kept.
    void set_optimizer(const Optimizer& optimizer) {
        for (block& blk : blocks_) {
            blk.rows.optimizer() = optimizer;
            blk.projection.optimizer() = optimizer;
        }
    }

    /// A copy of block `b`'s rows `E_b` (`n_b × d_b`), decoded to fp32.
    row_matrix embeddings(std::size_t b) const {
        const block& blk = blocks_[checked_block(b)];
        row_matrix m(blk.rows.rows(), blk.rows.dim());
        for (std::size_t r = 0; r < blk.rows.rows(); ++r) blk.rows.read(r, m.row(r).data());
        return m;
    }
    /// Sets block `b`'s rows `E_b` from `values` (`n_b × d_b`) and resets their optimizer state.
    void set_embeddings(std::size_t b, matrix_view<const float> values) {
        block& blk = blocks_[checked_block(b)];
        detail::check_shape(values, blk.rows.rows(), blk.rows.dim(), "block rows", "block rows");
        for (std::size_t r = 0; r < blk.rows.rows(); ++r) {
            blk.rows.write(r, values.row(r));
            blk.rows.reset_state(r);
        }
    }
    /// A copy of block `b`'s projection `P_b` (`d_b × d`).
    row_matrix projection(std::size_t b) const {
        const block& blk = blocks_[checked_block(b)];
        row_matrix m(blk.projection.rows(), dim_);
        for (std::size_t k = 0; k < blk.projection.rows(); ++k)
            blk.projection.read(k, m.row(k).data());
        return m;
    }
    /// Sets block `b`'s projection `P_b` from `values` (`d_b × d`) and resets its optimizer
    /// state.
    void set_projection(std::size_t b, matrix_view<const float> values) {
        block& blk = blocks_[checked_block(b)];
        detail::check_shape(values, blk.projection.rows(), dim_, "projection", "block dimension");
        for (std::size_t k = 0; k < blk.projection.rows(); ++k) {
            blk.projection.write(k, values.row(k));
            blk.projection.reset_state(k);
        }
    }

    // Checkpoint hooks (see io/checkpoint.hpp). The projection-gradient accumulators are not
    // kept: they are zero between updates.

    /// The type signature checkpoints carry, e.g. `mixed_dim_table<f32,adam>`.
    static std::string signature() {
        return std::string("mixed_dim_table<") + Storage::name + "," + Optimizer::name + ">";
    }
    /// Writes the shape (dimension, blocks, then each block's rows and projection).
    void save_shape(io::writer& w) const {
        w.u64(dim_);
        w.u64(blocks_.size());
        for (const block& blk : blocks_) {
            blk.rows.save_shape(w);
            blk.projection.save_shape(w);
        }
    }
    /// Reads a shape written by `save_shape`; throws `bad_checkpoint` unless it is this one.
    void verify_shape(io::reader& r) const {
        r.expect("mixed dimension", dim_);
        r.expect("mixed-dimension blocks", blocks_.size());
        for (const block& blk : blocks_) {
            blk.rows.verify_shape(r);
            blk.projection.verify_shape(r);
        }
    }
    /// Writes each block's rows and projection with their optimizer state and generators.
    void save_state(io::writer& w) const {
        for (const block& blk : blocks_) {
            blk.rows.save_state(w);
            blk.projection.save_state(w);
        }
    }
    /// Reads what `save_state` wrote (may leave the table half-read when it throws:
    /// `load_bytes` loads into a copy).
    void load_state(io::reader& r) {
        for (block& blk : blocks_) {
            blk.rows.load_state(r);
            blk.projection.load_state(r);
        }
    }

    // Per-id kernel (unchecked): what table_base builds the interface on, and what tables
    // composed of tables call on their parts. See detail/table_base.hpp.

    /// Ids must be below this.
    std::uint64_t id_limit() const noexcept { return starts_.back(); }
    /// Starts loading the row of `id` (projections are small and stay in cache).
    void prefetch(std::uint64_t id) const noexcept {
        const std::size_t b = block_of(id);
        blocks_[b].rows.prefetch(static_cast<std::size_t>(id - starts_[b]));
    }
    /// `out[0..dim) = E_b[local] · P_b`.
    void embed(std::uint64_t id, float* out) const noexcept {
        std::fill(out, out + dim_, 0.0f);
        embed_add(id, 1.0f, out);
    }
    /// `acc[0..dim) += w · E_b[local] · P_b`: row `k` of `P_b` scaled by `w · E_b[local][k]`.
    void embed_add(std::uint64_t id, float w, float* acc) const noexcept {
        const std::size_t b = block_of(id);
        const block& blk = blocks_[b];
        std::array<float, max_block_dim> e;  // per call: no shared scratch in a const method
        blk.rows.read(static_cast<std::size_t>(id - starts_[b]), e.data());
        for (std::size_t k = 0; k < blk.rows.dim(); ++k) blk.projection.read_add(k, w * e[k], acc);
    }
    /// Queues the gradients of `scale · g` (w.r.t. `id`'s vector): `scale · g · P_bᵀ` for the
    /// row `E_b[local]`, and `scale · E_b[local]ᵀ · g` summed into `P_b`'s accumulator. Both
    /// use the parameters as they were before this batch's step.
    void backward(std::uint64_t id, const float* g, float scale, std::size_t at) {
        const std::size_t b = block_of(id);
        block& blk = blocks_[b];
        const auto local = static_cast<std::size_t>(id - starts_[b]);
        const std::size_t db = blk.rows.dim();
        blk.rows.add_grad_with(local, at, [&](float* slot) {
            for (std::size_t k = 0; k < db; ++k) {
                blk.projection.read(k, row_scratch_.data());
                float dot = 0.0f;
                for (std::size_t j = 0; j < dim_; ++j) dot += row_scratch_[j] * g[j];
                slot[k] += scale * dot;
            }
        });
        blk.rows.read(local, row_scratch_.data());  // E_b[local], d_b ≤ dim values
        for (std::size_t k = 0; k < db; ++k) {
            const float c = scale * row_scratch_[k];
            float* acc = blk.projection_grad.data() + k * dim_;
            for (std::size_t j = 0; j < dim_; ++j) acc[j] += c * g[j];
        }
        if (!blk.touched) blk.first_at = at;
        blk.touched = true;
    }
    /// Applies the queued gradients: one optimizer step per distinct row of `E_b`, and one per
    /// row of each projection that received a gradient in this batch.
    template <class Threads = serial>
    void finish_update(nonfinite_policy p, Threads&& threads = {}) {
        for (block& blk : blocks_) {
            blk.rows.apply_grads(p, threads);
            if (!blk.touched) continue;
            for (std::size_t k = 0; k < blk.projection.rows(); ++k)
                blk.projection.add_grad(k, blk.projection_grad.data() + k * dim_, 1.0f,
                                        blk.first_at);
            blk.projection.apply_grads(p, threads);
        }
    }
    /// Keeps the update of every block, or undoes it.
    void end_update(bool keep) noexcept {
        for (block& blk : blocks_) {
            blk.rows.end_update(keep);
            blk.projection.end_update(keep);
            if (!blk.touched) continue;
            std::fill(blk.projection_grad.begin(), blk.projection_grad.end(), 0.0f);
            blk.touched = false;
        }
    }
    /// Makes `id`'s vector as close as its block allows to `values`: `E_b[local]` becomes the
    /// (minimum-norm) least-squares solution of `E_b[local] · P_b = values`, with fresh
    /// optimizer state; `P_b` is unchanged (it is shared by the block). The new vector is the
    /// orthogonal projection of `values` onto the row space of `P_b` — exactly `values` when
    /// `d_b = d` and `P_b` is invertible, or when `values` is in that row space. Not a hot path:
    /// it allocates.
    void assign(std::uint64_t id, const float* values) {
        const std::size_t b = block_of(id);
        block& blk = blocks_[b];
        const auto local = static_cast<std::size_t>(id - starts_[b]);
        const row_matrix p = projection(b);
        const Eigen::VectorXf v = Eigen::Map<const Eigen::VectorXf>(values, dim_);
        const Eigen::VectorXf e = p.transpose().completeOrthogonalDecomposition().solve(v);
        blk.rows.write(local, e.data());
        blk.rows.reset_state(local);
    }

  private:
    struct block {
        detail::row_store<Storage, Optimizer> rows;    // E_b: n_b × d_b
        detail::row_store<f32, Optimizer> projection;  // P_b: d_b rows of width d
        std::vector<float> projection_grad;            // d_b × d, summed over the batch
        bool touched;                                  // projection_grad holds a gradient
        std::size_t first_at;                          // batch position of its first gradient
    };

    /// Checks the block specs (before any allocation); returns `dim`.
    static std::size_t checked(const std::vector<mixed_dim_block>& blocks, std::size_t dim) {
        if (dim == 0)
            detail::fail<bad_parameter>(
                "a mixed-dimension table needs a dimension of at least 1; got 0");
        if (blocks.empty())
            detail::fail<bad_parameter>(
                "a mixed-dimension table needs at least one block; got none");
        const std::size_t max_db = std::min(dim, max_block_dim);
        std::uint64_t total = 0;
        for (std::size_t b = 0; b < blocks.size(); ++b) {
            const auto [n, db] = blocks[b];
            if (n == 0)
                detail::fail<bad_parameter>("block ", b,
                                            " has 0 rows; every block needs at least 1");
            if (db == 0 || db > max_db)
                detail::fail<bad_parameter>(
                    "block ", b, " has dimension ", db, "; it must be in [1, ", max_db, "]",
                    dim > max_block_dim ? " (mixed_dim_table::max_block_dim)"
                                        : " (the table dimension)");
            if (n > std::uint64_t(-1) - total)
                detail::fail<bad_parameter>("block ", b, " with ", n,
                                            " rows overflows the 64-bit id range");
            total += n;
        }
        return dim;
    }
    std::size_t checked_block(std::size_t b) const {
        if (b >= blocks_.size())
            detail::fail<bad_parameter>("block ", b, " is outside [0, ", blocks_.size(), ")");
        return b;
    }
    /// Bytes of one block: rows and projection (parameters), their optimizer state, and the
    /// projection-gradient accumulator (other).
    static memory_usage block_memory(std::size_t n, std::size_t db, std::size_t dim) noexcept {
        return {n * Storage::row_bytes(db) + db * f32::row_bytes(dim),
                (n * Optimizer::state_size(db) + db * Optimizer::state_size(dim)) * sizeof(float),
                db * dim * sizeof(float)};
    }
    /// Bytes of the block starts.
    static memory_usage index_memory(std::size_t blocks) noexcept {
        return {0, 0, (blocks + 1) * sizeof(std::uint64_t)};
    }

    std::size_t dim_;
    std::vector<block> blocks_;
    std::vector<std::uint64_t> starts_;  // blocks()+1 entries: first id of each block, then rows()
    std::vector<float> row_scratch_;     // dim floats, used by backward (non-const) only
};

/// A `mixed_dim_table<Storage, Optimizer>`, the optimizer type deduced from the argument.
template <class Storage = f32, class Optimizer = sgd>
mixed_dim_table<Storage, Optimizer> make_mixed_dim_table(const std::vector<mixed_dim_block>& blocks,
                                                         std::size_t dim, Optimizer optimizer = {},
                                                         std::uint64_t seed = 0,
                                                         Storage storage = {}) {
    return mixed_dim_table<Storage, Optimizer>(blocks, dim, std::move(optimizer), seed,
                                               std::move(storage));
}

}  // namespace embtab
