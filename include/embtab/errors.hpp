#pragma once
/// \file errors.hpp Exceptions thrown on bad input; every message names the value, its position
/// and the valid range.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace embtab {

/// Base of every error about a caller's arguments; the table is unchanged when it is thrown.
struct invalid_input : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

/// An id outside the table's range (or negative).
struct id_out_of_range : invalid_input {
    using invalid_input::invalid_input;
};

/// Offsets that do not start at 0, decrease, or do not end at the number of ids.
struct bad_offsets : invalid_input {
    using invalid_input::invalid_input;
};

/// Sizes that do not fit together (rows, columns, weights, dimensions).
struct shape_mismatch : invalid_input {
    using invalid_input::invalid_input;
};

/// A NaN or infinite gradient (or bag weight) under the `throw_error` policy.
struct nonfinite_gradient : invalid_input {
    using invalid_input::invalid_input;
};

/// An update whose optimizer step would leave a non-finite value in a row or its optimizer state,
/// or a value beyond what the row's storage holds (from finite inputs that overflow), under the
/// `throw_error` policy.
struct nonfinite_result : nonfinite_gradient {
    using nonfinite_gradient::nonfinite_gradient;
};

/// A bad constructor or planner parameter (zero rows, zero dimension, negative rate, ...).
struct bad_parameter : invalid_input {
    using invalid_input::invalid_input;
};

/// A checkpoint that cannot be read or written, or that does not fit the table (other type or
/// shape, truncated, corrupted); the table is unchanged when it is thrown.
struct bad_checkpoint : invalid_input {
    using invalid_input::invalid_input;
};

namespace detail {

/// Concatenates the arguments with `operator<<` into a string (error path only).
template <class... Args>
std::string concat(Args&&... args) {
    std::ostringstream os;
    (os << ... << std::forward<Args>(args));
    return os.str();
}

/// Throws `Error` with the concatenated message.
template <class Error, class... Args>
[[noreturn]] void fail(Args&&... args) {
    throw Error(concat("embtab: ", std::forward<Args>(args)...));
}

}  // namespace detail
}  // namespace embtab
