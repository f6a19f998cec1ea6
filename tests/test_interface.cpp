// The shared interface: traits, id and offset types, caller memory layouts.
#include <embtab/embtab.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "catch.hpp"
#include "reference.hpp"

using namespace embtab;

static_assert(is_table_v<full_table<>>);
static_assert(is_table_v<full_table<bf16, adam>>);
static_assert(!is_table_v<int>);
static_assert(!is_table_v<row_matrix>);
static_assert(is_storage_v<f32> && is_storage_v<f16> && is_storage_v<bf16>);
static_assert(!is_storage_v<sgd> && !is_storage_v<float>);
static_assert(is_optimizer_v<sgd> && is_optimizer_v<adagrad> && is_optimizer_v<rowwise_adagrad> &&
              is_optimizer_v<adam>);
static_assert(!is_optimizer_v<f32>);
static_assert(std::is_same_v<full_table<>, full_table<f32, sgd>>);  // defaults from fwd.hpp
static_assert(std::is_same_v<decltype(make_full_table(1, 1, adam{})), full_table<f32, adam>>);
#if defined(__cpp_concepts) && __cpp_concepts >= 201907L
static_assert(table<full_table<f16, adagrad>>);
static_assert(!table<double>);
static_assert(storage_policy<bf16> && optimizer_policy<adam>);
#endif

TEST_CASE("32-bit, unsigned and 64-bit ids and offsets give the same result", "[interface]") {
    auto t = make_full_table(100, 5, sgd{}, 3);
    std::vector<std::int64_t> ids64 = {7, 99, 0, 7};
    std::vector<std::int32_t> ids32 = {7, 99, 0, 7};
    std::vector<std::uint64_t> idsu = {7, 99, 0, 7};
    std::array<std::uint32_t, 4> idsa = {7, 99, 0, 7};
    row_matrix a(4, 5), b(4, 5), c(4, 5), d(4, 5);
    t.lookup(ids64, a);
    t.lookup(ids32, b);
    t.lookup(idsu, c);
    t.lookup(idsa, d);
    REQUIRE(a == b);
    REQUIRE(a == c);
    REQUIRE(a == d);
    std::vector<std::int32_t> off32 = {0, 1, 4};
    std::vector<std::size_t> offsz = {0, 1, 4};
    row_matrix p(2, 5), q(2, 5);
    t.lookup_pooled(ids32, off32, p);
    t.lookup_pooled(span<const std::int64_t>(ids64), offsz, q);
    REQUIRE(p == q);
    std::vector<std::uint64_t> too_big = {100};
    row_matrix one(1, 5);
    REQUIRE_THROWS_AS(t.lookup(too_big, one), id_out_of_range);
}

TEST_CASE("outputs go into caller memory with any row stride", "[interface]") {
    const auto t = make_full_table(10, 3, sgd{}, 5);
    std::vector<std::int64_t> ids = {4, 2};
    row_matrix dense(2, 3);
    t.lookup(ids, dense);

    row_matrix wide = row_matrix::Constant(2, 8, -7.0f);  // write into columns 2..4 only
    t.lookup(ids, wide.middleCols(2, 3));
    REQUIRE(wide.middleCols(2, 3) == dense);
    REQUIRE((wide.leftCols(2).array() == -7.0f).all());
    REQUIRE((wide.rightCols(3).array() == -7.0f).all());

    std::vector<float> raw(2 * 5, -1.0f);  // raw pointer, stride 5
    t.lookup(ids, matrix_view<float>(raw.data(), 2, 3, 5));
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j) REQUIRE(raw[i * 5 + j] == dense(i, j));
    REQUIRE(raw[3] == -1.0f);
    REQUIRE(raw[9] == -1.0f);

    Eigen::Map<row_matrix> mapped(raw.data(), 2, 5);  // an Eigen::Map block
    mapped.setZero();
    t.lookup(ids, mapped.leftCols(3));
    REQUIRE(mapped.leftCols(3) == dense);
}

TEST_CASE("gradients are read from caller memory with any row stride", "[interface]") {
    auto a = make_full_table(10, 3, sgd{0.5f}, 5);
    auto b = a;
    std::vector<std::int64_t> ids = {4, 2, 4};
    row_matrix g(3, 3);
    g << 1, 2, 3, 4, 5, 6, 7, 8, 9;
    row_matrix wide = row_matrix::Zero(3, 6);
    wide.rightCols(3) = g;
    a.update(ids, g);
    b.update(ids, wide.rightCols(3));
    REQUIRE(ref::snapshot(a, 10) == ref::snapshot(b, 10));
}

TEST_CASE("a one-dimensional table accepts column vectors", "[interface]") {
    const auto t = make_full_table(10, 1, sgd{}, 5);
    std::vector<std::int64_t> ids = {1, 2, 3};
    Eigen::VectorXf v(3);
    t.lookup(ids, v);
    row_matrix m(3, 1);
    t.lookup(ids, m);
    REQUIRE(v == Eigen::VectorXf(m));
}
