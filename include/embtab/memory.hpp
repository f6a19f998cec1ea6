#pragma once
/// \file memory.hpp The itemised memory a table holds.

#include <cstddef>

namespace embtab {

/// Bytes held by a table, by purpose; exact sizes of the arrays, not counting object headers.
struct memory_usage {
    std::size_t parameters = 0;       ///< embedding rows, projections: what the model learns
    std::size_t optimizer_state = 0;  ///< accumulators, moments, step counts
    std::size_t other = 0;            ///< sketches, index maps and other bookkeeping

    /// Sum of all parts.
    constexpr std::size_t total() const noexcept { return parameters + optimizer_state + other; }
    /// Part-wise sum, for tables made of tables.
    constexpr memory_usage& operator+=(const memory_usage& o) noexcept {
        parameters += o.parameters;
        optimizer_state += o.optimizer_state;
        other += o.other;
        return *this;
    }
};

/// Part-wise sum.
constexpr memory_usage operator+(memory_usage a, const memory_usage& b) noexcept { return a += b; }

}  // namespace embtab
