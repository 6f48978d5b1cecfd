#include "port_spec.h"

#include <charconv>
#include <cstring>

#include "ports/vhost/features.h"

namespace vo::control {
namespace {

bool is_guest(PortKind k) { return k == PortKind::Vhost || k == PortKind::VhostClient; }

// --netns, --mtu, --queues (a NIC's and a guest port's too).
bool kernel_port_option(PortSpec& p, const std::string& opt, const std::string& v,
                        std::string& error) {
  if (p.kind != PortKind::Tap && opt != "--queues") {
    error = opt + " applies to a kernel port only: put it after the --tap it belongs to";
    return false;
  }
  if (opt == "--netns") {
    p.tap.netns = v;
    return true;
  }
  uint32_t n = 0;
  if (!parse_whole_number(v, n)) {
    error = "option " + opt + " takes a whole number, not '" + v + "'";
    return false;
  }
  if (opt == "--mtu" && (n < 68 || n > 65535)) {
    error = "--mtu " + v + " is out of range: a TAP takes 68 to 65535";
    return false;
  }
  if (opt == "--queues" && (n < 1 || n > vhost::kMaxQueuePairs)) {
    error = "--queues " + v + " is out of range: give 1 to " + std::to_string(vhost::kMaxQueuePairs);
    return false;
  }
  if (opt == "--mtu")
    p.tap.mtu = n;
  else if (is_guest(p.kind))
    p.vhost.max_queue_pairs = uint16_t(n);
  else if (p.kind == PortKind::Nic)
    p.nic.queues = uint16_t(n);
  else
    p.tap.queues = uint16_t(n);
  return true;
}

// --socket-owner, --socket-group, --socket-mode.
bool socket_option(PortSpec& p, const std::string& opt, const std::string& v, std::string& error) {
  if (p.kind != PortKind::Vhost) {
    error = opt + " applies to a socket the switch serves: put it after its --vhost (with "
                  "--vhost-client QEMU owns the socket)";
    return false;
  }
  vhost::SocketAccess& a = p.vhost.access;
  if (opt == "--socket-owner")
    a.owner = v;
  else if (opt == "--socket-group")
    a.group = v;
  else if (!vhost::parse_socket_mode(v.c_str(), a.mode)) {
    error = "--socket-mode takes octal permission bits such as 0660, not '" + v + "'";
    return false;
  }
  return true;
}

// --notify, --notify-gap-us.
bool guest_port_option(PortSpec& p, const std::string& opt, const std::string& v,
                       std::string& error) {
  if (!is_guest(p.kind)) {
    error = opt + " applies to a guest port only: put it after the --vhost or --vhost-client "
                  "it belongs to";
    return false;
  }
  vhost::NotifyConfig& notify = p.vhost.notify;
  if (opt == "--notify") {
    if (vhost::parse_notify_policy(v.c_str(), notify.policy)) return true;
    error = "--notify takes library or coalesce, not '" + v + "'";
    return false;
  }
  uint32_t n = 0;
  if (!parse_whole_number(v, n)) {
    error = "option " + opt + " takes a whole number, not '" + v + "'";
    return false;
  }
  if (n > 10000) {
    error = "--notify-gap-us " + v + " is out of range: give 0 to 10000";
    return false;
  }
  notify.gap_us = n;
  return true;
}

// --port-security, --mac, --allowed-ips.
bool security_option(PortSpec& p, const std::string& opt, const std::string& v,
                     std::string& error) {
  if (opt == "--port-security") {
    if (v != "on" && v != "off") {
      error = "--port-security takes on or off, not '" + v + "'";
      return false;
    }
    p.security_asked = v == "on";
    return true;
  }
  bool ok = true;
  if (opt == "--mac") {
    MacAddr m;
    if ((ok = parse_mac(v, m, error))) p.policy.security.mac = m;
  } else {
    ok = parse_ip_list(v, p.policy.security, error);
  }
  if (!ok) error = opt + ": " + error;
  return ok;
}

// --tag, --trunks, --native-vlan; checked together by finish_port().
bool vlan_option(PortSpec& p, const std::string& opt, const std::string& v, std::string& error) {
  PortVlanConfig& vlan = p.policy.vlan;
  if (opt == "--trunks") {
    if (parse_vlan_list(v, vlan.trunks, error)) return true;
    error = "--trunks: " + error;
    return false;
  }
  std::vector<uint16_t> one;
  if (!parse_vlan_list(v, one, error) || one.size() != 1) {
    error = opt + " takes one VLAN ID (1 to 4094), not '" + v + "'";
    return false;
  }
  (opt == "--tag" ? vlan.tag : vlan.native) = one[0];
  return true;
}

// Calls f(item) for each item of a comma-separated list; stops at the first false.
template <typename F>
bool each_item(const std::string& list, F f) {
  for (size_t pos = 0; pos < list.size();) {
    size_t comma = std::min(list.find(',', pos), list.size());
    std::string item = list.substr(pos, comma - pos);
    pos = comma + 1;
    if (!item.empty() && !f(item)) return false;
  }
  return true;
}

bool resolve_nic(PortSpec& p, std::string& error) {
  NicOptions& o = p.nic;
  o.devargs = p.target;
  o.name = p.name;
  o.gro = p.gro;
  o.tso = o.csum = true;  // then the list, which may have changed since (set-port)
  return each_item(p.disable, [&](const std::string& item) {
    if (item == "tso") o.tso = false;
    else if (item == "csum") o.csum = false, o.tso = false;  // TSO needs checksum offload
    else if (item == "gro") o.gro = false;
    else {
      error = "unknown offload '" + item + "' for uplink " + p.target + " (known: tso, csum, gro)";
      return false;
    }
    return true;
  });
}

bool resolve_tap(PortSpec& p, std::string& error) {
  TapOptions& o = p.tap;
  o.ifname = p.target;
  o.name = p.name;
  o.gro = p.gro;
  o.persist = true;  // outlives a restart; del-port deletes it
  o.csum = o.tso4 = o.tso6 = o.ecn = true;  // then the list (set-port may have changed it)
  return each_item(p.disable, [&](const std::string& item) {
    if (item == "tso4") o.tso4 = false;
    else if (item == "tso6") o.tso6 = false;
    else if (item == "tso") o.tso4 = o.tso6 = false;
    else if (item == "csum") o.csum = false;  // TUN_F_TSO* need TUN_F_CSUM
    else if (item == "ecn") o.ecn = false;
    else if (item == "gro") o.gro = false;
    else {
      error = "unknown offload '" + item + "' for kernel port " + p.target +
              " (known: tso4, tso6, tso, csum, ecn, gro)";
      return false;
    }
    return true;
  });
}

bool resolve_vhost(PortSpec& p, std::string& error) {
  vhost::VhostOptions& o = p.vhost;
  o.path = p.target;
  o.name = p.name;
  o.client = p.kind == PortKind::VhostClient;
  auto disabled = vhost::parse_disabled(p.disable, error);
  if (!disabled) return false;
  o.disabled = *disabled;
  return true;
}

// The name a port gets when none is given: the socket's file name, the
// device's or the TAP's.
std::string default_name(const PortSpec& p) {
  if (!is_guest(p.kind)) return p.target.substr(0, p.target.find(','));
  size_t slash = p.target.rfind('/');
  return slash == std::string::npos ? p.target : p.target.substr(slash + 1);
}

}  // namespace

bool parse_whole_number(const std::string& s, uint32_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

const char* kind_name(PortKind k) {
  switch (k) {
    case PortKind::Vhost: return "vhost";
    case PortKind::VhostClient: return "vhost-client";
    case PortKind::Nic: return "nic";
    case PortKind::Tap: return "tap";
  }
  return "?";
}

bool starts_port(const std::string& opt) {
  return opt == "--vhost" || opt == "--vhost-client" || opt == "--nic" || opt == "--tap";
}

bool is_port_option(const std::string& opt) {
  static const char* const kOptions[] = {
      "--name", "--disable", "--no-gro", "--gro", "--netns", "--mtu", "--queues", "--notify",
      "--notify-gap-us", "--socket-owner", "--socket-group", "--socket-mode", "--port-security",
      "--mac", "--allowed-ips", "--tag", "--trunks", "--native-vlan"};
  for (const char* o : kOptions)
    if (opt == o) return true;
  return false;
}

bool takes_value(const std::string& opt) { return opt != "--no-gro" && opt != "--gro"; }

PortSpec start_port(const std::string& opt, const std::string& target) {
  PortSpec p;
  p.kind = opt == "--nic"     ? PortKind::Nic
           : opt == "--tap"   ? PortKind::Tap
           : opt == "--vhost" ? PortKind::Vhost
                              : PortKind::VhostClient;
  p.target = target;
  p.words = {opt, target};
  return p;
}

bool apply_port_option(PortSpec& p, const std::string& opt, const std::string& v,
                       std::string& error) {
  p.words.push_back(opt);
  if (takes_value(opt)) p.words.push_back(v);
  if (opt == "--no-gro" || opt == "--gro") {
    p.gro = opt == "--gro";
    return true;
  }
  if (opt == "--name" || opt == "--disable") {
    (opt == "--name" ? p.name : p.disable) = v;
    return true;
  }
  if (opt == "--netns" || opt == "--mtu" || opt == "--queues")
    return kernel_port_option(p, opt, v, error);
  if (opt == "--socket-owner" || opt == "--socket-group" || opt == "--socket-mode")
    return socket_option(p, opt, v, error);
  if (opt == "--notify" || opt == "--notify-gap-us") return guest_port_option(p, opt, v, error);
  if (opt == "--port-security" || opt == "--mac" || opt == "--allowed-ips")
    return security_option(p, opt, v, error);
  if (opt == "--tag" || opt == "--trunks" || opt == "--native-vlan")
    return vlan_option(p, opt, v, error);
  error = "unknown port option " + opt + " (see --help)";
  return false;
}

bool finish_port(PortSpec& p, std::string& error) {
  if (p.name.empty()) p.name = default_name(p);
  // Port security is on for guest ports unless switched off, and for others
  // when asked for or given addresses to hold them to.
  PortSecurityConfig& sec = p.policy.security;
  bool addresses = sec.mac || !sec.ipv4.empty() || !sec.ipv6.empty();
  sec.enabled = p.security_asked.value_or(is_guest(p.kind) || addresses);
  if (!check_vlan_config(p.policy.vlan, error)) {
    error = "port " + p.target + ": " + error;
    return false;
  }
  switch (p.kind) {
    case PortKind::Nic: return resolve_nic(p, error);
    case PortKind::Tap: return resolve_tap(p, error);
    default: return resolve_vhost(p, error);
  }
}

std::optional<PortSpec> parse_port(const std::vector<std::string>& words, std::string& error) {
  if (words.size() < 2 || !starts_port(words[0])) {
    error = "a port starts with --vhost PATH, --vhost-client PATH, --nic DEVARGS or --tap NAME";
    return std::nullopt;
  }
  PortSpec p = start_port(words[0], words[1]);
  for (size_t i = 2; i < words.size(); ++i) {
    const std::string& opt = words[i];
    if (starts_port(opt)) {
      error = "one port at a time: " + opt + " starts another";
      return std::nullopt;
    }
    if (!is_port_option(opt)) {
      error = "unknown port option " + opt;
      return std::nullopt;
    }
    std::string value;
    if (takes_value(opt)) {
      if (i + 1 >= words.size()) {
        error = "option " + opt + " needs a value";
        return std::nullopt;
      }
      value = words[++i];
    }
    if (!apply_port_option(p, opt, value, error)) return std::nullopt;
  }
  if (!finish_port(p, error)) return std::nullopt;
  return p;
}

std::string port_help() {
  return R"(Ports (here, or later with tools/vo-ctl add-port; the switch learns MACs across all):
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
  --no-gro                do not merge segments received on this port (--gro: do)
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
                          have been created multi_queue), default 1.
                          NIC: N receive queues (RSS where the device has it) and
                          as many transmit queues, default 1.
                          guest port: the queue pairs the guest may use (1..16,
                          default 16; 1 withdraws VIRTIO_NET_F_MQ); every ready pair
                          is polled, and flows to the guest spread over its
                          receive queues by a flow hash
)";
}

}  // namespace vo::control
