// mixed_dim_table: lookups, gradients (finite differences), coalescing, training and bad input,
// checked against an independent scalar reference over the parameters read back through
// `embeddings(b)` / `projection(b)`.
#include <cmath>
#include <cstdint>
#include <embtab/embtab.hpp>
#include <embtab/tables/mixed_dim_table.hpp>
#include <random>
#include <vector>

#include "catch.hpp"
#include "reference.hpp"

using namespace embtab;
using Catch::Matchers::ContainsSubstring;

static_assert(is_table_v<mixed_dim_table<>>);
static_assert(is_table_v<mixed_dim_table<int8_rowwise, adagrad>>);
static_assert(is_table_v<mixed_dim_table<f16, adam>>);

#define EMBTAB_MIXED_DIM_TABLES                                   \
    (mixed_dim_table<f32, sgd>), (mixed_dim_table<f32, adagrad>), \
        (mixed_dim_table<int8_rowwise, sgd>), (mixed_dim_table<int8_rowwise, adagrad>)

namespace {

constexpr std::size_t kDim = 6;
constexpr std::size_t kRows = 24;  // ids: block 0 [0, 5), 1 [5, 13), 2 [13, 17), 3 [17, 24)
const std::vector<mixed_dim_block> kBlocks = {{5, 3}, {8, 2}, {4, 6}, {7, 1}};

template <class Table>
Table make_table(float lr = 0.05f, std::uint64_t seed = 7) {
    typename Table::optimizer_type opt;
    opt.lr = lr;
    return Table(kBlocks, kDim, opt, seed);
}

std::vector<std::int64_t> random_ids(std::mt19937& gen, std::size_t n, std::size_t rows = kRows) {
    return ref::random_ids(gen, n, rows);
}
using ref::random_floats;

/// A table's parameters in fp64, read through `embeddings(b)` and `projection(b)`, and the
/// MDE model written with plain loops over them.
struct params {
    std::vector<std::int64_t> start;  // first id of each block, then the number of ids
    std::vector<Eigen::MatrixXd> e, p;

    template <class Table>
    explicit params(const Table& t) : start{0} {
        for (std::size_t b = 0; b < t.blocks(); ++b) {
            e.push_back(t.embeddings(b).template cast<double>());
            p.push_back(t.projection(b).template cast<double>());
            start.push_back(start.back() + e.back().rows());
        }
    }
    std::size_t block(std::int64_t id) const {
        std::size_t b = 0;
        while (id >= start[b + 1]) ++b;
        return b;
    }
    /// The vector of `id`: `E_b[local] · P_b`.
    std::vector<double> vec(std::int64_t id) const {
        const std::size_t b = block(id);
        const Eigen::Index r = id - start[b];
        std::vector<double> v(kDim, 0.0);
        for (Eigen::Index k = 0; k < e[b].cols(); ++k)
            for (std::size_t j = 0; j < kDim; ++j)
                v[j] += e[b](r, k) * p[b](k, static_cast<Eigen::Index>(j));
        return v;
    }
    /// Gradients of `Σ_i scale_i ⟨g_i, vec(ids_i)⟩` w.r.t. every `E_b` and `P_b`.
    std::pair<std::vector<Eigen::MatrixXd>, std::vector<Eigen::MatrixXd>> grads(
        const std::vector<std::int64_t>& ids, const std::vector<float>& g,
        const std::vector<double>& scale) const {
        std::vector<Eigen::MatrixXd> ge, gp;
        for (std::size_t b = 0; b < e.size(); ++b) {
            ge.push_back(Eigen::MatrixXd::Zero(e[b].rows(), e[b].cols()));
            gp.push_back(Eigen::MatrixXd::Zero(p[b].rows(), p[b].cols()));
        }
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const std::size_t b = block(ids[i]);
            const Eigen::Index r = ids[i] - start[b];
            for (Eigen::Index k = 0; k < e[b].cols(); ++k)
                for (std::size_t j = 0; j < kDim; ++j) {
                    const auto jj = static_cast<Eigen::Index>(j);
                    ge[b](r, k) += scale[i] * p[b](k, jj) * g[i * kDim + j];
                    gp[b](k, jj) += scale[i] * e[b](r, k) * g[i * kDim + j];
                }
        }
        return {ge, gp};
    }
};

std::vector<float> flat(const row_matrix& m) { return {m.data(), m.data() + m.size()}; }

/// Every row and projection of two tables are identical.
template <class Table>
bool same_parameters(const Table& a, const Table& b) {
    for (std::size_t k = 0; k < a.blocks(); ++k)
        if (a.embeddings(k) != b.embeddings(k) || a.projection(k) != b.projection(k)) return false;
    return true;
}

/// `Σ_i ⟨c_i, lookup(ids_i)⟩` in fp64.
template <class Table>
double linear_loss(const Table& t, const std::vector<std::int64_t>& ids,
                   const std::vector<float>& c) {
    row_matrix out(ids.size(), kDim);
    t.lookup(ids, out);
    double l = 0;
    for (std::size_t i = 0; i < ids.size(); ++i)
        for (std::size_t j = 0; j < kDim; ++j) l += double(c[i * kDim + j]) * out(i, j);
    return l;
}

}  // namespace

TEMPLATE_TEST_CASE("mixed-dim lookup equals E_b[local] · P_b", "[mixed_dim]",
                   EMBTAB_MIXED_DIM_TABLES) {
    const auto t = make_table<TestType>();
    REQUIRE(t.dim() == kDim);
    REQUIRE(t.rows() == kRows);
    REQUIRE(t.blocks() == 4);
    const params w(t);
    std::vector<std::int64_t> ids(kRows);
    for (std::size_t i = 0; i < kRows; ++i) ids[i] = static_cast<std::int64_t>(kRows - 1 - i);
    ids.push_back(13);  // a duplicate, at a block start
    row_matrix out(ids.size(), kDim);
    t.lookup(ids, out);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto v = w.vec(ids[i]);
        for (std::size_t j = 0; j < kDim; ++j) REQUIRE(out(i, j) == Approx(v[j]).margin(1e-6));
    }
}

TEST_CASE("mixed-dim blocks cover consecutive ids", "[mixed_dim]") {
    const auto t = make_table<mixed_dim_table<>>();
    const std::size_t expect_block[kRows] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1,
                                             1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3};
    for (std::size_t id = 0; id < kRows; ++id) REQUIRE(t.block_of(id) == expect_block[id]);
    REQUIRE(t.block_start(0) == 0);
    REQUIRE(t.block_start(2) == 13);
    REQUIRE(t.block_start(4) == kRows);
    REQUIRE(t.id_limit() == kRows);
    for (std::size_t b = 0; b < kBlocks.size(); ++b) {
        REQUIRE(t.block_spec(b).rows == kBlocks[b].rows);
        REQUIRE(t.block_spec(b).dim == kBlocks[b].dim);
        REQUIRE(t.embeddings(b).rows() == static_cast<Eigen::Index>(kBlocks[b].rows));
        REQUIRE(t.embeddings(b).cols() == static_cast<Eigen::Index>(kBlocks[b].dim));
        REQUIRE(t.projection(b).rows() == static_cast<Eigen::Index>(kBlocks[b].dim));
        REQUIRE(t.projection(b).cols() == static_cast<Eigen::Index>(kDim));
    }
    // one block, and many blocks of one row each
    const auto one = make_mixed_dim_table({{3, 2}}, 4);
    REQUIRE(one.block_of(2) == 0);
    std::vector<mixed_dim_block> singles(50, mixed_dim_block{1, 2});
    const auto many = make_mixed_dim_table(singles, 4);
    for (std::size_t id = 0; id < 50; ++id) REQUIRE(many.block_of(id) == id);
}

TEMPLATE_TEST_CASE("mixed-dim pooled lookup equals EmbeddingBag over E_b · P_b",
                   "[mixed_dim][pooled]", EMBTAB_MIXED_DIM_TABLES) {
    const auto t = make_table<TestType>();
    const params w(t);
    std::mt19937 gen(1);
    const std::vector<std::int64_t> offsets = {0, 0, 3, 3, 4, 9, 9};
    auto ids = random_ids(gen, 9);
    ids[5] = ids[6] = ids[7];
    const auto weights = random_floats(gen, ids.size(), -2, 2);
    for (bool mean : {false, true}) {
        for (bool weighted : {false, true}) {
            const std::vector<float> wv = weighted ? weights : std::vector<float>{};
            row_matrix out(offsets.size() - 1, kDim);
            out.setConstant(123.0f);
            t.lookup_pooled(ids, offsets, out,
                            {mean ? pooling::mean : pooling::sum, span<const float>(wv)});
            for (std::size_t b = 0; b + 1 < offsets.size(); ++b) {
                std::vector<double> expect(kDim, 0.0);
                const auto len = offsets[b + 1] - offsets[b];
                for (auto i = offsets[b]; i < offsets[b + 1]; ++i) {
                    const auto v = w.vec(ids[i]);
                    const double wi = (weighted ? wv[i] : 1.0) / (mean ? double(len) : 1.0);
                    for (std::size_t j = 0; j < kDim; ++j) expect[j] += wi * v[j];
                }
                for (std::size_t j = 0; j < kDim; ++j)
                    REQUIRE(out(b, j) == Approx(expect[j]).margin(1e-5));
            }
            REQUIRE(out.row(0).isZero());
            REQUIRE(out.row(2).isZero());
            REQUIRE(out.row(5).isZero());
        }
    }
}

TEMPLATE_TEST_CASE("mixed-dim update steps E and P with the reference optimizer",
                   "[mixed_dim][update]", EMBTAB_MIXED_DIM_TABLES) {
    using Storage = typename TestType::storage_type;
    using Opt = typename TestType::optimizer_type;
    auto t = make_table<TestType>();
    // one fp64 model per block's rows and per projection, carrying the optimizer state
    std::vector<ref::dense_model<Opt>> model_e, model_p;
    for (std::size_t b = 0; b < t.blocks(); ++b) {
        model_e.emplace_back(flat(t.embeddings(b)), kBlocks[b].dim, t.optimizer());
        model_p.emplace_back(flat(t.projection(b)), kDim, t.optimizer());
    }
    std::mt19937 gen(2);
    const std::vector<std::int64_t> offsets = {0, 4, 4, 10, 11};
    for (int round = 0; round < 6; ++round) {
        const bool pooled = round % 2 == 1;
        const auto ids = random_ids(gen, pooled ? 11 : 20, round < 2 ? 9 : kRows);
        std::vector<float> g, per_id(ids.size() * kDim);
        std::vector<double> scale(ids.size(), 1.0);
        std::vector<float> weights;
        if (pooled) {
            weights = random_floats(gen, ids.size(), 0.5f, 2.0f);
            g = random_floats(gen, (offsets.size() - 1) * kDim);
            for (std::size_t b = 0; b + 1 < offsets.size(); ++b)
                for (auto i = offsets[b]; i < offsets[b + 1]; ++i) {
                    scale[i] = weights[i] / double(offsets[b + 1] - offsets[b]);  // mean
                    for (std::size_t j = 0; j < kDim; ++j) per_id[i * kDim + j] = g[b * kDim + j];
                }
        } else {
            g = random_floats(gen, ids.size() * kDim);
            per_id = g;
        }
        const params before(t);
        const auto [ge, gp] = before.grads(ids, per_id, scale);
        if (pooled)
            t.update_pooled(ids, offsets,
                            matrix_view<const float>(g.data(), offsets.size() - 1, kDim),
                            {pooling::mean, span<const float>(weights)});
        else
            t.update(ids, matrix_view<const float>(g.data(), ids.size(), kDim));
        INFO("round " << round);
        for (std::size_t b = 0; b < t.blocks(); ++b) {
            const std::size_t db = kBlocks[b].dim;
            // E_b: the rows the batch touched, each once with its summed gradient
            std::vector<std::int64_t> rows;
            std::vector<float> grow;
            for (Eigen::Index r = 0; r < ge[b].rows(); ++r) {
                bool used = false;
                for (auto id : ids) used |= before.block(id) == b && id - before.start[b] == r;
                if (!used) continue;
                rows.push_back(r);
                for (std::size_t k = 0; k < db; ++k)
                    grow.push_back(float(ge[b](r, Eigen::Index(k))));
            }
            const row_matrix eb = before.e[b].cast<float>();  // compare one step at a time
            model_e[b].w.assign(eb.data(), eb.data() + eb.size());
            model_e[b].update(rows, grow, std::vector<double>(rows.size(), 1.0));
            const auto e_after = flat(t.embeddings(b));
            for (std::size_t k = 0; k < e_after.size(); ++k) {
                const double x = model_e[b].w[k];
                const double tol =
                    ref::rounding_tolerance<Storage>(&model_e[b].w[k - k % db], db, k % db);
                INFO("block " << b << " E[" << k / db << "][" << k % db << "]");
                REQUIRE(std::fabs(e_after[k] - x) <= tol + 1e-5 * (1 + std::fabs(x)));
            }
            // P_b: every row steps once when any id of the block was in the batch
            bool touched = false;
            for (auto id : ids) touched |= before.block(id) == b;
            const row_matrix pb = before.p[b].cast<float>();
            model_p[b].w.assign(pb.data(), pb.data() + pb.size());
            if (touched) {
                std::vector<std::int64_t> prow(db);
                std::vector<float> pg(db * kDim);
                for (std::size_t k = 0; k < db; ++k) {
                    prow[k] = static_cast<std::int64_t>(k);
                    for (std::size_t j = 0; j < kDim; ++j)
                        pg[k * kDim + j] = float(gp[b](Eigen::Index(k), Eigen::Index(j)));
                }
                model_p[b].update(prow, pg, std::vector<double>(db, 1.0));
            }
            const auto p_after = flat(t.projection(b));
            for (std::size_t k = 0; k < p_after.size(); ++k) {
                INFO("block " << b << " P[" << k / kDim << "][" << k % kDim << "]");
                REQUIRE(p_after[k] == Approx(model_p[b].w[k]).margin(1e-5));
            }
        }
    }
}

TEST_CASE("mixed-dim gradients of E and P equal central finite differences",
          "[mixed_dim][update][gradient]") {
    // L = Σ_i ⟨c_i, lookup(id_i)⟩. With SGD at rate η one update with grads c moves every
    // parameter θ by −η ∂L/∂θ; central differences of L (perturbing θ through set_embeddings /
    // set_projection) give ∂L/∂θ independently of the library's backward.
    const float eta = 1e-3f;
    const auto t0 = make_table<mixed_dim_table<f32, sgd>>(eta, 11);
    std::mt19937 gen(5);
    auto ids = random_ids(gen, 14);
    ids[3] = ids[9] = ids[12];  // duplicates
    const auto c = random_floats(gen, ids.size() * kDim);

    auto stepped = t0;
    stepped.update(ids, matrix_view<const float>(c.data(), ids.size(), kDim));
    const params analytic(t0);
    const auto [ge, gp] = analytic.grads(ids, c, std::vector<double>(ids.size(), 1.0));

    const double h = 1e-2;  // L is linear in each parameter: differences are exact up to rounding
    auto probe = t0;
    int checked_e = 0, checked_p = 0;
    for (std::size_t b = 0; b < t0.blocks(); ++b) {
        const row_matrix e0 = t0.embeddings(b), e1 = stepped.embeddings(b);
        for (Eigen::Index r = 0; r < e0.rows(); ++r)
            for (Eigen::Index k = 0; k < e0.cols(); ++k) {
                row_matrix e = e0;
                e(r, k) = float(e0(r, k) + h);
                probe.set_embeddings(b, e);
                const double lp = linear_loss(probe, ids, c);
                e(r, k) = float(e0(r, k) - h);
                probe.set_embeddings(b, e);
                const double lm = linear_loss(probe, ids, c);
                probe.set_embeddings(b, e0);
                const double fd = (lp - lm) / (2 * h);
                const double moved = (double(e0(r, k)) - e1(r, k)) / eta;
                INFO("block " << b << " E[" << r << "][" << k << "]");
                REQUIRE(moved == Approx(fd).margin(2e-3));
                REQUIRE(ge[b](r, k) == Approx(fd).margin(2e-4));
                checked_e += fd != 0;
            }
        const row_matrix p0 = t0.projection(b), p1 = stepped.projection(b);
        for (Eigen::Index k = 0; k < p0.rows(); ++k)
            for (Eigen::Index j = 0; j < p0.cols(); ++j) {
                row_matrix p = p0;
                p(k, j) = float(p0(k, j) + h);
                probe.set_projection(b, p);
                const double lp = linear_loss(probe, ids, c);
                p(k, j) = float(p0(k, j) - h);
                probe.set_projection(b, p);
                const double lm = linear_loss(probe, ids, c);
                probe.set_projection(b, p0);
                const double fd = (lp - lm) / (2 * h);
                const double moved = (double(p0(k, j)) - p1(k, j)) / eta;
                INFO("block " << b << " P[" << k << "][" << j << "]");
                REQUIRE(moved == Approx(fd).margin(2e-3));
                REQUIRE(gp[b](k, j) == Approx(fd).margin(2e-4));
                checked_p += fd != 0;
            }
    }
    REQUIRE(checked_e > 10);  // the batch reached rows and projections of several blocks
    REQUIRE(checked_p > 30);
}

TEST_CASE("mixed-dim pooled gradients equal central finite differences",
          "[mixed_dim][update][pooled][gradient]") {
    // L = Σ_bags ⟨c_bag, pooled_bag⟩ with weights and mean pooling.
    const float eta = 1e-3f;
    const auto t0 = make_table<mixed_dim_table<f32, sgd>>(eta, 12);
    std::mt19937 gen(6);
    const std::vector<std::int64_t> offsets = {0, 3, 3, 8};
    const auto ids = random_ids(gen, 8);
    const auto weights = random_floats(gen, ids.size(), -2, 2);
    const auto c = random_floats(gen, 3 * kDim);
    const pool_options opts{pooling::mean, span<const float>(weights)};
    const auto loss = [&](const mixed_dim_table<>& t) {
        row_matrix out(3, kDim);
        t.lookup_pooled(ids, offsets, out, opts);
        double l = 0;
        for (Eigen::Index b = 0; b < 3; ++b)
            for (Eigen::Index j = 0; j < Eigen::Index(kDim); ++j) l += c[b * kDim + j] * out(b, j);
        return l;
    };
    auto stepped = t0;
    stepped.update_pooled(ids, offsets, matrix_view<const float>(c.data(), 3, kDim), opts);
    auto probe = t0;
    const double h = 1e-2;
    for (std::size_t b = 0; b < t0.blocks(); ++b) {
        const row_matrix p0 = t0.projection(b), p1 = stepped.projection(b);
        for (Eigen::Index k = 0; k < p0.rows(); ++k)
            for (Eigen::Index j = 0; j < p0.cols(); ++j) {
                row_matrix p = p0;
                p(k, j) = float(p0(k, j) + h);
                probe.set_projection(b, p);
                const double lp = loss(probe);
                p(k, j) = float(p0(k, j) - h);
                probe.set_projection(b, p);
                const double lm = loss(probe);
                probe.set_projection(b, p0);
                REQUIRE((double(p0(k, j)) - p1(k, j)) / eta ==
                        Approx((lp - lm) / (2 * h)).margin(2e-3));
            }
        const row_matrix e0 = t0.embeddings(b), e1 = stepped.embeddings(b);
        for (Eigen::Index r = 0; r < e0.rows(); ++r)
            for (Eigen::Index k = 0; k < e0.cols(); ++k) {
                row_matrix e = e0;
                e(r, k) = float(e0(r, k) + h);
                probe.set_embeddings(b, e);
                const double lp = loss(probe);
                e(r, k) = float(e0(r, k) - h);
                probe.set_embeddings(b, e);
                const double lm = loss(probe);
                probe.set_embeddings(b, e0);
                REQUIRE((double(e0(r, k)) - e1(r, k)) / eta ==
                        Approx((lp - lm) / (2 * h)).margin(2e-3));
            }
    }
}

namespace {
/// Test optimizer: every step adds 1 to each value whatever the gradient, so a parameter's change
/// counts the optimizer steps it took.
struct step_counter {
    float lr = 0;
    static constexpr const char* name = "step_counter";
    static constexpr std::size_t state_size(std::size_t) noexcept { return 0; }
    void init_state(float*, std::size_t) const noexcept {}
    void step(float* w, const float*, float*, std::size_t dim) const noexcept {
        for (std::size_t j = 0; j < dim; ++j) w[j] += 1.0f;
    }
};
}  // namespace

TEST_CASE("mixed-dim update takes one optimizer step per row and projection row per batch",
          "[mixed_dim][update]") {
    const auto t0 = mixed_dim_table<f32, step_counter>(kBlocks, kDim);
    // block 0 ids 0 (three times) and 1; block 1 id 6 (local 1) twice; blocks 2 and 3 unused
    const std::vector<std::int64_t> ids = {0, 0, 1, 0, 6, 6};
    const std::vector<float> g(ids.size() * kDim, 0.5f);
    const auto check = [&](const mixed_dim_table<f32, step_counter>& t) {
        for (std::size_t b = 0; b < t.blocks(); ++b) {
            const row_matrix de = t.embeddings(b) - t0.embeddings(b);
            const row_matrix dp = t.projection(b) - t0.projection(b);
            for (Eigen::Index r = 0; r < de.rows(); ++r) {
                const bool used = (b == 0 && r <= 1) || (b == 1 && r == 1);
                INFO("block " << b << " row " << r);
                REQUIRE((de.row(r).array() - (used ? 1.0f : 0.0f)).abs().maxCoeff() < 1e-6f);
            }
            INFO("projection of block " << b);
            REQUIRE((dp.array() - (b <= 1 ? 1.0f : 0.0f)).abs().maxCoeff() < 1e-6f);
        }
    };
    auto a = t0;
    a.update(ids, matrix_view<const float>(g.data(), ids.size(), kDim));
    check(a);
    auto p = t0;
    const std::vector<std::int64_t> offsets = {0, 2, 6};
    const std::vector<float> bag_g(2 * kDim, 0.5f);
    p.update_pooled(ids, offsets, matrix_view<const float>(bag_g.data(), 2, kDim));
    check(p);
}

TEST_CASE("mixed-dim duplicate ids take one Adagrad step with the summed gradient",
          "[mixed_dim][update]") {
    auto a = make_mixed_dim_table(kBlocks, kDim, adagrad{0.1f}, 5);
    auto b = a, twice_stepped = a;
    const std::vector<float> g2 = {1, -2, 3, 0.5f, 0, 1, 3, 0.5f, -1, 2, 0.25f, -1};
    std::vector<float> g1(kDim);
    for (std::size_t j = 0; j < kDim; ++j) g1[j] = g2[j] + g2[kDim + j];
    const std::vector<std::int64_t> twice = {7, 7}, once = {7};
    a.update(twice, matrix_view<const float>(g2.data(), 2, kDim));
    b.update(once, matrix_view<const float>(g1.data(), 1, kDim));
    for (int k = 0; k < 2; ++k)
        twice_stepped.update(once, matrix_view<const float>(g2.data() + k * kDim, 1, kDim));
    for (std::size_t k = 0; k < a.blocks(); ++k) {
        REQUIRE(a.embeddings(k).isApprox(b.embeddings(k), 1e-6f));
        REQUIRE(a.projection(k).isApprox(b.projection(k), 1e-6f));
    }
    REQUIRE((a.projection(1) - twice_stepped.projection(1)).cwiseAbs().maxCoeff() > 1e-3f);
}

TEMPLATE_TEST_CASE("a mixed-dim table trains towards a teacher of the same shape",
                   "[mixed_dim][train]", EMBTAB_MIXED_DIM_TABLES) {
    // Targets from another table of the same blocks are reachable; ½‖lookup − target‖² must
    // fall far below its start.
    const auto teacher = make_table<mixed_dim_table<>>(0.0f, 99);
    auto t = make_table<TestType>(
        std::is_same_v<typename TestType::optimizer_type, sgd> ? 0.1f : 0.05f, 1);
    std::vector<std::int64_t> ids(kRows);
    for (std::size_t i = 0; i < kRows; ++i) ids[i] = static_cast<std::int64_t>(i);
    row_matrix target(kRows, kDim), out(kRows, kDim);
    teacher.lookup(ids, target);
    // teacher vectors are small (two uniform factors): scale them up to a clear signal
    target *= 4.0f;
    const auto loss = [&] {
        t.lookup(ids, out);
        return 0.5 * double((out - target).squaredNorm());
    };
    const double start = loss();
    for (int s = 0; s < 400; ++s) {
        loss();
        const row_matrix g = out - target;
        t.update(ids, g);
    }
    const double end = loss();
    INFO("loss " << start << " -> " << end);
    REQUIRE(end < 0.01 * start);
}

TEST_CASE("mixed-dim assign solves least squares against the block's projection",
          "[mixed_dim][assign]") {
    auto t = make_table<mixed_dim_table<f32, adagrad>>();
    const auto before = t;
    std::mt19937 gen(8);
    const auto v = random_floats(gen, kDim);
    const auto lookup1 = [&](std::int64_t id) {
        row_matrix o(1, kDim);
        const std::vector<std::int64_t> i = {id};
        t.lookup(i, o);
        return Eigen::VectorXf(o.row(0).transpose());
    };
    const Eigen::Map<const Eigen::VectorXf> vv(v.data(), kDim);
    // block 2 has d_b = d: its projection is invertible, the vector is exact
    t.assign(14, v.data());
    REQUIRE(lookup1(14).isApprox(vv, 1e-4f));
    // block 0 has d_b = 3 < d: a vector in the row space of P_0 is recovered exactly ...
    const Eigen::Vector3f e0(0.3f, -0.2f, 0.5f);
    const Eigen::VectorXf in_space = t.projection(0).transpose() * e0;
    t.assign(2, in_space.data());
    REQUIRE(lookup1(2).isApprox(in_space, 1e-4f));
    REQUIRE(Eigen::VectorXf(t.embeddings(0).row(2).transpose()).isApprox(e0, 1e-4f));
    // ... and any other vector gives its orthogonal projection onto that space
    t.assign(3, v.data());
    const Eigen::VectorXf residual = vv - lookup1(3);
    REQUIRE((t.projection(0) * residual).cwiseAbs().maxCoeff() < 1e-5f);
    REQUIRE(residual.norm() > 1e-3f);
    // nothing else moved
    REQUIRE(t.projection(0) == before.projection(0));
    for (std::int64_t id : {0, 1, 4, 5, 13, 15, 23}) {
        auto tb = before;
        std::swap(t, tb);
        const auto old = lookup1(id);
        std::swap(t, tb);
        REQUIRE(lookup1(id) == old);
    }
}

TEST_CASE("mixed-dim memory counts rows, projections and their optimizer state",
          "[mixed_dim][memory]") {
    // Σ n_b·d_b = 15 + 16 + 24 + 7 = 62 values of rows; Σ d_b·d = 12·6 = 72 of projections.
    const std::size_t other = 5 * 8 + 72 * 4;  // block starts, projection-gradient accumulators
    const auto m = make_table<mixed_dim_table<>>().memory_bytes();
    REQUIRE(m.parameters == (62 + 72) * 4);
    REQUIRE(m.optimizer_state == 0);
    REQUIRE(m.other == other);
    const auto q = make_table<mixed_dim_table<int8_rowwise, adagrad>>().memory_bytes();
    REQUIRE(q.parameters == 62 + 24 * 8 + 72 * 4);  // int8 codes, fp32 scale + bias per row
    REQUIRE(q.optimizer_state == (62 + 72) * 4);
    REQUIRE(q.other == other);
    REQUIRE(mixed_dim_table<int8_rowwise, adagrad>::memory_for(kBlocks, kDim).total() == q.total());
    REQUIRE(mixed_dim_table<f16, adam>::memory_for(kBlocks, kDim).total() ==
            make_table<mixed_dim_table<f16, adam>>().memory_bytes().total());
}

TEST_CASE("mixed-dim initialisation is seeded: rows DLRM-uniform, projections Xavier-uniform",
          "[mixed_dim]") {
    const auto a = make_table<mixed_dim_table<>>(0.1f, 1);
    REQUIRE(same_parameters(a, make_table<mixed_dim_table<>>(0.1f, 1)));
    REQUIRE_FALSE(same_parameters(a, make_table<mixed_dim_table<>>(0.1f, 2)));
    for (std::size_t b = 0; b < a.blocks(); ++b) {
        const double n = double(kBlocks[b].rows), db = double(kBlocks[b].dim);
        REQUIRE(a.embeddings(b).cwiseAbs().maxCoeff() <= std::sqrt(1 / n));
        REQUIRE(a.projection(b).cwiseAbs().maxCoeff() <= std::sqrt(6 / (db + kDim)));
    }
    REQUIRE(a.embeddings(0) != a.embeddings(0).row(0).replicate(5, 1));  // rows differ
    REQUIRE(a.projection(0).row(0) != a.projection(1).row(0));           // blocks differ
}

TEST_CASE("mixed-dim ids outside the table are rejected and leave it unchanged",
          "[mixed_dim][errors]") {
    auto t = make_table<mixed_dim_table<f16, adagrad>>();
    const auto pristine = t;
    row_matrix out(3, kDim);
    const std::vector<std::int64_t> high = {1, 2, 24}, negative = {-1, 2, 3};
    REQUIRE_THROWS_AS(t.lookup(high, out), id_out_of_range);
    REQUIRE_THROWS_WITH(t.lookup(high, out),
                        ContainsSubstring("id 24 at position 2") && ContainsSubstring("[0, 24)"));
    REQUIRE_THROWS_WITH(t.lookup(negative, out), ContainsSubstring("id -1 at position 0"));
    const std::vector<float> g(3 * kDim, 1.0f);
    REQUIRE_THROWS_AS(t.update(high, matrix_view<const float>(g.data(), 3, kDim)), id_out_of_range);
    const std::vector<std::int64_t> off = {0, 1, 3};
    const row_matrix bag_g = row_matrix::Ones(2, kDim);
    REQUIRE_THROWS_AS(t.update_pooled(high, off, bag_g), id_out_of_range);
    REQUIRE_THROWS_AS(t.lookup_pooled(high, off, out.topRows(2)), id_out_of_range);
    REQUIRE(same_parameters(t, pristine));
    // and it keeps behaving exactly as an untouched copy (optimizer state, rounding stream)
    auto copy = pristine;
    const std::vector<std::int64_t> ok = {1, 2, 23, 13};
    const std::vector<float> g4(4 * kDim, 0.25f);
    t.update(ok, matrix_view<const float>(g4.data(), 4, kDim));
    copy.update(ok, matrix_view<const float>(g4.data(), 4, kDim));
    REQUIRE(same_parameters(t, copy));
}

TEST_CASE("mixed-dim gradients with NaN are rejected before any change", "[mixed_dim][errors]") {
    auto t = make_table<mixed_dim_table<>>();
    const auto pristine = t;
    std::vector<float> g(2 * kDim, 1.0f);
    g[kDim + 3] = std::nanf("");
    const std::vector<std::int64_t> ids = {0, 20};
    REQUIRE_THROWS_AS(t.update(ids, matrix_view<const float>(g.data(), 2, kDim)),
                      nonfinite_gradient);
    REQUIRE(same_parameters(t, pristine));
    t.set_nonfinite_policy(nonfinite_policy::skip_row);
    t.update(ids, matrix_view<const float>(g.data(), 2, kDim));
    REQUIRE(t.embeddings(3) == pristine.embeddings(3));  // id 20's block: skipped
    REQUIRE(t.projection(3) == pristine.projection(3));
    REQUIRE(t.embeddings(0) != pristine.embeddings(0));  // id 0's block: stepped
}

TEST_CASE("bad mixed-dim block specs throw bad_parameter", "[mixed_dim][errors]") {
    using t = mixed_dim_table<>;
    REQUIRE_THROWS_AS(t({{5, 3}, {0, 2}}, 6), bad_parameter);
    REQUIRE_THROWS_WITH(t({{5, 3}, {0, 2}}, 6), ContainsSubstring("block 1 has 0 rows"));
    REQUIRE_THROWS_WITH(t({{5, 0}}, 6),
                        ContainsSubstring("block 0 has dimension 0; it must be in [1, 6]"));
    REQUIRE_THROWS_WITH(t({{5, 3}, {4, 6}, {2, 7}}, 6),
                        ContainsSubstring("block 2 has dimension 7; it must be in [1, 6]"));
    REQUIRE_THROWS_WITH(t({}, 6), ContainsSubstring("at least one block"));
    REQUIRE_THROWS_WITH(t({{5, 3}}, 0), ContainsSubstring("dimension of at least 1"));
    REQUIRE_THROWS_WITH(t({{5, 1025}}, 2000),
                        ContainsSubstring("[1, 1024]") && ContainsSubstring("max_block_dim"));
    // accessors check the block index and shapes
    auto ok = make_table<t>();
    REQUIRE_THROWS_WITH(ok.projection(4), ContainsSubstring("block 4 is outside [0, 4)"));
    REQUIRE_THROWS_AS(ok.embeddings(9), bad_parameter);
    const row_matrix wrong = row_matrix::Zero(3, 5);
    REQUIRE_THROWS_AS(ok.set_projection(0, wrong), shape_mismatch);
    REQUIRE_THROWS_AS(ok.set_embeddings(0, wrong), shape_mismatch);
}
