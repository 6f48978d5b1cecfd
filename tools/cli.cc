#include "cli.h"

#include <algorithm>

#include "vswitch/egress.h"

namespace vo::cli {
namespace {

// "1,2" or "1-3": at most kMaxDatapathThreads lcores, each once.
bool parse_lcores(const std::string& s, std::vector<unsigned>& out, std::string& error) {
  out.clear();
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = std::min(s.find(',', start), s.size());
    const std::string item = s.substr(start, comma - start);
    const size_t dash = item.find('-');
    uint32_t lo = 0, hi = 0;
    bool ok = control::parse_whole_number(item.substr(0, dash), lo);
    hi = lo;
    if (ok && dash != std::string::npos) ok = control::parse_whole_number(item.substr(dash + 1), hi);
    if (!ok || hi < lo || hi >= 1024) {
      error = "--datapath-lcores takes lcore numbers and ranges such as 1,2 or 1-3, not '" + s + "'";
      return false;
    }
    for (uint32_t l = lo; l <= hi; ++l)
      if (std::find(out.begin(), out.end(), l) == out.end()) out.push_back(l);
    start = comma + 1;
  }
  if (out.size() > kMaxDatapathThreads) {
    error = "--datapath-lcores names " + std::to_string(out.size()) + " lcores; the switch runs " +
            std::to_string(kMaxDatapathThreads) + " datapath threads at most";
    return false;
  }
  return true;
}

}  // namespace

std::string usage(const char* prog) {
  return std::string("Usage: ") + prog + R"( [OPTIONS] [-- EAL-OPTIONS]

A userspace virtual switch that negotiates checksum and segmentation offloads
with QEMU guests (vhost-user) and moves 64 KB TCP segments whole wherever the
next hop can take them, cutting them in software only where it cannot.

)" + control::port_help() + R"(
Configuration:
  --config FILE           read the switch's options and its ports from FILE (JSON:
                          {"switch": {"mbufs": 65536}, "ports": [["--vhost", "/run/vm1.sock",
                          "--name", "vm1"]]}; options named as here without the
                          dashes, ports in the words above). Ports added or removed
                          with vo-ctl are written back to it, so that a restart
                          brings them back; options given here override the file's

Control (tools/vo-ctl adds, removes and shows ports while the switch runs):
  --control PATH          the control socket (default )" + std::string(control::kDefaultControlPath) + R"();
                          one JSON request per line, one answer per line
  --control-group GROUP   give the control socket to GROUP (whoever may connect may
                          add and remove ports: never everyone)
  --control-mode MODE     its permission bits, octal (default 0660)

Datapath:
  --datapath-lcores LIST  lcores of the datapath threads, e.g. 1,2 or 1-3 (default:
                          every lcore EAL gives but the main one); each polls its
                          share of the ports' receive queues (vo-ctl rebalance
                          moves them by load). --datapath-lcore N: one
  --mbufs N               mbufs in the packet pool (default 32768)
  --gro-timeout-us N      hold segments up to N us for merging (default 0: flush per burst)
  --idle-sleep-max-us N   longest nap of an idle datapath (default 200; 0 = busy poll)
  --mac-age S             forget a MAC not seen for S seconds (default 300)
  --mac-table-size N      MAC addresses the switch learns at most (default 8192)
  --mac-per-port N        MAC addresses one port may hold at most (default 1024;
                          0 = the whole table): a port that sends from more is
                          not learned for them (its frames to them are flooded)
                          and counted in mac_refused
  --mac-per-vlan N        MAC addresses one VLAN may hold at most (default 0 = the
                          whole table): one tenant cannot fill the table for others
  --tx-hold-us N          how long packets wait for a full port (a guest not draining
                          its ring) before they are dropped, each counted from when
                          it was queued (default 2000; tx_expired)
  --tx-queue-mbufs N      mbufs the packets waiting for one port may hold (default
                          2048): a port that stops draining takes no more of the
                          pool; beyond it packets are dropped (tx_dropped)
  --flood-pps N           frames one port may have flooded (broadcast, multicast,
                          unknown unicast) per second, bursts of a tenth of that;
                          beyond it they are dropped and counted (flood_dropped).
                          Default 20000; 0 = no bound
  --gso-copy              cut segments by copying instead of referencing the payload
  -h, --help              this text

EAL options after "--" go to DPDK unchanged. Without them the switch runs on
lcores 0 (control) and 1 (datapath), with hugepages when the system has free
ones and with --no-huge (and says so) when it has none.
Statistics: tools/vo-stats, or dpdk-telemetry.py with /vhost_offload/stats.
)";
}

namespace {

// Takes `--config FILE` out of `args`; false with `error` when FILE is missing.
bool take_config_option(std::vector<std::string>& args, std::string& path, std::string& error) {
  for (size_t i = 0; i < args.size() && args[i] != "--"; ++i) {
    if (args[i] != "--config") continue;
    if (i + 1 >= args.size()) {
      error = "option --config needs a value (see --help)";
      return false;
    }
    path = args[i + 1];
    args.erase(args.begin() + long(i), args.begin() + long(i) + 2);
    return true;
  }
  return true;
}

std::optional<Config> parse_words(const std::vector<std::string>& argv, std::string& error) {
  Config c;
  const size_t argc = argv.size();
  for (size_t i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (++i; i < argc; ++i) c.eal_args.emplace_back(argv[i]);
      break;
    }
    if (a == "-h" || a == "--help") {
      c.help = true;
      continue;
    }
    if (a == "--gso-copy") {
      c.zero_copy_gso = false;
      continue;
    }
    const bool port_word = control::starts_port(a) || control::is_port_option(a);
    if ((!port_word || control::takes_value(a)) && i + 1 >= argc) {
      error = "option " + a + " needs a value (see --help)";
      return std::nullopt;
    }
    if (port_word) {
      std::string v = control::takes_value(a) ? argv[++i] : "";
      if (control::starts_port(a)) {
        c.ports.push_back(control::start_port(a, v));
        continue;
      }
      if (c.ports.empty()) {
        error = a + " must follow the --vhost, --vhost-client, --nic or --tap it applies to";
        return std::nullopt;
      }
      if (!control::apply_port_option(c.ports.back(), a, v, error)) return std::nullopt;
      continue;
    }
    const std::string v = argv[++i];
    uint32_t n = 0;
    bool numeric = control::parse_whole_number(v, n);
    auto want_number = [&](const std::string& opt) {
      if (!numeric) error = "option " + opt + " takes a whole number, not '" + v + "'";
      return numeric;
    };
    if (a == "--control") {
      c.control.path = v;
    } else if (a == "--control-group") {
      c.control.access.group = v;
    } else if (a == "--control-mode") {
      if (!vhost::parse_socket_mode(v, c.control.access.mode)) {
        error = "--control-mode takes octal permission bits such as 0660, not '" + std::string(v) + "'";
        return std::nullopt;
      }
    } else if (a == "--datapath-lcore" || a == "--datapath-lcores") {
      if (!parse_lcores(v, c.datapath_lcores, error)) return std::nullopt;
      c.datapath.threads = uint16_t(c.datapath_lcores.size());
    } else if (a == "--mbufs") {
      if (!want_number(a)) return std::nullopt;
      c.mbufs = n;
    } else if (a == "--gro-timeout-us") {
      if (!want_number(a)) return std::nullopt;
      c.datapath.gro_timeout_us = n;
    } else if (a == "--idle-sleep-max-us") {
      if (!want_number(a)) return std::nullopt;
      c.datapath.idle_sleep_max_us = n;
    } else if (a == "--mac-per-vlan") {
      if (!want_number(a)) return std::nullopt;
      c.datapath.mac_limits.per_vlan = n;
    } else if (a == "--mac-table-size" || a == "--mac-per-port") {
      if (!want_number(a)) return std::nullopt;
      if (a == "--mac-table-size" && (n < 1 || n > (1u << 20))) {
        error = "--mac-table-size " + std::string(v) + " is out of range: give 1 to 1048576";
        return std::nullopt;
      }
      (a == "--mac-table-size" ? c.datapath.mac_limits.entries : c.datapath.mac_limits.per_port) = n;
    } else if (a == "--mac-age") {
      if (!want_number(a)) return std::nullopt;
      c.datapath.mac_age_s = n;
    } else if (a == "--flood-pps") {
      if (!want_number(a)) return std::nullopt;
      c.datapath.flood_pps = n;
    } else if (a == "--tx-hold-us") {
      if (!want_number(a)) return std::nullopt;
      c.datapath.tx_hold_us = n;
    } else if (a == "--tx-queue-mbufs") {
      if (!want_number(a)) return std::nullopt;
      if (n < kMaxEgressSegments) {
        error = "--tx-queue-mbufs " + std::to_string(n) + " cannot hold one 64 KB segment cut in " +
                "software; give at least " + std::to_string(kMaxEgressSegments);
        return std::nullopt;
      }
      c.datapath.tx_queue_mbufs = n;
    } else {
      error = "unknown option " + a + " (see --help)";
      return std::nullopt;
    }
  }
  for (control::PortSpec& p : c.ports)
    if (!control::finish_port(p, error)) return std::nullopt;
  return c;
}

}  // namespace

// The config file's switch options come first, so that the command line's
// override them; its ports are parsed one by one, so that an error names one.
std::optional<Config> parse(int argc, const char* const* argv, std::string& error) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string path;
  control::ConfigFile file;
  if (!take_config_option(args, path, error)) return std::nullopt;
  if (!path.empty() && !control::read_config(path, file, error)) return std::nullopt;
  std::vector<std::string> words = file.switch_words();
  words.insert(words.end(), args.begin(), args.end());
  auto c = parse_words(words, error);
  if (!c || path.empty()) return c;
  if (!c->ports.empty()) {
    error = "with --config, ports live in the file (" + path + "): add them there, or with "
            "vo-ctl add-port, which writes it";
    return std::nullopt;
  }
  for (size_t i = 0; i < file.ports.size(); ++i) {
    auto port = control::parse_port(file.ports[i], error);
    if (!port) {
      error = "config " + path + ": ports[" + std::to_string(i) + "]: " + error;
      return std::nullopt;
    }
    c->ports.push_back(std::move(*port));
  }
  c->config_path = path;
  c->config_file = std::move(file);
  return c;
}

}  // namespace vo::cli
