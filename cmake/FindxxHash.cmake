# FindxxHash
# ----------
# Finds xxHash (https://github.com/Cyan4973/xxHash) for header-only use.
#
# Imported target:
#   xxHash::xxhash       usage requirements for <xxhash.h>. XXH_INLINE_ALL is NOT defined here:
#                        code that wants the inline implementation defines it before including.
# Result variables:
#   xxHash_FOUND, xxHash_VERSION, xxHash_INCLUDE_DIR (cache)
#
# Search order: upstream CMake package (xxHashConfig.cmake, exports xxHash::xxhash), then the
# libxxhash pkg-config module as a hint, then a plain search for xxhash.h.
# Installed with embtab, next to embtabConfig.cmake.
include(FindPackageHandleStandardArgs)

# 1. Upstream CMake package (with the requested version, so an unsuitable one isn't loaded).
if(xxHash_FIND_VERSION_EXACT)
    find_package(xxHash ${xxHash_FIND_VERSION} EXACT CONFIG QUIET)
else()
    find_package(xxHash ${xxHash_FIND_VERSION} CONFIG QUIET)
endif()
if(xxHash_FOUND AND TARGET xxHash::xxhash)
    get_target_property(xxHash_INCLUDE_DIR xxHash::xxhash INTERFACE_INCLUDE_DIRECTORIES)
    find_package_handle_standard_args(xxHash CONFIG_MODE)
    return()
endif()

# 2. pkg-config hints (Debian's libxxhash.pc), 3. plain header search.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
    pkg_check_modules(PC_xxHash QUIET libxxhash)
endif()
find_path(xxHash_INCLUDE_DIR NAMES xxhash.h
          HINTS ${PC_xxHash_INCLUDEDIR} ${PC_xxHash_INCLUDE_DIRS}
          DOC "Directory containing xxhash.h")
mark_as_advanced(xxHash_INCLUDE_DIR)

# Version from the header's XXH_VERSION_{MAJOR,MINOR,RELEASE} macros.
unset(xxHash_VERSION)
if(xxHash_INCLUDE_DIR AND EXISTS "${xxHash_INCLUDE_DIR}/xxhash.h")
    file(STRINGS "${xxHash_INCLUDE_DIR}/xxhash.h" _xxhash_version_lines
         REGEX "^#[ \t]*define[ \t]+XXH_VERSION_(MAJOR|MINOR|RELEASE)[ \t]+[0-9]+")
    foreach(_xxhash_part IN ITEMS MAJOR MINOR RELEASE)
        if(_xxhash_version_lines MATCHES "XXH_VERSION_${_xxhash_part}[ \t]+([0-9]+)")
            list(APPEND xxHash_VERSION "${CMAKE_MATCH_1}")
        endif()
    endforeach()
    string(REPLACE ";" "." xxHash_VERSION "${xxHash_VERSION}")
    unset(_xxhash_version_lines)
    unset(_xxhash_part)
endif()

find_package_handle_standard_args(xxHash
    REQUIRED_VARS xxHash_INCLUDE_DIR
    VERSION_VAR xxHash_VERSION)

# The imported target (header only: no library is linked).
if(xxHash_FOUND AND NOT TARGET xxHash::xxhash)
    add_library(xxHash::xxhash INTERFACE IMPORTED)
    set_target_properties(xxHash::xxhash PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${xxHash_INCLUDE_DIR}")
endif()
