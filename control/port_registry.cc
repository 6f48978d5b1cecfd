#include "port_registry.h"

#include <algorithm>
#include <utility>

#include "log/log.h"

namespace vo::control {

PortRegistry::~PortRegistry() {
  while (!entries_.empty()) {
    std::string error;
    Datapath::Removed removed;
    take(entries_.back()->spec.name, /*retire=*/false, removed, error);  // the switch stops
  }
}

std::unique_ptr<Port> PortRegistry::open(const PortSpec& s, std::string& error) {
  switch (s.kind) {
    case PortKind::Nic:
      return NicPort::open(s.nic, pool_, error);
    case PortKind::Tap:
      if (!tap_readiness_ && !(tap_readiness_ = TapReadiness::create(error))) return nullptr;
      return TapPort::open(s.tap, pool_, tap_readiness_, error);
    default: {
      Datapath* dp = &dp_;
      auto port = vhost::VhostPort::create(s.vhost, pool_, [dp] { dp->quiesce(); }, error);
      if (port) port->set_gro_enabled(s.gro);
      return port;
    }
  }
}

bool PortRegistry::add(const PortSpec& spec, std::string& error) {
  for (const auto& e : entries_) {
    if (e->spec.name == spec.name) {
      error = "a port named " + spec.name + " exists already: give another --name";
      return false;
    }
    if (e->spec.target == spec.target) {
      error = spec.target + " is port " + e->spec.name + "'s already";
      return false;
    }
  }
  auto entry = std::make_unique<Entry>(Entry{spec, open(spec, error)});
  if (!entry->port) return false;
  if (!dp_.add_port(entry->port.get(), spec.policy, error)) return false;
  VO_LOG(INFO, "port %s added (%s %s)", spec.name.c_str(), kind_name(spec.kind),
         spec.target.c_str());
  if (spec.policy.security.enabled)
    VO_LOG(INFO, "port %s: port security: %s", spec.name.c_str(),
           describe(spec.policy.security).c_str());
  if (!spec.policy.vlan.is_default())
    VO_LOG(INFO, "port %s: VLANs: %s", spec.name.c_str(), describe(spec.policy.vlan).c_str());
  entries_.push_back(std::move(entry));
  return true;
}

std::unique_ptr<PortRegistry::Entry> PortRegistry::take(const std::string& name, bool retire,
                                                        Datapath::Removed& removed,
                                                        std::string& error) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if ((*it)->spec.name != name) continue;
    removed = dp_.remove_port((*it)->port.get());  // the datapath no longer touches it
    if (retire) (*it)->port->retire();
    std::unique_ptr<Entry> e = std::move(*it);
    entries_.erase(it);
    return e;
  }
  error = "no port named " + name + " (vo-ctl list shows the ports)";
  return nullptr;
}

bool PortRegistry::reopen(const std::string& name, const PortSpec& next,
                          Datapath::Removed& removed, std::string& error) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const auto& e) { return e->spec.name == name; });
  if (it == entries_.end()) {
    error = "no port named " + name + " (vo-ctl list shows the ports)";
    return false;
  }
  Entry& e = **it;
  removed = dp_.remove_port(e.port.get());
  e.port.reset();  // the device is free for the new one
  std::string why;
  for (const PortSpec* spec : {&next, static_cast<const PortSpec*>(&e.spec)}) {
    std::unique_ptr<Port> p = open(*spec, why);
    if (p && dp_.add_port(p.get(), spec->policy, why)) {
      e.port = std::move(p);
      if (spec == &next) {
        e.spec = next;
        return true;
      }
      error = "port " + name + " could not be opened as asked (" + why + "); it runs as before";
      return false;
    }
  }
  // Neither: no port is left to list.
  entries_.erase(it);
  error = "port " + name + " could not be opened again (" + why + ") and is gone: add it with "
          "add-port once the device is back";
  return false;
}

PortRegistry::Entry* PortRegistry::find(const std::string& name) {
  return const_cast<Entry*>(std::as_const(*this).find(name));
}

const PortRegistry::Entry* PortRegistry::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e->spec.name == name) return e.get();
  return nullptr;
}

}  // namespace vo::control
