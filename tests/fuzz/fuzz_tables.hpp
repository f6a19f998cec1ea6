#pragma once
// The small tables of every kind the fuzzer loads into and updates, and the training that gives
// them a non-trivial state (optimizer state, requantized rows, CAFE hot ids). Shared by
// fuzz_load.cpp and make_corpus.cpp (the seed checkpoints it saves), so that each seed is a
// valid checkpoint of one of the fuzzer's tables. Deterministic on every platform: no
// <random> distributions, whose results differ between standard libraries.
#include <embtab/embtab.hpp>

#include <cstddef>
#include <cstdint>
#include <tuple>
#include <vector>

namespace fuzz_tables {

using full_f32 = embtab::full_table<embtab::f32, embtab::adagrad>;
using full_int8 = embtab::full_table<embtab::int8_rowwise, embtab::rowwise_adagrad>;
using hash_f16 = embtab::hash_table<embtab::f16, embtab::rowwise_adagrad, embtab::xxh3>;
using hash_int4 = embtab::hash_table<embtab::int4_rowwise, embtab::adam, embtab::mix64>;
using qr_int8 = embtab::qr_table<embtab::full_table<embtab::int8_rowwise, embtab::adagrad>,
                                 embtab::full_table<embtab::int8_rowwise, embtab::adagrad>>;
using freq_split =
    embtab::frequency_split_table<embtab::full_table<embtab::bf16, embtab::rowwise_adagrad>,
                                  embtab::hash_table<embtab::f32, embtab::rowwise_adagrad,
                                                     embtab::mix64>>;
using mixed_dim = embtab::mixed_dim_table<embtab::f16, embtab::adam>;
using cafe =
    embtab::cafe_table<embtab::full_table<embtab::f32, embtab::sgd>,
                       embtab::hash_table<embtab::f32, embtab::sgd, embtab::mix64>, embtab::mix64>;
using cafe_int8 = embtab::cafe_table<embtab::full_table<embtab::int8_rowwise, embtab::adagrad>,
                                     embtab::hash_table<embtab::f16, embtab::adagrad, embtab::xxh3>,
                                     embtab::mix64>;

inline constexpr std::size_t dim = 4;
/// Ids the training draws (and the fuzzer's lookups use) for the hashed kinds.
inline constexpr std::uint64_t wide_ids = 50;

inline embtab::hash_table_options hash_options(std::size_t rows, std::size_t hashes,
                                               std::uint64_t seed) {
    embtab::hash_table_options o;
    o.rows = rows;
    o.dim = dim;
    o.hashes = hashes;
    o.seed = seed;
    return o;
}

inline full_f32 make_full_f32() { return full_f32(16, dim, embtab::adagrad{0.1f}, 1); }
inline full_int8 make_full_int8() { return full_int8(16, dim, embtab::rowwise_adagrad{0.1f}, 2); }
inline hash_f16 make_hash_f16() {
    return hash_f16(hash_options(8, 2, 3), embtab::rowwise_adagrad{0.1f});
}
inline hash_int4 make_hash_int4() {  // two separate tables, mean of the two rows
    embtab::hash_table_options o = hash_options(4, 2, 5);
    o.separate_tables = true;
    o.combine = embtab::hash_combine::mean;
    return hash_int4(o, embtab::adam{0.05f});
}
inline qr_int8 make_qr() {
    return embtab::make_qr_table<embtab::int8_rowwise>(16, 4, dim, embtab::qr_combine::product,
                                                      embtab::adagrad{0.1f}, 6, {}, 0, true);
}
inline freq_split make_freq_split() {
    const std::vector<std::int64_t> hot = {0, 3, 1, 7};
    return freq_split(16, hot,
                      embtab::full_table<embtab::bf16, embtab::rowwise_adagrad>(
                          4, dim, embtab::rowwise_adagrad{0.1f}, 7),
                      embtab::hash_table<embtab::f32, embtab::rowwise_adagrad, embtab::mix64>(
                          hash_options(4, 1, 7), embtab::rowwise_adagrad{0.1f}));
}
inline mixed_dim make_mixed_dim() {
    return embtab::make_mixed_dim_table<embtab::f16>({{4, 4}, {4, 2}, {8, 1}}, dim,
                                                     embtab::adam{0.05f}, 8);
}
inline embtab::cafe_options cafe_options(bool medium, embtab::importance score,
                                         std::uint64_t seed) {
    embtab::cafe_options o;
    o.sketch.buckets = 4;
    o.sketch.hot_rows = 4;
    o.sketch.threshold = 2;
    o.sketch.decay_period = 3;
    o.sketch.seed = seed;
    o.score = score;
    o.medium_tier = medium;
    return o;
}
inline cafe make_cafe() {  // frequency scores, medium tier
    return cafe(embtab::full_table<embtab::f32, embtab::sgd>(4, dim, embtab::sgd{0.1f}, 4),
                embtab::hash_table<embtab::f32, embtab::sgd, embtab::mix64>(hash_options(8, 1, 4),
                                                                            embtab::sgd{0.1f}),
                cafe_options(true, embtab::importance::frequency, 4));
}
inline cafe_int8 make_cafe_int8() {  // gradient-norm scores, int8 hot rows, 2-hash shared table
    return cafe_int8(
        embtab::full_table<embtab::int8_rowwise, embtab::adagrad>(4, dim, embtab::adagrad{0.1f}, 9),
        embtab::hash_table<embtab::f16, embtab::adagrad, embtab::xxh3>(hash_options(8, 2, 9),
                                                                       embtab::adagrad{0.1f}),
        cafe_options(false, embtab::importance::gradient_norm, 9));
}

/// A table of one kind the fuzzer covers, named, and the bound its ids (and training) stay below.
template <class Table>
struct kind {
    const char* name;
    Table table;
    std::uint64_t id_bound;
};

/// Fresh tables of every kind the fuzzer covers.
inline auto all_kinds() {
    return std::make_tuple(kind<full_f32>{"full_f32_adagrad", make_full_f32(), 16},
                           kind<full_int8>{"full_int8_rowwise", make_full_int8(), 16},
                           kind<hash_f16>{"hash_f16", make_hash_f16(), wide_ids},
                           kind<hash_int4>{"hash_int4_separate", make_hash_int4(), wide_ids},
                           kind<qr_int8>{"qr_int8", make_qr(), 16},
                           kind<freq_split>{"freq_split", make_freq_split(), 16},
                           kind<mixed_dim>{"mixed_dim_f16", make_mixed_dim(), 16},
                           kind<cafe>{"cafe_medium", make_cafe(), wide_ids},
                           kind<cafe_int8>{"cafe_int8", make_cafe_int8(), wide_ids});
}

/// Calls `f(k)` for every `kind` in the tuple `kinds`, in order.
template <class Kinds, class F>
void for_each_kind(Kinds& kinds, F&& f) {
    std::apply([&](auto&... k) { (f(k), ...); }, kinds);
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
