#pragma once
/// \file tables/hash_table.hpp Hash sharing: the hashing trick (k = 1) and multiple hashing
/// (k > 1): every id, however large, maps to `k` rows of a small table.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../detail/row_store.hpp"
#include "../detail/table_base.hpp"
#include "../detail/validate.hpp"
#include "../errors.hpp"
#include "../fwd.hpp"
#include "../hash/hashers.hpp"
#include "../io/byte_io.hpp"
#include "../memory.hpp"
#include "../optim/sgd.hpp"
#include "../storage/f32.hpp"
#include "../traits.hpp"

namespace embtab {

/// How a multi-hash table combines the `k` rows of an id.
enum class hash_combine {
    sum,  ///< the embedding is the sum of the k rows
    mean  ///< the embedding is the mean of the k rows
};

/// Parameters of a `hash_table`.
struct hash_table_options {
    std::size_t rows = 0;                     ///< m: rows of the (each) table
    std::size_t dim = 0;                      ///< d: values per row
    std::size_t hashes = 1;                   ///< k: hash functions (1 = the hashing trick)
    hash_combine combine = hash_combine::sum; ///< how the k rows are combined
    bool separate_tables = false;             ///< k tables of m rows (hash i → table i)
    std::uint64_t seed = 0;                   ///< hash i uses seed `seed + i`; also seeds init
};

/// `m` rows shared by all non-negative ids: hash `i` (of `k`) sends `id` to row
/// `Hasher{}(id, seed + i) % m` — of the one shared table, or of table `i` when
/// `separate_tables` (then rows `i·m .. i·m+m-1` of the store). The embedding is the sum (or
/// mean) of the `k` rows; `update` gives each row used the gradient (times 1/k for mean), and
/// gradients of different ids that collide on a row are summed before one optimizer step.
///
/// `assign(id, v)` sets each distinct row of `id` to `v/k` (sum) or `v` (mean), so that the
/// vector of `id` becomes `v` — even when two of its hashes collide — and resets those rows'
/// optimizer state. Other ids sharing those rows change too: that is what sharing means.
template <class Storage, class Optimizer, class Hasher>
class hash_table : public detail::table_base<hash_table<Storage, Optimizer, Hasher>> {
    static_assert(is_storage_v<Storage>,
                  "embtab::hash_table<Storage, Optimizer, Hasher>: Storage must be a storage policy");
    static_assert(is_optimizer_v<Optimizer>,
                  "embtab::hash_table<Storage, Optimizer, Hasher>: Optimizer must be an optimizer "
                  "policy");
    static_assert(is_hasher_v<Hasher>,
                  "embtab::hash_table<Storage, Optimizer, Hasher>: Hasher must be a hasher policy "
                  "(xxh3, mix64, ...)");

public:
    /// The storage policy.
    using storage_type = Storage;
    /// The optimizer policy.
    using optimizer_type = Optimizer;
    /// The hasher policy.
    using hasher_type = Hasher;

    /// A table as `opts` says, values uniform in ±sqrt(1/stored rows) drawn from `opts.seed`.
    explicit hash_table(const hash_table_options& opts, Optimizer optimizer = {},
                        Storage storage = {}, Hasher hasher = {})
        : opts_(checked(opts)),
          hasher_(std::move(hasher)),
          store_(stored_rows(opts_), opts_.dim, std::move(storage), std::move(optimizer),
                 opts_.seed),
          weight_(opts_.combine == hash_combine::mean ? 1.0f / static_cast<float>(opts_.hashes)
                                                      : 1.0f),
          scratch_(opts_.dim) {
        store_.fill_uniform(
            static_cast<float>(std::sqrt(1.0 / static_cast<double>(store_.rows()))), opts_.seed);
    }

    /// Output width.
    std::size_t dim() const noexcept { return opts_.dim; }
    /// m: rows of each table.
    std::size_t rows() const noexcept { return opts_.rows; }
    /// k: hash functions per id.
    std::size_t hashes() const noexcept { return opts_.hashes; }
    /// The parameters the table was built with.
    const hash_table_options& options() const noexcept { return opts_; }
    /// Bytes of rows and optimizer state (k·m rows with separate tables, else m).
    memory_usage memory_bytes() const noexcept { return store_.memory(); }
    /// The optimizer, whose hyper-parameters (e.g. `lr`) may change between updates.
    Optimizer& optimizer() noexcept { return store_.optimizer(); }
    /// The optimizer.
    const Optimizer& optimizer() const noexcept { return store_.optimizer(); }
    /// Row (of the store: `0 .. k·m` with separate tables) that hash `i` gives `id`.
    std::size_t row_of(std::uint64_t id, std::size_t i) const noexcept {
        const auto r = static_cast<std::size_t>(hasher_(id, opts_.seed + i) % opts_.rows);
        return opts_.separate_tables ? i * opts_.rows + r : r;
    }
    /// Sets every stored row to `init(row, values)` (`values` has `dim()` zeros on entry) and
    /// resets the optimizer state.
    template <class Init>
    void initialize(Init&& init) {
        store_.fill(std::forward<Init>(init));
        for (std::size_t r = 0; r < store_.rows(); ++r) store_.reset_state(r);
    }

    // Checkpoint hooks (see io/checkpoint.hpp); composite tables call them on their parts.

    /// The type signature checkpoints carry, e.g. `hash_table<f32,sgd,xxh3>`.
    static std::string signature() {
        return std::string("hash_table<") + Storage::name + "," + Optimizer::name + "," +
               Hasher::name + ">";
    }
    /// Writes the shape (rows, dimension, hashes, combiner, separate tables, stored rows).
    void save_shape(io::writer& w) const {
        w.u64(opts_.rows);
        w.u64(opts_.dim);
        w.u64(opts_.hashes);
        w.u64(static_cast<std::uint64_t>(opts_.combine));
        w.u64(opts_.separate_tables);
        store_.save_shape(w);
    }
    /// Reads a shape written by `save_shape`; throws `bad_checkpoint` unless it is this one.
    void verify_shape(io::reader& r) const {
        r.expect("hash rows", opts_.rows);
        r.expect("hash dimension", opts_.dim);
        r.expect("hashes", opts_.hashes);
        r.expect("hash combiner", static_cast<std::uint64_t>(opts_.combine));
        r.expect("separate hash tables", opts_.separate_tables);
        store_.verify_shape(r);
    }
    /// Writes the hash seed, the hasher's fields, then the rows as `full_table` does.
    void save_state(io::writer& w) const {
        w.u64(opts_.seed);
        io::save_fields(w, hasher_);
        store_.save_state(w);
    }
    /// Reads what `save_state` wrote (may leave the table half-read when it throws:
    /// `load_bytes` loads into a copy).
    void load_state(io::reader& r) {
        opts_.seed = r.u64("hash seed");
        io::load_fields(r, hasher_);
        store_.load_state(r);
    }

    // Per-id kernel (unchecked), see detail/table_base.hpp.

    /// Every non-negative id is valid.
    std::uint64_t id_limit() const noexcept { return detail::no_id_limit; }
    /// Starts loading the k rows of `id`.
    void prefetch(std::uint64_t id) const noexcept {
        for (std::size_t i = 0; i < opts_.hashes; ++i) store_.prefetch(row_of(id, i));
    }
    /// `out[0..dim)` = vector of `id`.
    void embed(std::uint64_t id, float* out) const noexcept {
        if (opts_.hashes == 1) return store_.read(row_of(id, 0), out);
        std::fill(out, out + opts_.dim, 0.0f);
        embed_add(id, 1.0f, out);
    }
    /// `acc[0..dim) += w ·` vector of `id`.
    void embed_add(std::uint64_t id, float w, float* acc) const noexcept {
        for (std::size_t i = 0; i < opts_.hashes; ++i)
            store_.read_add(row_of(id, i), w * weight_, acc);
    }
    /// Calls `emit(row, weight)` on each of the k rows of `id` (its vector times `w` is their
    /// weighted sum).
    template <class Emit>
    void rows_of(std::uint64_t id, float w, Emit&& emit) const noexcept {
        for (std::size_t i = 0; i < opts_.hashes; ++i)
            emit(store_.address(row_of(id, i)), w * weight_);
    }
    /// Queues `scale · g` (times 1/k for mean) as the gradient of each row of `id`.
    void backward(std::uint64_t id, const float* g, float scale, std::size_t at) {
        for (std::size_t i = 0; i < opts_.hashes; ++i)
            store_.add_grad(row_of(id, i), g, scale * weight_, at);
    }
    /// Applies the queued gradients (one optimizer step per distinct row).
    template <class Threads = serial>
    void finish_update(nonfinite_policy p, Threads&& threads = {}) {
        store_.apply_grads(p, threads);
    }
    /// Keeps the update, or undoes it.
    void end_update(bool keep) noexcept { store_.end_update(keep); }
    /// Makes the vector of `id` equal `values` (see the class comment) with fresh optimizer
    /// state for its rows.
    void assign(std::uint64_t id, const float* values) {
        const float* v = values;
        if (opts_.combine == hash_combine::sum && opts_.hashes > 1) {
            const float inv_k = 1.0f / static_cast<float>(opts_.hashes);
            for (std::size_t j = 0; j < opts_.dim; ++j) scratch_[j] = values[j] * inv_k;
            v = scratch_.data();
        }
        for (std::size_t i = 0; i < opts_.hashes; ++i) {
            store_.write(row_of(id, i), v);
            store_.reset_state(row_of(id, i));
        }
    }

private:
    static const hash_table_options& checked(const hash_table_options& o) {
        if (o.rows == 0) detail::fail<bad_parameter>("hash_table: rows is 0; it must be at least 1");
        if (o.dim == 0) detail::fail<bad_parameter>("hash_table: dim is 0; it must be at least 1");
        if (o.hashes == 0)
            detail::fail<bad_parameter>("hash_table: hashes (k) is 0; it must be at least 1");
        if (o.separate_tables && o.rows > std::size_t(-1) / o.hashes)
            detail::fail<bad_parameter>("hash_table: ", o.hashes, " separate tables of ", o.rows,
                                        " rows overflow the address space");
        return o;
    }
    static std::size_t stored_rows(const hash_table_options& o) noexcept {
        return o.separate_tables ? o.rows * o.hashes : o.rows;
    }

    hash_table_options opts_;
    Hasher hasher_;
    detail::row_store<Storage, Optimizer> store_;
    float weight_;               // 1, or 1/k for mean
    std::vector<float> scratch_; // assign's scaled values
};

/// A `hash_table<Storage, Optimizer, Hasher>`, optimizer and hasher deduced from the arguments.
template <class Storage = f32, class Optimizer = sgd, class Hasher = xxh3>
hash_table<Storage, Optimizer, Hasher> make_hash_table(const hash_table_options& opts,
                                                       Optimizer optimizer = {},
                                                       Storage storage = {}, Hasher hasher = {}) {
    return hash_table<Storage, Optimizer, Hasher>(opts, std::move(optimizer), std::move(storage),
                                                  std::move(hasher));
}

}  // namespace embtab
