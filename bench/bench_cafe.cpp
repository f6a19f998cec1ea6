// CAFE's cost over plain hashing at the same memory, and the HotSketch's own throughput.
//   bench_cafe --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Training step = lookup + update of 4096 ids (Zipf 1.05 over 10M ids, shuffled), 100×
// compression of the fp32 table; CAFE sized by plan_cafe, the hash table given the same bytes.
#include <embtab/embtab.hpp>
#include <embtab/hash/hashers.hpp>
#include <embtab/plan/cafe_plan.hpp>
#include <embtab/sketch/hot_sketch.hpp>
#include <embtab/tables/hash_table.hpp>

#include <benchmark/benchmark.h>

#include "bench_data.hpp"

namespace {

constexpr std::uint64_t kIds = 10'000'000;
constexpr std::size_t kBatch = 4096;
constexpr double kCompression = 100;

const std::vector<std::int64_t>& id_stream() {
    static const auto ids = bench::make_ids(kIds, std::size_t(1) << 22, 1.05, 7);
    return ids;
}

/// Runs lookup + update batches over the id stream; the first `warm` batches are not timed.
template <class Table>
void train(benchmark::State& state, Table& t, std::size_t warm = 200) {
    const auto& ids = id_stream();
    const std::size_t d = t.dim();
    embtab::row_matrix out(kBatch, d), grad = embtab::row_matrix::Constant(kBatch, d, 0.01f);
    std::size_t start = 0;
    const auto batch = [&] {
        const embtab::span<const std::int64_t> b(ids.data() + start, kBatch);
        t.lookup(b, out);
        t.update(b, grad);
        start = (start + kBatch) % (ids.size() - kBatch);
    };
    for (std::size_t i = 0; i < warm; ++i) batch();
    for (auto _ : state) {
        batch();
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
    state.counters["bytes"] = double(t.memory_bytes().total());
}

std::size_t budget(std::size_t d) { return std::size_t(double(kIds * d * 4) / kCompression); }

void hash_step(benchmark::State& state) {
    const auto d = static_cast<std::size_t>(state.range(0));
    embtab::hash_table_options o;
    o.rows = budget(d) / embtab::f32::row_bytes(d);
    o.dim = d;
    embtab::hash_table<embtab::f32, embtab::sgd, embtab::xxh3> t(o, embtab::sgd{0.05f});
    train(state, t);
}

void cafe_step(benchmark::State& state) {
    const auto d = static_cast<std::size_t>(state.range(0));
    auto t = embtab::plan_cafe(kIds, d, budget(d)).make(embtab::sgd{0.05f});
    train(state, t);
    state.counters["hot"] = double(t.sketch().hot_count());
}

BENCHMARK(hash_step)->ArgName("dim")->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK(cafe_step)->ArgName("dim")->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

embtab::hot_sketch_options sketch_options() {
    embtab::hot_sketch_options o;
    o.buckets = o.hot_rows = 100000;
    o.threshold = 100;
    return o;
}

void sketch_insert(benchmark::State& state) {
    embtab::hot_sketch<embtab::mix64> s(sketch_options());
    std::vector<embtab::hot_event> events;
    const auto& ids = id_stream();
    std::size_t i = 0;
    for (auto _ : state) {
        s.insert(static_cast<std::uint64_t>(ids[i]), 1.0f, events);
        i = i + 1 == ids.size() ? 0 : i + 1;
        if (events.size() > 4096) events.clear();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void sketch_query(benchmark::State& state) {
    embtab::hot_sketch<embtab::mix64> s(sketch_options());
    std::vector<embtab::hot_event> events;
    const auto& ids = id_stream();
    for (std::size_t i = 0; i < ids.size(); ++i) s.insert(std::uint64_t(ids[i]), 1.0f, events);
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(s.query(static_cast<std::uint64_t>(ids[i])));
        i = i + 1 == ids.size() ? 0 : i + 1;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

BENCHMARK(sketch_insert);
BENCHMARK(sketch_query);

}  // namespace
