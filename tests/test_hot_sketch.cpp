// HotSketch: the insert rule, promotion and demotion, decay, recall on Zipf streams, the
// probability guarantee, and adaptation to a drifting stream.
#include <embtab/sketch/hot_sketch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "catch.hpp"

using namespace embtab;

namespace {

/// SplitMix64 finalizer, written here so the tests do not depend on the library's hashers.
struct test_hash {
    std::uint64_t operator()(std::uint64_t id, std::uint64_t seed) const noexcept {
        std::uint64_t z = id + seed * 0x9e3779b97f4a7c15ULL + 0x9e3779b97f4a7c15ULL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
};
using sketch = hot_sketch<test_hash>;

hot_sketch_options one_bucket(std::size_t hot_rows, float threshold) {
    hot_sketch_options o;
    o.buckets = 1;
    o.hot_rows = hot_rows;
    o.threshold = threshold;
    o.decay_period = 1e30f;  // no automatic decay
    return o;
}

}  // namespace

TEST_CASE("scores accumulate and an id is promoted at the threshold", "[sketch]") {
    sketch s(one_bucket(2, 10));
    std::vector<hot_event> ev;
    s.insert(7, 4, ev);
    s.insert(7, 5, ev);
    REQUIRE(s.score(7) == 9);
    REQUIRE(s.query(7) == sketch::cold);
    REQUIRE(ev.empty());
    s.insert(7, 1, ev);  // reaches T = 10
    REQUIRE(ev.size() == 1);
    REQUIRE(ev[0].id == 7);
    REQUIRE(ev[0].promoted);
    REQUIRE(s.query(7) == ev[0].hot_row);
    REQUIRE(s.hot_count() == 1);
    REQUIRE(s.query(8) == sketch::cold);
    s.insert(7, 3, ev);  // already hot: no new event
    REQUIRE(ev.size() == 1);
}

TEST_CASE("a full bucket hands its weakest cold slot over, Space-Saving style", "[sketch]") {
    sketch s(one_bucket(0, 100));
    std::vector<hot_event> ev;
    s.insert(1, 5, ev), s.insert(2, 4, ev), s.insert(3, 3, ev), s.insert(4, 2, ev);
    s.insert(5, 1, ev);  // evicts id 4 (score 2): id 5 gets 2 + 1
    REQUIRE(s.score(4) == 0);
    REQUIRE(s.score(5) == 3);
    REQUIRE(s.score(1) == 5);
    s.insert(6, 0.5f, ev);  // weakest is now id 5 or 3 (both 3): one of them is replaced
    REQUIRE((s.score(5) == 0) != (s.score(3) == 0));
    REQUIRE(s.score(6) == 3.5f);
}

TEST_CASE("hot ids survive a flood of cold inserts", "[sketch]") {
    sketch s(one_bucket(4, 1));
    std::vector<hot_event> ev;
    for (std::uint64_t id = 1; id <= 4; ++id) s.insert(id, 1, ev);
    REQUIRE(s.hot_count() == 4);
    for (std::uint64_t id = 100; id < 10100; ++id) s.insert(id, 1000, ev);  // all dropped
    for (std::uint64_t id = 1; id <= 4; ++id) REQUIRE(s.query(id) != sketch::cold);
    REQUIRE(s.score(100) == 0);
    REQUIRE(ev.size() == 4);
}

TEST_CASE("promotion waits for a free hot row", "[sketch]") {
    sketch s(one_bucket(1, 10));
    std::vector<hot_event> ev;
    s.insert(1, 10, ev);
    s.insert(2, 20, ev);
    REQUIRE(s.query(1) != sketch::cold);
    REQUIRE(s.query(2) == sketch::cold);  // no row free
    // decay with δ = 0.5 twice: id 1 falls to 2.5 < T and gives its row back
    hot_sketch_options o = one_bucket(1, 10);
    o.decay = 0.5f;
    sketch d(o);
    d.insert(1, 10, ev);
    d.insert(2, 40, ev);
    ev.clear();
    d.decay(ev);  // id 1 falls to 5 < T: demoted; id 2 (20 ≥ T) gets the freed row at once
    REQUIRE(ev.size() == 2);
    REQUIRE(!ev[0].promoted);
    REQUIRE(ev[0].id == 1);
    REQUIRE(d.query(1) == sketch::cold);
    REQUIRE(ev[1].promoted);
    REQUIRE(ev[1].id == 2);
    REQUIRE(d.query(2) == ev[1].hot_row);
}

TEST_CASE("rows freed by a decay go to the strongest cold candidates", "[sketch]") {
    hot_sketch_options o = one_bucket(1, 10);
    o.decay = 0.5f;
    sketch s(o);
    std::vector<hot_event> ev;
    s.insert(1, 10, ev);  // hot
    s.insert(2, 30, ev);  // candidates, cold: no free row
    s.insert(3, 50, ev);
    ev.clear();
    s.decay(ev);  // 1 → 5: demoted; 3 (25) beats 2 (15) for the row
    REQUIRE(ev.size() == 2);
    REQUIRE(ev[1].id == 3);
    REQUIRE(s.query(2) == sketch::cold);
}

TEST_CASE("decay runs after decay_period · w · T of inserted score", "[sketch]") {
    hot_sketch_options o;
    o.buckets = 4;
    o.hot_rows = 4;
    o.threshold = 1;
    o.decay = 0.5f;
    o.decay_period = 10;  // every 40 units of score
    o.score_cap = 0;      // uncapped, so that the score reaches 40
    sketch s(o);
    std::vector<hot_event> ev;
    for (int i = 0; i < 40; ++i) s.insert(5, 1, ev);
    REQUIRE(s.score(5) == 40);
    s.insert(5, 1, ev);  // 41 > 40: decay halves every score
    REQUIRE(s.score(5) == 20.5f);
}

TEST_CASE("the adaptive threshold keeps only the top H hot", "[sketch]") {
    hot_sketch_options o;
    o.buckets = 64;
    o.hot_rows = 10;
    o.threshold = 1;
    o.decay = 1;  // no shrinking: only the threshold moves
    o.decay_period = 1e30f;
    o.adaptive_threshold = true;
    o.score_cap = 0;
    sketch s(o);
    std::vector<hot_event> ev;
    for (std::uint64_t id = 0; id < 30; ++id) s.insert(id, float(id + 1), ev);  // 30 cross T
    s.decay(ev);
    REQUIRE(s.threshold() == 21);  // the 10th largest score
    std::size_t hot = 0;
    s.for_each([&](std::uint64_t id, float, std::int32_t row) {
        if (row != sketch::cold) {
            ++hot;
            REQUIRE(id >= 20);
        }
    });
    REQUIRE(hot <= 10);
}

namespace {

/// Recall of the exact top-H ids (by count) among the H ids with the largest sketch scores,
/// after a Zipf(s) stream of n inserts over `ids` ids (popularity shuffled), w = H buckets.
/// Returns {recall among the sketch's top H by score, fraction of the top H held at all}.
std::pair<double, double> zipf_recall(double s, std::size_t ids, std::size_t n, std::size_t h) {
    std::mt19937_64 gen(42);
    std::vector<double> cdf(ids);
    double total = 0;
    for (std::size_t k = 0; k < ids; ++k) cdf[k] = total += std::pow(double(k + 1), -s);
    std::vector<std::uint64_t> perm(ids);
    for (std::size_t k = 0; k < ids; ++k) perm[k] = k * 2654435761ULL % 1000000007ULL;
    std::uniform_real_distribution<double> u(0, total);
    hot_sketch_options o;
    o.buckets = h;
    o.hot_rows = 0;
    o.threshold = 1e30f;
    o.decay_period = 1e30f;
    sketch sk(o);
    std::vector<hot_event> ev;
    std::vector<std::uint32_t> count(ids);
    for (std::size_t i = 0; i < n; ++i) {
        const auto rank = std::size_t(std::lower_bound(cdf.begin(), cdf.end(), u(gen)) - cdf.begin());
        const std::size_t k = std::min(rank, ids - 1);
        ++count[k];
        sk.insert(perm[k], 1, ev);
    }
    std::vector<std::size_t> order(ids);
    for (std::size_t k = 0; k < ids; ++k) order[k] = k;
    std::partial_sort(order.begin(), order.begin() + h, order.end(),
                      [&](std::size_t a, std::size_t b) { return count[a] > count[b]; });
    std::vector<std::pair<float, std::uint64_t>> held;
    sk.for_each([&](std::uint64_t id, float sc, std::int32_t) { held.emplace_back(sc, id); });
    std::sort(held.rbegin(), held.rend());
    std::set<std::uint64_t> top;
    for (std::size_t i = 0; i < std::min(h, held.size()); ++i) top.insert(held[i].second);
    std::size_t hit = 0, held_any = 0;
    for (std::size_t i = 0; i < h; ++i) {
        hit += top.count(perm[order[i]]);
        held_any += sk.score(perm[order[i]]) > 0;
    }
    return {double(hit) / double(h), double(held_any) / double(h)};
}

}  // namespace

TEST_CASE("recall of the top-H ids on Zipf streams", "[sketch][recall]") {
    // 200k ids, 1M inserts, H = w = 1000 (4000 slots). Measured: see the closing note /
    // bench; the floors below are what the test requires.
    for (double s : {1.05, 1.1, 1.2}) {
        const auto [ranked, held] = zipf_recall(s, 200000, 1000000, 1000);
        WARN("zipf " << s << ": top-1000 recall by score " << ranked << ", held " << held);
        // measured (fixed seeds) 0.596 / 0.636 / 0.722 by score, 0.855 / 0.883 / 0.936 held; the
        // floors leave room for a change of the bucket hash
        REQUIRE(ranked >= 0.55);
        REQUIRE(held >= 0.8);
    }
}

TEST_CASE("an id with more than γ of the score stays with the guaranteed probability",
          "[sketch][guarantee]") {
    // w = 16 buckets of c = 4 slots, γ = 0.05: P(kept) > 1 − (1−γ)/((c−1)·γ·w) = 0.604.
    // Each trial: 2000 inserts of score 1, 100 of them (γ) the heavy id, the rest distinct ids.
    const std::size_t w = 16, n = 2000, heavy = 100, trials = 300;
    const double gamma = double(heavy) / n;
    const double bound = 1 - (1 - gamma) / (3 * gamma * w);
    std::mt19937_64 gen(5);
    std::size_t kept = 0;
    for (std::size_t t = 0; t < trials; ++t) {
        hot_sketch_options o;
        o.buckets = w;
        o.hot_rows = 0;
        o.threshold = 1e30f;
        o.decay_period = 1e30f;
        o.seed = t;
        sketch sk(o);
        std::vector<hot_event> ev;
        std::vector<bool> is_heavy(n, false);
        for (std::size_t i = 0; i < heavy; ++i) is_heavy[i] = true;
        std::shuffle(is_heavy.begin(), is_heavy.end(), gen);
        std::uint64_t next = 1000;
        for (std::size_t i = 0; i < n; ++i) sk.insert(is_heavy[i] ? 1 : next++, 1, ev);
        kept += sk.score(1) > 0;
    }
    const double observed = double(kept) / trials;
    INFO("observed " << observed << ", guaranteed > " << bound);
    REQUIRE(observed > bound);
}

TEST_CASE("a drifting stream promotes the new popular ids and demotes the old", "[sketch][drift]") {
    // 20 popular ids get 5 inserts a round each, alongside 100 distinct cold ids; after 200
    // rounds the popular set changes. With δ = 0.8, w = 64, T = 10, decay every 10·w·T = 6400
    // score units (32 rounds of 200), an old id's score S ≤ 1000 falls below T after
    // ceil(ln(S/T)/ln(1/δ)) = 21 decays: all old ids must be cold, and all new ones hot, within
    // 22 decay periods (704 rounds) of the switch. (Measured: 621 rounds.)
    hot_sketch_options o;
    o.buckets = 64;
    o.hot_rows = 20;
    o.threshold = 10;
    o.decay = 0.8f;
    o.decay_period = 10;
    sketch s(o);
    std::vector<hot_event> ev;
    std::uint64_t cold_id = 1u << 20;
    const auto round = [&](std::uint64_t base) {
        for (std::uint64_t k = 0; k < 20; ++k)
            for (int r = 0; r < 5; ++r) s.insert(base + k, 1, ev);
        for (int c = 0; c < 100; ++c) s.insert(cold_id++, 1, ev);
    };
    for (int r = 0; r < 200; ++r) round(0);
    for (std::uint64_t k = 0; k < 20; ++k) REQUIRE(s.query(k) != sketch::cold);
    int rounds = 0;
    const auto settled = [&] {
        for (std::uint64_t k = 0; k < 20; ++k)
            if (s.query(k) != sketch::cold || s.query(500 + k) == sketch::cold) return false;
        return true;
    };
    while (!settled() && rounds < 2000) round(500), ++rounds;
    INFO("rounds until the new popular set is hot: " << rounds);
    REQUIRE(rounds <= 704);
}

TEST_CASE("a bucket of 4 slots is one cache line", "[sketch][memory]") {
    REQUIRE(sketch::bucket_bytes == 64);
    hot_sketch_options o;
    o.buckets = 100;
    o.hot_rows = 50;
    REQUIRE(sketch(o).memory_bytes().other == 100 * 64 + 50 * 4);
    o.buckets = 0;
    REQUIRE_THROWS_AS(sketch(o), bad_parameter);
}

TEST_CASE("the adaptive threshold follows the H-th largest score down as well as up",
          "[sketch][adaptive]") {
    hot_sketch_options o;  // the defaults: adaptive, T = 10 to start with
    o.buckets = 64;
    o.hot_rows = 10;
    o.decay_period = 1e30f;  // decays by hand
    sketch s(o);
    REQUIRE(o.adaptive_threshold);
    std::vector<hot_event> ev;
    for (std::uint64_t id = 0; id < 30; ++id) s.insert(id, 2 + 0.1f * float(id), ev);
    REQUIRE(s.hot_count() == 0);  // every score below T = 10: the hot rows are idle
    s.decay(ev);                  // scores × 0.7; T falls to the 10th largest
    REQUIRE(s.threshold() == Approx(0.7 * (2 + 0.1 * 20)));
    REQUIRE(s.hot_count() == 10);
    for (std::uint64_t id = 20; id < 30; ++id) REQUIRE(s.query(id) != sketch::cold);
    // fewer ids than rows: T goes to the floor, min_threshold
    sketch few(o);
    few.insert(1, 0.5f, ev);
    few.decay(ev);
    REQUIRE(few.threshold() == o.min_threshold);
}

TEST_CASE("negative, NaN and infinite scores never enter the sketch", "[sketch]") {
    sketch s(one_bucket(2, 10));
    std::vector<hot_event> ev;
    s.insert(1, 3, ev);
    for (float bad : {-1.0f, std::nanf(""), INFINITY, -INFINITY}) {
        s.insert(1, bad, ev);
        s.insert(2, bad, ev);
    }
    REQUIRE(s.score(1) == 3);
    REQUIRE(s.score(2) == 0);
    REQUIRE(ev.empty());
}

TEST_CASE("scores saturate at score_cap · T", "[sketch]") {
    hot_sketch_options o = one_bucket(1, 10);
    o.score_cap = 4;
    sketch s(o);
    std::vector<hot_event> ev;
    for (int i = 0; i < 100; ++i) s.insert(1, 3, ev);
    REQUIRE(s.score(1) == 40);
    REQUIRE(s.query(1) != sketch::cold);
}

TEST_CASE("a hot id whose traffic stops is demoted within the bounded number of decays",
          "[sketch][drift]") {
    // Defaults: adaptive T, δ = 0.7, score cap 8: a stale id is cold after at most
    // ceil(ln 8 / ln(1/0.7)) + 1 = 7 decays. 20 popular ids, 5 inserts each a round, beside
    // 100 distinct cold ids; one decay a round; then the popular set changes.
    hot_sketch_options o;
    o.buckets = 64;
    o.hot_rows = 20;
    o.decay_period = 1e30f;
    sketch s(o);
    std::vector<hot_event> ev;
    std::uint64_t cold_id = 1u << 20;
    const auto round = [&](std::uint64_t base) {
        for (std::uint64_t k = 0; k < 20; ++k)
            for (int r = 0; r < 5; ++r) s.insert(base + k, 1, ev);
        for (int c = 0; c < 100; ++c) s.insert(cold_id++, 1, ev);
        s.decay(ev);
    };
    for (int r = 0; r < 50; ++r) round(0);
    for (std::uint64_t k = 0; k < 20; ++k) REQUIRE(s.query(k) != sketch::cold);
    const int bound = int(std::ceil(std::log(8.0) / std::log(1 / 0.7))) + 1;
    const auto stale = [&] {
        for (std::uint64_t k = 0; k < 20; ++k)
            if (s.query(k) != sketch::cold) return true;
        return false;
    };
    int decays = 0;
    while (stale() && decays < 100) round(500), ++decays;
    INFO("decays until every old popular id is cold: " << decays);
    REQUIRE(decays <= bound);
    for (std::uint64_t k = 0; k < 20; ++k) REQUIRE(s.query(500 + k) != sketch::cold);
}

namespace {

/// Share of a Zipf(s) stream's lookups that hit hot rows after `n` inserts of it, for a
/// sketch of `h` hot rows and `w` buckets with the default (adaptive) options, and the share
/// the exact top `h` would serve.
std::pair<double, double> hot_coverage(double s, std::size_t ids, std::size_t n, std::size_t h,
                                       std::size_t w) {
    std::mt19937_64 gen(42);
    std::vector<double> cdf(ids);
    double total = 0;
    for (std::size_t k = 0; k < ids; ++k) cdf[k] = total += std::pow(double(k + 1), -s);
    std::uniform_real_distribution<double> u(0, total);
    hot_sketch_options o;
    o.buckets = w;
    o.hot_rows = h;
    sketch sk(o);
    std::vector<hot_event> ev;
    const auto key = [](std::size_t k) { return std::uint64_t(k) * 2654435761ULL % 1000000007ULL; };
    for (std::size_t i = 0; i < n; ++i) {
        const auto k = std::size_t(std::lower_bound(cdf.begin(), cdf.end(), u(gen)) - cdf.begin());
        sk.insert(key(std::min(k, ids - 1)), 1, ev);
    }
    double hot = 0, oracle = 0;
    for (std::size_t k = 0; k < ids; ++k) {
        const double p = std::pow(double(k + 1), -s) / total;
        if (sk.query(key(k)) != sketch::cold) hot += p;
        if (k < h) oracle += p;
    }
    return {hot, oracle};
}

}  // namespace

TEST_CASE("two slots a hot row serve more lookups than four at the same bytes", "[sketch][recall]") {
    // d = 16, f32, SGD: a hot row costs 64 + 4 bytes plus its sketch share, 64 bytes with one
    // bucket a hot row (the paper's sizing), 32 with two slots a hot row (the planners' default).
    // Same bytes: 1000 hot rows the first way, 1000 · 132 / 100 = 1320 the second.
    for (double s : {1.05, 1.2}) {
        const auto four = hot_coverage(s, 200000, 1000000, 1000, 1000);
        const auto two = hot_coverage(s, 200000, 1000000, 1320, 660);
        WARN("zipf " << s << ": hot coverage " << four.first << " (w = H, top-H " << four.second
                     << ") vs " << two.first << " (w = H/2, top-H " << two.second << ")");
        // measured (fixed seeds): 1.05: 0.641 vs 0.646 (top-H 0.681); 1.2: 0.833 vs 0.838
        REQUIRE(two.first >= four.first - 0.005);
        REQUIRE(two.first >= 0.93 * two.second);
    }
}

TEST_CASE("non-finite sketch parameters are refused", "[sketch][hostile]") {
    for (float bad : {INFINITY, std::nanf(""), -1.0f, 0.0f}) {
        hot_sketch_options o;
        o.threshold = bad;
        REQUIRE_THROWS_AS(sketch(o), bad_parameter);
        o = {};
        o.decay_period = bad;
        REQUIRE_THROWS_AS(sketch(o), bad_parameter);
        o = {};
        o.min_threshold = bad;
        REQUIRE_THROWS_AS(sketch(o), bad_parameter);
    }
    hot_sketch_options o;
    o.threshold = 0.5f;  // below the default floor: the floor follows it
    REQUIRE_NOTHROW(sketch(o));
}
