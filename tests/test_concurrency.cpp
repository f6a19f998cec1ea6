// Concurrency rules, for every table kind:
//  - lookups are const and share no mutable state: many threads may call `lookup`,
//    `lookup_pooled` and `memory_bytes` on one table at once, and each gets bitwise the result
//    of a serial call;
//  - `update` / `update_pooled` need exclusive access to their table (no concurrent lookup or
//    update of the same table), but different tables may be updated at once: tables trained on
//    different threads end bitwise equal to the same training done serially.
//  - saving a checkpoint only reads: threads may save a table while others look it up.
// Every case is tagged [concurrency]: `scripts/test.sh tsan` runs them under ThreadSanitizer.
#include <embtab/embtab.hpp>
#if __has_include(<embtab/io/checkpoint.hpp>)
#include <embtab/io/checkpoint.hpp>
#define EMBTAB_TEST_CHECKPOINTS 1
#endif

#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <random>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "catch.hpp"

using namespace embtab;

namespace {

constexpr std::size_t kThreads = 4;
constexpr int kIterations = 40;   // lookup rounds per thread (each round: 4 calls)
constexpr int kUpdateSteps = 12;  // training steps per table in the update test
constexpr std::size_t kDim = 16;
constexpr std::uint64_t kIds = 1000;        // ids of the bounded kinds
constexpr std::uint64_t kWideIds = 100000;  // ids drawn for the hashed (unbounded) kinds

/// A batch: bags of 0..12 ids (some empty), skewed towards small ids so that CAFE sees
/// repeated ids, and one weight per id.
struct batch {
    std::vector<std::int64_t> ids;
    std::vector<std::int64_t> offsets;
    std::vector<float> weights;
};

batch make_batch(std::uint32_t seed, std::size_t bags, std::uint64_t id_bound) {
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int> len(0, 12);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::uniform_real_distribution<float> w(-1.5f, 1.5f);
    batch b;
    b.offsets.push_back(0);
    for (std::size_t k = 0; k < bags; ++k) {
        const int n = k % 9 == 4 ? 0 : len(gen);
        for (int i = 0; i < n; ++i) {
            const double x = u(gen);
            b.ids.push_back(static_cast<std::int64_t>(x * x * x * static_cast<double>(id_bound)));
            b.weights.push_back(w(gen));
        }
        b.offsets.push_back(static_cast<std::int64_t>(b.ids.size()));
    }
    return b;
}

/// `n` gradient values in [-1, 1).
std::vector<float> make_grads(std::uint32_t seed, std::size_t n) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> g(n);
    for (auto& x : g) x = d(gen);
    return g;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

/// Runs `f(t)` for t in [0, n) on n threads released together; rethrows the first exception.
/// (Catch2's assertions are not thread-safe: `f` records, the caller checks.)
template <class F>
void run_threads(std::size_t n, F&& f) {
    std::atomic<std::size_t> ready{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    std::vector<std::thread> threads;
    threads.reserve(n);
    for (std::size_t t = 0; t < n; ++t)
        threads.emplace_back([&, t] {
            ready.fetch_add(1);
            while (ready.load() < n) std::this_thread::yield();
            try {
                f(t);
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mutex);
                if (!error) error = std::current_exception();
            }
        });
    for (auto& th : threads) th.join();
    if (error) std::rethrow_exception(error);
}

/// What one round of lookups of a batch returns: the plain lookup, and the pooled lookup as
/// sum, as mean, and as a weighted mean.
struct results {
    std::vector<float> rows, sum, mean, weighted;
};

template <class Table, class Id>
void look_up(const Table& t, const std::vector<Id>& ids, const std::vector<Id>& offsets,
             const std::vector<float>& weights, results& r) {
    const std::size_t d = t.dim(), bags = offsets.size() - 1;
    r.rows.assign(ids.size() * d, -7.0f);
    r.sum.assign(bags * d, -7.0f);
    r.mean.assign(bags * d, -7.0f);
    r.weighted.assign(bags * d, -7.0f);
    t.lookup(ids, matrix_view<float>(r.rows.data(), ids.size(), d));
    t.lookup_pooled(ids, offsets, matrix_view<float>(r.sum.data(), bags, d));
    t.lookup_pooled(ids, offsets, matrix_view<float>(r.mean.data(), bags, d), {pooling::mean});
    t.lookup_pooled(ids, offsets, matrix_view<float>(r.weighted.data(), bags, d),
                    {pooling::mean, weights});
}

bool same_bits(const results& a, const results& b) {
    return same_bits(a.rows, b.rows) && same_bits(a.sum, b.sum) && same_bits(a.mean, b.mean) &&
           same_bits(a.weighted, b.weighted);
}

template <class Id>
std::vector<Id> narrowed(const std::vector<std::int64_t>& v) {
    return std::vector<Id>(v.begin(), v.end());
}

/// A few training steps (pooled and per-id updates, sgd-sized gradients), so that rows differ
/// from their initialisation and CAFE has hot and medium ids.
template <class Table>
void train(Table& t, std::uint32_t seed, std::uint64_t id_bound, int steps) {
    for (int s = 0; s < steps; ++s) {
        const batch b = make_batch(seed + 101u * std::uint32_t(s), 48, id_bound);
        const std::size_t bags = b.offsets.size() - 1;
        if (s % 2 == 0) {
            const auto g = make_grads(seed + 7u * std::uint32_t(s), bags * t.dim());
            t.update_pooled(b.ids, b.offsets, matrix_view<const float>(g.data(), bags, t.dim()),
                            {s % 4 == 0 ? pooling::sum : pooling::mean, b.weights});
        } else {
            const auto g = make_grads(seed + 7u * std::uint32_t(s), b.ids.size() * t.dim());
            t.update(b.ids, matrix_view<const float>(g.data(), b.ids.size(), t.dim()));
        }
    }
}

/// Many threads look up the same (trained) table at once, each batch many times, in 64-bit
/// and (when `with_32bit`) 32-bit ids; every result must be bitwise the serial one, computed
/// before the threads start. `memory_bytes` is called concurrently too.
template <class Table>
void concurrent_lookups_match_serial(const Table& t, std::uint64_t id_bound) {
    constexpr std::size_t kBatches = 3;
    std::vector<batch> batches;
    std::vector<results> want(kBatches);
    for (std::size_t k = 0; k < kBatches; ++k) {
        batches.push_back(make_batch(1000u + std::uint32_t(k), 64, id_bound));
        look_up(t, batches[k].ids, batches[k].offsets, batches[k].weights, want[k]);
    }
    const memory_usage memory = t.memory_bytes();

    std::vector<int> mismatches(kThreads, 0), memory_mismatches(kThreads, 0);
    std::vector<int> rounds(kThreads, 0);
    run_threads(kThreads, [&](std::size_t th) {
        results got;
        for (int i = 0; i < kIterations; ++i) {
            const std::size_t k = (th + std::size_t(i)) % kBatches;
            const batch& b = batches[k];
            if (i % 2 == 1) {  // the same ids as 32-bit integers
                const auto ids = narrowed<std::int32_t>(b.ids);
                const auto off = narrowed<std::int32_t>(b.offsets);
                look_up(t, ids, off, b.weights, got);
            } else {
                look_up(t, b.ids, b.offsets, b.weights, got);
            }
            mismatches[th] += !same_bits(got, want[k]);
            const memory_usage m = t.memory_bytes();
            memory_mismatches[th] +=
                !(m.parameters == memory.parameters &&
                  m.optimizer_state == memory.optimizer_state && m.other == memory.other);
            ++rounds[th];
        }
    });
    for (std::size_t th = 0; th < kThreads; ++th) {
        INFO("thread " << th);
        REQUIRE(rounds[th] == kIterations);
        REQUIRE(mismatches[th] == 0);
        REQUIRE(memory_mismatches[th] == 0);
    }
}

/// The vectors of ids [0, ids).
template <class Table>
std::vector<float> vectors_of(const Table& t, std::uint64_t ids) {
    std::vector<std::int64_t> all(ids);
    for (std::uint64_t i = 0; i < ids; ++i) all[i] = static_cast<std::int64_t>(i);
    std::vector<float> out(all.size() * t.dim());
    t.lookup(all, matrix_view<float>(out.data(), all.size(), t.dim()));
    return out;
}
/// Everything observable about a table: the vectors of ids [0, ids), and for CAFE its sketch.
template <class Table>
std::vector<float> state_of(const Table& t, std::uint64_t ids) {
    return vectors_of(t, ids);
}
template <class Hot, class Shared, class Hasher>
std::vector<float> state_of(const cafe_table<Hot, Shared, Hasher>& t, std::uint64_t ids) {
    std::vector<float> out = vectors_of(t, ids);
    t.sketch().for_each([&](std::uint64_t id, float score, std::int32_t hot_row) {
        out.push_back(static_cast<float>(id));
        out.push_back(score);
        out.push_back(static_cast<float>(hot_row));
    });
    out.push_back(t.sketch().threshold());
    return out;
}

/// One table's training as the update test runs it: lookups of each batch (recorded), then a
/// pooled or a per-id update; at the end, the table's state.
template <class Table>
struct training_record {
    std::vector<results> seen;
    std::vector<float> state;
};

template <class Table>
void train_and_record(Table& t, std::uint32_t seed, std::uint64_t id_bound, std::uint64_t state_ids,
                      training_record<Table>& rec) {
    rec.seen.resize(kUpdateSteps);
    for (int s = 0; s < kUpdateSteps; ++s) {
        const batch b = make_batch(seed + 31u * std::uint32_t(s), 40, id_bound);
        look_up(t, b.ids, b.offsets, b.weights, rec.seen[std::size_t(s)]);
        const std::size_t bags = b.offsets.size() - 1;
        if (s % 3 == 2) {
            const auto g = make_grads(seed + 5u * std::uint32_t(s), b.ids.size() * t.dim());
            t.update(b.ids, matrix_view<const float>(g.data(), b.ids.size(), t.dim()));
        } else {
            const auto g = make_grads(seed + 5u * std::uint32_t(s), bags * t.dim());
            t.update_pooled(b.ids, b.offsets, matrix_view<const float>(g.data(), bags, t.dim()),
                            {s % 3 == 0 ? pooling::sum : pooling::mean,
                             s % 2 ? span<const float>(b.weights) : span<const float>()});
        }
    }
    rec.state = state_of(t, state_ids);
}

/// `kThreads` tables, each made by `make(i)` and trained with its own batches: once one after
/// the other on this thread, once each on its own thread at the same time. Lookups along the
/// way and the final states must be bitwise equal.
template <class Make>
void concurrent_updates_of_different_tables_match_serial(Make&& make, std::uint64_t id_bound,
                                                         std::uint64_t state_ids) {
    using table_t = std::decay_t<decltype(make(0))>;
    std::vector<training_record<table_t>> serial(kThreads), parallel(kThreads);
    for (std::size_t i = 0; i < kThreads; ++i) {
        auto t = make(i);
        train_and_record(t, 500u + 17u * std::uint32_t(i), id_bound, state_ids, serial[i]);
    }
    run_threads(kThreads, [&](std::size_t i) {
        auto t = make(i);
        train_and_record(t, 500u + 17u * std::uint32_t(i), id_bound, state_ids, parallel[i]);
    });
    for (std::size_t i = 0; i < kThreads; ++i) {
        INFO("table " << i);
        REQUIRE(parallel[i].seen.size() == serial[i].seen.size());
        for (std::size_t s = 0; s < serial[i].seen.size(); ++s) {
            INFO("step " << s);
            REQUIRE(same_bits(parallel[i].seen[s], serial[i].seen[s]));
        }
        REQUIRE(same_bits(parallel[i].state, serial[i].state));
    }
    // the tables did train: the steps changed what they return
    REQUIRE_FALSE(same_bits(serial[0].seen.front(), serial[0].seen.back()));
}

// ---- the kinds ---------------------------------------------------------------------------

using full_f32 = full_table<f32, adagrad>;
using full_f16 = full_table<f16, sgd>;
using full_i8 = full_table<int8_rowwise, rowwise_adagrad>;
using hash_t = hash_table<f32, sgd, xxh3>;
using multi_hash_t = hash_table<f16, adagrad, mix64>;
using split_t = frequency_split_table<full_table<int8_rowwise, sgd>, hash_table<f32, sgd, mix64>>;
using cafe_t = cafe_table<full_table<f32, sgd>, hash_table<f32, sgd, xxh3>, mix64>;

full_f32 make_full_f32(std::uint64_t seed) { return {kIds, kDim, adagrad{0.1f}, seed}; }
full_f16 make_full_f16(std::uint64_t seed) { return {kIds, kDim, sgd{0.05f}, seed}; }
full_i8 make_full_i8(std::uint64_t seed) { return {kIds, kDim, rowwise_adagrad{0.1f}, seed}; }

hash_t make_hash(std::uint64_t seed) {
    hash_table_options o;
    o.rows = 257;
    o.dim = kDim;
    o.seed = seed;
    return hash_t(o, sgd{0.05f});
}
multi_hash_t make_multi_hash(std::uint64_t seed) {
    hash_table_options o;
    o.rows = 101;
    o.dim = kDim;
    o.hashes = 3;
    o.combine = hash_combine::mean;
    o.separate_tables = true;
    o.seed = seed;
    return multi_hash_t(o, adagrad{0.1f});
}

auto make_qr_product(std::uint64_t seed) {
    return make_qr_table<f32, adagrad>(kIds, 37, kDim, qr_combine::product, adagrad{0.1f}, seed);
}
auto make_qr_concat(std::uint64_t seed) {
    return make_qr_table<bf16, sgd>(kIds, 50, kDim / 2, qr_combine::concat, sgd{0.05f}, seed,
                                    bf16{}, kDim / 2);
}
/// Rows wider than qr_table's on-stack scratch: the product's per-call heap buffer.
auto make_qr_wide(std::uint64_t seed) {
    return make_qr_table<f32, sgd>(kIds, 40, 300, qr_combine::product, sgd{0.05f}, seed);
}

split_t make_split(std::uint64_t seed) {
    std::vector<std::uint64_t> hot;
    for (std::uint64_t id = 0; id < kIds; id += 9) hot.push_back(id);  // ids 0, 9, 18, ...
    hash_table_options o;
    o.rows = 97;
    o.dim = kDim;
    o.seed = seed;
    return split_t(kIds, hot, full_table<int8_rowwise, sgd>(hot.size(), kDim, sgd{0.05f}, seed),
                   hash_table<f32, sgd, mix64>(o, sgd{0.05f}));
}

auto make_mixed(std::uint64_t seed) {
    return make_mixed_dim_table<f32, adagrad>({{100, kDim}, {300, 8}, {600, 3}}, kDim,
                                              adagrad{0.1f}, seed);
}

cafe_t make_cafe(std::uint64_t seed) {
    cafe_options o;
    o.sketch.buckets = 64;
    o.sketch.hot_rows = 32;
    o.sketch.threshold = 3;
    o.sketch.decay_period = 2;  // decays (and demotes) now and then
    o.sketch.seed = seed;
    o.score = importance::frequency;
    o.medium_tier = true;
    o.medium_fraction = 0.3f;
    hash_table_options h;
    h.rows = 211;
    h.dim = kDim;
    h.seed = seed;
    return cafe_t(full_table<f32, sgd>(32, kDim, sgd{0.05f}, seed), hash_t(h, sgd{0.05f}), o);
}

any_table make_any(std::uint64_t seed) { return any_table(make_cafe(seed), "cafe"); }

template <class Table>
Table trained(Table t, std::uint64_t id_bound) {
    train(t, 77, id_bound, 8);
    return t;
}

}  // namespace

TEST_CASE("concurrency: many threads look up one table and get the serial result",
          "[concurrency]") {
    SECTION("full f32") { concurrent_lookups_match_serial(trained(make_full_f32(1), kIds), kIds); }
    SECTION("full f16") { concurrent_lookups_match_serial(trained(make_full_f16(1), kIds), kIds); }
    SECTION("full int8") { concurrent_lookups_match_serial(trained(make_full_i8(1), kIds), kIds); }
    SECTION("hash") { concurrent_lookups_match_serial(trained(make_hash(1), kWideIds), kWideIds); }
    SECTION("multi-hash") {
        concurrent_lookups_match_serial(trained(make_multi_hash(1), kWideIds), kWideIds);
    }
    SECTION("qr product") {
        concurrent_lookups_match_serial(trained(make_qr_product(1), kIds), kIds);
    }
    SECTION("qr concat") {
        concurrent_lookups_match_serial(trained(make_qr_concat(1), kIds), kIds);
    }
    SECTION("qr product, rows wider than the on-stack scratch") {
        concurrent_lookups_match_serial(trained(make_qr_wide(1), kIds), kIds);
    }
    SECTION("frequency split") {
        concurrent_lookups_match_serial(trained(make_split(1), kIds), kIds);
    }
    SECTION("mixed dimension") {
        concurrent_lookups_match_serial(trained(make_mixed(1), kIds), kIds);
    }
    SECTION("cafe, with hot and medium ids") {
        const cafe_t t = trained(make_cafe(1), kWideIds);
        REQUIRE(t.sketch().hot_count() > 0);
        std::size_t medium = 0;
        t.sketch().for_each([&](std::uint64_t, float score, std::int32_t hot_row) {
            medium += hot_row == cafe_t::sketch_type::cold && score >= 0.3f * 3;
        });
        REQUIRE(medium > 0);
        concurrent_lookups_match_serial(t, kWideIds);
    }
    SECTION("any_table") {
        any_table t = make_any(1);
        train(t, 77, kWideIds, 8);
        concurrent_lookups_match_serial(static_cast<const any_table&>(t), kWideIds);
    }
}

TEST_CASE("concurrency: different tables updated on different threads equal serial training",
          "[concurrency]") {
    SECTION("full f32") {
        concurrent_updates_of_different_tables_match_serial(make_full_f32, kIds, kIds);
    }
    SECTION("full f16 (stochastic rounding)") {
        concurrent_updates_of_different_tables_match_serial(make_full_f16, kIds, kIds);
    }
    SECTION("full int8") {
        concurrent_updates_of_different_tables_match_serial(make_full_i8, kIds, kIds);
    }
    SECTION("hash") {
        concurrent_updates_of_different_tables_match_serial(make_hash, kWideIds, 2000);
    }
    SECTION("multi-hash") {
        concurrent_updates_of_different_tables_match_serial(make_multi_hash, kWideIds, 2000);
    }
    SECTION("qr product") {
        concurrent_updates_of_different_tables_match_serial(make_qr_product, kIds, kIds);
    }
    SECTION("qr concat") {
        concurrent_updates_of_different_tables_match_serial(make_qr_concat, kIds, kIds);
    }
    SECTION("frequency split") {
        concurrent_updates_of_different_tables_match_serial(make_split, kIds, kIds);
    }
    SECTION("mixed dimension") {
        concurrent_updates_of_different_tables_match_serial(make_mixed, kIds, kIds);
    }
    SECTION("cafe") {
        concurrent_updates_of_different_tables_match_serial(make_cafe, kWideIds, 2000);
    }
    SECTION("any_table") {
        concurrent_updates_of_different_tables_match_serial(make_any, kWideIds, 2000);
    }
}

TEST_CASE("concurrency: copies of one table train independently on different threads",
          "[concurrency]") {
    // Copies share nothing (rows, optimizer state, rounding stream, gradient queues): copies of
    // one trained table, each trained on its own thread, equal copies trained one by one.
    const cafe_t proto = trained(make_cafe(3), kWideIds);
    const full_i8 proto8 = trained(make_full_i8(3), kIds);
    concurrent_updates_of_different_tables_match_serial([&](std::size_t) { return proto; },
                                                        kWideIds, 2000);
    concurrent_updates_of_different_tables_match_serial([&](std::size_t) { return proto8; }, kIds,
                                                        kIds);
}

#if defined(EMBTAB_TEST_CHECKPOINTS)
namespace {

/// Half the threads save checkpoints of `t` while the others look it up: every checkpoint and
/// every lookup must be bitwise the serial one.
template <class Table>
void concurrent_saves_and_lookups_match_serial(const Table& t, std::uint64_t id_bound) {
    const batch b = make_batch(4242, 64, id_bound);
    results want;
    look_up(t, b.ids, b.offsets, b.weights, want);
    const std::vector<std::byte> saved = save_bytes(t);
    std::vector<int> mismatches(kThreads, 0);
    run_threads(kThreads, [&](std::size_t th) {
        results got;
        for (int i = 0; i < kIterations / 2; ++i) {
            if (th % 2 == 0) {
                mismatches[th] += save_bytes(t) != saved;
            } else {
                look_up(t, b.ids, b.offsets, b.weights, got);
                mismatches[th] += !same_bits(got, want);
            }
        }
    });
    for (std::size_t th = 0; th < kThreads; ++th) {
        INFO("thread " << th << (th % 2 == 0 ? " (saving)" : " (looking up)"));
        REQUIRE(mismatches[th] == 0);
    }
}

}  // namespace

TEST_CASE("concurrency: threads save checkpoints of a table while others look it up",
          "[concurrency]") {
    SECTION("full int8") {
        concurrent_saves_and_lookups_match_serial(trained(make_full_i8(2), kIds), kIds);
    }
    SECTION("multi-hash") {
        concurrent_saves_and_lookups_match_serial(trained(make_multi_hash(2), kWideIds), kWideIds);
    }
    SECTION("qr product") {
        concurrent_saves_and_lookups_match_serial(trained(make_qr_product(2), kIds), kIds);
    }
    SECTION("frequency split") {
        concurrent_saves_and_lookups_match_serial(trained(make_split(2), kIds), kIds);
    }
    SECTION("mixed dimension") {
        concurrent_saves_and_lookups_match_serial(trained(make_mixed(2), kIds), kIds);
    }
    SECTION("cafe") {
        concurrent_saves_and_lookups_match_serial(trained(make_cafe(2), kWideIds), kWideIds);
    }
}
#endif
