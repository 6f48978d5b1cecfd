"""tools/bench kernel: iperf3 TCP through three switches to and from the host kernel.

  tools/bench kernel [--json] [--repetitions N] [--seconds S] [--case REGEX]
                     [--impl REGEX] [--keep]

Each case runs iperf3 (IPv4 TCP, S seconds, default 10) through vhost-offload ("ours",
its kernel ports --tap), Open vSwitch with DPDK ("ovs-dpdk", Debian's
openvswitch-switch-dpdk: tap ports, userspace TSO on) and dpdk-testpmd ("testpmd",
net_tap ports) in the same run, N times each (default 3, the implementations
alternating within each repetition), and prints the medians of throughput and of the
sender's TCP retransmissions: a table, then verdict lines; or with --json one JSON
object per line (case, impl, gbps, retransmits, ...).

Cases:
  ns_to_ns       between two network namespaces, each behind a kernel port;
  guest_to_peer  a TCG QEMU guest (vo/vm.py, all offloads on) on the switch's
                 vhost-user port sends to a namespace behind a kernel port;
  peer_to_guest  the namespace sends to the guest's iperf3 server.

Every switch forwards on CPU 1 (ours: datapath lcore 1; OVS: the whole ovs-vswitchd
under taskset -c 1, its PMD thread and the main thread that polls its tap ports;
testpmd: forwarding lcore 1) and runs on 2 MB hugepages (the bench sets
vm.nr_hugepages and restores it; OVS 3.1 cannot run without them); QEMU and the
namespaces' iperf3 run on CPU 0. "kern B/pkt" is the average frame the kernel took
from the switch (guest_to_peer, ns_to_ns: the receiving namespace's TAP, rx) or gave to
it (peer_to_guest: tx): above 1514, TCP segments crossed between the kernel and the
switch whole (up to 64 KB). "rx OFO" is the receiving kernel's TCPOFOQueue count
(segments that arrived out of order; not known when the guest receives): with no drop
anywhere, the sender's retransmissions are then spurious ones caused by reordering.
"busy % cpu0/1" is how busy each CPU was (not idle, not iowait; /proc/stat) while
iperf3 ran: a CPU near 100% is the bound, and CPU 0 carries the endpoints (QEMU, the
namespaces' iperf3 and their kernels' send and receive copies) whichever switch runs.
--json rows also carry the TAPs' drop counters, the sender's kinds of retransmission
(TcpExt), ours' drop counters and OVS's vhost port drops.
"""
import contextlib
import glob
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

# harness reads VO_BUILD_DIR when imported: set it first.
os.environ.setdefault("VO_BUILD_DIR", os.environ.get("VO_BUILD_DIR") or os.path.join(ROOT, "build"))
from vo import harness  # noqa: E402
from vo.harness import (Switch, Testpmd, Netns, KernelHost, Process, cleanup, sh, unique,  # noqa: E402
                     wait_for, wait_iface)
from vo.vm import Vm, iperf_summary, netns_iperf3  # noqa: E402
from vo.bench import switch as bench_switch  # noqa: E402

CASES = ("ns_to_ns", "guest_to_peer", "peer_to_guest")
IMPLS = ("ours", "ovs-dpdk", "testpmd")
SWITCH_CPU = "1"            # the switches' forwarding CPU (lcore)
PEER_CPU = "0"              # QEMU and the namespaces' iperf3
A_IP, B_IP = "10.77.0.1", "10.77.0.2"   # ns_to_ns: client, server; guest cases: guest, peer
# Fixed MACs for the guest cases: testpmd's csum engine writes a frame's destination MAC
# from --eth-peer of its TX port (and its source MAC from the port's own).
GUEST_MAC, PEER_MAC = "52:54:00:77:00:01", "02:77:00:00:00:02"
HUGEPAGES = 1024            # 2 MB pages: OVS's dpdk-socket-mem 1024 and the others' 1024 MB
SOCKET_MEM = "1024"
# The same memory mode for ours and testpmd as OVS 3.1 gives itself (--in-memory).
EAL_MEM = ["--socket-mem", SOCKET_MEM, "--in-memory"]
TESTPMD_TSO_SEGSZ = 1400    # net_tap drops a TSO packet whose segsz + headers exceed its MTU
OVS_VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
OVS_TSO_LOG = "Userspace TCP Segmentation Offloading support enabled"
FRAME = 1514                # largest frame of a 1500-byte MTU


def log(msg, bench="kernel"):
    sys.stderr.write(f"bench {bench}: {msg}\n")
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# The machine: hugepages for every switch (OVS 3.1 adds --in-memory, which --no-huge
# cannot go with), restored afterwards.

class Hugepages:
    NR = "/proc/sys/vm/nr_hugepages"

    def __init__(self, pages, mount_parent):
        self.prev = int(open(self.NR).read())
        self.mount = None
        self.changed = False
        if not any(line.split()[2] == "hugetlbfs" for line in open("/proc/mounts")):
            self.mount = tempfile.mkdtemp(prefix="vo-bench-huge-", dir=mount_parent)
            sh(f"mount -t hugetlbfs -o pagesize=2M nodev {self.mount}")
        free = self.free()
        if free < pages:
            self.changed = True
            try:
                self._write(self.prev + pages - free)
                if self.free() < pages:
                    raise RuntimeError(f"asked the kernel for {pages} free 2 MB hugepages, got "
                                       f"{self.free()} (memory fragmented?)")
            except BaseException:
                self.close()
                raise
        log(f"hugepages: {self.free()} free of {int(open(self.NR).read())} "
            f"(was {self.prev}){'; hugetlbfs mounted at ' + self.mount if self.mount else ''}")

    @staticmethod
    def free():
        for line in open("/proc/meminfo"):
            if line.startswith("HugePages_Free:"):
                return int(line.split()[1])
        return 0

    def _write(self, n):
        with open(self.NR, "w") as f:
            f.write(f"{n}\n")

    def close(self):
        if self.changed:
            self._write(self.prev)
        if self.mount:
            sh(f"umount {self.mount}", check=False)
            with contextlib.suppress(OSError):
                os.rmdir(self.mount)


# ---------------------------------------------------------------------------
# Open vSwitch with DPDK, private: its database, sockets, logs in its own directory.

class Ovs:
    def __init__(self, work, cpus=SWITCH_CPU):
        self.dir = tempfile.mkdtemp(prefix="ovs-", dir=work)
        self.prefix = unique("voo")
        self.bridge = unique("vob")
        self.ports = []
        self.vswitchd = self.db = None
        d = self.dir
        env = [f"OVS_RUNDIR={d}", f"OVS_LOGDIR={d}", f"OVS_DBDIR={d}", f"OVS_SYSCONFDIR={d}"]
        self.env = dict(os.environ, **dict(e.split("=", 1) for e in env))
        self.dbsock = os.path.join(d, "db.sock")
        self.ctl = os.path.join(d, "vswitchd.ctl")
        self.log_path = os.path.join(d, "ovs-vswitchd.log")
        db = os.path.join(d, "conf.db")
        self._run(["ovsdb-tool", "create", db, OVS_SCHEMA])
        try:
            self.db = Process(["env"] + env + ["ovsdb-server", db, f"--remote=punix:{self.dbsock}",
                                                f"--unixctl={d}/ovsdb-server.ctl"],
                              os.path.join(d, "ovsdb-server.out"))
            wait_for("ovsdb-server's socket", lambda: self._alive(self.db, "ovsdb-server") and
                     os.path.exists(self.dbsock), 10)
            self.vsctl("--no-wait", "init")
            self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
                       "other_config:dpdk-init=true", f"other_config:pmd-cpu-mask={1 << int(cpus):#x}",
                       "other_config:userspace-tso-enable=true",
                       f'other_config:dpdk-extra="--no-pci --file-prefix={self.prefix}"',
                       f"other_config:dpdk-socket-mem={SOCKET_MEM}")
            self.vswitchd = Process(["env"] + env + ["taskset", "-c", cpus, OVS_VSWITCHD,
                                                     f"unix:{self.dbsock}", f"--unixctl={self.ctl}",
                                                     f"--log-file={self.log_path}"],
                                    os.path.join(d, "ovs-vswitchd.out"))
            wait_for("OVS to initialise DPDK", lambda: self._alive(self.vswitchd, "ovs-vswitchd") and
                     self.vsctl("get", "Open_vSwitch", ".", "dpdk_initialized",
                                check=False).strip() == "true", 60, 0.3)
            tso = self.vsctl("get", "Open_vSwitch", ".", "other_config:userspace-tso-enable").strip()
            if tso.strip('"') != "true" or OVS_TSO_LOG not in self.log():
                raise RuntimeError(f"OVS userspace TSO is not on (other_config {tso!r}; "
                                   f"log says {OVS_TSO_LOG!r}: {OVS_TSO_LOG in self.log()})")
            self.vsctl("--timeout=30", "add-br", self.bridge, "--", "set", "bridge", self.bridge,
                       "datapath_type=netdev")
        except BaseException:
            self.stop()
            raise

    def _run(self, argv, check=True):
        r = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=90)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
        return r.stdout

    def _alive(self, proc, name):
        if not proc.alive():
            raise RuntimeError(f"{name} exited:\n{proc.tail()}\n{self.log()[-2000:]}")
        return True

    def vsctl(self, *args, check=True):
        return self._run(["ovs-vsctl", f"--db=unix:{self.dbsock}"] + list(args), check)

    def log(self):
        with contextlib.suppress(OSError), open(self.log_path, errors="replace") as f:
            return f.read()
        return ""

    def add_tap(self):
        """A `type=tap` port: OVS creates the TAP (with virtio-net headers) in the host
        namespace; returns its name."""
        name = unique("vob")
        self.ports.append(name)
        self.vsctl("--timeout=30", "add-port", self.bridge, name, "--", "set", "Interface", name,
                   "type=tap")
        wait_iface(name)
        return name

    def add_vhost_client(self, name, sock):
        """A `dpdkvhostuserclient` port on QEMU's socket (QEMU is the server)."""
        self.vsctl("--timeout=30", "add-port", self.bridge, name, "--", "set", "Interface", name,
                   "type=dpdkvhostuserclient", f"options:vhost-server-path={sock}")

    def iface_stats(self, name):
        out = self.vsctl("get", "Interface", name, "statistics", check=False)
        return dict((k, int(v)) for k, v in re.findall(r'"?([\w-]+)"?=(\d+)', out))

    def stop(self):
        if self.vswitchd and self.vswitchd.alive():
            subprocess.run(["ovs-appctl", "-t", self.ctl, "exit", "--cleanup"], env=self.env,
                           capture_output=True, timeout=20)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.vswitchd.proc.wait(10)
        for p in (self.vswitchd, self.db):
            if p:
                p.stop(signal.SIGTERM)
        # What OVS leaves: its EAL runtime directory (empty with --in-memory), and any TAP
        # still in the host namespace (the bridge's own port is one).
        shutil.rmtree(harness.dpdk_runtime_dir(self.prefix), ignore_errors=True)
        for name in self.ports + [self.bridge]:
            if os.path.exists(f"/sys/class/net/{name}"):
                sh(f"ip link del {name}", check=False)


# ---------------------------------------------------------------------------
# Peers and traffic.

def dev_stats(ns, iface):
    base = f"/sys/class/net/{iface}/statistics"
    keys = ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_dropped", "tx_dropped")
    vals = ns.run("cat " + " ".join(f"{base}/{k}" for k in keys)).split()
    return dict(zip(keys, map(int, vals)))


def tcp_counters(ns):
    """The namespace's Tcp and TcpExt counters (/proc/net/snmp and netstat)."""
    out = {}
    for f in ("snmp", "netstat"):
        lines = ns.run(f"cat /proc/net/{f}").splitlines()
        for names, values in zip(lines[::2], lines[1::2]):
            proto, names = names.split(":", 1)
            if proto in ("Tcp", "TcpExt"):
                out.update({proto + n: int(v) for n, v in zip(names.split(), values.split()[1:])})
    return out


# What the kernel says about the TCP of the run: the receiver's checksum errors and
# out-of-order segments, the sender's kinds of retransmission.
RECEIVER_TCP = ("TcpInCsumErrors", "TcpExtTCPOFOQueue")
SENDER_TCP = ("TcpExtTCPLossProbes", "TcpExtTCPFastRetrans", "TcpExtTCPSlowStartRetrans",
              "TcpExtTCPTimeouts", "TcpExtTCPSpuriousRTOs", "TcpExtTCPSACKReorder")


def cpu_times():
    """Per CPU (busy, total) jiffies from /proc/stat: what bounds a case on 2 cores."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *v = line.split()
                v = [int(x) for x in v[:8]]
                out[name] = (sum(v) - v[3] - v[4], sum(v))  # all but idle and iowait
    return out


@contextlib.contextmanager
def cpu_meter(row):
    """Fills row["cpu_busy"] with each CPU's busy percent over the block."""
    before = cpu_times()
    yield
    after = cpu_times()
    row["cpu_busy"] = {c: round(100 * (after[c][0] - before[c][0]) /
                                max(1, after[c][1] - before[c][1]))
                       for c in after if c in before}


def tcp_delta(before, after, keys):
    return {k[3:] if k.startswith("Tcp") else k: after.get(k, 0) - before.get(k, 0) for k in keys}


def avg_frame(before, after, direction):
    p = after[f"{direction}_packets"] - before[f"{direction}_packets"]
    b = after[f"{direction}_bytes"] - before[f"{direction}_bytes"]
    return round(b / p, 1) if p else None


def server_in(work, ns, port=5201):
    """A one-shot iperf3 server in namespace `ns`, on the peers' CPU."""
    srv = Process(["taskset", "-c", PEER_CPU, "iperf3", "-s", "-1", "-p", str(port)],
                  os.path.join(work, f"iperf3-server-{ns.name}.log"), netns=ns.name)
    wait_for("iperf3 to listen", lambda: ns.run(f"ss -Hltn sport = :{port}", check=False).strip(), 10)
    return srv


def client_in(ns, server, seconds, wait_server=0):
    """iperf3 from namespace `ns` to `server`, on the peers' CPU; its JSON report."""
    return netns_iperf3(ns, server, seconds, wait_server=wait_server, cpus=PEER_CPU)


def ping_ok(out):
    return re.search(r"\b1 (packets )?received", out) is not None


# The host has no ping: a TCP connection to a closed port that is refused (a RST came
# back) proves the path both ways, ARP included.
PROBE = ("/usr/bin/python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(1)\n"
         "try: s.connect((sys.argv[1], 9))\nexcept ConnectionRefusedError: print(\"reached\")\n"
         "except OSError: pass' ")


def wait_ns_reach(ns, ip, timeout=30):
    wait_for(f"{ns.name} to reach {ip}",
             lambda: "reached" in ns.run(PROBE + ip, check=False), timeout, 0.2)


def wait_vm_reach(vm, ip, timeout=40):
    wait_for(f"guest {vm.name} to reach {ip}",
             lambda: ping_ok(vm.run(f"ping -c 1 -W 1 {ip}", check=False, timeout=10)), timeout, 0.2)


def ours_drops(sw):
    """Our switch's non-zero drop counters over the whole run, as port.counter."""
    with contextlib.suppress(Exception):
        return {f"{p}.{k}": v for p, st in sw.stats()["ports"].items() for k, v in st.items()
                if "drop" in k and isinstance(v, int) and v}
    return None


def testpmd_switch(work, vdevs, cmds, extra_args=()):
    """dpdk-testpmd as the switch: forwarding on lcore 1, its prompt on lcore 0."""
    return Testpmd(work, vdevs, cmds + ["start"], extra_args, lcores=f"{PEER_CPU},{SWITCH_CPU}",
                   main_lcore=int(PEER_CPU), mbufs=32768, eal_mem=EAL_MEM)


def taps_of_testpmd(n):
    return [unique("vt") for _ in range(n)]


# ---------------------------------------------------------------------------
# Cases: each builds its topology, runs iperf3 once, and tears everything down.

def ns_to_ns(impl, work, seconds):
    with cleanup() as later:
        if impl == "ours":
            a, b = KernelHost("a"), KernelHost("b")
            later(a)
            later(b)
            sw = Switch(work, a.switch_args() + b.switch_args(),
                        lcores=f"{PEER_CPU},{SWITCH_CPU}", eal_mem=EAL_MEM)
            later(sw)
            a.attach(A_IP)
            b.attach(B_IP)
            ta, tb = a.tap, b.tap
        else:
            a, b = Netns("vokern"), Netns("vokern")
            later(a)
            later(b)
            if impl == "ovs-dpdk":
                ovs = Ovs(work)
                later(ovs)
                ta, tb = ovs.add_tap(), ovs.add_tap()
            else:
                ta, tb = taps_of_testpmd(2)
                later(testpmd_switch(work, [f"net_tap0,iface={ta}", f"net_tap1,iface={tb}"],
                                     ["set fwd io"]))
                wait_iface(ta)
                wait_iface(tb)
            a.adopt(ta, [f"{A_IP}/24"])
            b.adopt(tb, [f"{B_IP}/24"])
            a.addr, b.addr = A_IP, B_IP
        wait_ns_reach(a, B_IP)
        later(server_in(work, b))
        sa, sb = dev_stats(a, ta), dev_stats(b, tb)
        ca, cb = tcp_counters(a), tcp_counters(b)
        cpu = {}
        with cpu_meter(cpu):
            report = client_in(a, B_IP, seconds)
        ea, eb = dev_stats(a, ta), dev_stats(b, tb)
        kernel_tcp = {"sender": tcp_delta(ca, tcp_counters(a), SENDER_TCP),
                      "receiver": tcp_delta(cb, tcp_counters(b), RECEIVER_TCP)}
        row = iperf_summary(report)
        row.update(cpu)
        row.update(kernel_avg_bytes=avg_frame(sb, eb, "rx"),
                   sender_tx_avg_bytes=avg_frame(sa, ea, "tx"),
                   kernel_dropped={"sender_tx": ea["tx_dropped"] - sa["tx_dropped"],
                                   "receiver_rx": eb["rx_dropped"] - sb["rx_dropped"]},
                   kernel_tcp=kernel_tcp)
        if impl == "ours":
            row["ours_drops"] = ours_drops(sw)
        return row


def guest_topology(impl, work, later, guest_port_args=()):
    """A TCG guest on `impl`'s vhost-user port and a peer namespace behind its kernel port,
    both up and reaching each other; what is built is closed by `later`. Returns
    {"vm", "peer", "tap", "backend_pid"} plus "sw" (ours) or "ovs" (ovs-dpdk).
    `guest_port_args`: more options of our guest port (ours only)."""
    sock = os.path.join(work, unique("vm") + ".sock")
    t = {}
    if impl not in IMPLS:
        raise ValueError(f"no such switch {impl!r} (known: {', '.join(IMPLS)})")
    if impl == "ours":
        peer = KernelHost("peer")
        later(peer)
        sw = Switch(work, ["--vhost", sock, "--name", "vm"] + list(guest_port_args) +
                    peer.switch_args(), lcores=f"{PEER_CPU},{SWITCH_CPU}", eal_mem=EAL_MEM)
        later(sw)
        peer.attach(B_IP)
        tap = peer.tap
        vm = Vm(work, sock, ip=f"{A_IP}/24", cpus=PEER_CPU)
        later(vm)
        t.update(sw=sw, backend_pid=sw.process.proc.pid)
    elif impl == "ovs-dpdk":
        peer = Netns("vokern")
        later(peer)
        ovs = Ovs(work)
        later(ovs)
        tap = ovs.add_tap()
        peer.adopt(tap, [f"{B_IP}/24"])
        ovs.add_vhost_client("vm", sock)
        vm = Vm(work, sock, ip=f"{A_IP}/24", server=True, cpus=PEER_CPU)
        later(vm)
        t.update(ovs=ovs, backend_pid=ovs.vswitchd.proc.pid)
    else:
        peer = Netns("vokern")
        later(peer)
        (tap,) = taps_of_testpmd(1)
        # csum engine: the guest's 64 KB segments (port 0) are marked for TSO toward
        # the TAP (port 1), which cuts them in the PMD at a segment size that fits its
        # MTU; the TAP's frames go to the guest with their checksums offloaded. The
        # engine rewrites MACs: each port's frames go to the --eth-peer given here.
        cmds = ["port stop all", "csum set ip hw 1", "csum set tcp hw 1",
                f"tso set {TESTPMD_TSO_SEGSZ} 1", "csum set ip hw 0", "csum set tcp hw 0",
                "port start all", "set fwd csum"]
        pmd = testpmd_switch(work, [f"net_vhost0,iface={sock},tso=1", f"net_tap0,iface={tap}"],
                             cmds, [f"--eth-peer=0,{GUEST_MAC}", f"--eth-peer=1,{PEER_MAC}"])
        later(pmd)
        wait_iface(tap)
        peer.adopt(tap, [f"{B_IP}/24"], mac=PEER_MAC)
        vm = Vm(work, sock, ip=f"{A_IP}/24", mac=GUEST_MAC, cpus=PEER_CPU)
        later(vm)
        t.update(backend_pid=pmd.process.proc.pid)
    peer.addr = B_IP
    wait_vm_reach(vm, B_IP)
    t.update(vm=vm, peer=peer, tap=tap)
    return t


def guest_case(impl, work, seconds, to_guest):
    with cleanup() as later:
        t = guest_topology(impl, work, later)
        vm, peer, tap = t["vm"], t["peer"], t["tap"]
        before = dev_stats(peer, tap)
        c0 = tcp_counters(peer)
        cpu = {}
        if to_guest:
            vm.iperf3_server()
            with cpu_meter(cpu):
                report = client_in(peer, A_IP, seconds, wait_server=10)
        else:
            later(server_in(work, peer))
            with cpu_meter(cpu):
                report = vm.iperf3(B_IP, seconds)
        after = dev_stats(peer, tap)
        peer_tcp = tcp_delta(c0, tcp_counters(peer), SENDER_TCP if to_guest else RECEIVER_TCP)
        row = iperf_summary(report)
        row.update(cpu)
        row.update(kernel_avg_bytes=avg_frame(before, after, "tx" if to_guest else "rx"),
                   kernel_dropped={k: after[k] - before[k] for k in ("rx_dropped", "tx_dropped")},
                   kernel_tcp={"sender" if to_guest else "receiver": peer_tcp},
                   guest_offloads=",".join(sorted(vm.features())))
        if impl == "ours":
            row["ours_drops"] = ours_drops(t["sw"])
        if impl == "ovs-dpdk":  # drops at OVS's vhost port (guest ring full), whole run
            st = t["ovs"].iface_stats("vm")
            row.update(ovs_vm_tx_dropped=st.get("tx_dropped"), ovs_vm_rx_dropped=st.get("rx_dropped"))
        return row


RUNNERS = {
    "ns_to_ns": ns_to_ns,
    "guest_to_peer": lambda impl, work, s: guest_case(impl, work, s, to_guest=False),
    "peer_to_guest": lambda impl, work, s: guest_case(impl, work, s, to_guest=True),
}


# ---------------------------------------------------------------------------

def median_row(case, impl, runs):
    ok = [r for r in runs if "error" not in r]
    row = {"case": case, "impl": impl, "runs": len(runs), "ok_runs": len(ok)}
    if not ok:
        row.update(gbps=None, retransmits=None, note="; ".join(r["error"] for r in runs)[:500])
        return row
    row["gbps"] = round(statistics.median(r["gbps"] for r in ok), 3)
    row["retransmits"] = statistics.median(r["retransmits"] for r in ok)
    row["gbps_runs"] = [round(r["gbps"], 3) for r in ok]
    row["retransmits_runs"] = [r["retransmits"] for r in ok]
    avgs = [r["kernel_avg_bytes"] for r in ok if r.get("kernel_avg_bytes")]
    row["kernel_avg_bytes"] = round(statistics.median(avgs), 1) if avgs else None
    row["whole_segments"] = (row["kernel_avg_bytes"] > FRAME) if avgs else None
    ofo = [r["kernel_tcp"]["receiver"]["ExtTCPOFOQueue"] for r in ok
           if "receiver" in r.get("kernel_tcp", {})]
    row["receiver_out_of_order"] = statistics.median(ofo) if ofo else None
    busy = [r["cpu_busy"] for r in ok if "cpu_busy" in r]
    if busy:
        row["cpu_busy"] = {c: statistics.median(b[c] for b in busy) for c in busy[0]}
    mid = sorted(ok, key=lambda r: r["gbps"])[(len(ok) - 1) // 2]
    for k, v in mid.items():
        if k not in row and k not in ("bytes",):
            row[k] = round(v, 2) if isinstance(v, float) else v
    if len(ok) < len(runs):
        row["note"] = "failed runs: " + "; ".join(r["error"] for r in runs if "error" in r)[:300]
    return row


def fmt_num(x, f="{:.2f}"):
    return "n/a" if x is None else f.format(x)


def print_table(rows):
    head = ("case", "impl", "Gbit/s", "retrans", "rx OFO", "kern B/pkt", "whole",
            "busy % cpu0/1", "runs (Gbit/s / retrans)", "note")
    body = []
    for r in rows:
        runs = " ".join(f"{g:.2f}/{t}" for g, t in zip(r.get("gbps_runs", []),
                                                       r.get("retransmits_runs", [])))
        whole = r.get("whole_segments")
        busy = "/".join(f"{v:.0f}" for _, v in sorted(r.get("cpu_busy", {}).items())) or "n/a"
        body.append((r["case"], r["impl"], fmt_num(r["gbps"]),
                     fmt_num(r["retransmits"], "{:g}"), fmt_num(r.get("receiver_out_of_order"), "{:g}"),
                     fmt_num(r.get("kernel_avg_bytes"), "{:.0f}"),
                     "-" if whole is None else ("yes" if whole else "no"), busy, runs,
                     r.get("note", "")[:120]))
    w = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    fmt = "  ".join(["{:<%d}" % w[0], "{:<%d}" % w[1]] + ["{:>%d}" % x for x in w[2:6]] +
                    ["{:<%d}" % w[6], "{:>%d}" % w[7], "{:<%d}" % w[8], "{}"])
    print(fmt.format(*head).rstrip())
    for i, b in enumerate(body):
        if i and b[0] != body[i - 1][0]:
            print()
        print(fmt.format(*b).rstrip())


def verdicts(rows):
    """Per case, ours against ovs-dpdk, and the target: at least 1.3x Open vSwitch's
    throughput on every case, with fewer retransmissions."""
    by = {(r["case"], r["impl"]): r for r in rows}
    out, all_met, judged = [], True, 0
    for case in CASES:
        o, v = by.get((case, "ours")), by.get((case, "ovs-dpdk"))
        if not o or not v:
            continue
        if o["gbps"] is None or v["gbps"] is None or not v["gbps"]:
            out.append(f"{case}: ours vs ovs-dpdk: no result "
                       f"({'ours' if o['gbps'] is None else 'ovs-dpdk'} failed)")
            all_met = False
            continue
        judged += 1
        ratio = o["gbps"] / v["gbps"]
        # fewer retransmissions; none at all on both sides counts as not more
        fewer = o["retransmits"] < v["retransmits"] or o["retransmits"] == v["retransmits"] == 0
        met = ratio >= 1.3 and fewer
        all_met &= met
        whole = {i: by[(case, i)].get("whole_segments") for i in ("ours", "ovs-dpdk")}
        out.append(f"{case}: ours/ovs-dpdk {ratio:.2f}x ({o['gbps']:.2f} vs {v['gbps']:.2f} "
                   f"Gbit/s), retransmits {o['retransmits']:g} vs {v['retransmits']:g}; "
                   f"64 KB segments whole at the kernel: ours {yn(whole['ours'])}, "
                   f"ovs-dpdk {yn(whole['ovs-dpdk'])}: target {'met' if met else 'MISSED'}")
    if out:
        state = "met" if all_met and judged == len(CASES) else (
            "MISSED" if not all_met else f"not judged on every case ({judged}/{len(CASES)} run)")
        out.append(f"target at least 1.3x Open vSwitch on every case, with fewer "
                   f"retransmissions: {state}")
    return out


def yn(x):
    return "n/a" if x is None else ("yes" if x else "no")


def check_tools(impls):
    missing = [t for t in ("iperf3", "taskset", "qemu-system-x86_64") if not shutil.which(t)]
    if "testpmd" in impls and not shutil.which("dpdk-testpmd"):
        missing.append("dpdk-testpmd (dpdk-dev)")
    if "ovs-dpdk" in impls:
        if not os.access(OVS_VSWITCHD, os.X_OK) or not shutil.which("ovsdb-server"):
            missing.append("ovs-vswitchd-dpdk (apt-get install openvswitch-switch-dpdk)")
    if missing:
        raise SystemExit(f"bench kernel: missing: {', '.join(missing)}")


def dpdk_leftovers():
    tag = f"{os.getpid() % 10000}x"
    return [p for stem in ("vot", "vop", "voo") for p in glob.glob(f"/var/run/dpdk/{stem}{tag}*")]


def _terminate(signum, frame):
    # Once: the cleanup that follows must not be interrupted by a second signal.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    log(f"terminated by signal {signum}: cleaning up")
    raise SystemExit(128 + signum)


def main(argv):
    args = bench_switch.parse_options(
        argv, "tools/bench kernel", __doc__.split("\n")[0], 10.0, "iperf3's duration in each run",
        lambda p: p.add_argument("--impl", default=".", metavar="REGEX",
                                 help="only the implementations matching (ours, ovs-dpdk, testpmd)"))
    cases = [c for c in CASES if re.search(args.case, c)]
    impls = [i for i in IMPLS if re.search(args.impl, i)]
    if not cases or not impls:
        print("tools/bench kernel: no case or no implementation matches", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        raise SystemExit("bench kernel: needs root (namespaces, hugepages, DPDK)")
    seconds = int(args.seconds) if float(args.seconds).is_integer() else args.seconds
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    check_tools(impls)
    if "ours" in impls:
        bench_switch.build()
    work = tempfile.mkdtemp(prefix="vo-bench-kernel-")
    log(f"logs in {work}; build {os.environ['VO_BUILD_DIR']}")
    rows, failed = [], False
    try:
        with cleanup() as later:
            later(Hugepages(HUGEPAGES, "/tmp"))
            for case in cases:
                runs = {i: [] for i in impls}
                for rep in range(args.repetitions):
                    for impl in impls:
                        log(f"{case}/{impl} run {rep + 1}/{args.repetitions}")
                        r = attempt(lambda: RUNNERS[case](impl, work, seconds), lambda r: (
                            f"{r['gbps']:.2f} Gbit/s, {r['retransmits']} retransmits, "
                            f"{fmt_num(r.get('kernel_avg_bytes'), '{:.0f}')} B/frame at the kernel"))
                        failed |= "error" in r
                        runs[impl].append(r)
                for impl in impls:
                    row = median_row(case, impl, runs[impl])
                    row.update(seconds=seconds, memory="hugepages 2M, --in-memory",
                               switch_cpu=int(SWITCH_CPU))
                    rows.append(row)
    finally:
        close_work(work, args.keep or failed)
    return report(rows, args.json, print_table, verdicts)


# Shared with the other benches that run real peers (vo.bench.notify).

def attempt(run, describe, say=log):
    """run()'s result row, said with describe(row); a failure becomes {"error": ...},
    said, so that one failed run is reported and the others go on."""
    try:
        r = run()
        say(f"  {describe(r)}")
    except Exception as e:
        msg = str(e).strip().splitlines()
        r = {"error": f"{type(e).__name__}: {msg[0] if msg else ''}"}
        say(f"  failed: {r['error']}")
    return r


def close_work(work, keep, say=log):
    """Removes DPDK's runtime leftovers, and the logs' directory unless `keep`."""
    left = dpdk_leftovers()
    for d in left:
        shutil.rmtree(d, ignore_errors=True)
    if left:
        say(f"removed DPDK runtime leftovers: {' '.join(left)}")
    if keep:
        say(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def report(rows, as_json, table, verdict_lines):
    """Prints the rows as JSON lines, or as table(rows) followed by verdict_lines(rows)."""
    if as_json:
        for r in rows:
            print(json.dumps(r))
        return 0
    table(rows)
    print()
    for line in verdict_lines(rows):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
