"""VLANs (issue 12): two tenants with the same MAC and IP addresses, each two
namespaces on access ports of its VLAN (10, 20). Each tenant reaches its own
hosts, at the same time as the other, nothing of one shows up in the other's
captures, and the other tenant's server is out of reach although its address
is the same. (Trunks to a kernel with 802.1Q sub-interfaces need a kernel with
8021q, which this host's has not: qemu-tests/test_vlan_trunk_vm.py runs them
in a guest.)"""
import pytest

from vo.harness import Capture, Iperf3, KernelHost, Switch, cleanup

NET = "10.68.0"
MAC = {1: "02:00:00:68:00:01", 2: "02:00:00:68:00:02"}


def topology(tmp_path, later):
    """Hosts .1 and .2 of each tenant on access ports of its VLAN, with the
    same MACs in both. Returns (switch, {vid: (a, b)})."""
    tenants = {vid: [KernelHost(f"{n}{vid}") for n in ("a", "b")] for vid in (10, 20)}
    args = []
    for vid, hosts in tenants.items():
        for i, h in enumerate(hosts, 1):
            later(h)
            args += h.switch_args() + ["--tag", str(vid), "--mac", MAC[i]]
    sw = Switch(str(tmp_path), args)
    later(sw)
    for hosts in tenants.values():
        for i, h in enumerate(hosts, 1):
            h.attach(f"{NET}.{i}", mac=MAC[i])
    return sw, tenants


def test_tenants_with_the_same_addresses_stay_apart(tmp_path):
    with cleanup() as later:
        sw, tenants = topology(tmp_path, later)
        for a, _ in tenants.values():
            a.run(f"ping -c 2 -W 2 {NET}.2")
        # Tenant 10 on port 5210, tenant 20 on 5220, both at once: a frame
        # of one reaching the other would show up in the other's capture.
        caps = {vid: [Capture(str(tmp_path), h, h.tap) for h in hosts]
                for vid, hosts in tenants.items()}
        for c in sum(caps.values(), []):
            later(c)
        runs = {vid: Iperf3(str(tmp_path), a, b, 3, port=5200 + vid)
                for vid, (a, b) in tenants.items()}
        for r in runs.values():
            later(r)
        got = {vid: r.result()["end"]["sum_received"]["bytes"] for vid, r in runs.items()}
        for c in sum(caps.values(), []):
            c.stop()
        print(f"\nbytes received: VLAN 10 {got[10]:,}, VLAN 20 {got[20]:,}")
        for vid, other in ((10, 20), (20, 10)):
            assert got[vid] > 10_000_000
            assert caps[vid][1].count(f"tcp.port == {5200 + vid}") > 100  # the captures work
            for h, c in zip(tenants[other], caps[other]):
                leaked = c.count(f"tcp.port == {5200 + vid}")
                assert leaked == 0, f"{leaked} frames of VLAN {vid} reached {h.name} in VLAN {other}"
        # The other tenant's server is out of reach, though its address is the same.
        a10 = tenants[10][0]
        server = Iperf3(str(tmp_path), a10, tenants[20][1], 2, port=5299,
                        client_args=["--connect-timeout", "2000"])
        later(server)
        with pytest.raises(RuntimeError):
            server.result()
        stats = sw.stats()
        assert stats["mac_entries"] == 4  # the same two MACs, once per VLAN
        assert stats["mac_moved"] == 0 and stats["mac_refused_pinned"] == 0
