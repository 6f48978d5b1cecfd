#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs what is missing, builds
# the switch, and runs the demo (qemu-tests/demo.py): two QEMU guests and a peer
# host on vhost-offload, iperf3 between them with offloads on and off, printed
# as a table and plotted to build/demo/demo.png.
# Usage: scripts/run.sh [--seconds S] [--out DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VO_BUILD_DIR:-$root/build}
export VO_BUILD_DIR=$build

"$root/scripts/setup.sh"
echo "run: configuring and building the switch in $build" >&2
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$build" vhost-offload >&2
exec /usr/bin/python3 "$root/qemu-tests/demo.py" "$@"
