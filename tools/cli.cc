#include "cli.h"

#include <charconv>
#include <cstring>

#include "vswitch/egress.h"

namespace vo::cli {
namespace {

bool to_u32(const char* s, uint32_t& out) {
  auto [p, ec] = std::from_chars(s, s + std::strlen(s), out);
  return ec == std::errc() && *p == '\0';
}

// --netns, --mtu, --queues: options of the --tap just before them.
bool kernel_port_option(Config& c, const std::string& opt, const char* v, const uint32_t* n,
                        std::string& error) {
  if (c.ports.empty() || c.ports.back().kind != PortKind::Tap) {
    error = opt + " applies to a kernel port only: put it after the --tap it belongs to";
    return false;
  }
  PortSpec& p = c.ports.back();
  if (opt == "--netns") {
    p.netns = v;
    return true;
  }
  if (n == nullptr) {
    error = "option " + opt + " takes a whole number, not '" + v + "'";
    return false;
  }
  if (opt == "--mtu" && (*n < 68 || *n > 65535)) {
    error = "--mtu " + std::string(v) + " is out of range: a TAP takes 68 to 65535";
    return false;
  }
  if (opt == "--queues" && (*n < 1 || *n > 16)) {
    error = "--queues " + std::string(v) + " is out of range: give 1 to 16";
    return false;
  }
  if (opt == "--mtu")
    p.mtu = *n;
  else
    p.queues = uint16_t(*n);
  return true;
}

// --socket-owner, --socket-group, --socket-mode: of the --vhost just before them.
bool socket_option(Config& c, const std::string& opt, const char* v, std::string& error) {
  if (c.ports.empty() || c.ports.back().kind != PortKind::Vhost) {
    error = opt + " applies to a socket the switch serves: put it after its --vhost (with "
                  "--vhost-client QEMU owns the socket)";
    return false;
  }
  vhost::SocketAccess& a = c.ports.back().access;
  if (opt == "--socket-owner")
    a.owner = v;
  else if (opt == "--socket-group")
    a.group = v;
  else if (!vhost::parse_socket_mode(v, a.mode)) {
    error = "--socket-mode takes octal permission bits such as 0660, not '" + std::string(v) + "'";
    return false;
  }
  return true;
}

// --port-security, --mac, --allowed-ips: of any port.
bool security_option(PortSpec& p, const std::string& opt, const char* v, std::string& error) {
  if (opt == "--port-security") {
    std::string s = v;
    if (s != "on" && s != "off") {
      error = "--port-security takes on or off, not '" + s + "'";
      return false;
    }
    p.security_asked = s == "on";
    return true;
  }
  bool ok = true;
  if (opt == "--mac") {
    MacAddr m;
    if ((ok = parse_mac(v, m, error))) p.security.mac = m;
  } else {
    ok = parse_ip_list(v, p.security, error);
  }
  if (!ok) error = opt + ": " + error;
  return ok;
}

// --tag, --trunks, --native-vlan: of any port; checked together once the
// command line is read.
bool vlan_option(PortSpec& p, const std::string& opt, const char* v, std::string& error) {
  if (opt == "--trunks") {
    if (parse_vlan_list(v, p.vlan.trunks, error)) return true;
    error = "--trunks: " + error;
    return false;
  }
  std::vector<uint16_t> one;
  if (!parse_vlan_list(v, one, error) || one.size() != 1) {
    error = opt + " takes one VLAN ID (1 to 4094), not '" + v + "'";
    return false;
  }
  (opt == "--tag" ? p.vlan.tag : p.vlan.native) = one[0];
  return true;
}

// Port security is on for guest ports unless switched off, and for others
// when asked for or given addresses to hold them to.
void settle_security(PortSpec& p) {
  bool guest = p.kind == PortKind::Vhost || p.kind == PortKind::VhostClient;
  bool addresses = p.security.mac || !p.security.ipv4.empty() || !p.security.ipv6.empty();
  p.security.enabled = p.security_asked.value_or(guest || addresses);
}

// --notify, --notify-gap-us: options of the guest port just before them.
bool guest_port_option(Config& c, const std::string& opt, const char* v, const uint32_t* n,
                       std::string& error) {
  if (c.ports.empty() || (c.ports.back().kind != PortKind::Vhost &&
                          c.ports.back().kind != PortKind::VhostClient)) {
    error = opt + " applies to a guest port only: put it after the --vhost or --vhost-client "
                  "it belongs to";
    return false;
  }
  vhost::NotifyConfig& notify = c.ports.back().notify;
  if (opt == "--notify") {
    if (vhost::parse_notify_policy(v, notify.policy)) return true;
    error = "--notify takes library or coalesce, not '" + std::string(v) + "'";
    return false;
  }
  if (n == nullptr) {
    error = "option " + opt + " takes a whole number, not '" + v + "'";
    return false;
  }
  if (*n > 10000) {
    error = "--notify-gap-us " + std::string(v) + " is out of range: give 0 to 10000";
    return false;
  }
  notify.gap_us = *n;
  return true;
}

}  // namespace

std::string usage(const char* prog) {
  return std::string("Usage: ") + prog + R"( [OPTIONS] [-- EAL-OPTIONS]

A userspace virtual switch that negotiates checksum and segmentation offloads
with QEMU guests (vhost-user) and moves 64 KB TCP segments whole wherever the
next hop can take them, cutting them in software only where it cannot.

Ports (at least one; the switch learns MACs across all of them):
  --vhost PATH            guest port: serve a vhost-user socket at PATH
                          (QEMU: -chardev socket,id=c0,path=PATH -netdev vhost-user,chardev=c0,...)
  --vhost-client PATH     guest port: connect to QEMU's socket at PATH (QEMU started with
                          server=on), reconnecting whenever QEMU restarts
  --nic DEVARGS           uplink: any DPDK ethdev, e.g. net_tap0,iface=vo0 |
                          net_af_packet0,iface=veth0 | 0000:00:04.0 | net_null0
  --tap NAME              kernel port: a TAP with virtio-net headers through which the
                          host's TCP stack sends and takes 64 KB segments whole; created,
                          or attached to if a TAP of that name exists
Options for the port named just before them:
  --name NAME             name shown in logs and stats (default: socket file or device name)
  --disable LIST          switch offloads off, comma-separated:
                            guest ports: csum guest-csum host-tso4 host-tso6 host-ecn
                                         guest-tso4 guest-tso6 guest-ecn mrg-rxbuf
                                         (groups: tso host-tso guest-tso ecn all)
                            uplinks:     tso csum gro
                            kernel ports: tso4 tso6 csum ecn gro (group: tso); each off
                                         withdraws the TUN_F_* offload from the kernel
                                         and has the switch cut or checksum instead
                                         (csum off takes TSO with it; ecn only stops
                                         the kernel sending CWR-marked segments whole)
  --no-gro                do not merge segments received on this port
  --netns NS              kernel port: put the TAP in network namespace NS (as made by
                          `ip netns add NS`); the port goes down if NS is deleted
  --notify POLICY         guest port: when the switch interrupts the guest. coalesce
                          (default): at most once per datapath round, honouring the
                          guest's event index, and under load at most once per gap;
                          library: after every burst, as librte_vhost does
  --notify-gap-us N       guest port, coalesce: least time between two interrupts of
                          a queue while the guest streams (default 1500); a lone
                          packet or a request/response exchange is never held
                          (0 = no gap: one interrupt per round at most)
  --socket-group GROUP    --vhost: give the socket to GROUP (name or number), e.g. the
                          group QEMU runs as (libvirt-qemu under libvirt)
  --socket-owner USER     --vhost: give the socket to USER (name or number)
  --socket-mode MODE      --vhost: the socket's permission bits, octal (e.g. 0660);
                          whoever may write to it may connect as the port's guest.
                          One guest per socket: while one is connected, others are
                          refused and counted (refused_connections)
  --port-security on|off  hold the port to its own addresses: frames, ARP and
                          neighbour discovery from another MAC (or, with
                          --allowed-ips, another IP address) are dropped and
                          counted (rx_drop_SpoofedMac/SpoofedIp), and its MAC is
                          pinned to it. On by default for guest ports
  --mac MAC               the port's MAC for port security (default: the first
                          one it sends from each time it comes up)
  --allowed-ips LIST      source IPv4/IPv6 addresses the port may use, comma-
                          separated; besides them only 0.0.0.0 (DHCP), :: (DAD)
                          and the link-local address of its MAC (EUI-64). Both
                          families are held: list a private link-local too
  --tag VLAN              access port: its frames are untagged on the wire and belong
                          to VLAN (1..4094); tagged frames from it are dropped
  --trunks LIST           trunk port: carries the VLANs in LIST (e.g. 10,20,100-199)
                          tagged; untagged frames are dropped unless --native-vlan.
                          A port with neither --tag nor --trunks carries every VLAN,
                          tagged, and its untagged frames share one untagged domain
  --native-vlan VLAN      trunk port: its untagged frames belong to VLAN, and
                          frames of VLAN leave it untagged
                          (learning, lookups and flooding are per VLAN; a frame
                          from a VLAN a port does not carry counts in
                          rx_drop_VlanNotCarried)
  --mtu N                 kernel port: set the TAP's MTU (68..65535; default: keep it)
  --queues N              kernel port: N queues (IFF_MULTI_QUEUE; an existing TAP must
                          have been created multi_queue), default 1

Datapath:
  --datapath-lcore N      lcore of the forwarding loop (default: the last lcore in -l)
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

std::optional<Config> parse(int argc, const char* const* argv, std::string& error) {
  Config c;
  auto need_port = [&](const char* opt) -> PortSpec* {
    if (c.ports.empty()) {
      error = std::string(opt) +
              " must follow the --vhost, --vhost-client, --nic or --tap it applies to";
      return nullptr;
    }
    return &c.ports.back();
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (++i; i < argc; ++i) c.eal_args.emplace_back(argv[i]);
      break;
    }
    if (a == "-h" || a == "--help") {
      c.help = true;
      continue;
    }
    if (a == "--no-gro") {
      PortSpec* p = need_port("--no-gro");
      if (!p) return std::nullopt;
      p->gro = false;
      continue;
    }
    if (a == "--gso-copy") {
      c.zero_copy_gso = false;
      continue;
    }
    if (i + 1 >= argc) {
      error = "option " + a + " needs a value (see --help)";
      return std::nullopt;
    }
    const char* v = argv[++i];
    uint32_t n = 0;
    bool numeric = to_u32(v, n);
    auto want_number = [&](const std::string& opt) {
      if (!numeric) error = "option " + opt + " takes a whole number, not '" + v + "'";
      return numeric;
    };
    if (a == "--vhost" || a == "--vhost-client" || a == "--nic" || a == "--tap") {
      PortKind k = a == "--nic"     ? PortKind::Nic
                   : a == "--tap"   ? PortKind::Tap
                   : a == "--vhost" ? PortKind::Vhost
                                    : PortKind::VhostClient;
      c.ports.push_back(PortSpec{k, v, "", "", true});
    } else if (a == "--netns" || a == "--mtu" || a == "--queues") {
      if (!kernel_port_option(c, a, v, numeric ? &n : nullptr, error)) return std::nullopt;
    } else if (a == "--port-security" || a == "--mac" || a == "--allowed-ips") {
      PortSpec* p = need_port(a.c_str());
      if (!p || !security_option(*p, a, v, error)) return std::nullopt;
    } else if (a == "--tag" || a == "--trunks" || a == "--native-vlan") {
      PortSpec* p = need_port(a.c_str());
      if (!p || !vlan_option(*p, a, v, error)) return std::nullopt;
    } else if (a == "--socket-owner" || a == "--socket-group" || a == "--socket-mode") {
      if (!socket_option(c, a, v, error)) return std::nullopt;
    } else if (a == "--notify" || a == "--notify-gap-us") {
      if (!guest_port_option(c, a, v, numeric ? &n : nullptr, error)) return std::nullopt;
    } else if (a == "--name" || a == "--disable") {
      PortSpec* p = need_port(a.c_str());
      if (!p) return std::nullopt;
      (a == "--name" ? p->name : p->disable) = v;
    } else if (a == "--datapath-lcore") {
      if (!want_number(a)) return std::nullopt;
      c.datapath_lcore = int(n);
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
  if (!c.help && c.ports.empty()) {
    error = "no ports: add at least one --vhost, --vhost-client, --nic or --tap (see --help)";
    return std::nullopt;
  }
  for (PortSpec& p : c.ports) {
    settle_security(p);
    if (!check_vlan_config(p.vlan, error)) {
      error = "port " + p.target + ": " + error;
      return std::nullopt;
    }
  }
  return c;
}

}  // namespace vo::cli
