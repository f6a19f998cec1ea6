#pragma once
/// \file detail/checked_size.hpp Size arithmetic that refuses to overflow: every product of
/// sizes the library allocates or plans by goes through here.

#include <cstddef>
#include <limits>

#include "../errors.hpp"

namespace embtab::detail {

/// The widest row any table or planner accepts (values a row): far above any embedding, and
/// small enough that a row's bytes never overflow.
inline constexpr std::size_t max_dim = std::size_t(1) << 20;

/// Throws `bad_parameter` unless `1 ≤ d ≤ max_dim`.
inline void check_dim(const char* who, std::size_t d) {
    if (d == 0) fail<bad_parameter>(who, " needs a dimension of at least 1; got 0");
    if (d > max_dim) fail<bad_parameter>(who, " needs a dimension of at most ", max_dim, "; got ", d);
}

/// `a · b`; throws `bad_parameter` naming `what`, `a` and `b` when it does not fit `size_t`.
inline std::size_t checked_mul(std::size_t a, std::size_t b, const char* what) {
    if (b != 0 && a > std::numeric_limits<std::size_t>::max() / b)
        fail<bad_parameter>(what, ": ", a, " × ", b, " bytes overflow the address space");
    return a * b;
}

}  // namespace embtab::detail
