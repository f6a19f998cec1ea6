// The examples' data sources: the Criteo TSV reader, the Criteo-shaped synthetic generator (its
// shape, determinism, drift and hidden model), the TSV round trip between them, and AUC/log-loss.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../examples/data/auc.hpp"
#include "../examples/data/criteo_reader.hpp"
#include "../examples/data/sample.hpp"
#include "../examples/data/synthetic_criteo.hpp"
#include "catch.hpp"

using namespace embtab_data;
using Catch::Matchers::ContainsSubstring;

namespace {

float log1p_f(double x) { return static_cast<float>(std::log1p(x)); }

// A Criteo line from its 40 fields.
std::string line(const std::vector<std::string>& fields) {
    std::string s;
    for (std::size_t i = 0; i < fields.size(); ++i) s += (i ? "\t" : "") + fields[i];
    return s + "\n";
}

// 40 valid fields: label 0, integers 1..13, hex values 00000001..0000001a.
std::vector<std::string> valid_fields() {
    std::vector<std::string> f = {"0"};
    for (int i = 1; i <= 13; ++i) f.push_back(std::to_string(i));
    char hex[16];
    for (int i = 1; i <= 26; ++i) {
        std::snprintf(hex, sizeof hex, "%08x", i);
        f.push_back(hex);
    }
    return f;
}

// Everything a source delivers, concatenated.
struct drained {
    std::vector<float> dense, label, probability;
    std::vector<std::uint64_t> sparse;
    std::size_t batches = 0;
};
template <class Source>
drained drain(Source& source, std::size_t batch_size) {
    drained d;
    batch b;
    while (source.next(b, batch_size)) {
        ++d.batches;
        d.dense.insert(d.dense.end(), b.dense.begin(), b.dense.end());
        d.sparse.insert(d.sparse.end(), b.sparse.begin(), b.sparse.end());
        d.label.insert(d.label.end(), b.label.begin(), b.label.end());
        d.probability.insert(d.probability.end(), b.click_probability.begin(),
                             b.click_probability.end());
    }
    CHECK(b.size == 0);
    return d;
}

synthetic_options small_options(std::uint64_t samples, std::uint64_t seed = 7) {
    synthetic_options o;
    o.scale = 0.001;
    o.samples = samples;
    o.seed = seed;
    return o;
}

double mean(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += x;
    return s / static_cast<double>(v.size());
}

}  // namespace

// --- reader -------------------------------------------------------------------------------------

TEST_CASE(
    "criteo_reader parses values, empty fields, negative integers, CRLF and a last line "
    "without newline") {
    const std::string text =
        "1\t0\t-"
        "3\t\t7\t1\t2\t3\t4\t5\t6\t7\t8\t999999\t68fd1e64\t\t05DB9164\t0\t1\t2\t3\t4\t5\t6\t7"
        "\t8\t9\ta\tb\tc\td\te\tf\t10\t11\t12\t13\t14\t15\tffffffff\r\n" +
        line(valid_fields()) + "\n" +  // a blank line is skipped
        "0\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t";
    std::istringstream in(text);
    criteo_reader reader(in, "hand.tsv");
    batch b;
    b.click_probability.assign(5, 0.5f);  // the reader clears it

    REQUIRE(reader.next(b, 2));
    REQUIRE(b.size == 2);
    CHECK(b.click_probability.empty());
    CHECK(b.label == std::vector<float>{1, 0});
    const float* d = b.dense_row(0);
    CHECK(d[0] == 0.0f);        // 0
    CHECK(d[1] == 0.0f);        // −3 clamped to 0
    CHECK(d[2] == 0.0f);        // empty
    CHECK(d[3] == log1p_f(7));  // log(8)
    CHECK(d[3] == Approx(std::log(8.0)));
    CHECK(d[12] == log1p_f(999999));  // I13
    const std::uint64_t* s = b.sparse_row(0);
    CHECK(s[0] == 0x68fd1e64u);
    CHECK(s[1] == missing_sparse);
    CHECK(s[2] == 0x05db9164u);  // upper case accepted
    CHECK(s[3] == 0);
    CHECK(s[13] == 0xa);
    CHECK(s[25] == 0xffffffffu);
    for (int j = 0; j < 13; ++j) CHECK(b.dense_row(1)[j] == log1p_f(j + 1));
    for (int f = 0; f < 26; ++f) CHECK(b.sparse_row(1)[f] == std::uint64_t(f + 1));

    REQUIRE(reader.next(b, 2));
    REQUIRE(b.size == 1);
    CHECK(b.label[0] == 0);
    for (int j = 0; j < 13; ++j) CHECK(b.dense_row(0)[j] == 0.0f);
    for (int f = 0; f < 26; ++f) CHECK(b.sparse_row(0)[f] == missing_sparse);

    CHECK_FALSE(reader.next(b, 2));
    CHECK(b.size == 0);
    CHECK(reader.lines_read() == 4);
    CHECK(reader.samples_read() == 3);
    CHECK(reader.malformed_lines() == 0);
    CHECK_THROWS_AS(reader.next(b, 0), std::invalid_argument);
}

TEST_CASE("criteo_reader names file, line, field and text of a malformed line") {
    struct bad_case {
        std::size_t field;
        std::string value;
        std::string expect;
    };
    const std::vector<bad_case> cases = {
        {0, "2", "field 0 (label): label is not 0 or 1: \"2\""},
        {0, "", "field 0 (label)"},
        {3, "12a", "field 3 (I3): not an integer: \"12a\""},
        {13, "1.5", "field 13 (I13): not an integer: \"1.5\""},
        {5, "99999999999999999999", "field 5 (I5): integer out of range"},
        {14, "zz000000", "field 14 (C1): not a hex value: \"zz000000\""},
        {39, "123456789", "field 39 (C26): more than 8 hex digits: \"123456789\""},
        {20, "-1", "field 20 (C7): not a hex value: \"-1\""},
    };
    for (const auto& c : cases) {
        auto fields = valid_fields();
        fields[c.field] = c.value;
        std::istringstream in(line(valid_fields()) + line(valid_fields()) + line(fields));
        criteo_reader reader(in, "bad.tsv");
        batch b;
        CHECK_THROWS_WITH(reader.next(b, 10), ContainsSubstring("bad.tsv:3: " + c.expect));
    }
    auto short_fields = valid_fields();
    short_fields.pop_back();
    auto long_fields = valid_fields();
    long_fields.push_back("0");
    for (const auto& fields : {short_fields, long_fields}) {
        std::istringstream in(line(fields));
        criteo_reader reader(in, "count.tsv");
        batch b;
        CHECK_THROWS_WITH(reader.next(b, 10),
                          ContainsSubstring("count.tsv:1: field") &&
                              ContainsSubstring(std::to_string(fields.size()) +
                                                " tab-separated fields instead of 40"));
    }
    std::istringstream in("garbage\n");
    criteo_reader reader(in, "g.tsv");
    batch b;
    CHECK_THROWS_AS(reader.next(b, 1), std::runtime_error);
}

TEST_CASE("criteo_reader skips and counts malformed lines when asked") {
    auto bad_label = valid_fields();
    bad_label[0] = "x";
    auto bad_hex = valid_fields();
    bad_hex[30] = "0000000g";
    auto good = valid_fields();
    good[0] = "1";
    std::istringstream in(line(bad_label) + line(good) + line(bad_hex) + "1\t2\n" + line(good));
    criteo_options options;
    options.skip_malformed = true;
    options.buffer_bytes = 16;  // lines longer than the buffer make it grow
    criteo_reader reader(in, "skip.tsv", options);
    const drained d = drain(reader, 10);
    CHECK(d.label == std::vector<float>{1, 1});
    CHECK(reader.malformed_lines() == 3);
    CHECK(reader.lines_read() == 5);
    CHECK_THAT(reader.last_error(), ContainsSubstring("skip.tsv:4:"));
}

TEST_CASE("criteo_reader opens a path and says which one it cannot open") {
    CHECK_THROWS_WITH(criteo_reader("/nonexistent/dir/day_0.tsv"),
                      ContainsSubstring("cannot open \"/nonexistent/dir/day_0.tsv\""));
    const std::string path = "/tmp/embtab_test_examples_data.tsv";
    {
        std::ofstream out(path);
        out << line(valid_fields()) << line(valid_fields());
    }
    criteo_reader reader(path);
    CHECK(reader.name() == path);
    CHECK(drain(reader, 1).batches == 2);
    std::remove(path.c_str());
}

// --- generator ----------------------------------------------------------------------------------

TEST_CASE("synthetic_criteo: Criteo's cardinalities times scale, at least 2") {
    synthetic_options o;
    o.samples = 0;
    synthetic_criteo gen(o);  // scale 0.01
    const auto& c = gen.cardinalities();
    REQUIRE(c.size() == 26);
    CHECK(c[0] == 15);      // 1460
    CHECK(c[2] == 101312);  // 10131227
    CHECK(c[8] == 2);       // 3
    CHECK(c[16] == 2);      // 10
    CHECK(c[19] == 2);      // 4
    CHECK(c[20] == 70465);  // 7046547
    for (std::size_t f = 0; f < 26; ++f)
        CHECK(c[f] == std::max<std::uint64_t>(2, static_cast<std::uint64_t>(std::llround(
                                                     criteo_cardinalities[f] * 0.01))));
    batch b;
    CHECK_FALSE(gen.next(b, 10));  // samples = 0: empty stream
}

TEST_CASE("synthetic_criteo rejects bad options naming them") {
    auto expect = [](synthetic_options o, const std::string& text) {
        CHECK_THROWS_WITH(synthetic_criteo(o), ContainsSubstring(text));
    };
    synthetic_options o;
    o.scale = 0;
    expect(o, "scale = 0");
    o = {};
    o.zipf_exponent = -1;
    expect(o, "zipf_exponent = -1");
    o = {};
    o.drift_phases = 0;
    expect(o, "drift_phases = 0");
    o = {};
    o.drift_phases = 3;
    o.fixed_phase = 3;
    expect(o, "fixed_phase = 3 is not below drift_phases = 3");
    o = {};
    o.click_rate = 1;
    expect(o, "click_rate");
    o = {};
    o.latent_dim = 65;
    expect(o, "latent_dim = 65");
}

TEST_CASE("synthetic_criteo is deterministic by seed, whatever the batch size; reset replays") {
    synthetic_criteo a(small_options(3000)), b(small_options(3000));
    const drained da = drain(a, 1000), db = drain(b, 7);
    CHECK(da.batches == 3);
    CHECK(da.sparse == db.sparse);
    CHECK(da.dense == db.dense);
    CHECK(da.label == db.label);
    CHECK(da.probability == db.probability);
    a.reset();
    CHECK(drain(a, 512).sparse == da.sparse);

    synthetic_criteo other_seed(small_options(3000, 8));
    CHECK(drain(other_seed, 1000).sparse != da.sparse);

    // Another stream: other samples, the same hidden model and popularity.
    auto test_options = small_options(3000);
    test_options.stream = 1;
    synthetic_criteo test(test_options);
    CHECK(test.bias() == a.bias());
    CHECK(test.cardinalities() == a.cardinalities());
    CHECK(test.popular_id(3, 0, 0) == a.popular_id(3, 0, 0));
    const drained dt = drain(test, 1000);
    CHECK(dt.sparse != da.sparse);
}

TEST_CASE("synthetic_criteo: ids in range, click rate near 25.6%, optimum AUC 0.75–0.85") {
    synthetic_criteo gen(small_options(20000, 1));
    const drained d = drain(gen, 4096);
    REQUIRE(d.label.size() == 20000);
    std::size_t bad_ids = 0, bad_dense = 0, bad_labels = 0;
    for (std::size_t i = 0; i < d.sparse.size(); ++i)
        bad_ids += d.sparse[i] >= gen.cardinalities()[i % 26];
    for (float x : d.dense) bad_dense += !(x >= 0 && x < 12);
    for (std::size_t i = 0; i < d.label.size(); ++i)
        bad_labels += !((d.label[i] == 0 || d.label[i] == 1) &&
                        (d.probability[i] > 0 && d.probability[i] < 1));
    CHECK(bad_ids == 0);
    CHECK(bad_dense == 0);
    CHECK(bad_labels == 0);
    // Calibrated on 16384 draws: the stream's click rate is within ±0.015 of the target (the
    // label noise alone has a standard deviation of 0.003 here).
    CHECK(std::abs(mean(d.label) - 0.256) < 0.015);
    CHECK(std::abs(mean(d.probability) - 0.256) < 0.01);
    const double auc = roc_auc(d.probability, d.label);
    CHECK(auc > 0.75);
    CHECK(auc < 0.85);
    // The dense features are informative but not everything: some are missing (0) often.
    std::size_t zeros = 0;
    for (float x : d.dense) zeros += x == 0;
    CHECK(zeros > d.dense.size() / 20);
    CHECK(zeros < d.dense.size() / 2);
}

TEST_CASE("synthetic_criteo: Zipf popularity, unrelated to id order, a bijection of the ids") {
    synthetic_criteo gen(small_options(20000, 3));
    const drained d = drain(gen, 4096);
    const std::size_t field = 2;  // 10131 ids at scale 0.001
    const std::uint64_t n = gen.cardinalities()[field];
    REQUIRE(n == 10131);
    std::map<std::uint64_t, std::size_t> count;
    for (std::size_t i = 0; i < 20000; ++i) ++count[d.sparse[i * 26 + field]];
    for (std::uint64_t rank : {0, 1, 9}) {
        const double p = gen.rank_probability(field, rank);
        const double expected = 20000 * p, sd = std::sqrt(20000 * p * (1 - p));
        CHECK(std::abs(count[gen.popular_id(field, rank, 0)] - expected) < 5 * sd);
    }
    // p(rank 0) = 1 / Σ_{r ≤ n} r^−1.1 = 0.15132 for n = 10131.
    CHECK(gen.rank_probability(field, 0) == Approx(0.15132).epsilon(1e-4));
    CHECK(gen.rank_probability(field, 9) / gen.rank_probability(field, 0) ==
          Approx(std::pow(10.0, -1.1)));

    // Every rank has its own id: a permutation of 0..n−1.
    std::vector<bool> seen(n);
    std::vector<double> ids;
    std::size_t bad = 0;
    for (std::uint64_t r = 0; r < n; ++r) {
        const std::uint64_t id = gen.popular_id(field, r, 0);
        if (id >= n || seen[id]) {
            ++bad;
            continue;
        }
        seen[id] = true;
        if (r < 1000) ids.push_back(static_cast<double>(id));
    }
    REQUIRE(bad == 0);
    // Correlation of rank and id over the 1000 most popular ids: none (sd ≈ 0.03).
    double mr = 499.5, mi = 0;
    for (double x : ids) mi += x / 1000;
    double sri = 0, srr = 0, sii = 0;
    for (std::size_t r = 0; r < 1000; ++r) {
        sri += (r - mr) * (ids[r] - mi);
        srr += (r - mr) * (r - mr);
        sii += (ids[r] - mi) * (ids[r] - mi);
    }
    CHECK(std::abs(sri / std::sqrt(srr * sii)) < 0.15);
    CHECK_THROWS_AS(gen.popular_id(field, n, 0), std::out_of_range);
    CHECK_THROWS_AS(gen.popular_id(26, 0, 0), std::out_of_range);
}

TEST_CASE("synthetic_criteo: ranks beyond the tables follow the power law (rejection-inversion)") {
    synthetic_options o = small_options(20000, 5);
    o.scale = 0.02;         // field 2 has 202625 ids, 71553 of them beyond the tables
    o.zipf_exponent = 0.6;  // a heavy tail: about a fifth of the draws
    synthetic_criteo gen(o);
    const std::size_t field = 2;
    const std::uint64_t n = gen.cardinalities()[field];
    REQUIRE(n == 202625);
    std::vector<std::uint32_t> rank_of(n);
    for (std::uint64_t r = 0; r < n; ++r)
        rank_of[gen.popular_id(field, r, 0)] = static_cast<std::uint32_t>(r);
    const std::uint64_t edges[] = {0, 4096, synthetic_criteo::tabulated_ranks, 160000, n};
    std::vector<double> expected(4), seen(4);
    for (std::uint64_t r = 0; r < n; ++r)
        expected[std::upper_bound(edges, edges + 5, r) - edges - 1] +=
            gen.rank_probability(field, r);
    const drained d = drain(gen, 4096);
    for (std::size_t i = 0; i < 20000; ++i) {
        const std::uint64_t r = rank_of[d.sparse[i * 26 + field]];
        seen[std::upper_bound(edges, edges + 5, r) - edges - 1] += 1.0 / 20000;
    }
    for (std::size_t k = 0; k < 4; ++k) {
        const double sd = std::sqrt(expected[k] * (1 - expected[k]) / 20000);
        INFO("rank bin " << k << ": expected " << expected[k] << ", seen " << seen[k]);
        CHECK(std::abs(seen[k] - expected[k]) < 5 * sd);
    }
    CHECK(expected[2] + expected[3] > 0.15);
}

TEST_CASE("synthetic_criteo: drift changes the popular ids between phases, not the model") {
    synthetic_options o = small_options(8000, 11);
    o.drift_phases = 4;
    synthetic_criteo gen(o);
    CHECK(gen.phase_of(0) == 0);
    CHECK(gen.phase_of(1999) == 0);
    CHECK(gen.phase_of(2000) == 1);
    CHECK(gen.phase_of(7999) == 3);
    const drained d = drain(gen, 1000);
    const std::size_t field = 2;  // 10131 ids
    std::set<std::uint64_t> top_ids;
    for (std::size_t p = 0; p < 4; ++p) {
        top_ids.insert(gen.popular_id(field, 0, p));
        std::map<std::uint64_t, std::size_t> count;
        for (std::size_t i = p * 2000; i < (p + 1) * 2000; ++i) ++count[d.sparse[i * 26 + field]];
        const auto most = std::max_element(count.begin(), count.end(),
                                           [](auto& a, auto& b) { return a.second < b.second; });
        CHECK(most->first == gen.popular_id(field, 0, p));
        // Last phase's favourite is rare before.
        if (p == 3) {
            std::size_t earlier = 0;
            for (std::size_t i = 0; i < 6000; ++i)
                earlier += d.sparse[i * 26 + field] == most->first;
            CHECK(earlier < 20);
        }
    }
    CHECK(top_ids.size() == 4);
    CHECK(std::abs(mean(d.label) - 0.256) < 0.03);

    // A test stream of the final distribution: every sample from phase 3, same hidden model.
    synthetic_options t = o;
    t.stream = 1;
    t.samples = 2000;
    t.fixed_phase = 3;
    synthetic_criteo test(t);
    CHECK(test.bias() == gen.bias());
    CHECK(test.phase_of(0) == 3);
    const drained dt = drain(test, 1000);
    std::size_t top = 0;
    for (std::size_t i = 0; i < 2000; ++i)
        top += dt.sparse[i * 26 + field] == gen.popular_id(field, 0, 3);
    CHECK(top > 2000 * gen.rank_probability(field, 0) * 0.7);
    CHECK(roc_auc(dt.probability, dt.label) > 0.7);
}

TEST_CASE("synthetic_criteo → TSV → criteo_reader gives the same batches") {
    synthetic_options o = small_options(5000, 13);
    o.drift_phases = 2;
    synthetic_criteo writer(o);
    std::stringstream tsv;
    CHECK(writer.write_tsv(tsv, 1000) == 1000);
    CHECK(writer.write_tsv(tsv) == 4000);
    CHECK(writer.write_tsv(tsv) == 0);
    const std::string text = tsv.str();
    CHECK(std::count(text.begin(), text.end(), '\n') == 5000);
    CHECK(text.find("\t\t") != std::string::npos);  // missing integers are written empty

    synthetic_criteo gen(o);
    criteo_reader reader(tsv, "synthetic.tsv");
    const drained expected = drain(gen, 300), read = drain(reader, 10000);  // one growing batch
    CHECK(read.batches == 1);
    CHECK(read.label == expected.label);
    CHECK(read.sparse == expected.sparse);
    CHECK(read.dense == expected.dense);
    CHECK(read.probability.empty());
    CHECK(reader.lines_read() == 5000);

    std::ostringstream broken;
    broken.setstate(std::ios::badbit);
    writer.reset();
    CHECK_THROWS_WITH(writer.write_tsv(broken, 10), ContainsSubstring("stream failed"));
}

// --- AUC and log-loss ---------------------------------------------------------------------------

TEST_CASE("roc_auc on hand-computed cases, ties counting one half") {
    CHECK(roc_auc({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1}) == Approx(0.75));
    CHECK(roc_auc({0.5f, 0.5f, 0.5f, 0.5f}, {0, 1, 0, 1}) == Approx(0.5));
    // Positives 0.5 and 0.9, negatives 0.2 and 0.5: (1 + ½ + 1 + 1) / 4.
    CHECK(roc_auc({0.2f, 0.5f, 0.5f, 0.9f}, {0, 1, 0, 1}) == Approx(0.875));
    CHECK(roc_auc({3, 1, 2}, {1, 0, 0}) == Approx(1.0));
    CHECK(roc_auc({3, 1, 2}, {0, 1, 1}) == Approx(0.0));
    CHECK(std::isnan(roc_auc({1, 2}, {1, 1})));
    CHECK_THROWS_WITH(roc_auc({1, 2}, {1}), ContainsSubstring("2 scores but 1 labels"));
    CHECK_THROWS_AS(roc_auc(std::vector<float>{}, std::vector<float>{}), std::invalid_argument);
    CHECK_THROWS_WITH(roc_auc({1, std::nanf("")}, {1, 0}), ContainsSubstring("score 1 is NaN"));
}

TEST_CASE("roc_auc: perfect scores give 1, reversed 0, and it matches counting pairs") {
    std::mt19937 rng(3);
    std::vector<float> scores(300), labels(300);
    for (std::size_t i = 0; i < 300; ++i) {
        labels[i] = static_cast<float>(rng() % 3 == 0);
        scores[i] = static_cast<float>(rng() % 20) + labels[i] * 5;  // many ties
    }
    double pairs = 0, wins = 0;
    for (std::size_t i = 0; i < 300; ++i)
        for (std::size_t j = 0; j < 300; ++j)
            if (labels[i] == 1 && labels[j] == 0) {
                pairs += 1;
                wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
            }
    CHECK(roc_auc(scores, labels) == Approx(wins / pairs).epsilon(1e-12));
    CHECK(roc_auc(labels, labels) == 1.0);
    std::vector<float> negated(300);
    for (std::size_t i = 0; i < 300; ++i) negated[i] = -labels[i];
    CHECK(roc_auc(negated, labels) == 0.0);
}

TEST_CASE("log_loss and log_loss_from_logits") {
    CHECK(log_loss({0.5f, 0.5f}, {0, 1}) == Approx(std::log(2.0)));
    CHECK(log_loss({0.8f, 0.1f}, {1, 0}) == Approx(-(std::log(0.8) + std::log(0.9)) / 2));
    CHECK(log_loss({0.0f}, {1}) == Approx(-std::log(1e-7)));  // clamped, finite
    const std::vector<float> logits = {-2.0f, 0.0f, 3.0f, 0.5f};
    const std::vector<float> labels = {0, 1, 1, 0};
    std::vector<float> p;
    for (float z : logits) p.push_back(1 / (1 + std::exp(-z)));
    CHECK(log_loss_from_logits(logits, labels) == Approx(log_loss(p, labels)).epsilon(1e-6));
    CHECK(log_loss_from_logits({100.0f, -100.0f}, {0, 1}) == Approx(100.0));  // no overflow
    CHECK_THROWS_AS(log_loss({0.5f}, {1, 0}), std::invalid_argument);
}
