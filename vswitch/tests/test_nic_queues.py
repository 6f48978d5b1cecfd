"""A NIC uplink with two receive queues (issue 13): net_af_packet with
qpairs=2 spreads what the kernel hands it over both by flow (PACKET_FANOUT
by hash, the socket's RSS), and the switch polls both. iperf3 with 16
streams (so that both sockets get some flows) from a namespace behind the
uplink to one behind a kernel port."""
from vo.harness import Iperf3, KernelHost, Switch, VethPeer, cleanup


def test_both_receive_queues_of_an_uplink_are_polled(tmp_path):
    work = str(tmp_path)
    with cleanup() as later:
        kern = KernelHost("kern")
        later(kern)
        plain = VethPeer(0, "up", ["10.80.0.2/24"], queues=2)
        later(plain)
        sw = Switch(work, kern.switch_args() + plain.switch_args())
        later(sw)
        kern.attach("10.80.0.1")
        plain.run("ping -c 2 -W 2 10.80.0.1")
        before = sw.port("up")
        run = Iperf3(work, plain, kern, 4, client_args=["-P", "16"])
        later(run)
        report = run.result()
        after = sw.port("up")
        per_queue = [after.get(f"q{q}_rx_packets", 0) - before.get(f"q{q}_rx_packets", 0) for q in range(2)]
        gbps = report["end"]["sum_received"]["bits_per_second"] / 1e9
        print(f"\nuplink receive queues {per_queue} ({after['rss']}); iperf3 -P 16 {gbps:.2f} Gbit/s, "
              f"{report['end']['sum_sent'].get('retransmits', 0)} retransmits")
        assert after["queues"] == 2
        assert all(n > 0 for n in per_queue), "a receive queue of the uplink was not polled"
        assert gbps > 0.1
        assert sw.stop() == 0
