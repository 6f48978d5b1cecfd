#!/usr/bin/python3
"""The demo: two QEMU guests and a peer host on vhost-offload, iperf3 between them
with the switch's offloads on and off, as a table and a plot.

  qemu-tests/demo.py [--seconds S] [--out DIR]

Run by scripts/run.sh, which installs and builds first. For each of "on" (the
switch offers every offload and coalesces the guests' interrupts, the default),
"on, irq per burst" (offloads on, `--notify library`: an interrupt after every
burst, as librte_vhost raises them) and "off" (`--disable all` on the guest ports:
the guests negotiate none, as with a switch that has no offloads), boots
two guests and a peer host (a network namespace with the kernel's TCP stack) and
measures VM -> VM, VM -> peer and peer -> VM with iperf3. The peer sits behind the
switch's kernel port (a TAP with virtio-net headers, --tap), which takes and gives
64 KB segments whole when offloads are on; with them off the guests send and take
MTU-sized packets only. The table shows the
throughput, TCP retransmissions, the segments the switch cut (GSO) and the packets
it merged (GRO), the interrupts the guests took and the switch raised in them, and
the kicks the guests sent the switch, per GB moved. The plot goes to DIR/demo.png (default build/demo/)."""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the vo package
from vo.harness import BUILD, KernelHost, Switch, cleanup, port_deltas  # noqa: E402
from vo.vm import (Vm, build_image, iperf3_server, iperf_summary, kicks,  # noqa: E402
                netns_iperf3, notifications)

ADDRS = {"vm1": "10.74.0.1/24", "vm2": "10.74.0.2/24", "peer": "10.74.0.9/24"}
CASES = ("VM -> VM", "VM -> peer", "peer -> VM")
# Settings compared: name -> the guest ports' options.
SETTINGS = {"on": [], "on, irq per burst": ["--notify", "library"], "off": ["--disable", "all"]}


def say(msg):
    sys.stderr.write(f"demo: {msg}\n")
    sys.stderr.flush()


def measure(sw, vms, case, peer, seconds):
    """One iperf3 transfer; its row of the table."""
    before = (sw.stats()["ports"], {n: g.virtio_interrupts() for n, g in vms.items()})
    if case == "VM -> VM":
        report = vms["vm1"].iperf3(vms["vm2"].ip, seconds)
    elif case == "VM -> peer":
        report = vms["vm1"].iperf3(peer.addr, seconds)
    else:
        report = netns_iperf3(peer, vms["vm1"].ip, seconds, wait_server=30)
    ports = port_deltas(before[0], sw.stats()["ports"])
    interrupts = sum(g.virtio_interrupts() - before[1][n] for n, g in vms.items())
    result = iperf_summary(report)
    gb = result["bytes"] / 1e9
    guests = [p for n, p in ports.items() if n in vms]
    return {
        "case": case, "gbps": result["gbps"], "retransmits": result["retransmits"],
        "gso_segments": sum(p["gso_segments"] for p in ports.values()),
        "gro_merged": sum(p["gro_merged"] for p in ports.values()),
        "gro_absorbed": sum(p["gro_absorbed"] for p in ports.values()),
        "interrupts_per_gb": interrupts / gb,
        "notifications_per_gb": sum(notifications(p) for p in guests) / gb,
        "kicks_per_gb": sum(kicks(p) for p in guests) / gb,
    }


def run_phase(offloads, seconds, work):
    say(f"offloads {offloads}: starting the switch, a peer host and two guests")
    rows = []
    with cleanup() as later:
        peer = KernelHost("peer")
        later(peer)
        tag = offloads.replace(", ", "-").replace(" ", "-")
        socks = {n: os.path.join(work, f"{tag}-{n}.sock") for n in ("vm1", "vm2")}
        args = []
        for n, sock in socks.items():
            args += ["--vhost", sock, "--name", n] + SETTINGS[offloads]
        sw = Switch(work, args + peer.switch_args())
        later(sw)
        peer.attach(ADDRS["peer"].split("/")[0])
        later(iperf3_server(work, peer))
        vms = {}
        for n in socks:
            vms[n] = Vm(work, socks[n], ip=ADDRS[n], name=f"{tag}-{n}")
            later(vms[n])
            vms[n].iperf3_server()
        say(f"offloads {offloads}: guests up ({vms['vm1'].accel}); negotiated: "
            f"{sw.port('vm1')['features'] or 'nothing'}")
        for case in CASES:
            say(f"offloads {offloads}: {case}, {seconds} s")
            row = measure(sw, vms, case, peer, seconds)
            row["offloads"] = offloads
            rows.append(row)
        in_use = sw.stop()
        if in_use:
            say(f"WARNING: the switch stopped with {in_use} mbufs in use")
    return rows


def print_table(rows):
    head = ("case", "offloads", "Gbit/s", "retransmits", "GSO segments", "GRO merged",
            "segs/merged pkt", "guest irqs/GB", "irqs raised/GB", "kicks/GB")
    body = [(r["case"], r["offloads"], f"{r['gbps']:.2f}", str(r["retransmits"]),
             str(r["gso_segments"]), str(r["gro_merged"]),
             f"{(r['gro_absorbed'] + r['gro_merged']) / r['gro_merged']:.1f}" if r["gro_merged"] else "-",
             f"{r['interrupts_per_gb']:.0f}", f"{r['notifications_per_gb']:.0f}",
             f"{r['kicks_per_gb']:.0f}") for r in rows]
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    fmt = "  ".join(["{:<%d}" % widths[0], "{:<%d}" % widths[1]] +
                    ["{:>%d}" % w for w in widths[2:]])
    print(fmt.format(*head))
    for b in body:
        print(fmt.format(*b))


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    by = {(r["case"], r["offloads"]): r for r in rows}
    x = range(len(CASES))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(SETTINGS)
    colors = ("tab:blue", "tab:orange", "tab:gray")
    for i, (setting, color) in enumerate(zip(SETTINGS, colors)):
        shift = [v + (i - (len(SETTINGS) - 1) / 2) * width for v in x]
        label = f"offloads {setting}"
        left.bar(shift, [by[(c, setting)]["gbps"] for c in CASES], width, label=label, color=color)
        right.bar(shift, [by[(c, setting)]["interrupts_per_gb"] for c in CASES], width,
                  label=label, color=color)
    for ax, title in ((left, "iperf3 throughput (Gbit/s)"), (right, "guest interrupts per GB")):
        ax.set_xticks(list(x), CASES)
        ax.set_title(title)
        ax.legend()
    fig.suptitle("vhost-offload: TCG guests, one datapath core")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=5, help="length of each iperf3 run")
    p.add_argument("--out", default=os.path.join(BUILD, "demo"), help="where demo.png goes")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    say("guest image (built once, then cached)")
    build_image()
    started = time.monotonic()
    rows = []
    for setting in SETTINGS:
        rows += run_phase(setting, args.seconds, args.out)
    print_table(rows)
    png = os.path.join(args.out, "demo.png")
    plot(rows, png)
    with open(os.path.join(args.out, "demo.json"), "w") as f:
        json.dump(rows, f, indent=1)
    say(f"done in {time.monotonic() - started:.0f} s; plot: {png}")


if __name__ == "__main__":
    main()
