"""tools/bench notify: interrupts and kicks per GB between a TCG guest and its switch.

  tools/bench notify [--json] [--repetitions N] [--seconds S] [--impl REGEX] [--gap-us N[,N...]]
                     [--keep]

For each implementation, in the same run, N times (default 3, implementations
alternating within each repetition): a TCG QEMU guest (all offloads on) on the
switch's vhost-user port and a namespace behind a kernel port, as in
`tools/bench kernel` (the same topologies, the switch forwarding on CPU 1, QEMU
and the peer on CPU 0, hugepages). On one boot of the guest it measures:
  - a lone ping from the namespace to the guest, 50 times 20 ms apart: round
    trip median and 99th percentile;
  - a TCP request/response exchange (64-byte requests echoed by the guest, 300
    on one connection): median and 99th percentile;
  - iperf3 S seconds (default 8) namespace -> guest, then guest -> namespace:
    throughput, and per GB moved the interrupts the guest took (its own
    /proc/interrupts) and the kicks it sent the switch (the growth of the
    counters of the eventfds the switch holds and never reads: QEMU writes one
    for each notification the guest makes; /proc/PID/fdinfo of the switch).

Implementations: "ours" (default: interrupts coalesced), "ours-library" (ours
with --notify library: librte_vhost's interrupt after every burst), "ovs-dpdk"
(Open vSwitch 3.1 with DPDK, dpdkvhostuserclient + tap ports, userspace TSO)
and "testpmd" (net_vhost + net_tap, csum engine with TSO). Medians of the
repetitions, as a table (or JSON lines), then the goal: at least 4x fewer
interrupts per GB than testpmd both ways, fewer than Open vSwitch, and no less
throughput.
"""
import os
import re
import signal
import statistics
import sys
import tempfile

from vo.bench import kernel as bench_kernel
from vo.bench import switch as bench_switch
from vo.bench.kernel import A_IP, B_IP, Hugepages, HUGEPAGES, cleanup, server_in, client_in
from vo.vm import iperf_summary, kicks, ping_rtts_ms, request_response_ms

IMPLS = ("ours", "ours-library", "ovs-dpdk", "testpmd")
GUEST_PORT_ARGS = {"ours": [], "ours-library": ["--notify", "library"]}
ECHO_PORT = 7000
DIRECTIONS = ("to_guest", "from_guest")


def log(msg):
    bench_kernel.log(msg, "notify")


def eventfd_counts(pid):
    """{eventfd id: counter} of every eventfd process `pid` holds (one entry per eventfd,
    however many descriptors refer to it)."""
    out = {}
    base = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(base):
        try:
            with open(os.path.join(base, fd)) as f:
                info = f.read()
        except OSError:
            continue  # closed meanwhile
        m = re.search(r"eventfd-count:\s*([0-9a-f]+)", info)
        if m:
            ident = re.search(r"eventfd-id:\s*(\d+)", info)
            out[ident.group(1) if ident else f"fd{fd}"] = int(m.group(1), 16)
    return out


def kicks_between(before, after):
    """Growth of the eventfd counters (kicks), counting only eventfds seen both times."""
    return sum(max(0, after[k] - v) for k, v in before.items() if k in after)


def ring_calls(t):
    """Interrupts our switch raised on the guest's receive and transmit rings so far."""
    if "sw" not in t:
        return [0, 0]
    port = t["sw"].port("vm")
    return [port.get("to_guest_interrupts", 0), port.get("from_guest_interrupts", 0)]


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else None


def gap_impl(gap_us):
    """Ours with another --notify-gap-us, as an implementation of its own."""
    name = f"ours-gap-{gap_us}us"
    GUEST_PORT_ARGS[name] = ["--notify-gap-us", str(gap_us)]
    return name


def one_run(impl, work, seconds):
    with cleanup() as later:
        switch = "ours" if impl in GUEST_PORT_ARGS else impl
        port_args = GUEST_PORT_ARGS.get(impl, [])
        t = bench_kernel.guest_topology(switch, work, later, port_args)
        vm, peer, pid = t["vm"], t["peer"], t["backend_pid"]
        vm.iperf3_server()
        vm.run(f"(nc -ll -p {ECHO_PORT} -e cat </dev/null >/dev/null 2>&1 &)")
        row = {}
        pings = ping_rtts_ms(peer, A_IP, count=50, interval=0.02)
        rr = request_response_ms(peer, A_IP, ECHO_PORT, count=300)
        row.update(ping_answered=len(pings), ping_median_ms=statistics.median(pings),
                   ping_p99_ms=percentile(pings, 0.99), rr_median_ms=statistics.median(rr),
                   rr_p99_ms=percentile(rr, 0.99))
        later(server_in(work, peer))  # one-shot, for the guest -> namespace run
        for direction in DIRECTIONS:
            irqs, fds = vm.virtio_interrupts(), eventfd_counts(pid)
            rings = ring_calls(t)
            if direction == "to_guest":
                report = client_in(peer, A_IP, seconds, wait_server=10)
            else:
                report = vm.iperf3(B_IP, seconds)
            irqs, kicked = vm.virtio_interrupts() - irqs, kicks_between(fds, eventfd_counts(pid))
            rings = [after - before for before, after in zip(rings, ring_calls(t))]
            r = iperf_summary(report)
            gb = r["bytes"] / 1e9
            if "sw" in t:  # which ring the interrupts were for (receive, transmit)
                row[f"{direction}_ring_calls_per_gb"] = [round(n / gb) for n in rings]
            row.update({f"{direction}_gbps": r["gbps"], f"{direction}_retransmits": r["retransmits"],
                        f"{direction}_irqs_per_gb": irqs / gb, f"{direction}_kicks_per_gb": kicked / gb})
            if "sw" in t:
                port = t["sw"].port("vm")
                row[f"{direction}_switch_kicks_total"] = kicks(port)  # its own count, to compare
        return row


KEYS = [f"{d}_{k}" for d in DIRECTIONS for k in ("gbps", "retransmits", "irqs_per_gb", "kicks_per_gb")] + [
    "ping_median_ms", "ping_p99_ms", "rr_median_ms", "rr_p99_ms"]


def median_row(impl, runs):
    ok = [r for r in runs if "error" not in r]
    row = {"impl": impl, "runs": len(runs), "ok_runs": len(ok)}
    for k in KEYS:
        row[k] = statistics.median(r[k] for r in ok) if ok else None
    if ok:
        row["irqs_per_gb_runs"] = [[round(r[f"{d}_irqs_per_gb"]) for d in DIRECTIONS] for r in ok]
        if all(f"{d}_ring_calls_per_gb" in r for r in ok for d in DIRECTIONS):
            row["ring_calls_per_gb_runs"] = [[r[f"{d}_ring_calls_per_gb"] for d in DIRECTIONS]
                                             for r in ok]
    if len(ok) < len(runs):
        row["note"] = "; ".join(r["error"] for r in runs if "error" in r)[:300]
    return row


def print_table(rows):
    head = ("impl", "to guest Gbit/s", "irqs/GB", "kicks/GB", "from guest Gbit/s", "irqs/GB",
            "kicks/GB", "ping med/p99 ms", "TCP RR med/p99 ms", "irqs/GB runs (to/from)")
    f = bench_kernel.fmt_num
    body = []
    for r in rows:
        body.append((r["impl"], f(r["to_guest_gbps"]), f(r["to_guest_irqs_per_gb"], "{:.0f}"),
                     f(r["to_guest_kicks_per_gb"], "{:.0f}"), f(r["from_guest_gbps"]),
                     f(r["from_guest_irqs_per_gb"], "{:.0f}"), f(r["from_guest_kicks_per_gb"], "{:.0f}"),
                     f"{f(r['ping_median_ms'], '{:.3f}')}/{f(r['ping_p99_ms'], '{:.3f}')}",
                     f"{f(r['rr_median_ms'], '{:.3f}')}/{f(r['rr_p99_ms'], '{:.3f}')}",
                     " ".join(f"{a}/{b}" for a, b in r.get("irqs_per_gb_runs", [])) + (
                         f"  {r['note']}" if r.get("note") else "")))
    w = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    fmt = "  ".join(["{:<%d}" % w[0]] + ["{:>%d}" % x for x in w[1:-1]] + ["{}"])
    for b in [head] + body:
        print(fmt.format(*b).rstrip())


def verdicts(rows):
    by = {r["impl"]: r for r in rows}
    o, t, v = by.get("ours"), by.get("testpmd"), by.get("ovs-dpdk")
    if not o or o["to_guest_gbps"] is None:
        return ["ours: no result"]
    out = []
    for d in DIRECTIONS:
        parts = []
        for name, ref, factor in (("testpmd", t, 4), ("ovs-dpdk", v, 1)):
            if not ref or ref[f"{d}_irqs_per_gb"] is None:
                continue
            ratio = ref[f"{d}_irqs_per_gb"] / max(1.0, o[f"{d}_irqs_per_gb"])
            met = ratio >= factor if factor > 1 else ratio > 1
            parts.append(f"{ratio:.1f}x fewer than {name} ({'met' if met else 'MISSED'}: goal "
                         f"{'%dx' % factor if factor > 1 else 'fewer'}), throughput "
                         f"{o[f'{d}_gbps']:.2f} vs {ref[f'{d}_gbps']:.2f} Gbit/s")
        out.append(f"{d}: ours {o[f'{d}_irqs_per_gb']:.0f} interrupts/GB; " + "; ".join(parts))
    return out


def main(argv):
    args = bench_switch.parse_options(
        argv, "tools/bench notify", __doc__.split("\n")[0], 8.0, "iperf3's duration each way",
        lambda p: (p.add_argument("--impl", default=".", metavar="REGEX",
                                  help="only the implementations matching (" + ", ".join(IMPLS) + ")"),
                   p.add_argument("--gap-us", default="", metavar="N[,N...]",
                                  help="also ours with --notify-gap-us N, in the same run")))
    try:
        gaps = [int(g) for g in args.gap_us.split(",") if g]
    except ValueError:
        print("tools/bench notify: --gap-us takes whole numbers, comma-separated", file=sys.stderr)
        return 2
    impls = [i for i in IMPLS if re.search(args.impl, i)] + [gap_impl(g) for g in gaps]
    if not impls:
        print("tools/bench notify: no implementation matches", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        raise SystemExit("bench notify: needs root (namespaces, hugepages, DPDK)")
    signal.signal(signal.SIGTERM, bench_kernel._terminate)
    signal.signal(signal.SIGHUP, bench_kernel._terminate)
    bench_kernel.check_tools([i.split("-")[0] if i.startswith("ours") else i for i in impls])
    if any(i.startswith("ours") for i in impls):
        bench_switch.build()
    seconds = int(args.seconds) if float(args.seconds).is_integer() else args.seconds
    work = tempfile.mkdtemp(prefix="vo-bench-notify-")
    log(f"logs in {work}")
    runs, failed = {i: [] for i in impls}, False
    try:
        with cleanup() as later:
            later(Hugepages(HUGEPAGES, "/tmp"))
            for rep in range(args.repetitions):
                for impl in impls:
                    log(f"{impl} run {rep + 1}/{args.repetitions}")
                    r = bench_kernel.attempt(lambda: one_run(impl, work, seconds), lambda r: (
                        ", ".join(f"{k} {r[k]:.3g}" for k in KEYS)), log)
                    failed |= "error" in r
                    runs[impl].append(r)
    finally:
        bench_kernel.close_work(work, args.keep or failed, log)
    rows = [median_row(i, runs[i]) for i in impls]
    return bench_kernel.report(rows, args.json, print_table, verdicts)
