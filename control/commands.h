// What the control socket's requests do (README, "Operating the switch"):
//   {"cmd": "add-port", "args": ["--vhost", "/run/vm3.sock", "--name", "vm3"]}
//   {"cmd": "del-port", "name": "vm3"}
//   {"cmd": "set-port", "name": "vm3", "args": ["--disable", "guest-tso", "--no-gro"]}
//   {"cmd": "list"}
//   {"cmd": "show", "name": "vm3"}
// Each answer has "ok"; a failed one an "error" a person can act on.
#pragma once

#include <nlohmann/json.hpp>

#include "port_registry.h"

namespace vo::control {

nlohmann::ordered_json handle_request(PortRegistry& ports, const nlohmann::ordered_json& request);

}  // namespace vo::control
