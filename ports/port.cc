#include "port.h"

#include <rte_mbuf.h>

#include <string>

#include "log/log.h"
#include "offload/metadata.h"

namespace vo {

bool Port::admit_rx(rte_mbuf* m, Reason r, const char* source, const char* detail) {
  stats.rx_packets++;
  stats.rx_bytes += m->pkt_len;
  if (r != Reason::Ok) {
    stats.rx_invalid.add(r);
    VO_LOG_RL(WARNING, "port %s: dropped a packet from the %s: %s%s", name_.c_str(), source,
              std::string(describe(r)).c_str(), detail);
    rte_pktmbuf_free(m);
    return false;
  }
  if (is_large_segment(m)) stats.rx_large++;
  return true;
}

}  // namespace vo
