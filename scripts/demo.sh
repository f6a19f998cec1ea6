#!/usr/bin/env bash
# Build and run the demo example in build/default; arguments go to the program:
#   scripts/demo.sh [args...]
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

demo=train_dlrm

embtab_deps
embtab_configure default -DEMBTAB_BUILD_EXAMPLES=ON
cmake --build "$EMBTAB_BUILD_DIR" --target "$demo" -j "$EMBTAB_JOBS"
exec "$EMBTAB_BUILD_DIR/examples/$demo" "$@"
