"""`cmake --install` into a scratch prefix: the daemon, its clients (which
run from there), the example and the initial config, and a systemd unit that
`systemd-analyze verify` accepts and that starts the installed daemon with
the installed config. (The test machine does not run systemd as PID 1, so
the unit is verified, not run.)"""
import json
import os
import shutil
import subprocess

import pytest

BUILD = os.environ.get("VO_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "build"))


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    p = tmp_path_factory.mktemp("prefix")
    r = subprocess.run(["cmake", "--install", BUILD, "--prefix", str(p)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    return p


def test_the_daemon_and_its_clients_run_from_the_prefix(prefix):
    r = subprocess.run([str(prefix / "bin" / "vhost-offload"), "--help"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "--config FILE" in r.stdout
    for tool in ("vo-ctl", "vo-stats"):
        r = subprocess.run([str(prefix / "bin" / tool), "--help"], capture_output=True, text=True)
        assert r.returncode == 0, (tool, r.stderr)
    # vo-ctl from the prefix says plainly that no switch runs.
    r = subprocess.run([str(prefix / "bin" / "vo-ctl"), "--control", str(prefix / "none.sock"),
                        "list"], capture_output=True, text=True)
    assert r.returncode == 3 and "no vhost-offload answers" in r.stderr


def test_configs_read_as_the_daemon_reads_them(prefix):
    conf = prefix / "etc" / "vhost-offload"
    assert json.loads((conf / "switch.json").read_text()) == {"switch": {}, "ports": []}
    example = json.loads((conf / "switch.example.json").read_text())
    assert example["ports"][0][0] == "--vhost-client"
    # A second install keeps the operator's file.
    (conf / "switch.json").write_text('{"ports": [["--nic", "net_null0"]]}')
    subprocess.run(["cmake", "--install", BUILD, "--prefix", str(prefix)], check=True,
                   capture_output=True)
    assert "net_null0" in (conf / "switch.json").read_text()


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_the_systemd_unit_verifies_and_restarts_on_failure(prefix):
    unit = prefix / "lib" / "systemd" / "system" / "vhost-offload.service"
    text = unit.read_text()
    assert f"ExecStart={prefix}/bin/vhost-offload --config {prefix}/etc/vhost-offload/switch.json" in text
    assert "Restart=on-failure" in text and "RuntimeDirectoryPreserve=yes" in text
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "vhost-offload.service" not in r.stderr, r.stderr  # no complaint about our unit
