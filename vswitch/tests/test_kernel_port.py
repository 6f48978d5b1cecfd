"""Kernel port (--tap): a TAP with virtio-net headers carries 64 KB segments
whole between the switch and the kernel's TCP stack.

1. 64 KB TSO segments from a virtio-user guest reach a network namespace
   through the kernel port as single large packets, IPv4 and IPv6.
2. iperf3 between two namespaces, each behind its own kernel port, both
   directions: large segments cross the switch whole, never cut."""
import time

import pytest

from vo.harness import (Guest, Iperf3, KernelHost, Process, Switch, cleanup, refusals,
                     tshark_segments, wait_for)
from vo import pcaps

FRAMES = 16
PAYLOAD = 64000
MTU = 1500


@pytest.mark.parametrize("ip", [4, 6], ids=["v4", "v6"])
def test_guest_tso_reaches_the_kernel_whole(tmp_path, ip):
    with cleanup() as later:
        host = KernelHost("host")
        later(host)
        sock = str(tmp_path / "vm.sock")
        sw = Switch(str(tmp_path), ["--vhost", sock, "--name", "vm"] + host.switch_args())
        later(sw)
        src, dst = pcaps.ADDRS[ip]
        host.attach(dst, mac=pcaps.PEER_MAC)
        capture = str(tmp_path / "host.pcap")
        cap = Process(["tshark", "-B", "64", "-i", host.tap, "-w", capture, "-f", "tcp port 5201"],
                      str(tmp_path / "tshark.log"), netns=host.name)
        later(cap)
        wait_for("tshark to capture", lambda: "Capturing on" in cap.text())
        before, link0 = host.counters(), host.link_stats()
        replay = str(tmp_path / "guest.pcap")
        total = pcaps.write_stream(replay, ip, FRAMES, PAYLOAD)
        guest = Guest(str(tmp_path), sock, replay, tso_mss=pcaps.MSS[ip], peer=pcaps.PEER_MAC)
        later(guest)
        wait_for("the kernel port to send every segment", lambda: sw.port("host")["tx_large"] >= FRAMES, 30)
        wait_for("the namespace to receive them",
                 lambda: host.link_stats()["rx_packets"] - link0["rx_packets"] >= FRAMES, 10)
        time.sleep(1)  # let the capture drain its buffer to the file
        cap.stop()
        vm, port, link = sw.port("vm"), sw.port("host"), host.link_stats()

        assert vm["rx_large"] == FRAMES
        assert port["tx_large"] == FRAMES and port["gso_packets"] == 0, port
        # The namespace's device took few, large packets: far above its MTU on average.
        rx_packets = link["rx_packets"] - link0["rx_packets"]
        rx_bytes = link["rx_bytes"] - link0["rx_bytes"]
        print(f"IPv{ip}: the namespace's TAP received {rx_packets} packets, {rx_bytes} bytes")
        assert rx_bytes / rx_packets > 20 * MTU
        segs = tshark_segments(capture, f"tcp.srcport=={pcaps.SPORT}")
        assert len(segs) == FRAMES, [s["frame_len"] for s in segs]
        assert all(s["tcp_len"] == PAYLOAD and s["frame_len"] > 40 * MTU for s in segs)
        pos = pcaps.FIRST_SEQ
        for s in sorted(segs, key=lambda s: s["seq"]):
            assert s["seq"] == pos
            pos += s["tcp_len"]
        assert pos == pcaps.FIRST_SEQ + total
        after = host.counters()
        assert after["TcpInSegs"] - before["TcpInSegs"] >= FRAMES
        assert after["TcpInCsumErrors"] == before["TcpInCsumErrors"]
        assert not refusals(port) and not refusals(vm)
        guest.stop()
        assert sw.stop() == 0


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("ip", [4, 6], ids=["v4", "v6"])
def test_iperf3_between_kernel_ports(tmp_path, ip, reverse):
    with cleanup() as later:
        hosts = [KernelHost("left"), KernelHost("right")]
        for h in hosts:
            later(h)
        sw = Switch(str(tmp_path), hosts[0].switch_args() + hosts[1].switch_args())
        later(sw)
        for h, addr in zip(hosts, pcaps.ADDRS[ip]):
            h.attach(addr)
        run = Iperf3(str(tmp_path), hosts[0], hosts[1], 4, client_args=["-R"] if reverse else [])
        later(run)
        report = run.result()
        received = report["end"]["sum_received"]
        ports = sw.stats()["ports"]
        sender, receiver = ("right", "left") if reverse else ("left", "right")
        print(f"IPv{ip} {sender}->{receiver}: {received['bits_per_second'] / 1e9:.2f} Gbit/s, "
              f"{report['end']['sum_sent'].get('retransmits')} retransmits; " +
              "; ".join(f"{n}: rx {p['rx_packets']} (large {p['rx_large']}) tx {p['tx_packets']} "
                        f"(large {p['tx_large']})" for n, p in ports.items()))
        assert received["bytes"] > 0
        # Data crossed as large segments, kernel to kernel, never cut.
        assert ports[sender]["rx_large"] > 0 and ports[receiver]["tx_large"] > 0
        assert ports[receiver]["tx_large"] == ports[sender]["rx_large"]
        for name, p in ports.items():
            assert p["gso_packets"] == 0 and p["csum_completed"] == 0, (name, p)
            assert not refusals(p), (name, refusals(p))
        for h in hosts:
            c = h.counters()
            assert c["TcpInCsumErrors"] == 0, f"{h.port_name}: TCP checksum errors"
        run.stop()
        assert sw.stop() == 0
