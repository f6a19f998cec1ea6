// Optimizer policies against steps computed by hand (values in the comments).
#include <embtab/embtab.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "catch.hpp"

using namespace embtab;

namespace {
template <class Opt>
std::vector<float> steps(const Opt& opt, std::vector<float> w,
                         const std::vector<std::vector<float>>& grads) {
    std::vector<float> state(Opt::state_size(w.size()));
    opt.init_state(state.data(), w.size());
    for (const auto& g : grads) opt.step(w.data(), g.data(), state.data(), w.size());
    return w;
}
}  // namespace

TEST_CASE("sgd: w − lr·g", "[optim]") {
    const auto w = steps(sgd{0.1f}, {1, -2}, {{0.5f, 1}});
    REQUIRE(w[0] == Approx(0.95f));  // 1 − 0.1·0.5
    REQUIRE(w[1] == Approx(-2.1f));  // −2 − 0.1·1
}

TEST_CASE("adagrad: per-element accumulators", "[optim]") {
    // h = 4, w = 1 − 0.1·2/2 = 0.9; then h = 8, w = 0.9 − 0.1·2/√8 = 0.8292893
    const auto w = steps(adagrad{0.1f}, {1}, {{2}, {2}});
    REQUIRE(w[0] == Approx(0.8292893f).epsilon(1e-6));
    // initial accumulator 1: h = 1 + 9 = 10, w = 0 − 0.1·3/√10 = −0.0948683
    adagrad a{0.1f};
    a.initial_accumulator = 1;
    REQUIRE(steps(a, {0}, {{3}})[0] == Approx(-0.0948683f).epsilon(1e-6));
}

TEST_CASE("rowwise_adagrad: one accumulator per row, fed the mean square", "[optim]") {
    // h = (9 + 16)/2 = 12.5, rate = 0.1/√12.5: w = (1 − 3·rate, 1 − 4·rate)
    const auto w = steps(rowwise_adagrad{0.1f}, {1, 1}, {{3, 4}});
    REQUIRE(w[0] == Approx(0.9151472f).epsilon(1e-6));
    REQUIRE(w[1] == Approx(0.8868629f).epsilon(1e-6));
    REQUIRE(rowwise_adagrad::state_size(64) == 1);
}

TEST_CASE("adam: bias-corrected moments", "[optim]") {
    // step 1: m̂ = g, v̂ = g², so w moves by lr·sign(g): 1 → 1.1 for g = −3.
    // step 2 (g = 1): m = −0.17, v = 0.009991, m̂ = −0.17/0.19, v̂ = 0.009991/0.001999,
    //   w = 1.1 − 0.1·m̂/(√v̂ + 1e-8) = 1.1400219
    const auto w1 = steps(adam{0.1f}, {1}, {{-3}});
    REQUIRE(w1[0] == Approx(1.1f).epsilon(1e-6));
    const auto w2 = steps(adam{0.1f}, {1}, {{-3}, {1}});
    REQUIRE(w2[0] == Approx(1.1400219f).epsilon(1e-5));
}

TEST_CASE("adam is lazy: each row counts its own steps", "[optim][full_table]") {
    auto t = make_full_table(2, 1, adam{0.1f});
    t.initialize([](std::size_t, float* v) { v[0] = 0; });
    std::vector<std::int64_t> row0 = {0}, row1 = {1};
    std::vector<float> g = {1};
    for (int i = 0; i < 3; ++i) t.update(row0, matrix_view<const float>(g.data(), 1, 1));
    t.update(row1, matrix_view<const float>(g.data(), 1, 1));
    float w[2];
    std::vector<std::int64_t> both = {0, 1};
    t.lookup(both, matrix_view<float>(w, 2, 1));
    // row 1 took its first step (t = 1): exactly −lr, untouched by row 0's three steps
    REQUIRE(w[1] == Approx(-0.1f).epsilon(1e-6));
    // row 0: three steps with a constant gradient each move by lr: −0.3
    REQUIRE(w[0] == Approx(-0.3f).epsilon(1e-5));
}

namespace {

/// The optimizers' definitions written as plain scalar loops (the formulas above).
void sgd_scalar(const sgd& o, float* w, const float* g, float*, std::size_t d) {
    for (std::size_t j = 0; j < d; ++j) w[j] -= o.lr * g[j];
}
void adagrad_scalar(const adagrad& o, float* w, const float* g, float* h, std::size_t d) {
    for (std::size_t j = 0; j < d; ++j) {
        h[j] += g[j] * g[j];
        w[j] -= o.lr * g[j] / (std::sqrt(h[j]) + o.eps);
    }
}
void adam_scalar(const adam& o, float* w, const float* g, float* s, std::size_t d) {
    float* m = s;
    float* v = s + d;
    const float t = s[2 * d] += 1;
    const float bc2_root = std::sqrt(1 - std::pow(o.beta2, t));
    const float step_size = o.lr / (1 - std::pow(o.beta1, t));
    for (std::size_t j = 0; j < d; ++j) {
        m[j] = o.beta1 * m[j] + (1 - o.beta1) * g[j];
        v[j] = o.beta2 * v[j] + (1 - o.beta2) * g[j] * g[j];
        w[j] -= step_size * m[j] / (std::sqrt(v[j]) / bc2_root + o.eps);
    }
}
void rowwise_scalar(const rowwise_adagrad& o, float* w, const float* g, float* h, std::size_t d) {
    double sq = 0;
    for (std::size_t j = 0; j < d; ++j) sq += double(g[j]) * g[j];
    *h += static_cast<float>(sq / double(d));
    const float rate = o.lr / (std::sqrt(*h) + o.eps);
    for (std::size_t j = 0; j < d; ++j) w[j] -= rate * g[j];
}

/// Five steps of `opt` and of `scalar` from the same row and gradients, on the baseline and the
/// AVX2 path; lane-wise optimizers must agree bitwise (`exact`), row-wise Adagrad (whose sum of
/// squares is added in another order) within float rounding.
template <class Opt, class Scalar>
void same_as_scalar(const Opt& opt, Scalar scalar, bool exact) {
    std::mt19937 gen(5);
    std::uniform_real_distribution<float> u(-1, 1);
    for (const std::size_t d : {1, 3, 8, 13, 16, 64, 100, 128}) {
        for (const int path : {0, 1}) {
            detail::avx2_override = path;
            std::vector<float> w(d), g(d), s(Opt::state_size(d));
            for (auto& x : w) x = u(gen);
            opt.init_state(s.data(), d);
            auto w_ref = w, s_ref = s;
            for (int step = 0; step < 5; ++step) {
                for (auto& x : g) x = u(gen);
                opt.step(w.data(), g.data(), s.data(), d);
                scalar(opt, w_ref.data(), g.data(), s_ref.data(), d);
            }
            for (std::size_t j = 0; j < d; ++j) {
                if (exact)
                    REQUIRE(w[j] == w_ref[j]);
                else
                    REQUIRE(w[j] == Approx(w_ref[j]).epsilon(1e-5));
            }
            for (std::size_t j = 0; j < s.size(); ++j) {
                if (exact)
                    REQUIRE(s[j] == s_ref[j]);
                else
                    REQUIRE(s[j] == Approx(s_ref[j]).epsilon(1e-5));
            }
        }
    }
    detail::avx2_override = -1;
}

}  // namespace

TEST_CASE("vectorised steps equal the scalar definitions at every width", "[optim]") {
    // the AVX2 path is only taken where the CPU has it; elsewhere both runs are the baseline
    same_as_scalar(sgd{0.1f}, sgd_scalar, true);
    same_as_scalar(adagrad{0.1f}, adagrad_scalar, true);
    same_as_scalar(adam{0.01f}, adam_scalar, true);
    same_as_scalar(rowwise_adagrad{0.1f}, rowwise_scalar, false);
}
