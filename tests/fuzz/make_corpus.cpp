// Writes the seed corpus of embtab_fuzz_load: checkpoints (save_bytes) of the fuzzer's tables
// (fuzz_tables.hpp), fresh and trained, one file each, all well under 4 KiB.
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

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <output-dir>\n", argv[0]);
        return 2;
    }
    using namespace fuzz_tables;
    const std::string dir = argv[1];
    bool ok = write_both(dir, "full_f32_adagrad", make_full_f32(), 16);
    ok = write_both(dir, "full_int8_rowwise", make_full_int8(), 16) && ok;
    ok = write_both(dir, "hash_f16", make_hash_f16(), wide_ids) && ok;
    ok = write_both(dir, "cafe", make_cafe(), wide_ids) && ok;
    return ok ? 0 : 1;
}
