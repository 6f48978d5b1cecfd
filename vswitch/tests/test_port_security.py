"""Port security against a neighbour that forges addresses (issue 12): three
namespaces on kernel ports; the attacker sends frames from the victim's MAC
(which would move the victim's entry in the MAC table to the attacker) and
gratuitous ARP replies claiming the victim's IP address (which would poison
the client's neighbour cache). With port security on the attacker's port,
both are dropped and counted, and the client's iperf3 to the victim runs.
With it off, the same attack takes the victim's traffic: the test's attack
is real."""
import pytest

from vo.harness import Iperf3, KernelHost, Switch, cleanup, wait_for

CLIENT, VICTIM, ATTACKER = "10.67.0.1", "10.67.0.2", "10.67.0.3"
MACS = {"client": "02:00:00:67:00:01", "victim": "02:00:00:67:00:02",
        "attacker": "02:00:00:67:00:03"}


def forge(attacker, count=50):
    """Frames from the victim's MAC, and ARP replies saying the victim's IP is
    at the attacker's MAC, sent to the client."""
    attacker.run(
        "/usr/bin/python3 -c 'import sys; from scapy.all import Ether, ARP, sendp; "
        f"own, victim, client = \"{MACS['attacker']}\", \"{MACS['victim']}\", \"{MACS['client']}\"; "
        f"frames = [Ether(src=victim, dst=client, type=0x88b5) / bytes(46), "
        f"Ether(src=own, dst=client) / ARP(op=2, hwsrc=own, psrc=\"{VICTIM}\", "
        f"hwdst=client, pdst=\"{CLIENT}\")]; "
        f"sendp(frames * {count}, iface=sys.argv[1], verbose=False, inter=0.01)' {attacker.tap}")


def neighbour_mac(host, ip):
    out = host.run(f"ip neigh show {ip}", check=False).split()
    return out[out.index("lladdr") + 1] if "lladdr" in out else None


@pytest.mark.parametrize("security", ["on", "off"])
def test_forged_mac_and_arp_from_a_neighbour(tmp_path, security):
    with cleanup() as later:
        hosts = {n: KernelHost(n) for n in ("client", "victim", "attacker")}
        for h in hosts.values():
            later(h)
        args = hosts["client"].switch_args() + hosts["victim"].switch_args()
        # The attacker's MAC is given: a TAP sends from a MAC of its own
        # before the namespace sets another, and an announced MAC is the first.
        args += hosts["attacker"].switch_args() + ["--port-security", security, "--mac",
                                                   MACS["attacker"], "--allowed-ips", ATTACKER]
        sw = Switch(str(tmp_path), args)
        later(sw)
        for (name, h), ip in zip(hosts.items(), (CLIENT, VICTIM, ATTACKER)):
            h.attach(ip, mac=MACS[name])
        client, victim, attacker = hosts["client"], hosts["victim"], hosts["attacker"]
        client.run(f"ping -c 2 -W 2 {VICTIM}")
        attacker.run(f"ping -c 1 -W 2 {CLIENT}")  # the attacker announces itself first
        assert neighbour_mac(client, VICTIM) == MACS["victim"]

        forge(attacker)
        port = sw.port("attacker")
        if security == "off":
            # The attack works on an open port: the client now sends the
            # victim's traffic to the attacker.
            assert neighbour_mac(client, VICTIM) == MACS["attacker"]
            assert port.get("rx_drop_SpoofedMac", 0) == 0
            return
        print(f"\nattacker's port: {port.get('rx_drop_SpoofedMac', 0)} frames from another "
              f"MAC, {port.get('rx_drop_SpoofedIp', 0)} ARP replies for another address dropped; "
              f"MAC moves refused: {sw.stats()['mac_refused_pinned']}")
        assert port["rx_drop_SpoofedMac"] >= 50
        assert port["rx_drop_SpoofedIp"] >= 50
        assert neighbour_mac(client, VICTIM) == MACS["victim"]
        run = Iperf3(str(tmp_path), client, victim, 3)
        later(run)
        assert run.result()["end"]["sum_received"]["bytes"] > 1_000_000
