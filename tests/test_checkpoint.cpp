// Checkpoints: round trips of every table kind, resumed training equal to uninterrupted training
// bit for bit, truncation and corruption at every byte, type and shape mismatches, atomic files.
#include <embtab/embtab.hpp>
#include <embtab/io/checkpoint.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "catch.hpp"
#include "reference.hpp"

using namespace embtab;
using bytes_t = std::vector<std::byte>;

namespace {

/// `n` ids in [0, range), skewed toward small ids (so that some become hot), shifted by
/// `shift` (so that the popular ids drift over a run).
std::vector<std::int64_t> skewed_ids(std::mt19937& gen, std::size_t n, std::uint64_t range,
                                     std::uint64_t shift) {
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<std::int64_t> ids(n);
    for (auto& id : ids) {
        const double x = u(gen);
        id = static_cast<std::int64_t>((static_cast<std::uint64_t>(x * x * x * double(range)) + shift) % range);
    }
    return ids;
}

/// `steps` training batches of 16 lookups: `update` and `update_pooled` (sum, mean, weighted)
/// in turn; `after(t, step)` runs after each.
template <class Table, class After>
void train(Table& t, std::mt19937& gen, std::size_t first, std::size_t steps,
           std::uint64_t range, After&& after) {
    constexpr std::size_t n = 16;
    const std::size_t d = t.dim();
    for (std::size_t s = first; s < first + steps; ++s) {
        const auto ids = skewed_ids(gen, n, range, s / 3);
        if (s % 2 == 0) {
            const auto g = ref::random_floats(gen, n * d);
            t.update(ids, matrix_view<const float>(g.data(), n, d));
        } else {
            const std::vector<std::int64_t> offsets = {0, 5, 5, 11, std::int64_t(n)};
            const auto g = ref::random_floats(gen, 4 * d);
            pool_options opts{s % 4 == 1 ? pooling::sum : pooling::mean};
            std::vector<float> weights;
            if (s % 3 == 0) {
                weights = ref::random_floats(gen, n, 0.5f, 1.5f);
                opts.weights = weights;
            }
            t.update_pooled(ids, offsets, matrix_view<const float>(g.data(), 4, d), opts);
        }
        after(static_cast<const Table&>(t), s);
    }
}
template <class Table>
void train(Table& t, std::mt19937& gen, std::size_t first, std::size_t steps, std::uint64_t range) {
    train(t, gen, first, steps, range, [](const Table&, std::size_t) {});
}

/// The vectors of ids [0, range), as bits (compared exactly, NaN or not).
template <class Table>
std::vector<std::uint32_t> lookup_bits(const Table& t, std::uint64_t range) {
    const std::vector<float> v = ref::snapshot(t, static_cast<std::size_t>(range));
    std::vector<std::uint32_t> bits(v.size());
    std::memcpy(bits.data(), v.data(), v.size() * sizeof(float));
    return bits;
}

/// Trains a table from `make(1)`, loads its checkpoint into `make(2)` (another seed): both
/// must then save the same bytes and look up the same bits.
template <class Make>
void check_round_trip(Make make, std::uint64_t range) {
    auto a = make(1);
    std::mt19937 gen(5);
    train(a, gen, 0, 8, range);
    const bytes_t saved = save_bytes(a);
    auto b = make(2);
    REQUIRE(save_bytes(b) != saved);
    load_bytes(b, saved.data(), saved.size());
    REQUIRE(save_bytes(b) == saved);
    REQUIRE(lookup_bits(b, range) == lookup_bits(a, range));
}

/// Trains `n` steps, checkpoints, loads into a table of another seed, then trains both the
/// loaded and the uninterrupted table `m` more steps on the same batches: they must stay equal
/// bit for bit; `after(table, step)` watches the uninterrupted run.
template <class Make, class After>
void check_resume(Make make, std::uint64_t range, std::size_t n, std::size_t m, After&& after) {
    auto a = make(1);
    std::mt19937 gen(9);
    train(a, gen, 0, n, range);
    const bytes_t saved = save_bytes(a);
    auto b = make(2);
    load_bytes(b, saved.data(), saved.size());
    std::mt19937 gen_b = gen;
    train(a, gen, n, m, range, after);
    train(b, gen_b, n, m, range);
    REQUIRE(save_bytes(b) == save_bytes(a));
    REQUIRE(lookup_bits(b, range) == lookup_bits(a, range));
}
template <class Make>
void check_resume(Make make, std::uint64_t range, std::size_t n = 10, std::size_t m = 10) {
    check_resume(make, range, n, m, [](const auto&, std::size_t) {});
}

/// Every prefix of `saved` and every single-byte change of it (xor 0xFF, then +1) must throw
/// `bad_checkpoint` and leave `t` as it was.
template <class Table>
void check_every_byte(Table& t, const bytes_t& saved) {
    const bytes_t before = save_bytes(t);
    std::size_t thrown = 0;
    for (std::size_t len = 0; len < saved.size(); ++len) {
        try {
            load_bytes(t, saved.data(), len);
        } catch (const bad_checkpoint&) {
            ++thrown;
        }
    }
    CHECK(thrown == saved.size());
    CHECK(save_bytes(t) == before);
    thrown = 0;
    for (int change = 0; change < 2; ++change)
        for (std::size_t i = 0; i < saved.size(); ++i) {
            bytes_t bad = saved;
            bad[i] = change == 0 ? bad[i] ^ std::byte{0xff}
                                 : std::byte(std::to_integer<unsigned>(bad[i]) + 1);
            try {
                load_bytes(t, bad.data(), bad.size());
            } catch (const bad_checkpoint&) {
                ++thrown;
            }
        }
    CHECK(thrown == 2 * saved.size());
    CHECK(save_bytes(t) == before);
}

/// `bytes` with a checksum recomputed over the rest (a corruption the checksum cannot see).
bytes_t reseal(bytes_t bytes) {
    const std::size_t n = bytes.size() - sizeof(std::uint64_t);
    const std::uint64_t sum = XXH3_64bits(bytes.data(), n);
    for (std::size_t i = 0; i < 8; ++i) bytes[n + i] = std::byte((sum >> (8 * i)) & 0xff);
    return bytes;
}

/// Each byte of the payload of `saved` changed in turn, resealed: the load either throws
/// `bad_checkpoint` leaving `t` unchanged, or succeeds and the table saves exactly those bytes
/// and still trains.
template <class Table>
void check_parser(const Table& proto, const bytes_t& saved, std::uint64_t range) {
    const bytes_t before = save_bytes(proto);
    std::size_t rejected = 0;
    const std::size_t payload_begin = 24 + proto.signature().size();  // after the header
    for (std::size_t i = payload_begin; i < saved.size() - 8; ++i) {
        bytes_t bad = saved;
        bad[i] ^= std::byte{0xff};
        bad = reseal(bad);
        Table t = proto;
        try {
            load_bytes(t, bad.data(), bad.size());
        } catch (const bad_checkpoint&) {
            ++rejected;
            REQUIRE(save_bytes(t) == before);
            continue;
        }
        REQUIRE(save_bytes(t) == bad);
        std::mt19937 gen(1);
        train(t, gen, 0, 2, range);
    }
    CHECK(rejected > 0);
}

// --- the tables -----------------------------------------------------------------------------

constexpr std::size_t kDim = 4;

template <class Storage, class Optimizer>
auto full_maker(Optimizer opt) {
    return [opt](std::uint64_t seed) { return full_table<Storage, Optimizer>(24, kDim, opt, seed); };
}

hash_table_options hash_opts(std::uint64_t seed, std::size_t rows = 8, std::size_t hashes = 1,
                             hash_combine combine = hash_combine::sum, bool separate = false) {
    hash_table_options h;
    h.rows = rows;
    h.dim = kDim;
    h.hashes = hashes;
    h.combine = combine;
    h.separate_tables = separate;
    h.seed = seed;
    return h;
}

using cafe_hot = full_table<f16, adagrad>;
using cafe_shared = hash_table<f32, adagrad, xxh3>;
using cafe_t = cafe_table<cafe_hot, cafe_shared, mix64>;

cafe_options cafe_opts(std::uint64_t seed, importance score, bool medium) {
    cafe_options o;
    o.sketch.buckets = 8;
    o.sketch.hot_rows = 4;
    o.sketch.threshold = 2;
    o.sketch.decay = 0.6f;
    o.sketch.decay_period = 0.5f;
    o.sketch.seed = seed;
    o.score = score;
    o.medium_tier = medium;
    return o;
}

auto cafe_maker(importance score, bool medium) {
    return [=](std::uint64_t seed) {
        return cafe_t(cafe_hot(4, kDim, adagrad{0.2f}, seed),
                      cafe_shared(hash_opts(seed + 10, 6), adagrad{0.2f}),
                      cafe_opts(seed + 20, score, medium));
    };
}

/// A small CAFE table for the byte-by-byte tests.
using small_cafe = cafe_table<full_table<f32, sgd>, hash_table<f32, sgd, mix64>, mix64>;
small_cafe make_small_cafe(std::uint64_t seed) {
    cafe_options o;
    o.sketch.buckets = 2;
    o.sketch.hot_rows = 2;
    o.sketch.threshold = 1;
    o.sketch.seed = seed;
    o.score = importance::frequency;
    o.medium_tier = true;
    hash_table_options h;
    h.rows = 3;
    h.dim = 2;
    h.seed = seed;
    return small_cafe(full_table<f32, sgd>(2, 2, sgd{0.5f}, seed),
                      hash_table<f32, sgd, mix64>(h, sgd{0.5f}), o);
}

using fs_t = frequency_split_table<full_table<bf16, rowwise_adagrad>, hash_table<f32, rowwise_adagrad, mix64>>;
fs_t make_fs(std::uint64_t seed) {
    const std::vector<std::int64_t> hot = {0, 3, 1, 7};
    return fs_t(40, hot, full_table<bf16, rowwise_adagrad>(4, kDim, rowwise_adagrad{0.1f}, seed),
                hash_table<f32, rowwise_adagrad, mix64>(hash_opts(seed, 8), rowwise_adagrad{0.1f}));
}

}  // namespace

TEST_CASE("checkpoint: full_table round trip over storages and optimizers", "[checkpoint]") {
    check_round_trip(full_maker<f32>(sgd{0.1f}), 24);
    check_round_trip(full_maker<f32>(adagrad{0.1f}), 24);
    check_round_trip(full_maker<f32>(rowwise_adagrad{0.1f}), 24);
    check_round_trip(full_maker<f32>(adam{0.05f}), 24);
    check_round_trip(full_maker<f16>(sgd{0.1f}), 24);
    check_round_trip(full_maker<f16>(adam{0.05f}), 24);
    check_round_trip(full_maker<bf16>(adagrad{0.1f}), 24);
    check_round_trip(full_maker<bf16>(rowwise_adagrad{0.1f}), 24);
    check_round_trip(full_maker<int8_rowwise>(sgd{0.1f}), 24);
    check_round_trip(full_maker<int8_rowwise>(rowwise_adagrad{0.1f}), 24);
    check_round_trip(full_maker<int4_rowwise>(adagrad{0.1f}), 24);
    check_round_trip(full_maker<int4_rowwise>(adam{0.05f}), 24);
}

TEST_CASE("checkpoint: round trip of every other table kind", "[checkpoint]") {
    SECTION("hash_table: hashing trick, multi-hash (sum, mean), separate tables") {
        check_round_trip([](std::uint64_t s) { return make_hash_table<f32>(hash_opts(s), adam{0.05f}); }, 100);
        check_round_trip([](std::uint64_t s) {
            return make_hash_table<f16>(hash_opts(s, 8, 3, hash_combine::sum), adagrad{0.1f});
        }, 100);
        check_round_trip([](std::uint64_t s) {
            return make_hash_table<int8_rowwise>(hash_opts(s, 8, 2, hash_combine::mean, true), sgd{0.1f}, {}, mix64{});
        }, 100);
    }
    SECTION("qr_table: product and concat") {
        check_round_trip([](std::uint64_t s) {
            return make_qr_table<f32>(60, 8, kDim, qr_combine::product, adagrad{0.1f}, s);
        }, 60);
        check_round_trip([](std::uint64_t s) {
            return make_qr_table<f16>(60, 8, 2, qr_combine::concat, sgd{0.1f}, s, {}, 3);
        }, 60);
    }
    SECTION("frequency_split_table") { check_round_trip(make_fs, 40); }
    SECTION("mixed_dim_table") {
        check_round_trip([](std::uint64_t s) {
            return make_mixed_dim_table<f16>({{5, 4}, {10, 2}, {15, 1}}, kDim, adam{0.05f}, s);
        }, 30);
    }
    SECTION("cafe_table: gradient norm, frequency, medium tier") {
        check_round_trip(cafe_maker(importance::gradient_norm, false), 200);
        check_round_trip(cafe_maker(importance::frequency, false), 200);
        check_round_trip(cafe_maker(importance::gradient_norm, true), 200);
    }
    SECTION("any_table: the held table's checkpoint, in either direction") {
        check_round_trip([](std::uint64_t s) { return any_table(cafe_maker(importance::frequency, true)(s)); }, 200);
        auto direct = full_maker<f16>(adagrad{0.1f})(1);
        std::mt19937 gen(3);
        train(direct, gen, 0, 4, 24);
        any_table erased(full_maker<f16>(adagrad{0.1f})(2), "full");
        REQUIRE(erased.signature() == "full_table<f16,adagrad>");
        const bytes_t saved = save_bytes(direct);
        load_bytes(erased, saved.data(), saved.size());
        REQUIRE(save_bytes(erased) == saved);
        REQUIRE(lookup_bits(erased, 24) == lookup_bits(direct, 24));
        any_table other(make_fs(1));
        REQUIRE_THROWS_AS(load_bytes(other, saved.data(), saved.size()), bad_checkpoint);
    }
}

TEST_CASE("checkpoint: optimizer hyper-parameters and rounding mode are restored", "[checkpoint]") {
    full_table<f16, adam> a(8, kDim, adam{0.25f, 0.5f, 0.75f, 1e-3f}, 1, f16{rounding::nearest});
    full_table<f16, adam> b(8, kDim, adam{}, 2);
    a.optimizer().lr = 0.125f;  // a schedule changed it
    const bytes_t saved = save_bytes(a);
    load_bytes(b, saved.data(), saved.size());
    REQUIRE(b.optimizer().lr == 0.125f);
    REQUIRE(b.optimizer().beta1 == 0.5f);
    REQUIRE(b.optimizer().beta2 == 0.75f);
    REQUIRE(b.optimizer().eps == 1e-3f);
    REQUIRE(save_bytes(b) == saved);  // includes the rounding mode
}

TEST_CASE("checkpoint: resumed training equals uninterrupted training bit for bit", "[checkpoint]") {
    SECTION("full_table, stochastic rounding (f16, bf16, int8, int4) and every optimizer") {
        check_resume(full_maker<f16>(adagrad{0.1f}), 24);
        check_resume(full_maker<bf16>(adam{0.05f}), 24);
        check_resume(full_maker<int8_rowwise>(rowwise_adagrad{0.1f}), 24);
        check_resume(full_maker<int4_rowwise>(sgd{0.1f}), 24);
        check_resume(full_maker<f32>(adam{0.05f}), 24);
    }
    SECTION("hash, QR, frequency split, mixed dimension, any_table") {
        check_resume([](std::uint64_t s) {
            return make_hash_table<f16>(hash_opts(s, 8, 2, hash_combine::mean), adagrad{0.1f});
        }, 100);
        check_resume([](std::uint64_t s) {
            return make_qr_table<int8_rowwise>(60, 8, kDim, qr_combine::sum, adam{0.05f}, s);
        }, 60);
        check_resume(make_fs, 40);
        check_resume([](std::uint64_t s) {
            return make_mixed_dim_table<f16>({{5, 4}, {10, 2}, {15, 1}}, kDim, adagrad{0.1f}, s);
        }, 30);
        check_resume([](std::uint64_t s) { return any_table(full_maker<f16>(adam{0.05f})(s)); }, 24);
    }
    SECTION("cafe_table: ids migrate between hot and shared rows after the checkpoint") {
        for (const bool medium : {false, true})
            for (const importance score : {importance::gradient_norm, importance::frequency}) {
                std::set<std::uint64_t> hot;  // the hot ids after the previous step
                std::size_t promoted = 0, demoted = 0;
                check_resume(cafe_maker(score, medium), 200, 12, 24,
                             [&](const cafe_t& t, std::size_t) {
                                 std::set<std::uint64_t> now;
                                 t.sketch().for_each([&](std::uint64_t id, float, std::int32_t row) {
                                     if (row != cafe_t::sketch_type::cold) now.insert(id);
                                 });
                                 if (!hot.empty()) {
                                     for (auto id : now) promoted += hot.count(id) == 0;
                                     for (auto id : hot) demoted += now.count(id) == 0;
                                 }
                                 hot = now;
                             });
                CHECK(promoted > 0);
                CHECK(demoted > 0);
            }
    }
}

TEST_CASE("checkpoint: truncated or corrupted at any byte, a load throws and changes nothing",
          "[checkpoint]") {
    SECTION("full_table<f16, adam>") {
        auto a = full_table<f16, adam>(3, 2, adam{0.1f}, 1);
        std::mt19937 gen(2);
        train(a, gen, 0, 3, 3);
        const bytes_t saved = save_bytes(a);
        auto b = full_table<f16, adam>(3, 2, adam{0.1f}, 2);
        check_every_byte(b, saved);
        check_parser(b, saved, 3);
    }
    SECTION("cafe_table with the medium tier") {
        auto a = make_small_cafe(1);
        std::mt19937 gen(2);
        train(a, gen, 0, 6, 20);
        REQUIRE(a.sketch().hot_count() > 0);
        const bytes_t saved = save_bytes(a);
        auto b = make_small_cafe(2);
        check_every_byte(b, saved);
        check_parser(b, saved, 20);
    }
    SECTION("frequency_split_table") {
        auto a = make_fs(1);
        std::mt19937 gen(2);
        train(a, gen, 0, 3, 40);
        const bytes_t saved = save_bytes(a);
        auto b = make_fs(2);
        check_parser(b, saved, 40);
    }
}

TEST_CASE("checkpoint: another type or shape is refused, naming both", "[checkpoint]") {
    const auto a = full_table<f32, sgd>(8, kDim, sgd{0.1f}, 1);
    const bytes_t saved = save_bytes(a);
    auto other_type = full_table<f16, sgd>(8, kDim, sgd{0.1f}, 1);
    const bytes_t before = save_bytes(other_type);
    REQUIRE_THROWS_MATCHES(load_bytes(other_type, saved.data(), saved.size()), bad_checkpoint,
                           Catch::Matchers::Message(
                               "embtab: checkpoint holds a 'full_table<f32,sgd>' but the table "
                               "is a 'full_table<f16,sgd>' (at byte offset 16)"));
    REQUIRE(save_bytes(other_type) == before);
    auto other_shape = full_table<f32, sgd>(9, kDim, sgd{0.1f}, 1);
    REQUIRE_THROWS_MATCHES(load_bytes(other_shape, saved.data(), saved.size()), bad_checkpoint,
                           Catch::Matchers::Message(
                               "embtab: checkpoint shape mismatch: rows is 8 in the checkpoint "
                               "but 9 in the table (at byte offset 43)"));
    auto cafe = cafe_maker(importance::frequency, false)(1);
    REQUIRE_THROWS_WITH(load_bytes(cafe, saved.data(), saved.size()),
                        Catch::Matchers::ContainsSubstring(
                            "cafe_table<full_table<f16,adagrad>,hash_table<f32,adagrad,xxh3>,mix64>") &&
                            Catch::Matchers::ContainsSubstring("full_table<f32,sgd>"));
    auto other_cafe = cafe_t(cafe_hot(4, kDim, adagrad{0.2f}, 1), cafe_shared(hash_opts(1, 7), adagrad{0.2f}),
                             cafe_opts(1, importance::frequency, false));
    const bytes_t cafe_bytes = save_bytes(cafe);
    REQUIRE_THROWS_WITH(load_bytes(other_cafe, cafe_bytes.data(), cafe_bytes.size()),
                        Catch::Matchers::ContainsSubstring("hash rows is 6 in the checkpoint but 7"));
    REQUIRE_THROWS_WITH(load_bytes(cafe, "EMBTABCX", 8),
                        Catch::Matchers::ContainsSubstring("not an embtab checkpoint"));
}

TEST_CASE("checkpoint: files are replaced atomically", "[checkpoint]") {
    namespace fs = std::filesystem;
    std::random_device rd;
    const fs::path dir = fs::temp_directory_path() / ("embtab_checkpoint_" + std::to_string(rd()));
    fs::create_directories(dir);
    const auto files = [&] {
        std::set<std::string> names;
        for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
        return names;
    };
    const std::string path = (dir / "table.ckpt").string();
    auto t = full_maker<f16>(adagrad{0.1f})(1);
    save(t, path);
    REQUIRE(files() == std::set<std::string>{"table.ckpt"});
    std::mt19937 gen(4);
    train(t, gen, 0, 3, 24);
    save(t, path);  // overwrite
    REQUIRE(files() == std::set<std::string>{"table.ckpt"});
    auto u = full_maker<f16>(adagrad{0.1f})(2);
    load(u, path);
    REQUIRE(save_bytes(u) == save_bytes(t));

    const auto read_all = [](const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        return std::vector<char>(std::istreambuf_iterator<char>(in), {});
    };
    const std::vector<char> previous = read_all(path);
    train(t, gen, 3, 2, 24);
    const std::string missing = (dir / "missing" / "table.ckpt").string();
    REQUIRE_THROWS_WITH(save(t, missing), Catch::Matchers::ContainsSubstring(missing) &&
                                              Catch::Matchers::ContainsSubstring("No such file"));
    fs::create_directories(dir / "occupied" / "inside");  // a directory where the file would go
    REQUIRE_THROWS_AS(save(t, (dir / "occupied").string()), bad_checkpoint);
    REQUIRE(files() == std::set<std::string>{"table.ckpt", "occupied"});
    REQUIRE(read_all(path) == previous);

    REQUIRE_THROWS_WITH(load(u, missing), Catch::Matchers::ContainsSubstring(missing));
    const bytes_t saved = save_bytes(t);
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(saved.data()), std::streamsize(saved.size() / 2));
    }
    const bytes_t before = save_bytes(u);
    REQUIRE_THROWS_WITH(load(u, path), Catch::Matchers::ContainsSubstring(path) &&
                                           Catch::Matchers::ContainsSubstring("truncated"));
    REQUIRE(save_bytes(u) == before);
    fs::remove_all(dir);
}
