"""The daemon as a person meets it: --help, errors that say what to do, a
start without hugepages, a clean stop on SIGINT and SIGTERM."""
import os
import signal
import subprocess

import pytest

import shutil

from vo.harness import SWITCH_BIN, Process, dpdk_runtime_dir, unique, wait_for


def run(args, timeout=30):
    return subprocess.run([SWITCH_BIN] + args, capture_output=True, text=True, timeout=timeout)


def test_help_documents_every_option():
    r = run(["--help"])
    assert r.returncode == 0
    for opt in ("--vhost", "--vhost-client", "--nic", "--disable", "--no-gro", "--datapath-lcore",
                "--gro-timeout-us", "--control", "EAL"):
        assert opt in r.stdout


@pytest.mark.parametrize("args,says,code", [
    (["--vhost", "/nonexistent-dir/vm.sock"], "does not exist", 1),
    (["--nic", "net_nosuchdriver0"], "cannot probe device", 1),
    # Offload switches are checked with the command line, before DPDK starts.
    (["--vhost", "/tmp/x.sock", "--disable", "warp"], "unknown offload 'warp'", 2),
    (["--nic", "net_null0", "--disable", "lro"], "known: tso, csum, gro", 2),
    (["--vhost", "/tmp/x.sock", "--socket-group", "no-such-group-vo"], "no group on this host", 1),
    (["--nic", "net_null0", "--control", "/nonexistent-dir/x/" + "y" * 120], "longer than", 1),
], ids=["bad-socket-dir", "bad-driver", "bad-guest-offload", "bad-nic-offload",
        "bad-socket-group", "bad-control-path"])
def test_errors_say_what_went_wrong(tmp_path, args, says, code):
    prefix = unique("vod")
    eal = ["--", "-l", "0,1", "--no-huge", "-m", "256", "--no-pci", "--file-prefix", prefix]
    control = [] if "--control" in args else ["--control", str(tmp_path / "ctl.sock")]
    r = run(args + control + eal)
    shutil.rmtree(dpdk_runtime_dir(prefix), ignore_errors=True)
    assert r.returncode == code
    assert says in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_starts_without_hugepages_and_stops_cleanly(tmp_path, sig):
    free = [l for l in open("/proc/meminfo") if l.startswith("HugePages_Free")]
    if free and int(free[0].split()[1]) > 0:
        pytest.skip("this machine has free hugepages; the no-hugepage message does not apply")
    sock = str(tmp_path / "vm.sock")
    # No EAL options: the daemon chooses them itself.
    p = Process([SWITCH_BIN, "--vhost", sock, "--nic", "net_null0,no-rx=1"], str(tmp_path / "d.log"),
                runtime_dir=dpdk_runtime_dir("vhost-offload"))  # the daemon's default prefix
    try:
        wait_for("the switch to run", lambda: "running:" in p.text() or not p.alive())
        assert "no free hugepages: running with --no-huge" in p.text()
        assert os.path.exists(sock)
        p.send_signal(sig)
        assert p.proc.wait(15) == 0
        assert "stopped cleanly; 0 mbufs still in use" in p.text()
        assert not os.path.exists(sock)
    finally:
        p.kill()
