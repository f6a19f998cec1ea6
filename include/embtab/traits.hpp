#pragma once
/// \file traits.hpp Detection traits (and C++20 concepts) for storage policies, optimizer
/// policies and tables.

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "detail/rng.hpp"
#include "matrix_view.hpp"
#include "options.hpp"
#include "span.hpp"

namespace embtab {

/// True when `T` is a storage policy: `row_bytes`, `in_place`, `decode`, `decode_add`, `encode`.
template <class T, class = void>
struct is_storage : std::false_type {};
template <class T>
struct is_storage<
    T, std::void_t<decltype(T::row_bytes(std::size_t{})), decltype(T::in_place), decltype(T::name),
                   decltype(std::declval<const T&>().decode(
                       std::declval<const std::byte*>(), std::declval<float*>(), std::size_t{})),
                   decltype(std::declval<const T&>().decode_add(std::declval<const std::byte*>(),
                                                                 1.0f, std::declval<float*>(),
                                                                 std::size_t{})),
                   decltype(std::declval<const T&>().encode(
                       std::declval<const float*>(), std::declval<std::byte*>(), std::size_t{},
                       std::declval<detail::rng&>()))>> : std::true_type {};
/// Shorthand for `is_storage<T>::value`.
template <class T>
inline constexpr bool is_storage_v = is_storage<T>::value;

/// True when `T` is an optimizer policy: `state_size`, `init_state`, `step`.
template <class T, class = void>
struct is_optimizer : std::false_type {};
template <class T>
struct is_optimizer<
    T, std::void_t<decltype(T::state_size(std::size_t{})), decltype(T::name),
                   decltype(std::declval<const T&>().init_state(std::declval<float*>(),
                                                                 std::size_t{})),
                   decltype(std::declval<const T&>().step(
                       std::declval<float*>(), std::declval<const float*>(),
                       std::declval<float*>(), std::size_t{}))>> : std::true_type {};
/// Shorthand for `is_optimizer<T>::value`.
template <class T>
inline constexpr bool is_optimizer_v = is_optimizer<T>::value;

/// True when `T` offers the table interface: `dim`, `lookup`, `lookup_pooled`, `update`,
/// `update_pooled`, `memory_bytes`.
template <class T, class = void>
struct is_table : std::false_type {};
template <class T>
struct is_table<
    T, std::void_t<
           decltype(std::size_t{std::declval<const T&>().dim()}),
           decltype(std::declval<const T&>().memory_bytes().total()),
           decltype(std::declval<const T&>().lookup(std::declval<span<const std::int64_t>>(),
                                                    std::declval<matrix_view<float>>())),
           decltype(std::declval<const T&>().lookup_pooled(
               std::declval<span<const std::int64_t>>(), std::declval<span<const std::int64_t>>(),
               std::declval<matrix_view<float>>(), pool_options{})),
           decltype(std::declval<T&>().update(std::declval<span<const std::int64_t>>(),
                                              std::declval<matrix_view<const float>>())),
           decltype(std::declval<T&>().update_pooled(
               std::declval<span<const std::int64_t>>(), std::declval<span<const std::int64_t>>(),
               std::declval<matrix_view<const float>>(), pool_options{}))>> : std::true_type {};
/// Shorthand for `is_table<T>::value`.
template <class T>
inline constexpr bool is_table_v = is_table<T>::value;

#if defined(__cpp_concepts) && __cpp_concepts >= 201907L
/// A storage policy (C++20).
template <class T>
concept storage_policy = is_storage_v<T>;
/// An optimizer policy (C++20).
template <class T>
concept optimizer_policy = is_optimizer_v<T>;
/// A type with the table interface (C++20).
template <class T>
concept table = is_table_v<T>;
#endif

}  // namespace embtab
