#pragma once
/// \file storage/rounding.hpp How low-precision storage rounds a value computed in fp32.

namespace embtab {

/// Rounding of fp32 results into low-precision rows.
enum class rounding {
    nearest,    ///< round to nearest (ties to even for fp16/bf16)
    stochastic  ///< round up with probability equal to the remainder: unbiased, keeps small steps
};

}  // namespace embtab
