// Finite input whose step overflows: no update may leave a non-finite value in a row or in
// optimizer state. Under `throw_error` the whole update is refused (the table's checkpoint bytes
// are those of before); under `skip_row` the row is left as it was and the rest is applied.
#include <embtab/embtab.hpp>
#include <embtab/io/checkpoint.hpp>
#include <xxhash.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "catch.hpp"

using namespace embtab;

namespace {

using bytes_t = std::vector<std::byte>;
constexpr float float_max = std::numeric_limits<float>::max();

/// Every vector of ids [0, n) of `t` is finite.
template <class Table>
bool all_finite(const Table& t, std::uint64_t n) {
    std::vector<std::int64_t> ids(n);
    for (std::uint64_t i = 0; i < n; ++i) ids[i] = static_cast<std::int64_t>(i);
    std::vector<float> out(n * t.dim());
    t.lookup(ids, matrix_view<float>(out.data(), n, t.dim()));
    for (float v : out)
        if (!std::isfinite(v)) return false;
    return true;
}

/// Its checkpoint loads into a copy: the loader refuses non-finite rows, state and fields.
template <class Table>
bool loads_back(const Table& t) {
    Table copy = t;
    const bytes_t b = save_bytes(t);
    try {
        load_bytes(copy, b.data(), b.size());
    } catch (const bad_checkpoint&) {
        return false;
    }
    return true;
}

template <class Table>
void update_rows(Table& t, const std::vector<std::int64_t>& ids, const std::vector<float>& g) {
    t.update(ids, matrix_view<const float>(g.data(), ids.size(), t.dim()));
}

/// `update` must throw `nonfinite_result` and leave `t`'s checkpoint bytes as they were.
template <class Table>
void require_refused(Table& t, const std::vector<std::int64_t>& ids, const std::vector<float>& g) {
    const bytes_t before = save_bytes(t);
    CHECK_THROWS_AS(update_rows(t, ids, g), nonfinite_result);
    CHECK(save_bytes(t) == before);
}

std::vector<float> filled(std::size_t n, float v) { return std::vector<float>(n, v); }

template <class T, class = void>
struct has_mutable_lr : std::false_type {};
template <class T>
struct has_mutable_lr<T, std::void_t<decltype(std::declval<T&>().optimizer().lr = 1.0f)>>
    : std::true_type {};

}  // namespace

TEST_CASE("overflow: a coalesced gradient sum that overflows is refused, table unchanged",
          "[overflow]") {
    full_table<f32, sgd> t(4, 2, sgd{1e-30f}, 1);
    require_refused(t, {0, 0, 0, 0}, filled(8, 3e38f));  // each finite, the sum is not
    try {
        update_rows(t, {1, 0, 0, 0, 0}, filled(10, 3e38f));
        FAIL("not refused");
    } catch (const nonfinite_result& e) {
        const std::string m = e.what();
        CHECK(m.find("id 0 (position 1)") != std::string::npos);
        CHECK(m.find("unchanged") != std::string::npos);
    }
    SECTION("skip_row leaves that row and applies the others") {
        t.set_nonfinite_policy(nonfinite_policy::skip_row);
        std::vector<float> before(8), after(8);
        const std::vector<std::int64_t> all = {0, 1, 2, 3};
        t.lookup(all, matrix_view<float>(before.data(), 4, 2));
        std::vector<float> g = filled(10, 3e38f);
        g[8] = g[9] = 1e30f;  // id 2: finite step (1e30 · 1e-30)
        update_rows(t, {0, 0, 0, 0, 2}, g);
        t.lookup(all, matrix_view<float>(after.data(), 4, 2));
        CHECK(after[0] == before[0]);
        CHECK(after[1] == before[1]);
        CHECK(after[4] == Approx(before[4] - 1.0f));
        CHECK(all_finite(t, 4));
    }
}

TEST_CASE("overflow: weight × gradient, lr × gradient, Adagrad's accumulator", "[overflow]") {
    SECTION("update_pooled: weight 1e30 × gradient 1e30") {
        full_table<f32, sgd> t(4, 2, sgd{0.1f}, 1);
        const bytes_t before = save_bytes(t);
        const std::vector<std::int64_t> ids = {1, 2}, off = {0, 2};
        const std::vector<float> w = {1.0f, 1e30f}, g = filled(2, 1e30f);
        pool_options o;
        o.weights = w;
        CHECK_THROWS_AS(t.update_pooled(ids, off, matrix_view<const float>(g.data(), 1, 2), o),
                        nonfinite_result);
        CHECK(save_bytes(t) == before);
    }
    SECTION("SGD lr 10 × gradient 1e38") {
        full_table<f32, sgd> t(4, 2, sgd{10.0f}, 1);
        require_refused(t, {3}, filled(2, 1e38f));
    }
    SECTION("Adagrad: gradient 1e20 overflows the accumulator (the row would never train again)") {
        full_table<f32, adagrad> t(4, 2, adagrad{0.1f}, 1);
        require_refused(t, {3}, filled(2, 1e20f));
        full_table<f32, rowwise_adagrad> r(4, 2, rowwise_adagrad{0.1f}, 1);
        require_refused(r, {3}, filled(2, 1e20f));
    }
    SECTION("a hash table of 2 rows: one overflowing update would poison every id") {
        hash_table_options h;
        h.rows = 2;
        h.dim = 2;
        hash_table<f32, sgd, mix64> t(h, sgd{10.0f});
        require_refused(t, {5, 77}, filled(4, 1e38f));
        CHECK(all_finite(t, 100));
    }
}

TEST_CASE("overflow: at the edge of a storage's range a step is refused", "[overflow]") {
    const std::vector<float> big = {2e38f, -2e38f, 1e38f, 0.0f};
    SECTION("int8: a row spanning ±2e38 cannot be requantized (f32 stays finite)") {
        full_table<f32, sgd> f(2, 4, sgd{0.1f}, 1);
        f.assign(0, big.data());
        update_rows(f, {0}, filled(4, 1.0f));
        CHECK(all_finite(f, 2));
        full_table<int8_rowwise, sgd> q(2, 4, sgd{1.0f}, 1);
        const std::vector<float> wide = {1e38f, -1e38f, 0.0f, 0.0f};  // range 2e38 fits
        q.assign(0, wide.data());
        REQUIRE(all_finite(q, 2));
        require_refused(q, {0}, {-1e38f, 1e38f, 0.0f, 0.0f});  // range 4e38 > float max
        CHECK(all_finite(q, 2));
    }
    SECTION("f16 saturates at ±65504; a step to infinity is refused") {
        full_table<f16, sgd> t(2, 2, sgd{1.0f}, 1);
        const std::vector<float> v = {60000.0f, 1.0f};
        t.assign(1, v.data());
        update_rows(t, {1}, {-10000.0f, 0.0f});  // 70000
        std::vector<float> out(2);
        const std::vector<std::int64_t> one = {1};
        t.lookup(one, matrix_view<float>(out.data(), 1, 2));
        CHECK(out[0] == 65504.0f);
        t.optimizer().lr = 10;
        require_refused(t, {1}, {-1e38f, 0.0f});  // 1e39 in fp32 already
    }
    SECTION("bf16 beyond float max") {
        full_table<bf16, sgd> t(2, 2, sgd{1.0f}, 1);
        const std::vector<float> v = {3.3e38f, 1.0f};
        t.assign(1, v.data());
        require_refused(t, {1}, {-float_max, 0.0f});
    }
}

TEST_CASE("overflow: a refused step in one part rolls back the other parts", "[overflow]") {
    SECTION("frequency split: the hot row stepped first, then the shared row overflows") {
        using fs = frequency_split_table<full_table<f32, sgd>, hash_table<f32, sgd, mix64>>;
        hash_table_options h;
        h.rows = 3;
        h.dim = 2;
        const std::vector<std::int64_t> hot = {0};
        fs t(10, hot, full_table<f32, sgd>(1, 2, sgd{1.0f}, 1), hash_table<f32, sgd, mix64>(h, sgd{1.0f}));
        std::vector<float> g = {1.0f, 1.0f, float_max, float_max, float_max, float_max};
        require_refused(t, {0, 5, 5}, g);
    }
    SECTION("QR: the quotient row stepped, the remainder row overflows") {
        auto t = make_qr_table<f32>(20, 4, 2, qr_combine::sum, sgd{1.0f}, 3);
        require_refused(t, {1, 2, 2}, {1.0f, 1.0f, float_max, float_max, float_max, float_max});
    }
    SECTION("mixed dimension: rows and projections") {
        auto t = make_mixed_dim_table<f32>({{4, 2}, {4, 1}}, 2, adagrad{0.1f}, 5);
        require_refused(t, {0, 6}, {0.5f, 0.5f, 1e20f, 1e20f});
        CHECK(all_finite(t, 8));
    }
    SECTION("CAFE: the sketch sees only kept updates") {
        cafe_options o;
        o.sketch.buckets = 4;
        o.sketch.hot_rows = 2;
        o.sketch.threshold = 1;
        o.score = importance::frequency;
        hash_table_options h;
        h.rows = 3;
        h.dim = 2;
        auto t = make_cafe_table(full_table<f32, sgd>(2, 2, sgd{1.0f}, 1),
                                 hash_table<f32, sgd, mix64>(h, sgd{1.0f}), o);
        update_rows(t, {7, 7}, filled(4, 0.5f));  // id 7 promoted
        REQUIRE(t.hot_row(7) != decltype(t)::sketch_type::cold);
        require_refused(t, {7, 9, 9}, {1.0f, 1.0f, float_max, float_max, float_max, float_max});
        CHECK(t.sketch().score(9) == 0.0f);
    }
}

TEST_CASE("CAFE medium tier: a promoted id keeps the vector its lookups returned", "[overflow][cafe]") {
    cafe_options o;
    o.sketch.buckets = 8;
    o.sketch.hot_rows = 2;
    o.sketch.threshold = 10;
    o.sketch.adaptive_threshold = false;
    o.score = importance::frequency;
    o.medium_tier = true;
    o.medium_fraction = 0.2f;  // medium from score 2
    hash_table_options h;
    h.rows = 16;
    h.dim = 3;
    auto t = make_cafe_table(full_table<f32, sgd>(2, 3, sgd{0.0f}, 1),
                             hash_table<f32, sgd, mix64>(h, sgd{0.0f}), o);
    // lr = 0: no step changes a vector, so the vector of id 5 may change only where the tier
    // says it does (a second shared row from score β·T), never at promotion
    const std::vector<std::int64_t> id = {5};
    const std::vector<float> g = {1.0f, -1.0f, 0.5f};
    std::vector<float> before(3), after(3);
    bool promoted = false;
    for (int step = 0; step < 20 && !promoted; ++step) {
        t.lookup(id, matrix_view<float>(before.data(), 1, 3));
        update_rows(t, id, g);
        promoted = t.hot_row(5) != decltype(t)::sketch_type::cold;
    }
    REQUIRE(promoted);
    t.lookup(id, matrix_view<float>(after.data(), 1, 3));
    std::vector<float> shared_only(3);
    t.shared().lookup(id, matrix_view<float>(shared_only.data(), 1, 3));
    REQUIRE(shared_only != before);  // it was a medium id: two shared rows
    CHECK(after == before);
}

TEST_CASE("CAFE: a medium id whose two shared rows sum past float max is promoted finite",
          "[overflow][cafe]") {
    cafe_options o;
    o.sketch.buckets = 8;
    o.sketch.hot_rows = 2;
    o.sketch.threshold = 4;
    o.sketch.adaptive_threshold = false;
    o.score = importance::frequency;
    o.medium_tier = true;
    hash_table_options h;
    h.rows = 4;
    h.dim = 2;
    hash_table<f32, sgd, mix64> shared(h, sgd{0.0f});
    shared.initialize([](std::size_t, float* v) { v[0] = v[1] = 3e38f; });
    auto t = make_cafe_table(full_table<f32, sgd>(2, 2, sgd{0.0f}, 1), std::move(shared), o);
    const std::vector<std::int64_t> id = {5};
    for (int step = 0; step < 8 && t.hot_row(5) == decltype(t)::sketch_type::cold; ++step)
        update_rows(t, id, {0.0f, 0.0f});
    REQUIRE(t.hot_row(5) != decltype(t)::sketch_type::cold);
    std::vector<float> out(2);
    t.lookup(id, matrix_view<float>(out.data(), 1, 2));
    CHECK(out[0] == float_max);  // saturated, not inf
    CHECK(loads_back(t));
}

TEST_CASE("overflow: property — extreme finite updates never leave a non-finite value",
          "[overflow]") {
    // gradients, weights and learning rates near float max, on every storage, optimizer and
    // table kind: after each call, either `nonfinite_result` with the checkpoint bytes of
    // before, or a checkpoint that loads back (the loader refuses non-finite rows and state) and,
    // where a vector is one row (full tables), every vector finite. (A vector that combines
    // rows — a sum, a product, a projection — may still overflow when its rows are near float
    // max: the promise is for what a table stores.)
    const float extreme[] = {float_max, -float_max, 3e38f, 1e38f, 1e20f, -1e20f, 1e-38f, 65504.0f};
    const float moderate[] = {0.5f, -1.0f, 1e-3f, 2.0f};
    const auto exercise = [&](auto t, std::uint64_t n, const char* kind, bool vector_is_row = false) {
        INFO(kind);
        std::uint64_t state = 42;
        const auto next = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
        std::size_t refused = 0, kept = 0;
        for (int call = 0; call < 60; ++call) {
            const bool tame = call % 3 == 0;  // so that some updates are kept
            const auto value = [&] {
                const std::uint64_t r = next() >> 33;
                return tame ? moderate[r % std::size(moderate)] : extreme[r % std::size(extreme)];
            };
            const std::size_t k = 1 + next() % 5;
            std::vector<std::int64_t> ids(k);
            for (auto& i : ids) i = static_cast<std::int64_t>((next() >> 33) % n);
            std::vector<float> g(k * t.dim());
            for (auto& x : g) x = value();
            if constexpr (has_mutable_lr<decltype(t)>::value)
                if (call % 7 == 3) t.optimizer().lr = value();
            const bytes_t before = save_bytes(t);
            try {
                if (call % 2) {
                    std::vector<float> w(k);
                    for (auto& x : w) x = value();
                    pool_options o;
                    o.weights = w;
                    const std::vector<std::int64_t> off = {0, static_cast<std::int64_t>(k)};
                    t.update_pooled(ids, off, matrix_view<const float>(g.data(), 1, t.dim()), o);
                } else {
                    update_rows(t, ids, g);
                }
            } catch (const nonfinite_result&) {
                REQUIRE(save_bytes(t) == before);
                ++refused;
                continue;
            }
            ++kept;
            REQUIRE(loads_back(t));
            if (vector_is_row) REQUIRE(all_finite(t, n));
        }
        CHECK(refused > 0);  // both outcomes were tried
        CHECK(kept > 0);
    };
    const auto full_kinds = [&](auto opt, const char* name) {
        exercise(full_table<f32, decltype(opt)>(6, 4, opt, 1), 6, name, true);
        exercise(full_table<f16, decltype(opt)>(6, 4, opt, 1), 6, name, true);
        exercise(full_table<bf16, decltype(opt)>(6, 4, opt, 1), 6, name, true);
        exercise(full_table<int8_rowwise, decltype(opt)>(6, 4, opt, 1), 6, name, true);
        exercise(full_table<int4_rowwise, decltype(opt)>(6, 4, opt, 1), 6, name, true);
        hash_table_options h;
        h.rows = 3;
        h.dim = 4;
        h.hashes = 2;
        exercise(hash_table<f32, decltype(opt), mix64>(h, opt), 40, name);
        exercise(make_qr_table<f16>(20, 4, 4, qr_combine::product, opt, 3), 20, name);
        exercise(make_mixed_dim_table<bf16>({{4, 4}, {6, 2}}, 4, opt, 5), 10, name);
        const std::vector<std::int64_t> hot = {0, 2};
        exercise(frequency_split_table<full_table<int8_rowwise, decltype(opt)>,
                                       hash_table<f32, decltype(opt), mix64>>(
                     10, hot, full_table<int8_rowwise, decltype(opt)>(2, 4, opt, 1),
                     hash_table<f32, decltype(opt), mix64>(h, opt)),
                 10, name);
        cafe_options o;
        o.sketch.buckets = 4;
        o.sketch.hot_rows = 2;
        o.sketch.threshold = 1;
        o.medium_tier = true;
        exercise(make_cafe_table(full_table<f16, decltype(opt)>(2, 4, opt, 1),
                                 hash_table<f32, decltype(opt), mix64>(h, opt), o),
                 40, name);
    };
    full_kinds(sgd{0.1f}, "sgd");
    full_kinds(adagrad{0.1f}, "adagrad");
    full_kinds(rowwise_adagrad{0.1f}, "rowwise_adagrad");
    full_kinds(adam{0.1f}, "adam");
}

TEST_CASE("overflow: hyper-parameters and checkpoints that would poison the next update",
          "[overflow][checkpoint]") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS((full_table<f32, sgd>(2, 2, sgd{nan}, 1)), bad_parameter);
    CHECK_THROWS_AS((full_table<f32, adam>(2, 2, adam{0.1f, 1.5f}, 1)), bad_parameter);
    CHECK_THROWS_AS((full_table<f32, adagrad>(2, 2, adagrad{0.1f, 0.0f}, 1)), bad_parameter);

    // A checkpoint with the value 0.1f (lr) or a row value replaced by another, resealed
    // (the checksum is XXH3-64 over everything before it, as the format says).
    const auto patched = [](bytes_t b, float from, float to) {
        const std::size_t n = b.size() - 8;
        std::size_t hits = 0;
        for (std::size_t i = 0; i + 4 <= n; ++i) {
            float v;
            std::memcpy(&v, b.data() + i, 4);
            if (v == from) {
                std::memcpy(b.data() + i, &to, 4);
                ++hits;
            }
        }
        REQUIRE(hits == 1);
        const std::uint64_t sum = XXH3_64bits(b.data(), n);
        for (std::size_t i = 0; i < 8; ++i) b[n + i] = std::byte((sum >> (8 * i)) & 0xff);
        return b;
    };
    full_table<f32, adam> t(2, 2, adam{0.1f}, 1);
    const std::vector<float> v = {0.75f, -0.5f};
    t.assign(1, v.data());
    const bytes_t good = save_bytes(t);
    full_table<f32, adam> u(2, 2, adam{0.2f}, 2);
    const bytes_t before = save_bytes(u);
    for (const auto& [from, to] : std::vector<std::pair<float, float>>{
             {0.1f, nan}, {0.1f, std::numeric_limits<float>::infinity()}, {0.75f, nan}}) {
        const bytes_t bad = patched(good, from, to);
        CHECK_THROWS_AS(load_bytes(u, bad.data(), bad.size()), bad_checkpoint);
        CHECK(save_bytes(u) == before);
    }
    load_bytes(u, good.data(), good.size());  // the unpatched one loads
    CHECK(save_bytes(u) == good);
}
