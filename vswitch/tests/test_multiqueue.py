"""Multi-queue guests (issue 13): a virtio-user guest with 4 queue pairs sends
many flows on all 4 of its transmit queues; the switch polls every one, and
spreads the flows over the 4 receive queues of a second 4-queue guest, while
a single-queue guest beside them gets the same traffic on its one queue. The
per-queue counters show each queue carrying its share; nothing is dropped;
the pool is back where it started once the guests stop."""
import time

from vo.harness import Switch, Testpmd, cleanup, wait_for

QUEUES = 4
UNKNOWN_MAC = "02:00:00:00:bb:02"  # nobody's: the switch floods to every other port


def guest(work, sock, queues, cmds, extra=()):
    vdev = f"net_virtio_user0,path={sock},queues={queues},queue_size=1024,mrg_rxbuf=1"
    return Testpmd(work, [vdev], cmds, [f"--rxq={queues}", f"--txq={queues}", "--nb-cores=1"]
                   + list(extra))


def test_every_queue_of_a_multiqueue_guest_carries_traffic(tmp_path):
    work = str(tmp_path)
    socks = {n: str(tmp_path / f"{n}.sock") for n in ("a", "b", "c")}
    with cleanup() as later:
        sw = Switch(work, [arg for n, s in socks.items() for arg in ("--vhost", s, "--name", n)],
                    ["--flood-pps", "0"])
        later(sw)
        baseline = sw.stats()["mempool_in_use"]
        b = guest(work, socks["b"], QUEUES, ["set fwd rxonly", "start"])
        later(b)
        c = guest(work, socks["c"], 1, ["set fwd rxonly", "start"])
        later(c)
        # Each packet from a new source address: many flows, on all of a's queues.
        a = guest(work, socks["a"], QUEUES, ["set fwd txonly", "start"],
                  ["--txonly-multi-flow", f"--eth-peer=0,{UNKNOWN_MAC}"])
        later(a)
        for n in "abc":
            sw.wait_guest(n, 30)
        time.sleep(3)
        a.cmd("stop", 1)
        ports = sw.stats()["ports"]

        def per_queue(port, direction):
            return [ports[port].get(f"vring_q{q}_{direction}_packets", 0) for q in range(QUEUES)]

        sent, spread, single = (per_queue("a", "from_guest"), per_queue("b", "to_guest"),
                                per_queue("c", "to_guest"))
        print(f"\npackets per queue: from a {sent}, to b {spread}, to c {single}; "
              f"a's queue pairs {ports['a']['queue_pairs']}, b's {ports['b']['queue_pairs']}, "
              f"c's {ports['c']['queue_pairs']}")
        assert ports["a"]["queue_pairs"] == QUEUES and ports["b"]["queue_pairs"] == QUEUES
        assert ports["c"]["queue_pairs"] == 1
        assert all(n > 0 for n in sent), "a queue the guest sent on was not polled"
        total = sum(sent)
        assert all(n > total / QUEUES / 4 for n in spread), "flows did not spread over b's queues"
        # The sender outruns the switch, which drops at the ports that are full
        # (each counted); every packet is accounted for, on its queue.
        for n, got in (("b", sum(spread)), ("c", single[0])):
            lost = ports[n]["tx_dropped"] + ports[n]["tx_expired"]
            print(f"{n}: received {got}, dropped {lost}, of {total}")
            assert got + lost == total, {k: v for k, v in ports[n].items() if "drop" in k or "exp" in k}
        assert sum(single[1:]) == 0
        for g in (a, b, c):
            g.stop()
        wait_for("the pool back to its baseline",
                 lambda: sw.stats()["mempool_in_use"] <= baseline, 10)
