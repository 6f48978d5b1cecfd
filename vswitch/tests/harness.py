"""Real peers for switch tests: the vhost-offload daemon, dpdk-testpmd with
virtio-user as a guest stand-in, network namespaces with the kernel's TCP
stack. Everything started here is stopped by PID and every namespace deleted,
also when a test fails."""
import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("VO_BUILD_DIR", os.path.join(ROOT, "build"))
SWITCH_BIN = os.path.join(BUILD, "tools", "vhost-offload")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import vo_telemetry  # noqa: E402

_ids = itertools.count()


def unique(stem):
    return f"{stem}{os.getpid() % 10000}x{next(_ids)}"


def sh(cmd, check=True, **kw):
    """Runs a shell command; returns its stdout."""
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"`{cmd}` failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def wait_for(what, predicate, timeout=20.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class Process:
    """A child in its own process group, logging to a file, killed on close."""

    def __init__(self, argv, log_path, stdin=None, netns=None):
        if netns:
            argv = ["ip", "netns", "exec", netns] + list(argv)
        self.argv = argv
        self.log_path = log_path
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

    def kill(self):
        return self.stop(signal.SIGKILL, 5)


class Switch:
    """vhost-offload on lcores 0 (control) and 1 (datapath), without hugepages."""

    def __init__(self, workdir, port_args, extra_args=(), lcores="0,1"):
        self.prefix = unique("vot")
        self.workdir = workdir
        argv = [SWITCH_BIN] + list(port_args) + list(extra_args) + [
            "--", "-l", lcores, "--no-huge", "-m", "1024", "--no-pci",
            "--file-prefix", self.prefix, "--log-level=lib.eal:warning"]
        self.process = Process(argv, os.path.join(workdir, f"{self.prefix}.log"))
        wait_for("the switch to start", self._running)

    def _running(self):
        if not self.process.alive():
            raise RuntimeError(f"vhost-offload exited:\n{self.process.tail()}")
        return "running:" in self.process.text()

    def stats(self):
        return vo_telemetry.query(self.prefix)

    def port(self, name):
        return self.stats()["ports"][name]

    def wait_guest(self, name, timeout=30):
        wait_for(f"a guest on port {name}", lambda: self.port(name)["ready"] == 1, timeout)

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

    def adopt(self, iface, addrs=(), mac=None, mtu=None):
        """Moves a host interface in here and configures it."""
        sh(f"ip link set {iface} netns {self.name}")
        if mac:
            self.run(f"ip link set {iface} address {mac}")
        if mtu:
            self.run(f"ip link set {iface} mtu {mtu}")
        for a in addrs:
            self.run(f"ip addr add {a} dev {iface} {'nodad' if ':' in a else ''}")
        self.run(f"ip link set {iface} up")

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


def wait_iface(name, timeout=10):
    wait_for(f"interface {name}", lambda: os.path.exists(f"/sys/class/net/{name}"), timeout)


class Testpmd:
    __test__ = False
    """dpdk-testpmd as a guest stand-in (virtio-user on a switch socket) or a
    traffic source, driven through its interactive prompt."""

    def __init__(self, workdir, vdevs, setup_cmds=(), extra_args=(), lcores="0,1", main_lcore=1,
                 mbufs=16384):
        self.prefix = unique("vop")
        cmdfile = os.path.join(workdir, f"{self.prefix}.cmds")
        with open(cmdfile, "w") as f:
            f.write("\n".join(setup_cmds) + "\n")
        # Unbuffered, so that the log shows each answer as it is printed.
        argv = ["stdbuf", "-o0", "-e0", "dpdk-testpmd", "-l", lcores, "--main-lcore", str(main_lcore), "--no-huge", "-m",
                "1024", "--no-pci", "--file-prefix", self.prefix, "--log-level=lib.eal:warning"]
        for v in vdevs:
            argv += ["--vdev", v]
        argv += ["--", "-i", f"--total-num-mbufs={mbufs}", f"--cmdline-file={cmdfile}"] + list(extra_args)
        self.process = Process(argv, os.path.join(workdir, f"{self.prefix}.log"), stdin=subprocess.PIPE)
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
            try:
                self.process.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        return self.process.kill() if self.process.alive() else self.process.proc.returncode


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
