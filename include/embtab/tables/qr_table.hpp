#pragma once
/// \file tables/qr_table.hpp Quotient–remainder compositional embeddings (Shi et al., KDD 2020):
/// id → (id / c, id mod c), two small tables, and a combiner; optionally over a scrambled id
/// space, so that neighbouring ids do not share a quotient row.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/float_arena.hpp"
#include "../detail/table_base.hpp"
#include "../detail/validate.hpp"
#include "../errors.hpp"
#include "../fwd.hpp"
#include "../hash/permutation.hpp"
#include "../io/byte_io.hpp"
#include "../memory.hpp"
#include "../traits.hpp"
#include "full_table.hpp"

namespace embtab {

/// How a `qr_table` combines the quotient row `Q[id / c]` and the remainder row `R[id mod c]`.
enum class qr_combine {
    product,  ///< element-wise product (the paper's best); both tables have dimension d
    sum,      ///< element-wise sum; both tables have dimension d
    concat    ///< `[Q[q], R[r]]`: dimension d_q + d_r
};

namespace detail {

/// `n` floats for one call: on the stack up to `inline_size`, else on the heap (very wide rows
/// only). Lets const kernels need scratch without shared mutable state (thread-safe lookups).
template <std::size_t inline_size>
class call_scratch {
public:
    /// Room for `n` floats.
    explicit call_scratch(std::size_t n) {
        if (n > inline_size) heap_ = std::make_unique<float[]>(n);
    }
    /// The buffer.
    float* data() noexcept { return heap_ ? heap_.get() : inline_; }

private:
    float inline_[inline_size];
    std::unique_ptr<float[]> heap_;
};

}  // namespace detail

/// Ids `[0, n)` embedded through two tables: `q = id / c` indexes `QTable` (at least
/// `ceil(n/c)` ids), `r = id mod c` indexes `RTable` (at least `c` ids); the vector is
/// `Q[q] ⊙ R[r]`, `Q[q] + R[r]`, or `[Q[q], R[r]]`. `update` applies the chain rule: for the
/// product, ∂Q[q] = g ⊙ R[r] and ∂R[r] = g ⊙ Q[q] with the values before this update.
///
/// `assign(id, v)` makes the vector of `id` equal `v`: product sets `Q[q] = v`, `R[r] = 1`;
/// sum sets `Q[q] = v`, `R[r] = 0`; concat sets both halves. Every id sharing `q` or `r`
/// changes with it. Lookups use no shared scratch (rows up to 256 values stay on the stack),
/// so concurrent const calls are as safe as the sub-tables' own.
template <class QTable, class RTable>
class qr_table : public detail::table_base<qr_table<QTable, RTable>> {
    static_assert(is_table_v<QTable> && is_table_v<RTable>,
                  "embtab::qr_table<QTable, RTable>: both parts must be tables");

public:
    /// The quotient table type.
    using q_table_type = QTable;
    /// The remainder table type.
    using r_table_type = RTable;

    /// Ids `[0, n)` with `c` remainders (`collisions`), parts `q` and `r` combined by `combine`.
    /// With `scramble`, an id is first mapped by the permutation of `[0, n)` drawn by
    /// `scramble_key` (hash/permutation.hpp): ids `k·c … k·c + c − 1` — in a global id space
    /// made of consecutive field ranges, often a whole small field — no longer share `Q[k]`,
    /// and every id still has its own (q, r) pair.
    qr_table(std::uint64_t n, std::uint64_t c, QTable q, RTable r,
             qr_combine combine = qr_combine::product, bool scramble = false,
             std::uint64_t scramble_key = 0)
        : n_(n), c_(c), combine_(combine),
          perm_(scramble ? id_permutation(n, scramble_key) : id_permutation()),
          q_(std::move(q)), r_(std::move(r)) {
        if (n == 0) detail::fail<bad_parameter>("qr_table: n (ids) is 0; it must be at least 1");
        if (c == 0) detail::fail<bad_parameter>("qr_table: c (remainders) is 0; it must be at least 1");
        const std::uint64_t quotients = (n - 1) / c + 1;
        if (q_.id_limit() < quotients)
            detail::fail<bad_parameter>("qr_table: the quotient table takes ids below ",
                                        q_.id_limit(), "; ", n, " ids with c = ", c, " need ",
                                        quotients);
        if (r_.id_limit() < c)
            detail::fail<bad_parameter>("qr_table: the remainder table takes ids below ",
                                        r_.id_limit(), "; c = ", c, " needs ", c);
        if (combine != qr_combine::concat && q_.dim() != r_.dim())
            detail::fail<bad_parameter>("qr_table: product and sum need equal dimensions; the "
                                        "quotient table has ",
                                        q_.dim(), ", the remainder table ", r_.dim());
        values_.resize(dim());
    }

    /// Output width: d, or d_q + d_r for concat.
    std::size_t dim() const noexcept {
        return combine_ == qr_combine::concat ? q_.dim() + r_.dim() : q_.dim();
    }
    /// n: ids are below it.
    std::uint64_t ids() const noexcept { return n_; }
    /// c: the number of remainders.
    std::uint64_t collisions() const noexcept { return c_; }
    /// The combiner.
    qr_combine combine() const noexcept { return combine_; }
    /// The permutation applied to ids before they are split (the identity unless scrambled).
    const id_permutation& scramble() const noexcept { return perm_; }
    /// The quotient table.
    const QTable& q_table() const noexcept { return q_; }
    /// The remainder table.
    const RTable& r_table() const noexcept { return r_; }
    /// Calls `f(q_table, r_table)` with both parts mutable, holding this table as an update
    /// does (the threading rule): the one way to change a part in place.
    template <class F>
    decltype(auto) modify_parts(F&& f) {
        [[maybe_unused]] const auto guard = this->exclusive();
        return f(q_, r_);
    }
    /// Bytes of both parts.
    memory_usage memory_bytes() const noexcept { return q_.memory_bytes() + r_.memory_bytes(); }

    // Checkpoint hooks (see io/checkpoint.hpp): its own shape, then the parts'.

    /// The type signature checkpoints carry, e.g. `qr_table<full_table<f32,sgd>,full_table<f32,sgd>>`.
    static std::string signature() {
        return "qr_table<" + QTable::signature() + "," + RTable::signature() + ">";
    }
    /// Writes the shape (n, c, combiner), then the parts'.
    void save_shape(io::writer& w) const {
        w.u64(n_);
        w.u64(c_);
        w.u64(static_cast<std::uint64_t>(combine_));
        w.u64(perm_.identity() ? 0 : 1);
        w.u64(perm_.key());
        q_.save_shape(w);
        r_.save_shape(w);
    }
    /// Reads a shape written by `save_shape`; throws `bad_checkpoint` unless it is this one.
    void verify_shape(io::reader& r) const {
        r.expect("qr ids", n_);
        r.expect("qr remainders", c_);
        r.expect("qr combiner", static_cast<std::uint64_t>(combine_));
        r.expect("qr scrambled", perm_.identity() ? 0 : 1);
        r.expect("qr scramble key", perm_.key());
        q_.verify_shape(r);
        r_.verify_shape(r);
    }
    /// Writes the state of the quotient table, then of the remainder table.
    void save_state(io::writer& w) const {
        q_.save_state(w);
        r_.save_state(w);
    }
    /// Reads what `save_state` wrote (may leave the table half-read when it throws:
    /// `load_bytes` loads into a copy).
    void load_state(io::reader& r) {
        q_.load_state(r);
        r_.load_state(r);
    }

    // Per-id kernel (unchecked), see detail/table_base.hpp.

    /// Ids must be below n.
    std::uint64_t id_limit() const noexcept { return n_; }
    /// Starts loading both rows of `id`.
    void prefetch(std::uint64_t id) const noexcept {
        const auto [q, r] = split(id);
        q_.prefetch(q);
        r_.prefetch(r);
    }
    /// `out[0..dim)` = vector of `id`.
    void embed(std::uint64_t id, float* out) const {
        const auto [q, r] = split(id);
        switch (combine_) {
            case qr_combine::product: {
                scratch row(r_.dim());
                q_.embed(q, out);
                r_.embed(r, row.data());
                for (std::size_t j = 0; j < r_.dim(); ++j) out[j] *= row.data()[j];
                break;
            }
            case qr_combine::sum:
                q_.embed(q, out);
                r_.embed_add(r, 1.0f, out);
                break;
            case qr_combine::concat:
                q_.embed(q, out);
                r_.embed(r, out + q_.dim());
                break;
        }
    }
    /// `acc[0..dim) += w ·` vector of `id`.
    void embed_add(std::uint64_t id, float w, float* acc) const {
        const auto [q, r] = split(id);
        switch (combine_) {
            case qr_combine::product: {
                const std::size_t d = q_.dim();
                scratch rows(2 * d);
                float* qv = rows.data();
                float* rv = qv + d;
                q_.embed(q, qv);
                r_.embed(r, rv);
                for (std::size_t j = 0; j < d; ++j) acc[j] += w * qv[j] * rv[j];
                break;
            }
            case qr_combine::sum:
                q_.embed_add(q, w, acc);
                r_.embed_add(r, w, acc);
                break;
            case qr_combine::concat:
                q_.embed_add(q, w, acc);
                r_.embed_add(r, w, acc + q_.dim());
                break;
        }
    }
    /// Queues the gradients of both rows of `id` for the output gradient `scale · g`.
    void backward(std::uint64_t id, const float* g, float scale, std::size_t at) {
        const auto [q, r] = split(id);
        switch (combine_) {
            case qr_combine::product: {
                // the parts read their gradients in finish_update: they wait in grads_
                const std::size_t d = q_.dim();
                float* dq = grads_.take(d);
                r_.embed(r, dq);  // ∂Q = g ⊙ R[r]
                for (std::size_t j = 0; j < d; ++j) dq[j] *= g[j];
                q_.backward(q, dq, scale, at);
                float* dr = grads_.take(d);
                q_.embed(q, dr);  // ∂R = g ⊙ Q[q] (updates wait for finish_update)
                for (std::size_t j = 0; j < d; ++j) dr[j] *= g[j];
                r_.backward(r, dr, scale, at);
                break;
            }
            case qr_combine::sum:
                q_.backward(q, g, scale, at);
                r_.backward(r, g, scale, at);
                break;
            case qr_combine::concat:
                q_.backward(q, g, scale, at);
                r_.backward(r, g + q_.dim(), scale, at);
                break;
        }
    }
    /// Applies the queued gradients of both parts.
    template <class Threads = serial>
    void finish_update(nonfinite_policy p, Threads&& threads = {}) {
        q_.finish_update(p, threads);
        r_.finish_update(p, threads);
    }
    /// Keeps the update of both parts, or undoes it.
    void end_update(bool keep) noexcept {
        q_.end_update(keep);
        r_.end_update(keep);
        grads_.clear();
    }
    /// Makes the vector of `id` equal `values` (see the class comment).
    void assign(std::uint64_t id, const float* values) {
        const auto [q, r] = split(id);
        if (combine_ == qr_combine::concat) {
            q_.assign(q, values);
            r_.assign(r, values + q_.dim());
            return;
        }
        q_.assign(q, values);
        std::fill(values_.begin(), values_.end(),
                  combine_ == qr_combine::product ? 1.0f : 0.0f);
        r_.assign(r, values_.data());
    }

private:
    using scratch = detail::call_scratch<512>;

    /// (quotient, remainder) of `id`'s place in the (scrambled) id space.
    std::pair<std::uint64_t, std::uint64_t> split(std::uint64_t id) const noexcept {
        const std::uint64_t x = perm_(id);
        return {x / c_, x % c_};
    }

    std::uint64_t n_, c_;
    qr_combine combine_;
    id_permutation perm_;
    QTable q_;
    RTable r_;
    detail::float_arena grads_;  // product gradients of the parts, until end_update
    std::vector<float> values_;  // assign's remainder row
};

/// A `qr_table` of two `full_table<Storage, Optimizer>` parts for ids `[0, n)` with `c`
/// remainders: Q has `ceil(n/c)` rows of `dq`, R has `c` rows of `dr` (`dr = dq` unless
/// concat). Q is seeded by `seed`, R by `seed + 1`; with `scramble` ids are permuted first
/// (key `seed + 2`).
template <class Storage = f32, class Optimizer = sgd>
qr_table<full_table<Storage, Optimizer>, full_table<Storage, Optimizer>> make_qr_table(
    std::uint64_t n, std::uint64_t c, std::size_t dq, qr_combine combine = qr_combine::product,
    Optimizer optimizer = {}, std::uint64_t seed = 0, Storage storage = {},
    std::size_t dr = 0, bool scramble = false) {
    using part = full_table<Storage, Optimizer>;
    if (n == 0) detail::fail<bad_parameter>("make_qr_table: n (ids) is 0; it must be at least 1");
    if (c == 0)
        detail::fail<bad_parameter>("make_qr_table: c (remainders) is 0; it must be at least 1");
    if (dr == 0 || combine != qr_combine::concat) dr = dq;
    return {n, c, part(static_cast<std::size_t>((n - 1) / c + 1), dq, optimizer, seed, storage),
            part(static_cast<std::size_t>(c), dr, optimizer, seed + 1, storage), combine,
            scramble, seed + 2};
}

}  // namespace embtab
