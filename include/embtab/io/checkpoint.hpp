#pragma once
/// \file io/checkpoint.hpp Checkpoints of any table — parameters, optimizer state and
/// hyper-parameters, sketch, generator states — in memory (`save_bytes`, `load_bytes`) or in a
/// file replaced atomically (`save`, `load`). Version 2 of the format, all little-endian:
///
///   offset    size  field
///   0         8     magic "EMBTABCK"
///   8         4     format version (u32, 2; version 1 lacked the sketch's minimum
///                   threshold and score cap, and kept its decay count as a float)
///   12        4     signature length L (u32), then L bytes: the table type and its policies,
///                   e.g. `cafe_table<full_table<f32,adagrad>,hash_table<f32,adagrad,xxh3>,mix64>`
///   16+L      8     payload length P (u64)
///   24+L      P     payload: the shape section (dimensions; must equal the table's), then the
///                   state section (policy fields, generators, rows, optimizer state, sketch...)
///   24+L+P    8     XXH3-64 (seed 0) of bytes [0, 24+L+P)
///
/// Each table kind writes its shape and state through its hooks (`signature`, `save_shape`,
/// `verify_shape`, `save_state`, `load_state`); composite kinds write their own fields, then
/// their parts'. Counts and shape values are u64; floats are IEEE bits; flags are one byte.
///   row store   shape: rows, dim.  state: storage and optimizer fields (rounding mode;
///               hyper-parameters), rounding generator (u64), rows (`rows · row_bytes` bytes
///               in the storage's layout), optimizer state (`rows · state_size` floats)
///   full        shape: row store.  state: row store
///   hash        shape: rows, dim, hashes, combiner, separate, row store.  state: seed, row store
///   qr          shape: n, c, combiner, scrambled (0/1), scramble key, Q, R.  state: Q, R
///   freq. split shape: n, hot count, hot, shared.  state: hot ids (count, sorted (id, row u32)
///               pairs), hot, shared
///   mixed dim   shape: dim, blocks, (rows store, projection store) per block.  state: the same
///   CAFE        shape: importance, medium tier, hot, shared, sketch (buckets, slots, hot rows).
///               state: medium score, hot, shared, sketch (threshold, decay, decay period,
///               adaptive flag, minimum threshold, score cap, seed, current threshold, decay
///               count (f64), each slot (id u64, score,
///               hot row i32, used u8), free hot rows (count, i32 each))
///   any_table   the held table's own checkpoint
///
/// Loading checks magic, version, signature, length and checksum, then the shape against the
/// table's own, then reads the state into a copy of the table and moves it in only when all is
/// well: a bad file throws `bad_checkpoint` (naming what was expected, what was found and the
/// byte offset) and leaves the table unchanged. No count in the file is trusted: every read is
/// checked against the bytes left and every size against the table's shape. Defining
/// `EMBTAB_FUZZING` makes a checksum mismatch non-fatal, so that a fuzzer reaches the parser.

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../errors.hpp"
#include "../hash/hashers.hpp"
#include "byte_io.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define EMBTAB_POSIX_FILES 1
#else
#include <filesystem>
#include <system_error>
#endif

namespace embtab {

namespace io {

/// The first 8 bytes of every checkpoint.
inline constexpr char checkpoint_magic[8] = {'E', 'M', 'B', 'T', 'A', 'B', 'C', 'K'};
/// The format version written, and the only one read.
inline constexpr std::uint32_t checkpoint_version = 2;
/// Longest type signature a checkpoint may hold.
inline constexpr std::size_t max_signature_bytes = 4096;

/// True when `Table` has the checkpoint hooks: `signature()`, `save_shape`, `verify_shape`,
/// `save_state`, `load_state`.
template <class Table, class = void>
struct is_checkpointable : std::false_type {};
template <class Table>
struct is_checkpointable<
    Table, std::void_t<decltype(std::string(std::declval<const Table&>().signature())),
                       decltype(std::declval<const Table&>().save_shape(std::declval<writer&>())),
                       decltype(std::declval<const Table&>().verify_shape(std::declval<reader&>())),
                       decltype(std::declval<const Table&>().save_state(std::declval<writer&>())),
                       decltype(std::declval<Table&>().load_state(std::declval<reader&>()))>>
    : std::true_type {};

/// Reads the state section into `t` all-or-nothing: into a copy, which must end exactly where
/// the payload does, then moved into `t` (a table that cannot be copied, `any_table`, does
/// this itself in its `load_state`).
template <class Table>
void load_payload(Table& t, reader& r) {
    if constexpr (std::is_copy_constructible_v<Table>) {
        Table next(t);
        next.load_state(r);
        r.expect_end();
        t = std::move(next);
    } else {
        t.load_state(r);
    }
}

}  // namespace io

namespace detail {

/// `v` as 0x followed by 16 hex digits.
inline std::string hex64(std::uint64_t v) {
    char s[19] = "0x";
    for (int i = 0; i < 16; ++i) s[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
    s[18] = 0;
    return s;
}

/// Checks a checkpoint's header (magic, version, signature `expected`, payload length) and its
/// checksum; returns a reader of the payload (offsets still counted from the file's start).
inline io::reader open_checkpoint(const void* data, std::size_t size, const std::string& expected) {
    io::reader r(data, size);
    char magic[sizeof io::checkpoint_magic];
    r.bytes(magic, sizeof magic, "the magic number");
    if (std::memcmp(magic, io::checkpoint_magic, sizeof magic) != 0) {
        std::uint64_t found;
        std::memcpy(&found, magic, sizeof found);
        r.fail_at(0, "magic number is ", hex64(little_endian(found)),
                  " (bytes in file order) instead of \"EMBTABCK\": not an embtab checkpoint");
    }
    const auto version = r.value<std::uint32_t>("the format version");
    if (version != io::checkpoint_version)
        r.fail_at(8, "has format version ", version, "; this library reads version ",
                  io::checkpoint_version);
    const auto length = r.value<std::uint32_t>("the signature length");
    if (length > io::max_signature_bytes)
        r.fail_at(12, "signature length is ", length, "; at most ", io::max_signature_bytes,
                  " is allowed");
    r.require(length, "the signature");
    std::string found(length, '\0');
    r.bytes(found.data(), length, "the signature");
    if (found != expected)
        r.fail_at(16, "holds a '", found, "' but the table is a '", expected, "'");
    const std::size_t length_at = r.offset();
    const std::uint64_t payload = r.u64("the payload length");
    const std::size_t left = r.remaining();
    if (left < sizeof(std::uint64_t) || payload > left - sizeof(std::uint64_t))
        r.fail_at(length_at, "is truncated: its payload length says ", payload,
                  " bytes, which with the 8-byte checksum should follow, but only ", left,
                  " bytes do");
    if (payload < left - sizeof(std::uint64_t))
        r.fail_at(length_at, "payload length says ", payload, " bytes but ",
                  left - sizeof(std::uint64_t), " lie between it and the 8-byte checksum");
    const std::size_t begin = r.offset();
    const std::size_t sum_at = size - sizeof(std::uint64_t);
    io::reader tail(data, size, sum_at);
    const std::uint64_t stored = tail.u64("the checksum");
    const std::uint64_t computed = XXH3_64bits(data, sum_at);
#ifndef EMBTAB_FUZZING
    if (stored != computed)
        r.fail_at(sum_at, "is corrupted: its checksum is ", hex64(stored),
                  " but the bytes before it hash to ", hex64(computed));
#else
    (void)stored;
    (void)computed;
#endif
    return io::reader(data, sum_at, begin);
}

/// Writes `bytes` to `path` atomically: to a temporary file in the same directory, flushed to
/// disk, then renamed over `path` (the temporary is removed when anything fails).
inline void write_file_atomically(const std::string& path, const std::vector<std::byte>& bytes) {
    static std::atomic<unsigned> counter{0};
    std::string tmp;
    const auto failure = [&](const char* what, int err) {
        fail<bad_checkpoint>("cannot save '", path, "': ", what, " '", tmp,
                             "' failed: ", std::strerror(err));
    };
#ifdef EMBTAB_POSIX_FILES
    int fd = -1;
    for (int attempt = 0;; ++attempt) {
        tmp = concat(path, ".tmp.", ::getpid(), ".", counter++);
        fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) break;
        if (errno != EEXIST || attempt == 100) failure("creating the temporary file", errno);
    }
    const auto abandon = [&](const char* what) {
        const int err = errno;
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        failure(what, err);
    };
    const std::byte* p = bytes.data();
    for (std::size_t left = bytes.size(); left > 0;) {
        const ::ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) abandon("writing the temporary file");
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) abandon("flushing the temporary file");
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) abandon("closing the temporary file");
    if (::rename(tmp.c_str(), path.c_str()) != 0) abandon("renaming the temporary file");
    // make the rename itself durable (best effort: some file systems refuse a directory fsync)
    const auto slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
#else
    tmp = concat(path, ".tmp.", counter++);
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) failure("creating the temporary file", errno);
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() &&
                    std::fflush(f) == 0;
    const int err = errno;
    if (std::fclose(f) != 0 || !ok) {
        std::remove(tmp.c_str());
        failure("writing the temporary file", ok ? errno : err);
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        failure("renaming the temporary file", ec.value());
    }
#endif
}

/// The whole content of the file `path`.
inline std::vector<std::byte> read_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail<bad_checkpoint>("cannot open '", path, "': ", std::strerror(errno));
    std::vector<std::byte> bytes;
    constexpr std::size_t chunk = std::size_t(1) << 20;
    for (;;) {
        const std::size_t have = bytes.size();
        bytes.resize(have + chunk);
        const std::size_t n = std::fread(bytes.data() + have, 1, chunk, f);
        bytes.resize(have + n);
        if (n < chunk) break;
    }
    const bool failed = std::ferror(f) != 0;
    const int err = errno;
    std::fclose(f);
    if (failed) fail<bad_checkpoint>("cannot read '", path, "': ", std::strerror(err));
    return bytes;
}

}  // namespace detail

/// The checkpoint of `table` (see io/checkpoint.hpp for the format).
template <class Table>
std::vector<std::byte> save_bytes(const Table& table) {
    const std::string signature = table.signature();
    if (signature.size() > io::max_signature_bytes)
        detail::fail<bad_checkpoint>("the type signature '", signature, "' is longer than ",
                                     io::max_signature_bytes, " bytes");
    io::writer w;
    w.bytes(io::checkpoint_magic, sizeof io::checkpoint_magic);
    w.value(io::checkpoint_version);
    w.value(static_cast<std::uint32_t>(signature.size()));
    w.bytes(signature.data(), signature.size());
    const std::size_t length_at = w.size();
    w.u64(0);  // the payload length, known at the end
    table.save_shape(w);
    table.save_state(w);
    w.patch_u64(length_at, w.size() - length_at - sizeof(std::uint64_t));
    w.u64(XXH3_64bits(w.data(), w.size()));
    return w.take();
}

/// Restores `table` from the checkpoint `data[0, size)` of a table of the same type and shape;
/// throws `bad_checkpoint` and leaves `table` unchanged when it is not one.
template <class Table>
void load_bytes(Table& table, const void* data, std::size_t size) {
    io::reader r = detail::open_checkpoint(data, size, table.signature());
    table.verify_shape(r);
    io::load_payload(table, r);
}

/// Writes the checkpoint of `table` to `path` atomically: a crash leaves either the previous
/// file or the new one; throws `bad_checkpoint` (naming the path and the system's reason) when
/// the file cannot be written.
template <class Table>
void save(const Table& table, const std::string& path) {
    detail::write_file_atomically(path, save_bytes(table));
}

/// Restores `table` from the checkpoint file `path`, as `load_bytes` (messages name the path).
template <class Table>
void load(Table& table, const std::string& path) {
    const std::vector<std::byte> bytes = detail::read_file(path);
    try {
        load_bytes(table, bytes.data(), bytes.size());
    } catch (const bad_checkpoint& e) {
        std::string what = e.what();
        const std::string prefix = "embtab: ";
        if (what.compare(0, prefix.size(), prefix) == 0) what.erase(0, prefix.size());
        detail::fail<bad_checkpoint>("'", path, "': ", what);
    }
}

}  // namespace embtab
