// CAFE: resolution through the sketch, the training-step order, migration, composition.
// (Its planners: test_cafe_plan.cpp.)
#include <embtab/embtab.hpp>
#include <embtab/hash/hashers.hpp>
#include <embtab/plan/cafe_plan.hpp>
#include <embtab/tables/cafe_table.hpp>
#include <embtab/tables/hash_table.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"

using namespace embtab;

namespace {

constexpr std::size_t kDim = 4;
using hot_t = full_table<f32, sgd>;
using shared_t = hash_table<f32, sgd, mix64>;
using cafe_t = cafe_table<hot_t, shared_t, mix64>;

shared_t make_shared(std::size_t rows = 16, std::size_t hashes = 1) {
    hash_table_options h;
    h.rows = rows;
    h.dim = kDim;
    h.hashes = hashes;
    h.seed = 3;
    return shared_t(h, sgd{0.5f});
}

cafe_options frequency_options(float threshold, std::size_t hot_rows = 4) {
    cafe_options o;
    o.sketch.buckets = 8;
    o.sketch.hot_rows = hot_rows;
    o.sketch.threshold = threshold;
    o.sketch.decay_period = 1e30f;
    o.sketch.adaptive_threshold = false;  // the paper's fixed T and uncapped scores, so that the
    o.sketch.score_cap = 0;               // thresholds these tests reach are exact
    o.sketch.min_threshold = std::min(1.0f, threshold);
    o.score = importance::frequency;
    return o;
}

cafe_t make_cafe(float threshold) {
    return cafe_t(hot_t(4, kDim, sgd{0.5f}, 1), make_shared(), frequency_options(threshold));
}


template <class Table>
std::vector<float> vector_of(const Table& t, std::int64_t id) {
    std::vector<float> v(t.dim());
    std::vector<std::int64_t> ids = {id};
    t.lookup(ids, matrix_view<float>(v.data(), 1, t.dim()));
    return v;
}

template <class Table>
void step(Table& t, const std::vector<std::int64_t>& ids, float g = 1.0f) {
    std::vector<float> grads(ids.size() * t.dim());
    for (std::size_t k = 0; k < grads.size(); ++k) grads[k] = g * (1.0f + 0.1f * float(k % 7));
    t.update(ids, matrix_view<const float>(grads.data(), ids.size(), t.dim()));
}

}  // namespace

static_assert(is_table_v<cafe_t>);

TEST_CASE("until an id is promoted, CAFE behaves exactly as its shared table", "[cafe]") {
    auto cafe = make_cafe(1e9f);  // nothing reaches the threshold
    auto alone = make_shared();
    std::mt19937 g(1);
    std::uniform_int_distribution<std::int64_t> d(0, 1000);
    for (int round = 0; round < 20; ++round) {
        std::vector<std::int64_t> ids(12);
        for (auto& id : ids) id = d(g);
        step(cafe, ids);
        step(alone, ids);
        for (auto id : ids) REQUIRE(vector_of(cafe, id) == vector_of(alone, id));
    }
    std::vector<std::int64_t> ids = {1, 2, 3, 2}, off = {0, 1, 4};
    row_matrix a(2, kDim), b(2, kDim);
    cafe.lookup_pooled(ids, off, a, {pooling::mean});
    alone.lookup_pooled(ids, off, b, {pooling::mean});
    REQUIRE(a == b);
}

TEST_CASE("promotion copies the shared vector the id really used, after the step", "[cafe]") {
    auto cafe = make_cafe(3);  // frequency: the third lookup promotes
    auto alone = make_shared();
    // two ids of different "fields" (far apart) to catch copying the wrong shared row
    for (int i = 0; i < 3; ++i) {
        step(cafe, {5, 900001});
        step(alone, {5, 900001});
    }
    REQUIRE(cafe.hot_row(5) != cafe_t::sketch_type::cold);
    REQUIRE(cafe.hot_row(900001) != cafe_t::sketch_type::cold);
    REQUIRE(cafe.hot_row(5) != cafe.hot_row(900001));
    REQUIRE(vector_of(cafe, 5) == vector_of(alone, 5));
    REQUIRE(vector_of(cafe, 900001) == vector_of(alone, 900001));
    REQUIRE(vector_of(cafe.hot(), cafe.hot_row(5)) == vector_of(alone, 5));
}

TEST_CASE("a promoted id trains its own row; its shared row no longer moves for it", "[cafe]") {
    auto cafe = make_cafe(2);
    step(cafe, {7});
    step(cafe, {7});  // promoted now
    const auto shared_before = vector_of(cafe.shared(), 7);
    const auto hot_before = vector_of(cafe, 7);
    step(cafe, {7}, 2.0f);
    REQUIRE(vector_of(cafe.shared(), 7) == shared_before);
    const auto hot_after = vector_of(cafe, 7);
    for (std::size_t j = 0; j < kDim; ++j)  // plain SGD, lr 0.5, on the hot row
        REQUIRE(hot_after[j] == Approx(hot_before[j] - 0.5f * 2.0f * (1.0f + 0.1f * float(j))));
}

TEST_CASE("promoted rows start with fresh optimizer state", "[cafe]") {
    using a_hot = full_table<f32, adagrad>;
    using a_shared = hash_table<f32, adagrad, mix64>;
    hash_table_options h;
    h.rows = 16;
    h.dim = kDim;
    cafe_options o = frequency_options(3, 1);  // one hot row, reused
    o.sketch.decay = 0.1f;
    o.sketch.decay_period = 0.25f;  // decay once more than 0.25·8·3 = 6 units are inserted
    cafe_table<a_hot, a_shared, mix64> cafe(a_hot(1, kDim, adagrad{0.1f}),
                                            a_shared(h, adagrad{0.1f}), o);
    for (int i = 0; i < 6; ++i) step(cafe, {3});  // id 3 takes the row and trains it
    REQUIRE(cafe.hot_row(3) == 0);
    step(cafe, {8});  // the 7th unit decays: 3's score 6 → 0.6 < T, its row is freed
    REQUIRE(cafe.hot_row(3) == -1);
    for (int i = 0; i < 3; ++i) step(cafe, {8});  // 0.1 + 3 ≥ T: id 8 takes the same row
    REQUIRE(cafe.hot_row(8) == 0);
    const auto before = vector_of(cafe, 8);
    step(cafe, {8});
    const auto after = vector_of(cafe, 8);
    // a fresh Adagrad accumulator moves the first step by exactly lr·sign(g); id 3's would not
    for (std::size_t j = 0; j < kDim; ++j) REQUIRE(after[j] == Approx(before[j] - 0.1f));
}

TEST_CASE("lookups never change the sketch", "[cafe]") {
    const auto cafe = make_cafe(2);
    std::vector<std::int64_t> ids(100, 9);
    row_matrix out(100, kDim);
    for (int i = 0; i < 10; ++i) cafe.lookup(ids, out);
    REQUIRE(cafe.sketch().score(9) == 0);
    REQUIRE(cafe.hot_row(9) == -1);
}

TEST_CASE("decay demotes ids that went cold; demotion writes nothing back", "[cafe]") {
    cafe_options o = frequency_options(3, 1);
    o.sketch.decay = 0.5f;
    o.sketch.decay_period = 1;  // decay after 8·3 = 24 units of score
    cafe_t cafe(hot_t(1, kDim, sgd{0.5f}, 1), make_shared(), o);
    for (int i = 0; i < 4; ++i) step(cafe, {11});
    REQUIRE(cafe.hot_row(11) == 0);
    step(cafe, {11}, 3.0f);  // trained while hot
    const auto shared_11 = vector_of(cafe.shared(), 11);
    for (std::int64_t id = 1000; id < 1100; ++id) step(cafe, {id}, 0.0f);  // others, zero grads
    REQUIRE(cafe.hot_row(11) == -1);
    REQUIRE(vector_of(cafe, 11) == shared_11);  // back to its untouched shared vector
}

TEST_CASE("gradient-norm importance: s_i = N·‖g_i‖ / Σ‖g_j‖", "[cafe]") {
    cafe_options o = frequency_options(100);
    o.score = importance::gradient_norm;
    cafe_t cafe(hot_t(4, kDim, sgd{0.5f}, 1), make_shared(), o);
    std::vector<std::int64_t> ids = {1, 2};
    row_matrix g(2, kDim);
    g << 3, 0, 0, 0, 0, 0, 1, 0;  // norms 3 and 1: scores 2·3/4 and 2·1/4
    cafe.update(ids, g);
    REQUIRE(cafe.sketch().score(1) == Approx(1.5f));
    REQUIRE(cafe.sketch().score(2) == Approx(0.5f));
    // pooled: each id's gradient is its weight times the bag gradient
    std::vector<std::int64_t> pids = {3, 4}, off = {0, 2};
    std::vector<float> w = {1, 3};
    row_matrix bg(1, kDim);
    bg << 1, 1, 1, 1;
    cafe.update_pooled(pids, off, bg, {pooling::sum, w});
    REQUIRE(cafe.sketch().score(3) == Approx(0.5f));
    REQUIRE(cafe.sketch().score(4) == Approx(1.5f));
}

TEST_CASE("CAFE composes an int8 hot table with a multi-hash shared table", "[cafe][compose]") {
    using q_hot = full_table<int8_rowwise, adagrad>;
    using mh_shared = hash_table<f32, adagrad, mix64>;
    hash_table_options h;
    h.rows = 64;
    h.dim = 8;
    h.hashes = 2;
    cafe_options o;
    o.sketch.buckets = 16;
    o.sketch.hot_rows = 16;
    o.sketch.threshold = 5;
    o.score = importance::frequency;     // the most frequent ids must end up hot:
    o.sketch.adaptive_threshold = true;  // CAFE+ raises T so that the top 16 hold the rows
    auto cafe = make_cafe_table(q_hot(16, 8, adagrad{0.1f}), mh_shared(h, adagrad{0.1f}), o);
    static_assert(is_table_v<decltype(cafe)>);
    // least squares toward per-id targets; ids drawn from a skewed distribution
    std::mt19937 g(2);
    std::geometric_distribution<std::int64_t> d(0.05);
    auto target = [](std::int64_t id, std::size_t j) { return std::sin(0.7 * double(id) + double(j)); };
    auto loss = [&](const std::vector<std::int64_t>& ids) {
        row_matrix out(ids.size(), 8);
        cafe.lookup(ids, out);
        double l = 0;
        for (std::size_t i = 0; i < ids.size(); ++i)
            for (std::size_t j = 0; j < 8; ++j) l += std::pow(out(i, j) - target(ids[i], j), 2);
        return l / double(ids.size());
    };
    std::vector<std::int64_t> popular = {0, 1, 2, 3};
    const double before = loss(popular);
    for (int round = 0; round < 300; ++round) {
        std::vector<std::int64_t> ids(32);
        for (auto& id : ids) id = d(g);
        row_matrix out(ids.size(), 8), grad(ids.size(), 8);
        cafe.lookup(ids, out);
        for (std::size_t i = 0; i < ids.size(); ++i)
            for (std::size_t j = 0; j < 8; ++j) grad(i, j) = float(out(i, j) - target(ids[i], j));
        cafe.update(ids, grad);
    }
    for (auto id : popular) REQUIRE(cafe.hot_row(std::uint64_t(id)) != -1);
    REQUIRE(loss(popular) < 0.1 * before);
}

TEST_CASE("bad input leaves CAFE unchanged; mismatched parts are rejected", "[cafe][errors]") {
    auto cafe = make_cafe(2);
    step(cafe, {1});
    std::vector<std::int64_t> bad = {1, -4};
    row_matrix g = row_matrix::Ones(2, kDim);
    REQUIRE_THROWS_AS(cafe.update(bad, g), id_out_of_range);
    REQUIRE(cafe.sketch().score(1) == 1);  // the failed batch scored nothing
    REQUIRE(cafe.hot_row(1) == -1);
    REQUIRE_THROWS_AS(cafe_t(hot_t(3, kDim), make_shared(), frequency_options(2, 4)), bad_parameter);
    REQUIRE_THROWS_AS(cafe_t(hot_t(4, kDim + 1), make_shared(), frequency_options(2, 4)),
                      bad_parameter);
}

TEST_CASE("medium ids add a second, independent shared row", "[cafe][medium]") {
    cafe_options o = frequency_options(10);  // T = 10, β = 0.2: medium from score 2
    o.medium_tier = true;
    cafe_t cafe(hot_t(4, kDim, sgd{0.5f}, 1), make_shared(1024), o);
    auto alone = make_shared(1024);
    const auto second = static_cast<std::int64_t>(cafe_t::second_key(42));
    REQUIRE(second != 42);
    row_matrix g1(1, kDim), g2(2, kDim);
    g1 << 1, 2, 3, 4;
    g2 << 1, 2, 3, 4, 1, 2, 3, 4;
    const std::vector<std::int64_t> id = {42}, both = {42, second};
    cafe.update(id, g1);  // score 1: cold, one row
    alone.update(id, g1);
    REQUIRE(vector_of(cafe, 42) == vector_of(alone, 42));
    cafe.update(id, g1);  // score 2 = β·T: medium from now on
    alone.update(id, g1);
    auto sum = [&] {
        auto a = vector_of(alone, 42);
        const auto b = vector_of(alone, second);
        for (std::size_t j = 0; j < kDim; ++j) a[j] += b[j];
        return a;
    };
    REQUIRE(vector_of(cafe, 42) == sum());
    cafe.update(id, g1);  // a medium id's gradient reaches both rows
    alone.update(both, g2);
    const auto expect = sum();
    const auto got = vector_of(cafe, 42);
    for (std::size_t j = 0; j < kDim; ++j) REQUIRE(got[j] == Approx(expect[j]));
    // a QR shared table cannot host the medium tier (its ids are bounded)
    o.sketch.hot_rows = 4;
    using qr_shared = qr_table<full_table<>, full_table<>>;
    REQUIRE_THROWS_AS((cafe_table<hot_t, qr_shared, mix64>(
                          hot_t(4, kDim), make_qr_table<f32, sgd>(100, 10, kDim), o)),
                      bad_parameter);
}

TEST_CASE("gradient norms are computed without overflow; nothing non-finite enters the sketch",
          "[cafe][hostile]") {
    cafe_options o = frequency_options(100, 4);
    o.score = importance::gradient_norm;
    cafe_t cafe(hot_t(4, kDim, sgd{1e-30f}, 1), make_shared(), o);
    row_matrix g(2, kDim);
    g << 2e19f, 2e19f, 2e19f, 2e19f, 1, 1, 1, 1;  // finite, but 2e19 squared overflows a float
    const std::vector<std::int64_t> ids = {1, 2};
    cafe.update(ids, g);
    // s_i = N·‖g_i‖ / Σ‖g_j‖: id 1 takes (almost) all of the batch's score of 2
    REQUIRE(cafe.sketch().score(1) == Approx(2.0f));
    REQUIRE(std::isfinite(cafe.sketch().score(2)));
    REQUIRE(cafe.sketch().score(2) > 0);
    cafe.sketch().for_each([](std::uint64_t, float score, std::int32_t) {
        REQUIRE(std::isfinite(score));
    });
}
