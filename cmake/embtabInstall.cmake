# Install rules: headers, the CMake package (embtab::embtab) and a pkg-config file.
# Header only, so everything but the headers goes to the arch-independent DATADIR; every path
# is relative to the install prefix, so an installed tree can be moved.
include(CMakePackageConfigHelpers)

set(EMBTAB_CMAKE_DIR "${CMAKE_INSTALL_DATADIR}/cmake/embtab")
set(EMBTAB_PKGCONFIG_DIR "${CMAKE_INSTALL_DATADIR}/pkgconfig")

# Headers and the exported target.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(TARGETS embtab EXPORT embtabTargets)
install(EXPORT embtabTargets NAMESPACE embtab:: DESTINATION "${EMBTAB_CMAKE_DIR}")

# embtabConfig.cmake (+ version file, + the xxHash find module it uses).
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/embtabConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/embtabConfig.cmake"
    INSTALL_DESTINATION "${EMBTAB_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/embtabConfigVersion.cmake"
    COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES
    "${PROJECT_BINARY_DIR}/embtabConfig.cmake"
    "${PROJECT_BINARY_DIR}/embtabConfigVersion.cmake"
    "${PROJECT_SOURCE_DIR}/cmake/FindxxHash.cmake"
    DESTINATION "${EMBTAB_CMAKE_DIR}")

# embtab.pc: its prefix is computed from its own location (${pcfiledir}).
file(RELATIVE_PATH EMBTAB_PC_PREFIX_FROM_PCFILEDIR
     "/prefix/${EMBTAB_PKGCONFIG_DIR}" "/prefix")
string(REGEX REPLACE "/$" "" EMBTAB_PC_PREFIX_FROM_PCFILEDIR "${EMBTAB_PC_PREFIX_FROM_PCFILEDIR}")
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(EMBTAB_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
    set(EMBTAB_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/embtab.pc.in" "${PROJECT_BINARY_DIR}/embtab.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/embtab.pc" DESTINATION "${EMBTAB_PKGCONFIG_DIR}")
