// EMBTAB_CHECK_ACCESS (defined for this whole program by tests/CMakeLists.txt): the threading rule
// of tables — lookups together, an update alone — is checked and broken uses throw.
#include <embtab/embtab.hpp>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "../catch.hpp"

#if !defined(EMBTAB_CHECK_ACCESS)
#error "this program checks EMBTAB_CHECK_ACCESS; build it with the macro defined"
#endif

using namespace embtab;
using detail::access_check;

TEST_CASE("access_check: lookups share, an update is alone", "[access]") {
    access_check c;
    {
        const access_check::reading a(c), b(c);  // lookups together: fine
        REQUIRE_THROWS_WITH(access_check::writing(c),
                            Catch::Matchers::ContainsSubstring("update ran while the same table was being looked up"));
    }
    {
        const access_check::writing w(c);
        REQUIRE_THROWS_WITH(access_check::reading(c),
                            Catch::Matchers::ContainsSubstring("lookup ran while the same table was being updated"));
        REQUIRE_THROWS_WITH(access_check::writing(c),
                            Catch::Matchers::ContainsSubstring("two updates of the same table ran at once"));
    }
    const access_check::writing again(c);  // every guard above was released
    const access_check copy = c;           // a copy is another table: idle
    const access_check::reading r(copy);
}

namespace {

/// A thread policy that, in the middle of a lookup, updates a table.
struct meddling {
    full_table<>* table;
    static constexpr std::size_t threads() noexcept { return 1; }
    template <class Task>
    void run(std::size_t parts, Task&& task) const {
        const std::vector<std::int64_t> ids = {1};
        const std::vector<float> g(table->dim(), 1.0f);
        table->update(ids, matrix_view<const float>(g.data(), 1, table->dim()));
        for (std::size_t p = 0; p < parts; ++p) task(p);
    }
};

}  // namespace

TEST_CASE("a table refuses an update during its own lookup, and only then", "[access]") {
    auto t = make_full_table(10, 4, sgd{0.1f}, 1);
    auto other = make_full_table(10, 4, sgd{0.1f}, 2);
    const std::vector<std::int64_t> ids = {1, 2};
    row_matrix out(2, 4);
    const auto before = save_bytes(t);
    REQUIRE_THROWS_AS(t.lookup(ids, out, meddling{&t}), std::logic_error);
    REQUIRE(save_bytes(t) == before);  // refused before it changed anything
    t.lookup(ids, out, meddling{&other});  // updating another table meanwhile is allowed
    REQUIRE(save_bytes(other) != save_bytes(make_full_table(10, 4, sgd{0.1f}, 2)));
    const std::vector<float> g(2 * 4, 1.0f);
    t.update(ids, matrix_view<const float>(g.data(), 2, 4));  // the table is usable afterwards
}

namespace {

/// A thread policy that calls `f` in the middle of a lookup.
template <class F>
struct in_the_middle {
    F f;
    static constexpr std::size_t threads() noexcept { return 1; }
    template <class Task>
    void run(std::size_t parts, Task&& task) const {
        f();
        for (std::size_t p = 0; p < parts; ++p) task(p);
    }
};
template <class F>
in_the_middle(F) -> in_the_middle<F>;

}  // namespace

TEST_CASE("changing a composite table's part in place takes part in the rule", "[access]") {
    auto qr = make_qr_table<f32>(40, 8, 4, qr_combine::product, sgd{0.1f}, 1);
    const std::vector<std::int64_t> ids = {1, 30};
    row_matrix out(2, 4);
    const auto zero_q = [&] {
        qr.modify_parts([](auto& q, auto&) { q.initialize([](std::size_t, float*) {}); });
    };
    const auto before = save_bytes(qr);
    REQUIRE_THROWS_AS(qr.lookup(ids, out, in_the_middle{zero_q}), std::logic_error);
    REQUIRE(save_bytes(qr) == before);
    zero_q();  // alone it is allowed
    REQUIRE(save_bytes(qr) != before);
}

TEST_CASE("loading a checkpoint into a table takes part in the rule", "[access]") {
    auto t = make_full_table(10, 4, sgd{0.1f}, 1);
    const auto other = save_bytes(make_full_table(10, 4, sgd{0.1f}, 2));
    const std::vector<std::int64_t> ids = {1, 2};
    row_matrix out(2, 4);
    const auto before = save_bytes(t);
    const auto load = [&] { load_bytes(t, other.data(), other.size()); };
    REQUIRE_THROWS_AS(t.lookup(ids, out, in_the_middle{load}), std::logic_error);
    REQUIRE(save_bytes(t) == before);
    load();  // alone it is allowed
    REQUIRE(save_bytes(t) == other);
}
