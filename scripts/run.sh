#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs what is missing, builds,
# and runs the demo. Today that is the offload engine's benchmark table
# against DPDK's rte_gso/rte_gro; it grows into the VM demo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec "$root/tools/bench" engine "$@"
