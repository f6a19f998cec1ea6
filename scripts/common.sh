# shellcheck shell=bash
# Shared by scripts/*.sh (sourced, not run): the repo root and the build presets.
# Environment overrides: CXX (compiler), JOBS (parallelism), EMBTAB_BUILD_DIR (build directory,
# default build/<preset>), EMBTAB_CMAKE_ARGS (extra configure arguments, split on spaces).

EMBTAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC2034  # used by the scripts that source this file
EMBTAB_JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

# embtab_deps: install missing Debian packages (plus the compiler named by CXX, if clang).
embtab_deps() {
    local extra=()
    case "${CXX:-}" in
        *clang*) extra=(clang libclang-rt-dev) ;;
    esac
    bash "$EMBTAB_ROOT/scripts/deps.sh" "${extra[@]}"
}

# embtab_configure <preset> [cmake-args...]: configure build/<preset> with Ninja.
# Sets EMBTAB_BUILD_DIR, EMBTAB_BUILD_TARGETS (the targets the preset needs built; empty: all)
# and EMBTAB_CTEST_ARGS (extra ctest arguments for the preset).
#   default   Release, C++17
#   sanitize  Debug -O1 with ASan+UBSan and EMBTAB_CHECK_ACCESS; no benchmarks or examples (the
#             tests include the examples' code; nothing runs the programs), consumer tests
#             skipped (time)
#   cxx20     Release, C++20
#   tsan      Debug -O1 with ThreadSanitizer; builds embtab_tests only and runs only the
#             [concurrency] cases (ctest label `concurrency`, the test embtab_tests.concurrency)
#   fuzz      Debug -O1 with EMBTAB_BUILD_FUZZERS, for scripts/fuzz.sh (which sets CXX=clang++)
# The [concurrency] cases run inside `embtab_tests` in every preset; the separate
# embtab_tests.concurrency test is for tsan, so the other presets skip it (label `concurrency`).
embtab_configure() {
    local preset="$1"
    shift
    local args=()
    # shellcheck disable=SC2034  # read by scripts/test.sh
    EMBTAB_CTEST_ARGS=(-LE concurrency)
    # shellcheck disable=SC2034  # read by scripts/test.sh
    EMBTAB_BUILD_TARGETS=()
    case "$preset" in
        default) args=(-DCMAKE_BUILD_TYPE=Release) ;;
        sanitize)
            # shellcheck disable=SC2054  # the comma belongs to -fsanitize's value
            # EMBTAB_CHECK_ACCESS: every test also checks the tables' threading rule
            args=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1 -DEMBTAB_CHECK_ACCESS"
                  -DEMBTAB_SANITIZE=address,undefined -DEMBTAB_BUILD_BENCHMARKS=OFF
                  -DEMBTAB_BUILD_EXAMPLES=OFF)
            # shellcheck disable=SC2034
            EMBTAB_CTEST_ARGS=(-LE 'consumer|concurrency')
            ;;
        cxx20) args=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_STANDARD=20) ;;
        tsan)
            args=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1 -DEMBTAB_CHECK_ACCESS"
                  -DEMBTAB_SANITIZE=thread -DEMBTAB_BUILD_BENCHMARKS=OFF
                  -DEMBTAB_BUILD_EXAMPLES=OFF)
            # shellcheck disable=SC2034
            EMBTAB_BUILD_TARGETS=(--target embtab_tests)
            # shellcheck disable=SC2034
            EMBTAB_CTEST_ARGS=(-L concurrency --no-tests=error)
            ;;
        fuzz)
            # libFuzzer targets (tests/fuzz; needs CXX=clang++): Debug -O1, asserts on.
            args=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1"
                  -DEMBTAB_BUILD_FUZZERS=ON -DEMBTAB_BUILD_BENCHMARKS=OFF
                  -DEMBTAB_BUILD_EXAMPLES=OFF)
            # shellcheck disable=SC2034
            EMBTAB_BUILD_TARGETS=(--target embtab_fuzz_load embtab_fuzz_make_corpus)
            ;;
        *)
            echo "unknown preset '$preset' (expected: default, sanitize, cxx20, tsan, fuzz)" >&2
            return 2
            ;;
    esac
    if [[ -n "${CXX:-}" ]]; then
        # A full path, so an unchanged CXX never looks like a compiler change to CMake.
        args+=("-DCMAKE_CXX_COMPILER=$(command -v "$CXX" || echo "$CXX")")
    fi
    # shellcheck disable=SC2206  # word splitting is the point
    args+=(${EMBTAB_CMAKE_ARGS:-})
    EMBTAB_BUILD_DIR="${EMBTAB_BUILD_DIR:-$EMBTAB_ROOT/build/$preset}"
    cmake -S "$EMBTAB_ROOT" -B "$EMBTAB_BUILD_DIR" -G Ninja "${args[@]}" "$@"
}
