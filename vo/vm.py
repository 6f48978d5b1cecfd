"""Real QEMU guests on the switch's vhost-user sockets, for tests and the demo.

A Vm boots Debian's kernel with the small initramfs of qemu-tests/guest (built
on demand, cached in the build tree), configures eth0 from its boot arguments,
and is driven through its serial console: run() types a command and returns
what it printed and its exit status. Guests run under TCG; KVM is used only
where a short probe boots a guest with it (nested KVM hangs at boot on the
machines this was written on).

Everything else (the switch, namespaces, iperf3 servers, cleanup) comes from
vo/harness.py."""
import contextlib
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

from vo import harness
from vo.harness import BUILD, ROOT, unique, wait_for

HERE = os.path.join(ROOT, "qemu-tests")  # the guest image's scripts, the libvirt domain

IMAGE_DIR = os.path.join(BUILD, "qemu-tests", "guest")
QEMU = "qemu-system-x86_64"

# The virtio-net offload features (virtio spec 5.1.3): name as the switch's stats
# print it, feature bit (a guest's /sys/class/net/eth0/device/features is a string
# of 0/1, bit 0 first), and QEMU's virtio-net-pci property that offers it.
OFFLOADS = (
    ("CSUM", 0, "csum"), ("GUEST_CSUM", 1, "guest_csum"), ("GUEST_TSO4", 7, "guest_tso4"),
    ("GUEST_TSO6", 8, "guest_tso6"), ("GUEST_ECN", 9, "guest_ecn"), ("HOST_TSO4", 11, "host_tso4"),
    ("HOST_TSO6", 12, "host_tso6"), ("HOST_ECN", 13, "host_ecn"), ("MRG_RXBUF", 15, "mrg_rxbuf"),
)
FEATURE_BITS = {name: bit for name, bit, _ in OFFLOADS}
QEMU_PROPS = {name: prop for name, _, prop in OFFLOADS}
ALL_OFFLOADS = tuple(FEATURE_BITS)


_macs = itertools.count(1)


def _next_mac():
    """A locally administered MAC of its own for every guest (QEMU's default is the same
    for all, which a learning switch cannot tell apart)."""
    n = (os.getpid() % 0xffff) << 8 | next(_macs) & 0xff
    return "52:54:00:%02x:%02x:%02x" % (n >> 16 & 0xff, n >> 8 & 0xff, n & 0xff)


def build_image():
    """Builds (or finds cached) the guest kernel and initramfs; returns their paths."""
    script = os.path.join(HERE, "guest", "build-initramfs.sh")
    r = subprocess.run([script, IMAGE_DIR])
    if r.returncode != 0:
        raise RuntimeError(f"{script} failed ({r.returncode}); see its messages above")
    return os.path.join(IMAGE_DIR, "vmlinuz"), os.path.join(IMAGE_DIR, "initrd.gz")


def accel():
    """'kvm' when a guest boots under KVM here, else 'tcg'. VO_ACCEL overrides; the
    probe's answer is cached in the build tree (a hanging probe costs 20 s once)."""
    forced = os.environ.get("VO_ACCEL")
    if forced:
        return forced
    cache = os.path.join(IMAGE_DIR, "accel")
    with contextlib.suppress(OSError):
        with open(cache) as f:
            return f.read().strip()
    answer = "tcg"
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        with contextlib.suppress(Exception):
            with Vm(IMAGE_DIR, None, accel_="kvm", name="kvmprobe", boot_timeout=20) as probe:
                probe.run("true", timeout=10)
                answer = "kvm"
    with open(cache, "w") as f:
        f.write(answer + "\n")
    return answer


class Vm:
    """One guest: 1 vCPU, 512 MB of shared memory, its NIC on the vhost-user socket
    `sock` (None: no NIC). `offloads` lists the virtio-net offloads its QEMU device
    offers (default all); the guest's driver takes what the switch offers too.

        with Vm(workdir, sock, ip="10.1.0.1/24", ip6="fd01::1/64") as vm:
            out = vm.run("ethtool -k eth0")
    """

    def __init__(self, workdir, sock, ip=None, ip6=None, mac=None, offloads=ALL_OFFLOADS,
                 name=None, accel_=None, boot_timeout=90, server=False, boot_args=(), cpus=None,
                 incoming=None, label=None, vcpus=1, queues=1):
        # cpus: a CPU list for `taskset -c` to keep QEMU (all its threads) on, e.g. "0"
        # incoming: "tcp:HOST:PORT": a destination of live migration, which waits
        #   for the guest instead of booting one (start it like its source: same name)
        # label: this QEMU's files (console log, monitor) when two share a name
        # vcpus, queues: a guest with several vCPUs and queue pairs (MQ); Linux
        #   uses as many pairs as it has vCPUs
        self.name = name or unique("vm")
        self.workdir = workdir
        self.ip = ip.split("/")[0] if ip else None
        self.ip6 = ip6.split("/")[0] if ip6 else None
        self._out = ""
        self._lock = threading.Lock()
        self._serial = 0
        kernel, initrd = build_image()
        self.accel = accel_ or accel()
        cmdline = ["console=ttyS0", "quiet", "loglevel=1", "panic=-1", f"vo.name={self.name}"]
        cmdline += [f"vo.ip={ip}"] if ip else []
        cmdline += [f"vo.ip6={ip6}"] if ip6 else []
        cmdline += list(boot_args)
        argv = [QEMU, "-accel", self.accel, "-cpu", "host" if self.accel == "kvm" else "qemu64",
                "-smp", str(vcpus), "-m", "512",
                "-object", "memory-backend-memfd,id=mem,size=512M,share=on",
                "-numa", "node,memdev=mem", "-display", "none", "-nodefaults",
                "-serial", "stdio", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
                "-append", " ".join(cmdline)]
        if sock:
            self.mac = mac or _next_mac()
            argv += self._nic_args(sock, self.mac, offloads, server, queues)
        self.monitor_path = os.path.join(workdir, f"{label or self.name}.monitor")
        argv += ["-monitor", f"unix:{self.monitor_path},server=on,wait=off"]
        if incoming:
            argv += ["-incoming", incoming]
        if cpus is not None:
            argv = ["taskset", "-c", str(cpus)] + argv
        self.log_path = os.path.join(workdir, f"{label or self.name}.console.log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        if incoming:
            wait_for("the migration destination's monitor", lambda: os.path.exists(self.monitor_path))
            return
        try:
            wait_for(f"guest {self.name} to boot ({self.accel})", self._booted, boot_timeout, 0.2)
            self._sync()
        except Exception:
            self.stop()
            raise

    def hmp(self, command, timeout=10):
        """A QEMU monitor command; its output."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.monitor_path)
            if not harness.recv_until(s, b"(qemu) ").endswith(b"(qemu) "):
                raise RuntimeError(f"QEMU's monitor closed before answering {command!r}")
            s.sendall(command.encode() + b"\n")
            out = harness.recv_until(s, b"(qemu) ")  # without the prompt: QEMU quit
        text = out.decode(errors="replace").replace("\r", "")
        return text.removesuffix("(qemu) ").split("\n", 1)[-1]

    @staticmethod
    def _nic_args(sock, mac, offloads, server, queues=1):
        props = ",".join(f"{QEMU_PROPS[o]}={'on' if o in offloads else 'off'}" for o in ALL_OFFLOADS)
        chardev = f"socket,id=c0,path={sock}" + (",server=on,wait=off" if server else "")
        # vectors=0: QEMU 7.2 under TCG crashes starting a vhost-user device with MSI-X.
        # 1024-entry rings: room for the 45 segments of a 64 KB segment cut for a guest
        # without GUEST_TSO, a few times over, while the guest is descheduled.
        mq = f",queues={queues}" if queues > 1 else ""
        return ["-chardev", chardev, "-netdev", f"vhost-user,id=n0,chardev=c0{mq}",
                "-device", f"virtio-net-pci,netdev=n0,vectors=0,mac={mac},{props},"
                "rx_queue_size=1024,tx_queue_size=1024" + (",mq=on" if queues > 1 else "")]

    def _read(self):
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            text = chunk.decode(errors="replace").replace("\r", "")
            with self._lock:
                self._out += text
            self._log.write(text)
            self._log.flush()

    def console(self):
        with self._lock:
            return self._out

    def alive(self):
        return self.proc.poll() is None

    def _booted(self):
        if not self.alive():
            raise RuntimeError(f"QEMU for {self.name} exited ({self.proc.returncode}):\n"
                               + self.console()[-3000:])
        return "VO-GUEST-READY" in self.console()

    def _type(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def _sync(self):
        """Waits for the shell: types a marker until it comes back (the serial line drops
        what arrives before the shell opens it)."""
        mark = f"__VO_SYNC_{self.name}"
        # Split by quotes so that the shell's echo of the typed line does not match.
        deadline = time.monotonic() + 30
        while mark not in self.console():
            if time.monotonic() > deadline or not self.alive():
                raise TimeoutError(f"no shell on {self.name}'s console:\n{self.console()[-2000:]}")
            self._type(f"stty -echo; echo __VO_''SYNC_{self.name}")
            time.sleep(0.5)

    def run(self, cmd, timeout=60, check=True):
        """Runs `cmd` in the guest's shell; returns its output (stdout and stderr)."""
        self._serial += 1
        n = self._serial
        start = len(self.console())
        self._type(f"echo __VO_''B{n}; {cmd}; echo __VO_''E{n}:$?")
        pattern = re.compile(rf"__VO_B{n}\n(.*?)__VO_E{n}:(\d+)\n", re.S)

        def done():
            if not self.alive():
                raise RuntimeError(f"guest {self.name} died running {cmd!r}:\n"
                                   + self.console()[-3000:])
            return pattern.search(self.console(), start)

        m = wait_for(f"`{cmd}` in guest {self.name}", done, timeout, 0.05)
        out, rc = m.group(1), int(m.group(2))
        if check and rc != 0:
            raise RuntimeError(f"`{cmd}` failed in guest {self.name} ({rc}):\n{out}")
        return out

    # --- what tests read from a guest -------------------------------------------

    def features(self):
        """Offloads the guest's driver negotiated, by the switch's names."""
        bits = self.run("cat /sys/class/net/eth0/device/features").strip()
        return {name for name, b in FEATURE_BITS.items() if b < len(bits) and bits[b] == "1"}

    def ethtool_k(self):
        """`ethtool -k eth0` as {feature: 'on'|'off'}."""
        out = self.run("ethtool -k eth0")
        return {k.strip(): v.split()[0] for k, v in re.findall(r"^([\w-]+): (\w+)", out, re.M)}

    def nic_counters(self):
        """eth0's rx/tx packets and bytes from sysfs."""
        keys = ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_dropped", "rx_errors")
        out = self.run("cat " + " ".join(f"/sys/class/net/eth0/statistics/{k}" for k in keys))
        return dict(zip(keys, map(int, out.split())))

    def virtio_interrupts(self):
        """Interrupts the guest took from its virtio device (all its IRQ lines)."""
        total = 0
        for line in self.run("cat /proc/interrupts").splitlines():
            if "virtio" in line:
                total += sum(int(x) for x in line.split()[1:] if x.isdigit())
        return total

    def tcp_counters(self):
        """The guest kernel's TCP SNMP counters (InSegs, OutSegs, RetransSegs, InCsumErrors)."""
        lines = [line for line in self.run("cat /proc/net/snmp").splitlines() if line.startswith("Tcp:")]
        return {k: int(v) for k, v in zip(lines[0].split()[1:], lines[1].split()[1:])}

    def iperf3_server(self):
        self.run("iperf3 -s -D")

    def iperf3(self, server, seconds=5, reverse=False, extra=""):
        """iperf3 from this guest to `server` (or from it, reverse=True); its JSON report."""
        command = f"iperf3 -c {server} -t {seconds} -i 0 -J {'-R' if reverse else ''} {extra}"
        return iperf3_client(lambda: self.run(command, timeout=seconds + 60, check=False),
                             f"iperf3 in {self.name} to {server}")

    def stop(self):
        if self.alive():
            with contextlib.suppress(OSError):
                self._type("poweroff -f")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 9)
            self.proc.wait(5)
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def notifications(port):
    """Interrupts the switch raised in a guest (counters of its port): after filling its
    receive ring, and after taking what it sent."""
    return port.get("to_guest_interrupts", 0) + port.get("from_guest_interrupts", 0)


def kicks(port):
    """Notifications the guest sent the switch (kicks, VM exits of their own), both rings."""
    return port.get("to_guest_kicks", 0) + port.get("from_guest_kicks", 0)


def iperf_summary(report):
    """Throughput and retransmissions of an iperf3 JSON report."""
    end = report["end"]
    return {"gbps": end["sum_received"]["bits_per_second"] / 1e9,
            "bytes": end["sum_received"]["bytes"],
            "retransmits": end["sum_sent"].get("retransmits", 0)}


def iperf3_server(workdir, ns, port=5201):
    """iperf3 -s in namespace `ns`, for guests to run their client against."""
    server = harness.Process(["iperf3", "-s", "-p", str(port)],
                             os.path.join(workdir, f"iperf3-server-{ns.name}.log"), netns=ns.name)
    wait_for("iperf3 to listen", lambda: ns.run(f"ss -Hltn sport = :{port}", check=False).strip(), 10)
    return server


def iperf3_client(run, what, wait_server=10):
    """The JSON report of the iperf3 client that run() starts, retried while the server
    refuses the connection: for wait_server seconds, because an iperf3 server closes its
    listening socket between two tests and a second client can arrive in that gap."""
    deadline = time.monotonic() + wait_server
    while True:
        out = run()
        start = out.find("{")
        try:
            report = json.loads(out[start:]) if start >= 0 else {"error": out.strip()[-300:]}
        except ValueError:
            report = {"error": out.strip()[-300:]}
        if "Connection refused" not in report.get("error", "") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if "error" in report:
        raise RuntimeError(f"{what}: {report['error']}")
    return report


def netns_iperf3(ns, server, seconds=5, reverse=False, wait_server=10, cpus=None, parallel=1):
    """iperf3 from namespace `ns` to `server` (a guest running iperf3_server()); its report.
    wait_server: seconds to keep trying while the server is not listening (yet);
    cpus: a CPU list for `taskset -c` to run the client on; parallel: streams (-P)."""
    pin = f"taskset -c {cpus} " if cpus is not None else ""
    command = (f"{pin}iperf3 -c {server} -t {seconds} -i 0 -J -P {parallel} "
               f"{'-R' if reverse else ''}")
    return iperf3_client(lambda: ns.run(command, check=False, timeout=seconds + 60),
                         f"iperf3 from {ns.name} to {server}", wait_server)


def ping_rtts_ms(ns, addr, count=20, interval=0.05):
    """Round trips (ms) of `count` pings from namespace `ns` to `addr`, one per `interval`
    seconds: each one alone on the wire. Unanswered pings are missing from the list."""
    out = ns.run(f"ping -n -c {count} -i {interval} -W 1 {addr}", check=False,
                 timeout=count * interval + 30)
    return [float(t) for t in re.findall(r"time=([\d.]+) ms", out)]


# A TCP client that sends a 64-byte request and waits for its echo, `count` times on one
# connection, and prints each round trip in ms (run inside a namespace).
_RR_CLIENT = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
msg = b"x" * 63 + b"\n"
for _ in range(int(sys.argv[3])):
    t = time.monotonic()
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        chunk = s.recv(len(msg) - len(got))
        if not chunk:
            sys.exit("the echo server closed the connection")
        got += chunk
    print((time.monotonic() - t) * 1000)
"""


def request_response_ms(ns, addr, port, count=100):
    """Round trips (ms) of a TCP request/response exchange from namespace `ns` with an echo
    server at addr:port (in a guest: `nc -ll -p PORT -e cat &`)."""
    out = ns.run(f"/usr/bin/python3 -c '{_RR_CLIENT}' {addr} {port} {count}", timeout=120)
    return [float(x) for x in out.split()]
