"""A kernel port with two queues (IFF_MULTI_QUEUE; issue 13): the switch
writes each flow into one of the TAP's queues by its hash, so that the
host's kernel gets flows spread over its queues (for RPS/RFS, as from a
multi-queue NIC), and reads what the kernel sends on each. iperf3 with four
streams each way between a single-queue namespace and the two-queue one."""
from vo.harness import Iperf3, KernelHost, Switch, cleanup

SECONDS = 4


def test_flows_into_a_two_queue_kernel_port_use_both_queues(tmp_path):
    work = str(tmp_path)
    with cleanup() as later:
        left, right = KernelHost("left"), KernelHost("right", queues=2)
        for h in (left, right):
            later(h)
        sw = Switch(work, left.switch_args() + right.switch_args())
        later(sw)
        left.attach("10.79.0.1")
        right.attach("10.79.0.2")
        left.run("ping -c 2 -W 2 10.79.0.2")
        before = sw.port("right")
        reports = {}
        for direction, args in (("into", ["-P", "4"]), ("out of", ["-P", "4", "-R"])):
            run = Iperf3(work, left, right, SECONDS, client_args=args)
            reports[direction] = run.result()
            run.stop()
        after = sw.port("right")
        tx = [after[f"q{q}_tx_frames"] - before[f"q{q}_tx_frames"] for q in range(2)]
        rx = [after[f"q{q}_rx_frames"] - before[f"q{q}_rx_frames"] for q in range(2)]
        summary = {d: (r["end"]["sum_received"]["bits_per_second"] / 1e9,
                       r["end"]["sum_sent"].get("retransmits", 0)) for d, r in reports.items()}
        print(f"\nframes per queue into the two-queue namespace {tx}, out of it {rx}; "
              f"Gbit/s and retransmits {summary}")
        assert all(n > 0 for n in tx), "the switch wrote to one queue only"
        assert all(n > 0 for n in rx), "a queue the kernel sent on was not read"
        for direction, (gbps, retransmits) in summary.items():
            assert gbps > 1, f"{direction}: {gbps:.2f} Gbit/s"
            assert retransmits <= 100, f"{direction}: {retransmits} retransmits"
        assert sw.stop() == 0
