// Bag sums (detail/bag_sum.hpp): the register-accumulating pooled-lookup kernel against a
// double-precision sum of the decoded rows, on the baseline, AVX2 and AVX-512 paths.
#include <embtab/embtab.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"
#include "reference.hpp"

using namespace embtab;

namespace {

/// Selects a kernel path for the scope: 0 baseline, 1 AVX2, 2 AVX-512 (each where the CPU has
/// it; otherwise the widest it has below).
struct simd_path {
    explicit simd_path(int path) {
        detail::avx2_override = path >= 1 ? 1 : 0;
        detail::avx512_override = path >= 2 ? 1 : 0;
    }
    ~simd_path() {
        detail::avx2_override = -1;
        detail::avx512_override = -1;
    }
};

/// Row `r` decoded exactly, in double: value = scale · code + bias for int8.
template <class Storage>
std::vector<double> decoded(const std::byte* row, std::size_t dim) {
    std::vector<double> v(dim);
    if constexpr (detail::has_affine<Storage>::value) {
        for (std::size_t j = 0; j < dim; ++j)
            v[j] = double(Storage::scale(row, dim)) * Storage::code(row, j) + Storage::bias(row, dim);
    } else {
        std::vector<float> f(dim);
        Storage::decode(row, f.data(), dim);
        for (std::size_t j = 0; j < dim; ++j) v[j] = f[j];
    }
    return v;
}

}  // namespace

TEMPLATE_TEST_CASE("a bag sum equals the sum of its decoded rows on every path", "[bag_sum][simd]",
                   f32, f16, bf16, int8_rowwise) {
    const int path = GENERATE(0, 1, 2);
    const simd_path selected(path);
    std::mt19937 gen(7);
    std::uniform_real_distribution<float> u(-3, 3);
    detail::rng rounding(1);
    for (int rep = 0; rep < 200; ++rep) {
        const std::size_t dim = 1 + gen() % 200, n = gen() % 70;
        const bool add = gen() % 2;
        const std::size_t bytes = TestType::row_bytes(dim);
        std::vector<std::byte> table(bytes * (n + 1));
        std::vector<const std::byte*> rows(n);
        std::vector<float> w(n), values(dim);
        for (std::size_t r = 0; r < n; ++r) {
            for (auto& x : values) x = u(gen);
            TestType{}.encode(values.data(), table.data() + r * bytes, dim, rounding);
            rows[r] = table.data() + r * bytes;
            w[r] = u(gen);
        }
        std::vector<float> out(dim);
        for (auto& x : out) x = u(gen);
        std::vector<double> expect(dim), magnitude(dim);
        for (std::size_t j = 0; j < dim; ++j) {
            expect[j] = add ? out[j] : 0.0;
            magnitude[j] = std::fabs(expect[j]);
        }
        for (std::size_t r = 0; r < n; ++r) {
            const auto v = decoded<TestType>(rows[r], dim);
            for (std::size_t j = 0; j < dim; ++j) {
                expect[j] += double(w[r]) * v[j];
                magnitude[j] += std::fabs(double(w[r]) * v[j]);
            }
        }
        detail::sum_rows<TestType>(rows.data(), w.data(), n, out.data(), dim, add);
        INFO("path " << path << ", dim " << dim << ", rows " << n << ", add " << add);
        for (std::size_t j = 0; j < dim; ++j)
            REQUIRE(std::fabs(out[j] - expect[j]) <= 1e-5 * magnitude[j] + 1e-6);
    }
}

TEMPLATE_TEST_CASE("pooled lookups of bags longer than a register group equal the definition",
                   "[bag_sum][pooled]", f32, int8_rowwise) {
    const int path = GENERATE(0, 1, 2);
    const simd_path selected(path);
    const std::size_t rows = 300, dim = GENERATE(std::size_t(5), std::size_t(40), std::size_t(136));
    full_table<TestType, sgd> full(rows, dim, sgd{0.1f}, 4);
    hash_table<TestType, sgd> hashed(hash_table_options{rows / 3, dim, 2, hash_combine::mean, false, 5},
                                     sgd{0.1f});
    std::mt19937 gen(8);
    // bags of 0, 1, 64, 65, 150 and 7 ids: group boundaries inside and at the end of a bag
    const std::vector<std::int64_t> offsets = {0, 0, 1, 65, 130, 280, 287};
    std::vector<std::int64_t> ids(287);
    for (auto& id : ids) id = std::int64_t(gen() % rows);
    std::vector<float> weights(ids.size());
    for (auto& x : weights) x = std::uniform_real_distribution<float>(-1, 1)(gen);
    const auto check = [&](const auto& t) {
        std::vector<float> each(ids.size() * dim);
        t.lookup(ids, matrix_view<float>(each.data(), ids.size(), dim));
        row_matrix out(offsets.size() - 1, dim);
        out.setConstant(7.0f);
        t.lookup_pooled(ids, offsets, out, {pooling::mean, span<const float>(weights)});
        for (std::size_t b = 0; b + 1 < offsets.size(); ++b) {
            const auto begin = std::size_t(offsets[b]), end = std::size_t(offsets[b + 1]);
            for (std::size_t j = 0; j < dim; ++j) {
                double sum = 0, magnitude = 0;
                for (std::size_t i = begin; i < end; ++i) {
                    sum += double(weights[i]) * each[i * dim + j] / double(end - begin);
                    magnitude += std::fabs(double(weights[i]) * each[i * dim + j]) / double(end - begin);
                }
                INFO("path " << path << ", dim " << dim << ", bag " << b << ", column " << j);
                REQUIRE(std::fabs(out(b, j) - sum) <= 1e-5 * magnitude + 1e-6);
            }
        }
    };
    check(full);
    check(hashed);
}
