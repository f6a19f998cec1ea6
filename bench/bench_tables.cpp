// Every table kind on the shapes of issue 7: dim 16/64/128, tables of 512 MiB of fp32 (1M–8M
// rows, twice this machine's L3), uniform and Zipf(1.05) ids shuffled, bags of 32, 1 and 2
// threads (two callers, or one batch cut across a thread pool) — next to the simplest random row gather-sum loop (the memory-system limit).
//   bench_tables --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Ids are read from $EMBTAB_BENCH_IDS_DIR when set (bench/compare_torch.py does, to time PyTorch
// on the very same ids).
#include <embtab/embtab.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "bench_data.hpp"

namespace {

constexpr std::size_t kTableBytes = std::size_t(512) << 20;
constexpr std::size_t kBags = 512, kPooling = 32, kIds = kBags * kPooling;
constexpr double kCompression = 10;
constexpr std::size_t kPrefetch = 32;  // ids ahead, as detail::table_base::prefetch_distance  // budget of the compressed kinds: fp32 bytes / 10

std::size_t rows_for(std::size_t dim) { return bench::rows_for(kTableBytes, dim); }
double zipf_of(const benchmark::State& s) { return s.range(1) ? 1.05 : 0.0; }

/// The table kinds, each built once per dimension (building 512 MiB dominates otherwise).
template <class Table, class Make>
Table& cached(std::size_t dim, Make make) {
    static std::map<std::size_t, std::unique_ptr<Table>> cache;
    auto& t = cache[dim];
    if (!t) t = std::make_unique<Table>(make(dim));
    return *t;
}
std::size_t budget(std::size_t /*dim*/) { return std::size_t(double(kTableBytes) / kCompression); }

struct full_f32 {
    static auto& get(std::size_t d) {
        return cached<embtab::full_table<embtab::f32, embtab::sgd>>(
            d, [](std::size_t d) { return embtab::full_table<>(rows_for(d), d, embtab::sgd{0.01f}, 1); });
    }
};
struct full_f32_adagrad {
    static auto& get(std::size_t d) {
        return cached<embtab::full_table<embtab::f32, embtab::adagrad>>(d, [](std::size_t d) {
            return embtab::full_table<embtab::f32, embtab::adagrad>(rows_for(d), d,
                                                                   embtab::adagrad{0.01f}, 1);
        });
    }
};
template <class Storage>
struct full_low {
    static auto& get(std::size_t d) {
        return cached<embtab::full_table<Storage, embtab::sgd>>(d, [](std::size_t d) {
            return embtab::full_table<Storage, embtab::sgd>(rows_for(d), d, embtab::sgd{0.01f}, 1);
        });
    }
};
struct hash {
    static auto& get(std::size_t d) {
        using T = embtab::hash_table<embtab::f32, embtab::sgd, embtab::xxh3>;
        return cached<T>(d, [](std::size_t d) {
            return embtab::plan_hash(rows_for(d), d, budget(d)).make(embtab::sgd{0.01f});
        });
    }
};
struct qr {
    static auto& get(std::size_t d) {
        using T = decltype(embtab::plan_qr(1000, 4, 1 << 20).make());
        return cached<T>(d, [](std::size_t d) {
            return embtab::plan_qr(rows_for(d), d, budget(d)).make(embtab::sgd{0.01f});
        });
    }
};
struct cafe {
    static auto& get(std::size_t d) {
        using T = decltype(embtab::plan_cafe(1000, 4, 1 << 20).make());
        return cached<T>(d, [](std::size_t d) {
            return embtab::plan_cafe(rows_for(d), d, budget(d)).make(embtab::sgd{0.01f});
        });
    }
};
struct mde {  // 16 equal blocks, popularity halving from one to the next, planner widths
    static auto& get(std::size_t d) {
        using T = embtab::mixed_dim_table<embtab::f32, embtab::sgd>;
        return cached<T>(d, [](std::size_t d) {
            // (with 8 blocks the most popular one alone, at full width, is over the budget)
            std::vector<std::size_t> blocks(16, rows_for(d) / 16);
            std::vector<double> popularity(blocks.size());
            for (std::size_t k = 0; k < blocks.size(); ++k) popularity[k] = std::ldexp(1.0, -int(k));
            embtab::mixed_dim_plan_options o;
            o.popularity = popularity;
            return embtab::plan_mixed_dim(blocks, d, budget(d), o).make(embtab::sgd{0.01f});
        });
    }
};

/// The batch of `kIds` ids starting at `start` in the id stream, advancing `start`.
embtab::span<const std::int64_t> next_batch(const std::vector<std::int64_t>& pool,
                                            std::size_t& start) {
    const embtab::span<const std::int64_t> b(pool.data() + start, kIds);
    start = (start + kIds) % (pool.size() - kIds);
    return b;
}

void report(benchmark::State& state, std::size_t bytes_per_id) {
    const auto n = static_cast<std::int64_t>(state.iterations() * kIds);
    state.SetItemsProcessed(n);
    state.SetBytesProcessed(n * static_cast<std::int64_t>(bytes_per_id));
    state.SetLabel(zipf_of(state) > 0 ? "zipf1.05" : "uniform");
}

/// Pooled lookups of consecutive batches, run by `threads` (a thread policy).
template <class Kind, class Threads>
void pooled_batches(benchmark::State& state, std::size_t start, Threads&& threads) {
    const auto d = static_cast<std::size_t>(state.range(0));
    const auto& t = Kind::get(d);
    const auto& pool = bench::ids_for(rows_for(d), zipf_of(state));
    const auto offsets = bench::make_offsets(kBags, kPooling);
    embtab::row_matrix out(kBags, d);
    start %= pool.size() - kIds;
    for (auto _ : state) {
        t.lookup_pooled(next_batch(pool, start), offsets, out, {}, threads);
        benchmark::DoNotOptimize(out.data());
    }
    report(state, d * sizeof(float));
}

/// Each benchmark thread runs batches of its own, serially.
template <class Kind>
void pooled(benchmark::State& state) {
    pooled_batches<Kind>(state, state.thread_index() * kIds * 7, embtab::serial{});
}

/// One batch cut across a `thread_pool` of `pool` threads (the thread policy; PyTorch's
/// intra-op threads do the same).
template <class Kind>
void pooled_split(benchmark::State& state) {
    embtab::thread_pool threads(static_cast<std::size_t>(state.range(2)));
    pooled_batches<Kind>(state, 0, threads);
}

template <class Kind>
void lookup(benchmark::State& state) {
    const auto d = static_cast<std::size_t>(state.range(0));
    const auto& t = Kind::get(d);
    const auto& pool = bench::ids_for(rows_for(d), zipf_of(state));
    embtab::row_matrix out(kIds, d);
    std::size_t start = state.thread_index() * kIds * 7 % (pool.size() - kIds);
    for (auto _ : state) {
        t.lookup(next_batch(pool, start), out);
        benchmark::DoNotOptimize(out.data());
    }
    report(state, d * sizeof(float));
}

/// Training steps — pooled lookup, then update_pooled with a constant bag gradient — run by
/// `threads` (a thread policy).
template <class Kind, class Threads>
void train_batches(benchmark::State& state, Threads&& threads) {
    const auto d = static_cast<std::size_t>(state.range(0));
    auto& t = Kind::get(d);
    const auto& pool = bench::ids_for(rows_for(d), zipf_of(state));
    const auto offsets = bench::make_offsets(kBags, kPooling);
    embtab::row_matrix out(kBags, d), grad = embtab::row_matrix::Constant(kBags, d, 1e-3f);
    std::size_t start = 0;
    for (auto _ : state) {
        const auto batch = next_batch(pool, start);
        t.lookup_pooled(batch, offsets, out, {}, threads);
        t.update_pooled(batch, offsets, grad, {}, threads);
        benchmark::DoNotOptimize(out.data());
    }
    report(state, 2 * d * sizeof(float));
}

/// A training step on the calling thread.
template <class Kind>
void train(benchmark::State& state) {
    train_batches<Kind>(state, embtab::serial{});
}

/// The update alone (update_pooled with a constant bag gradient), on `pool` threads of a
/// `thread_pool` (1: the serial policy).
template <class Kind>
void update(benchmark::State& state) {
    const auto d = static_cast<std::size_t>(state.range(0));
    auto& t = Kind::get(d);
    const auto threads_asked = static_cast<std::size_t>(state.range(2));
    embtab::thread_pool threads(threads_asked);
    const auto& pool = bench::ids_for(rows_for(d), zipf_of(state));
    const auto offsets = bench::make_offsets(kBags, kPooling);
    const embtab::row_matrix grad = embtab::row_matrix::Constant(kBags, d, 1e-3f);
    std::size_t start = 0;
    for (auto _ : state) {
        if (threads_asked > 1) t.update_pooled(next_batch(pool, start), offsets, grad, {}, threads);
        else t.update_pooled(next_batch(pool, start), offsets, grad);
    }
    report(state, d * sizeof(float));
}

/// A training step with the batch cut across a `thread_pool` of `pool` threads: the pooled
/// lookup by bags, the update by distinct rows.
template <class Kind>
void train_split(benchmark::State& state) {
    embtab::thread_pool threads(static_cast<std::size_t>(state.range(2)));
    train_batches<Kind>(state, threads);
}

/// The memory-system limit: random fp32 rows summed into bags by the plainest loop, with the
/// same software prefetch distance as the tables (the better of with and without is the limit).
template <bool Prefetch>
void gather_limit(benchmark::State& state) {
    const auto d = static_cast<std::size_t>(state.range(0));
    const std::size_t rows = rows_for(d);
    static std::map<std::size_t, embtab::detail::aligned_buffer> tables;
    auto& buf = tables[d];
    if (buf.size() == 0) buf = embtab::detail::aligned_buffer(rows * d * sizeof(float));
    const auto* table = reinterpret_cast<const float*>(buf.data());
    const auto& pool = bench::ids_for(rows, zipf_of(state));
    std::vector<float> out(kBags * d);
    std::size_t start = state.thread_index() * kIds * 7 % (pool.size() - kIds);
    for (auto _ : state) {
        const auto ids = next_batch(pool, start);
        for (std::size_t b = 0; b < kBags; ++b) {
            float* o = out.data() + b * d;
            std::fill(o, o + d, 0.0f);
            for (std::size_t i = b * kPooling; i < (b + 1) * kPooling; ++i) {
                if (Prefetch && i + kPrefetch < kIds) {
                    const float* next = table + std::size_t(ids[i + kPrefetch]) * d;
                    for (std::size_t j = 0; j < d; j += 16) __builtin_prefetch(next + j);
                }
                const float* row = table + std::size_t(ids[i]) * d;
                for (std::size_t j = 0; j < d; ++j) o[j] += row[j];
            }
        }
        benchmark::DoNotOptimize(out.data());
    }
    report(state, d * sizeof(float));
}

void shapes(benchmark::internal::Benchmark* b) {
    b->ArgNames({"dim", "zipf"});
    for (int dim : {16, 64, 128})
        for (int dist : {0, 1}) b->Args({dim, dist});
    b->Unit(benchmark::kMicrosecond)->UseRealTime();
}
void threads(benchmark::internal::Benchmark* b) {
    shapes(b);
    b->ThreadRange(1, 2);
}
void pools(benchmark::internal::Benchmark* b) {
    b->ArgNames({"dim", "zipf", "pool"});
    for (int dim : {16, 64, 128})
        for (int dist : {0, 1})
            for (int pool : {1, 2}) b->Args({dim, dist, pool});
    b->Unit(benchmark::kMicrosecond)->UseRealTime();
}
void split(benchmark::internal::Benchmark* b) {
    b->ArgNames({"dim", "zipf", "pool"});
    for (int dim : {16, 64, 128})
        for (int dist : {0, 1}) b->Args({dim, dist, 2});
    b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

BENCHMARK_TEMPLATE(gather_limit, false)->Apply(threads);
BENCHMARK_TEMPLATE(gather_limit, true)->Apply(threads);
BENCHMARK_TEMPLATE(pooled, full_f32)->Apply(threads);
BENCHMARK_TEMPLATE(pooled_split, full_f32)->Apply(split);
BENCHMARK_TEMPLATE(pooled_split, full_low<embtab::int8_rowwise>)->Apply(split);
BENCHMARK_TEMPLATE(pooled, full_low<embtab::f16>)->Apply(shapes);
BENCHMARK_TEMPLATE(pooled, full_low<embtab::int8_rowwise>)->Apply(threads);
BENCHMARK_TEMPLATE(pooled, full_low<embtab::int4_rowwise>)->Apply(shapes);
BENCHMARK_TEMPLATE(pooled, hash)->Apply(shapes);
BENCHMARK_TEMPLATE(pooled, qr)->Apply(shapes);
BENCHMARK_TEMPLATE(pooled, mde)->Apply(shapes);
BENCHMARK_TEMPLATE(pooled, cafe)->Apply(shapes);
BENCHMARK_TEMPLATE(lookup, full_f32)->Apply(threads);
BENCHMARK_TEMPLATE(lookup, hash)->Apply(shapes);
BENCHMARK_TEMPLATE(train, full_f32)->Apply(shapes);
BENCHMARK_TEMPLATE(train, full_f32_adagrad)->Apply(shapes);
BENCHMARK_TEMPLATE(update, full_f32)->Apply(pools);
BENCHMARK_TEMPLATE(update, full_f32_adagrad)->Apply(pools);
BENCHMARK_TEMPLATE(train_split, full_f32)->Apply(split);
BENCHMARK_TEMPLATE(train_split, full_f32_adagrad)->Apply(split);
BENCHMARK_TEMPLATE(train, full_low<embtab::int8_rowwise>)->Apply(shapes);
BENCHMARK_TEMPLATE(train, full_low<embtab::f16>)->Apply(shapes);
BENCHMARK_TEMPLATE(train, full_low<embtab::bf16>)->Apply(shapes);
BENCHMARK_TEMPLATE(train, hash)->Apply(shapes);
BENCHMARK_TEMPLATE(train, qr)->Apply(shapes);
BENCHMARK_TEMPLATE(train, mde)->Apply(shapes);
BENCHMARK_TEMPLATE(train, cafe)->Apply(shapes);

}  // namespace
