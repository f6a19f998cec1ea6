// frequency_split_table (hot ids in a full table, the rest hashed), top_ids_by_count and the
// open-addressing id map behind it.
#include <embtab/detail/flat_id_map.hpp>
#include <embtab/embtab.hpp>
#include <embtab/tables/frequency_split_table.hpp>
#include <embtab/tables/full_table.hpp>
#include <embtab/tables/hash_table.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "reference.hpp"

using namespace embtab;
using Catch::Matchers::ContainsSubstring;

static_assert(is_table_v<frequency_split_table<>>);
static_assert(std::is_same_v<frequency_split_table<>,
                             frequency_split_table<full_table<f32, sgd>, hash_table<f32, sgd, xxh3>>>);
static_assert(
    is_table_v<frequency_split_table<full_table<int8_rowwise, adagrad>, hash_table<f16, adagrad, mix64>>>);

TEST_CASE("flat_id_map behaves like std::unordered_map", "[flat_id_map]") {
    detail::flat_id_map<std::uint32_t> map;
    std::unordered_map<std::uint64_t, std::uint32_t> ref;
    std::mt19937_64 gen(1);
    const std::uint64_t special[] = {0, 1, std::numeric_limits<std::uint64_t>::max(),
                                     std::numeric_limits<std::uint64_t>::max() - 1, 1024, 2048};
    for (int step = 0; step < 200000; ++step) {
        // keys from a small range (many hits), structured keys and the special ones
        const auto pick = gen() % 4;
        const std::uint64_t key = pick == 0   ? special[gen() % 6]
                                  : pick == 1 ? (gen() % 64) << 20
                                              : gen() % 3000;
        const auto op = gen() % 3;
        if (op == 0) {
            const auto v = static_cast<std::uint32_t>(gen() % 1000);
            REQUIRE(map.insert_or_assign(key, v) == (ref.count(key) == 0));
            ref[key] = v;
        } else if (op == 1) {
            REQUIRE(map.erase(key) == (ref.erase(key) == 1));
        } else {
            const auto it = ref.find(key);
            REQUIRE(map.find(key) == (it == ref.end() ? map.npos : it->second));
        }
        REQUIRE(map.size() == ref.size());
    }
    std::size_t visited = 0;
    map.for_each([&](std::uint64_t k, std::uint32_t v) {
        REQUIRE(ref.at(k) == v);
        ++visited;
    });
    REQUIRE(visited == ref.size());
    map.clear();
    REQUIRE(map.empty());
    REQUIRE(!map.contains(0));
    REQUIRE(!map.contains(std::numeric_limits<std::uint64_t>::max()));
}

TEST_CASE("flat_id_map does not grow after reserve and reports its bytes", "[flat_id_map]") {
    for (std::size_t n : {1, 6, 7, 100, 1000, 4096}) {
        detail::flat_id_map<std::uint32_t> map(n);
        const auto cap = map.capacity();
        REQUIRE(cap == detail::flat_id_map<std::uint32_t>::capacity_for(n));
        REQUIRE(cap >= n + n / 3);  // load ≤ 3/4
        for (std::size_t i = 0; i < n; ++i) map.insert_or_assign(i * 1024, std::uint32_t(i));
        REQUIRE(map.capacity() == cap);
        REQUIRE(map.memory_bytes() == detail::flat_id_map<std::uint32_t>::bytes_for(n));
        REQUIRE(map.memory_bytes() == cap * 12);
        for (std::size_t i = 0; i < n; ++i) REQUIRE(map.find(i * 1024) == i);
        REQUIRE(map.find(1) == map.npos);
    }
}

TEST_CASE("top_ids_by_count picks the most frequent ids, ties to the smaller id", "[frequency]") {
    std::mt19937 gen(4);
    std::vector<std::uint32_t> counts(5000);
    for (auto& c : counts) c = gen() % 50 == 0 ? 0 : gen() % 40;  // many ties and zeros
    for (std::size_t h : {0, 1, 7, 100, 4999, 6000}) {
        std::vector<std::pair<std::uint32_t, std::uint64_t>> order;  // (count, id)
        for (std::size_t id = 0; id < counts.size(); ++id)
            if (counts[id] > 0) order.emplace_back(counts[id], id);
        std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first > b.first : a.second < b.second;
        });
        order.resize(std::min(order.size(), h));
        const auto top = top_ids_by_count(counts, h);
        REQUIRE(top.size() == order.size());
        for (std::size_t i = 0; i < top.size(); ++i) REQUIRE(top[i] == order[i].second);
    }
}

namespace {

constexpr std::uint64_t kN = 1000;
constexpr std::size_t kDim = 3, kShared = 17;

using split_t = frequency_split_table<full_table<f32, adagrad>, hash_table<f32, adagrad, mix64>>;

const std::vector<std::uint64_t> kHot = {500, 3, 999, 42, 0};

split_t make_split(std::uint64_t shared_seed = 6) {
    hash_table_options o{kShared, kDim, 2, hash_combine::mean, false, shared_seed};
    split_t t(kN, kHot, full_table<f32, adagrad>(kHot.size(), kDim, adagrad{0.2f}, 1),
              hash_table<f32, adagrad, mix64>(o, adagrad{0.2f}));
    // known values: hot row h = 100 + h + 0.5·j, shared row r = r − 0.25·j
    t.modify_parts([](auto& hot, auto& shared) {
        hot.initialize([](std::size_t h, float* v) {
            for (std::size_t j = 0; j < kDim; ++j) v[j] = 100.0f + float(h) + 0.5f * float(j);
        });
        shared.initialize([](std::size_t r, float* v) {
            for (std::size_t j = 0; j < kDim; ++j) v[j] = float(r) - 0.25f * float(j);
        });
    });
    return t;
}

/// Plain model: hot rows by position in kHot, shared rows by the formula, Adagrad per row.
struct split_ref {
    std::vector<double> hot, shared;
    std::map<std::pair<int, std::size_t>, std::vector<double>> state;
    split_ref() {
        for (std::size_t h = 0; h < kHot.size(); ++h)
            for (std::size_t j = 0; j < kDim; ++j) hot.push_back(100.0 + h + 0.5 * j);
        for (std::size_t r = 0; r < kShared; ++r)
            for (std::size_t j = 0; j < kDim; ++j) shared.push_back(r - 0.25 * j);
    }
    static int hot_index(std::uint64_t id) {
        const auto it = std::find(kHot.begin(), kHot.end(), id);
        return it == kHot.end() ? -1 : int(it - kHot.begin());
    }
    static std::vector<std::size_t> shared_rows(std::uint64_t id) {
        return {mix64{}(id, 6) % kShared, mix64{}(id, 7) % kShared};
    }
    std::vector<double> embed(std::uint64_t id) const {
        std::vector<double> v(kDim, 0.0);
        if (const int h = hot_index(id); h >= 0)
            for (std::size_t j = 0; j < kDim; ++j) v[j] = hot[h * kDim + j];
        else
            for (auto r : shared_rows(id))
                for (std::size_t j = 0; j < kDim; ++j) v[j] += 0.5 * shared[r * kDim + j];
        return v;
    }
    void update(const std::vector<std::int64_t>& ids, const std::vector<float>& g, double lr) {
        std::map<std::pair<int, std::size_t>, std::vector<double>> grad;  // (part, row)
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const auto id = std::uint64_t(ids[i]);
            std::vector<std::pair<std::pair<int, std::size_t>, double>> targets;
            if (const int h = hot_index(id); h >= 0) targets.push_back({{0, std::size_t(h)}, 1.0});
            else
                for (auto r : shared_rows(id)) targets.push_back({{1, r}, 0.5});
            for (auto& [key, w] : targets) {
                auto& s = grad[key];
                s.resize(kDim, 0.0);
                for (std::size_t j = 0; j < kDim; ++j) s[j] += w * g[i * kDim + j];
            }
        }
        for (auto& [key, gr] : grad) {
            auto& w = key.first == 0 ? hot : shared;
            auto& h = state[key];
            if (h.empty()) h.assign(kDim, 0.0);
            for (std::size_t j = 0; j < kDim; ++j) {
                h[j] += gr[j] * gr[j];
                w[key.second * kDim + j] -= lr * gr[j] / (std::sqrt(h[j]) + 1e-10);
            }
        }
    }
};

}  // namespace

TEST_CASE("frequency_split_table routes hot ids to own rows and the rest to the hash table",
          "[frequency]") {
    auto t = make_split();
    split_ref ref;
    REQUIRE(t.id_limit() == kN);
    REQUIRE(t.hot_count() == kHot.size());
    REQUIRE(t.hot_row(999) == 2);
    REQUIRE(t.hot_row(998) == std::size_t(-1));
    REQUIRE(t.memory_bytes().other == detail::flat_id_map<>::bytes_for(kHot.size()));
    REQUIRE(t.memory_bytes().parameters == (kHot.size() + kShared) * kDim * 4);
    std::vector<std::int64_t> ids = {500, 1, 3, 999, 998, 42, 7, 0, 500, 123, 124};
    std::mt19937 gen(2);
    std::uniform_real_distribution<float> uni(-1, 1);
    for (int round = 0; round < 4; ++round) {
        row_matrix out(ids.size(), kDim);
        t.lookup(ids, out);
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const auto e = ref.embed(std::uint64_t(ids[i]));
            for (std::size_t j = 0; j < kDim; ++j)
                REQUIRE(out(i, j) == Approx(e[j]).epsilon(1e-5).margin(1e-6));
        }
        const std::vector<std::int64_t> offsets = {0, 4, 4, 11};
        row_matrix pooled(3, kDim);
        t.lookup_pooled(ids, offsets, pooled, {pooling::mean});
        for (std::size_t b = 0; b < 3; ++b)
            for (std::size_t j = 0; j < kDim; ++j) {
                double e = 0;
                for (auto i = offsets[b]; i < offsets[b + 1]; ++i)
                    e += ref.embed(std::uint64_t(ids[i]))[j] / double(offsets[b + 1] - offsets[b]);
                REQUIRE(pooled(b, j) == Approx(e).epsilon(1e-5).margin(1e-6));
            }
        std::vector<float> g(ids.size() * kDim);
        for (auto& x : g) x = uni(gen);
        t.update(ids, matrix_view<const float>(g.data(), ids.size(), kDim));
        ref.update(ids, g, 0.2);
        for (auto& id : ids) id = std::int64_t(gen() % kN);  // next round: mostly cold ids
        ids[0] = 42;
    }
}

TEST_CASE("frequency_split_table assign goes to the hot row or the shared table",
          "[frequency][assign]") {
    auto t = make_split();
    const std::vector<float> v = {9, -8, 7};
    t.assign(42, v.data());
    t.assign(43, v.data());
    const std::vector<std::int64_t> ids = {42, 43};
    row_matrix out(2, kDim);
    t.lookup(ids, out);
    for (std::size_t j = 0; j < kDim; ++j) {
        REQUIRE(out(0, j) == v[j]);
        REQUIRE(out(1, j) == Approx(v[j]));
    }
}

TEST_CASE("frequency_split_table rejects ids ≥ n and bad hot-id lists", "[frequency][errors]") {
    auto t = make_split();
    const auto pristine = t;
    const std::vector<std::int64_t> bad = {3, 1000};
    row_matrix out(2, kDim);
    REQUIRE_THROWS_WITH(t.lookup(bad, out), ContainsSubstring("id 1000 at position 1") &&
                                                 ContainsSubstring("[0, 1000)"));
    row_matrix g = row_matrix::Ones(2, kDim);
    REQUIRE_THROWS_AS(t.update(bad, g), id_out_of_range);
    REQUIRE(ref::snapshot(t, kN) == ref::snapshot(pristine, kN));

    using hot_t = full_table<>;
    const auto shared = [] { return hash_table<>({10, kDim}); };
    const std::vector<std::uint64_t> dup = {1, 2, 1};
    REQUIRE_THROWS_WITH(frequency_split_table<>(kN, dup, hot_t(3, kDim), shared()),
                        ContainsSubstring("hot id 1 at position 2 appears twice"));
    const std::vector<std::int64_t> outside = {1, 1000};
    REQUIRE_THROWS_WITH(frequency_split_table<>(kN, outside, hot_t(3, kDim), shared()),
                        ContainsSubstring("hot id 1000 at position 1 is outside [0, 1000)"));
    const std::vector<std::int64_t> negative = {-1};
    REQUIRE_THROWS_AS(frequency_split_table<>(kN, negative, hot_t(3, kDim), shared()),
                      bad_parameter);
    const std::vector<std::uint64_t> four = {1, 2, 3, 4};
    REQUIRE_THROWS_AS(frequency_split_table<>(kN, four, hot_t(3, kDim), shared()), bad_parameter);
    REQUIRE_THROWS_WITH(frequency_split_table<>(kN, dup, hot_t(3, kDim + 1), shared()),
                        ContainsSubstring("dimension"));
    REQUIRE_THROWS_AS(frequency_split_table<>(0, four, hot_t(4, kDim), shared()), bad_parameter);
    using bounded = frequency_split_table<full_table<>, full_table<>>;
    REQUIRE_THROWS_AS(bounded(kN, four, hot_t(4, kDim), full_table<>(999, kDim)), bad_parameter);
    REQUIRE_NOTHROW(bounded(kN, four, hot_t(4, kDim), full_table<>(1000, kDim)));
}

TEMPLATE_TEST_CASE("frequency_split_table with low-precision parts", "[frequency][storage]",
                   f16, int8_rowwise) {
    using Storage = TestType;
    using table_t = frequency_split_table<full_table<Storage, sgd>, hash_table<Storage, sgd>>;
    table_t t(kN, kHot, full_table<Storage, sgd>(kHot.size(), 8, sgd{0.5f}),
              hash_table<Storage, sgd>({31, 8}, sgd{0.5f}));
    const std::vector<std::int64_t> ids = {3, 3, 17, 999};
    row_matrix before(4, 8), after(4, 8);
    t.lookup(ids, before);
    row_matrix g = row_matrix::Constant(4, 8, 0.01f);
    t.update(ids, g);
    t.lookup(ids, after);
    // hot id 3 appears twice: one step of 2·0.01·0.5 = 0.01 (within a quantization step)
    for (std::size_t j = 0; j < 8; ++j) {
        const double tol = std::is_same_v<Storage, f16> ? 1e-3 : 0.02 * std::sqrt(1.0 / 5);
        REQUIRE(after(0, j) == Approx(before(0, j) - 0.01).margin(tol));
    }
}
