// id_permutation: a bijection of [0, n) for every n (checked exhaustively on small n), keyed,
// and what it does to a QR table: neighbours no longer share a quotient row, the table equals
// an unscrambled one whose ids were relabelled by the permutation.
#include <embtab/hash/permutation.hpp>
#include <embtab/plan/hash_plans.hpp>
#include <embtab/tables/qr_table.hpp>

#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "catch.hpp"
#include "reference.hpp"

using namespace embtab;

TEST_CASE("id_permutation is a bijection of [0, n)", "[permutation]") {
    for (std::uint64_t n : {1, 2, 3, 4, 5, 7, 16, 17, 100, 255, 256, 257, 1000, 4097}) {
        for (std::uint64_t key : {0, 1, 99}) {
            const id_permutation p(n, key);
            std::vector<bool> hit(n, false);
            for (std::uint64_t x = 0; x < n; ++x) {
                const std::uint64_t y = p(x);
                INFO("n " << n << " key " << key << " x " << x);
                REQUIRE(y < n);
                REQUIRE(!hit[y]);
                hit[y] = true;
            }
        }
    }
    REQUIRE(id_permutation()(12345) == 12345);  // the identity
    REQUIRE(id_permutation().identity());
    const id_permutation a(1000, 1), b(1000, 2);
    std::size_t same = 0;
    for (std::uint64_t x = 0; x < 1000; ++x) same += a(x) == b(x);
    REQUIRE(same < 20);  // another key, another permutation
}

TEST_CASE("a scrambled QR table relabels ids by the permutation", "[permutation][qr]") {
    const std::uint64_t n = 1000, c = 40;
    auto plain = make_qr_table<f32, sgd>(n, c, 4, qr_combine::product, sgd{0.1f}, 7);
    auto mixed = make_qr_table<f32, sgd>(n, c, 4, qr_combine::product, sgd{0.1f}, 7, f32{}, 0,
                                         true);
    const id_permutation& p = mixed.scramble();
    REQUIRE(!p.identity());
    std::vector<std::int64_t> ids, relabelled;
    for (std::int64_t id = 0; id < std::int64_t(n); id += 3) {
        ids.push_back(id);
        relabelled.push_back(std::int64_t(p(std::uint64_t(id))));
    }
    std::mt19937 gen(5);
    const auto grads = ref::random_floats(gen, ids.size() * 4);
    mixed.update(ids, matrix_view<const float>(grads.data(), ids.size(), 4));
    plain.update(relabelled, matrix_view<const float>(grads.data(), ids.size(), 4));
    row_matrix a(ids.size(), 4), b(ids.size(), 4);
    mixed.lookup(ids, a);
    plain.lookup(relabelled, b);
    REQUIRE(a == b);
    // the c neighbours 0..c-1 share one quotient row without the scramble, not with it
    std::set<std::uint64_t> quotients;
    for (std::uint64_t id = 0; id < c; ++id) quotients.insert(p(id) / c);
    REQUIRE(quotients.size() >= 10);  // of 25 quotient rows; unscrambled: all on row 0
    // plan_qr scrambles by default
    REQUIRE(!plan_qr(n, 4, 4096).make().scramble().identity());
}
