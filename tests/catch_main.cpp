// Catch2 v2 main(). With Catch2 v3, CMake links Catch2::Catch2WithMain and skips this file.
#define CATCH_CONFIG_MAIN
#include "catch.hpp"
