# Finds embtab's dependencies; with EMBTAB_FETCH_DEPS, downloads what find_package can't find.
#   Eigen3::Eigen, xxHash::xxhash   always (the embtab interface needs them)
#   Catch2                          when EMBTAB_BUILD_TESTS (sets EMBTAB_CATCH2_V3)
#   benchmark::benchmark_main       when EMBTAB_BUILD_BENCHMARKS
include(FetchContent)

# embtab_require_fetch(<what>): stop with a hint unless EMBTAB_FETCH_DEPS allows a download.
function(embtab_require_fetch what)
    if(NOT EMBTAB_FETCH_DEPS)
        message(FATAL_ERROR "embtab: ${what} not found and EMBTAB_FETCH_DEPS is OFF; install it "
                            "(scripts/deps.sh) or add its prefix to CMAKE_PREFIX_PATH.")
    endif()
    message(STATUS "embtab: ${what} not found, fetching it with FetchContent")
endfunction()

# embtab_fetch_headers(<name> <url> <target>)
# Downloads a header-only dependency without running its CMakeLists.txt (SOURCE_SUBDIR points
# at a directory without one) and wraps its top directory in an IMPORTED GLOBAL target, the
# same kind of target find_package would have made (so its headers are SYSTEM headers too).
function(embtab_fetch_headers name url target)
    FetchContent_Declare(${name} URL "${url}" SOURCE_SUBDIR embtab-headers-only)
    FetchContent_MakeAvailable(${name})
    FetchContent_GetProperties(${name} SOURCE_DIR source_dir)
    add_library(${target} INTERFACE IMPORTED GLOBAL)
    set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${source_dir}")
endfunction()

# embtab_fetch_project(<name> <git-repository> <tag>): downloads and add_subdirectory()s it.
function(embtab_fetch_project name repository tag)
    FetchContent_Declare(${name} GIT_REPOSITORY "${repository}" GIT_TAG "${tag}" GIT_SHALLOW TRUE)
    FetchContent_MakeAvailable(${name})
endfunction()

# Eigen (header only). A parent project may already provide the target.
if(NOT TARGET Eigen3::Eigen)
    find_package(Eigen3 3.3 CONFIG QUIET)
endif()
if(NOT TARGET Eigen3::Eigen)
    embtab_require_fetch("Eigen3 >= 3.3")
    embtab_fetch_headers(embtab_eigen3
        "https://gitlab.com/libeigen/eigen/-/archive/3.4.0/eigen-3.4.0.tar.gz" Eigen3::Eigen)
    set(Eigen3_VERSION "3.4.0 (fetched)")
endif()

# xxHash (used header-only; see cmake/FindxxHash.cmake).
if(NOT TARGET xxHash::xxhash)
    find_package(xxHash 0.8 QUIET)
endif()
if(NOT TARGET xxHash::xxhash)
    embtab_require_fetch("xxHash >= 0.8")
    embtab_fetch_headers(embtab_xxhash
        "https://github.com/Cyan4973/xxHash/archive/refs/tags/v0.8.2.tar.gz" xxHash::xxhash)
    set(xxHash_VERSION "0.8.2 (fetched)")
endif()
message(STATUS "embtab: Eigen3 ${Eigen3_VERSION}, xxHash ${xxHash_VERSION}")

# Catch2: v3 preferred, v2 accepted; the tests' catch.hpp shim hides the difference.
if(EMBTAB_BUILD_TESTS)
    find_package(Catch2 3 CONFIG QUIET)
    if(NOT Catch2_FOUND)
        find_package(Catch2 2 CONFIG QUIET)
    endif()
    if(NOT Catch2_FOUND)
        embtab_require_fetch("Catch2")
        embtab_fetch_project(Catch2 https://github.com/catchorg/Catch2.git v3.5.4)
        set(Catch2_VERSION 3.5.4)
    endif()
    if(Catch2_VERSION VERSION_GREATER_EQUAL 3)
        set(EMBTAB_CATCH2_V3 ON)
    else()
        set(EMBTAB_CATCH2_V3 OFF)
    endif()
    message(STATUS "embtab: tests use Catch2 ${Catch2_VERSION}")
endif()

# Google Benchmark.
if(EMBTAB_BUILD_BENCHMARKS)
    find_package(benchmark CONFIG QUIET)
    if(NOT benchmark_FOUND)
        embtab_require_fetch("Google Benchmark")
        set(BENCHMARK_ENABLE_TESTING OFF CACHE BOOL "")
        set(BENCHMARK_ENABLE_INSTALL OFF CACHE BOOL "")
        embtab_fetch_project(benchmark https://github.com/google/benchmark.git v1.8.3)
    endif()
endif()
