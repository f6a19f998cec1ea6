# packaging.test_package: builds Conan's test_package/ with plain CMake against an installed,
# relocated embtab (found through CMAKE_PREFIX_PATH only, as Conan's CMakeDeps would provide it),
# then runs it.
#   cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DPREFIX=<install prefix> [-DCONFIG=...]
#         [-DGENERATOR=...] [-DMAKE_PROGRAM=...] [-DCXX_COMPILER=...] -P run_test_package.cmake
cmake_minimum_required(VERSION 3.16)
if(NOT CONFIG)
    set(CONFIG Release)
endif()
if(NOT EXISTS "${PREFIX}")
    message(FATAL_ERROR "no install tree at ${PREFIX} (made by the consumer.install test)")
endif()

function(run what)
    message(STATUS "${what}")
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE result
                    OUTPUT_VARIABLE out ERROR_VARIABLE err)
    message(STATUS "${out}")
    if(NOT result EQUAL 0)
        string(REPLACE ";" " " command "${ARGN}")
        message(FATAL_ERROR "${what}: failed (${result})\n$ ${command}\n${out}\n${err}")
    endif()
endfunction()

file(REMOVE_RECURSE "${BINARY_DIR}")
set(args -S "${SOURCE_DIR}" -B "${BINARY_DIR}" "-DCMAKE_BUILD_TYPE=${CONFIG}"
         "-DCMAKE_PREFIX_PATH=${PREFIX}")
if(GENERATOR)
    list(APPEND args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
    list(APPEND args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
    list(APPEND args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
run("configure test_package" "${CMAKE_COMMAND}" ${args})
run("build test_package" "${CMAKE_COMMAND}" --build "${BINARY_DIR}" --config "${CONFIG}")

# Single-config generators put it in BINARY_DIR, multi-config ones in BINARY_DIR/<CONFIG>.
foreach(candidate IN ITEMS "${BINARY_DIR}/test_package" "${BINARY_DIR}/${CONFIG}/test_package"
                           "${BINARY_DIR}/test_package.exe"
                           "${BINARY_DIR}/${CONFIG}/test_package.exe")
    if(EXISTS "${candidate}")
        run("run test_package" "${candidate}")
        return()
    endif()
endforeach()
message(FATAL_ERROR "test_package was built, but no executable found in ${BINARY_DIR}")
