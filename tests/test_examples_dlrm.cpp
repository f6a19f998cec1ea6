// The DLRM example: MLP and model gradients against finite differences (including the gradient
// w.r.t. the looked-up vectors that goes to `table.update`), the method factory's budgets, and a
// tiny training run that learns.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "../examples/dlrm/dlrm.hpp"
#include "../examples/dlrm/methods.hpp"
#include "../examples/dlrm/mlp.hpp"
#include "../examples/dlrm/trainer.hpp"
#include "catch.hpp"

namespace {

using embtab_dlrm::matrix;

matrix random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed, double scale = 1) {
    embtab_dlrm::init_rng rng(seed);
    matrix m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i)
        m.data()[i] = static_cast<float>(scale * (2 * rng.uniform() - 1));
    return m;
}

/// Central difference of `f` with respect to `x` (changed and restored).
template <class F>
double numeric_grad(float& x, F&& f, float eps = 1e-3f) {
    const float saved = x;
    x = saved + eps;
    const double up = f();
    x = saved - eps;
    const double down = f();
    x = saved;
    return (up - down) / (2.0 * static_cast<double>(eps));
}

void check_close(double analytic, double numeric, const std::string& what) {
    INFO(what << ": analytic " << analytic << ", numeric " << numeric);
    CHECK(std::abs(analytic - numeric) <= 2e-3 + 0.02 * std::abs(numeric));
}

}  // namespace

TEST_CASE("mlp: backward matches finite differences", "[examples][dlrm]") {
    embtab_dlrm::mlp net({3, 5, 4, 2}, false, 7);
    const matrix x = random_matrix(6, 3, 1);
    const matrix weights = random_matrix(6, 2, 2);  // loss = Σ out ⊙ weights
    const auto loss = [&] {
        return static_cast<double>(net.forward(x).cwiseProduct(weights).sum());
    };
    loss();
    matrix grad_x;
    net.backward(weights, &grad_x);
    const auto layers = net.layers();  // the gradients, before the checks move the weights
    REQUIRE(layers.size() == 3);
    CHECK_FALSE(layers.back().relu);
    CHECK(layers.front().relu);
    for (std::size_t l = 0; l < layers.size(); ++l) {
        for (Eigen::Index i = 0; i < layers[l].weight.size(); ++i)
            check_close(layers[l].weight_grad.data()[i],
                        numeric_grad(net.layers()[l].weight.data()[i], loss),
                        "layer " + std::to_string(l) + " weight " + std::to_string(i));
        for (Eigen::Index i = 0; i < layers[l].bias.size(); ++i)
            check_close(layers[l].bias_grad(i), numeric_grad(net.layers()[l].bias(i), loss),
                        "layer " + std::to_string(l) + " bias " + std::to_string(i));
    }
    matrix probe = x;
    const auto loss_at = [&] {
        return static_cast<double>(net.forward(probe).cwiseProduct(weights).sum());
    };
    for (Eigen::Index i = 0; i < probe.size(); ++i)
        check_close(grad_x.data()[i], numeric_grad(probe.data()[i], loss_at),
                    "input " + std::to_string(i));

    // sgd_step moves every weight by −lr · gradient
    const float w0 = net.layers()[1].weight(2, 3), g0 = layers[1].weight_grad(2, 3);
    net.sgd_step(0.5f);
    CHECK(net.layers()[1].weight(2, 3) == Approx(w0 - 0.5f * g0));
    CHECK_THROWS_AS(net.forward(random_matrix(2, 4, 3)), std::invalid_argument);
    CHECK_THROWS_AS(embtab_dlrm::mlp({3}, false, 1), std::invalid_argument);
}

TEST_CASE("dlrm: gradients w.r.t. MLPs and embeddings match finite differences",
          "[examples][dlrm]") {
    constexpr std::size_t fields = 4, dense = 3, n = 3, d = 3;
    embtab_dlrm::dlrm_options o;
    o.dim = d;
    o.bottom_hidden = {5};
    o.top_hidden = {6};
    o.seed = 11;
    embtab_dlrm::dlrm model(o, fields, dense);
    REQUIRE(model.interactions() == 10);
    REQUIRE(model.top().input_size() == d + 10);
    const matrix x = random_matrix(n, dense, 3, 2.0);
    const std::vector<float> labels = {1, 0, 1};
    model.embeddings() = random_matrix(n * fields, d, 4, 0.8);
    std::vector<float> logits(n);
    const auto loss = [&] {
        model.forward(x.data(), n, logits.data());
        return model.backward(labels.data());
    };
    const double l0 = loss();
    CHECK(std::isfinite(l0));
    const matrix emb_grad = model.embedding_grad();
    const auto bottom = model.bottom().layers();
    const auto top = model.top().layers();
    REQUIRE(emb_grad.rows() == static_cast<Eigen::Index>(n * fields));

    for (Eigen::Index i = 0; i < emb_grad.size(); ++i)
        check_close(emb_grad.data()[i], numeric_grad(model.embeddings().data()[i], loss),
                    "embedding value " + std::to_string(i));
    for (std::size_t l = 0; l < bottom.size(); ++l)
        for (Eigen::Index i = 0; i < bottom[l].weight.size(); ++i)
            check_close(bottom[l].weight_grad.data()[i],
                        numeric_grad(model.bottom().layers()[l].weight.data()[i], loss),
                        "bottom layer " + std::to_string(l) + " weight " + std::to_string(i));
    for (std::size_t l = 0; l < top.size(); ++l) {
        for (Eigen::Index i = 0; i < top[l].weight.size(); i += 3)
            check_close(top[l].weight_grad.data()[i],
                        numeric_grad(model.top().layers()[l].weight.data()[i], loss),
                        "top layer " + std::to_string(l) + " weight " + std::to_string(i));
        for (Eigen::Index i = 0; i < top[l].bias.size(); ++i)
            check_close(top[l].bias_grad(i), numeric_grad(model.top().layers()[l].bias(i), loss),
                        "top layer " + std::to_string(l) + " bias " + std::to_string(i));
    }
}

TEST_CASE("dlrm: train_step hands the embedding gradient to table.update",
          "[examples][dlrm]") {
    constexpr std::size_t fields = 2, dense = 2, n = 4, d = 4;
    embtab_dlrm::dlrm_options o;
    o.dim = d;
    o.bottom_hidden = {4};
    o.top_hidden = {4};
    embtab_dlrm::dlrm model(o, fields, dense);
    const float table_lr = 0.5f;
    embtab::any_table table(embtab::full_table<embtab::f32, embtab::sgd>(10, d, {table_lr}, 3),
                            "full");
    const std::vector<std::int64_t> ids = {1, 7, 3, 7, 1, 2, 9, 7};  // repeats are coalesced
    const matrix x = random_matrix(n, dense, 5);
    const std::vector<float> labels = {1, 0, 0, 1};

    embtab::row_matrix before(10, d);
    std::vector<std::int64_t> all(10);
    for (std::int64_t i = 0; i < 10; ++i) all[static_cast<std::size_t>(i)] = i;
    table.lookup(all, before);
    const double loss = model.train_step(table, x.data(), ids, labels.data(), n, 0.1f);
    CHECK(std::isfinite(loss));
    const matrix grad = model.embedding_grad();
    embtab::row_matrix after(10, d);
    table.lookup(all, after);

    std::map<std::int64_t, Eigen::RowVectorXf> summed;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        auto it = summed.try_emplace(ids[i], Eigen::RowVectorXf::Zero(d)).first;
        it->second += grad.row(static_cast<Eigen::Index>(i));
    }
    for (std::int64_t id = 0; id < 10; ++id) {
        Eigen::RowVectorXf expected = before.row(id);
        if (auto it = summed.find(id); it != summed.end()) expected -= table_lr * it->second;
        for (std::size_t k = 0; k < d; ++k)
            CHECK(after(id, static_cast<Eigen::Index>(k)) ==
                  Approx(expected(static_cast<Eigen::Index>(k))).margin(1e-6));
    }
    // a table of the wrong width is refused before anything happens
    embtab::any_table narrow(embtab::full_table<embtab::f32, embtab::sgd>(10, d + 1), "narrow");
    CHECK_THROWS_AS(model.train_step(narrow, x.data(), ids, labels.data(), n, 0.1f),
                    std::invalid_argument);
}

TEST_CASE("methods: every method fits its budget or says it cannot", "[examples][dlrm]") {
    embtab_dlrm::table_request req;
    req.field_sizes = embtab_dlrm::scaled_cardinalities(0.002);  // ~67.5k ids
    req.dim = 8;
    req.lr = 0.1f;
    const std::uint64_t n = req.ids();
    std::vector<std::uint32_t> counts(n);
    for (std::uint64_t i = 0; i < n; ++i) counts[i] = static_cast<std::uint32_t>(1000 / (1 + i % 997));
    int count_calls = 0;
    req.counts = [&]() -> const std::vector<std::uint32_t>& {
        ++count_calls;
        return counts;
    };
    req.sample_counts = [&]() -> const std::vector<std::uint32_t>& { return counts; };
    std::map<std::string, int> built;
    for (const embtab_dlrm::method_info& m : embtab_dlrm::all_methods()) {
        for (double ratio : {2.0, 10.0, 100.0, 1000.0}) {
            req.ratio = ratio;
            INFO(m.name << " at " << ratio << "x");
            try {
                const embtab::any_table t = embtab_dlrm::make_table(m.name, req);
                CHECK(t.dim() == req.dim);
                CHECK(t.name() == m.name);
                const double bytes = static_cast<double>(t.memory_bytes().total());
                if (m.fixed_ratio)
                    CHECK(req.full_bytes() / bytes ==
                          Approx(embtab_dlrm::storage_ratio(m.name, req.dim)).epsilon(0.01));
                else if (m.name == std::string("hash_perfield"))  // the paper's ceil: ≤ a row a field over
                    CHECK(t.memory_bytes().total() <=
                          req.budget() + req.field_sizes.size() * embtab::f32::row_bytes(req.dim));
                else
                    CHECK(t.memory_bytes().total() <= req.budget());
                ++built[m.name];
            } catch (const embtab::bad_parameter&) {
                CHECK_FALSE(m.fixed_ratio);  // only budgets can be out of reach
            }
        }
    }
    CHECK(built["full"] == 4);
    CHECK(built["hash"] == 4);
    CHECK(built["cafe"] == 4);
    CHECK(built["cafe_int8"] >= 3);
    CHECK(built["cafe_nodata"] == 4);
    CHECK(built["cafe_paper"] == 4);
    CHECK(built["cafe_multihash"] == 4);
    CHECK(built["cafe_lean"] == 4);
    CHECK(built["hash_perfield"] == 4);
    CHECK(built["qr"] >= 2);
    CHECK(built["mde"] >= 1);
    CHECK(built["mde"] < 4);  // 1000x leaves less than one value per id
    CHECK(count_calls == built["freqsplit"]);
    CHECK(embtab_dlrm::storage_ratio("int8", 16) == Approx(64.0 / 24.0));
    CHECK_THROWS_AS(embtab_dlrm::make_table("nope", req), std::invalid_argument);
    req.ratio = 0.5;
    CHECK_THROWS_AS(embtab_dlrm::make_table("hash", req), embtab::bad_parameter);

    const auto jobs = embtab_dlrm::make_jobs({"full", "hash", "int8"}, {10, 100}, 16);
    REQUIRE(jobs.size() == 4);  // full and int8 once, hash twice
    CHECK(jobs[0].method == "full");
    CHECK(jobs[3].method == "int8");
    CHECK(jobs[3].ratio == Approx(64.0 / 24.0));
}

TEST_CASE("trainer: a tiny run learns, and n/a cells are reported", "[examples][dlrm]") {
    const embtab_dlrm::data_setup data = embtab_dlrm::synthetic_setup(0.0005, 12000, 3000, 1, 3);
    REQUIRE(data.train.size == 12000);
    REQUIRE(data.test.size == 3000);
    REQUIRE(data.test.click_probability.size() == 3000);
    CHECK(data.optimum_auc > 0.7);
    embtab_dlrm::experiment ex;
    ex.train = &data.train;
    ex.test = &data.test;
    ex.field_sizes = data.field_sizes;
    ex.model.dim = 4;
    ex.model.bottom_hidden = {8};
    ex.model.top_hidden = {8};
    ex.training.batch = 64;
    const auto results =
        embtab_dlrm::run_grid(embtab_dlrm::make_jobs({"full", "qr"}, {100000}, 4), ex, 2, nullptr);
    REQUIRE(results.size() == 2);
    REQUIRE(results[0].ok());
    INFO("AUC " << results[0].auc << ", optimum " << data.optimum_auc);
    CHECK(results[0].auc > 0.6);
    CHECK(results[0].log_loss < 0.6);
    CHECK(results[0].memory.total() == results[0].memory.parameters);  // SGD: no state
    CHECK_FALSE(results[1].ok());  // QR cannot reach 100000x
    CHECK_FALSE(results[1].diverged());
    CHECK_THAT(embtab_dlrm::csv_row("s", results[1]), Catch::Matchers::ContainsSubstring("qr"));
}

TEST_CASE("hash_perfield: a table a field, ceil(n_f / ratio) rows, local id mod rows",
          "[examples][dlrm]") {
    const std::vector<std::uint64_t> sizes = {10, 3, 25};
    embtab_dlrm::field_hash_table t(sizes, 4.0, 2, embtab::sgd{1.0f}, 1);
    // rows: ceil(10/4) = 3, ceil(3/4) = 1, ceil(25/4) = 7
    REQUIRE(t.memory_bytes().total() == (3 + 1 + 7) * 2 * sizeof(float));
    const auto vec = [&](std::int64_t id) {
        std::vector<float> v(2);
        const std::vector<std::int64_t> ids = {id};
        t.lookup(ids, embtab::matrix_view<float>(v.data(), 1, 2));
        return v;
    };
    // field 0: ids 0..9, local % 3; field 1: ids 10..12 all one row; field 2: ids 13..37, % 7
    CHECK(vec(0) == vec(3));
    CHECK(vec(1) == vec(7));
    CHECK(vec(0) != vec(1));
    CHECK(vec(10) == vec(12));
    CHECK(vec(13) == vec(20));
    CHECK(vec(13) != vec(0));
    CHECK(vec(13) != vec(10));
    CHECK_THROWS_AS(vec(38), embtab::id_out_of_range);
}
