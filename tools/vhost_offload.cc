// vhost-offload: the switch daemon.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli.h"
#include "control/commands.h"
#include "control/control_socket.h"
#include "control/port_registry.h"
#include "vswitch/datapath.h"
#include "log/log.h"
#include "vswitch/telemetry.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

uint64_t free_hugepages() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t value;
  while (meminfo >> key >> value)
    if (key == "HugePages_Free:") return value;
  return 0;
}

// EAL arguments: the user's, or defaults that start anywhere.
std::vector<std::string> eal_args(const vo::cli::Config& c, const char* prog) {
  std::vector<std::string> a = {prog};
  if (!c.eal_args.empty()) {
    a.insert(a.end(), c.eal_args.begin(), c.eal_args.end());
    return a;
  }
  a.insert(a.end(), {"-l", "0,1", "--file-prefix", "vhost-offload"});
  // Scan the PCI bus only for an uplink that is a PCI device: otherwise EAL
  // would try to take the machine's own NICs.
  bool pci = false;
  for (const auto& p : c.ports)
    pci |= p.kind == vo::control::PortKind::Nic && p.target.find(':') != std::string::npos &&
           p.target.rfind("net_", 0) != 0;
  if (!pci) a.push_back("--no-pci");
  if (free_hugepages() == 0) {
    std::fprintf(stderr,
                 "vhost-offload: no free hugepages: running with --no-huge (for more speed: "
                 "echo 1024 > /proc/sys/vm/nr_hugepages)\n");
    a.insert(a.end(), {"--no-huge", "-m", "1024"});
  }
  return a;
}

struct Switch {
  rte_mempool* pool = nullptr;
  rte_mempool* indirect = nullptr;
  std::unique_ptr<vo::Datapath> dp;
  std::unique_ptr<vo::control::PortRegistry> ports;  // before dp in teardown: see main
};

bool build(const vo::cli::Config& c, Switch& sw, std::string& error) {
  sw.pool = rte_pktmbuf_pool_create("vo_pkts", c.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    rte_socket_id());
  sw.indirect = rte_pktmbuf_pool_create("vo_indirect", c.mbufs, 256, 0, 0, rte_socket_id());
  if (sw.pool == nullptr || sw.indirect == nullptr) {
    error = std::string("cannot create the packet pool: ") + rte_strerror(rte_errno) +
            " (lower --mbufs, or give EAL more memory with -m)";
    return false;
  }
  vo::GsoConfig gso{sw.pool, sw.indirect, vo::ChecksumMode::Full,
                    c.zero_copy_gso ? vo::PayloadMode::Attach : vo::PayloadMode::Copy};
  sw.dp = std::make_unique<vo::Datapath>(c.datapath, gso, sw.pool);
  sw.ports = std::make_unique<vo::control::PortRegistry>(*sw.dp, sw.pool);
  for (const auto& s : c.ports)
    if (!sw.ports->add(s, error)) return false;
  vo::register_telemetry(sw.dp.get(), sw.pool, sw.indirect);
  return true;
}

// Each port as the words that describe it, in the registry's order.
std::vector<std::vector<std::string>> port_words(const vo::control::PortRegistry& ports) {
  std::vector<std::vector<std::string>> words;
  for (const auto& e : ports.entries()) words.push_back(e->spec.words);
  return words;
}

// The ports as they are now go to the config file, so that a restart brings
// them back; the answer says whether they could be saved.
void save_ports(const vo::cli::Config& c, const vo::control::PortRegistry& ports,
                nlohmann::ordered_json& answer) {
  vo::control::ConfigFile file = c.config_file;
  file.ports = port_words(ports);
  std::string error;
  answer["saved"] = vo::control::write_config(c.config_path, file, error);
  if (!answer["saved"]) {
    answer["warning"] = error + ": the change holds until the switch restarts";
    VO_LOG(ERR, "%s", error.c_str());
  }
}

struct Thread {
  vo::Datapath* dp;
  uint16_t index;
};

int datapath_main(void* arg) {
  const auto* t = static_cast<const Thread*>(arg);
  t->dp->run(t->index);
  return 0;
}

// Datapath threads that share a CPU take turns on it, and one preempted while
// it holds a guest ring's lock (librte_vhost's, around each enqueue) stalls
// the other for the rest of its time slice: throughput falls to a fraction.
void warn_if_sharing_cpus(const std::vector<unsigned>& lcores) {
  for (size_t i = 0; i < lcores.size(); ++i)
    for (size_t j = i + 1; j < lcores.size(); ++j) {
      rte_cpuset_t a = rte_lcore_cpuset(lcores[i]), b = rte_lcore_cpuset(lcores[j]), both;
      CPU_AND(&both, &a, &b);
      if (CPU_COUNT(&both) > 0)
        VO_LOG(WARNING, "datapath lcores %u and %u share a CPU: they take turns on it, and one "
               "preempted while it holds a guest ring's lock stalls the other; give each its "
               "own CPU (EAL -l or --lcores) for speed", lcores[i], lcores[j]);
    }
}

// The datapath threads' lcores: as given, or every worker lcore EAL has.
// Empty, with `error`, when one cannot be used.
std::vector<unsigned> datapath_lcores(const vo::cli::Config& c, std::string& error) {
  std::vector<unsigned> lcores = c.datapath_lcores;
  if (lcores.empty()) {
    unsigned l;
    RTE_LCORE_FOREACH_WORKER(l) {
      if (lcores.size() < vo::kMaxDatapathThreads) lcores.push_back(l);
    }
  }
  if (lcores.empty()) error = "no lcore for the datapath: give EAL two, e.g. -l 0,1";
  for (unsigned l : lcores)
    if (l >= RTE_MAX_LCORE || !rte_lcore_is_enabled(l) || l == rte_get_main_lcore()) {
      error = "lcore " + std::to_string(l) + " cannot run the datapath: give EAL lcores for it "
              "beside the main one (e.g. -l 0,1,2 for --datapath-lcores 1,2, or --lcores to put "
              "several on one CPU)";
      return {};
    }
  warn_if_sharing_cpus(lcores);
  return lcores;
}

}  // namespace

int main(int argc, char** argv) {
  std::string error;
  auto cfg = vo::cli::parse(argc, argv, error);
  if (!cfg) {
    std::fprintf(stderr, "vhost-offload: %s\n", error.c_str());
    return 2;
  }
  if (cfg->help) {
    std::fputs(vo::cli::usage(argv[0]).c_str(), stdout);
    return 0;
  }
  // Before DPDK starts: a second daemon on the same socket stops here.
  auto control = vo::control::ControlSocket::open(cfg->control, error);
  if (!control) {
    std::fprintf(stderr, "vhost-offload: %s\n", error.c_str());
    return 1;
  }
  std::vector<std::string> args = eal_args(*cfg, argv[0]);
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  if (rte_eal_init(int(cargs.size()), cargs.data()) < 0) {
    std::fprintf(stderr, "vhost-offload: DPDK could not start: %s (check the EAL options; "
                         "without hugepages pass --no-huge)\n", rte_strerror(rte_errno));
    return 1;
  }
  const std::vector<unsigned> lcores = datapath_lcores(*cfg, error);
  if (lcores.empty()) {
    std::fprintf(stderr, "vhost-offload: %s\n", error.c_str());
    rte_eal_cleanup();
    return 1;
  }
  cfg->datapath.threads = uint16_t(lcores.size());
  vo::set_datapath_threads(cfg->datapath.threads);  // before any port opens
  Switch sw;
  if (!build(*cfg, sw, error)) {
    std::fprintf(stderr, "vhost-offload: %s\n", error.c_str());
    sw.ports.reset();
    rte_eal_cleanup();
    return 1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::vector<Thread> threads;
  std::string on;
  for (uint16_t i = 0; i < lcores.size(); ++i) {
    threads.push_back({sw.dp.get(), i});
    if (i) on += ",";
    on += std::to_string(lcores[i]);
  }
  for (uint16_t i = 0; i < lcores.size(); ++i) rte_eal_remote_launch(datapath_main, &threads[i], lcores[i]);
  VO_LOG(INFO, "running: %zu ports, datapath on lcore%s %s, control socket %s%s",
         sw.ports->entries().size(), lcores.size() > 1 ? "s" : "", on.c_str(), control->path().c_str(),
         sw.ports->entries().empty() ? " (add ports with tools/vo-ctl add-port)" : "");
  control->serve([] { return g_stop != 0; }, [&](const nlohmann::ordered_json& request) {
    // Saved whenever the ports changed, whatever the request and its outcome
    // (a NIC that could not be reopened is gone although the request failed).
    const auto before = port_words(*sw.ports);
    auto answer = vo::control::handle_request(*sw.ports, request);
    if (!cfg->config_path.empty() && port_words(*sw.ports) != before)
      save_ports(*cfg, *sw.ports, answer);
    return answer;
  });
  VO_LOG(INFO, "stopping");
  control.reset();
  sw.ports.reset();  // each port leaves the datapath, then closes: guests disconnect
  sw.dp->stop();
  for (unsigned l : lcores) rte_eal_wait_lcore(l);
  sw.dp.reset();     // frees what was still queued
  unsigned in_use = rte_mempool_in_use_count(sw.pool) + rte_mempool_in_use_count(sw.indirect);
  VO_LOG(INFO, "stopped cleanly; %u mbufs still in use", in_use);
  rte_eal_cleanup();
  return 0;
}
