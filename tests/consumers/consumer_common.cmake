# Shared by the consumer projects in tests/consumers/*/ (driven by cmake/run_consumer.cmake).
set(EMBTAB_CONSUMERS_DIR "${CMAKE_CURRENT_LIST_DIR}")

# embtab_consumer_app(): the app, linked to embtab::embtab and run right after it is built,
# so building the consumer also proves the program works.
function(embtab_consumer_app)
    add_executable(app "${EMBTAB_CONSUMERS_DIR}/main.cpp")
    target_link_libraries(app PRIVATE embtab::embtab)
    add_custom_command(TARGET app POST_BUILD COMMAND app
                       COMMENT "Running the consumer app" VERBATIM)
endfunction()

# embtab_consumer_expect_subproject(): embtab added as a subproject (add_subdirectory or
# FetchContent) must not add its tests, examples, benchmarks or install rules.
function(embtab_consumer_expect_subproject)
    foreach(option IN ITEMS EMBTAB_BUILD_TESTS EMBTAB_BUILD_EXAMPLES EMBTAB_BUILD_BENCHMARKS
                            EMBTAB_INSTALL)
        if(${option})
            message(FATAL_ERROR "embtab as a subproject: ${option} is ON, expected OFF")
        endif()
    endforeach()
    get_property(subdirectories DIRECTORY "${EMBTAB_SOURCE_DIR}" PROPERTY SUBDIRECTORIES)
    if(subdirectories)
        message(FATAL_ERROR "embtab as a subproject added subdirectories: ${subdirectories}")
    endif()
    if(NOT TARGET embtab::embtab)
        message(FATAL_ERROR "embtab as a subproject: no embtab::embtab target")
    endif()
endfunction()

# embtab_consumer_expect_found_in(<prefix>): find_package must have used that install prefix.
function(embtab_consumer_expect_found_in prefix)
    get_filename_component(prefix "${prefix}" REALPATH)
    get_filename_component(found "${embtab_DIR}" REALPATH)
    string(FIND "${found}" "${prefix}/" position)
    if(NOT position EQUAL 0)
        message(FATAL_ERROR "embtab was found in ${found}, expected under ${prefix}")
    endif()
endfunction()
