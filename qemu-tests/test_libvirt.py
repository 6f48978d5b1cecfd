"""A libvirt domain on the switch: libvirt's own daemon (started here, stopped
after) defines and starts qemu-tests/libvirt/vhost-offload-guest.xml under TCG;
the guest negotiates TSO with the switch and passes iperf3 traffic both ways to
a peer host behind the switch. In the production form (QEMU serves the socket,
the switch connects) the guest's stream goes on across a switch restart."""
import json
import os
import shutil
import signal
import tempfile
import threading
import time

import pytest

from vo.harness import Process, Switch, VethPeer, cleanup, sh, wait_for
from vo.vm import HERE, build_image, iperf_summary, netns_iperf3

GUEST, PEER = "10.73.0.1", "10.73.0.2"
SECONDS = 4
RESTART_SECONDS = 12


class Libvirtd:
    """virtlogd and libvirtd as root, in the foreground of processes we own; a daemon
    already running is used as it is and left alone."""

    def __init__(self, work):
        self.procs = []
        if sh("virsh -c qemu:///system version", check=False).strip():
            return
        for daemon in ("virtlogd", "libvirtd"):
            self.procs.append(Process([daemon], os.path.join(work, f"{daemon}.log")))
        wait_for("libvirtd to answer",
                 lambda: sh("virsh -c qemu:///system version", check=False).strip(), 30, 0.5)

    def virsh(self, args, check=True):
        return sh(f"virsh -q -c qemu:///system {args}", check=check)

    def stop(self):
        for p in reversed(self.procs):
            p.stop()


def domain_xml(work, name, sock, mac, qemu_serves=False):
    """The README's domain XML with this test's paths. QEMU runs as libvirt-qemu:
    the kernel, initrd and console live in a directory it can reach."""
    kernel, initrd = build_image()
    for f in (kernel, initrd):
        shutil.copy(f, work)
    with open(os.path.join(HERE, "libvirt", "vhost-offload-guest.xml")) as f:
        xml = f.read()
    words = {"@NAME@": name, "@SOCKET@": sock, "@MAC@": mac,
             "@MODE@": "server" if qemu_serves else "client",
             "@KERNEL@": os.path.join(work, "vmlinuz"), "@INITRD@": os.path.join(work, "initrd.gz"),
             "@CONSOLE@": os.path.join(work, "console.log"),
             "@CMDLINE@": f"console=ttyS0 quiet panic=-1 vo.name={name} vo.ip={GUEST}/24 vo.iperf3=1"}
    for k, v in words.items():
        xml = xml.replace(k, v)
    path = os.path.join(work, f"{name}.xml")
    with open(path, "w") as f:
        f.write(xml)
    return path


def start_domain(work, name, xml, later):
    """libvirtd (ours unless one runs), the domain defined and started from `xml`,
    booted; undefined and destroyed by `later`. Returns the Libvirtd."""
    libvirt = Libvirtd(work)
    later(libvirt)
    libvirt.virsh(f"define {xml}")
    later(lambda: libvirt.virsh(f"undefine {name}", check=False))
    libvirt.virsh(f"start {name}")
    later(lambda: libvirt.virsh(f"destroy {name}", check=False))
    console = os.path.join(work, "console.log")
    wait_for("the libvirt guest to boot",
             lambda: os.path.exists(console) and "VO-GUEST-READY" in open(console).read(), 120, 0.5)
    return libvirt


@pytest.mark.skipif(not shutil.which("libvirtd"), reason="libvirt-daemon-system not installed "
                    "(scripts/setup.sh installs it)")
def test_libvirt_domain_passes_iperf3_with_tso():
    work = tempfile.mkdtemp(prefix="vo-libvirt-", dir="/tmp")
    os.chmod(work, 0o755)
    name = os.path.basename(work)
    sock = os.path.join(work, "vm.sock")
    with cleanup() as later:
        peer = VethPeer(0, "up", [f"{PEER}/24"])
        later(peer)
        # QEMU runs as libvirt-qemu: the socket is its group's, and nobody else's.
        sw = Switch(work, ["--vhost", sock, "--name", "vm", "--socket-group", "libvirt-qemu",
                           "--socket-mode", "0660"] + peer.switch_args())
        later(sw)
        libvirt = start_domain(work, name, domain_xml(work, name, sock, "52:54:00:73:00:01"), later)
        sw.wait_guest("vm")
        features = set(sw.port("vm")["features"].split())
        assert {"HOST_TSO4", "GUEST_TSO4", "CSUM", "GUEST_CSUM", "MRG_RXBUF"} <= features, \
            f"the libvirt guest negotiated {sorted(features)}"

        to_guest = iperf_summary(netns_iperf3(peer, GUEST, SECONDS, wait_server=60))
        before = sw.port("vm")["rx_large"]
        from_guest = iperf_summary(netns_iperf3(peer, GUEST, SECONDS, reverse=True))
        large = sw.port("vm")["rx_large"] - before
        print(f"\nlibvirt guest: peer -> guest {to_guest['gbps']:.2f} Gbit/s, guest -> peer "
              f"{from_guest['gbps']:.2f} Gbit/s ({large} large segments from the guest)")
        assert to_guest["bytes"] > 1_000_000 and from_guest["bytes"] > 1_000_000
        assert large > 0, "the guest sent no large segment: TSO not in use"
        assert peer.counters()["TcpInCsumErrors"] == 0
        libvirt.virsh(f"destroy {name}")
        wait_for("the guest to leave the switch", lambda: sw.port("vm")["ready"] == 0, 30)
        assert sw.stop() == 0
    shutil.rmtree(work)  # kept when the test fails: the console and daemon logs are there


@pytest.mark.skipif(not shutil.which("libvirtd"), reason="libvirt-daemon-system not installed "
                    "(scripts/setup.sh installs it)")
def test_libvirt_guest_served_by_qemu_survives_a_switch_restart():
    """The production form: QEMU serves the socket (mode='server'), the switch is
    its client and reads its ports from a config file; killed and started again,
    it reconnects and the guest's stream goes on."""
    work = tempfile.mkdtemp(prefix="vo-libvirt-", dir="/tmp")
    os.chmod(work, 0o755)
    name = os.path.basename(work)
    # QEMU (as libvirt-qemu) creates the socket: a directory of its own.
    sockets = os.path.join(work, "sockets")
    os.mkdir(sockets, 0o750)
    shutil.chown(sockets, "libvirt-qemu", "libvirt-qemu")
    sock = os.path.join(sockets, "vm.sock")
    config = os.path.join(work, "switch.json")
    with cleanup() as later:
        peer = VethPeer(0, "up", [f"{PEER}/24"])
        later(peer)
        with open(config, "w") as f:
            json.dump({"ports": [["--vhost-client", sock, "--name", "vm"], peer.switch_args()]}, f)
        sw = Switch(work, ["--config", config])
        later(sw)
        xml = domain_xml(work, name, sock, "52:54:00:73:00:02", qemu_serves=True)
        libvirt = start_domain(work, name, xml, later)
        sw.wait_guest("vm")
        features = sw.port("vm")["features"]
        result = {}
        stream = threading.Thread(target=lambda: result.update(
            report=netns_iperf3(peer, GUEST, RESTART_SECONDS, wait_server=60)))
        stream.start()
        time.sleep(RESTART_SECONDS / 3)
        sw.process.send_signal(signal.SIGKILL)
        sw.process.proc.wait(5)
        again = Switch(work, ["--config", config])
        later(again)
        again.wait_guest("vm", 30)
        stream.join(RESTART_SECONDS + 90)
        summary = iperf_summary(result["report"])
        print(f"\nlibvirt guest across a switch restart: {summary['gbps']:.2f} Gbit/s, "
              f"{summary['retransmits']} retransmits; offloads {again.port('vm')['features']}")
        assert result["report"]["end"]["sum_received"]["seconds"] >= RESTART_SECONDS - 1
        assert again.port("vm")["features"] == features
        libvirt.virsh(f"destroy {name}")
        assert again.stop() == 0
    shutil.rmtree(work)
