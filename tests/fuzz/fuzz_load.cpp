// libFuzzer target: checkpoint loading (embtab/io/checkpoint.hpp) must take any bytes.
//
// Each input is loaded into a fresh copy of each of a few small trained tables of different
// kinds (fuzz_tables.hpp). Allowed outcomes:
//  - `load_bytes` throws an `embtab::invalid_input` (`bad_checkpoint`, ...) and the table is
//    unchanged: its `save_bytes` equals that of the table before the load;
//  - the load succeeds, and the table then works: lookups (of ids the loaded CAFE sketch holds
//    too), a pooled lookup and an update run, and its own checkpoint loads back to itself.
// Anything else is a finding: a crash, a sanitizer report (built with ASan + UBSan), another
// exception (it escapes and terminates), or abort() from a broken rule above.
// Built with -DEMBTAB_FUZZING, under which a checksum mismatch does not stop the parser.
#include <embtab/embtab.hpp>
#include <embtab/io/checkpoint.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <vector>

#include "fuzz_tables.hpp"

namespace {

/// A table as built (and trained) once, and its checkpoint.
template <class Table>
struct pristine {
    Table table;
    std::vector<std::byte> bytes;
    explicit pristine(Table t) : table(std::move(t)), bytes(embtab::save_bytes(table)) {}
};

[[noreturn]] void finding(const char* kind, const char* what) {
    std::fprintf(stderr, "fuzz_load: %s: %s\n", kind, what);
    std::abort();
}

/// Ids to look up in a table that accepts ids below `id_limit`: [0, 32) (wrapped), plus, for
/// CAFE, every id its sketch holds (hot rows and scores come from the checkpoint).
template <class Table>
std::vector<std::uint64_t> ids_to_look_up(const Table& t, std::uint64_t id_limit) {
    std::vector<std::uint64_t> ids;
    for (std::uint64_t i = 0; i < 32; ++i) ids.push_back(i % id_limit);
    if constexpr (std::is_same_v<Table, fuzz_tables::cafe>)
        t.sketch().for_each([&](std::uint64_t id, float, std::int32_t) { ids.push_back(id); });
    return ids;
}

/// A loaded table must work: lookups, a pooled lookup, an update, and a save/load round trip.
template <class Table>
void exercise(Table& t, std::uint64_t id_limit, const char* kind) {
    const std::vector<std::uint64_t> ids = ids_to_look_up(t, id_limit);
    const std::size_t d = t.dim();
    std::vector<float> rows(ids.size() * d);
    t.lookup(ids, embtab::matrix_view<float>(rows.data(), ids.size(), d));
    const std::vector<std::uint64_t> offsets = {0, ids.size() / 2, ids.size()};
    std::vector<float> bags(2 * d);
    t.lookup_pooled(ids, offsets, embtab::matrix_view<float>(bags.data(), 2, d),
                    {embtab::pooling::mean});

    const std::vector<std::byte> saved = embtab::save_bytes(t);
    Table copy = t;
    try {
        embtab::load_bytes(copy, saved.data(), saved.size());
    } catch (const embtab::invalid_input&) {
        finding(kind, "a loaded table's own checkpoint does not load back");
    }
    if (embtab::save_bytes(copy) != saved)
        finding(kind, "a loaded table's own checkpoint loads back to another table");

    const std::vector<float> grads(ids.size() * d, 0.25f);
    const std::vector<std::byte> before = embtab::save_bytes(t);
    try {  // a loaded row near float max may make even this step overflow: refused, unchanged
        t.update(ids, embtab::matrix_view<const float>(grads.data(), ids.size(), d));
    } catch (const embtab::nonfinite_result&) {
        if (embtab::save_bytes(t) != before) finding(kind, "a refused update changed the table");
    }
    t.lookup(ids, embtab::matrix_view<float>(rows.data(), ids.size(), d));
}

template <class Table>
void try_load(const pristine<Table>& p, std::uint64_t id_limit, const std::uint8_t* data,
              std::size_t size, const char* kind) {
    Table t = p.table;
    try {
        embtab::load_bytes(t, data, size);
    } catch (const embtab::invalid_input&) {
        if (embtab::save_bytes(t) != p.bytes) finding(kind, "a failed load changed the table");
        return;
    }
    exercise(t, id_limit, kind);
}

/// The table the seed corpus's "trained" checkpoint of its kind holds (make_corpus.cpp).
template <class Table>
pristine<Table> trained(Table t, std::uint64_t id_bound) {
    fuzz_tables::train(t, id_bound, fuzz_tables::train_steps, fuzz_tables::train_seed);
    return pristine<Table>(std::move(t));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace fuzz_tables;
    static const auto full32 = trained(make_full_f32(), 16);
    static const auto full8 = trained(make_full_int8(), 16);
    static const auto hash = trained(make_hash_f16(), wide_ids);
    static const auto cafe_ = trained(make_cafe(), wide_ids);
    try_load(full32, 16, data, size, "full_table<f32, adagrad>");
    try_load(full8, 16, data, size, "full_table<int8_rowwise, rowwise_adagrad>");
    try_load(hash, wide_ids, data, size, "hash_table<f16, rowwise_adagrad>");
    try_load(cafe_, wide_ids, data, size, "cafe_table");
    return 0;
}
