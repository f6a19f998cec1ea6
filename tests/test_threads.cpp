// Thread policies: the pool runs every part exactly once, and a batch split across threads gives
// bitwise the serial result for every table kind (bags cut anywhere, empty bags included) — for
// lookups, and for updates whose distinct rows are stepped across threads.
#include <embtab/embtab.hpp>
#include <embtab/threads.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "reference.hpp"

using namespace embtab;

TEST_CASE("thread_pool runs every part exactly once, on several threads", "[threads][concurrency]") {
    for (std::size_t threads : {1u, 2u, 3u, 5u}) {
        thread_pool pool(threads);
        REQUIRE(pool.threads() == threads);
        for (std::size_t parts : {0u, 1u, 2u, 7u, 64u}) {
            for (int round = 0; round < 20; ++round) {
                std::vector<std::atomic<int>> runs(parts);
                pool.run(parts, [&](std::size_t p) { runs[p].fetch_add(1); });
                for (std::size_t p = 0; p < parts; ++p) REQUIRE(runs[p].load() == 1);
            }
        }
    }
}

TEST_CASE("thread_pool rethrows a part's exception and stays usable", "[threads][concurrency]") {
    thread_pool pool(3);
    std::atomic<int> ran{0};
    REQUIRE_THROWS_WITH(pool.run(9,
                                 [&](std::size_t p) {
                                     ran.fetch_add(1);
                                     if (p == 4) throw std::runtime_error("part 4 failed");
                                 }),
                        "part 4 failed");
    REQUIRE(ran.load() == 9);  // the other parts still ran
    std::atomic<int> again{0};
    pool.run(6, [&](std::size_t) { again.fetch_add(1); });
    REQUIRE(again.load() == 6);
}

TEST_CASE("thread_pool takes calls from several threads in turn", "[threads][concurrency]") {
    thread_pool pool(2);
    std::atomic<long> sum{0};
    std::vector<std::thread> callers;
    for (int c = 0; c < 3; ++c)
        callers.emplace_back([&] {
            for (int round = 0; round < 50; ++round)
                pool.run(4, [&](std::size_t p) { sum.fetch_add(long(p) + 1); });
        });
    for (auto& t : callers) t.join();
    REQUIRE(sum.load() == 3 * 50 * (1 + 2 + 3 + 4));
}

namespace {

constexpr std::size_t kRows = 5000, kDim = 8;

/// Bags of random lengths 0..40 (so some are empty, including the first and the last), enough
/// ids for the batch to be cut into several parts.
std::vector<std::int64_t> random_offsets(std::mt19937& gen, std::size_t bags) {
    std::uniform_int_distribution<int> len(0, 40);
    std::vector<std::int64_t> off(bags + 1, 0);
    for (std::size_t b = 0; b < bags; ++b)
        off[b + 1] = off[b] + (b == 0 || b + 1 == bags || b % 17 == 5 ? 0 : len(gen));
    return off;
}

template <class Table, class Threads>
void same_as_serial(const Table& t, Threads&& threads) {
    std::mt19937 gen(7);
    const auto off = random_offsets(gen, 700);
    const auto ids = ref::random_ids(gen, std::size_t(off.back()), kRows);
    const auto weights = ref::random_floats(gen, ids.size());
    REQUIRE(ids.size() > 4 * 2048);  // several parts

    row_matrix want(ids.size(), kDim), got(ids.size(), kDim);
    t.lookup(ids, want);
    got.setConstant(-1.0f);
    t.lookup(ids, got, threads);
    REQUIRE(std::memcmp(want.data(), got.data(), sizeof(float) * std::size_t(want.size())) == 0);

    for (const auto mode : {pooling::sum, pooling::mean}) {
        for (const bool weighted : {false, true}) {
            pool_options opts;
            opts.mode = mode;
            if (weighted) opts.weights = weights;
            row_matrix pwant(off.size() - 1, kDim), pgot(off.size() - 1, kDim);
            t.lookup_pooled(ids, off, pwant, opts);
            pgot.setConstant(-1.0f);  // empty bags must be zeroed by some part
            t.lookup_pooled(ids, off, pgot, opts, threads);
            REQUIRE(std::memcmp(pwant.data(), pgot.data(),
                                sizeof(float) * std::size_t(pwant.size())) == 0);
        }
    }
}

template <class Table>
Table trained(Table t) {
    std::mt19937 gen(3);
    for (int step = 0; step < 5; ++step) {
        const auto ids = ref::random_ids(gen, 3000, kRows);
        const auto g = ref::random_floats(gen, ids.size() * kDim);
        t.update(ids, matrix_view<const float>(g.data(), ids.size(), kDim));
    }
    return t;
}

}  // namespace

TEST_CASE("a batch split across threads equals the serial result, for every kind",
          "[threads][concurrency]") {
    thread_pool pool(3);
    SECTION("full") { same_as_serial(full_table<>(kRows, kDim, sgd{0.1f}, 1), pool); }
    SECTION("full int8") {
        same_as_serial(full_table<int8_rowwise, sgd>(kRows, kDim, sgd{0.1f}, 1), pool);
    }
    SECTION("hash") { same_as_serial(plan_hash(kRows, kDim, 40000, 2).make(sgd{0.1f}), pool); }
    SECTION("qr") { same_as_serial(plan_qr(kRows, kDim, 40000).make(sgd{0.1f}), pool); }
    SECTION("mixed dimension") {
        const std::vector<std::size_t> blocks = {500, 1500, 3000};  // kRows in all
        same_as_serial(plan_mixed_dim(blocks, kDim, 60000).make(sgd{0.1f}), pool);
    }
    SECTION("cafe, with hot ids") {
        same_as_serial(trained(plan_cafe(kRows, kDim, 60000).make(sgd{0.1f})), pool);
    }
    SECTION("any_table") {
        same_as_serial(any_table(trained(plan_cafe(kRows, kDim, 60000).make(sgd{0.1f}))), pool);
    }
    SECTION("a pool of one thread, and the serial policy") {
        const full_table<> t(kRows, kDim, sgd{0.1f}, 1);
        thread_pool one(1);
        same_as_serial(t, one);
        same_as_serial(t, serial{});
    }
#if defined(_OPENMP)
    SECTION("openmp") { same_as_serial(full_table<>(kRows, kDim, sgd{0.1f}, 1), openmp{}); }
#endif
}

namespace {

/// Updates two tables made by `make` with the same batches — one serially, one across `pool` —
/// and requires their checkpoints (rows, optimizer state, rounding streams, sketches) to be
/// bitwise equal after every batch: per-id and pooled, sum and mean, weighted, with duplicate
/// ids and empty bags.
template <class Make>
void update_same_as_serial(Make&& make, thread_pool& pool) {
    auto one = trained(make()), many = trained(make());
    const std::size_t d = one.dim();
    std::mt19937 gen(11);
    for (int step = 0; step < 4; ++step) {
        const auto off = random_offsets(gen, 300);
        const auto ids = ref::random_ids(gen, std::size_t(off.back()), kRows);
        REQUIRE(ids.size() > 2048);  // distinct rows enough for several parts
        const auto g = ref::random_floats(gen, (off.size() - 1) * d, -0.1f, 0.1f);
        const auto weights = ref::random_floats(gen, ids.size());
        pool_options opts;
        opts.mode = step % 2 ? pooling::mean : pooling::sum;
        if (step >= 2) opts.weights = weights;
        const matrix_view<const float> bag_grads(g.data(), off.size() - 1, d);
        one.update_pooled(ids, off, bag_grads, opts);
        many.update_pooled(ids, off, bag_grads, opts, pool);
        REQUIRE(save_bytes(one) == save_bytes(many));

        const auto per_id = ref::random_floats(gen, ids.size() * d, -0.1f, 0.1f);
        const matrix_view<const float> grads(per_id.data(), ids.size(), d);
        one.update(ids, grads);
        many.update(ids, grads, pool);
        REQUIRE(save_bytes(one) == save_bytes(many));
    }
}

}  // namespace

TEST_CASE("an update split across threads equals the serial update, for every kind, storage and "
          "optimizer",
          "[threads][concurrency][update]") {
    thread_pool pool(3);
    SECTION("full f32, sgd") {
        update_same_as_serial([] { return full_table<>(kRows, kDim, sgd{0.1f}, 1); }, pool);
    }
    SECTION("full f32, adagrad") {
        update_same_as_serial(
            [] { return full_table<f32, adagrad>(kRows, kDim, adagrad{0.1f}, 1); }, pool);
    }
    SECTION("full f16, row-wise adagrad (stochastic rounding)") {
        update_same_as_serial(
            [] { return full_table<f16, rowwise_adagrad>(kRows, kDim, rowwise_adagrad{0.1f}, 1); },
            pool);
    }
    SECTION("full bf16, adam") {
        update_same_as_serial([] { return full_table<bf16, adam>(kRows, kDim, adam{0.01f}, 1); },
                              pool);
    }
    SECTION("full int8 and int4 row-wise, sgd") {
        update_same_as_serial(
            [] { return full_table<int8_rowwise, sgd>(kRows, kDim, sgd{0.1f}, 1); }, pool);
        update_same_as_serial(
            [] { return full_table<int4_rowwise, sgd>(kRows, kDim, sgd{0.1f}, 1); }, pool);
    }
    SECTION("hash, two hashes") {
        update_same_as_serial([] { return plan_hash(kRows, kDim, 40000, 2).make(sgd{0.1f}); },
                              pool);
    }
    SECTION("qr, product") {
        update_same_as_serial([] { return plan_qr(kRows, kDim, 40000).make(sgd{0.1f}); }, pool);
    }
    SECTION("mixed dimension") {
        update_same_as_serial(
            [] {
                const std::vector<std::size_t> blocks = {500, 1500, 3000};
                return plan_mixed_dim(blocks, kDim, 60000).make(sgd{0.1f});
            },
            pool);
    }
    SECTION("frequency split") {
        update_same_as_serial(
            [] {
                std::vector<std::uint32_t> counts(kRows, 1);
                for (std::size_t i = 0; i < 300; ++i) counts[i * 7] = 50;
                return plan_frequency_split(counts, kDim, 60000).make(sgd{0.1f});
            },
            pool);
    }
    SECTION("cafe") {
        update_same_as_serial([] { return plan_cafe(kRows, kDim, 60000).make(sgd{0.1f}); }, pool);
    }
    SECTION("any_table") {
        update_same_as_serial(
            [] { return any_table(plan_cafe(kRows, kDim, 60000).make<int8_rowwise>(sgd{0.1f})); },
            pool);
    }
}

TEST_CASE("an update split across threads refuses a step as the serial one does", "[threads]") {
    thread_pool pool(3);
    full_table<f32, sgd> t(kRows, kDim, sgd{1.0f}, 1);
    std::vector<std::int64_t> ids(4000);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = std::int64_t(i);
    ids.push_back(3100);
    ids.push_back(1200);
    std::vector<float> g(ids.size() * kDim, 0.01f);
    // rows 1200 and 3100 get two gradients of 3e38 each, whose sum overflows: the step of the
    // first of them in batch order (row 1200, first queued at position 1200) is named
    for (const std::size_t i : {std::size_t(1200), std::size_t(3100), ids.size() - 2, ids.size() - 1})
        for (std::size_t j = 0; j < kDim; ++j) g[i * kDim + j] = 3e38f;
    const matrix_view<const float> grads(g.data(), ids.size(), kDim);
    const auto before = save_bytes(t);
    std::string serial_message, pool_message;
    try {
        t.update(ids, grads);
    } catch (const nonfinite_result& e) {
        serial_message = e.what();
    }
    REQUIRE(save_bytes(t) == before);
    try {
        t.update(ids, grads, pool);
    } catch (const nonfinite_result& e) {
        pool_message = e.what();
    }
    REQUIRE(save_bytes(t) == before);  // every part's steps undone
    REQUIRE_THAT(serial_message, Catch::Matchers::Contains("position 1200"));
    REQUIRE(pool_message == serial_message);

    // skip_row: both skip the two rows and step the others alike
    auto other = t;
    t.set_nonfinite_policy(nonfinite_policy::skip_row);
    other.set_nonfinite_policy(nonfinite_policy::skip_row);
    t.update(ids, grads);
    other.update(ids, grads, pool);
    REQUIRE(save_bytes(t) == save_bytes(other));
    REQUIRE(save_bytes(t) != before);
}

TEST_CASE("a batch split across threads validates before any thread starts", "[threads]") {
    thread_pool pool(2);
    const full_table<> t(100, kDim, sgd{0.1f}, 1);
    std::vector<std::int64_t> ids(5000, 3);
    ids[4321] = 100;
    row_matrix out(ids.size(), kDim);
    out.setConstant(7.0f);
    REQUIRE_THROWS_AS(t.lookup(ids, out, pool), id_out_of_range);
    REQUIRE((out.array() == 7.0f).all());
}

#if defined(__linux__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

TEST_CASE("a pool whose threads cannot all start throws and leaves no thread behind",
          "[threads][hostile]") {
    // In a child process with little address space, 500 threads cannot all get their stacks:
    // the constructor must stop and join the ones it started and rethrow, not hang or abort.
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        alarm(20);  // a hang is a failure, not a stuck test run
        rlimit limit{400u << 20, 400u << 20};
        setrlimit(RLIMIT_AS, &limit);
        int code = 1;
        try {
            thread_pool pool(500);
            code = 2;  // every thread started: the limit did not bite
        } catch (const std::system_error&) {
            code = 0;
        } catch (const std::bad_alloc&) {
            code = 0;
        }
        _exit(code);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    INFO("child status " << status);
    REQUIRE(WIFEXITED(status));
    const int code = WEXITSTATUS(status);
    if (code == 2) WARN("500 threads started within 400 MiB: nothing to test here");
    REQUIRE(code != 1);
}
#endif
