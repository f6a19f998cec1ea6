// qr_table: lookups and updates against plain loops over the two parts' rows, gradients of the
// product by finite differences, assign, bad input, and quantized parts.
#include <embtab/embtab.hpp>
#include <embtab/tables/full_table.hpp>
#include <embtab/tables/hash_table.hpp>
#include <embtab/tables/qr_table.hpp>

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <type_traits>
#include <vector>

#include "catch.hpp"
#include "reference.hpp"

using namespace embtab;
using Catch::Matchers::ContainsSubstring;

static_assert(is_table_v<qr_table<>>);
static_assert(std::is_same_v<qr_table<>, qr_table<full_table<f32, sgd>, full_table<f32, sgd>>>);
static_assert(is_table_v<qr_table<full_table<int8_rowwise, adagrad>, full_table<f16, sgd>>>);
static_assert(is_table_v<qr_table<hash_table<>, full_table<>>>);  // any tables compose

namespace {

constexpr std::uint64_t kN = 103, kC = 10;  // Q: 11 rows, R: 10 rows
constexpr std::size_t kDim = 4;

/// Plain model of a QR table: rows of Q and R (read through the parts' public lookup).
struct qr_ref {
    qr_combine combine;
    std::size_t dq, dr;
    std::vector<double> q, r;

    template <class Table>
    explicit qr_ref(const Table& t)
        : combine(t.combine()), dq(t.q_table().dim()), dr(t.r_table().dim()) {
        const auto qs = ref::snapshot(t.q_table(), (kN + kC - 1) / kC);
        const auto rs = ref::snapshot(t.r_table(), kC);
        q.assign(qs.begin(), qs.end());
        r.assign(rs.begin(), rs.end());
    }
    std::size_t dim() const { return combine == qr_combine::concat ? dq + dr : dq; }
    std::vector<double> embed(std::uint64_t id) const {
        const std::uint64_t qi = id / kC, ri = id % kC;
        std::vector<double> v(dim());
        for (std::size_t j = 0; j < dq; ++j) {
            const double a = q[qi * dq + j];
            if (combine == qr_combine::product) v[j] = a * r[ri * dr + j];
            else if (combine == qr_combine::sum) v[j] = a + r[ri * dr + j];
            else v[j] = a;
        }
        if (combine == qr_combine::concat)
            for (std::size_t j = 0; j < dr; ++j) v[dq + j] = r[ri * dr + j];
        return v;
    }
    /// Gradients of Q rows and R rows for output gradients `g` (one row per id).
    void grads(const std::vector<std::int64_t>& ids, const std::vector<float>& g,
               std::map<std::uint64_t, std::vector<double>>& gq,
               std::map<std::uint64_t, std::vector<double>>& gr) const {
        const std::size_t d = dim();
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const std::uint64_t qi = std::uint64_t(ids[i]) / kC, ri = std::uint64_t(ids[i]) % kC;
            auto& a = gq[qi];
            auto& b = gr[ri];
            a.resize(dq, 0.0);
            b.resize(dr, 0.0);
            for (std::size_t j = 0; j < dq; ++j) {
                const double gj = g[i * d + j];
                if (combine == qr_combine::product) {
                    a[j] += gj * r[ri * dr + j];
                    b[j] += gj * q[qi * dq + j];
                } else if (combine == qr_combine::sum) {
                    a[j] += gj;
                    b[j] += gj;
                } else {
                    a[j] += gj;
                }
            }
            if (combine == qr_combine::concat)
                for (std::size_t j = 0; j < dr; ++j) b[j] += g[i * d + dq + j];
        }
    }
};

const std::vector<std::int64_t> kIds = {0, 9, 10, 11, 55, 99, 100, 102, 55, 37};

template <class Storage = f32, class Optimizer = sgd>
auto make(qr_combine c, Optimizer opt = {}, std::size_t dr = 0) {
    return make_qr_table<Storage, Optimizer>(kN, kC, kDim, c, opt, 5, Storage{}, dr);
}

}  // namespace

TEST_CASE("qr_table lookup and pooled lookup combine Q[id/c] and R[id mod c]", "[qr]") {
    for (auto combine : {qr_combine::product, qr_combine::sum, qr_combine::concat}) {
        INFO("combine " << int(combine));
        const auto t = make(combine, sgd{}, 3);
        const qr_ref ref(t);
        const std::size_t d = ref.dim();
        REQUIRE(t.dim() == d);
        REQUIRE(d == (combine == qr_combine::concat ? kDim + 3 : kDim));
        REQUIRE(t.id_limit() == kN);
        REQUIRE(t.memory_bytes().total() == (11 * kDim + 10 * (d - (combine == qr_combine::concat ? kDim : 0))) * 4);
        row_matrix out(kIds.size(), d);
        t.lookup(kIds, out);
        for (std::size_t i = 0; i < kIds.size(); ++i) {
            const auto e = ref.embed(std::uint64_t(kIds[i]));
            for (std::size_t j = 0; j < d; ++j) REQUIRE(out(i, j) == Approx(e[j]).epsilon(1e-6));
        }
        const std::vector<std::int64_t> offsets = {0, 0, 4, 10};
        const std::vector<float> weights = {1, -2, 0.5f, 3, 1, 1, 2, -1, 0.25f, 4};
        for (bool mean : {false, true}) {
            row_matrix pooled(3, d);
            t.lookup_pooled(kIds, offsets, pooled, {mean ? pooling::mean : pooling::sum, weights});
            for (std::size_t b = 0; b < 3; ++b) {
                std::vector<double> e(d, 0.0);
                const auto len = offsets[b + 1] - offsets[b];
                for (auto i = offsets[b]; i < offsets[b + 1]; ++i) {
                    const auto v = ref.embed(std::uint64_t(kIds[i]));
                    for (std::size_t j = 0; j < d; ++j)
                        e[j] += weights[i] * v[j] / (mean ? double(len) : 1.0);
                }
                for (std::size_t j = 0; j < d; ++j)
                    REQUIRE(pooled(b, j) == Approx(e[j]).epsilon(1e-5).margin(1e-6));
            }
        }
    }
}

TEST_CASE("qr_table update applies the chain rule to both parts, coalesced",
          "[qr][update]") {
    std::mt19937 gen(3);
    std::uniform_real_distribution<float> uni(-1, 1);
    for (auto combine : {qr_combine::product, qr_combine::sum, qr_combine::concat}) {
        INFO("combine " << int(combine));
        auto t = make<f32, adagrad>(combine, adagrad{0.1f}, 2);
        std::map<std::uint64_t, std::vector<double>> sq, sr;  // reference optimizer state
        for (int round = 0; round < 3; ++round) {
            qr_ref ref(t);  // values before this update
            std::vector<std::int64_t> ids(30);
            for (auto& id : ids) id = std::int64_t(gen() % kN);
            std::vector<float> g(ids.size() * t.dim());
            for (auto& x : g) x = uni(gen);
            std::map<std::uint64_t, std::vector<double>> gq, gr;
            ref.grads(ids, g, gq, gr);
            t.update(ids, matrix_view<const float>(g.data(), ids.size(), t.dim()));
            ref::adagrad_ref opt(t.q_table().optimizer());
            for (auto& [row, gg] : gq) {
                std::vector<double> w(ref.q.begin() + row * ref.dq, ref.q.begin() + (row + 1) * ref.dq);
                opt.step(w, gg, sq[row]);
                std::copy(w.begin(), w.end(), ref.q.begin() + row * ref.dq);
            }
            for (auto& [row, gg] : gr) {
                std::vector<double> w(ref.r.begin() + row * ref.dr, ref.r.begin() + (row + 1) * ref.dr);
                opt.step(w, gg, sr[row]);
                std::copy(w.begin(), w.end(), ref.r.begin() + row * ref.dr);
            }
            const qr_ref after(t);
            for (std::size_t k = 0; k < ref.q.size(); ++k)
                REQUIRE(after.q[k] == Approx(ref.q[k]).epsilon(1e-5).margin(1e-6));
            for (std::size_t k = 0; k < ref.r.size(); ++k)
                REQUIRE(after.r[k] == Approx(ref.r[k]).epsilon(1e-5).margin(1e-6));
        }
    }
}

TEST_CASE("qr_table gradients match finite differences", "[qr][update][gradient]") {
    // Loss L = Σ_bags <a_b, pooled_b>. One SGD step with lr = 1 moves every parameter by
    // −∂L/∂p; central differences of L under `assign` on the parts must agree.
    const std::vector<std::int64_t> ids = {3, 13, 23, 13, 100, 5, 95, 3};
    const std::vector<std::int64_t> offsets = {0, 3, 5, 8};
    const std::vector<float> weights = {1, 0.5f, -2, 1.5f, 1, 2, -1, 0.75f};
    for (auto combine : {qr_combine::product, qr_combine::sum, qr_combine::concat})
        for (bool mean : {false, true}) {
            INFO("combine " << int(combine) << " mean " << mean);
            auto t = make(combine, sgd{1.0f}, 3);
            t.modify_parts([](auto& q, auto& r_part) {
                q.initialize([](std::size_t r, float* v) {  // values away from 0
                    for (std::size_t j = 0; j < kDim; ++j) v[j] = 0.5f + 0.1f * float(r) - 0.2f * float(j);
                });
                r_part.initialize([&](std::size_t r, float* v) {
                    for (std::size_t j = 0; j < r_part.dim(); ++j) v[j] = -0.3f + 0.07f * float(r * j);
                });
            });
            const std::size_t d = t.dim();
            row_matrix a(3, d);
            for (std::size_t k = 0; k < 3 * d; ++k) a.data()[k] = 0.3f * float(k % 7) - 0.9f;
            const pool_options opts{mean ? pooling::mean : pooling::sum, weights};
            const auto loss = [&](const auto& table) {
                row_matrix p(3, d);
                table.lookup_pooled(ids, offsets, p, opts);
                double l = 0;
                for (std::size_t k = 0; k < 3 * d; ++k) l += double(a.data()[k]) * p.data()[k];
                return l;
            };
            auto stepped = t;
            stepped.update_pooled(ids, offsets, a, opts);
            // part `which` (0: Q, 1: R; both parts have one type here) of a table
            const auto part_of = [](const auto& x, int which) -> const auto& {
                return which == 0 ? x.q_table() : x.r_table();
            };
            const auto check_part = [&](int which, std::size_t rows) {
                const auto& part = part_of(t, which);
                const std::size_t pd = part.dim();
                const auto before = ref::snapshot(part, rows);
                const auto after = ref::snapshot(part_of(stepped, which), rows);
                for (std::size_t r = 0; r < rows; ++r)
                    for (std::size_t j = 0; j < pd; ++j) {
                        const float eps = 1e-2f;
                        std::vector<float> row(before.begin() + r * pd, before.begin() + (r + 1) * pd);
                        auto probe = t;
                        row[j] += eps;
                        const auto set_row = [&](auto& x) {
                            x.modify_parts([&](auto& q, auto& rp) {
                                (which == 0 ? q : rp).assign(r, row.data());
                            });
                        };
                        set_row(probe);
                        const double up = loss(probe);
                        row[j] -= 2 * eps;
                        set_row(probe);
                        const double down = loss(probe);
                        const double fd = (up - down) / (2.0 * eps);
                        const double applied = before[r * pd + j] - after[r * pd + j];
                        INFO("row " << r << " col " << j);
                        REQUIRE(applied == Approx(fd).epsilon(1e-3).margin(1e-4));
                    }
            };
            check_part(0, 11);
            check_part(1, 10);
        }
}

TEST_CASE("qr_table assign sets the vector of an id (shared rows move with it)", "[qr][assign]") {
    const std::vector<float> v = {1.5f, -2, 0.25f, 3, -1, 0.5f};
    for (auto combine : {qr_combine::product, qr_combine::sum, qr_combine::concat}) {
        auto t = make(combine, sgd{}, 2);
        t.assign(57, v.data());
        const std::vector<std::int64_t> id = {57, 7};  // 7 shares the remainder 7
        row_matrix out(2, t.dim());
        t.lookup(id, out);
        for (std::size_t j = 0; j < t.dim(); ++j) REQUIRE(out(0, j) == Approx(v[j]));
        const qr_ref ref(t);
        if (combine == qr_combine::product)
            for (std::size_t j = 0; j < kDim; ++j) REQUIRE(ref.r[7 * kDim + j] == 1.0);
        if (combine == qr_combine::sum)
            for (std::size_t j = 0; j < kDim; ++j) REQUIRE(ref.r[7 * kDim + j] == 0.0);
        for (std::size_t j = 0; j < t.dim(); ++j)
            REQUIRE(out(1, j) == Approx(ref.embed(7)[j]));
    }
}

TEST_CASE("qr_table rejects ids ≥ n and bad parameters", "[qr][errors]") {
    auto t = make<f16, adagrad>(qr_combine::product, adagrad{0.3f});
    const auto pristine = t;
    const std::vector<std::int64_t> bad = {0, 103, 5};
    row_matrix out(3, kDim);
    REQUIRE_THROWS_AS(t.lookup(bad, out), id_out_of_range);
    REQUIRE_THROWS_WITH(t.lookup(bad, out),
                        ContainsSubstring("id 103 at position 1") && ContainsSubstring("[0, 103)"));
    row_matrix g = row_matrix::Ones(3, kDim);
    REQUIRE_THROWS_AS(t.update(bad, g), id_out_of_range);
    const std::vector<std::int64_t> off = {0, 2, 3};
    row_matrix bag_g = row_matrix::Ones(2, kDim);
    REQUIRE_THROWS_AS(t.update_pooled(bad, off, bag_g), id_out_of_range);
    // unchanged: same parts now and after the same update
    REQUIRE(ref::snapshot(t.q_table(), 11) == ref::snapshot(pristine.q_table(), 11));
    REQUIRE(ref::snapshot(t.r_table(), 10) == ref::snapshot(pristine.r_table(), 10));
    auto copy = pristine;
    const std::vector<std::int64_t> good = {0, 102, 5};
    t.update(good, g);
    copy.update(good, g);
    REQUIRE(ref::snapshot(t, kN) == ref::snapshot(copy, kN));

    using part = full_table<>;
    REQUIRE_THROWS_AS(make_qr_table(100, 0, 4), bad_parameter);
    REQUIRE_THROWS_WITH(make_qr_table(100, 0, 4), ContainsSubstring("c (remainders) is 0"));
    REQUIRE_THROWS_AS(make_qr_table(0, 3, 4), bad_parameter);
    REQUIRE_THROWS_AS(make_qr_table(100, 3, 0), bad_parameter);
    REQUIRE_THROWS_AS(qr_table<>(100, 0, part(10, 4), part(10, 4)), bad_parameter);
    REQUIRE_THROWS_WITH(qr_table<>(100, 10, part(9, 4), part(10, 4)),
                        ContainsSubstring("need 10"));  // Q too small
    REQUIRE_THROWS_AS(qr_table<>(100, 10, part(10, 4), part(9, 4)), bad_parameter);
    REQUIRE_THROWS_WITH(qr_table<>(100, 10, part(10, 4), part(10, 3)),
                        ContainsSubstring("equal dimensions"));
    REQUIRE_NOTHROW(qr_table<>(100, 10, part(10, 4), part(10, 3), qr_combine::concat));
}

TEMPLATE_TEST_CASE("qr_table with quantized or half parts trains like the reference",
                   "[qr][storage]", f32, f16, int8_rowwise) {
    using Storage = TestType;
    auto t = make<Storage, adagrad>(qr_combine::product, adagrad{0.05f});
    std::mt19937 gen(8);
    std::uniform_real_distribution<float> uni(-1, 1);
    std::map<std::uint64_t, std::vector<double>> sq, sr;
    for (int round = 0; round < 3; ++round) {
        qr_ref ref(t);
        // lookups equal the product of the parts' decoded rows
        row_matrix out(kIds.size(), kDim);
        t.lookup(kIds, out);
        for (std::size_t i = 0; i < kIds.size(); ++i)
            for (std::size_t j = 0; j < kDim; ++j)
                REQUIRE(out(i, j) == Approx(ref.embed(std::uint64_t(kIds[i]))[j]).epsilon(1e-6));
        std::vector<std::int64_t> ids(20);
        for (auto& id : ids) id = std::int64_t(gen() % kN);
        std::vector<float> g(ids.size() * kDim);
        for (auto& x : g) x = uni(gen);
        std::map<std::uint64_t, std::vector<double>> gq, gr;
        ref.grads(ids, g, gq, gr);
        t.update(ids, matrix_view<const float>(g.data(), ids.size(), kDim));
        ref::adagrad_ref opt(t.q_table().optimizer());
        const auto step = [&](auto& grads, auto& state, std::vector<double>& w) {
            for (auto& [row, gg] : grads) {
                std::vector<double> x(w.begin() + row * kDim, w.begin() + (row + 1) * kDim);
                opt.step(x, gg, state[row]);
                std::copy(x.begin(), x.end(), w.begin() + row * kDim);
            }
        };
        step(gq, sq, ref.q);
        step(gr, sr, ref.r);
        const qr_ref after(t);
        const auto close = [](const std::vector<double>& actual, const std::vector<double>& e) {
            for (std::size_t k = 0; k < e.size(); ++k) {
                const double tol = ref::rounding_tolerance<Storage>(&e[k - k % kDim], kDim, k % kDim);
                INFO("row " << k / kDim << " col " << k % kDim);
                REQUIRE(std::fabs(actual[k] - e[k]) <= tol + 1e-5 * (1 + std::fabs(e[k])));
            }
        };
        close(after.q, ref.q);
        close(after.r, ref.r);
    }
}
