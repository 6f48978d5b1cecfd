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
#include "vhost/features.h"
#include "vhost/vhost_port.h"
#include "vswitch/datapath.h"
#include "vswitch/log.h"
#include "vswitch/nic_port.h"
#include "vswitch/tap_port.h"
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
    pci |= p.kind == vo::cli::PortKind::Nic && p.target.find(':') != std::string::npos &&
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

bool nic_options(const vo::cli::PortSpec& s, vo::NicOptions& o, std::string& error) {
  o.devargs = s.target;
  o.name = s.name;
  o.gro = s.gro;
  std::string list = s.disable;
  size_t pos = 0;
  while (pos <= list.size() && !list.empty()) {
    size_t comma = list.find(',', pos);
    std::string item = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item == "tso") o.tso = false;
    else if (item == "csum") o.csum = false, o.tso = false;  // TSO needs checksum offload
    else if (item == "gro") o.gro = false;
    else if (!item.empty()) {
      error = "unknown offload '" + item + "' for uplink " + s.target + " (known: tso, csum, gro)";
      return false;
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return true;
}

bool tap_options(const vo::cli::PortSpec& s, vo::TapOptions& o, std::string& error) {
  o.ifname = s.target;
  o.name = s.name;
  o.netns = s.netns;
  o.mtu = s.mtu;
  o.queues = s.queues;
  o.gro = s.gro;
  std::string list = s.disable;
  size_t pos = 0;
  while (pos < list.size()) {
    size_t comma = std::min(list.find(',', pos), list.size());
    std::string item = list.substr(pos, comma - pos);
    pos = comma + 1;
    if (item == "tso4") o.tso4 = false;
    else if (item == "tso6") o.tso6 = false;
    else if (item == "tso") o.tso4 = o.tso6 = false;
    else if (item == "csum") o.csum = false;  // TUN_F_TSO* need TUN_F_CSUM
    else if (item == "ecn") o.ecn = false;
    else if (item == "gro") o.gro = false;
    else if (!item.empty()) {
      error = "unknown offload '" + item + "' for kernel port " + s.target +
              " (known: tso4, tso6, tso, csum, ecn, gro)";
      return false;
    }
  }
  return true;
}

struct Switch {
  rte_mempool* pool = nullptr;
  rte_mempool* indirect = nullptr;
  std::unique_ptr<vo::Datapath> dp;
  std::shared_ptr<vo::TapReadiness> tap_readiness;  // shared by every kernel port
  std::vector<std::unique_ptr<vo::Port>> ports;
};

std::unique_ptr<vo::Port> open_tap(const vo::cli::PortSpec& s, Switch& sw, std::string& error) {
  vo::TapOptions o;
  if (!tap_options(s, o, error)) return nullptr;
  if (!sw.tap_readiness && !(sw.tap_readiness = vo::TapReadiness::create(error))) return nullptr;
  return vo::TapPort::open(o, sw.pool, sw.tap_readiness, error);
}

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
  vo::Datapath* dp = sw.dp.get();
  for (const auto& s : c.ports) {
    std::unique_ptr<vo::Port> port;
    if (s.kind == vo::cli::PortKind::Nic) {
      vo::NicOptions o;
      if (!nic_options(s, o, error)) return false;
      port = vo::NicPort::open(o, sw.pool, error);
    } else if (s.kind == vo::cli::PortKind::Tap) {
      port = open_tap(s, sw, error);
    } else {
      vo::vhost::VhostOptions o;
      o.path = s.target;
      o.name = s.name;
      o.client = s.kind == vo::cli::PortKind::VhostClient;
      o.notify = s.notify;
      o.access = s.access;
      auto disabled = vo::vhost::parse_disabled(s.disable, error);
      if (!disabled) return false;
      o.disabled = *disabled;
      port = vo::vhost::VhostPort::create(o, sw.pool, [dp] { dp->quiesce(); }, error);
      if (port) port->set_gro_enabled(s.gro);
    }
    if (!port) return false;
    dp->add_port(port.get(), vo::PortPolicy{s.security, s.vlan});
    if (s.security.enabled)
      VO_LOG(INFO, "port %s: port security: %s", port->name().c_str(),
             vo::describe(s.security).c_str());
    if (!s.vlan.is_default())
      VO_LOG(INFO, "port %s: VLANs: %s", port->name().c_str(), vo::describe(s.vlan).c_str());
    sw.ports.push_back(std::move(port));
  }
  vo::register_telemetry(dp, sw.pool, sw.indirect);
  return true;
}

int datapath_main(void* arg) {
  static_cast<vo::Datapath*>(arg)->run();
  return 0;
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
  std::vector<std::string> args = eal_args(*cfg, argv[0]);
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  if (rte_eal_init(int(cargs.size()), cargs.data()) < 0) {
    std::fprintf(stderr, "vhost-offload: DPDK could not start: %s (check the EAL options; "
                         "without hugepages pass --no-huge)\n", rte_strerror(rte_errno));
    return 1;
  }
  unsigned lcore = cfg->datapath_lcore >= 0 ? unsigned(cfg->datapath_lcore)
                                             : rte_get_next_lcore(-1, 1, 0);
  if (lcore >= RTE_MAX_LCORE || !rte_lcore_is_enabled(lcore) || lcore == rte_get_main_lcore()) {
    std::fprintf(stderr, "vhost-offload: no lcore for the datapath: give EAL two, e.g. -l 0,1\n");
    rte_eal_cleanup();
    return 1;
  }
  Switch sw;
  if (!build(*cfg, sw, error)) {
    std::fprintf(stderr, "vhost-offload: %s\n", error.c_str());
    sw.ports.clear();
    rte_eal_cleanup();
    return 1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  rte_eal_remote_launch(datapath_main, sw.dp.get(), lcore);
  VO_LOG(INFO, "running: %zu ports, datapath on lcore %u", sw.ports.size(), lcore);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  VO_LOG(INFO, "stopping");
  sw.dp->stop();
  rte_eal_wait_lcore(lcore);
  sw.ports.clear();  // guests disconnect, devices close
  sw.dp.reset();     // frees what was still queued
  unsigned in_use = rte_mempool_in_use_count(sw.pool) + rte_mempool_in_use_count(sw.indirect);
  VO_LOG(INFO, "stopped cleanly; %u mbufs still in use", in_use);
  rte_eal_cleanup();
  return 0;
}
