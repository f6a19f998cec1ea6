#pragma once
/// \file examples/dlrm/dlrm.hpp A DLRM-style click model (Naumov et al. 2019) over one embtab
/// table: a bottom MLP on the dense features, the embedding vectors of the sparse fields, the
/// pairwise dot products of all of them, a top MLP to one logit, binary cross-entropy.
///
/// The model sees the table only through the shared interface, exactly as a user's training
/// code would: one `lookup(ids, out)` of `batch × fields` ids a step, and one
/// `update(ids, grads)` with the loss gradient w.r.t. the looked-up vectors. Which table it is
/// (full, hashed, CAFE, ...) is the caller's business (see methods.hpp).

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "mlp.hpp"

namespace embtab_dlrm {

/// Shape and initialisation of a `dlrm`.
struct dlrm_options {
    std::size_t dim = 16;                          ///< d: embedding and bottom-output width
    std::vector<std::size_t> bottom_hidden = {64}; ///< hidden widths of the bottom MLP
    std::vector<std::size_t> top_hidden = {64};    ///< hidden widths of the top MLP
    std::uint64_t seed = 1;                        ///< seeds both MLPs
};

/// DLRM with dot interaction: for each sample, `z_0` = bottom MLP of the dense features (ReLU
/// output, width d) and `z_1 … z_F` = the embedding vectors of its F sparse fields; the top MLP
/// (ReLU hidden layers, linear output) gets `[z_0, ⟨z_i, z_j⟩ for 0 ≤ j < i ≤ F]` (d + F(F+1)/2
/// values) and returns the click logit. The loss is the batch mean of the binary cross-entropy.
///
/// Ids are laid out sample by sample: ids `[s·F, s·F + F)` are the F fields of sample `s` (the
/// caller maps each field's value to the table's global id, e.g. field offset + value).
class dlrm {
public:
    /// A model of `fields` sparse fields and `dense` dense features.
    explicit dlrm(const dlrm_options& options, std::size_t fields = 26, std::size_t dense = 13)
        : dim_(checked_dim(options.dim)),
          fields_(fields),
          bottom_(sizes(dense, options.bottom_hidden, options.dim), true, options.seed),
          top_(sizes(options.dim + (fields + 1) * fields / 2, options.top_hidden, 1), false,
               options.seed ^ 0x5bd1e995u) {
        if (fields == 0) throw std::invalid_argument("dlrm: needs at least one sparse field");
    }

    /// d: width of the embedding vectors the table must give.
    std::size_t dim() const noexcept { return dim_; }
    /// F: sparse fields a sample.
    std::size_t fields() const noexcept { return fields_; }
    /// Dense features a sample.
    std::size_t dense_features() const noexcept { return bottom_.input_size(); }
    /// Pairwise dot products a sample: (F + 1)·F / 2.
    std::size_t interactions() const noexcept { return (fields_ + 1) * fields_ / 2; }
    /// The bottom MLP (dense features → d).
    mlp& bottom() noexcept { return bottom_; }
    /// The top MLP (d + interactions → 1).
    mlp& top() noexcept { return top_; }
    /// Weights and biases of both MLPs.
    std::size_t parameter_count() const noexcept {
        return bottom_.parameter_count() + top_.parameter_count();
    }

    /// The looked-up vectors of the last step (`batch·F × d`): `forward` reads them, `train_step`
    /// and `predict` fill them with one `lookup`.
    matrix& embeddings() noexcept { return embeddings_; }
    /// ∂loss/∂embeddings of the last `backward` (`batch·F × d`): what goes to `table.update`.
    const matrix& embedding_grad() const noexcept { return embedding_grad_; }

    /// Logits of `n` samples (into `logits[0..n)`) from their dense features (`n × dense`,
    /// row-major) and `embeddings()` (`n·F × d`). Keeps what `backward` needs.
    void forward(const float* dense, std::size_t n, float* logits) {
        if (static_cast<std::size_t>(embeddings_.rows()) != n * fields_ ||
            static_cast<std::size_t>(embeddings_.cols()) != dim_)
            throw std::invalid_argument(
                "dlrm::forward: embeddings are " + std::to_string(embeddings_.rows()) + " × " +
                std::to_string(embeddings_.cols()) + "; expected " + std::to_string(n * fields_) +
                " × " + std::to_string(dim_) + " for " + std::to_string(n) + " samples");
        const auto rows = static_cast<Eigen::Index>(n);
        const auto dense_cols = static_cast<Eigen::Index>(dense_features());
        dense_in_ = Eigen::Map<const matrix>(dense, rows, dense_cols);
        const matrix& x = bottom_.forward(dense_in_);  // n × d, stays valid until next forward
        bottom_out_ = x;
        top_in_.resize(rows, static_cast<Eigen::Index>(dim_ + interactions()));
        const std::size_t d = dim_, m = fields_ + 1, padded = (m + 7) / 8 * 8;
        zt_.assign(d * padded, 0.0f);
        gram_.resize(padded);
        for (std::size_t s = 0; s < n; ++s) {
            // z^T (d × padded): the products of z_i with all z_j, j < i, are then a sum over k
            // of z_i[k] · (row k of z^T) — contiguous, vectorisable, no reduction.
            for (std::size_t j = 0; j < m; ++j) {
                const float* zj = z(s, j);
                for (std::size_t k = 0; k < d; ++k) zt_[k * padded + j] = zj[k];
            }
            float* t = top_in_.row(static_cast<Eigen::Index>(s)).data();
            std::copy_n(z(s, 0), d, t);
            float* pair = t + d;
            for (std::size_t i = 1; i < m; ++i) {
                const float* zi = z(s, i);
                const std::size_t width = (i + 7) / 8 * 8;
                float* g = gram_.data();
                std::fill_n(g, width, 0.0f);
                for (std::size_t k = 0; k < d; ++k) {
                    const float a = zi[k];
                    const float* row = zt_.data() + k * padded;
                    for (std::size_t j = 0; j < width; ++j) g[j] += a * row[j];
                }
                pair = std::copy_n(g, i, pair);
            }
        }
        const matrix& out = top_.forward(top_in_);
        for (std::size_t s = 0; s < n; ++s) logits[s] = out(static_cast<Eigen::Index>(s), 0);
        logits_.assign(logits, logits + n);
    }

    /// Mean binary cross-entropy of the last `forward`'s logits against `labels` (0/1), and
    /// the gradients: of both MLPs (in their layers) and of the embeddings (`embedding_grad()`).
    /// The gradients are of the loss summed over the batch divided by `max(n, nominal_batch)`:
    /// the batch mean, except that a short last batch of an epoch weighs each of its samples as
    /// a full batch does (as a mean, its 8 samples would take a step as large as 256 samples).
    double backward(const float* labels, std::size_t nominal_batch = 0) {
        const std::size_t n = logits_.size();
        const double divisor = static_cast<double>(std::max(n, nominal_batch));
        const auto rows = static_cast<Eigen::Index>(n);
        grad_logit_.resize(rows, 1);
        double loss = 0;
        for (std::size_t s = 0; s < n; ++s) {
            const double zl = logits_[s], y = labels[s] > 0.5f ? 1.0 : 0.0;
            loss += std::max(zl, 0.0) + std::log1p(std::exp(-std::abs(zl))) - y * zl;
            const double p = 1.0 / (1.0 + std::exp(-zl));
            grad_logit_(static_cast<Eigen::Index>(s), 0) =
                static_cast<float>((p - y) / divisor);
        }
        top_.backward(grad_logit_, &grad_top_in_);
        const std::size_t d = dim_;
        grad_bottom_out_ = grad_top_in_.leftCols(static_cast<Eigen::Index>(d));
        embedding_grad_.resize(static_cast<Eigen::Index>(n * fields_), static_cast<Eigen::Index>(d));
        const std::size_t m = fields_ + 1;
        sym_.resize(m * m);
        zs_.resize(m * d);
        for (std::size_t s = 0; s < n; ++s) {
            // S (m × m): S_ij = S_ji = ∂loss/∂⟨z_i, z_j⟩, zero diagonal; then ∂z_i = Σ_j S_ij z_j.
            const float* g = grad_top_in_.row(static_cast<Eigen::Index>(s)).data() + d;
            for (std::size_t i = 0; i < m; ++i) {
                sym_[i * m + i] = 0.0f;
                for (std::size_t j = 0; j < i; ++j) sym_[i * m + j] = sym_[j * m + i] = *g++;
                std::copy_n(z(s, i), d, zs_.data() + i * d);
            }
            for (std::size_t i = 0; i < m; ++i) {
                float* gi = dz(s, i);
                if (i > 0) std::fill_n(gi, d, 0.0f);  // z_0's gradient already holds the top part
                const float* si = sym_.data() + i * m;
                for (std::size_t j = 0; j < m; ++j) {
                    const float a = si[j];
                    const float* zj = zs_.data() + j * d;
                    for (std::size_t k = 0; k < d; ++k) gi[k] += a * zj[k];
                }
            }
        }
        bottom_.backward(grad_bottom_out_);
        return loss / static_cast<double>(n);
    }

    /// One training step on `n` samples: one `table.lookup` of the `n·F` ids, forward,
    /// backward, an SGD step of both MLPs with rate `lr`, one `table.update` with the gradient
    /// w.r.t. the looked-up vectors (the table's own optimizer steps its rows). Returns the loss;
    /// when it is not finite, nothing is stepped.
    /// `nominal_batch` as in `backward`.
    template <class Table, class Ids>
    double train_step(Table& table, const float* dense, const Ids& ids, const float* labels,
                      std::size_t n, float lr, std::size_t nominal_batch = 0) {
        lookup(table, ids, n);
        logit_buffer_.resize(n);
        forward(dense, n, logit_buffer_.data());
        const double loss = backward(labels, nominal_batch);
        if (!std::isfinite(loss)) return loss;  // diverged: the caller decides; nothing is changed
        bottom_.sgd_step(lr);
        top_.sgd_step(lr);
        table.update(ids, embedding_grad_);
        return loss;
    }

    /// Logits of `n` samples (into `logits[0..n)`), one `table.lookup`; the table is unchanged.
    template <class Table, class Ids>
    void predict(const Table& table, const float* dense, const Ids& ids, std::size_t n,
                 float* logits) {
        lookup(table, ids, n);
        forward(dense, n, logits);
    }

private:
    static std::size_t checked_dim(std::size_t d) {
        if (d == 0) throw std::invalid_argument("dlrm: dim is 0; it must be at least 1");
        return d;
    }
    static std::vector<std::size_t> sizes(std::size_t in, const std::vector<std::size_t>& hidden,
                                          std::size_t out) {
        std::vector<std::size_t> s{in};
        s.insert(s.end(), hidden.begin(), hidden.end());
        s.push_back(out);
        return s;
    }
    template <class Table, class Ids>
    void lookup(const Table& table, const Ids& ids, std::size_t n) {
        if (table.dim() != dim_)
            throw std::invalid_argument("dlrm: the table gives vectors of " +
                                        std::to_string(table.dim()) + " values; the model needs " +
                                        std::to_string(dim_));
        embeddings_.resize(static_cast<Eigen::Index>(n * fields_), static_cast<Eigen::Index>(dim_));
        table.lookup(ids, embeddings_);
    }
    // z_i of sample s: the bottom output (i = 0) or the embedding of field i − 1.
    const float* z(std::size_t s, std::size_t i) const noexcept {
        return i == 0 ? bottom_out_.row(static_cast<Eigen::Index>(s)).data()
                      : embeddings_.row(static_cast<Eigen::Index>(s * fields_ + i - 1)).data();
    }
    float* dz(std::size_t s, std::size_t i) noexcept {
        return i == 0 ? grad_bottom_out_.row(static_cast<Eigen::Index>(s)).data()
                      : embedding_grad_.row(static_cast<Eigen::Index>(s * fields_ + i - 1)).data();
    }

    std::size_t dim_;
    std::size_t fields_;
    mlp bottom_;
    mlp top_;
    matrix dense_in_, bottom_out_, embeddings_, top_in_;
    matrix grad_logit_, grad_top_in_, grad_bottom_out_, embedding_grad_;
    std::vector<float> logits_, logit_buffer_;
    std::vector<float> zt_, gram_, sym_, zs_;  // interaction scratch
};

}  // namespace embtab_dlrm
