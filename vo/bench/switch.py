"""tools/bench switch: throughput of the running switch, on one datapath lcore and on two.

  tools/bench switch [--json] [--repetitions N] [--seconds S] [--case REGEX]
                     [--impl REGEX] [--keep]

Each case is run through vhost-offload and through dpdk-testpmd acting as the
switch in the same topology ("testpmd"), N times each (default 3, alternating),
and the medians are printed: a table, or with --json one JSON object per line.
vhost-offload runs three ways, to show what tenant isolation costs:
  ours-open   port security off, no VLANs;
  ours        as configured by default: port security on the guest ports;
  ours-vlan   port security on, and VLAN 10: the sending guest on an access
              port, the receiving port a trunk, so every frame or segment out
              is tagged; in the GRO case the NIC is the trunk and its stream
              comes tagged (untagged, merged per VLAN, to the guest).
The "vs base" column is the median, over repetitions, of each ours-* run's
throughput over the same repetition's run of the case's base (ours-open; in
the multi-queue cases ours-1lcore): every repetition runs each implementation
once, back to back, starting with a different one; "paired vs base" lists
those ratios.

The switch (ours or testpmd) forwards on lcore 1; the traffic source and the sinks
(testpmd with net_pcap, virtio-user and net_null, standing in for guests and NICs)
forward on lcore 0. Throughput is read on the switch's side, from its own counters
over a timed window of S seconds (default 5) after 1 s of warm-up: TCP payload
(frame bytes minus the 66 bytes of Ethernet, IPv4 and TCP-with-timestamps headers
of every frame sent) in Gbit/s, and frames sent per second.

Multi-queue cases, through vhost-offload only, on one datapath lcore and on
two ("vs 1 lcore": paired ratios as above):
  ours-1lcore         one datapath thread on CPU 1 (the default);
  ours-2lcores        two, on CPUs 1 and 0: the second shares CPU 0 with the
                      peers' testpmd, which is what bounds scaling on this
                      2-CPU machine (the peers need a CPU of their own too);
  ours-2lcores-1cpu   two, both on CPU 1: what splitting the queues costs
                      when the threads share one CPU.

Cases:
  guest_tso_to_nic  64 KB TSO segments from a virtio-user guest, cut to 1448-byte
                    segments for a NIC without TSO (net_null, no-rx=1);
  vm_to_vm          64 KB TSO segments from one virtio-user guest to another that
                    negotiated GUEST_TSO (both in one testpmd, the sink a net_null);
  nic_gro_to_guest  1448-byte segments of an in-order TCPv4 stream from a NIC
                    (net_pcap, infinite_rx) merged for a guest with GUEST_TSO;
  mq_vm_to_vm       64-byte UDP frames of many flows (testpmd txonly multi-flow)
                    from a 4-queue virtio-user guest to another 4-queue guest;
  mq_nic_to_guest   1448-byte TCP segments of 16 flows from a NIC with 4 receive
                    queues (net_pcap, one replay per queue) to a 4-queue guest
                    without GUEST_TSO.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def _default_build():
    return os.environ.get("VO_BUILD_DIR") or os.path.join(ROOT, "build")


# harness reads VO_BUILD_DIR when imported: set it first.
os.environ.setdefault("VO_BUILD_DIR", _default_build())
from vo.harness import Switch, Testpmd, Guest, virtio_user, cleanup, wait_for  # noqa: E402
from vo import pcaps  # noqa: E402

HDR = 14 + 20 + 32          # Ethernet, IPv4, TCP with timestamps: every frame here
MSS = pcaps.MSS[4]          # 1448
BIG = (65535 - 14 - 20 - 32) // MSS * MSS  # 64 KB segment payload net_pcap can read: 45 x 1448
BIG_FRAMES = 32             # frames in the guests' replay file
GRO_SEGMENTS = 44 * 24      # segments in the NIC's replay file (a whole number of 64 KB)
SINK_MAC = "02:00:00:00:0b:01"  # unknown to the switch: frames to it are flooded
# The sink never sends, so all its frames are flooded: the switch's flood
# budget (--flood-pps) would be what these runs measure.
OURS_EXTRA = ["--flood-pps", "0"]
CASES = ("guest_tso_to_nic", "vm_to_vm", "nic_gro_to_guest", "mq_vm_to_vm", "mq_nic_to_guest")
IMPLS = ("ours-open", "ours", "ours-vlan", "testpmd")
# The multi-queue cases: our switch's datapath threads, as EAL --lcores maps.
MQ_LCORES = {"ours-1lcore": "0@0,1@1", "ours-2lcores": "0@0,1@1,2@0",
             "ours-2lcores-1cpu": "0@0,1@1,2@1"}
MQ_QUEUES = 4
MQ_RECEIVER_MAC = "02:00:00:00:0b:07"


def impls_of(case):
    return tuple(MQ_LCORES) if case.startswith("mq_") else IMPLS


def base_of(case):
    """The implementation the others of a case are compared with."""
    return "ours-1lcore" if case.startswith("mq_") else "ours-open"


def policy(impl, role):
    """The per-port options of our switch for `impl` on a port of `role`:
    "access" (the guest or NIC that sends, untagged) or "trunk" (the port
    that sends out, tagging every frame; or, in the GRO case, the NIC whose
    stream comes tagged)."""
    if impl == "ours-open":
        return ["--port-security", "off"]
    if impl == "ours-vlan":
        return ["--tag", "10"] if role == "access" else ["--trunks", "10"]
    return []


WARMUP = 1.0


def log(msg):
    sys.stderr.write(f"bench switch: {msg}\n")
    sys.stderr.flush()


class Window:
    """Counter deltas over a timed window; `read()` returns a dict of counters."""

    def __init__(self, read):
        self.read = read

    def measure(self, seconds):
        t0 = time.monotonic()
        a = self.read()
        time.sleep(seconds)
        t1 = time.monotonic()
        b = self.read()
        return {k: b[k] - a[k] for k in b if isinstance(b[k], int)}, t1 - t0


def rates(tx_packets, tx_bytes, dt, hdr=HDR):
    payload = tx_bytes - hdr * tx_packets
    return {"gbps": payload * 8 / dt / 1e9, "mpps": tx_packets / dt / 1e6}


def flat(stats, names):
    """One dict of counters of several ports of our switch: port.counter."""
    out = {}
    for n in names:
        for k, v in stats["ports"][n].items():
            if isinstance(v, int):
                out[f"{n}.{k}"] = v
    return out


def tp_stats(tp, ports):
    """Counters of testpmd's ports from one `show port stats all` (one snapshot), plus
    the xstats of the ports in `xports`, as port.counter."""
    mark = len(tp.process.text())
    tp.cmd("show port stats all", 0)
    last = max(ports)
    text = wait_for("port stats", lambda: (re.search(
        rf"statistics for port {last} .*?TX-bytes:\s*\d+", tp.process.text()[mark:], re.S)
        and tp.process.text()[mark:]), 10, 0.05)
    out = {}
    for block in re.split(r"NIC statistics for port ", text)[1:]:
        p = int(block.split()[0])
        for key in ("RX-packets", "RX-bytes", "TX-packets", "TX-bytes", "RX-missed", "TX-errors"):
            m = re.search(rf"{key}:\s*(\d+)", block)
            out[f"{p}.{key}"] = int(m.group(1)) if m else 0
    return out


def tp_xstats(tp, port):
    """`show port xstats PORT` as a dict."""
    mark = len(tp.process.text())
    tp.cmd(f"show port xstats {port}", 0.5)
    text = wait_for("xstats", lambda: "testpmd>" in tp.process.text()[mark + 5:] and
                    tp.process.text()[mark:], 10)
    return {k: int(v) for k, v in re.findall(r"^\s*(\w+):\s+(\d+)\s*$", text, re.M)}


def ratio(a, b):
    return a / b if b else None


# ---------------------------------------------------------------------------
# The peers: guests (virtio-user) and NICs in one testpmd on lcore 0.

def guest_sender(work, sock, replay):
    """A guest that sends `replay`'s 64 KB frames as TSO segments of MSS, forever."""
    return Guest(work, sock, replay, tso_mss=MSS, peer=SINK_MAC, loop=True)


def guest_receiver(work, sock):
    """A guest with GUEST_TSO (tcp_lro) that drops what it receives into net_null."""
    cmds = ["port stop all", "port config 1 rx_offload tcp_lro on",
            "port config 1 rx_offload tcp_cksum on", "port start all", "set fwd io",
            "start tx_first"]  # a burst from GUEST_MAC first: the switch learns where it is
    return Testpmd(work, ["net_null0,no-rx=1", virtio_user(sock, pcaps.GUEST_MAC)], cmds,
                   ["--mbuf-size=65535", "--rxd=1024"], mbufs=4096)


def guest_pair(work, sock_a, sock_b, replay):
    """Two guests in one testpmd: net_pcap (0) -> virtio-user A (1) as 64 KB TSO
    segments; virtio-user B (2, GUEST_TSO) -> net_null (3)."""
    cmds = ["port stop all",
            "port config 2 rx_offload tcp_lro on", "port config 2 rx_offload tcp_cksum on",
            "csum set tcp hw 1", "csum set ip sw 1", f"tso set {MSS} 1",
            "port start all", "set fwd csum retry", "start"]
    vdevs = [f"net_pcap0,rx_pcap={replay},tx_pcap=/dev/null,infinite_rx=1",
             virtio_user(sock_a),
             virtio_user(sock_b).replace("net_virtio_user0", "net_virtio_user1"),
             "net_null0,no-rx=1"]
    return Testpmd(work, vdevs, cmds,
                   ["--no-flush-rx", f"--eth-peer=1,{SINK_MAC}", "--mbuf-size=65535",
                    "--rxd=1024"], mbufs=4096)


def testpmd_switch(work, vdevs, cmds):
    """dpdk-testpmd as the switch: forwarding on lcore 1, its prompt on lcore 0."""
    return Testpmd(work, vdevs, cmds + ["start"], lcores="0,1", main_lcore=0, mbufs=32768)


def wait_tp_moving(tp, port, key="TX-packets", timeout=30):
    start = tp.port_stats(port)[key]
    wait_for(f"testpmd port {port} {key} to move",
             lambda: tp.port_stats(port)[key] > start, timeout, 0.5)


def wait_sw_moving(sw, port, key="tx_packets", timeout=30):
    start = sw.port(port)[key]
    wait_for(f"switch port {port} {key} to move", lambda: sw.port(port)[key] > start, timeout)


# ---------------------------------------------------------------------------
# Cases: each returns one row (dict) for one run.

def guest_tso_to_nic(impl, work, files, seconds):
    sock = os.path.join(work, "vm.sock")
    with cleanup() as later:
        if impl.startswith("ours"):
            sw = Switch(work, ["--vhost", sock, "--name", "vm"] + policy(impl, "access") +
                        ["--nic", "net_null0,no-rx=1", "--name", "up"] + policy(impl, "trunk"),
                        OURS_EXTRA)
            later(sw)
            later(guest_sender(work, sock, files["big"]))
            sw.wait_guest("vm")
            wait_sw_moving(sw, "up")
            time.sleep(WARMUP)
            full = not sw.port("up")["tx_csum"]  # the NIC has no checksum offload
            d, dt = Window(lambda: flat(sw.stats(), ["vm", "up"])).measure(seconds)
            row = rates(d["up.tx_packets"], d["up.tx_bytes"], dt)
            row.update(segments_per_packet=ratio(d["up.gso_segments"], d["up.gso_packets"]),
                       packets_in=d["vm.rx_packets"], large_in=d["vm.rx_large"],
                       dropped=d["up.tx_dropped"] + d["up.too_big_dropped"],
                       checksums="full TCP+IPv4 checksums computed in software per segment"
                       if full else "pseudo-header sums; the NIC completes them")
            return row
        sw = testpmd_switch(work, [f"net_vhost0,iface={sock},tso=1", "net_null0,no-rx=1"],
                            ["set fwd csum", "set port 1 gso on", f"set gso segsz {HDR + MSS}"])
        later(sw)
        later(guest_sender(work, sock, files["big"]))
        wait_tp_moving(sw, 1)
        time.sleep(WARMUP)
        d, dt = Window(lambda: tp_stats(sw, [0, 1])).measure(seconds)
        # net_null counts no bytes: every segment is a full one (64 KB = 45 x MSS).
        row = rates(d["1.TX-packets"], d["1.TX-packets"] * (HDR + MSS), dt)
        row.update(segments_per_packet=ratio(d["1.TX-packets"], d["0.RX-packets"]),
                   packets_in=d["0.RX-packets"], dropped=d["1.TX-errors"],
                   checksums="none: rte_gso leaves the segments' TCP checksums (and the csum "
                   "engine computes one over the whole 64 KB packet first, which cutting voids)")
        return row


def vm_to_vm(impl, work, files, seconds):
    a, b = os.path.join(work, "a.sock"), os.path.join(work, "b.sock")
    with cleanup() as later:
        if impl.startswith("ours"):
            sw = Switch(work, ["--vhost", a, "--name", "a"] + policy(impl, "access") +
                        ["--vhost", b, "--name", "b"] + policy(impl, "trunk"), OURS_EXTRA)
            later(sw)
            later(guest_pair(work, a, b, files["big"]))
            sw.wait_guest("a")
            sw.wait_guest("b")
            wait_sw_moving(sw, "b")
            time.sleep(WARMUP)
            feats = sw.port("b").get("features", "")
            d, dt = Window(lambda: flat(sw.stats(), ["a", "b"])).measure(seconds)
            row = rates(d["b.tx_packets"], d["b.tx_bytes"], dt)
            row.update(segments_per_packet=ratio(d["b.tx_packets"], d["a.rx_packets"]),
                       packets_in=d["a.rx_packets"], large_in=d["a.rx_large"],
                       large_out=d["b.tx_large"], dropped=d["b.tx_dropped"],
                       guest_tso="GUEST_TSO4" in feats,
                       checksums="none needed: 64 KB segments passed whole with NEEDS_CSUM")
            return row
        # legacy-ol-flags=1: the vhost PMD gives a guest's segment TX_TCP_SEG flags, which
        # its enqueue turns back into a GSO header: TSO preserved with io forwarding.
        sw = testpmd_switch(work, [f"net_vhost0,iface={a},tso=1,legacy-ol-flags=1",
                                   f"net_vhost1,iface={b},tso=1,legacy-ol-flags=1"],
                            ["set fwd io"])
        later(sw)
        later(guest_pair(work, a, b, files["big"]))
        wait_tp_moving(sw, 1)
        time.sleep(WARMUP)
        d, dt = Window(lambda: tp_stats(sw, [0, 1])).measure(seconds)
        row = rates(d["1.TX-packets"], d["1.TX-bytes"], dt)
        row.update(segments_per_packet=ratio(d["1.TX-packets"], d["0.RX-packets"]),
                   packets_in=d["0.RX-packets"], dropped=d["1.TX-errors"],
                   checksums="none needed: 64 KB segments passed whole (io, legacy-ol-flags)")
        return row


def nic_gro_to_guest(impl, work, files, seconds):
    sock = os.path.join(work, "vm.sock")
    # ours-vlan: the NIC's stream comes tagged (VLAN 10) on a trunk, GRO
    # merges it with the tags taken out, and the guest is on an access port.
    stream = files["mss-vlan" if impl == "ours-vlan" else "mss"]
    pcap = f"net_pcap0,rx_pcap={stream},infinite_rx=1"

    def delivered(packets, nbytes):  # MSS segments per packet the guest got
        return round((nbytes - HDR * packets) / packets / MSS, 2) if packets else None

    with cleanup() as later:
        if impl.startswith("ours"):
            sw = Switch(work, ["--nic", pcap, "--name", "up"] + policy(impl, "trunk") +
                        ["--vhost", sock, "--name", "vm"] + policy(impl, "access"))
            later(sw)
            later(guest_receiver(work, sock))
            sw.wait_learned("vm")
            wait_sw_moving(sw, "vm")
            time.sleep(WARMUP)
            feats = sw.port("vm").get("features", "")
            d, dt = Window(lambda: flat(sw.stats(), ["up", "vm"])).measure(seconds)
            row = rates(d["vm.tx_packets"], d["vm.tx_bytes"], dt)
            row.update(segments_per_packet=delivered(d["vm.tx_packets"], d["vm.tx_bytes"]),
                       segments_in=d["up.rx_packets"], gro_merged=d["up.gro_merged"],
                       gro_absorbed=d["up.gro_absorbed"], large_out=d["vm.tx_large"],
                       dropped=d["vm.tx_dropped"] + d["vm.too_big_dropped"],
                       merged=d["up.gro_merged"] > 0, guest_tso="GUEST_TSO4" in feats,
                       checksums="merged packets go to the guest NEEDS_CSUM (pseudo-header sum)")
            return row
        sw = testpmd_switch(work, [pcap, f"net_vhost0,iface={sock},tso=1"],
                            ["set fwd csum", "set port 0 gro on", "set gro flush 1"])
        later(sw)
        later(guest_receiver(work, sock))
        wait_tp_moving(sw, 1)
        time.sleep(WARMUP)
        x0 = tp_xstats(sw, 1)
        d, dt = Window(lambda: tp_stats(sw, [0, 1])).measure(seconds)
        x1 = tp_xstats(sw, 1)
        big = x1.get("tx_size_1523_to_max_packets", 0) - x0.get("tx_size_1523_to_max_packets", 0)
        row = rates(d["1.TX-packets"], d["1.TX-bytes"], dt)
        row.update(segments_per_packet=delivered(d["1.TX-packets"], d["1.TX-bytes"]),
                   segments_in=d["0.RX-packets"], large_out=big, merged=big > 0,
                   dropped=d["0.RX-packets"] - d["1.TX-packets"],
                   checksums="csum engine computes every segment's TCP checksum in software; "
                   "rte_gro merges nothing without packet_type, which net_pcap does not set")
        return row


def mq_switch(impl, work, port_args):
    lcores = MQ_LCORES[impl]
    threads = ",".join(str(i) for i in range(1, lcores.count("@")))
    return Switch(work, port_args, OURS_EXTRA + ["--datapath-lcores", threads], lcores=lcores)


def mq_guest(work, sock, cmds, extra=(), mac=None):
    vdev = (f"net_virtio_user0,path={sock},queues={MQ_QUEUES},queue_size=1024,mrg_rxbuf=1" +
            (f",mac={mac}" if mac else ""))
    return Testpmd(work, [vdev], cmds, [f"--rxq={MQ_QUEUES}", f"--txq={MQ_QUEUES}",
                                        "--nb-cores=1"] + list(extra))


def mq_row(sw, src, dst, seconds, hdr):
    wait_sw_moving(sw, dst)
    time.sleep(WARMUP)
    d, dt = Window(lambda: flat(sw.stats(), [src, dst])).measure(seconds)
    q = sw.ctl("queues")[1]
    row = rates(d[f"{dst}.tx_packets"], d[f"{dst}.tx_bytes"], dt, hdr)
    row.update(packets_in=d[f"{src}.rx_packets"],
               dropped=d[f"{dst}.tx_dropped"] + d[f"{dst}.tx_expired"],
               busy=[round(t["busy_share"], 3) for t in q["threads"]],
               checksums="busy share per thread: " +
               " ".join(f"{100 * t['busy_share']:.0f}%" for t in q["threads"]))
    return row


def mq_vm_to_vm(impl, work, files, seconds):
    a, b = os.path.join(work, "a.sock"), os.path.join(work, "b.sock")
    with cleanup() as later:
        sw = mq_switch(impl, work, ["--vhost", a, "--name", "a", "--vhost", b, "--name", "b"])
        later(sw)
        later(mq_guest(work, b, ["set fwd rxonly", "start"], mac=MQ_RECEIVER_MAC))
        later(mq_guest(work, a, ["set fwd txonly", "start"],
                       ["--txonly-multi-flow", f"--eth-peer=0,{MQ_RECEIVER_MAC}"]))
        sw.wait_guest("a")
        sw.wait_guest("b")
        return mq_row(sw, "a", "b", seconds, 14 + 20 + 8)


def mq_nic_to_guest(impl, work, files, seconds):
    sock = os.path.join(work, "vm.sock")
    pcap = ("net_pcap0," + ",".join(f"rx_pcap={p}" for p in files["mq"]) + "," +
            ",".join("tx_pcap=/dev/null" for _ in files["mq"]) + ",infinite_rx=1")
    with cleanup() as later:
        sw = mq_switch(impl, work, ["--nic", pcap, "--name", "up", "--queues", str(MQ_QUEUES),
                                    "--vhost", sock, "--name", "vm"])
        later(sw)
        later(mq_guest(work, sock, ["set fwd rxonly", "start"], mac=pcaps.GUEST_MAC))
        sw.wait_guest("vm")
        return mq_row(sw, "up", "vm", seconds, HDR)


RUNNERS = {"guest_tso_to_nic": guest_tso_to_nic, "vm_to_vm": vm_to_vm,
           "nic_gro_to_guest": nic_gro_to_guest, "mq_vm_to_vm": mq_vm_to_vm,
           "mq_nic_to_guest": mq_nic_to_guest}


# ---------------------------------------------------------------------------

def make_files(work):
    big = os.path.join(work, "big.pcap")
    pcaps.write_stream(big, 4, BIG_FRAMES, BIG, dst_mac=SINK_MAC)
    mss = os.path.join(work, "mss.pcap")
    # The stream goes to the guest's MAC, unknown to the switch: it floods to the guest.
    pcaps.write_stream(mss, 4, GRO_SEGMENTS, MSS, src_mac=pcaps.PEER_MAC,
                       dst_mac=pcaps.GUEST_MAC)
    mss_vlan = os.path.join(work, "mss-vlan.pcap")
    pcaps.write_stream(mss_vlan, 4, GRO_SEGMENTS, MSS, src_mac=pcaps.PEER_MAC,
                       dst_mac=pcaps.GUEST_MAC, vlan=10)
    # Four replays of four flows each (source ports 40000 + 4q + k), one per NIC queue.
    mq = []
    for q in range(MQ_QUEUES):
        frames = []
        for i in range(256):
            for k in range(4):
                f = pcaps.frame(4, pcaps.FIRST_SEQ + i * MSS, bytes(MSS), src_mac=pcaps.PEER_MAC,
                                dst_mac=pcaps.GUEST_MAC)
                f["TCP"].sport = 40000 + 4 * q + k
                frames.append(f)
        mq.append(os.path.join(work, f"mq-q{q}.pcap"))
        pcaps.wrpcap(mq[-1], frames)
    return {"big": big, "mss": mss, "mss-vlan": mss_vlan, "mq": mq}


def build():
    """Installs what is missing and builds the daemon, as tools/bench engine does."""
    build_dir = os.environ["VO_BUILD_DIR"]
    subprocess.run([os.path.join(ROOT, "scripts", "setup.sh")], check=True)
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja",
                        "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], check=True, capture_output=True)
    r = subprocess.run(["ninja", "-C", build_dir, "vhost-offload"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-4000:] + r.stderr[-4000:])
        raise SystemExit("bench switch: building vhost-offload failed")


def median_row(case, impl, runs):
    ok = [r for r in runs if "error" not in r]
    row = {"case": case, "impl": impl, "runs": len(runs), "ok_runs": len(ok)}
    if not ok:
        row.update(gbps=None, mpps=None, note="; ".join(r["error"] for r in runs)[:500])
        return row
    for k in ("gbps", "mpps"):
        row[k] = round(statistics.median(r[k] for r in ok), 3)
    row["gbps_runs"] = [round(r["gbps"], 3) for r in ok]
    # The other facts: from the median run (by gbps).
    mid = sorted(ok, key=lambda r: r["gbps"])[(len(ok) - 1) // 2]
    for k, v in mid.items():
        if k not in row and k not in ("gbps", "mpps"):
            row[k] = round(v, 2) if isinstance(v, float) else v
    if len(ok) < len(runs):
        row["note"] = "failed runs: " + "; ".join(r["error"] for r in runs if "error" in r)[:300]
    return row


def add_vs_base(rows, runs):
    """Each ours-* row against its case's base (ours-open, ours-1lcore), paired by
    repetition: a repetition runs every implementation back to back, so the
    ratio of two runs of one repetition leaves out what drifts between
    repetitions (the other processes on these two CPUs). The median of the
    paired ratios is the "vs base"; their spread shows how sure it is."""
    for r in rows:
        base = runs.get((r["case"], base_of(r["case"])))
        mine = runs.get((r["case"], r["impl"]))
        if not r["impl"].startswith("ours") or not base or not mine:
            continue
        pairs = [m["gbps"] / b["gbps"] for m, b in zip(mine, base)
                 if "error" not in m and "error" not in b and b["gbps"] > 0]
        if pairs:
            r["vs_base"] = round(statistics.median(pairs), 3)
            r["vs_base_runs"] = [round(x, 3) for x in pairs]


def print_table(rows):
    head = ("case", "impl", "Gbit/s", "Mpps", "seg/pkt", "vs base", "runs (Gbit/s)",
            "paired vs base", "checksums / note")
    body = []
    for r in rows:
        g = "n/a" if r["gbps"] is None else f"{r['gbps']:.2f}"
        m = "n/a" if r["mpps"] is None else f"{r['mpps']:.3f}"
        spp = r.get("segments_per_packet")
        vs = r.get("vs_base")
        body.append((r["case"], r["impl"], g, m, "-" if spp is None else f"{spp:.1f}",
                     "-" if vs is None else f"{vs:.1%}",
                     " ".join(f"{x:.2f}" for x in r.get("gbps_runs", [])),
                     " ".join(f"{x:.0%}" for x in r.get("vs_base_runs", [])),
                     r.get("note") or r.get("checksums", "")[:60]))
    w = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    fmt = "  ".join(["{:<%d}" % w[0], "{:<%d}" % w[1]] + ["{:>%d}" % x for x in w[2:6]] +
                    ["{:<%d}" % w[6], "{:<%d}" % w[7], "{}"])
    print(fmt.format(*head))
    for i, b in enumerate(body):
        if i and b[0] != body[i - 1][0]:
            print()
        print(fmt.format(*b))


def parse_options(argv, prog, description, seconds, seconds_help, extra=lambda p: None):
    """The options every switch-level bench takes (and `extra`'s); the parsed arguments."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--repetitions", type=int, default=3, metavar="N",
                   help="runs per case and implementation; medians are reported (default 3)")
    p.add_argument("--seconds", type=float, default=seconds, metavar="S",
                   help=f"{seconds_help} (default {seconds:g})")
    p.add_argument("--case", default=".", metavar="REGEX", help="only the cases matching")
    extra(p)
    p.add_argument("--keep", action="store_true", help="keep the logs' directory")
    args = p.parse_args(argv)
    if args.repetitions < 1 or args.seconds <= 0:
        p.error("--repetitions and --seconds must be positive")
    return args


def main(argv):
    args = parse_options(argv, "tools/bench switch", __doc__.split("\n")[0], 5.0,
                         "measurement window of each run",
                         lambda p: p.add_argument("--impl", default=".", metavar="REGEX",
                                                  help="only the implementations matching"))
    if os.geteuid() != 0:
        log("warning: not root; DPDK and vhost-user sockets may fail")
    build()
    work = tempfile.mkdtemp(prefix="vo-bench-switch-")
    log(f"logs in {work}; build {os.environ['VO_BUILD_DIR']}")
    files = make_files(work)
    rows = []
    all_runs = {}
    failed = False
    for case in CASES:
        if not re.search(args.case, case):
            continue
        impls = [i for i in impls_of(case) if re.search(args.impl, i)]
        runs = {impl: [] for impl in impls}
        for rep in range(args.repetitions):
            # Each repetition starts with another implementation: none is
            # always the first after a pause, or always the last.
            for impl in impls[rep % len(impls):] + impls[:rep % len(impls)]:
                log(f"{case}/{impl} run {rep + 1}/{args.repetitions}")
                try:
                    r = RUNNERS[case](impl, work, files, args.seconds)
                    log(f"  {r['gbps']:.2f} Gbit/s, {r['mpps']:.3f} Mpps")
                except Exception as e:  # a run that cannot be made to work is reported as such
                    failed = True
                    r = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
                    log(f"  failed: {r['error']}")
                runs[impl].append(r)
        for impl in impls:
            row = median_row(case, impl, runs[impl])
            row["seconds"] = args.seconds
            rows.append(row)
            all_runs[(case, impl)] = runs[impl]
    add_vs_base(rows, all_runs)
    if args.json:
        for r in rows:
            print(json.dumps(r))
    else:
        print_table(rows)
    if args.keep or failed:
        log(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
