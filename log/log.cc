#include "log.h"

namespace vo {

int log_type() {
  static int type = [] {
    int t = rte_log_register_type_and_pick_level("vhost_offload", RTE_LOG_INFO);
    return t < 0 ? int(RTE_LOGTYPE_USER1) : t;
  }();
  return type;
}

}  // namespace vo
