// Writes the seed corpus of embtab_fuzz_load: checkpoints (save_bytes) of the fuzzer's tables
// (fuzz_tables.hpp), fresh and trained, and an update script for each kind (the format is in
// fuzz_load.cpp), one file each, all under 4 KiB.
//   embtab_fuzz_make_corpus <dir>     (scripts/fuzz.sh --corpus regenerates tests/fuzz/corpus)
// The files are checked in; regenerate them when the checkpoint format changes.
#include <embtab/embtab.hpp>
#include <embtab/io/checkpoint.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_tables.hpp"

namespace {

constexpr std::size_t max_bytes = 4096;

bool write(const std::string& dir, const std::string& name, const std::vector<std::byte>& bytes) {
    if (bytes.size() >= max_bytes) {
        std::fprintf(stderr, "make_corpus: %s is %zu bytes; seeds must stay under %zu\n",
                     name.c_str(), bytes.size(), max_bytes);
        return false;
    }
    const std::string path = dir + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        std::fprintf(stderr, "make_corpus: cannot write %s\n", path.c_str());
        return false;
    }
    std::printf("%s: %zu bytes\n", path.c_str(), bytes.size());
    return true;
}

/// `<name>-fresh.ckpt` (as built) and `<name>-trained.ckpt` (as the fuzzer's table).
template <class Table>
bool write_both(const std::string& dir, const std::string& name, Table t, std::uint64_t ids) {
    bool ok = write(dir, name + "-fresh.ckpt", embtab::save_bytes(t));
    fuzz_tables::train(t, ids, fuzz_tables::train_steps, fuzz_tables::train_seed);
    ok = write(dir, name + "-trained.ckpt", embtab::save_bytes(t)) && ok;
    return ok;
}

/// `<name>.script`: an update script (format in fuzz_load.cpp) for kind number `index`, of
/// dimension `dim`.
bool write_script(const std::string& dir, const std::string& name, std::size_t index,
                  std::size_t dim) {
    std::vector<std::byte> s;
    const auto put = [&](unsigned b) { s.push_back(static_cast<std::byte>(b)); };
    const auto floats = [&](std::size_t n, unsigned b) {  // alternating signs below 250
        for (std::size_t i = 0; i < n; ++i) put(b < 250 ? b + (i & 1) : b);
    };
    put(static_cast<unsigned>(index));
    put(0), put(8);  // update of 8 ids, gradients ±2^-10
    for (unsigned id : {0, 1, 2, 3, 1, 0, 5, 9}) put(id);
    floats(8 * dim, 120);
    put(1 | 8 | 16), put(6);  // update_pooled, mean, weighted: 6 ids in 3 bags of 2
    for (unsigned id : {4, 0, 7, 2, 2, 6}) put(id);
    put(2), put(2), put(2), put(2);
    floats(3 * dim, 240), floats(6, 128);  // bag gradients ±2^110, weights ±0.25
    put(2), put(4);  // lookup_pooled of 4 ids in bags of 3 and 1
    for (unsigned id : {0, 1, 2, 3}) put(id);
    put(1), put(3), put(1), floats(2 * dim, 128);
    put(4), put(2), put(1), put(2);  // update under skip_row: a NaN row and a finite one
    floats(dim, 255), floats(dim, 128);
    put(0), put(4);  // update of id 3 four times with float max: the coalesced sum overflows
    for (int i = 0; i < 4; ++i) put(3);
    floats(4 * dim, 251);
    return write(dir, name + ".script", s);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <output-dir>\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    auto kinds = fuzz_tables::all_kinds();
    bool ok = true;
    std::size_t index = 0;
    fuzz_tables::for_each_kind(kinds, [&](auto& k) {
        ok = write_both(dir, k.name, k.table, k.id_bound) && ok;
        ok = write_script(dir, k.name, index++, k.table.dim()) && ok;
    });
    return ok ? 0 : 1;
}
