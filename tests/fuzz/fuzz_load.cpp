// libFuzzer target: checkpoint loading and the update path of every table kind must take any
// bytes and any floats (fuzz_tables.hpp lists the kinds: full, hash, separate-table int4 hash,
// QR, frequency split, mixed-dim, CAFE with a medium tier and CAFE with int8 hot rows).
//
// An input that starts with the checkpoint magic "EMBTABCK" is loaded into a copy of each kind's
// trained table. Any other input is an update script (below) run on the trained table of the
// kind its first byte picks. Allowed outcomes of every call:
//  - it throws an `embtab::invalid_input` (`bad_checkpoint`, `id_out_of_range`,
//    `nonfinite_gradient`, ...) and the table is unchanged: its `save_bytes` equals that of the
//    table before the call;
//  - it succeeds, and the table is still sound: its own checkpoint, which `load` refuses when a
//    row or an optimizer state is not finite, loads back to the same table. A loaded table must
//    also serve lookups, a pooled lookup and an update.
// Anything else is a finding: a crash, a sanitizer report (built with ASan + UBSan), another
// exception (it escapes and terminates), or abort() from a broken rule above. Lookups are not
// required to be finite: a sum of finite rows may exceed float max (the README says so).
// Built with -DEMBTAB_FUZZING, under which a checksum mismatch does not stop the parser.
//
// Update script: byte 0 picks the kind; then operations until the input ends, each
//   op byte:   bits 0-1 what (0 update, 1 update_pooled, 2 lookup_pooled, 3 lookup),
//              bit 2 non-finite policy skip_row (else throw_error), bit 3 mean pooling,
//              bit 4 per-id weights, bit 5 offsets taken raw (else from bag lengths)
//   count:     n = byte % 9 ids, each one byte: id = byte % (id_bound + 2), 255 = id -1
//   offsets:   (pooled) bags = byte % 4 + 1, then one byte each (a bag length % 4, or raw)
//   floats:    gradients (n or bags rows of dim), then weights: one byte each (float_of)
#include <embtab/embtab.hpp>
#include <embtab/io/checkpoint.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "fuzz_tables.hpp"

namespace {

[[noreturn]] void finding(const char* kind, const char* what) {
    std::fprintf(stderr, "fuzz_load: %s: %s\n", kind, what);
    std::abort();
}

template <class T>
struct is_cafe : std::false_type {};
template <class H, class S, class X>
struct is_cafe<embtab::cafe_table<H, S, X>> : std::true_type {};

/// Ids to look up in a table that accepts ids below `id_bound`: [0, 32) (wrapped), plus, for
/// CAFE, every id its sketch holds (hot rows and scores come from the checkpoint).
template <class Table>
std::vector<std::uint64_t> ids_to_look_up(const Table& t, std::uint64_t id_bound) {
    std::vector<std::uint64_t> ids;
    for (std::uint64_t i = 0; i < 32; ++i) ids.push_back(i % id_bound);
    if constexpr (is_cafe<Table>::value)
        t.sketch().for_each([&](std::uint64_t id, float, std::int32_t) { ids.push_back(id); });
    return ids;
}

/// The table must still be sound: its own checkpoint loads back to itself.
template <class Table>
void check_sound(const Table& t, const char* kind) {
    const std::vector<std::byte> saved = embtab::save_bytes(t);
    Table copy = t;
    try {
        embtab::load_bytes(copy, saved.data(), saved.size());
    } catch (const embtab::invalid_input& e) {
        std::fprintf(stderr, "fuzz_load: %s\n", e.what());
        finding(kind, "the table's own checkpoint does not load back (a non-finite value?)");
    }
    if (embtab::save_bytes(copy) != saved)
        finding(kind, "the table's own checkpoint loads back to another table");
}

/// Runs `call` on `t`: either it throws `invalid_input` and `t` is unchanged (returns false), or
/// `t` stays sound (checked when `changes`; returns true).
template <class Table, class Call>
bool checked_call(Table& t, const char* kind, bool changes, Call&& call) {
    const std::vector<std::byte> before = embtab::save_bytes(t);
    try {
        call();
    } catch (const embtab::invalid_input&) {
        if (embtab::save_bytes(t) != before) finding(kind, "a refused call changed the table");
        return false;
    }
    if (changes) check_sound(t, kind);
    return true;
}

/// A loaded table must work: lookups, a pooled lookup, an update, and a save/load round trip.
template <class Table>
void exercise(Table& t, std::uint64_t id_bound, const char* kind) {
    const std::vector<std::uint64_t> ids = ids_to_look_up(t, id_bound);
    const std::size_t d = t.dim();
    std::vector<float> rows(ids.size() * d);
    t.lookup(ids, embtab::matrix_view<float>(rows.data(), ids.size(), d));
    const std::vector<std::uint64_t> offsets = {0, ids.size() / 2, ids.size()};
    std::vector<float> bags(2 * d);
    t.lookup_pooled(ids, offsets, embtab::matrix_view<float>(bags.data(), 2, d),
                    {embtab::pooling::mean});
    check_sound(t, kind);
    const std::vector<float> grads(ids.size() * d, 0.25f);
    // A loaded row near float max may make even this step overflow: then refused, unchanged.
    checked_call(t, kind, true, [&] {
        t.update(ids, embtab::matrix_view<const float>(grads.data(), ids.size(), d));
    });
    t.lookup(ids, embtab::matrix_view<float>(rows.data(), ids.size(), d));
}

/// Loads `data` into a copy of `trained`: refused and unchanged, or a working table.
template <class Table>
void load_into(const Table& trained, std::uint64_t id_bound, const std::uint8_t* data,
               std::size_t size, const char* kind) {
    Table t = trained;
    if (checked_call(t, kind, false, [&] { embtab::load_bytes(t, data, size); }))
        exercise(t, id_bound, kind);
}

/// The bytes of an update script, read front to back; zeros once they run out.
struct script {
    const std::uint8_t* data;
    std::size_t size;
    std::size_t at = 0;

    bool done() const { return at >= size; }
    std::uint8_t byte() { return at < size ? data[at++] : 0; }

    /// A float from one byte: NaN, ±inf, a raw 4-byte bit pattern (any float, denormals and
    /// NaN payloads included), or ±(1 + m/4)·2^e with e from -130 to 118 and near float max.
    float float_of() {
        const std::uint8_t b = byte();
        switch (b) {
            case 255: return std::numeric_limits<float>::quiet_NaN();
            case 254: return std::numeric_limits<float>::infinity();
            case 253: return -std::numeric_limits<float>::infinity();
            case 252: {
                std::uint32_t bits = 0;
                for (int i = 0; i < 4; ++i) bits = bits << 8 | byte();
                float f;
                std::memcpy(&f, &bits, sizeof f);
                return f;
            }
            case 251: return std::numeric_limits<float>::max();
            case 250: return -std::numeric_limits<float>::max();
            default: break;
        }
        const float m = 1.0f + static_cast<float>((b >> 1) & 3) / 4.0f;
        const float v = std::ldexp(m, static_cast<int>(b >> 3) * 8 - 130);
        return (b & 1) ? -v : v;
    }
    std::vector<float> floats(std::size_t n) {
        std::vector<float> v(n);
        for (auto& x : v) x = float_of();
        return v;
    }
};

/// Runs the update script `s` on `t` (ids below `id_bound` are valid; the script also draws
/// two beyond it, and -1), checking every call.
template <class Table>
void run_script(Table& t, std::uint64_t id_bound, script& s, const char* kind) {
    const std::size_t d = t.dim();
    while (!s.done()) {
        const std::uint8_t op = s.byte();
        t.set_nonfinite_policy((op & 4) ? embtab::nonfinite_policy::skip_row
                                        : embtab::nonfinite_policy::throw_error);
        std::vector<std::int64_t> ids(s.byte() % 9);
        for (auto& id : ids) {
            const std::uint8_t b = s.byte();
            id = b == 255 ? -1 : static_cast<std::int64_t>(b % (id_bound + 2));
        }
        const bool pooled = (op & 3) == 1 || (op & 3) == 2;
        std::vector<std::int64_t> offsets;
        if (pooled) {
            offsets.assign(s.byte() % 4 + 2, 0);
            for (std::size_t i = 1; i < offsets.size(); ++i) {
                const std::uint8_t b = s.byte();
                offsets[i] = (op & 32) ? static_cast<std::int64_t>(b) - 2
                                       : offsets[i - 1] + b % 4;
            }
            if (!(op & 32)) offsets.back() = static_cast<std::int64_t>(ids.size());
        }
        const std::size_t rows = pooled ? offsets.size() - 1 : ids.size();
        const std::vector<float> grads = s.floats(rows * d);
        const std::vector<float> weights = (op & 16) ? s.floats(ids.size()) : std::vector<float>{};
        embtab::pool_options opts;
        opts.mode = (op & 8) ? embtab::pooling::mean : embtab::pooling::sum;
        opts.weights = embtab::span<const float>(weights.data(), weights.size());
        std::vector<float> out(rows * d);
        const embtab::matrix_view<const float> g(grads.data(), rows, d);
        const embtab::matrix_view<float> o(out.data(), rows, d);
        switch (op & 3) {
            case 0: checked_call(t, kind, true, [&] { t.update(ids, g); }); break;
            case 1: checked_call(t, kind, true, [&] { t.update_pooled(ids, offsets, g, opts); }); break;
            case 2: checked_call(t, kind, false, [&] { t.lookup_pooled(ids, offsets, o, opts); }); break;
            default: checked_call(t, kind, false, [&] { t.lookup(ids, o); }); break;
        }
    }
}

/// Every kind's table, trained once as the corpus's "trained" seed of that kind is.
auto& trained_kinds() {
    static auto kinds = [] {
        auto k = fuzz_tables::all_kinds();
        fuzz_tables::for_each_kind(k, [](auto& one) {
            fuzz_tables::train(one.table, one.id_bound, fuzz_tables::train_steps,
                               fuzz_tables::train_seed);
        });
        return k;
    }();
    return kinds;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto& kinds = trained_kinds();
    const auto& magic = embtab::io::checkpoint_magic;
    if (size >= sizeof magic && std::memcmp(data, magic, sizeof magic) == 0) {
        fuzz_tables::for_each_kind(kinds, [&](const auto& k) {
            load_into(k.table, k.id_bound, data, size, k.name);
        });
        return 0;
    }
    if (size == 0) return 0;
    const std::size_t pick = data[0] % std::tuple_size_v<std::decay_t<decltype(kinds)>>;
    std::size_t index = 0;
    fuzz_tables::for_each_kind(kinds, [&](const auto& k) {
        if (index++ != pick) return;
        auto t = k.table;
        script s{data, size, 1};
        run_script(t, k.id_bound, s, k.name);
    });
    return 0;
}
