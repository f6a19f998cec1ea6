# One consumer check, run by ctest (registered in tests/CMakeLists.txt):
#   cmake -DMODE=<mode> -D... -P cmake/run_consumer.cmake
# MODE=install    install embtab's build tree, move the prefix to <WORK_DIR>/relocated and check
#                 that no file in it names the source or build tree (relocatable install).
# MODE=cmake      configure and build tests/consumers/<CONSUMER> (its build runs the app);
#                 with INSTALLED, CMAKE_PREFIX_PATH is the relocated prefix.
# MODE=pkgconfig  compile tests/consumers/main.cpp with `pkg-config --cflags embtab` against the
#                 relocated prefix, then run it.
# Other inputs: CONSUMERS_DIR WORK_DIR EMBTAB_SOURCE_DIR EMBTAB_BINARY_DIR PKGCONFIG_SUBDIR
#               CONFIG GENERATOR MAKE_PROGRAM CXX_COMPILER CXX_STANDARD
cmake_minimum_required(VERSION 3.16)

set(prefix "${WORK_DIR}/prefix")
set(relocated "${WORK_DIR}/relocated")
if(NOT CONFIG)
    set(CONFIG Release)
endif()
if(NOT CXX_STANDARD)
    set(CXX_STANDARD 17)
endif()

# run(<what> <command>...): runs a command; on failure, fails the test showing its output.
# The command's standard output is returned in RUN_OUTPUT.
function(run what)
    message(STATUS "${what}")
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE result
                    OUTPUT_VARIABLE out ERROR_VARIABLE err OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT result EQUAL 0)
        string(REPLACE ";" " " command "${ARGN}")
        message(FATAL_ERROR "${what}: failed (${result})\n$ ${command}\n${out}\n${err}")
    endif()
    set(RUN_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

# check_relocatable(<dir>): no installed file may contain an absolute source/build tree path.
function(check_relocatable dir)
    file(GLOB_RECURSE files "${dir}/*")
    foreach(file IN LISTS files)
        file(READ "${file}" text)
        foreach(path IN ITEMS "${EMBTAB_SOURCE_DIR}" "${EMBTAB_BINARY_DIR}")
            string(FIND "${text}" "${path}" position)
            if(position GREATER -1)
                message(FATAL_ERROR "${file} contains the absolute path ${path}: "
                                    "the install tree is not relocatable")
            endif()
        endforeach()
    endforeach()
    list(LENGTH files count)
    message(STATUS "relocatable: ${count} installed files checked")
endfunction()

if(MODE STREQUAL "install")
    file(REMOVE_RECURSE "${prefix}" "${relocated}")
    run("install embtab into ${prefix}" "${CMAKE_COMMAND}"
        --install "${EMBTAB_BINARY_DIR}" --prefix "${prefix}" --config "${CONFIG}")
    # Move (not copy), so nothing can keep working through the original location.
    file(RENAME "${prefix}" "${relocated}")
    check_relocatable("${relocated}")

elseif(MODE STREQUAL "cmake")
    set(binary_dir "${WORK_DIR}/${CONSUMER}")
    file(REMOVE_RECURSE "${binary_dir}")
    set(args -S "${CONSUMERS_DIR}/${CONSUMER}" -B "${binary_dir}" -G "${GENERATOR}"
             "-DCMAKE_BUILD_TYPE=${CONFIG}"
             "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
             "-DCMAKE_CXX_STANDARD=${CXX_STANDARD}"
             "-DEMBTAB_SOURCE_DIR=${EMBTAB_SOURCE_DIR}"
             -DEMBTAB_FETCH_DEPS=OFF)
    if(MAKE_PROGRAM)
        list(APPEND args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
    endif()
    if(INSTALLED)
        list(APPEND args "-DCMAKE_PREFIX_PATH=${relocated}" "-DEMBTAB_EXPECTED_PREFIX=${relocated}")
    endif()
    run("configure consumer ${CONSUMER}" "${CMAKE_COMMAND}" ${args})
    run("build and run consumer ${CONSUMER}"
        "${CMAKE_COMMAND}" --build "${binary_dir}" --config "${CONFIG}")

elseif(MODE STREQUAL "pkgconfig")
    find_program(PKG_CONFIG_EXECUTABLE NAMES pkg-config pkgconf)
    if(NOT PKG_CONFIG_EXECUTABLE)
        message("embtab-consumer-skipped: pkg-config not found")
        return()
    endif()
    set(binary_dir "${WORK_DIR}/pkgconfig")
    file(REMOVE_RECURSE "${binary_dir}")
    file(MAKE_DIRECTORY "${binary_dir}")
    set(ENV{PKG_CONFIG_PATH} "${relocated}/${PKGCONFIG_SUBDIR}")
    run("pkg-config --cflags embtab" "${PKG_CONFIG_EXECUTABLE}" --cflags embtab)
    separate_arguments(cflags UNIX_COMMAND "${RUN_OUTPUT}")
    message(STATUS "cflags: ${RUN_OUTPUT}")
    run("compile consumer with pkg-config"
        "${CXX_COMPILER}" -std=c++${CXX_STANDARD} ${cflags}
        "${CONSUMERS_DIR}/main.cpp" -o "${binary_dir}/app")
    run("run consumer" "${binary_dir}/app")

else()
    message(FATAL_ERROR "run_consumer.cmake: unknown MODE '${MODE}'")
endif()
