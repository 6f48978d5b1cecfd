"""Several datapath lcores (issue 13, tests 3 and 4). The switch runs two
datapath threads (EAL's --lcores puts both on CPU 1; this machine has two:
this is a test of correctness, not of speed), and each of a 4-queue
virtio-user guest's queues is polled by one of them. The guest sends a TCP
flow on each of its 4 queues, a NIC uplink's peer sends 4 more over the
uplink's 2 queues, all to an unknown MAC, so every other port
gets a copy: a 4-queue guest (which writes each receive queue to its own
capture), a single-queue guest, the uplink's peer. Each capture is checked
flow by flow: every flow's frames in the order sent, a flow on one queue
only. The replays loop, so each flow's sequence numbers start over now and
then: a step back is a wrap only when it goes back by more than half a
pass, or when enough time passed for the rest of the pass to have been sent
(and lost); anything else is a reordering. Every packet the switch took from
the sender is accounted for at each receiver (sent, or dropped and
counted), and the pool is back where it started once the guests stop.

Test 4 sends from two single-queue guests whose queues start on the same
thread (ports 0 and 2: queue q of port s starts on thread (s + q) % 2), and
rebalances while they send: one of them moves to the other thread."""
import collections
import os
import struct
import time

from scapy.all import IP, TCP, Ether, Raw

from vo.harness import Capture, Guest, Switch, Testpmd, VethPeer, cleanup, wait_for

LCORES = "0@0,1@1,2@1"  # main (control) on CPU 0, datapath threads 1 and 2 on CPU 1
QUEUES = 4
# The replays loop, so a flow's sequence numbers start over each pass; a
# receiver that stalls (the switch drops for it, counted) or a capture that
# drops loses stretches of it, so a step back is told from a reordering by
# time (check_order). Each queue of a sender carries one flow: 30,000 frames
# a pass for the 4-queue guest, 100,000 for a single-queue one; the senders
# keep every frame in an mbuf.
NIC_PER_FLOW = 500
MAX_FLOW_RATE = 5e6  # frames a second: more than any flow here gets through the switch
PAYLOAD = 200
UNKNOWN_MAC = "02:00:00:00:bb:02"  # nobody's: the switch floods to every other port
SENDER_MAC = "02:00:00:00:0a:05"
GUEST_PORT0, NIC_PORT0 = 40000, 41000  # TCP source ports: flow k is port0 + k


def flow_frames(sport, src_mac, count):
    """A flow's frames, as bytes: one frame built by scapy, then each copy with its own
    sequence number and TCP checksum (scapy would take minutes for a million)."""
    tmpl = bytearray(bytes(Ether(src=src_mac, dst=UNKNOWN_MAC) /
                           IP(src="10.81.0.1", dst="10.81.0.2", id=0) /
                           TCP(sport=sport, dport=5201, seq=0, flags="A", chksum=0) /
                           Raw(bytes(PAYLOAD))))
    tcp = 34
    seg = bytes(tmpl[tcp:])
    pseudo = bytes(tmpl[26:34]) + struct.pack(">HH", 6, len(seg))
    data = pseudo + seg
    base = sum(struct.unpack(f">{len(data) // 2}H", data))
    frames = []
    for i in range(count):
        seq = 1000 + i * PAYLOAD
        total = base + (seq >> 16) + (seq & 0xFFFF)
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        struct.pack_into(">I", tmpl, tcp + 4, seq)
        struct.pack_into(">H", tmpl, tcp + 16, ~total & 0xFFFF)
        frames.append(bytes(tmpl))
    return frames


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)) + fr)


def interleaved(flows, src_mac, count):
    """The flows' frames, one of each in turn."""
    lists = [flow_frames(GUEST_PORT0 + k, src_mac, count) for k in flows]
    return [f for group in zip(*lists) for f in group]


def sender(work, sock, flows_per_queue, mac, per_flow):
    """A guest with a queue pair per entry of flows_per_queue: receive queue q of its
    net_pcap replays flows_per_queue[q] in a loop and it goes out on transmit queue q of
    its virtio-user device (testpmd's io streams pair them)."""
    n = len(flows_per_queue)
    pcaps = []
    for q, flows in enumerate(flows_per_queue):
        pcaps.append(os.path.join(work, f"send-{mac[-2:]}-q{q}.pcap"))
        write_pcap(pcaps[-1], interleaved(flows, mac, per_flow))
    pcap = "net_pcap0," + ",".join(f"rx_pcap={p}" for p in pcaps) + "," + ",".join(
        f"tx_pcap={os.path.join(work, f'sender-{mac[-2:]}-rx-q{q}.pcap')}" for q in range(n)) + \
        ",infinite_rx=1"
    vdev = f"net_virtio_user0,path={sock},queues={n},queue_size=1024,mrg_rxbuf=1,mac={mac}"
    # infinite_rx keeps every frame of the replays in mbufs.
    return Testpmd(work, [pcap, vdev], ["set fwd io retry", "start"],
                   [f"--rxq={n}", f"--txq={n}", "--nb-cores=1", "--no-flush-rx"], mbufs=131072)


def multiqueue_receiver(work, sock):
    """A 4-queue guest that writes what each of its receive queues gets to a capture of its own."""
    empty = os.path.join(work, "empty.pcap")
    write_pcap(empty, [])
    caps = [os.path.join(work, f"mq-q{q}.pcap") for q in range(QUEUES)]
    pcap = "net_pcap0," + ",".join(f"rx_pcap={empty}" for _ in caps) + "," + ",".join(
        f"tx_pcap={c}" for c in caps)
    vdev = f"net_virtio_user0,path={sock},queues={QUEUES},queue_size=1024,mrg_rxbuf=1"
    pmd = Testpmd(work, [pcap, vdev], ["set fwd io retry", "start"],
                  [f"--rxq={QUEUES}", f"--txq={QUEUES}", "--nb-cores=1", "--no-flush-rx"])
    return pmd, caps


def flows_in(pcap):
    """Each TCP flow's frames in a capture, in capture order: {source port: [(seq, time)]}.
    Read with struct, not tshark: the captures hold millions of frames, all IPv4 without
    options where they are TCP (the others, an ARP or a neighbour's frame, are skipped)."""
    flows = collections.defaultdict(list)
    with open(pcap, "rb") as f:
        data = f.read()
    off = 24  # the file header; then per frame 16 bytes of record header
    while off + 16 <= len(data):
        sec, usec, caplen = struct.unpack_from("<III", data, off)
        frame = off + 16
        if caplen >= 42 and data[frame + 12:frame + 14] == b"\x08\x00" and data[frame + 23] == 6:
            sport, seq = struct.unpack_from(">H2xI", data, frame + 34)
            flows[sport].append((seq, sec + usec / 1e6))
        off = frame + caplen
    return flows


def check_order(flows, where, per_flow):
    """Every step of every flow is forward, or a wrap of the replay: back by more than
    half a pass, or by less after as long as the rest of the pass takes to send at
    MAX_FLOW_RATE (a receiver that stalled, or a capture that dropped, lost the frames in
    between). A reordering steps back within microseconds. Returns the frames seen."""
    total = 0
    for port, frames in flows.items():
        total += len(frames)
        for i in range(1, len(frames)):
            (prev, t0), (seq, t1) = frames[i - 1], frames[i]
            back = (prev - seq) // PAYLOAD
            if seq > prev or back > per_flow // 2 or t1 - t0 >= (per_flow - back) / MAX_FLOW_RATE:
                continue
            raise AssertionError(f"{where}: flow {port} went from seq {prev} to {seq} "
                                 f"(frame {i}) within {(t1 - t0) * 1e6:.0f} us")
    return total


def run_case(tmp_path, senders, per_flow, rebalance):
    """senders: {port name: the flows of each of its queues},
    given first in the port order with the receivers between them, so that the first and
    second senders are ports 0 and 2."""
    work = str(tmp_path)
    names = list(senders)
    order = [names[0], "mq"] + names[1:] + ["one"]
    socks = {n: str(tmp_path / f"{n}.sock") for n in order}
    with cleanup() as later:
        # The captures and replays come to gigabytes, which pytest would keep
        # for its last three runs: gone once read, or once the test failed.
        later(lambda: [os.remove(os.path.join(work, f)) for f in os.listdir(work)
                       if f.endswith(".pcap")])
        peer = VethPeer(0, "up", ["10.81.0.9/24"], queues=2)
        later(peer)
        peer.run(f"sysctl -qw net.ipv6.conf.{peer.iface}.disable_ipv6=1")
        sw = Switch(work, [arg for n in order for arg in ("--vhost", socks[n], "--name", n)]
                    + peer.switch_args(),
                    ["--flood-pps", "0", "--datapath-lcores", "1,2"], lcores=LCORES)
        later(sw)
        baseline = sw.stats()["mempool_in_use"]
        mq, mq_caps = multiqueue_receiver(work, socks["mq"])
        later(mq)
        one_cap = os.path.join(work, "one.pcap")
        one = Guest(work, socks["one"], os.path.join(work, "empty.pcap"), capture=one_cap)
        later(one)
        nic_cap = Capture(work, peer, peer.iface)
        later(nic_cap)
        for n in ("mq", "one"):
            sw.wait_guest(n, 30)
        before = sw.stats()["ports"]  # everything idle: a packet is counted at both ends or none
        pmds = []
        for i, (n, flows_per_queue) in enumerate(senders.items()):
            pmds.append(sender(work, socks[n], flows_per_queue, f"02:00:00:00:0a:{i + 5:02x}",
                               per_flow))
            later(pmds[-1])
            sw.wait_guest(n, 30)
        nic_flows = os.path.join(work, "nic-flows.pcap")
        lists = [flow_frames(NIC_PORT0 + k, "02:00:00:00:0c:09", NIC_PER_FLOW) for k in range(4)]
        write_pcap(nic_flows, [f for group in zip(*lists) for f in group])
        peer.inject(peer.iface, nic_flows)
        moved = None
        if rebalance:
            time.sleep(1)
            _, moved = sw.ctl("rebalance")
            print("\nrebalance:", moved["moved"])
        time.sleep(1)
        for pmd in pmds:
            pmd.cmd("stop", 0)
        time.sleep(1)
        after = sw.stats()
        queues_answer = sw.ctl("queues")[1]
        ports = after["ports"]
        for g in pmds + [mq, one]:
            g.stop()
        nic_cap.stop()
        time.sleep(0.5)

        took = sum(ports[n]["rx_packets"] - before[n]["rx_packets"] for n in senders)
        print(f"switch took {took} from the senders; per thread: " + ", ".join(
            f"thread {t['thread']} (lcore {t['lcore']}) {t['packets']} packets, "
            f"busy {100 * t['busy_share']:.0f}%" for t in queues_answer["threads"]))
        where = {(q["port"], q["queue"]): q["thread"] for q in queues_answer["queues"]
                 if q["port"] in senders and q["active"]}
        print("the senders' queues on threads:", where, "; since the rebalance (or start): " + ", ".join(
            f"{q['port']}:{q['queue']} {q['packets']}" for q in queues_answer["queues"] if q["packets"]))
        assert all(t["packets"] > 0 for t in queues_answer["threads"]), "a thread carried nothing"
        for n in senders:
            print(f"{n}: " + ", ".join(f"{k} {v - before[n].get(k, 0)}" for k, v in ports[n].items()
                                      if isinstance(v, int) and v != before[n].get(k, 0)))
        # Every packet the switch took reached each receiver, or was dropped there and counted.
        for n in ("mq", "one", "up"):
            sent = ports[n]["tx_packets"] - before[n]["tx_packets"]
            lost = sum(v - before[n].get(k, 0) for k, v in ports[n].items()
                       if k in ("tx_dropped", "tx_expired", "too_big_dropped") or k.startswith("tx_drop_"))
            print(f"{n}: sent {sent}, dropped {lost}: " + ", ".join(
                f"{k} {v - before[n].get(k, 0)}" for k, v in ports[n].items()
                if isinstance(v, int) and ("drop" in k or "expired" in k) and v != before[n].get(k, 0)))
            assert sent + lost >= took, f"{n}: {took - sent - lost} packets vanished uncounted"
        # Captures: each flow in order; on the 4-queue guest each flow on one queue.
        seen_on = collections.defaultdict(set)
        per_queue = []
        for q, cap in enumerate(mq_caps):
            flows = flows_in(cap)
            per_queue.append(check_order(flows, f"mq queue {q}", per_flow))
            for port in flows:
                seen_on[port].add(q)
        print("4-queue guest, frames per queue:", per_queue)
        assert all(len(qs) == 1 for qs in seen_on.values()), f"a flow on several queues: {dict(seen_on)}"
        assert sum(1 for n in per_queue if n) >= 2, "the flows did not spread over the queues"
        one_total = check_order(flows_in(one_cap), "single-queue guest", per_flow)
        nic_total = check_order(flows_in(nic_cap.pcap), "uplink peer", per_flow)
        sent_flows = {GUEST_PORT0 + k for queues in senders.values() for flows in queues for k in flows}
        assert sent_flows <= set(seen_on), "a flow of the senders never reached the 4-queue guest"
        assert {NIC_PORT0 + k for k in range(4)} <= set(seen_on), "the uplink's flows were lost"
        print(f"frames checked: 4-queue guest {sum(per_queue)}, single-queue guest {one_total}, "
              f"uplink peer {nic_total}")
        assert one_total > 0 and nic_total > 0
        wait_for("the pool back to its baseline",
                 lambda: sw.stats()["mempool_in_use"] <= baseline, 10)
        assert sw.stop() == 0
        return where, moved


def test_two_datapath_threads_keep_every_flow_in_order(tmp_path):
    where, _ = run_case(tmp_path, {"a": [[0], [1], [2], [3]]}, 30000, rebalance=False)
    assert {where[("a", q)] for q in range(QUEUES)} == {0, 1}, "a's queues were not spread"


def test_rebalance_during_traffic_loses_and_reorders_nothing(tmp_path):
    where, moved = run_case(tmp_path, {"a": [[0]], "b": [[1]]}, 100000, rebalance=True)
    mine = [m for m in moved["moved"] if m["port"] in ("a", "b")]
    assert len(mine) == 1 and mine[0]["thread"] == 1, moved
    assert where[("a", 0)] != where[("b", 0)], where
