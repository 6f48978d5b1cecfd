"""Where the datapath lcore's time goes (issue 13: each lcore's busy share,
idle and under load): an idle switch is idle nearly all the time (it naps,
leaving the core to QEMU and the kernel); under iperf3 between two
namespaces it is busy most of it. vo-stats shows the share."""
import subprocess
import time

from vo.harness import ROOT, Iperf3, KernelHost, Switch, cleanup


def busy_share(before, after):
    busy = after["datapath_busy_cycles"] - before["datapath_busy_cycles"]
    idle = after["datapath_idle_cycles"] - before["datapath_idle_cycles"]
    return busy / (busy + idle)


def test_the_datapath_says_how_busy_it_is(tmp_path):
    work = str(tmp_path)
    with cleanup() as later:
        left, right = KernelHost("left"), KernelHost("right")
        for h in (left, right):
            later(h)
        sw = Switch(work, left.switch_args() + right.switch_args())
        later(sw)
        left.attach("10.81.0.1")
        right.attach("10.81.0.2")
        left.run("ping -c 2 -W 2 10.81.0.2")
        time.sleep(0.5)
        quiet = sw.stats()
        time.sleep(2)
        rested = sw.stats()
        run = Iperf3(work, left, right, 4)
        later(run)
        time.sleep(1)
        loaded = sw.stats()
        time.sleep(2)
        busier = sw.stats()
        run.result()
        idle_share, load_share = busy_share(quiet, rested), busy_share(loaded, busier)
        cycles = (rested["datapath_busy_cycles"] + rested["datapath_idle_cycles"]
                  - quiet["datapath_busy_cycles"] - quiet["datapath_idle_cycles"])
        print(f"\ndatapath busy {idle_share * 100:.2f}% idle, {load_share * 100:.1f}% under "
              f"iperf3; {busier['datapath_packets'] - loaded['datapath_packets']} packets in 2 s")
        # The counters cover the time that passed (TSC cycles, within 10%).
        assert abs(cycles / rested["tsc_hz"] - 2) < 0.2 + 0.1 * 2
        assert idle_share < 0.05, "an idle switch keeps its core busy"
        assert load_share > 0.5, "a switch forwarding iperf3 says it is mostly idle"
        shown = subprocess.run([f"{ROOT}/tools/vo-stats", "--file-prefix", sw.prefix],
                               capture_output=True, text=True, timeout=30).stdout
        assert "datapath lcore: busy" in shown, shown
