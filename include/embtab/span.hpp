#pragma once
/// \file span.hpp A minimal C++17 stand-in for `std::span` (ids, offsets, weights), and the
/// conversion of any contiguous container into it.

#include <cstddef>
#include <initializer_list>
#include <type_traits>
#include <utility>

namespace embtab {

/// A non-owning view of `size()` contiguous values of type `T`.
template <class T>
class span {
public:
    /// The element type, with its const.
    using element_type = T;
    /// The element type without const.
    using value_type = std::remove_cv_t<T>;

    /// An empty view.
    constexpr span() noexcept = default;
    /// A view of `size` values starting at `data`.
    constexpr span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
    /// A view of any contiguous container with `data()` and `size()` (vector, array, std::span,
    /// Eigen vector).
    template <class Container,
              class = std::enable_if_t<
                  !std::is_same_v<std::decay_t<Container>, span> &&
                  std::is_convertible_v<decltype(std::declval<Container&>().data()), T*>>>
    constexpr span(Container& c) noexcept  // NOLINT(google-explicit-constructor)
        : data_(c.data()), size_(static_cast<std::size_t>(c.size())) {}
    /// A view of a braced list (valid for the full expression only).
    template <class U = T, class = std::enable_if_t<std::is_const_v<U>>>
    constexpr span(std::initializer_list<value_type> list) noexcept
        : data_(list.begin()), size_(list.size()) {}

    /// First element.
    constexpr T* data() const noexcept { return data_; }
    /// Number of elements.
    constexpr std::size_t size() const noexcept { return size_; }
    /// True when there are no elements.
    constexpr bool empty() const noexcept { return size_ == 0; }
    /// Element `i` (unchecked).
    constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }
    /// Iterator to the first element.
    constexpr T* begin() const noexcept { return data_; }
    /// Iterator past the last element.
    constexpr T* end() const noexcept { return data_ + size_; }

private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
};

/// The read-only span over any contiguous container (or a span itself).
template <class Container>
auto as_span(const Container& c) noexcept {
    using value = std::remove_cv_t<std::remove_pointer_t<decltype(c.data())>>;
    return span<const value>(c.data(), static_cast<std::size_t>(c.size()));
}

/// The span itself.
template <class T>
span<const T> as_span(span<T> s) noexcept {
    return {s.data(), s.size()};
}

}  // namespace embtab
