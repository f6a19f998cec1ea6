#pragma once
// Id streams for benchmarks: uniform, or Zipf-distributed with popularity shuffled over the id
// range (popular ids are not neighbours, as with real hashed features).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

namespace bench {

/// `count` ids in [0, rows): uniform when `zipf_s` is 0, else P(rank k) ∝ k^−s with ranks
/// mapped to ids by a random permutation.
inline std::vector<std::int64_t> make_ids(std::size_t rows, std::size_t count, double zipf_s,
                                          std::uint64_t seed = 1) {
    std::mt19937_64 gen(seed);
    std::vector<std::int64_t> ids(count);
    if (zipf_s == 0) {
        std::uniform_int_distribution<std::int64_t> d(0, static_cast<std::int64_t>(rows) - 1);
        for (auto& id : ids) id = d(gen);
        return ids;
    }
    std::vector<double> cdf(rows);
    double total = 0;
    for (std::size_t k = 0; k < rows; ++k) cdf[k] = total += std::pow(double(k + 1), -zipf_s);
    std::vector<std::int64_t> perm(rows);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), gen);
    std::uniform_real_distribution<double> u(0, total);
    for (auto& id : ids) {
        const auto rank = std::lower_bound(cdf.begin(), cdf.end(), u(gen)) - cdf.begin();
        id = perm[static_cast<std::size_t>(std::min<std::ptrdiff_t>(rank, rows - 1))];
    }
    return ids;
}

/// Offsets of `bags` bags of `pooling` ids each.
inline std::vector<std::int64_t> make_offsets(std::size_t bags, std::size_t pooling) {
    std::vector<std::int64_t> off(bags + 1);
    for (std::size_t b = 0; b <= bags; ++b) off[b] = static_cast<std::int64_t>(b * pooling);
    return off;
}

/// Rows for a table of `bytes` bytes of fp32 at dimension `dim`.
inline std::size_t rows_for(std::size_t bytes, std::size_t dim) { return bytes / (dim * 4); }

}  // namespace bench
