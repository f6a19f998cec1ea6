#pragma once
/// \file detail/refused_step.hpp What a table part throws when an optimizer step would leave a
/// non-finite value, for `table_base` to roll the update back and report it.

#include <cstddef>

namespace embtab::detail {

/// Thrown by a part's `finish_update` when a step's result is not finite (or not representable
/// in the row's storage) under `nonfinite_policy::throw_error`; `table_base` rolls the update back
/// and reports it as `nonfinite_result`, naming the id at position `at`.
struct refused_step {
    std::size_t at;    // batch position of the first lookup whose gradient reached the row
    const char* part;  // "row", "row as stored" or "optimizer state"
    std::size_t column;
    float value;
};

}  // namespace embtab::detail
