#pragma once
// The small tables the checkpoint fuzzer loads into, and the training that gives them a
// non-trivial state (optimizer state, requantized rows, CAFE hot ids). Shared by fuzz_load.cpp
// (the tables it loads into) and make_corpus.cpp (the seed checkpoints it saves), so that each
// seed is a valid checkpoint of one of the fuzzer's tables. Deterministic on every platform: no
// <random> distributions, whose results differ between standard libraries.
#include <embtab/embtab.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fuzz_tables {

using full_f32 = embtab::full_table<embtab::f32, embtab::adagrad>;
using full_int8 = embtab::full_table<embtab::int8_rowwise, embtab::rowwise_adagrad>;
using hash_f16 = embtab::hash_table<embtab::f16, embtab::rowwise_adagrad, embtab::xxh3>;
using cafe =
    embtab::cafe_table<embtab::full_table<embtab::f32, embtab::sgd>,
                       embtab::hash_table<embtab::f32, embtab::sgd, embtab::mix64>, embtab::mix64>;

inline constexpr std::size_t dim = 4;
/// Ids the training draws (and the fuzzer's lookups use) for the hashed kinds.
inline constexpr std::uint64_t wide_ids = 50;

inline full_f32 make_full_f32() { return full_f32(16, dim, embtab::adagrad{0.1f}, 1); }
inline full_int8 make_full_int8() { return full_int8(16, dim, embtab::rowwise_adagrad{0.1f}, 2); }
inline hash_f16 make_hash_f16() {
    embtab::hash_table_options o;
    o.rows = 8;
    o.dim = dim;
    o.hashes = 2;
    o.seed = 3;
    return hash_f16(o, embtab::rowwise_adagrad{0.1f});
}
inline cafe make_cafe() {
    embtab::cafe_options o;
    o.sketch.buckets = 4;
    o.sketch.hot_rows = 4;
    o.sketch.threshold = 2;
    o.sketch.decay_period = 3;
    o.sketch.seed = 4;
    o.score = embtab::importance::frequency;
    o.medium_tier = true;
    embtab::hash_table_options h;
    h.rows = 8;
    h.dim = dim;
    h.seed = 4;
    return cafe(embtab::full_table<embtab::f32, embtab::sgd>(4, dim, embtab::sgd{0.1f}, 4),
                embtab::hash_table<embtab::f32, embtab::sgd, embtab::mix64>(h, embtab::sgd{0.1f}),
                o);
}

/// The training of the tables the fuzzer loads into (and of the corpus's "trained" seeds).
inline constexpr int train_steps = 6;
inline constexpr std::uint64_t train_seed = 11;

/// SplitMix64: the next value of `state`.
inline std::uint64_t next(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// `steps` updates of 24 ids below `id_bound` (skewed to small ids, so that some repeat) with
/// gradients in [-1, 1), drawn from `seed`.
template <class Table>
void train(Table& t, std::uint64_t id_bound, int steps, std::uint64_t seed) {
    std::vector<std::uint64_t> ids(24);
    std::vector<float> grads(ids.size() * t.dim());
    for (int s = 0; s < steps; ++s) {
        for (auto& id : ids) {
            const std::uint64_t a = next(seed) % id_bound, b = next(seed) % id_bound;
            id = a < b ? a : b;
        }
        for (auto& g : grads)
            g = static_cast<float>(next(seed) >> 40) / static_cast<float>(1u << 23) - 1.0f;
        t.update(ids, embtab::matrix_view<const float>(grads.data(), ids.size(), t.dim()));
    }
}

}  // namespace fuzz_tables
