// hash_table (hashing trick, multiple hashing) and the hasher policies, against a scalar
// reference that computes rows with the documented formula `hasher(id, seed + i) % m`.
#include <embtab/embtab.hpp>
#include <embtab/hash/hashers.hpp>
#include <embtab/tables/hash_table.hpp>

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <map>
#include <string>
#include <type_traits>
#include <random>
#include <set>
#include <vector>

#include "catch.hpp"
#include "reference.hpp"

using namespace embtab;
using Catch::Matchers::ContainsSubstring;

static_assert(is_table_v<hash_table<>>);
static_assert(is_table_v<hash_table<int8_rowwise, adagrad, mix64>>);
static_assert(is_table_v<hash_table<f16, adam, xxh3>>);
static_assert(is_hasher_v<xxh3> && is_hasher_v<mix64>);
static_assert(!is_hasher_v<int> && !is_hasher_v<sgd>);
static_assert(std::is_same_v<hash_table<>, hash_table<f32, sgd, xxh3>>);

namespace {

constexpr std::size_t kDim = 5;

/// The reference: rows of the store in double, and the row list of an id by the formula.
template <class Hasher>
struct hash_ref {
    hash_table_options o;
    std::vector<double> w;  // stored rows (k·m with separate tables)

    std::vector<std::size_t> rows_of(std::uint64_t id) const {
        std::vector<std::size_t> r;
        for (std::size_t i = 0; i < o.hashes; ++i) {
            const std::size_t row = Hasher{}(id, o.seed + i) % o.rows;
            r.push_back(o.separate_tables ? i * o.rows + row : row);
        }
        return r;
    }
    double weight() const { return o.combine == hash_combine::mean ? 1.0 / o.hashes : 1.0; }
    std::vector<double> embed(std::uint64_t id) const {
        std::vector<double> v(o.dim, 0.0);
        for (auto r : rows_of(id))
            for (std::size_t j = 0; j < o.dim; ++j) v[j] += weight() * w[r * o.dim + j];
        return v;
    }
};

/// Row r, column j: a distinct, exactly representable value.
float known(std::size_t r, std::size_t j) { return static_cast<float>(r) + 0.125f * (j + 1); }

template <class Table>
void set_known(Table& t) {
    t.initialize([&](std::size_t r, float* v) {
        for (std::size_t j = 0; j < t.dim(); ++j) v[j] = known(r, j);
    });
}

template <class Hasher>
hash_ref<Hasher> known_ref(const hash_table_options& o) {
    hash_ref<Hasher> ref{o, {}};
    const std::size_t stored = o.separate_tables ? o.rows * o.hashes : o.rows;
    for (std::size_t r = 0; r < stored; ++r)
        for (std::size_t j = 0; j < o.dim; ++j) ref.w.push_back(known(r, j));
    return ref;
}

std::vector<hash_table_options> all_shapes() {
    std::vector<hash_table_options> shapes;
    for (std::size_t k : {1, 2, 3})
        for (auto c : {hash_combine::sum, hash_combine::mean})
            for (bool sep : {false, true}) shapes.push_back({11, kDim, k, c, sep, 42});
    return shapes;
}

const std::vector<std::int64_t> kIds = {0, 1, 2, 3, 17, 1024, 2048, 999983,
                                        std::int64_t(1) << 40, INT64_MAX, 5, 5, 0};

}  // namespace

TEST_CASE("xxh3 is XXH3-64 of the id's little-endian bytes; mix64 is a seeded bijection",
          "[hash][hasher]") {
    for (std::uint64_t id : {0ull, 1ull, 0x0102030405060708ull, ~0ull})
        for (std::uint64_t seed : {0ull, 7ull, ~0ull}) {
            unsigned char le[8];
            for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>((id >> (8 * i)) & 0xff);
            REQUIRE(xxh3{}(id, seed) == XXH3_64bits_withSeed(le, 8, seed));
        }
    REQUIRE(xxh3{}(1, 0) != xxh3{}(1, 1));
    REQUIRE(std::string(xxh3::name) == "xxh3");
    REQUIRE(std::string(mix64::name) == "mix64");
    std::set<std::uint64_t> seen;
    for (std::uint64_t id = 0; id < 10000; ++id) seen.insert(mix64{}(id, 3));
    REQUIRE(seen.size() == 10000);  // no collisions among 10⁴ ids (a bijection)
    static_assert(mix64{}(1, 2) == mix64{}(1, 2));  // usable at compile time
}

TEMPLATE_TEST_CASE("hash_table lookup and pooled lookup equal the formula's rows", "[hash]", xxh3,
                   mix64) {
    using Hasher = TestType;
    for (const auto& o : all_shapes()) {
        INFO("k " << o.hashes << " mean " << (o.combine == hash_combine::mean) << " separate "
                  << o.separate_tables);
        auto t = make_hash_table(o, sgd{}, f32{}, Hasher{});
        set_known(t);
        const auto ref = known_ref<Hasher>(o);
        REQUIRE(t.id_limit() == detail::no_id_limit);
        REQUIRE(t.memory_bytes().total() ==
                (o.separate_tables ? o.hashes : 1) * o.rows * kDim * sizeof(float));

        row_matrix out(kIds.size(), kDim);
        t.lookup(kIds, out);
        for (std::size_t i = 0; i < kIds.size(); ++i) {
            const auto e = ref.embed(static_cast<std::uint64_t>(kIds[i]));
            for (std::size_t j = 0; j < kDim; ++j) REQUIRE(out(i, j) == Approx(e[j]).epsilon(1e-6));
        }

        const std::vector<std::int64_t> offsets = {0, 3, 3, 9, 13};
        std::vector<float> weights(kIds.size());
        for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = 0.5f + 0.25f * i;
        for (bool mean : {false, true})
            for (bool weighted : {false, true}) {
                row_matrix pooled(offsets.size() - 1, kDim);
                pooled.setConstant(-7);
                const std::vector<float> wv = weighted ? weights : std::vector<float>{};
                t.lookup_pooled(kIds, offsets, pooled,
                                {mean ? pooling::mean : pooling::sum, span<const float>(wv)});
                for (std::size_t b = 0; b + 1 < offsets.size(); ++b) {
                    std::vector<double> e(kDim, 0.0);
                    const auto len = offsets[b + 1] - offsets[b];
                    for (auto i = offsets[b]; i < offsets[b + 1]; ++i) {
                        const auto v = ref.embed(static_cast<std::uint64_t>(kIds[i]));
                        const double wi = (weighted ? weights[i] : 1.0) / (mean ? len : 1);
                        for (std::size_t j = 0; j < kDim; ++j) e[j] += wi * v[j];
                    }
                    for (std::size_t j = 0; j < kDim; ++j)
                        REQUIRE(pooled(b, j) == Approx(e[j]).epsilon(1e-5).margin(1e-5));
                }
            }
    }
}

TEST_CASE("hash_table update: every row used gets the gradient, collisions coalesce",
          "[hash][update]") {
    std::mt19937 gen(5);
    std::uniform_real_distribution<float> uni(-1, 1);
    for (auto o : all_shapes()) {
        o.rows = 7;  // few rows: many collisions between different ids
        INFO("k " << o.hashes << " mean " << (o.combine == hash_combine::mean) << " separate "
                  << o.separate_tables);
        auto t = make_hash_table(o, adagrad{0.1f});
        set_known(t);
        auto ref = known_ref<xxh3>(o);
        ref::adagrad_ref opt(t.optimizer());
        std::map<std::size_t, std::vector<double>> state;
        for (int round = 0; round < 3; ++round) {
            std::vector<std::int64_t> ids(20);
            for (auto& id : ids) id = static_cast<std::int64_t>(gen() % 1000);
            ids[3] = ids[4];  // a duplicate id as well
            std::vector<float> g(ids.size() * kDim);
            for (auto& x : g) x = uni(gen);
            t.update(ids, matrix_view<const float>(g.data(), ids.size(), kDim));
            // reference: per stored row, the sum over (id, hash) of weight · g
            std::map<std::size_t, std::vector<double>> grad;
            for (std::size_t i = 0; i < ids.size(); ++i)
                for (auto r : ref.rows_of(static_cast<std::uint64_t>(ids[i]))) {
                    auto& s = grad[r];
                    s.resize(kDim, 0.0);
                    for (std::size_t j = 0; j < kDim; ++j) s[j] += ref.weight() * g[i * kDim + j];
                }
            for (auto& [r, gr] : grad) {
                std::vector<double> row(ref.w.begin() + r * kDim, ref.w.begin() + (r + 1) * kDim);
                opt.step(row, gr, state[r]);
                std::copy(row.begin(), row.end(), ref.w.begin() + r * kDim);
            }
            row_matrix out(kIds.size(), kDim);
            t.lookup(kIds, out);
            for (std::size_t i = 0; i < kIds.size(); ++i) {
                const auto e = ref.embed(static_cast<std::uint64_t>(kIds[i]));
                for (std::size_t j = 0; j < kDim; ++j)
                    REQUIRE(out(i, j) == Approx(e[j]).epsilon(1e-5).margin(1e-5));
            }
        }
    }
}

TEST_CASE("two colliding ids take one optimizer step with their summed gradient",
          "[hash][update]") {
    const hash_table_options o{5, 2, 1, hash_combine::sum, false, 9};
    // find two different ids on the same row, by the formula
    std::uint64_t a = 0, b = 1;
    while (xxh3{}(b, 9) % 5 != xxh3{}(a, 9) % 5) ++b;
    auto two = make_hash_table(o, adagrad{0.5f});
    auto one = two;
    const std::vector<std::int64_t> ids = {std::int64_t(a), std::int64_t(b)};
    const std::vector<float> g = {1, 2, -3, 0.5f};
    two.update(ids, matrix_view<const float>(g.data(), 2, 2));
    const std::vector<std::int64_t> only_a = {std::int64_t(a)};
    const std::vector<float> sum = {-2, 2.5f};
    one.update(only_a, matrix_view<const float>(sum.data(), 1, 2));
    row_matrix x(1, 2), y(1, 2);
    two.lookup(only_a, x);
    one.lookup(only_a, y);
    REQUIRE(x == y);
}

TEST_CASE("hash_table pooled update spreads bag gradients over ids and hashes",
          "[hash][update][pooled]") {
    const hash_table_options o{13, kDim, 3, hash_combine::mean, false, 1};
    auto t = make_hash_table(o, sgd{0.5f}, f32{}, mix64{});
    set_known(t);
    auto ref = known_ref<mix64>(o);
    const std::vector<std::int64_t> ids = {4, 8, 15, 16, 23, 42, 4};
    const std::vector<std::int64_t> offsets = {0, 2, 2, 7};
    const std::vector<float> weights = {1, 2, 3, 0.5f, -1, 1.5f, 2};
    std::vector<float> bag_g(3 * kDim);
    for (std::size_t k = 0; k < bag_g.size(); ++k) bag_g[k] = 0.1f * float(k) - 0.6f;
    t.update_pooled(ids, offsets, matrix_view<const float>(bag_g.data(), 3, kDim),
                    {pooling::mean, span<const float>(weights)});
    for (std::size_t b = 0; b + 1 < offsets.size(); ++b)
        for (auto i = offsets[b]; i < offsets[b + 1]; ++i)
            for (auto r : ref.rows_of(static_cast<std::uint64_t>(ids[i])))
                for (std::size_t j = 0; j < kDim; ++j)
                    ref.w[r * kDim + j] -= 0.5 * ref.weight() * weights[i] /
                                           double(offsets[b + 1] - offsets[b]) *
                                           bag_g[b * kDim + j];
    row_matrix out(kIds.size(), kDim);
    t.lookup(kIds, out);
    for (std::size_t i = 0; i < kIds.size(); ++i) {
        const auto e = ref.embed(static_cast<std::uint64_t>(kIds[i]));
        for (std::size_t j = 0; j < kDim; ++j) REQUIRE(out(i, j) == Approx(e[j]).epsilon(1e-5));
    }
}

TEST_CASE("assign makes the vector of an id exactly the given one", "[hash][assign]") {
    // Semantics: each distinct row of the id is set to v/k (sum) or v (mean), so the id's
    // vector is v even when its hashes collide; other ids see those rows change.
    const std::vector<float> v = {0.5f, -1.5f, 3, 0.25f, -2};
    const std::uint64_t id = 123456789;
    for (auto o : all_shapes()) {
        for (std::size_t rows : {std::size_t(1), std::size_t(2), std::size_t(11)}) {
            o.rows = rows;  // 1 row: all k hashes of the id collide
            INFO("k " << o.hashes << " mean " << (o.combine == hash_combine::mean) << " separate "
                      << o.separate_tables << " rows " << rows);
            auto t = make_hash_table(o, adagrad{});
            t.initialize([](std::size_t, float*) {});  // all zeros
            t.assign(id, v.data());
            const std::vector<std::int64_t> one = {std::int64_t(id)};
            row_matrix out(1, kDim);
            t.lookup(one, out);
            for (std::size_t j = 0; j < kDim; ++j) REQUIRE(out(0, j) == Approx(v[j]).epsilon(1e-6));
            // the stored rows: X = v/k (sum) or v (mean) on the id's rows, zero elsewhere
            auto ref = known_ref<xxh3>(o);
            std::fill(ref.w.begin(), ref.w.end(), 0.0);
            const double x = o.combine == hash_combine::sum ? 1.0 / double(o.hashes) : 1.0;
            for (auto r : ref.rows_of(id))
                for (std::size_t j = 0; j < kDim; ++j) ref.w[r * kDim + j] = x * v[j];
            row_matrix others(kIds.size(), kDim);
            t.lookup(kIds, others);
            for (std::size_t i = 0; i < kIds.size(); ++i) {
                const auto e = ref.embed(static_cast<std::uint64_t>(kIds[i]));
                for (std::size_t j = 0; j < kDim; ++j)
                    REQUIRE(others(i, j) == Approx(e[j]).epsilon(1e-6).margin(1e-7));
            }
            // fresh optimizer state: Adagrad's first step moves by lr · sign(g)
            const std::vector<float> g(kDim, 2.0f);
            if (o.hashes == 1) {
                t.update(one, matrix_view<const float>(g.data(), 1, kDim));
                t.lookup(one, out);
                REQUIRE(out(0, 0) == Approx(v[0] - t.optimizer().lr).epsilon(1e-5));
            }
        }
    }
}

TEST_CASE("hash rows are uniform on structured ids (chi-square)", "[hash][uniform]") {
    // 10⁵ ids into m buckets; the statistic has m−1 degrees of freedom. Bounds: the 0.1% and
    // 99.9% quantiles (Wilson–Hilferty): df 999 → (866.5, 1142.9), df 1023 → (888.9, 1168.5).
    // The lower bound rejects a "hash" that spreads consecutive ids perfectly (e.g. id mod m).
    struct bound {
        std::size_t m;
        double lo, hi;
    };
    const bound bounds[] = {{1000, 866.5, 1142.9}, {1024, 888.9, 1168.5}};
    const auto chi2 = [](auto hasher, std::uint64_t seed, std::uint64_t stride, std::size_t m) {
        const std::size_t n = 100000;
        std::vector<double> count(m, 0.0);
        for (std::uint64_t i = 0; i < n; ++i) count[hasher(i * stride, seed) % m] += 1;
        const double expect = double(n) / double(m);
        double s = 0;
        for (double c : count) s += (c - expect) * (c - expect) / expect;
        return s;
    };
    for (const auto& b : bounds)
        for (std::uint64_t stride : {1ull, 1024ull})
            for (std::uint64_t seed : {0ull, 1ull, 12345ull}) {
                INFO("m " << b.m << " stride " << stride << " seed " << seed);
                const double x = chi2(xxh3{}, seed, stride, b.m);
                CHECK(x > b.lo);
                CHECK(x < b.hi);
                const double y = chi2(mix64{}, seed, stride, b.m);
                CHECK(y > b.lo);
                CHECK(y < b.hi);
            }
}

TEST_CASE("rows are fixed by the seed and differ between seeds", "[hash]") {
    const hash_table_options o{1000, 4, 2, hash_combine::sum, false, 77};
    auto other_seed = o;
    other_seed.seed = 78000;
    const auto a = make_hash_table(o), b = make_hash_table(o), c = make_hash_table(other_seed);
    std::vector<std::int64_t> ids(500);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = std::int64_t(i) * 7919;
    row_matrix x(ids.size(), 4), y(ids.size(), 4), z(ids.size(), 4);
    a.lookup(ids, x);
    b.lookup(ids, y);
    c.lookup(ids, z);
    REQUIRE(x == y);
    std::size_t same_rows = 0;
    for (auto id : ids) same_rows += a.row_of(std::uint64_t(id), 0) == c.row_of(std::uint64_t(id), 0);
    REQUIRE(same_rows < 10);  // ≈ 500/1000 expected by chance
    std::size_t same_vectors = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) same_vectors += x.row(i) == z.row(i);
    REQUIRE(same_vectors == 0);
}

TEST_CASE("hash_table rejects bad parameters and negative ids", "[hash][errors]") {
    REQUIRE_THROWS_AS(make_hash_table({0, 4}), bad_parameter);
    REQUIRE_THROWS_WITH(make_hash_table({0, 4}), ContainsSubstring("rows is 0"));
    REQUIRE_THROWS_AS(make_hash_table({10, 0}), bad_parameter);
    REQUIRE_THROWS_AS(make_hash_table({10, 4, 0}), bad_parameter);
    REQUIRE_THROWS_WITH(make_hash_table({10, 4, 0}), ContainsSubstring("hashes (k) is 0"));
    REQUIRE_THROWS_AS(make_hash_table({std::size_t(1) << 62, 4, 8, hash_combine::sum, true}),
                      bad_parameter);
    auto t = make_hash_table({10, 3, 2}, adagrad{});
    const auto pristine = t;
    const std::vector<std::int64_t> ids = {1, -4};
    row_matrix out(2, 3);
    REQUIRE_THROWS_WITH(t.lookup(ids, out), ContainsSubstring("id -4 at position 1"));
    row_matrix g = row_matrix::Ones(2, 3);
    REQUIRE_THROWS_AS(t.update(ids, g), id_out_of_range);
    REQUIRE(ref::snapshot(t, 100) == ref::snapshot(pristine, 100));
}

TEMPLATE_TEST_CASE("hash_table trains in every storage like the reference", "[hash][storage]",
                   f32, f16, int8_rowwise) {
    using Storage = TestType;
    const std::size_t m = 13, d = 6;
    const hash_table_options o{m, d, 1, hash_combine::sum, false, 3};
    auto t = hash_table<Storage, adagrad, mix64>(o, adagrad{0.05f});
    // one id per row, found by the formula, to read rows back through lookup
    std::vector<std::int64_t> probe(m, -1);
    for (std::int64_t id = 0; std::count(probe.begin(), probe.end(), -1) > 0; ++id) {
        auto& p = probe[mix64{}(std::uint64_t(id), 3) % m];
        if (p < 0) p = id;
    }
    row_matrix rows(m, d);
    t.lookup(probe, rows);
    std::vector<double> w(rows.data(), rows.data() + m * d);
    ref::adagrad_ref opt(t.optimizer());
    std::map<std::size_t, std::vector<double>> state;
    std::mt19937 gen(11);
    std::uniform_real_distribution<float> uni(-1, 1);
    for (int round = 0; round < 4; ++round) {
        std::vector<std::int64_t> ids(25);
        for (auto& id : ids) id = std::int64_t(gen() % 100000);
        std::vector<float> g(ids.size() * d);
        for (auto& x : g) x = uni(gen);
        t.lookup(probe, rows);
        w.assign(rows.data(), rows.data() + m * d);  // compare one step at a time
        t.update(ids, matrix_view<const float>(g.data(), ids.size(), d));
        std::map<std::size_t, std::vector<double>> grad;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            auto& s = grad[mix64{}(std::uint64_t(ids[i]), 3) % m];
            s.resize(d, 0.0);
            for (std::size_t j = 0; j < d; ++j) s[j] += g[i * d + j];
        }
        for (auto& [r, gr] : grad) {
            std::vector<double> row(w.begin() + r * d, w.begin() + (r + 1) * d);
            opt.step(row, gr, state[r]);
            std::copy(row.begin(), row.end(), w.begin() + r * d);
        }
        t.lookup(probe, rows);
        for (std::size_t k = 0; k < m * d; ++k) {
            const double tol = ref::rounding_tolerance<Storage>(&w[k - k % d], d, k % d);
            INFO("round " << round << " row " << k / d << " col " << k % d);
            REQUIRE(std::fabs(rows.data()[k] - w[k]) <= tol + 1e-5 * (1 + std::fabs(w[k])));
        }
    }
}
