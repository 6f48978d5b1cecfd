#!/usr/bin/env bash
# Installs every Debian package vhost-offload needs to build, test and benchmark.
# Idempotent: when everything is present it prints nothing and touches nothing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ninja-build
  libdpdk-dev dpdk-dev            # librte_*, rte_gso/rte_gro references, dpdk-testpmd
  libgtest-dev libbenchmark-dev   # unit tests, engine benchmark
  nlohmann-json3-dev              # the control socket's JSON lines
  clang libclang-rt-14-dev        # libFuzzer target
  libnuma-dev libpcap-dev
  python3 python3-scapy python3-pytest  # stats client, packet crafting, switch tests
  iproute2 ethtool iperf3 tshark  # network namespaces, kernel peers, captures
  systemd                         # systemd-analyze verify of the installed unit
  iputils-ping                    # round trips to guests (interrupt coalescing)
  tcpreplay                       # hostile-neighbour floods at a fixed rate
  procps psmisc
  qemu-system-x86 cpio            # real guests (qemu-tests/)
  libvirt-daemon-system libvirt-clients  # the libvirt domain test
  python3-matplotlib              # the demo's plot
  openvswitch-switch-dpdk         # tools/bench kernel: Open vSwitch with DPDK as the reference
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the answer does not matter here.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
