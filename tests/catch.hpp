#pragma once
// Catch2 v2/v3 shim: tests include "catch.hpp" and write v3-style code that builds with both.
// CMake defines EMBTAB_CATCH2_V3 when the tests link Catch2 v3.
//   Catch::Matchers::ContainsSubstring  v3 name; on v2 it forwards to Catch::Matchers::Contains.
//   Approx / Catch::Approx              both spellings work on both versions.

#if defined(EMBTAB_CATCH2_V3)

#include <catch2/catch_all.hpp>

using Catch::Approx;

#else

#include <catch2/catch.hpp>

#include <string>

namespace Catch {

using Detail::Approx;

namespace Matchers {

inline StdString::ContainsMatcher ContainsSubstring(
    const std::string& str, CaseSensitive::Choice case_sensitivity = CaseSensitive::Yes) {
    return Contains(str, case_sensitivity);
}

}  // namespace Matchers
}  // namespace Catch

#endif
