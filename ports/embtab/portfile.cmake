# vcpkg overlay port for embtab (header only):
#   vcpkg install embtab --overlay-ports=<embtab checkout>/ports
# The version is the literal in vcpkg.json; tests/packaging/check_recipes.py keeps it equal to
# include/embtab/version.hpp.

# Header only: one (release) configuration, no debug tree.
set(VCPKG_BUILD_TYPE release)

# Source: by default the checkout this port lives in (<checkout>/ports/embtab/). A triplet may
# set EMBTAB_SOURCE_DIR to build another checkout.
#
# FOR A RELEASE (registry port): replace this block with
#   vcpkg_from_github(
#       OUT_SOURCE_PATH SOURCE_PATH
#       REPO embtab/embtab                 # PLACEHOLDER: the public repository
#       REF "v${VERSION}"
#       SHA512 0                           # PLACEHOLDER: vcpkg prints the real hash on first use
#       HEAD_REF main
#   )
if(DEFINED EMBTAB_SOURCE_DIR)
    set(SOURCE_PATH "${EMBTAB_SOURCE_DIR}")
else()
    get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
endif()
if(NOT EXISTS "${SOURCE_PATH}/include/embtab/version.hpp")
    message(FATAL_ERROR "embtab port: no embtab source tree at ${SOURCE_PATH}")
endif()

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DEMBTAB_BUILD_TESTS=OFF
        -DEMBTAB_BUILD_BENCHMARKS=OFF
        -DEMBTAB_BUILD_EXAMPLES=OFF
        -DEMBTAB_INSTALL=ON
        -DEMBTAB_FETCH_DEPS=OFF
)
vcpkg_cmake_install()

# embtab installs its CMake package to share/cmake/embtab (header only: arch-independent
# DATADIR); vcpkg wants it in share/embtab.
vcpkg_cmake_config_fixup(PACKAGE_NAME embtab CONFIG_PATH share/cmake/embtab)
# embtab.pc is in share/pkgconfig.
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE
    "${CURRENT_PACKAGES_DIR}/debug"
    "${CURRENT_PACKAGES_DIR}/share/cmake")

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
