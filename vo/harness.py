"""Real peers for switch tests: the vhost-offload daemon, dpdk-testpmd with
virtio-user as a guest stand-in, network namespaces with the kernel's TCP
stack. Everything started here is stopped by PID and every namespace deleted,
also when a test fails."""
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("VO_BUILD_DIR", os.path.join(ROOT, "build"))
SWITCH_BIN = os.path.join(BUILD, "tools", "vhost-offload")
VO_CTL = os.path.join(ROOT, "tools", "vo-ctl")
from vo import telemetry as vo_telemetry

_ids = itertools.count()


def unique(stem):
    return f"{stem}{os.getpid() % 10000}x{next(_ids)}"


def sh(cmd, check=True, **kw):
    """Runs a shell command; returns its stdout."""
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"`{cmd}` failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def wait_moving(what, read, timeout=20.0):
    """Waits until the number read() returns grows past its value now."""
    start = read()
    wait_for(f"{what} to move past {start}", lambda: read() > start, timeout)


def wait_for(what, predicate, timeout=20.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def recv_until(sock, end):
    """Bytes from a stream socket up to and with `end`, or all there were
    when the peer closed first (the caller tells by the ending)."""
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def dpdk_runtime_dir(prefix):
    """Where a DPDK process with --file-prefix `prefix` keeps its runtime files."""
    return os.path.dirname(vo_telemetry.socket_path(prefix))


class Process:
    """A child in its own process group, logging to a file, killed on close. For a DPDK
    process, `runtime_dir` is removed once it exited (EAL leaves 12 MB there with --no-huge)."""

    def __init__(self, argv, log_path, stdin=None, netns=None, runtime_dir=None):
        if netns:
            argv = ["ip", "netns", "exec", netns] + list(argv)
        self.argv = argv
        self.log_path = log_path
        self.runtime_dir = runtime_dir
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=stdin, start_new_session=True)

    def alive(self):
        return self.proc.poll() is None

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def tail(self, n=30):
        return "\n".join(self.text().splitlines()[-n:])

    def send_signal(self, sig):
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self, sig=signal.SIGINT, timeout=15):
        self.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send_signal(signal.SIGKILL)
            return self.proc.wait(5)
        finally:
            self.log.close()
            if self.proc.stdin:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
            if self.runtime_dir and not self.alive():
                shutil.rmtree(self.runtime_dir, ignore_errors=True)

    def kill(self):
        return self.stop(signal.SIGKILL, 5)


class Switch:
    """vhost-offload on lcores 0 (control) and 1 (datapath), without hugepages, or on
    `lcores` (an -l list, or a --lcores map such as "0@0,1@1,2@1").
    `eal_mem` replaces the EAL memory options (default: --no-huge -m 1024), e.g.
    ["-m", "1024", "--huge-unlink"] to run on hugepages."""

    def __init__(self, workdir, port_args, extra_args=(), lcores="0,1", eal_mem=None):
        self.prefix = unique("vot")
        self.workdir = workdir
        self.control = os.path.join(workdir, f"{self.prefix}.ctl")
        mem = ["--no-huge", "-m", "1024"] if eal_mem is None else list(eal_mem)
        # "0,1" is an lcore list (-l); "0@0,1@1,2@1" maps lcores onto CPUs (--lcores).
        lcore_opt = "--lcores" if "@" in lcores else "-l"
        argv = [SWITCH_BIN] + list(port_args) + ["--control", self.control] + list(extra_args) + [
            "--", lcore_opt, lcores] + mem + ["--no-pci",
            "--file-prefix", self.prefix, "--log-level=lib.eal:warning"]
        self.process = Process(argv, os.path.join(workdir, f"{self.prefix}.log"),
                               runtime_dir=dpdk_runtime_dir(self.prefix))
        wait_for("the switch to start", self._running)

    def _running(self):
        if not self.process.alive():
            raise RuntimeError(f"vhost-offload exited:\n{self.process.tail()}")
        return "running:" in self.process.text()

    def stats(self):
        return vo_telemetry.query(self.prefix)

    def port(self, name):
        return self.stats()["ports"][name]

    def ctl(self, *args, check=True):
        """tools/vo-ctl on this switch's control socket with --json: (exit status, answer)."""
        r = subprocess.run([VO_CTL, "--control", self.control, "--json"] + list(args),
                           capture_output=True, text=True, timeout=60)
        answer = json.loads(r.stdout) if r.stdout.strip() else None
        if check and r.returncode != 0:
            raise RuntimeError(f"vo-ctl {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
        return r.returncode, answer

    def request(self, req):
        """One request on the control socket, as vo-ctl sends it: (answer, seconds it took)."""
        start = time.monotonic()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(self.control)
            s.sendall((json.dumps(req) + "\n").encode())
            data = recv_until(s, b"\n")
            if not data.endswith(b"\n"):
                raise RuntimeError(f"the switch closed its control socket on {req}")
        return json.loads(data), time.monotonic() - start

    def wait_guest(self, name, timeout=30):
        wait_for(f"a guest on port {name}", lambda: self.port(name)["ready"] == 1, timeout)

    def wait_learned(self, name, timeout=30):
        """Waits until a guest's first frame came in on port `name`: the switch knows its MAC."""
        self.wait_guest(name, timeout)
        wait_for(f"a frame from the guest on port {name}", lambda: self.port(name)["rx_packets"] > 0,
                 timeout)

    @contextlib.contextmanager
    def paused(self):
        """Freezes the switch (SIGSTOP) for the block: whatever its ports receive meanwhile
        waits in their queues, and it finds all of it at once when it resumes."""
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)

    def stop(self):
        """Stops with SIGINT; returns the mbufs the switch said were still in use."""
        rc = self.process.stop()
        m = re.search(r"stopped cleanly; (\d+) mbufs still in use", self.process.text())
        if rc != 0 or not m:
            raise RuntimeError(f"vhost-offload did not stop cleanly (rc {rc}):\n{self.process.tail()}")
        return int(m.group(1))


class Netns:
    """A peer host: its own network namespace and kernel TCP stack."""

    def __init__(self, stem="vopeer"):
        self.name = unique(stem)
        sh(f"ip netns add {self.name}")
        self.run("ip link set lo up")

    def run(self, cmd, check=True, timeout=120):
        return sh(f"ip netns exec {self.name} {cmd}", check=check, timeout=timeout)

    def adopt(self, iface, addrs=(), mac=None, mtu=None, ipv6=True):
        """Moves a host interface in here and configures it. ipv6=False keeps the kernel
        from sending anything on it by itself (router solicitations, MLD reports)."""
        sh(f"ip link set {iface} netns {self.name}")
        if not ipv6:
            self.run(f"sysctl -qw net.ipv6.conf.{iface}.disable_ipv6=1")
        if mac:
            self.run(f"ip link set {iface} address {mac}")
        if mtu:
            self.run(f"ip link set {iface} mtu {mtu}")
        for a in addrs:
            self.run(f"ip addr add {a} dev {iface} {'nodad' if ':' in a else ''}")
        self.run(f"ip link set {iface} up")

    def inject(self, iface, pcap):
        """Sends every frame of a capture out of `iface`, in order, as the peer's NIC would."""
        self.run(f"/usr/bin/python3 -c 'import sys; from scapy.all import rdpcap, sendp; "
                 f"sendp(rdpcap(sys.argv[1]), iface=sys.argv[2], verbose=False)' {pcap} {iface}")

    def counters(self):
        """The namespace's kernel SNMP counters, e.g. TcpInSegs, TcpInCsumErrors
        (TCP counts IPv4 and IPv6 alike), read from /proc/net/snmp and snmp6."""
        out = {}
        lines = self.run("cat /proc/net/snmp").splitlines()
        for names, values in zip(lines[::2], lines[1::2]):
            proto, names = names.split(":", 1)
            for n, v in zip(names.split(), values.split(":", 1)[1].split()):
                out[proto + n] = int(v)
        for line in self.run("cat /proc/net/snmp6").splitlines():
            n, v = line.split()
            out[n] = int(v)
        return out

    def close(self):
        sh(f"ip netns pids {self.name} | xargs -r kill -9", check=False)
        sh(f"ip netns del {self.name}", check=False)


class TapHost(Netns):
    """A peer host behind a net_tap port of the switch: a namespace that takes the TAP
    the switch creates. Pass switch_args() to the Switch, then attach() once it runs."""

    def __init__(self, index, port_name):
        super().__init__()
        self.tap = unique("vt")
        self.index = index
        self.port_name = port_name
        self.addr = None

    def switch_args(self):
        return ["--nic", f"net_tap{self.index},iface={self.tap}", "--name", self.port_name]

    def attach(self, addr):
        wait_iface(self.tap)
        self.adopt(self.tap, [f"{addr}/{64 if ':' in addr else 24}"])
        self.addr = addr


class KernelHost(Netns):
    """A peer host behind a kernel port of the switch (--tap): the switch creates the TAP
    inside this namespace itself (--netns). Pass switch_args() to the Switch, then attach()
    once it runs. `disable` is the port's --disable list."""

    def __init__(self, port_name, disable=None, mtu=None, queues=None):
        super().__init__("vokern")
        self.tap = unique("vk")
        self.port_name = port_name
        self.disable = disable
        self.mtu = mtu
        self.queues = queues
        self.addr = None

    def switch_args(self):
        args = ["--tap", self.tap, "--name", self.port_name, "--netns", self.name]
        if self.disable:
            args += ["--disable", self.disable]
        if self.mtu:
            args += ["--mtu", str(self.mtu)]
        if self.queues:
            args += ["--queues", str(self.queues)]
        return args

    def attach(self, addr, mac=None):
        wait_for(f"interface {self.tap} in {self.name}",
                 lambda: self.run(f"ip link show {self.tap}", check=False).strip(), 10)
        if mac:
            self.run(f"ip link set {self.tap} address {mac}")
        self.run(f"ip addr add {addr}/{64 if ':' in addr else 24} dev {self.tap} "
                 f"{'nodad' if ':' in addr else ''}")
        self.run(f"ip link set {self.tap} up")
        self.addr = addr

    def link_stats(self):
        """The TAP's own counters as the namespace's kernel sees them (rx: from the switch)."""
        base = f"/sys/class/net/{self.tap}/statistics"
        return {k: int(self.run(f"cat {base}/{k}")) for k in
                ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes")}

    def features(self):
        """`ethtool -k` of the TAP: feature name -> True when on."""
        out = {}
        for line in self.run(f"ethtool -k {self.tap}").splitlines()[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                out[k.strip()] = v.split()[0] == "on"
        return out


class VethPeer(Netns):
    """A peer host behind a NIC port without TSO: a namespace on one end of a veth
    pair whose other end the switch reads with net_af_packet. net_af_packet carries no
    virtio-net header, so the peer's end sends finished checksums and no large
    segments (`tx off`, which takes TSO with it). Pass switch_args() to the Switch.
    `queues`: receive queues of the NIC port (net_af_packet's qpairs, spread by
    PACKET_FANOUT)."""

    def __init__(self, index, port_name, addrs, queues=1):
        super().__init__()
        self.queues = queues
        self.outer, inner = unique("vh"), unique("vp")
        self.port_name = port_name
        sh(f"ip link add {self.outer} type veth peer name {inner}")
        sh(f"ip link set {self.outer} up")
        self.adopt(inner, addrs)
        self.run(f"ethtool -K {inner} tx off")
        self.iface = inner
        self.index = index
        self.addr = {6 if ":" in a else 4: a.split("/")[0] for a in addrs}

    def switch_args(self):
        args = ["--nic", f"net_af_packet{self.index},iface={self.outer},framecnt=4096",
                "--name", self.port_name]
        if self.queues > 1:
            args[1] += f",qpairs={self.queues}"
            args += ["--queues", str(self.queues)]
        return args

    def close(self):
        super().close()
        sh(f"ip link del {self.outer}", check=False)


class Capture(Process):
    """dumpcap on an interface of a namespace, to a pcap, until stop(); count(filter)
    then reads it back with a tshark display filter."""

    def __init__(self, workdir, host, iface):
        self.pcap = os.path.join(workdir, f"{unique('cap')}-{iface}.pcap")
        super().__init__(["dumpcap", "-q", "-P", "-i", iface, "-s", "128", "-w", self.pcap],
                         self.pcap + ".log", netns=host.name)
        wait_for(f"dumpcap on {iface}", lambda: os.path.exists(self.pcap), 10)

    def count(self, display_filter):
        out = sh(f"tshark -r {self.pcap} -Y '{display_filter}' -T fields -e frame.number")
        return len(out.splitlines())


class Iperf3:
    """An iperf3 TCP test from `client` to `server` (Netns) for `seconds`, running in the
    background; result() waits for it and returns iperf3's JSON report."""

    def __init__(self, workdir, client, server, seconds, port=5201, client_args=()):
        self.server = Process(["iperf3", "-s", "-1", "-p", str(port)],
                              os.path.join(workdir, f"iperf3-server-{server.name}.log"), netns=server.name)
        wait_for("iperf3 to listen",
                 lambda: server.run(f"ss -Hltn sport = :{port}", check=False).strip(), 10)
        self.report = os.path.join(workdir, f"iperf3-{client.name}.json")
        if os.path.exists(self.report):  # --logfile appends: one report per file
            os.unlink(self.report)
        self.client = Process(["iperf3", "-c", server.addr, "-p", str(port), "-t", str(seconds),
                               "-J", "--logfile", self.report] + list(client_args),
                              os.path.join(workdir, f"iperf3-client-{client.name}.log"), netns=client.name)
        self.seconds = seconds

    def result(self):
        try:
            rc = self.client.proc.wait(self.seconds + 30)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"iperf3 ran {self.seconds + 30}s past its {self.seconds}s") from None
        with open(self.report) as f:
            report = json.load(f)
        if rc != 0 or "error" in report:
            raise RuntimeError(f"iperf3 failed (rc {rc}): {report.get('error')}")
        return report

    def stop(self):
        self.client.stop()
        self.server.stop()


def deltas(before, after):
    """after - before for every integer counter of a dict of counters (a port's stats,
    a host's SNMP counters); a counter new in `after` counts from 0."""
    return {k: v - before.get(k, 0) for k, v in after.items() if isinstance(v, int)}


def port_deltas(before, after):
    """deltas() of every port between two snapshots of Switch.stats()["ports"]."""
    return {n: deltas(before.get(n, {}), p) for n, p in after.items()}


def refusals(port):
    """A port's non-zero counts of packets refused by validation, by reason."""
    return {k: v for k, v in port.items() if k.startswith(("rx_drop_", "tx_drop_")) and v}


def iperf3_both_ways(workdir, a, b, seconds, later):
    """iperf3 from host a to host b, then from b to a; yields (client, server, report)
    for each, after checking that data arrived."""
    for client, server, port in ((a, b, 5201), (b, a, 5202)):
        run = Iperf3(workdir, client, server, seconds, port=port)
        later(run)
        report = run.result()
        assert report["end"]["sum_received"]["bytes"] > 0, f"{client.name} -> {server.name}: no data"
        yield client, server, report


def wait_iface(name, timeout=10):
    wait_for(f"interface {name}", lambda: os.path.exists(f"/sys/class/net/{name}"), timeout)


class Testpmd:
    __test__ = False
    """dpdk-testpmd as a guest stand-in (virtio-user on a switch socket) or a
    traffic source, driven through its interactive prompt."""

    def __init__(self, workdir, vdevs, setup_cmds=(), extra_args=(), lcores="0,1", main_lcore=1,
                 mbufs=16384, eal_mem=None):
        # eal_mem: EAL memory options instead of the default --no-huge -m 1024
        self.prefix = unique("vop")
        mem = ["--no-huge", "-m", "1024"] if eal_mem is None else list(eal_mem)
        cmdfile = os.path.join(workdir, f"{self.prefix}.cmds")
        with open(cmdfile, "w") as f:
            f.write("\n".join(setup_cmds) + "\n")
        # Unbuffered, so that the log shows each answer as it is printed.
        argv = ["stdbuf", "-o0", "-e0", "dpdk-testpmd", "-l", lcores, "--main-lcore", str(main_lcore)] + mem + [
                "--no-pci", "--file-prefix", self.prefix, "--log-level=lib.eal:warning"]
        for v in vdevs:
            argv += ["--vdev", v]
        argv += ["--", "-i", f"--total-num-mbufs={mbufs}", f"--cmdline-file={cmdfile}"] + list(extra_args)
        self.process = Process(argv, os.path.join(workdir, f"{self.prefix}.log"), stdin=subprocess.PIPE,
                               runtime_dir=dpdk_runtime_dir(self.prefix))
        wait_for("testpmd to read its commands", self._ready, 30)

    def _ready(self):
        if not self.process.alive():
            raise RuntimeError(f"testpmd exited:\n{self.process.tail()}")
        return "Read CLI commands from" in self.process.text()

    def cmd(self, line, settle=0.3):
        self.process.proc.stdin.write(f"{line}\n".encode())
        self.process.proc.stdin.flush()
        time.sleep(settle)

    def port_stats(self, port):
        """RX/TX packets and bytes of a port, from `show port stats`."""
        mark = len(self.process.text())
        self.cmd(f"show port stats {port}", 0.5)
        text = wait_for("port stats", lambda: ("TX-bytes" in self.process.text()[mark:]) and
                        self.process.text()[mark:], 10)
        nums = {}
        for key in ("RX-packets", "RX-bytes", "TX-packets", "TX-bytes", "RX-missed", "RX-errors", "TX-errors"):
            m = re.search(rf"{key}:\s*(\d+)", text)
            nums[key] = int(m.group(1)) if m else 0
        return nums

    def stop(self):
        if self.process.alive():
            with contextlib.suppress(BrokenPipeError):
                self.cmd("quit", 0)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.proc.wait(10)
        return self.process.kill()  # reaps it; SIGKILL only if quit did not end it


def virtio_user(sock, mac=None, server=False):
    """The --vdev of a virtio-user port on a switch socket: a guest's virtio-net device.
    server: it serves the socket (as QEMU with server=on) for a --vhost-client port, and
    takes the switch back whenever it reconnects."""
    return (f"net_virtio_user0,path={sock},queues=1,queue_size=1024,mrg_rxbuf=1" +
            (f",mac={mac}" if mac else "") + (",server=1" if server else ""))


class Guest(Testpmd):
    """A guest stand-in on a switch socket: testpmd with port 0, net_pcap, which replays
    `replay` toward the switch (over and over with loop=True, until stopped) and writes what
    the guest receives to `capture`, and port 1, virtio-user, the guest's NIC. Offloads as a
    Linux guest would ask for them:
      lro: GUEST_TSO4/6 (and GUEST_CSUM, which they need): takes large segments whole;
      rx_csum: GUEST_CSUM alone: takes packets with a partial checksum;
      tso_mss: sends the replayed frames as TSO segments of that MSS, with a partial TCP
               checksum (CSUM, HOST_TSO4/6); the csum engine then writes `peer` as their
               destination MAC and the port's MAC (`mac`) as their source.
    A guest that keeps a capture or loops gets 64 KB buffers, so that a large packet fits
    one (net_pcap writes at most 16,128 bytes of a chained one to a capture, and loops only
    unchained ones), and 1024 receive buffers posted, room for a burst of 16 large segments
    cut at the MSS (the switch gives a full guest only microseconds before it drops)."""
    GUEST = 1  # testpmd's port number of the virtio-user device
    CAPTURE = 0

    def __init__(self, workdir, sock, replay, capture="/dev/null", lro=False, rx_csum=False,
                 tso_mss=None, peer=None, mac=None, loop=False):
        cmds = ["port stop all"]
        if lro:
            cmds.append(f"port config {self.GUEST} rx_offload tcp_lro on")
        if lro or rx_csum:
            cmds.append(f"port config {self.GUEST} rx_offload tcp_cksum on")
        extra = ["--no-flush-rx"]
        if tso_mss:
            cmds += ["csum set tcp hw 1", "csum set ip sw 1", f"tso set {tso_mss} {self.GUEST}"]
            extra.append(f"--eth-peer={self.GUEST},{peer}")
        cmds += ["port start all", f"set fwd {'csum' if tso_mss else 'io'} retry", "start"]
        mbufs = 16384
        if capture != "/dev/null" or loop:
            extra += ["--mbuf-size=65535", "--rxd=1024"]
            mbufs = 2048
        pcap = f"net_pcap0,rx_pcap={replay},tx_pcap={capture}" + (",infinite_rx=1" if loop else "")
        super().__init__(workdir, [pcap, virtio_user(sock, mac)], cmds, extra, mbufs=mbufs)

    def wait_captured(self, count, timeout=30):
        """Waits until `count` packets the guest received have gone to its capture."""
        wait_for(f"the guest to record {count} packets",
                 lambda: self.port_stats(self.CAPTURE)["TX-packets"] >= count, timeout, 0.5)


@contextlib.contextmanager
def cleanup():
    """Collects things to close and closes them all, newest first, whatever happens."""
    stack = []
    try:
        yield stack.append
    finally:
        for thing in reversed(stack):
            with contextlib.suppress(Exception):
                if isinstance(thing, (Switch,)):
                    thing.process.stop()
                elif hasattr(thing, "stop"):
                    thing.stop()
                elif hasattr(thing, "close"):
                    thing.close()
                elif callable(thing):
                    thing()


def tshark_segments(pcap, display_filter="tcp"):
    """Every TCP segment of a capture with tshark's own checksum verdicts."""
    out = sh(f"tshark -r {pcap} -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE "
             f"-o udp.check_checksum:TRUE -Y '{display_filter}' -T fields -e frame.len "
             f"-e tcp.len -e tcp.seq_raw -e tcp.checksum.status -e ip.checksum.status "
             f"-e ipv6.plen -E separator=,")
    rows = []
    for line in out.splitlines():
        f = line.split(",")
        rows.append({"frame_len": int(f[0]), "tcp_len": int(f[1] or 0), "seq": int(f[2] or 0),
                     "tcp_csum": f[3], "ip_csum": f[4]})
    return rows
