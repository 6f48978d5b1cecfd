"""Issue test 5: a guest killed in the middle of sending 64 KB TSO segments
(SIGKILL of its virtio-user testpmd), which the switch cuts for a guest without
GUEST_TSO, and started again on the same socket: its traffic resumes,
an iperf3 TCP stream between two namespaces on other ports of the switch keeps
going throughout, and once everything stops the switch holds no more mbufs than
before the traffic."""
from vo.harness import Guest, Iperf3, Switch, TapHost, cleanup, wait_for, wait_moving
from vo import pcaps

IPERF_SECONDS = 20
SENDER_MAC, RECEIVER_MAC = "02:00:00:00:0a:01", "02:00:00:00:0a:02"


def test_guest_killed_mid_traffic_and_reconnected(tmp_path):
    workdir = str(tmp_path)
    sender_sock, receiver_sock = str(tmp_path / "vm1.sock"), str(tmp_path / "vm2.sock")
    with cleanup() as later:
        hosts = [TapHost(0, "left"), TapHost(1, "right")]
        for h in hosts:
            later(h)
        sw = Switch(workdir, ["--vhost", sender_sock, "--name", "vm1",
                              "--vhost", receiver_sock, "--name", "vm2"] +
                    hosts[0].switch_args() + hosts[1].switch_args())
        later(sw)
        for h, addr in zip(hosts, pcaps.ADDRS[4]):
            h.attach(addr)
        hello = str(tmp_path / "hello.pcap")
        pcaps.write_announce(hello, RECEIVER_MAC)
        receiver = Guest(workdir, receiver_sock, hello)
        later(receiver)
        sw.wait_learned("vm2")
        baseline = sw.stats()["mempool_in_use"]
        stream = str(tmp_path / "stream.pcap")
        pcaps.write_stream(stream, 4, 4, 64000)

        def start_sender():
            guest = Guest(workdir, sender_sock, stream, tso_mss=pcaps.MSS[4], peer=RECEIVER_MAC,
                          mac=SENDER_MAC, loop=True)
            later(guest)
            sw.wait_guest("vm1")
            return guest

        def guest_traffic_moves():
            wait_moving("the sender's large segments into the switch",
                        lambda: sw.port("vm1")["rx_large"])
            wait_moving("segments cut for the receiver", lambda: sw.port("vm2")["gso_segments"])
            wait_moving("packets to the receiver", lambda: sw.port("vm2")["tx_packets"])

        def pair_moves():
            wait_moving("TCP segments into the iperf3 server",
                        lambda: hosts[1].counters()["TcpInSegs"])

        iperf = Iperf3(workdir, hosts[0], hosts[1], IPERF_SECONDS)
        later(iperf)
        sender = start_sender()
        guest_traffic_moves()
        pair_moves()

        connects = sw.port("vm1")["connects"]
        sender.process.kill()  # SIGKILL: the guest vanishes without a word to the switch
        wait_for("the switch to see the guest gone", lambda: sw.port("vm1")["ready"] == 0)
        pair_moves()

        sender = start_sender()
        assert sw.port("vm1")["connects"] > connects
        guest_traffic_moves()
        pair_moves()
        assert iperf.client.alive(), "iperf3 ended before the guest was back: the test proves nothing"
        sender.stop()

        report = iperf.result()
        received = report["end"]["sum_received"]
        vm1, vm2 = sw.port("vm1"), sw.port("vm2")
        print(f"iperf3 across the restart: {received['bits_per_second'] / 1e6:.1f} Mbit/s; "
              f"guest: {vm1['rx_large']} large segments in, {vm2['gso_segments']} segments cut, "
              f"{vm2['tx_packets']} delivered, {vm2['tx_dropped']} dropped at the receiver's full ring")
        assert received["bits_per_second"] > 0
        for h in hosts:
            assert h.counters()["TcpInCsumErrors"] == 0
        # Every mbuf the traffic took came back: nothing leaked on the guest's way out.
        wait_for(f"the switch's mbufs in use to return to {baseline}",
                 lambda: sw.stats()["mempool_in_use"] == baseline, 10)
        assert sw.stats()["indirect_in_use"] == 0
        assert sw.stop() == 0  # and it still stops cleanly, holding nothing
