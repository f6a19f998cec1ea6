#pragma once
/// \file options.hpp Options of pooled (EmbeddingBag) calls and of gradient handling.

#include "span.hpp"

namespace embtab {

/// How a bag's rows are combined.
enum class pooling {
    sum,  ///< weighted sum of the rows
    mean  ///< weighted sum divided by the bag length; an empty bag gives zeros
};

/// Options of `lookup_pooled` / `update_pooled`, following FBGEMM's EmbeddingSpMDM.
struct pool_options {
    pooling mode = pooling::sum;  ///< sum or mean
    span<const float> weights{};  ///< one weight per id, or empty for unweighted bags
};

/// What `update` does with a NaN or infinite gradient, or with a step whose result would not be
/// finite (or beyond the storage's range).
enum class nonfinite_policy {
    throw_error,  ///< throw `nonfinite_gradient` (`nonfinite_result`); the table is unchanged (default)
    skip_row      ///< drop that gradient row (or bag), or leave that table row as it was; apply the rest
};

}  // namespace embtab
