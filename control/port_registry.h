// The switch's ports as the control layer knows them: each with the
// description it was made from, opened from that description and handed to
// the datapath, removed from the datapath before it is closed. Used by the
// daemon at start and by the control socket at run time, from one thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "port_spec.h"

struct rte_mempool;

namespace vo::control {

class PortRegistry {
 public:
  struct Entry {
    PortSpec spec;
    std::unique_ptr<Port> port;
  };

  PortRegistry(Datapath& dp, rte_mempool* pool) : dp_(dp), pool_(pool) {}
  ~PortRegistry();  // removes every port from the datapath, then closes it

  // Opens the port `spec` describes and hands it to the datapath. False, with
  // `error` saying what to do, when its name or target is taken or it cannot
  // be opened (a socket path in use, a device missing...).
  bool add(const PortSpec& spec, std::string& error);
  // Takes the port out of the datapath (what it held for the port is freed,
  // and said in `removed`) and hands it back, still open, for a last look at
  // its statistics; nullptr when no port has that name. `retire`: the
  // operator deletes it, and what outlives the switch goes too (Port::retire).
  std::unique_ptr<Entry> take(const std::string& name, bool retire, Datapath::Removed& removed,
                              std::string& error);
  // Closes port `name` and opens it again as `next` says, in its place (a
  // NIC's offloads are set when its device starts). What the datapath held
  // for it is freed, said in `removed`. When `next` cannot be opened, the
  // port is opened again as it was and `error` says why (if that fails too,
  // the port is gone).
  bool reopen(const std::string& name, const PortSpec& next, Datapath::Removed& removed,
              std::string& error);
  [[nodiscard]] const Entry* find(const std::string& name) const;
  [[nodiscard]] Entry* find(const std::string& name);
  [[nodiscard]] const std::vector<std::unique_ptr<Entry>>& entries() const { return entries_; }
  [[nodiscard]] Datapath& datapath() { return dp_; }

 private:
  std::unique_ptr<Port> open(const PortSpec& spec, std::string& error);

  Datapath& dp_;
  rte_mempool* pool_;
  std::shared_ptr<TapReadiness> tap_readiness_;  // shared by every kernel port
  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace vo::control
