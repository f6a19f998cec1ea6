#pragma once
// Plain scalar reference implementations the tests compare the library against. They are
// written independently of the library (double precision, std::map coalescing, no shared code).

#include <embtab/embtab.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

namespace ref {

/// `n` ids uniform in [0, rows).
inline std::vector<std::int64_t> random_ids(std::mt19937& gen, std::size_t n, std::size_t rows) {
    std::uniform_int_distribution<std::int64_t> d(0, static_cast<std::int64_t>(rows) - 1);
    std::vector<std::int64_t> ids(n);
    for (auto& id : ids) id = d(gen);
    return ids;
}

/// `n` values uniform in [lo, hi).
inline std::vector<float> random_floats(std::mt19937& gen, std::size_t n, float lo = -1, float hi = 1) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(gen);
    return v;
}

/// Every row of a table with ids [0, rows), read through the public `lookup`.
template <class Table>
std::vector<float> snapshot(const Table& t, std::size_t rows) {
    std::vector<std::int64_t> ids(rows);
    for (std::size_t i = 0; i < rows; ++i) ids[i] = static_cast<std::int64_t>(i);
    std::vector<float> out(rows * t.dim());
    t.lookup(ids, embtab::matrix_view<float>(out.data(), rows, t.dim()));
    return out;
}

/// EmbeddingBag over a dense row-major table `w` (PyTorch's definition).
inline std::vector<double> pooled(const std::vector<float>& w, std::size_t dim,
                                  const std::vector<std::int64_t>& ids,
                                  const std::vector<std::int64_t>& offsets,
                                  const std::vector<float>& weights, bool mean) {
    const std::size_t bags = offsets.size() - 1;
    std::vector<double> out(bags * dim, 0.0);
    for (std::size_t b = 0; b < bags; ++b) {
        const auto len = offsets[b + 1] - offsets[b];
        for (auto i = offsets[b]; i < offsets[b + 1]; ++i) {
            const double wi = weights.empty() ? 1.0 : weights[i];
            for (std::size_t j = 0; j < dim; ++j)
                out[b * dim + j] += wi * w[ids[i] * dim + j];
        }
        if (mean && len > 0)
            for (std::size_t j = 0; j < dim; ++j) out[b * dim + j] /= static_cast<double>(len);
    }
    return out;
}

/// Sums per-id gradients (rows of `g`, scaled by `scale[i]`) into one gradient per distinct id.
inline std::map<std::int64_t, std::vector<double>> coalesce(const std::vector<std::int64_t>& ids,
                                                            const std::vector<float>& g,
                                                            std::size_t dim,
                                                            const std::vector<double>& scale) {
    std::map<std::int64_t, std::vector<double>> sum;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        auto& s = sum[ids[i]];
        s.resize(dim, 0.0);
        for (std::size_t j = 0; j < dim; ++j) s[j] += scale[i] * g[i * dim + j];
    }
    return sum;
}

/// Reference optimizers: one step of a row `w` with gradient `g`, state kept by the caller.
struct sgd_ref {
    double lr;
    explicit sgd_ref(const embtab::sgd& o) : lr(o.lr) {}
    void step(std::vector<double>& w, const std::vector<double>& g, std::vector<double>&) const {
        for (std::size_t j = 0; j < w.size(); ++j) w[j] = w[j] - lr * g[j];
    }
};
struct adagrad_ref {
    double lr, eps, h0;
    explicit adagrad_ref(const embtab::adagrad& o) : lr(o.lr), eps(o.eps), h0(o.initial_accumulator) {}
    void step(std::vector<double>& w, const std::vector<double>& g, std::vector<double>& h) const {
        if (h.empty()) h.assign(w.size(), h0);
        for (std::size_t j = 0; j < w.size(); ++j) {
            h[j] = h[j] + g[j] * g[j];
            w[j] = w[j] - lr * g[j] / (std::sqrt(h[j]) + eps);
        }
    }
};
struct rowwise_adagrad_ref {
    double lr, eps, h0;
    explicit rowwise_adagrad_ref(const embtab::rowwise_adagrad& o)
        : lr(o.lr), eps(o.eps), h0(o.initial_accumulator) {}
    void step(std::vector<double>& w, const std::vector<double>& g, std::vector<double>& h) const {
        if (h.empty()) h.assign(1, h0);
        double mean_sq = 0;
        for (double x : g) mean_sq += x * x / static_cast<double>(g.size());
        h[0] += mean_sq;
        for (std::size_t j = 0; j < w.size(); ++j) w[j] -= lr * g[j] / (std::sqrt(h[0]) + eps);
    }
};
struct adam_ref {
    double lr, b1, b2, eps;
    explicit adam_ref(const embtab::adam& o) : lr(o.lr), b1(o.beta1), b2(o.beta2), eps(o.eps) {}
    // state: m (dim), v (dim), t
    void step(std::vector<double>& w, const std::vector<double>& g, std::vector<double>& s) const {
        const std::size_t d = w.size();
        if (s.empty()) s.assign(2 * d + 1, 0.0);
        const double t = s[2 * d] += 1;
        for (std::size_t j = 0; j < d; ++j) {
            s[j] = b1 * s[j] + (1 - b1) * g[j];
            s[d + j] = b2 * s[d + j] + (1 - b2) * g[j] * g[j];
            const double mhat = s[j] / (1 - std::pow(b1, t));
            const double vhat = s[d + j] / (1 - std::pow(b2, t));
            w[j] -= lr * mhat / (std::sqrt(vhat) + eps);
        }
    }
};

template <class Opt> struct ref_of;
template <> struct ref_of<embtab::sgd> { using type = sgd_ref; };
template <> struct ref_of<embtab::adagrad> { using type = adagrad_ref; };
template <> struct ref_of<embtab::rowwise_adagrad> { using type = rowwise_adagrad_ref; };
template <> struct ref_of<embtab::adam> { using type = adam_ref; };

/// A dense fp64 model of a table: rows, per-row optimizer state, and `update` with coalescing.
template <class Opt>
struct dense_model {
    std::size_t dim;
    std::vector<double> w;
    std::map<std::int64_t, std::vector<double>> state;
    typename ref_of<Opt>::type opt;

    dense_model(const std::vector<float>& init, std::size_t dim_, const Opt& o)
        : dim(dim_), w(init.begin(), init.end()), opt(o) {}

    void update(const std::vector<std::int64_t>& ids, const std::vector<float>& g,
                const std::vector<double>& scale) {
        for (auto& [id, grad] : coalesce(ids, g, dim, scale)) {
            std::vector<double> row(w.begin() + id * dim, w.begin() + (id + 1) * dim);
            opt.step(row, grad, state[id]);
            std::copy(row.begin(), row.end(), w.begin() + id * dim);
        }
    }
};

/// Largest error that storing `row[j]` (of a row of `dim` values) in `Storage` may add:
/// one spacing of the 16-bit format near it, or one quantization step of the row.
template <class Storage>
double rounding_tolerance(const double* row, std::size_t dim, std::size_t j) {
    const double a = std::fabs(row[j]);
    if constexpr (std::is_same_v<Storage, embtab::f16>)
        return std::max(std::ldexp(1.0, -24), std::ldexp(a, -10));
    else if constexpr (std::is_same_v<Storage, embtab::bf16>)
        return std::max(std::ldexp(1.0, -133), std::ldexp(a, -7));
    else if constexpr (std::is_same_v<Storage, embtab::f32>)
        return std::ldexp(a, -22);
    else {
        const auto [lo, hi] = std::minmax_element(row, row + dim);
        return (*hi - *lo) / Storage::max_code * 1.0001 + 1e-7;
    }
}

}  // namespace ref
