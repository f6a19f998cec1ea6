// any_table: a run-time choice of table that behaves exactly as the table it holds.
#include <embtab/embtab.hpp>
#include <embtab/tables/any_table.hpp>

#include <cstdint>
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
