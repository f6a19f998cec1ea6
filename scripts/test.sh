#!/usr/bin/env bash
# Configure, build and test one preset in build/<preset>:
#   scripts/test.sh [default|sanitize|cxx20|tsan]
# Overrides: CXX, JOBS, EMBTAB_BUILD_DIR, EMBTAB_CMAKE_ARGS (see scripts/common.sh).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

preset="${1:-default}"

embtab_deps
embtab_configure "$preset"
cmake --build "$EMBTAB_BUILD_DIR" -j "$EMBTAB_JOBS" "${EMBTAB_BUILD_TARGETS[@]}"

# Sanitizer reports are fatal and come with a stack trace (caller's settings win).
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"

cd "$EMBTAB_BUILD_DIR"
ctest --output-on-failure -j "$EMBTAB_JOBS" "${EMBTAB_CTEST_ARGS[@]}"
