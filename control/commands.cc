#include "commands.h"

#include "control_socket.h"
#include "ports/tap/tap_port.h"
#include "ports/vhost/features.h"
#include "ports/vhost/vhost_port.h"
#include "ports/port_counters.h"

namespace vo::control {
namespace {

using json = nlohmann::ordered_json;

// A port in a line of `list`: what it is, whether it is up, its traffic.
json summary(const PortRegistry::Entry& e) {
  const PortStats s = e.port->stats_total();
  uint64_t rx_drops = 0, tx_drops = s.tx_dropped + s.tx_expired + s.too_big_dropped;
  for (size_t i = 1; i < kReasonCount; ++i) {
    rx_drops += s.rx_invalid.count[i];
    tx_drops += s.tx_invalid.count[i];
  }
  return {{"name", e.spec.name}, {"kind", kind_name(e.spec.kind)}, {"target", e.spec.target},
          {"up", e.port->ready()}, {"rx_packets", s.rx_packets}, {"tx_packets", s.tx_packets},
          {"rx_dropped", rx_drops + s.flood_dropped}, {"tx_dropped", tx_drops}};
}

json details(const PortRegistry::Entry& e) {
  json j = summary(e);
  j["words"] = e.spec.words;
  j["gro"] = e.port->gro_enabled();
  j["port_security"] = describe(e.spec.policy.security);
  j["vlans"] = describe(e.spec.policy.vlan);
  json counters = json::object();
  for_each_counter(e.port->stats_total(), [&](const char* n, uint64_t v) { counters[n] = v; });
  j["counters"] = counters;
  Port::Details d = e.port->details();
  json facts = json::object();
  for (const auto& [k, v] : d.text) facts[k] = v;
  for (const auto& [k, v] : d.numbers) facts[k] = v;
  j["details"] = facts;
  return j;
}

json add_port(PortRegistry& ports, const json& req) {
  if (!req.contains("args") || !req["args"].is_array())
    return failure("add-port needs \"args\": the port's options as on the command line");
  std::vector<std::string> words;
  for (const json& w : req["args"]) {
    if (!w.is_string()) return failure("add-port's \"args\" are strings");
    words.push_back(w.get<std::string>());
  }
  std::string error;
  auto spec = parse_port(words, error);
  if (!spec || !ports.add(*spec, error)) return failure(error);
  return {{"ok", true}, {"port", spec->name}};
}

const PortRegistry::Entry* named(PortRegistry& ports, const json& req, std::string& error) {
  if (!req.contains("name") || !req["name"].is_string()) {
    error = "give the port's \"name\"";
    return nullptr;
  }
  const PortRegistry::Entry* e = ports.find(req["name"].get<std::string>());
  if (!e) error = "no port named " + req["name"].get<std::string>() + " (vo-ctl list shows the ports)";
  return e;
}

// --no-gro, or "gro" in a NIC's or kernel port's --disable list.
bool merges(const PortSpec& p) {
  switch (p.kind) {
    case PortKind::Nic: return p.nic.gro;
    case PortKind::Tap: return p.tap.gro;
    default: return p.gro;
  }
}

// A port's --disable list changed to `next`'s: a guest's offer changes for
// its next negotiation, a kernel port's offloads at once, a NIC's device is
// started again with them. Appends what happened to `notes`.
bool change_offloads(PortRegistry& ports, PortRegistry::Entry& e, PortSpec& next, json& notes,
                     std::string& error) {
  if (auto* guest = dynamic_cast<vhost::VhostPort*>(e.port.get())) {
    if (!guest->set_disabled(next.vhost.disabled, error)) return false;
    notes.push_back("the guest sees the offloads offered now at its next negotiation (when it "
                    "reconnects or its driver resets the device)");
    return true;
  }
  if (auto* tap = dynamic_cast<TapPort*>(e.port.get())) {
    if (!tap->set_offloads(next.tap, error)) return false;
    notes.push_back("the kernel's offloads on " + next.target + " are " + tap->offloads() +
                    " now; what it no longer takes whole is cut by the switch from now on");
    return true;
  }
  Datapath::Removed removed;
  if (!ports.reopen(e.spec.name, next, removed, error)) return false;
  notes.push_back("the device was started again with the new offloads; " +
                  std::to_string(removed.queued) + " packets queued for it were dropped, and " +
                  "its addresses are learned again from its traffic");
  return true;
}

// Switches a port's offloads while it runs: --gro/--no-gro at once, --disable
// as change_offloads() says. Other options change what the port is: del-port
// and add-port.
json set_port(PortRegistry& ports, const json& req) {
  std::string error;
  if (!req.contains("name") || !req["name"].is_string() || !req.contains("args") ||
      !req["args"].is_array())
    return failure("set-port needs the port's \"name\" and \"args\", e.g. [\"--no-gro\"]");
  const std::string name = req["name"].get<std::string>();
  PortRegistry::Entry* e = ports.find(name);
  if (!e) return failure("no port named " + name + " (vo-ctl list shows the ports)");
  PortSpec next = e->spec;
  const json& args = req["args"];
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string opt = args[i].is_string() ? args[i].get<std::string>() : "";
    if (opt != "--gro" && opt != "--no-gro" && opt != "--disable")
      return failure("set-port changes --disable, --gro and --no-gro; for '" + opt +
                     "' remove the port and add it again");
    std::string value;
    if (takes_value(opt)) {
      if (i + 1 >= args.size() || !args[i + 1].is_string())
        return failure("option " + opt + " needs a value");
      value = args[++i].get<std::string>();
    }
    if (!apply_port_option(next, opt, value, error)) return failure(error);
  }
  if (!finish_port(next, error)) return failure(error);  // resolved for the port's kind
  json notes = json::array();
  if (next.disable != e->spec.disable) {
    if (!change_offloads(ports, *e, next, notes, error)) return failure(error);
    e = ports.find(name);  // a NIC's entry holds a new port
  }
  if (const bool gro = merges(next); gro != e->port->gro_enabled()) {
    e->port->set_gro_enabled(gro);
    notes.push_back(std::string("merging of what this port receives is ") + (gro ? "on" : "off") +
                    " now");
  }
  e->spec = std::move(next);
  return {{"ok", true}, {"port", e->spec.name}, {"notes", notes}};
}

// Each datapath thread's load and the receive queues it polls.
json queues(const Datapath& dp) {
  json threads = json::array();
  for (uint16_t t = 0; t < dp.threads(); ++t) {
    const Datapath::Load l = dp.load(t);
    const uint64_t all = l.busy_cycles + l.idle_cycles;
    threads.push_back({{"thread", t}, {"lcore", dp.lcore(t)}, {"busy_cycles", l.busy_cycles},
                       {"idle_cycles", l.idle_cycles}, {"packets", l.packets},
                       {"busy_share", all ? double(l.busy_cycles) / double(all) : 0.0}});
  }
  json rxqs = json::array();
  for (const RxqLoad& q : dp.rx_queues())
    rxqs.push_back({{"port", q.port}, {"queue", q.queue}, {"thread", q.thread},
                    {"active", q.active}, {"cycles", q.cycles}, {"packets", q.packets}});
  return {{"ok", true}, {"threads", threads}, {"queues", rxqs}};
}

}  // namespace

json handle_request(PortRegistry& ports, const json& req) {
  if (!req.is_object() || !req.contains("cmd") || !req["cmd"].is_string())
    return failure("a request is a JSON object with \"cmd\"");
  const std::string cmd = req["cmd"].get<std::string>();
  std::string error;
  if (cmd == "add-port") return add_port(ports, req);
  if (cmd == "set-port") return set_port(ports, req);
  if (cmd == "del-port") {
    const PortRegistry::Entry* e = named(ports, req, error);
    if (!e) return failure(error);
    Datapath::Removed removed;
    auto gone = ports.take(e->spec.name, /*retire=*/true, removed, error);
    if (!gone) return failure(error);
    json last = details(*gone);  // then closed: a guest disconnects, a device closes
    return {{"ok", true}, {"port", last}, {"freed_queued", removed.queued},
            {"freed_held", removed.held}};
  }
  if (cmd == "list") {
    json list = json::array();
    for (const auto& e : ports.entries()) list.push_back(summary(*e));
    return {{"ok", true}, {"ports", list}};
  }
  if (cmd == "show") {
    const PortRegistry::Entry* e = named(ports, req, error);
    if (!e) return failure(error);
    return {{"ok", true}, {"port", details(*e)}};
  }
  if (cmd == "queues") return queues(ports.datapath());
  if (cmd == "rebalance") {
    json moved = json::array();
    for (const RxqLoad& q : ports.datapath().rebalance())
      moved.push_back({{"port", q.port}, {"queue", q.queue}, {"thread", q.thread}, {"cycles", q.cycles}});
    json answer = queues(ports.datapath());
    answer["moved"] = moved;
    return answer;
  }
  return failure("unknown command '" + cmd +
                 "' (add-port, del-port, set-port, list, show, queues, rebalance)");
}

}  // namespace vo::control
