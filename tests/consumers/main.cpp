// The consumer app shared by every tests/consumers project (and the pkg-config check):
// embtab's umbrella header must be reachable, with its dependencies, through the consumer's
// usual way of getting embtab — and code using both dependencies (Eigen rows, XXH3 hashing)
// must compile, link and run.
#include <embtab/embtab.hpp>

#include <cstdint>
#include <vector>

int main() {
    auto table = embtab::make_hash_table(embtab::hash_table_options{64, 4}, embtab::sgd{0.1f});
    std::vector<std::int64_t> ids = {1, 123456789};
    embtab::row_matrix rows(2, table.dim());
    table.lookup(ids, rows);
    table.update(ids, rows);
    const bool hashes_differ = embtab::xxh3{}(1, 0) != embtab::xxh3{}(2, 0);
    return (embtab::version_major == 0 && hashes_differ && rows.allFinite()) ? 0 : 1;
}
