# Helpers for embtab's own (non-installed) targets: tests, examples, benchmarks.

# embtab_target_defaults(<target> [WERROR])
# Warnings (as errors with WERROR) and the EMBTAB_SANITIZE sanitizers for one internal target.
# Never applied to the exported `embtab` target, so consumers don't inherit them.
function(embtab_target_defaults target)
    cmake_parse_arguments(PARSE_ARGV 1 arg "WERROR" "" "")
    if(MSVC)
        set(warnings /W4 /permissive-)
        set(werror /WX)
    else()
        set(warnings -Wall -Wextra -Wpedantic)
        set(werror -Werror)
    endif()
    if(arg_WERROR)
        list(APPEND warnings ${werror})
    endif()
    target_compile_options(${target} PRIVATE ${warnings})
    if(EMBTAB_SANITIZE)
        set(flags -fsanitize=${EMBTAB_SANITIZE} -fno-omit-frame-pointer
                  -fno-sanitize-recover=all)
        target_compile_options(${target} PRIVATE ${flags})
        target_link_options(${target} PRIVATE ${flags})
        # GCC's -Wmaybe-uninitialized gives false positives in libstdc++ under ASan
        # (e.g. std::function in <regex>, GCC 12); sanitizer builds check that at run time.
        if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
            target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
        endif()
    endif()
endfunction()

# embtab_add_programs(<source-dir> [LIBRARIES <lib>...] [EXCEPT <name>...])
# One executable per <source-dir>/*.cpp (but the EXCEPT names), named after the file and linked
# to embtab::embtab and <lib>...; the glob is re-checked at build time, so new files are picked up.
function(embtab_add_programs dir)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "LIBRARIES;EXCEPT")
    file(GLOB sources CONFIGURE_DEPENDS "${dir}/*.cpp")
    foreach(source IN LISTS sources)
        get_filename_component(name "${source}" NAME_WE)
        if(name IN_LIST arg_EXCEPT)
            continue()
        endif()
        add_executable(${name} "${source}")
        target_link_libraries(${name} PRIVATE embtab::embtab ${arg_LIBRARIES})
        embtab_target_defaults(${name})
    endforeach()
endfunction()

# embtab_add_dlrm_program(<target> <source>)
# A program built on the DLRM example (examples/dlrm, examples/data): threads, and — since it
# measures speed on the machine that builds it — -march=native unless EMBTAB_EXAMPLES_NATIVE is
# OFF, without AVX-512 (Eigen's AVX2 kernels train faster here, and GCC 12 warns falsely inside
# its own AVX-512 intrinsics).
option(EMBTAB_EXAMPLES_NATIVE
       "Compile the DLRM demo and bench/quality with -march=native (they run where they are built)"
       ON)
function(embtab_add_dlrm_program target source)
    add_executable(${target} "${source}")
    find_package(Threads REQUIRED)
    target_include_directories(${target} PRIVATE "${PROJECT_SOURCE_DIR}/examples")
    target_link_libraries(${target} PRIVATE embtab::embtab Threads::Threads)
    embtab_target_defaults(${target})
    if(EMBTAB_EXAMPLES_NATIVE AND NOT MSVC)
        include(CheckCXXCompilerFlag)
        check_cxx_compiler_flag("-march=native -mno-avx512f" EMBTAB_HAS_MARCH_NATIVE)
        if(EMBTAB_HAS_MARCH_NATIVE)
            target_compile_options(${target} PRIVATE -march=native -mno-avx512f)
        endif()
    endif()
endfunction()
