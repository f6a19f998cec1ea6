#pragma once
/// \file version.hpp The library version, kept in one place (CMake reads it from here).

namespace embtab {

/// Major version: changes break the API or the checkpoint format.
inline constexpr int version_major = 0;
/// Minor version: new features, compatible.
inline constexpr int version_minor = 1;
/// Patch version: fixes only.
inline constexpr int version_patch = 0;

}  // namespace embtab
