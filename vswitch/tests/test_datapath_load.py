"""Where the datapath lcores' time goes (issue 13: each lcore's busy share,
idle and under load): an idle switch is idle nearly all the time (it naps,
leaving the core to QEMU and the kernel); under iperf3 between two
namespaces it is busy most of it. With two datapath lcores, each naps on its
own when idle and each says how busy it is. vo-stats shows the shares."""
import subprocess
import time

from vo.harness import ROOT, Iperf3, KernelHost, Switch, cleanup


def busy_share(before, after, prefix="datapath_"):
    busy = after[prefix + "busy_cycles"] - before[prefix + "busy_cycles"]
    idle = after[prefix + "idle_cycles"] - before[prefix + "idle_cycles"]
    return busy / (busy + idle)


def measure(work, later, extra=(), lcores="0,1"):
    """(switch, stats idle at start and 2 s later, stats under iperf3 at 1 s and 2 s later)."""
    left, right = KernelHost("left"), KernelHost("right")
    for h in (left, right):
        later(h)
    sw = Switch(work, left.switch_args() + right.switch_args(), list(extra), lcores=lcores)
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
    return sw, quiet, rested, loaded, busier


def test_two_datapath_lcores_each_say_how_busy_they_are(tmp_path):
    with cleanup() as later:
        sw, quiet, rested, loaded, busier = measure(str(tmp_path), later,
                                                    ["--datapath-lcores", "1,2"], "0@0,1@1,2@0")
        assert busier["datapath_threads"] == 2
        shares = []
        for t in range(2):
            p = f"thread{t}_"
            idle, load = busy_share(quiet, rested, p), busy_share(loaded, busier, p)
            packets = busier[p + "packets"] - loaded[p + "packets"]
            shares.append((idle, load))
            print(f"\nthread {t} on lcore {busier[p + 'lcore']} ({busier[p + 'queues']}): busy "
                  f"{idle * 100:.2f}% idle, {load * 100:.1f}% under iperf3, {packets} packets in 2 s")
            assert idle < 0.05, f"thread {t} keeps its core busy while the switch is idle"
            assert packets > 0, f"thread {t} polls one of the two ports and carried nothing"
        assert busier["thread0_lcore"] == 1 and busier["thread1_lcore"] == 2
        assert max(load for _, load in shares) > 0.3, "neither thread says it is busy under iperf3"
        shown = subprocess.run([f"{ROOT}/tools/vo-stats", "--file-prefix", sw.prefix],
                               capture_output=True, text=True, timeout=30).stdout
        assert "thread 0 on lcore 1: busy" in shown and "thread 1 on lcore 2: busy" in shown, shown


def test_the_datapath_says_how_busy_it_is(tmp_path):
    work = str(tmp_path)
    with cleanup() as later:
        sw, quiet, rested, loaded, busier = measure(work, later)
        later(sw)
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
