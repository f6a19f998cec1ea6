// Bad input: a clear exception naming value, position and range, and the table unchanged.
#include <embtab/embtab.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "catch.hpp"
#include "reference.hpp"

using namespace embtab;
using Catch::Matchers::ContainsSubstring;

namespace {

using table_t = full_table<f16, adagrad>;  // state and a rounding stream: both must not move

constexpr std::size_t kRows = 10, kDim = 3;

table_t make() { return table_t(kRows, kDim, adagrad{0.5f}, 9); }

/// The table behaves exactly as an untouched copy: same rows now, and after the same update.
void require_unchanged(table_t& t, const table_t& pristine_in) {
    auto pristine = pristine_in;
    REQUIRE(ref::snapshot(t, kRows) == ref::snapshot(pristine, kRows));
    std::vector<std::int64_t> ids = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3};
    std::vector<float> g(ids.size() * kDim, 0.25f);
    t.update(ids, matrix_view<const float>(g.data(), ids.size(), kDim));
    pristine.update(ids, matrix_view<const float>(g.data(), ids.size(), kDim));
    REQUIRE(ref::snapshot(t, kRows) == ref::snapshot(pristine, kRows));
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

}  // namespace

TEST_CASE("ids outside the table are rejected with id, position and range", "[errors]") {
    auto t = make();
    const auto pristine = t;
    row_matrix out(3, kDim);
    std::vector<std::int64_t> high = {1, 2, 10};
    REQUIRE_THROWS_WITH(t.lookup(high, out), ContainsSubstring("id 10 at position 2") &&
                                                  ContainsSubstring("[0, 10)"));
    std::vector<std::int64_t> negative = {-1, 2, 3};
    REQUIRE_THROWS_AS(t.lookup(negative, out), id_out_of_range);
    REQUIRE_THROWS_WITH(t.lookup(negative, out), ContainsSubstring("id -1 at position 0"));
    std::vector<std::int8_t> small = {1, -3};  // printed as a number, not a character
    row_matrix out2(2, kDim);
    REQUIRE_THROWS_WITH(t.lookup(small, out2), ContainsSubstring("id -3 at position 1"));
    std::vector<float> g(3 * kDim, 1.0f);
    REQUIRE_THROWS_AS(t.update(high, matrix_view<const float>(g.data(), 3, kDim)),
                      id_out_of_range);
    std::vector<std::int64_t> off = {0, 1, 3};
    row_matrix bag_g = row_matrix::Ones(2, kDim);
    REQUIRE_THROWS_AS(t.update_pooled(high, off, bag_g), id_out_of_range);
    require_unchanged(t, pristine);
}

TEST_CASE("offsets must start at 0, not decrease and end at the id count", "[errors]") {
    auto t = make();
    const auto pristine = t;
    std::vector<std::int64_t> ids = {1, 2, 3};
    row_matrix out(2, kDim);
    row_matrix g = row_matrix::Ones(2, kDim);
    const auto check = [&](std::vector<std::int64_t> off, const char* message) {
        row_matrix o(off.empty() ? 0 : off.size() - 1, kDim);
        row_matrix gg = row_matrix::Ones(o.rows(), kDim);
        REQUIRE_THROWS_AS(t.lookup_pooled(ids, off, o), bad_offsets);
        REQUIRE_THROWS_WITH(t.lookup_pooled(ids, off, o), ContainsSubstring(message));
        REQUIRE_THROWS_WITH(t.update_pooled(ids, off, gg), ContainsSubstring(message));
    };
    check({}, "offsets is empty");
    check({1, 3}, "offsets[0] is 1");
    check({0, 2, 1, 3}, "offsets[2] = 1 is smaller than offsets[1] = 2");
    check({0, 2}, "the last offset, offsets[1] = 2, must equal the number of ids, 3");
    check({0, 4}, "offsets[1] = 4");
    check({0, -1, 3}, "offsets[1] = -1 is smaller");
    require_unchanged(t, pristine);
}

TEST_CASE("sizes that do not fit are rejected", "[errors]") {
    auto t = make();
    const auto pristine = t;
    std::vector<std::int64_t> ids = {1, 2, 3};
    std::vector<std::int64_t> off = {0, 1, 3};
    row_matrix wrong_rows(2, kDim), wrong_cols(3, kDim + 1);
    REQUIRE_THROWS_AS(t.lookup(ids, wrong_rows), shape_mismatch);
    REQUIRE_THROWS_WITH(t.lookup(ids, wrong_cols), ContainsSubstring("is 3 × 4; expected 3 × 3"));
    REQUIRE_THROWS_AS(t.update(ids, wrong_rows), shape_mismatch);
    row_matrix bags(3, kDim);
    REQUIRE_THROWS_WITH(t.lookup_pooled(ids, off, bags), ContainsSubstring("expected 2 × 3"));
    REQUIRE_THROWS_AS(t.update_pooled(ids, off, bags), shape_mismatch);
    std::vector<float> two_weights = {1, 2};
    row_matrix ok(2, kDim);
    REQUIRE_THROWS_WITH(t.lookup_pooled(ids, off, ok, {pooling::sum, two_weights}),
                        ContainsSubstring("weights has 2 entries; expected 3"));
    REQUIRE_THROWS_AS(t.update_pooled(ids, off, ok, {pooling::sum, two_weights}), shape_mismatch);
    float buf[12];
    REQUIRE_THROWS_AS(matrix_view<float>(buf, 3, 4, 2), shape_mismatch);
    require_unchanged(t, pristine);
}

TEST_CASE("bad table parameters are rejected", "[errors]") {
    REQUIRE_THROWS_AS(table_t(0, 4), bad_parameter);
    REQUIRE_THROWS_WITH(table_t(4, 0), ContainsSubstring("dimension of at least 1; got 0"));
}

TEST_CASE("non-finite gradients throw and change nothing by default", "[errors][nonfinite]") {
    auto t = make();
    const auto pristine = t;
    std::vector<std::int64_t> ids = {1, 2, 3};
    for (float bad : {kNaN, kInf, -kInf}) {
        row_matrix g = row_matrix::Ones(3, kDim);
        g(2, 1) = bad;
        REQUIRE_THROWS_AS(t.update(ids, g), nonfinite_gradient);
        REQUIRE_THROWS_WITH(t.update(ids, g), ContainsSubstring("gradient row 2") &&
                                                  ContainsSubstring("at column 1"));
        std::vector<std::int64_t> off = {0, 2, 3};
        row_matrix bg = row_matrix::Ones(2, kDim);
        bg(1, 0) = bad;
        REQUIRE_THROWS_WITH(t.update_pooled(ids, off, bg), ContainsSubstring("bag gradient row 1"));
        std::vector<float> weights = {1, bad, 1};
        const row_matrix ones = row_matrix::Ones(2, kDim);
        REQUIRE_THROWS_WITH(t.update_pooled(ids, off, ones, {pooling::sum, weights}),
            ContainsSubstring("weight") && ContainsSubstring("at position 1 (id 2)"));
    }
    require_unchanged(t, pristine);
}

TEST_CASE("the skip policy drops only the non-finite rows", "[errors][nonfinite]") {
    auto t = make_full_table(kRows, kDim, sgd{1.0f}, 4);
    auto expected = t;
    t.set_nonfinite_policy(nonfinite_policy::skip_row);
    REQUIRE(t.get_nonfinite_policy() == nonfinite_policy::skip_row);
    std::vector<std::int64_t> ids = {1, 2, 3};
    row_matrix g = row_matrix::Ones(3, kDim);
    g(1, 2) = kNaN;
    t.update(ids, g);
    std::vector<std::int64_t> kept = {1, 3};
    const row_matrix ones = row_matrix::Ones(2, kDim);
    expected.update(kept, ones);
    REQUIRE(ref::snapshot(t, kRows) == ref::snapshot(expected, kRows));
    // pooled: a non-finite weight drops that id, a non-finite bag gradient the whole bag
    std::vector<std::int64_t> off = {0, 2, 3};
    std::vector<float> weights = {kInf, 1, 1};
    const row_matrix ones2 = row_matrix::Ones(2, kDim);
    t.update_pooled(ids, off, ones2, {pooling::sum, weights});
    std::vector<std::int64_t> id2and3 = {2, 3};
    expected.update(id2and3, ones2);
    REQUIRE(ref::snapshot(t, kRows) == ref::snapshot(expected, kRows));
    row_matrix bg = row_matrix::Ones(2, kDim);
    bg(0, 0) = kNaN;
    t.update_pooled(ids, off, bg);
    std::vector<std::int64_t> id3 = {3};
    const row_matrix one = row_matrix::Ones(1, kDim);
    expected.update(id3, one);
    REQUIRE(ref::snapshot(t, kRows) == ref::snapshot(expected, kRows));
}

TEST_CASE("the non-finite scan finds the first NaN or infinity at every length and position",
          "[errors][nonfinite]") {
    // Against the plain definition, across the vector blocks and the scalar tail.
    const float bad[] = {std::numeric_limits<float>::infinity(),
                         -std::numeric_limits<float>::infinity(),
                         std::numeric_limits<float>::quiet_NaN(),
                         -std::numeric_limits<float>::signaling_NaN()};
    const auto first_by_definition = [](const std::vector<float>& v) {
        for (std::size_t j = 0; j < v.size(); ++j)
            if (!std::isfinite(v[j])) return j;
        return v.size();
    };
    for (std::size_t n = 0; n <= 40; ++n) {
        std::vector<float> v(n);
        for (std::size_t j = 0; j < n; ++j)  // finite values of every exponent, incl. the largest
            v[j] = j % 3 == 0 ? std::numeric_limits<float>::max() : float(j) * -1e-39f + 1.5f;
        REQUIRE(embtab::detail::first_nonfinite(v.data(), n) == n);
        for (std::size_t k = 0; k < n; ++k)
            for (float b : bad) {
                auto w = v;
                w[k] = b;
                if (k + 3 < n) w[k + 3] = bad[0];  // a later one must not be reported
                INFO("n " << n << " position " << k);
                REQUIRE(embtab::detail::first_nonfinite(w.data(), n) == first_by_definition(w));
            }
    }
}
