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
///
/// Files: `load` reads only a regular file, its header first (checked against the file's size)
/// and never more than that size; `save` keeps the replaced file's permission bits and writes
/// through a symbolic link; both remove the temporaries of killed saves. A failure of the system
/// (missing file, permission, full disk) throws `std::system_error` with its errno and the path;
/// `bad_checkpoint` is for content, and for a path that is not a regular file.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "../errors.hpp"
#include "../hash/hashers.hpp"
#include "byte_io.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#define EMBTAB_POSIX_FILES 1
#else
#include <filesystem>
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

/// `load_payload` without the guard.
template <class Table>
void load_unguarded(Table& t, reader& r) {
    if constexpr (std::is_copy_constructible_v<Table>) {
        Table next(t);
        next.load_state(r);
        r.expect_end();
        t = std::move(next);
    } else {
        t.load_state(r);
    }
}

/// Whether `Table` can be held exclusively (`table_base::exclusive`).
template <class Table, class = void>
struct has_exclusive : std::false_type {};
template <class Table>
struct has_exclusive<Table, std::void_t<decltype(std::declval<const Table&>().exclusive())>>
    : std::true_type {};

/// Reads the state section into `t` all-or-nothing: into a copy, which must end exactly where
/// the payload does, then moved into `t` (a table that cannot be copied, `any_table`, does
/// this itself in its `load_state`). Holds `t` as an update does meanwhile, where it can.
template <class Table>
void load_payload(Table& t, reader& r) {
    if constexpr (has_exclusive<Table>::value) {
        [[maybe_unused]] const auto guard = t.exclusive();
        load_unguarded(t, r);
    } else {
        load_unguarded(t, r);
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

/// Longest header a checkpoint may have: magic, version, signature length, the longest
/// signature, payload length.
inline constexpr std::size_t max_header_bytes = 24 + io::max_signature_bytes;

/// Checks a checkpoint's header (magic, version, signature `expected`, payload length) in
/// `data[0, size)`, the first bytes of a checkpoint of `total` bytes; returns the payload's
/// offset. Reads nothing past the header, so a file can be checked before the rest is read.
inline std::size_t check_header(const void* data, std::size_t size, std::uint64_t total,
                                const std::string& expected) {
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
    const std::uint64_t left = total - r.offset();
    if (left < sizeof(std::uint64_t) || payload > left - sizeof(std::uint64_t))
        r.fail_at(length_at, "is truncated: its payload length says ", payload,
                  " bytes, which with the 8-byte checksum should follow, but only ", left,
                  " bytes do");
    if (payload < left - sizeof(std::uint64_t))
        r.fail_at(length_at, "payload length says ", payload, " bytes but ",
                  left - sizeof(std::uint64_t), " lie between it and the 8-byte checksum");
    return r.offset();
}

/// Checks a checkpoint's header (`check_header`) and its checksum; returns a reader of the
/// payload (offsets still counted from the file's start).
inline io::reader open_checkpoint(const void* data, std::size_t size, const std::string& expected) {
    const std::size_t begin = check_header(data, size, size, expected);
    const std::size_t sum_at = size - sizeof(std::uint64_t);
    io::reader tail(data, size, sum_at);
    const std::uint64_t stored = tail.u64("the checksum");
    const std::uint64_t computed = XXH3_64bits(data, sum_at);
#ifndef EMBTAB_FUZZING
    if (stored != computed)
        tail.fail_at(sum_at, "is corrupted: its checksum is ", hex64(stored),
                     " but the bytes before it hash to ", hex64(computed));
#else
    (void)stored;
    (void)computed;
#endif
    return io::reader(data, sum_at, begin);
}

/// Throws `std::system_error` with the error number `err` (generic category) and the
/// concatenated message, which names the path and the step that failed.
template <class... Args>
[[noreturn]] void fail_system(int err, Args&&... args) {
    throw std::system_error(std::error_code(err, std::generic_category()),
                            concat("embtab: ", std::forward<Args>(args)...));
}

/// Throws `bad_checkpoint`: `path`, which `action` ("cannot load") names, is `kind` ("a FIFO"),
/// not a regular file.
[[noreturn]] inline void fail_not_regular(const char* action, const std::string& path,
                                          const char* kind) {
    fail<bad_checkpoint>(action, " '", path, "': it is not a regular file but ", kind);
}

/// Runs `f`; a `bad_checkpoint` it throws is thrown again with `'path': ` before its message.
template <class F>
void naming_path(const std::string& path, F&& f) {
    try {
        f();
    } catch (const bad_checkpoint& e) {
        std::string what = e.what();
        const std::string prefix = "embtab: ";
        if (what.compare(0, prefix.size(), prefix) == 0) what.erase(0, prefix.size());
        fail<bad_checkpoint>("'", path, "': ", what);
    }
}

/// The directory part of `path`, with its final '/' ("." when there is none).
inline std::string directory_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    return slash == std::string::npos ? "." : path.substr(0, slash + 1);
}

#ifdef EMBTAB_POSIX_FILES
/// What a file of mode `mode` is, for the message that refuses it.
inline const char* file_kind(mode_t mode) noexcept {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "a special file";
}

/// The file a save of `path` replaces: `path`, or, when it is a symbolic link, the file the link
/// leads to (`realpath`); empty, with `errno` set, when the link leads nowhere.
inline std::string link_target(const std::string& path) {
    struct ::stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return path;
    char* const real = ::realpath(path.c_str(), nullptr);
    if (!real) return {};
    std::string target = real;
    std::free(real);
    return target;
}

/// `s` as a number when it is written as `std::to_string` writes one (1 to 18 digits, no
/// leading zero), else -1.
inline long long canonical_decimal(std::string_view s) noexcept {
    if (s.empty() || s.size() > 18 || (s[0] == '0' && s.size() > 1)) return -1;
    long long v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}
#endif

/// Removes the temporaries `<name>.tmp.<pid>.<n>` that saves of `path` killed before their
/// rename left beside the file (`link_target`): those whose process no longer exists
/// (`kill(pid, 0)` fails with ESRCH). Touches no other file; failures are ignored. A process
/// of another machine or PID namespace that shares the directory looks dead from here.
/// POSIX only (a no-op elsewhere).
inline void remove_stale_temporaries(const std::string& path) {
#ifdef EMBTAB_POSIX_FILES
    const std::string target = link_target(path);
    if (target.empty()) return;
    const auto slash = target.find_last_of('/');
    const std::string prefix = target.substr(slash == std::string::npos ? 0 : slash + 1) + ".tmp.";
    DIR* const d = ::opendir(directory_of(target).c_str());
    if (!d) return;
    while (const ::dirent* e = ::readdir(d)) {
        const std::string_view name = e->d_name;
        if (name.compare(0, prefix.size(), prefix) != 0) continue;
        const std::string_view rest = name.substr(prefix.size());
        const auto dot = rest.find('.');
        if (dot == std::string_view::npos) continue;
        const long long pid = canonical_decimal(rest.substr(0, dot));
        if (pid <= 0 || pid > std::numeric_limits<pid_t>::max() ||
            canonical_decimal(rest.substr(dot + 1)) < 0)
            continue;
        if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
            (void)::unlinkat(::dirfd(d), e->d_name, 0);
    }
    ::closedir(d);
#else
    (void)path;
#endif
}

/// Writes `bytes` to `path` atomically (see `save`): to a temporary `<file>.tmp.<pid>.<n>`
/// beside the file, given the permission bits of the file it replaces, flushed to disk, then
/// renamed over it (the temporary is removed when anything fails).
inline void write_file_atomically(const std::string& path, const std::vector<std::byte>& bytes) {
    static std::atomic<unsigned> counter{0};
    std::string tmp;
    const auto failure = [&](const char* what, int err) {
        fail_system(err, "cannot save '", path, "': ", what, " '", tmp, "' failed");
    };
#ifdef EMBTAB_POSIX_FILES
    const std::string target = link_target(path);
    if (target.empty())
        fail_system(errno, "cannot save '", path, "': resolving the symbolic link failed");
    remove_stale_temporaries(path);
    struct ::stat st;
    const bool exists = ::stat(target.c_str(), &st) == 0;
    if (!exists && errno != ENOENT)
        fail_system(errno, "cannot save '", path, "': reading the status of '", target, "' failed");
    if (exists && !S_ISREG(st.st_mode)) fail_not_regular("cannot save", path, file_kind(st.st_mode));
    int fd = -1;
    for (int attempt = 0;; ++attempt) {
        tmp = concat(target, ".tmp.", ::getpid(), ".", counter++);
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
    // before a byte is written: a 0600 file's content is never readable by others
    if (exists && ::fchmod(fd, st.st_mode & 0777) != 0)
        abandon("setting the permissions of the temporary file");
    const std::byte* p = bytes.data();
    for (std::size_t left = bytes.size(); left > 0;) {
        const ::ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            abandon("writing the temporary file");
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) abandon("flushing the temporary file");
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) abandon("closing the temporary file");
    if (::rename(tmp.c_str(), target.c_str()) != 0) abandon("renaming the temporary file");
    // make the rename itself durable (best effort: some file systems refuse a directory fsync)
    const int dfd = ::open(directory_of(target).c_str(), O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
#else
    std::error_code status_error;
    const auto status = std::filesystem::status(path, status_error);
    if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
        fail_not_regular("cannot save", path, "a directory or a special file");
    tmp = concat(path, ".tmp.", counter++);
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) failure("creating the temporary file", errno);
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() &&
                    std::fflush(f) == 0;
    const int err = errno;
    if (std::fclose(f) != 0 || !ok) {
        const int reported = ok ? errno : err;
        std::remove(tmp.c_str());
        failure("writing the temporary file", reported);
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        throw std::system_error(ec, concat("embtab: cannot save '", path,
                                           "': renaming the temporary file '", tmp, "' failed"));
    }
#endif
}

/// A file open for reading, from its start; closed by the destructor. `regular_size` refuses
/// anything but a regular file before a byte is read. System failures throw `std::system_error`.
class input_file {
public:
    /// Opens `path` (a FIFO without a writer does not block: it is refused by `regular_size`).
    explicit input_file(const std::string& path) : path_(path) {
#ifdef EMBTAB_POSIX_FILES
        // O_NONBLOCK only for the open: a regular file's reads ignore it
        fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd_ < 0) fail_io("opening it", errno);
#else
        file_ = std::fopen(path.c_str(), "rb");
        if (!file_) fail_io("opening it", errno);
#endif
    }
    input_file(const input_file&) = delete;
    input_file& operator=(const input_file&) = delete;
    ~input_file() {
#ifdef EMBTAB_POSIX_FILES
        ::close(fd_);
#else
        std::fclose(file_);
#endif
    }

    /// The file's size; throws `bad_checkpoint` unless it is a regular file.
    std::uint64_t regular_size() const {
#ifdef EMBTAB_POSIX_FILES
        struct ::stat st;
        if (::fstat(fd_, &st) != 0) fail_io("reading its status", errno);
        if (!S_ISREG(st.st_mode)) fail_not_regular("cannot load", path_, file_kind(st.st_mode));
        return static_cast<std::uint64_t>(st.st_size);
#else
        std::error_code ec;
        const auto status = std::filesystem::status(path_, ec);
        const std::uint64_t size = ec ? 0 : std::filesystem::file_size(path_, ec);
        if (ec)
            throw std::system_error(ec, concat("embtab: cannot load '", path_,
                                               "': reading its status failed"));
        if (!std::filesystem::is_regular_file(status))
            fail_not_regular("cannot load", path_, "a directory or a special file");
        return size;
#endif
    }

    /// Reads up to `n` bytes into `out`, fewer only at the end of the file; returns how many.
    std::size_t read(std::byte* out, std::size_t n) {
        std::size_t done = 0;
#ifdef EMBTAB_POSIX_FILES
        while (done < n) {
            const ::ssize_t got = ::read(fd_, out + done, n - done);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) fail_io("reading it", errno);
            if (got == 0) break;
            done += static_cast<std::size_t>(got);
        }
#else
        done = std::fread(out, 1, n, file_);
        if (std::ferror(file_)) fail_io("reading it", errno);
#endif
        return done;
    }

private:
    [[noreturn]] void fail_io(const char* what, int err) const {
        fail_system(err, "cannot load '", path_, "': ", what, " failed");
    }

    std::string path_;
#ifdef EMBTAB_POSIX_FILES
    int fd_ = -1;
#else
    std::FILE* file_ = nullptr;
#endif
};

/// The checkpoint file `path` of a table whose signature is `expected`: only a regular file is
/// read, its header first (`check_header`, against the file's size), then the rest, never more
/// than the size it had when opened. So a device, a FIFO or a large file that is not a
/// checkpoint costs at most one header's read and memory. Throws `bad_checkpoint` (content; not
/// a regular file) or `std::system_error`.
inline std::vector<std::byte> read_checkpoint(const std::string& path, const std::string& expected) {
    input_file in(path);
    const std::uint64_t size = in.regular_size();
    if (static_cast<std::size_t>(size) != size)
        fail<bad_checkpoint>("cannot load '", path, "': its ", size, " bytes do not fit in memory");
    std::vector<std::byte> bytes(static_cast<std::size_t>(std::min<std::uint64_t>(size, max_header_bytes)));
    bytes.resize(in.read(bytes.data(), bytes.size()));
    naming_path(path, [&] { check_header(bytes.data(), bytes.size(), size, expected); });
    const std::size_t head = bytes.size();
    bytes.resize(static_cast<std::size_t>(size));
    bytes.resize(head + in.read(bytes.data() + head, bytes.size() - head));
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
/// file or the new one. The new file keeps the permission bits of the one it replaces (a new
/// one gets 0666 less the umask). A symbolic link `path` is saved through: the file it leads to
/// is replaced and the link stays (a link that leads nowhere throws `std::system_error`).
/// Removes first the temporaries that killed saves of `path` left (`<file>.tmp.<pid>.<n>` of a
/// process that no longer exists). Throws `bad_checkpoint` when `path` is a directory, a FIFO
/// or a device, and `std::system_error` (the errno; the path and the step in the message) when
/// the system fails. Permissions, links and temporaries as described on POSIX systems only.
template <class Table>
void save(const Table& table, const std::string& path) {
    detail::write_file_atomically(path, save_bytes(table));
}

/// Restores `table` from the checkpoint file `path`, as `load_bytes` (messages name the path).
/// Only a regular file is read (a FIFO or device throws `bad_checkpoint` at once), its header
/// first and never more than its size, so a file that is not a checkpoint costs one header's
/// read. Removes first the temporaries of killed saves, as `save` does. A failure of the system
/// (no such file, permission, read error) throws `std::system_error`.
template <class Table>
void load(Table& table, const std::string& path) {
    detail::remove_stale_temporaries(path);
    const std::vector<std::byte> bytes = detail::read_checkpoint(path, table.signature());
    detail::naming_path(path, [&] { load_bytes(table, bytes.data(), bytes.size()); });
}

}  // namespace embtab
