#pragma once
/// \file examples/data/criteo_reader.hpp A streaming reader of the Criteo Kaggle TSV format.
///
/// One sample a line, 40 tab-separated fields: the label (`0` or `1`), 13 integer features
/// I1..I13 (decimal, possibly negative), 26 categorical features C1..C26 (up to 8 hex digits,
/// either case; Criteo writes exactly 8). Any feature may be empty. What the batch receives:
/// - integer feature `x` → `log(max(x, 0) + 1)` as float: negative values (Criteo's I2 has a few)
///   are clamped to 0 first, as DLRM's preprocessing does; an empty field counts as 0, DLRM's
///   convention for missing values, and so gives 0;
/// - categorical `h` → its 32-bit value; an empty field → `missing_sparse` (2^32), a value no hex
///   field can take, so "missing" is a category of its own in every field;
/// - `click_probability` is left empty.
///
/// A trailing `\r` (CRLF files) is ignored and blank lines are skipped (counted in `lines_read()`
/// but neither samples nor malformed). Any other line that does not fit (wrong field count, label
/// other than `0`/`1`, non-numeric or out-of-range integer, bad hex) is malformed: by default
/// `next` throws `std::runtime_error` naming the file, the 1-based line, the 0-based field index
/// (0 = label, 1..13 = I1..I13, 14..39 = C1..C26) and the offending text; with
/// `skip_malformed` the line is dropped and counted in `malformed_lines()`.
///
/// Lines are cut out of a large read buffer and parsed in place (`std::from_chars`, hand-written
/// hex): nothing is allocated per line or per field.

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <istream>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "sample.hpp"

namespace embtab_data {

/// Fields a Criteo line has: label, 13 integer, 26 categorical.
inline constexpr std::size_t criteo_fields = 1 + dense_features + sparse_fields;

/// Options of `criteo_reader`.
struct criteo_options {
    /// Drop malformed lines and count them (`malformed_lines()`) instead of throwing.
    bool skip_malformed = false;
    /// Size of the read buffer in bytes (it grows when a line is longer).
    std::size_t buffer_bytes = std::size_t{1} << 20;
};

/// Streams batches out of a Criteo Kaggle TSV file or stream (see the file comment for the format).
class criteo_reader {
public:
    /// Reads from `in`, which must outlive the reader; `name` is used in error messages.
    explicit criteo_reader(std::istream& in, std::string name = "<stream>",
                           criteo_options options = {})
        : in_(&in), name_(std::move(name)), options_(options) {
        init_buffer();
    }
    /// Opens and reads the file at `path`; throws `std::runtime_error` naming it if it cannot.
    explicit criteo_reader(const std::string& path, criteo_options options = {})
        : owned_(std::make_unique<std::ifstream>(path, std::ios::binary)),
          name_(path),
          options_(options) {
        if (!*owned_)
            throw std::runtime_error("criteo_reader: cannot open \"" + path +
                                     "\" for reading: " + std::strerror(errno));
        in_ = owned_.get();
        init_buffer();
    }

    /// Fills `b` with up to `max_samples` samples; false (and `b.size == 0`) at the end of input.
    bool next(batch& b, std::size_t max_samples) {
        if (max_samples == 0) throw std::invalid_argument("criteo_reader::next: max_samples is 0");
        std::size_t room = std::min<std::size_t>(max_samples, 4096);  // grows as lines come
        b.resize(room);
        b.click_probability.clear();
        std::size_t n = 0;
        const char* begin = nullptr;
        const char* end = nullptr;
        while (n < max_samples && next_line(begin, end)) {
            ++lines_;
            if (end != begin && end[-1] == '\r') --end;
            if (begin == end) continue;
            if (n == room) b.resize(room = std::min(max_samples, 2 * room));
            if (parse_line(begin, end, b, n)) {
                ++n;
            } else if (!options_.skip_malformed) {
                throw std::runtime_error(error_);
            } else {
                ++malformed_;
            }
        }
        b.resize(n);
        samples_ += n;
        return n > 0;
    }

    /// Lines consumed so far (samples, malformed and blank lines).
    std::uint64_t lines_read() const noexcept { return lines_; }
    /// Samples delivered so far.
    std::uint64_t samples_read() const noexcept { return samples_; }
    /// Malformed lines skipped so far (only with `skip_malformed`).
    std::uint64_t malformed_lines() const noexcept { return malformed_; }
    /// The file name (or the name given for a stream) used in messages.
    const std::string& name() const noexcept { return name_; }
    /// The message of the last malformed line (empty if none).
    const std::string& last_error() const noexcept { return error_; }

private:
    void init_buffer() { buf_.resize(std::max<std::size_t>(options_.buffer_bytes, 64)); }

    // Cuts the next line (without its '\n') out of the buffer, refilling it as needed.
    bool next_line(const char*& begin, const char*& end) {
        for (;;) {
            const char* start = buf_.data() + pos_;
            if (const void* nl = std::memchr(start, '\n', len_ - pos_)) {
                begin = start;
                end = static_cast<const char*>(nl);
                pos_ = static_cast<std::size_t>(end - buf_.data()) + 1;
                return true;
            }
            if (eof_) {
                if (pos_ == len_) return false;
                begin = start;
                end = buf_.data() + len_;
                pos_ = len_;
                return true;
            }
            // Keep the partial line, make room and read more.
            const std::size_t rest = len_ - pos_;
            std::memmove(buf_.data(), start, rest);
            pos_ = 0;
            len_ = rest;
            if (len_ == buf_.size()) buf_.resize(buf_.size() * 2);
            in_->read(buf_.data() + len_, static_cast<std::streamsize>(buf_.size() - len_));
            const auto got = static_cast<std::size_t>(in_->gcount());
            if (in_->bad())
                throw std::runtime_error("criteo_reader: read error in \"" + name_ +
                                         "\" after line " + std::to_string(lines_));
            len_ += got;
            if (got == 0 || in_->eof()) eof_ = true;
        }
    }

    static std::string field_name(std::size_t k) {
        if (k == 0) return "label";
        if (k <= dense_features) return "I" + std::to_string(k);
        if (k < criteo_fields) return "C" + std::to_string(k - dense_features);
        return "after C" + std::to_string(sparse_fields);
    }

    static std::string quoted(const char* begin, const char* end) {
        constexpr std::size_t limit = 80;
        const std::size_t n = static_cast<std::size_t>(end - begin);
        std::string s = "\"" + std::string(begin, std::min(n, limit));
        return s + (n > limit ? "...\"" : "\"");
    }

    // Records the message of a malformed line; returns false for `parse_line`.
    bool malformed(std::size_t field, const char* what, const char* begin, const char* end) {
        error_ = "criteo_reader: " + name_ + ":" + std::to_string(lines_) + ": field " +
                 std::to_string(field) + " (" + field_name(field) + "): " + what + " " +
                 quoted(begin, end);
        return false;
    }

    // Parses one non-blank line into row `row` of `b`; false (with `error_` set) if malformed.
    bool parse_line(const char* begin, const char* end, batch& b, std::size_t row) {
        float* dense = b.dense.data() + row * dense_features;
        std::uint64_t* sparse = b.sparse.data() + row * sparse_fields;
        const char* p = begin;
        for (std::size_t k = 0; k < criteo_fields; ++k) {
            const char* q = static_cast<const char*>(std::memchr(p, '\t', std::size_t(end - p)));
            const bool last = k + 1 == criteo_fields;
            if (!q && !last) return wrong_field_count(begin, end);
            if (q && last) return wrong_field_count(begin, end);
            if (!q) q = end;
            if (k == 0) {
                if (q - p != 1 || (*p != '0' && *p != '1'))
                    return malformed(k, "label is not 0 or 1:", p, q);
                b.label[row] = *p == '1' ? 1.0f : 0.0f;
            } else if (k <= dense_features) {
                long long v = 0;
                if (p != q) {
                    const auto r = std::from_chars(p, q, v);
                    if (r.ec == std::errc::result_out_of_range)
                        return malformed(k, "integer out of range:", p, q);
                    if (r.ec != std::errc() || r.ptr != q)
                        return malformed(k, "not an integer:", p, q);
                }
                dense[k - 1] =
                    static_cast<float>(std::log1p(static_cast<double>(std::max(v, 0LL))));
            } else {
                std::uint64_t h = missing_sparse;
                if (p != q) {
                    if (q - p > 8) return malformed(k, "more than 8 hex digits:", p, q);
                    h = 0;
                    for (const char* c = p; c != q; ++c) {
                        const int d = hex_digit(*c);
                        if (d < 0) return malformed(k, "not a hex value:", p, q);
                        h = (h << 4) | static_cast<std::uint64_t>(d);
                    }
                }
                sparse[k - 1 - dense_features] = h;
            }
            p = q + 1;
        }
        return true;
    }

    bool wrong_field_count(const char* begin, const char* end) {
        const auto fields = static_cast<std::size_t>(std::count(begin, end, '\t')) + 1;
        const std::string what = std::to_string(fields) + " tab-separated fields instead of " +
                                 std::to_string(criteo_fields) + ":";
        return malformed(std::min(fields, criteo_fields), what.c_str(), begin, end);
    }

    static int hex_digit(char c) noexcept {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    std::unique_ptr<std::ifstream> owned_;
    std::istream* in_ = nullptr;
    std::string name_;
    criteo_options options_;
    std::vector<char> buf_;
    std::size_t pos_ = 0;
    std::size_t len_ = 0;
    bool eof_ = false;
    std::uint64_t lines_ = 0;
    std::uint64_t samples_ = 0;
    std::uint64_t malformed_ = 0;
    std::string error_;
};

}  // namespace embtab_data
