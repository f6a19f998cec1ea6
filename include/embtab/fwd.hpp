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
template <unsigned Bits>
struct rowwise_quantized;
/// Rows of 8-bit codes with fp32 scale and bias (FBGEMM's fused 8-bit row-wise layout).
using int8_rowwise = rowwise_quantized<8>;
/// Rows of 4-bit codes, two a byte, with fp32 scale and bias.
using int4_rowwise = rowwise_quantized<4>;

// optimizer policies
struct sgd;
struct adagrad;
struct rowwise_adagrad;
struct adam;

// hasher policies
struct xxh3;
struct mix64;

// checkpoints (io/byte_io.hpp)
namespace io {
class writer;
class reader;
}  // namespace io

// tables
template <class Storage = f32, class Optimizer = sgd>
class full_table;
template <class Storage = f32, class Optimizer = sgd, class Hasher = xxh3>
class hash_table;
template <class QTable = full_table<>, class RTable = QTable>
class qr_table;
template <class HotTable = full_table<>, class SharedTable = hash_table<>>
class frequency_split_table;
template <class HotTable = full_table<>, class SharedTable = hash_table<>, class Hasher = mix64>
class cafe_table;
template <class Storage = f32, class Optimizer = sgd>
class mixed_dim_table;
struct mixed_dim_block;
class any_table;

// planners
template <class Storage = f32, class Optimizer = sgd>
struct mixed_dim_plan;

}  // namespace embtab
