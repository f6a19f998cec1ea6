// full_table over every storage × optimizer, checked against the scalar reference model.
#include <embtab/embtab.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"
#include "reference.hpp"

using namespace embtab;

#define EMBTAB_ALL_FULL_TABLES                                                                \
    (full_table<f32, sgd>), (full_table<f32, adagrad>), (full_table<f32, rowwise_adagrad>),   \
        (full_table<f32, adam>), (full_table<f16, sgd>), (full_table<f16, adagrad>),          \
        (full_table<f16, rowwise_adagrad>), (full_table<f16, adam>), (full_table<bf16, sgd>), \
        (full_table<bf16, adagrad>), (full_table<bf16, rowwise_adagrad>), (full_table<bf16, adam>), \
        (full_table<int8_rowwise, sgd>), (full_table<int8_rowwise, adagrad>),                       \
        (full_table<int8_rowwise, rowwise_adagrad>), (full_table<int8_rowwise, adam>),              \
        (full_table<int4_rowwise, sgd>), (full_table<int4_rowwise, adagrad>),                       \
        (full_table<int4_rowwise, rowwise_adagrad>), (full_table<int4_rowwise, adam>)

namespace {

constexpr std::size_t kRows = 50;
constexpr std::size_t kDim = 6;

using ref::random_floats;
using ref::random_ids;

/// The table's rows equal the model's within one storage rounding step plus fp32 error.
template <class Storage>
void require_close(const std::vector<float>& actual, const std::vector<double>& expected) {
    for (std::size_t k = 0; k < actual.size(); ++k) {
        const double e = expected[k];
        const double tol = ref::rounding_tolerance<Storage>(&expected[k - k % kDim], kDim, k % kDim);
        INFO("row " << k / kDim << " col " << k % kDim);
        REQUIRE(std::fabs(actual[k] - e) <= tol + 1e-5 * (1 + std::fabs(e)));
    }
}

template <class Table>
Table make_table() {
    typename Table::optimizer_type opt;
    opt.lr = 0.05f;
    return Table(kRows, kDim, opt, 7);
}

}  // namespace

TEMPLATE_TEST_CASE("lookup returns the rows the table holds", "[full_table]",
                   EMBTAB_ALL_FULL_TABLES) {
    const auto t = make_table<TestType>();
    const auto all = ref::snapshot(t, kRows);
    const float bound = std::sqrt(1.0f / kRows);
    for (float v : all) {
        REQUIRE(std::fabs(v) <= bound * 1.01f);  // DLRM init range (plus 16-bit rounding)
    }
    std::vector<std::int64_t> ids = {3, 0, 49, 3};
    row_matrix out(ids.size(), kDim);
    t.lookup(ids, out);
    for (std::size_t i = 0; i < ids.size(); ++i)
        for (std::size_t j = 0; j < kDim; ++j) REQUIRE(out(i, j) == all[ids[i] * kDim + j]);
}

TEMPLATE_TEST_CASE("pooled lookup equals EmbeddingBag's definition", "[full_table][pooled]",
                   EMBTAB_ALL_FULL_TABLES) {
    const auto t = make_table<TestType>();
    const auto w = ref::snapshot(t, kRows);
    std::mt19937 gen(1);
    // bags: normal, empty at the start, empty in the middle, single, duplicates, empty at end
    std::vector<std::int64_t> offsets = {0, 0, 3, 3, 4, 9, 9};
    auto ids = random_ids(gen, 9, kRows);
    ids[5] = ids[6] = ids[7];
    const auto weights = random_floats(gen, ids.size(), -2, 2);
    for (bool mean : {false, true}) {
        for (bool weighted : {false, true}) {
            const std::vector<float> wv = weighted ? weights : std::vector<float>{};
            const auto expect = ref::pooled(w, kDim, ids, offsets, wv, mean);
            row_matrix out(offsets.size() - 1, kDim);
            out.setConstant(123.0f);  // must be overwritten, empty bags included
            pool_options opts{mean ? pooling::mean : pooling::sum, span<const float>(wv)};
            t.lookup_pooled(ids, offsets, out, opts);
            for (std::size_t b = 0; b + 1 < offsets.size(); ++b)
                for (std::size_t j = 0; j < kDim; ++j)
                    REQUIRE(out(b, j) == Approx(expect[b * kDim + j]).margin(1e-5));
            REQUIRE(out.row(0).isZero());  // empty bags give zeros, in sum and mean
            REQUIRE(out.row(2).isZero());
            REQUIRE(out.row(5).isZero());
        }
    }
}

TEMPLATE_TEST_CASE("update equals the reference optimizer on coalesced gradients",
                   "[full_table][update]", EMBTAB_ALL_FULL_TABLES) {
    using Storage = typename TestType::storage_type;
    auto t = make_table<TestType>();
    ref::dense_model<typename TestType::optimizer_type> model(ref::snapshot(t, kRows), kDim,
                                                              t.optimizer());
    std::mt19937 gen(2);
    for (int round = 0; round < 5; ++round) {
        auto ids = random_ids(gen, 30, 12);  // few distinct ids: many duplicates
        const auto g = random_floats(gen, ids.size() * kDim);
        const auto before = ref::snapshot(t, kRows);
        model.w.assign(before.begin(), before.end());  // compare one step at a time
        t.update(ids, matrix_view<const float>(g.data(), ids.size(), kDim));
        model.update(ids, g, std::vector<double>(ids.size(), 1.0));
        INFO("round " << round);
        require_close<Storage>(ref::snapshot(t, kRows), model.w);
    }
}

TEMPLATE_TEST_CASE("pooled update spreads each bag's gradient over its ids",
                   "[full_table][update][pooled]", EMBTAB_ALL_FULL_TABLES) {
    using Storage = typename TestType::storage_type;
    auto t = make_table<TestType>();
    ref::dense_model<typename TestType::optimizer_type> model(ref::snapshot(t, kRows), kDim,
                                                              t.optimizer());
    std::mt19937 gen(3);
    const std::vector<std::int64_t> offsets = {0, 4, 4, 10, 11};
    for (bool mean : {false, true}) {
        auto ids = random_ids(gen, 11, 15);
        const auto weights = random_floats(gen, ids.size(), 0.5f, 2.0f);
        const auto bag_g = random_floats(gen, (offsets.size() - 1) * kDim);
        // per-id gradient = bag gradient · weight (/ bag length)
        std::vector<float> per_id(ids.size() * kDim);
        std::vector<double> scale(ids.size());
        for (std::size_t b = 0; b + 1 < offsets.size(); ++b)
            for (auto i = offsets[b]; i < offsets[b + 1]; ++i) {
                scale[i] = weights[i] / (mean ? double(offsets[b + 1] - offsets[b]) : 1.0);
                for (std::size_t j = 0; j < kDim; ++j) per_id[i * kDim + j] = bag_g[b * kDim + j];
            }
        const auto before = ref::snapshot(t, kRows);
        model.w.assign(before.begin(), before.end());
        t.update_pooled(ids, offsets,
                        matrix_view<const float>(bag_g.data(), offsets.size() - 1, kDim),
                        {mean ? pooling::mean : pooling::sum, span<const float>(weights)});
        model.update(ids, per_id, scale);
        require_close<Storage>(ref::snapshot(t, kRows), model.w);
    }
}

TEST_CASE("duplicate ids take one step with the summed gradient", "[full_table][update]") {
    // With Adagrad, one step with g1+g2 differs from two steps; PyTorch sparse semantics is one.
    auto a = make_full_table(4, 2, adagrad{0.1f}, 5);
    auto b = a;
    std::vector<std::int64_t> twice = {2, 2};
    std::vector<float> g2 = {1, -2, 3, 0.5f};
    a.update(twice, matrix_view<const float>(g2.data(), 2, 2));
    std::vector<std::int64_t> once = {2};
    std::vector<float> g1 = {4, -1.5f};
    b.update(once, matrix_view<const float>(g1.data(), 1, 2));
    REQUIRE(ref::snapshot(a, 4) == ref::snapshot(b, 4));
}

TEST_CASE("initialisation is fixed by the seed", "[full_table]") {
    const auto a = make_full_table(100, 4, sgd{}, 1);
    const auto b = make_full_table(100, 4, sgd{}, 1);
    const auto c = make_full_table(100, 4, sgd{}, 2);
    REQUIRE(ref::snapshot(a, 100) == ref::snapshot(b, 100));
    REQUIRE(ref::snapshot(a, 100) != ref::snapshot(c, 100));
    // uniform on ±sqrt(1/n): the mean is near 0 and the variance near bound²/3
    const auto v = ref::snapshot(make_full_table(2000, 8, sgd{}, 3), 2000);
    double m = 0, sq = 0;
    for (float x : v) m += x, sq += double(x) * x;
    m /= v.size();
    sq /= v.size();
    const double bound2 = 1.0 / 2000;
    REQUIRE(std::fabs(m) < 0.05 * std::sqrt(bound2));
    REQUIRE(sq == Approx(bound2 / 3).epsilon(0.05));
}

TEST_CASE("a user initializer sets the rows and resets the optimizer", "[full_table]") {
    auto t = make_full_table(3, 2, adagrad{1.0f});
    t.initialize([](std::size_t row, float* v) { v[0] = float(row), v[1] = -float(row); });
    REQUIRE(ref::snapshot(t, 3) == std::vector<float>{0, -0, 1, -1, 2, -2});
    // fresh Adagrad state: first step moves by lr·g/|g| = lr·sign(g)
    std::vector<std::int64_t> id = {1};
    std::vector<float> g = {0.5f, -4};
    t.update(id, matrix_view<const float>(g.data(), 1, 2));
    const auto w = ref::snapshot(t, 3);
    REQUIRE(w[2] == Approx(0.0f).margin(1e-6));
    REQUIRE(w[3] == Approx(0.0f).margin(1e-6));
}

TEST_CASE("memory_bytes counts rows and optimizer state exactly", "[full_table][memory]") {
    REQUIRE(make_full_table(1000, 16).memory_bytes().parameters == 1000 * 16 * 4);
    REQUIRE(make_full_table(1000, 16).memory_bytes().optimizer_state == 0);
    REQUIRE(make_full_table<f16>(1000, 16, adagrad{}).memory_bytes().parameters == 1000 * 16 * 2);
    REQUIRE(make_full_table<f16>(1000, 16, adagrad{}).memory_bytes().optimizer_state ==
            1000 * 16 * 4);
    REQUIRE(make_full_table<bf16>(10, 8, rowwise_adagrad{}).memory_bytes().optimizer_state ==
            10 * 4);
    const auto m = make_full_table(10, 8, adam{}).memory_bytes();
    REQUIRE(m.optimizer_state == 10 * (2 * 8 + 1) * 4);
    REQUIRE(m.total() == m.parameters + m.optimizer_state + m.other);
}

TEST_CASE("a table trains to a known solution", "[full_table][train]") {
    // Least squares per row: minimise ½‖w_id − target_id‖²; every optimizer must get there.
    auto run = [](auto table, int steps) {
        const std::size_t n = 20, d = 4;
        std::vector<std::int64_t> ids(n);
        std::vector<float> target(n * d), g(n * d), w(n * d);
        for (std::size_t i = 0; i < n; ++i) {
            ids[i] = static_cast<std::int64_t>(i);
            for (std::size_t j = 0; j < d; ++j) target[i * d + j] = 0.1f * float(j) - 0.05f * i;
        }
        for (int s = 0; s < steps; ++s) {
            table.lookup(ids, matrix_view<float>(w.data(), n, d));
            for (std::size_t k = 0; k < g.size(); ++k) g[k] = w[k] - target[k];
            table.update(ids, matrix_view<const float>(g.data(), n, d));
        }
        table.lookup(ids, matrix_view<float>(w.data(), n, d));
        double err = 0;
        for (std::size_t k = 0; k < w.size(); ++k) err = std::max(err, double(std::fabs(w[k] - target[k])));
        return err;
    };
    REQUIRE(run(make_full_table(20, 4, sgd{0.5f}), 100) < 1e-5);
    REQUIRE(run(make_full_table(20, 4, adagrad{0.5f}), 300) < 1e-3);
    REQUIRE(run(make_full_table(20, 4, rowwise_adagrad{0.5f}), 300) < 1e-3);
    REQUIRE(run(make_full_table(20, 4, adam{0.05f}), 500) < 1e-2);
    REQUIRE(run(make_full_table<f16>(20, 4, sgd{0.5f}), 100) < 2e-3);
    REQUIRE(run(make_full_table<bf16>(20, 4, sgd{0.5f}), 100) < 1e-2);
}

TEST_CASE("f32 SGD steps each row bitwise by its contributions summed in arrival order",
          "[full_table][update][pooled]") {
    // Every vector width and tail: the summed gradient is Σ (w_i · g_bag(i)) in arrival order,
    // one float multiply and one float add a term, then w − lr · sum.
    for (std::size_t d : {1u, 3u, 4u, 8u, 13u, 16u, 21u, 35u, 64u}) {
        auto t = make_full_table(10, d, sgd{0.125f}, 3);
        const auto before = ref::snapshot(t, 10);
        std::mt19937 gen(static_cast<unsigned>(d));
        const std::vector<std::int64_t> ids = {4, 1, 4, 9, 4, 1, 0, 4};
        const std::vector<std::int64_t> offsets = {0, 3, 3, 6, 8};  // an empty bag among them
        const std::vector<float> weights = {0.5f, -1.25f, 3.0f, 0.3f, 1.0f, 7.0f, -0.1f, 2.5f};
        const auto g = random_floats(gen, 4 * d);
        pool_options opts;
        opts.weights = weights;
        t.update_pooled(ids, offsets, matrix_view<const float>(g.data(), 4, d), opts);
        std::vector<float> expect(before.begin(), before.end());
        for (std::int64_t row = 0; row < 10; ++row)
            for (std::size_t j = 0; j < d; ++j) {
                float sum = 0;
                bool any = false;
                for (std::size_t b = 0; b + 1 < offsets.size(); ++b)
                    for (auto i = offsets[b]; i < offsets[b + 1]; ++i) {
                        if (ids[i] != row) continue;
                        const float term = weights[i] * g[b * d + j];
                        sum = any ? sum + term : term;
                        any = true;
                    }
                if (any) expect[row * d + j] = expect[row * d + j] - 0.125f * sum;
            }
        INFO("dim " << d);
        REQUIRE(ref::snapshot(t, 10) == expect);
    }
}
