// Pooled lookup (EmbeddingBag sum) by storage: f32, f16, int8, int4 rows at dim 16/64/128 on
// tables of 512 MiB of fp32 (twice the 260 MiB L3 here), uniform and Zipf(1.05) ids.
//   bench_storage --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <embtab/embtab.hpp>

#include <benchmark/benchmark.h>

#include <map>
#include <memory>

#include "bench_data.hpp"

namespace {

constexpr std::size_t kTableBytes = std::size_t(512) << 20;
constexpr std::size_t kBags = 512, kPooling = 32;  // 16384 ids a call

/// One table per (storage, dim), built once: building 512 MiB tables dominates otherwise.
template <class Storage>
const embtab::full_table<Storage>& table(std::size_t dim) {
    static std::map<std::size_t, std::unique_ptr<embtab::full_table<Storage>>> cache;
    auto& t = cache[dim];
    if (!t)
        t = std::make_unique<embtab::full_table<Storage>>(bench::rows_for(kTableBytes, dim), dim,
                                                         embtab::sgd{}, 1);
    return *t;
}

template <class Storage>
void pooled_lookup(benchmark::State& state) {
    const auto dim = static_cast<std::size_t>(state.range(0));
    const auto& t = table<Storage>(dim);
    const auto& pool = bench::ids_for(t.rows(), state.range(1) ? 1.05 : 0.0);
    const auto offsets = bench::make_offsets(kBags, kPooling);
    embtab::row_matrix out(kBags, dim);
    std::size_t start = 0;
    for (auto _ : state) {
        const embtab::span<const std::int64_t> batch(pool.data() + start, kBags * kPooling);
        t.lookup_pooled(batch, offsets, out);
        benchmark::DoNotOptimize(out.data());
        start = (start + kBags * kPooling) % (pool.size() - kBags * kPooling);
    }
    const auto n = static_cast<std::int64_t>(state.iterations() * kBags * kPooling);
    state.SetItemsProcessed(n);
    state.SetBytesProcessed(n * static_cast<std::int64_t>(Storage::row_bytes(dim)));
    state.SetLabel(state.range(1) ? "zipf1.05" : "uniform");
}

void args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"dim", "zipf"});
    for (int dim : {16, 64, 128})
        for (int dist : {0, 1}) b->Args({dim, dist});
    b->Unit(benchmark::kMicrosecond);
}

BENCHMARK_TEMPLATE(pooled_lookup, embtab::f32)->Apply(args);
BENCHMARK_TEMPLATE(pooled_lookup, embtab::f16)->Apply(args);
BENCHMARK_TEMPLATE(pooled_lookup, embtab::int8_rowwise)->Apply(args);
BENCHMARK_TEMPLATE(pooled_lookup, embtab::int4_rowwise)->Apply(args);

}  // namespace
