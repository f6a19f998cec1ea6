#pragma once
/// \file io/byte_io.hpp Little-endian fixed-width encoding for checkpoints: `writer` appends
/// values to a byte vector; `reader` takes them back, every read checked against the bytes
/// that remain, every failure a `bad_checkpoint` naming the byte offset.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../errors.hpp"

namespace embtab {

namespace detail {

/// True on big-endian hosts, where values are byte-swapped to and from the little-endian file.
inline constexpr bool host_big_endian =
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    true;
#else
    false;
#endif

/// The unsigned integer a value of type `T` (integer, enum, float, double) is encoded as.
template <class T>
using encoding_t = std::conditional_t<
    sizeof(T) == 1, std::uint8_t,
    std::conditional_t<sizeof(T) == 2, std::uint16_t,
                       std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;

/// `v` with its bytes reversed when the host is big-endian (little-endian ↔ host order).
template <class U>
U little_endian(U v) noexcept {
    if constexpr (host_big_endian && sizeof(U) > 1) {
        U r = 0;
        for (std::size_t i = 0; i < sizeof(U); ++i) r = static_cast<U>((r << 8) | ((v >> (8 * i)) & 0xff));
        return r;
    } else {
        return v;
    }
}

/// Accepts any field a policy's `checkpoint_fields` lists (detects the member).
struct any_field {
    template <class... A>
    void operator()(A&&...) const noexcept {}
};

}  // namespace detail

namespace io {

/// Appends little-endian fixed-width values to a growing byte buffer.
class writer {
public:
    /// Appends `n` bytes as they are.
    void bytes(const void* data, std::size_t n) {
        if (n == 0) return;
        const std::size_t at = buf_.size();
        buf_.resize(at + n);  // not insert(end, p, p + n): GCC 12 -O3 warns (-Wnonnull) there
        std::memcpy(buf_.data() + at, data, n);
    }
    /// Appends an integer, enum, bool, float or double in `sizeof(T)` little-endian bytes.
    template <class T>
    void value(T v) {
        static_assert(std::is_arithmetic_v<T> || std::is_enum_v<T>,
                      "embtab::io::writer::value takes numbers and enums");
        detail::encoding_t<T> u;
        if constexpr (std::is_enum_v<T>)
            u = static_cast<detail::encoding_t<T>>(static_cast<std::underlying_type_t<T>>(v));
        else if constexpr (std::is_same_v<T, bool>)
            u = v ? 1 : 0;
        else
            std::memcpy(&u, &v, sizeof u);
        u = detail::little_endian(u);
        bytes(&u, sizeof u);
    }
    /// Appends a 64-bit unsigned integer (counts and sizes are always written this way).
    void u64(std::uint64_t v) { value(v); }
    /// Appends `n` floats.
    void floats(const float* v, std::size_t n) {
        if constexpr (detail::host_big_endian) {
            for (std::size_t i = 0; i < n; ++i) value(v[i]);
        } else {
            bytes(v, n * sizeof(float));
        }
    }
    /// Overwrites the 8 bytes at `at` (written earlier) with `v`.
    void patch_u64(std::size_t at, std::uint64_t v) noexcept {
        v = detail::little_endian(v);
        std::memcpy(buf_.data() + at, &v, sizeof v);
    }
    /// Bytes written so far.
    std::size_t size() const noexcept { return buf_.size(); }
    /// The bytes written so far.
    const std::byte* data() const noexcept { return buf_.data(); }
    /// Gives the buffer away (the writer is empty afterwards).
    std::vector<std::byte> take() noexcept { return std::move(buf_); }

private:
    std::vector<std::byte> buf_;
};

/// Reads little-endian values from `data[begin, end)`; a read past `end` or a bad value throws
/// `bad_checkpoint` with the byte offset (counted from `data`).
class reader {
public:
    /// A reader of `data[begin, end)`.
    reader(const void* data, std::size_t end, std::size_t begin = 0) noexcept
        : data_(static_cast<const std::byte*>(data)), pos_(begin), end_(end < begin ? begin : end) {}

    /// Byte offset of the next read.
    std::size_t offset() const noexcept { return pos_; }
    /// Bytes left.
    std::size_t remaining() const noexcept { return end_ - pos_; }

    /// Throws `bad_checkpoint` (truncated) unless `n` more bytes remain for `what`.
    void require(std::size_t n, const char* what) const {
        if (n > remaining())
            fail_at(pos_, "is truncated: ", what, " needs ", n, " bytes but only ", remaining(),
                    " remain");
    }
    /// Throws `bad_checkpoint` unless `count` items of `item_bytes` each remain for `what`
    /// (checked before anything is allocated for them).
    void require_items(std::uint64_t count, std::size_t item_bytes, const char* what) const {
        if (item_bytes != 0 && count > remaining() / item_bytes)
            fail_at(pos_, "is truncated: ", what, " need ", count, " × ", item_bytes,
                    " bytes but only ", remaining(), " remain");
    }
    /// Copies the next `n` bytes to `out`.
    void bytes(void* out, std::size_t n, const char* what) {
        require(n, what);
        if (n) std::memcpy(out, data_ + pos_, n);
        pos_ += n;
    }
    /// Reads a value written by `writer::value<T>` (bool: 0 or 1; enums: see `field`).
    template <class T>
    T value(const char* what) {
        static_assert(std::is_arithmetic_v<T> || std::is_enum_v<T>,
                      "embtab::io::reader::value reads numbers and enums");
        const std::size_t at = pos_;
        detail::encoding_t<T> u;
        bytes(&u, sizeof u, what);
        u = detail::little_endian(u);
        if constexpr (std::is_enum_v<T>) {
            return static_cast<T>(static_cast<std::underlying_type_t<T>>(u));
        } else if constexpr (std::is_same_v<T, bool>) {
            if (u > 1) fail_at(at, what, " is ", +u, "; a flag must be 0 or 1");
            return u == 1;
        } else {
            T v;
            std::memcpy(&v, &u, sizeof v);
            return v;
        }
    }
    /// Reads a 64-bit unsigned integer.
    std::uint64_t u64(const char* what) { return value<std::uint64_t>(what); }
    /// Reads `n` floats into `out`; each must be finite.
    void floats(float* out, std::size_t n, const char* what) {
        require_items(n, sizeof(float), what);
        const std::size_t at = pos_;
        if constexpr (detail::host_big_endian) {
            for (std::size_t i = 0; i < n; ++i) out[i] = value<float>(what);
        } else {
            bytes(out, n * sizeof(float), what);
        }
        for (std::size_t i = 0; i < n; ++i)
            if (!std::isfinite(out[i]))
                fail_at(at + i * sizeof(float), what, " value ", i, " is ", out[i],
                        "; it must be finite");
    }
    /// Reads a number or flag into `v`; a floating-point value must be finite.
    template <class T>
    void field(const char* what, T& v) {
        const std::size_t at = pos_;
        const T read = value<T>(what);
        if constexpr (std::is_floating_point_v<T>)
            if (!std::isfinite(read)) fail_at(at, what, " is ", read, "; it must be finite");
        v = read;
    }
    /// Reads an enum into `v`; it must be in `[0, max]`.
    template <class T>
    void field(const char* what, T& v, T max) {
        static_assert(std::is_enum_v<T>, "embtab::io::reader::field: a largest value is for enums");
        using U = std::underlying_type_t<T>;
        const std::size_t at = pos_;
        const auto u = static_cast<U>(value<T>(what));
        bool bad = u > static_cast<U>(max);
        if constexpr (std::is_signed_v<U>) bad = bad || u < U(0);
        if (bad) fail_at(at, what, " is ", +u, "; it must be in [0, ", +static_cast<U>(max), "]");
        v = static_cast<T>(u);
    }
    /// Reads a 64-bit shape value and throws `bad_checkpoint` naming both values unless it
    /// equals `expected` (the table's own).
    void expect(const char* what, std::uint64_t expected) {
        const std::size_t at = pos_;
        const std::uint64_t found = u64(what);
        if (found != expected)
            fail_at(at, "shape mismatch: ", what, " is ", found, " in the checkpoint but ",
                    expected, " in the table");
    }
    /// Throws `bad_checkpoint` unless every byte has been read.
    void expect_end() const {
        if (remaining() != 0)
            fail_at(pos_, remaining(), " unexpected bytes after the end of the table's data");
    }
    /// Throws `bad_checkpoint` with the concatenated message and the byte offset `at`.
    template <class... Args>
    [[noreturn]] void fail_at(std::size_t at, Args&&... args) const {
        embtab::detail::fail<bad_checkpoint>("checkpoint ", std::forward<Args>(args)...,
                                             " (at byte offset ", at, ")");
    }

private:
    const std::byte* data_;
    std::size_t pos_, end_;
};

/// True when `Policy` lists fields to checkpoint through a static
/// `checkpoint_fields(self, f)` that calls `f(name, field[, largest enum value])`.
template <class Policy, class = void>
struct has_checkpoint_fields : std::false_type {};
template <class Policy>
struct has_checkpoint_fields<Policy, std::void_t<decltype(Policy::checkpoint_fields(
                                         std::declval<Policy&>(), detail::any_field{}))>>
    : std::true_type {};

/// Writes the fields a policy lists (nothing for a policy without `checkpoint_fields`).
template <class Policy>
void save_fields(writer& w, const Policy& p) {
    if constexpr (has_checkpoint_fields<Policy>::value)
        Policy::checkpoint_fields(p, [&](const char*, const auto& v, auto...) { w.value(v); });
}

/// Reads the fields written by `save_fields` back into `p`.
template <class Policy>
void load_fields(reader& r, Policy& p) {
    if constexpr (has_checkpoint_fields<Policy>::value)
        Policy::checkpoint_fields(p, [&](const char* name, auto& v, auto... max) {
            r.field(name, v, max...);
        });
}

}  // namespace io
}  // namespace embtab
