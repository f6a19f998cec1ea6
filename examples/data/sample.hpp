#pragma once
/// \file examples/data/sample.hpp The batch of Criteo-shaped samples that every data source of the
/// examples fills (the Criteo TSV reader, the synthetic generator).
///
/// A data source offers `bool next(batch& b, std::size_t max_samples)`: it fills `b` with up to
/// `max_samples` samples (reusing its memory) and returns false, with `b.size == 0`, once the
/// stream is exhausted.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace embtab_data {

/// Integer (dense) features a sample: Criteo's I1..I13.
inline constexpr std::size_t dense_features = 13;
/// Categorical (sparse) fields a sample: Criteo's C1..C26.
inline constexpr std::size_t sparse_fields = 26;
/// The sparse value of an empty Criteo categorical field: 2^32, just above every 8-hex-digit value,
/// so each field has its own "missing" category (the reader's only out-of-32-bit value).
inline constexpr std::uint64_t missing_sparse = std::uint64_t{1} << 32;

/// A batch of samples, row-major, reused from call to call.
struct batch {
    /// Samples in the batch.
    std::size_t size = 0;
    /// `size × dense_features`, row-major: `log(x + 1)` of the integer features (0 when missing).
    std::vector<float> dense;
    /// `size × sparse_fields`, row-major: the field's categorical value. Synthetic: the id in
    /// `0 .. cardinality − 1`. Criteo: the 32-bit value of the 8 hex digits, or `missing_sparse`.
    std::vector<std::uint64_t> sparse;
    /// `size` labels, 0 or 1 (1 = click).
    std::vector<float> label;
    /// `size` true click probabilities of the hidden model (synthetic data only; empty otherwise).
    std::vector<float> click_probability;

    /// Sets `size` to `n` and sizes `dense`, `sparse` and `label` to match (capacity is never
    /// given back); `click_probability` is left to the source that fills it.
    void resize(std::size_t n) {
        size = n;
        dense.resize(n * dense_features);
        sparse.resize(n * sparse_fields);
        label.resize(n);
    }
    /// The `dense_features` values of sample `i` (unchecked).
    const float* dense_row(std::size_t i) const noexcept {
        return dense.data() + i * dense_features;
    }
    /// The `sparse_fields` values of sample `i` (unchecked).
    const std::uint64_t* sparse_row(std::size_t i) const noexcept {
        return sparse.data() + i * sparse_fields;
    }
};

}  // namespace embtab_data
