"""The benchmarks behind tools/bench: switch (virtio-user and NIC cases against
dpdk-testpmd), kernel (iperf3 against Open vSwitch with DPDK and testpmd) and
notify (interrupts and kicks per GB with a TCG guest)."""
