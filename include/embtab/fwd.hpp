#pragma once
/// \file fwd.hpp Every public template declared once, with its defaults.

#include <cstdint>

namespace embtab {

namespace detail {
struct fp16_format;
struct bf16_format;
}  // namespace detail

// storage policies
struct f32;
template <class Format>
struct half_storage;
/// Rows of IEEE fp16.
using f16 = half_storage<detail::fp16_format>;
/// Rows of bfloat16.
using bf16 = half_storage<detail::bf16_format>;

// optimizer policies
struct sgd;
struct adagrad;
struct rowwise_adagrad;
struct adam;

// tables
template <class Storage = f32, class Optimizer = sgd>
class full_table;

}  // namespace embtab
