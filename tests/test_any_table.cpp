// any_table: a run-time choice of table that behaves exactly as the table it holds.
#include <embtab/embtab.hpp>
#include <embtab/tables/any_table.hpp>

#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "reference.hpp"

using namespace embtab;

static_assert(is_table_v<any_table>);

TEST_CASE("any_table forwards every call to the table it holds", "[any_table]") {
    auto direct = make_full_table<f16>(50, 4, adagrad{0.1f}, 3);
    any_table erased(direct, "f16 adagrad");
    REQUIRE(erased.name() == "f16 adagrad");
    REQUIRE(erased.dim() == 4);
    REQUIRE(erased.memory_bytes().total() == direct.memory_bytes().total());
    std::vector<std::int64_t> ids = {1, 7, 7, 49};
    std::vector<std::int32_t> ids32 = {1, 7, 7, 49};
    std::vector<std::int64_t> off = {0, 3, 4};
    std::vector<std::int32_t> off32 = {0, 3, 4};
    row_matrix g = row_matrix::Constant(2, 4, 0.5f), g4 = row_matrix::Constant(4, 4, -0.25f);
    direct.update_pooled(ids, off, g, {pooling::mean});
    erased.update_pooled(ids32, off32, g, {pooling::mean});
    direct.update(ids, g4);
    erased.update(ids, g4);
    row_matrix a(2, 4), b(2, 4), c(4, 4), d(4, 4);
    direct.lookup_pooled(ids, off, a);
    erased.lookup_pooled(ids, off, b);
    REQUIRE(a == b);
    direct.lookup(ids, c);
    erased.lookup(ids32, d);
    REQUIRE(c == d);
    std::vector<std::int64_t> bad = {50};
    row_matrix one(1, 4);
    REQUIRE_THROWS_AS(erased.lookup(bad, one), id_out_of_range);
}

TEST_CASE("any_table takes every id type the typed tables take, and any offset type",
          "[any_table]") {
    hash_table_options h;
    h.rows = 16;
    h.dim = 3;
    auto direct = make_hash_table<f32>(h, sgd{0.1f});
    any_table erased(direct);
    const std::vector<std::uint64_t> ids = {5, (1ULL << 63) + 9, ~0ULL};  // beyond int64
    const std::vector<std::uint32_t> ids_u32 = {5, 4000000000u};
    const std::vector<std::int32_t> ids32 = {5, 7};
    const std::vector<std::int64_t> off64 = {0, 1, 2};
    const std::vector<std::uint32_t> off_u32 = {0, 2, 3};
    row_matrix a(3, 3), b(3, 3), p(2, 3), q(2, 3);
    direct.lookup(ids, a);
    erased.lookup(ids, b);
    REQUIRE(a == b);
    direct.lookup_pooled(ids32, off64, p);  // 32-bit ids, 64-bit offsets
    erased.lookup_pooled(ids32, off64, q);
    REQUIRE(p == q);
    const row_matrix g = row_matrix::Constant(2, 3, 0.5f);
    direct.update_pooled(ids, off_u32, g);  // unsigned 32-bit offsets
    erased.update_pooled(ids, off_u32, g);
    direct.update(ids_u32, g);
    erased.update(ids_u32, g);
    direct.lookup(ids, a);
    erased.lookup(ids, b);
    REQUIRE(a == b);
    const std::vector<std::int32_t> bad_off = {0, -1, 3};
    REQUIRE_THROWS_AS(erased.lookup_pooled(ids, bad_off, p), bad_offsets);
}

TEST_CASE("a moved-from any_table says so instead of crashing", "[any_table]") {
    any_table a(make_full_table<f32>(4, 2, sgd{0.1f}, 1));
    any_table b(std::move(a));
    REQUIRE(b.dim() == 2);
    REQUIRE_THROWS_AS(a.dim(), std::logic_error);  // NOLINT(bugprone-use-after-move): the point
    row_matrix out(1, 2);
    const std::vector<std::int64_t> ids = {0};
    REQUIRE_THROWS_AS(a.lookup(ids, out), std::logic_error);
}
