#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what is missing,
# builds, and runs every ctest label (unit, fuzz, and the slower ones).
# Usage: scripts/test.sh [ctest arguments...]   e.g. scripts/test.sh -L unit
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VO_BUILD_DIR:-$root/build}

"$root/scripts/setup.sh"
echo "test: configuring and building in $build" >&2
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" >/dev/null
cd "$build"
# Unit tests run two at a time; the switch and fuzz tests are marked RUN_SERIAL.
ctest --output-on-failure --timeout 1800 -j2 "$@"
