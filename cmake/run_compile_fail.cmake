# One compile-fail check, run by ctest (registered in tests/compile_fail/CMakeLists.txt):
#   cmake -DSOURCE=<file.cpp> -DBUILD_DIR=<top build dir> -DTARGET=<target> -DCONFIG=<config>
#         -P cmake/run_compile_fail.cmake
# Building TARGET (made from SOURCE only) must fail, and its output must match the CMake regex on
# SOURCE's first line, `// expect: <regex>`; a build that fails for another reason fails the test.
cmake_minimum_required(VERSION 3.16)

# The expectation.
file(STRINGS "${SOURCE}" first_line LIMIT_COUNT 1)
string(STRIP "${first_line}" first_line)
if(NOT first_line MATCHES "^// expect: (.+)$")
    message(FATAL_ERROR "${SOURCE}: the first line must be `// expect: <regex>`")
endif()
set(expected "${CMAKE_MATCH_1}")

# The build that must fail.
set(config_args "")
if(CONFIG)
    set(config_args --config "${CONFIG}")
endif()
execute_process(
    COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}" ${config_args}
    RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(result EQUAL 0)
    message(FATAL_ERROR "${SOURCE} compiled, but must fail with /${expected}/")
endif()
if(NOT output MATCHES "${expected}")
    message(FATAL_ERROR "${SOURCE} failed to compile, but not with /${expected}/:\n${output}")
endif()
message(STATUS "failed as expected: ${CMAKE_MATCH_0}")
