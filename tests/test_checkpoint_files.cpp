// Checkpoint files: what `load` refuses before reading it (devices, FIFOs, directories, large
// files that are not checkpoints), system failures as std::system_error and bad content as
// bad_checkpoint, permission bits and symbolic links kept by `save`, and the temporaries of
// killed saves removed (nothing else).
#include <embtab/embtab.hpp>
#include <embtab/io/checkpoint.hpp>

#if defined(__unix__) || defined(__APPLE__)

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "catch.hpp"

using namespace embtab;
using bytes_t = std::vector<std::byte>;
namespace fs = std::filesystem;
using Catch::Matchers::ContainsSubstring;

namespace {

using table_t = full_table<f32, adagrad>;
table_t make_table(std::uint64_t seed) { return table_t(24, 4, adagrad{0.1f}, seed); }

/// A fresh directory under the system's temporary directory, removed with everything in it.
struct temp_dir {
    fs::path path;
    temp_dir() {
        std::random_device rd;
        path = fs::temp_directory_path() / ("embtab_checkpoint_files_" + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

/// The names in directory `dir`.
std::set<std::string> files(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
    return names;
}

/// The content of the file `path`.
bytes_t read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> c((std::istreambuf_iterator<char>(in)), {});
    bytes_t b(c.size());
    if (!c.empty()) std::memcpy(b.data(), c.data(), c.size());
    return b;
}

/// Writes `bytes` to `path`, then makes the file `size` bytes long (sparse beyond `bytes`).
void write_sparse(const std::string& path, const bytes_t& bytes, off_t size) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    REQUIRE(::ftruncate(fd, size) == 0);
    REQUIRE(::close(fd) == 0);
}

/// The permission bits of the file `path` (following symbolic links).
unsigned mode_of(const std::string& path) {
    struct stat st;
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

/// Seconds `f` takes.
double seconds(const std::function<void()>& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Checks that `save(t, path)` (`saving`) or `load(t, path)` throws `std::system_error` with
/// `code`, naming `path`.
void require_system_error(table_t& t, const std::string& path, std::errc code, bool saving) {
    try {
        if (saving) save(t, path);
        else load(t, path);
        FAIL("no exception");
    } catch (const std::system_error& e) {
        INFO(e.what());
        REQUIRE(e.code() == std::error_code(static_cast<int>(code), std::generic_category()));
        REQUIRE_THAT(e.what(), ContainsSubstring(path));
    }
}

/// A process id that no process has: the pid of a child that has exited and been reaped.
pid_t dead_pid() {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) ::_exit(0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE((::kill(child, 0) == -1 && errno == ESRCH));
    return child;
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define EMBTAB_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EMBTAB_TEST_SANITIZED 1
#endif

#if defined(__linux__) && !defined(EMBTAB_TEST_SANITIZED)
/// Runs `f` in a child process whose address space may grow by `limit` bytes at most; true when
/// `f` returned true there (sanitizers reserve address space, so this runs without them only).
bool within_address_space(std::size_t limit, const std::function<bool()>& f) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::alarm(20);  // a hang is a failure
        std::size_t pages = 0;
        std::ifstream("/proc/self/statm") >> pages;
        const auto cap = static_cast<rlim_t>(pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) + limit);
        const rlimit r{cap, cap};
        ::_exit(pages != 0 && ::setrlimit(RLIMIT_AS, &r) == 0 && f() ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
#endif

}  // namespace

TEST_CASE("checkpoint files: a device or FIFO or directory is refused unread",
          "[checkpoint][checkpoint_files]") {
    temp_dir dir;
    auto t = make_table(1);
    const bytes_t before = save_bytes(t);
    const std::string fifo = dir / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);  // no writer: opening it to read would block
    for (const std::string& path : {std::string("/dev/zero"), fifo, dir.path.string()}) {
        INFO(path);
        const double took = seconds([&] {
            REQUIRE_THROWS_AS(load(t, path), bad_checkpoint);
            REQUIRE_THROWS_WITH(load(t, path), ContainsSubstring("'" + path + "'") &&
                                                   ContainsSubstring("not a regular file"));
        });
        REQUIRE(took < 1.0);
        REQUIRE(save_bytes(t) == before);
    }
    // nor is a FIFO replaced by a save
    REQUIRE_THROWS_WITH(save(t, fifo), ContainsSubstring("'" + fifo + "'") &&
                                           ContainsSubstring("not a regular file"));
    struct stat st;
    REQUIRE(::lstat(fifo.c_str(), &st) == 0);
    REQUIRE(S_ISFIFO(st.st_mode));
    REQUIRE(files(dir.path) == std::set<std::string>{"fifo"});
}

TEST_CASE("checkpoint files: a large file that is not a checkpoint fails after its header",
          "[checkpoint][checkpoint_files]") {
    temp_dir dir;
    auto t = make_table(1);
    const bytes_t before = save_bytes(t);
    constexpr off_t big = off_t(256) << 20;

    // zeros: a bad magic number, seen in the first 8 bytes
    const std::string zeros = dir / "zeros.ckpt";
    write_sparse(zeros, {}, big);
    REQUIRE(seconds([&] {
                REQUIRE_THROWS_AS(load(t, zeros), bad_checkpoint);
                REQUIRE_THROWS_WITH(load(t, zeros), ContainsSubstring(zeros) &&
                                                        ContainsSubstring("not an embtab checkpoint"));
            }) < 1.0);
    REQUIRE(save_bytes(t) == before);

    // a good header whose payload length does not match the file's size
    std::uint32_t signature_length = 0;
    std::memcpy(&signature_length, before.data() + 12, 4);  // little-endian hosts (the test's)
    const bytes_t header(before.begin(), before.begin() + 24 + signature_length);
    const std::string padded = dir / "padded.ckpt";
    write_sparse(padded, header, big);
    REQUIRE(seconds([&] {
                REQUIRE_THROWS_WITH(load(t, padded), ContainsSubstring(padded) &&
                                                         ContainsSubstring("payload length says"));
            }) < 1.0);
    REQUIRE(save_bytes(t) == before);

#if defined(__linux__) && !defined(EMBTAB_TEST_SANITIZED)
    // neither is read into memory: both fail with bad_checkpoint (not bad_alloc) when the address
    // space cannot hold them
    for (const std::string& path : {zeros, padded}) {
        INFO(path);
        REQUIRE(within_address_space(std::size_t(64) << 20, [&] {
            try {
                load(t, path);
            } catch (const bad_checkpoint&) {
                return true;
            } catch (...) {
            }
            return false;
        }));
    }
#endif
}

TEST_CASE("checkpoint files: system failures are std::system_error and bad content bad_checkpoint",
          "[checkpoint][checkpoint_files]") {
    static_assert(std::is_base_of_v<std::invalid_argument, bad_checkpoint>);
    temp_dir dir;
    auto t = make_table(1);
    const bytes_t before = save_bytes(t);
    require_system_error(t, dir / "missing.ckpt", std::errc::no_such_file_or_directory, false);
    require_system_error(t, dir / "no/such/dir/table.ckpt", std::errc::no_such_file_or_directory,
                         true);
    REQUIRE(save_bytes(t) == before);
    REQUIRE(files(dir.path).empty());

    const std::string path = dir / "table.ckpt";
    save(t, path);
    if (::geteuid() != 0) {
        REQUIRE(::chmod(path.c_str(), 0) == 0);
        require_system_error(t, path, std::errc::permission_denied, false);
        REQUIRE(::chmod(path.c_str(), 0644) == 0);
        const std::string locked = dir / "locked";
        fs::create_directories(locked);
        REQUIRE(::chmod(locked.c_str(), 0555) == 0);
        require_system_error(t, locked + "/table.ckpt", std::errc::permission_denied, true);
        REQUIRE(::chmod(locked.c_str(), 0755) == 0);
        fs::remove(locked);
    } else {
        WARN("running as root: the permission checks are skipped");
    }

    SECTION("a failing write leaves the previous file and no temporary") {
        // at most 256 bytes a file: the write of the temporary fails with EFBIG (SIGXFSZ ignored)
        struct restore {
            rlimit limit{};
            void (*handler)(int) = SIG_DFL;
            ~restore() {
                ::setrlimit(RLIMIT_FSIZE, &limit);
                ::signal(SIGXFSZ, handler);
            }
        } saved;
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved.limit) == 0);
        saved.handler = ::signal(SIGXFSZ, SIG_IGN);
        const rlimit small{256, saved.limit.rlim_max};
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
        REQUIRE(before.size() > 256);
        auto other = make_table(2);
        require_system_error(other, path, std::errc::file_too_large, true);
        REQUIRE(read_all(path) == before);
        REQUIRE(files(dir.path) == std::set<std::string>{"table.ckpt"});
    }
    SECTION("bad content is bad_checkpoint") {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << "not a checkpoint";
        auto other = make_table(2);
        const bytes_t other_before = save_bytes(other);
        REQUIRE_THROWS_AS(load(other, path), bad_checkpoint);
        REQUIRE(save_bytes(other) == other_before);
    }
}

TEST_CASE("checkpoint files: save keeps the permission bits of the file it replaces",
          "[checkpoint][checkpoint_files]") {
    temp_dir dir;
    const std::string path = dir / "table.ckpt";
    const mode_t mask = ::umask(022);
    ::umask(mask);
    auto t = make_table(1);
    save(t, path);
    REQUIRE(mode_of(path) == (0666u & ~unsigned(mask)));  // a new file: as any other
    for (const unsigned mode : {0600u, 0640u, 0400u}) {
        INFO(mode);
        REQUIRE(::chmod(path.c_str(), mode) == 0);
        t = make_table(mode);
        save(t, path);
        REQUIRE(mode_of(path) == mode);
        REQUIRE(read_all(path) == save_bytes(t));
    }
    REQUIRE(files(dir.path) == std::set<std::string>{"table.ckpt"});
}

TEST_CASE("checkpoint files: save through a symbolic link replaces its target and keeps the link",
          "[checkpoint][checkpoint_files]") {
    temp_dir dir;
    fs::create_directories(dir.path / "real");
    fs::create_directories(dir.path / "links");
    const std::string target = dir / "real/table.ckpt";
    const std::string link = dir / "links/latest.ckpt";
    const auto t1 = make_table(1);
    save(t1, target);
    REQUIRE(::chmod(target.c_str(), 0600) == 0);
    REQUIRE(::symlink("../real/table.ckpt", link.c_str()) == 0);

    const auto t2 = make_table(2);
    save(t2, link);
    REQUIRE(fs::is_symlink(link));
    REQUIRE(fs::read_symlink(link) == "../real/table.ckpt");
    REQUIRE(read_all(target) == save_bytes(t2));
    REQUIRE(mode_of(target) == 0600);
    auto u = make_table(3);
    load(u, link);
    REQUIRE(save_bytes(u) == save_bytes(t2));
    REQUIRE(files(dir.path / "real") == std::set<std::string>{"table.ckpt"});
    REQUIRE(files(dir.path / "links") == std::set<std::string>{"latest.ckpt"});

    // a link to nothing is not replaced by a file
    const std::string dangling = dir / "links/dangling.ckpt";
    REQUIRE(::symlink("../real/none.ckpt", dangling.c_str()) == 0);
    REQUIRE_THROWS_AS(save(t2, dangling), std::system_error);
    REQUIRE(fs::is_symlink(dangling));
    REQUIRE(files(dir.path / "real") == std::set<std::string>{"table.ckpt"});
}

TEST_CASE("checkpoint files: temporaries of killed saves are removed and nothing else",
          "[checkpoint][checkpoint_files]") {
    temp_dir dir;
    const std::string path = dir / "table.ckpt";
    const std::string dead = std::to_string(dead_pid());
    const std::string self = std::to_string(::getpid());
    const std::string stale = "table.ckpt.tmp." + dead + ".0";
    const std::set<std::string> kept = {
        "table.ckpt.tmp." + self + ".3",        // this process: may be a save in progress
        "table.ckpt.tmp.1.0",                   // a live process
        "table.ckpt.tmp." + dead + ".x",        // not the pattern
        "table.ckpt.tmp." + dead + ".0.old",    //
        "table.ckpt.tmp." + dead,               //
        "table.ckpt.tmp.0" + dead + ".0",       //
        "table.ckpt.tmp.-" + dead + ".0",       //
        "other.ckpt.tmp." + dead + ".0",        // another checkpoint's
        "xtable.ckpt.tmp." + dead + ".0",       //
        "table.ckpt.tmp.99999999999999999999.0",
    };
    const auto create = [&](const std::string& name) { std::ofstream(dir / name) << "partial"; };
    for (const auto& name : kept) create(name);
    create(stale);
    create("table.ckpt.tmp." + dead + ".12");

    std::set<std::string> expected = kept;
    expected.insert("table.ckpt");
    const auto t = make_table(1);
    save(t, path);
    REQUIRE(files(dir.path) == expected);
    REQUIRE(read_all(path) == save_bytes(t));

    create(stale);
    auto u = make_table(2);
    load(u, path);
    REQUIRE(files(dir.path) == expected);
    REQUIRE(save_bytes(u) == save_bytes(t));

    // through a symbolic link: the target's directory is cleaned
    fs::create_directories(dir.path / "links");
    const std::string link = dir / "links/latest.ckpt";
    REQUIRE(::symlink("../table.ckpt", link.c_str()) == 0);
    create(stale);
    save(t, link);
    expected.insert("links");
    REQUIRE(files(dir.path) == expected);
}

#endif
