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

# embtab_add_programs(<source-dir> [LIBRARIES <lib>...])
# One executable per <source-dir>/*.cpp, named after the file and linked to embtab::embtab
# and <lib>...; the glob is re-checked at build time, so new files are picked up.
function(embtab_add_programs dir)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "LIBRARIES")
    file(GLOB sources CONFIGURE_DEPENDS "${dir}/*.cpp")
    foreach(source IN LISTS sources)
        get_filename_component(name "${source}" NAME_WE)
        add_executable(${name} "${source}")
        target_link_libraries(${name} PRIVATE embtab::embtab ${arg_LIBRARIES})
        embtab_target_defaults(${name})
    endforeach()
endfunction()
