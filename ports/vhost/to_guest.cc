#include "to_guest.h"

#include <rte_mbuf.h>

namespace vo::vhost {

void fold_tunnel_headers(rte_mbuf* m) {
  if (!(m->ol_flags & RTE_MBUF_F_TX_TUNNEL_MASK)) return;
  // DPDK's tunnel convention: l2_len spans outer UDP + VXLAN + inner
  // Ethernet, and the outer Ethernet and IP lengths come before it.
  m->l2_len += m->outer_l2_len + m->outer_l3_len;
  m->outer_l2_len = 0;
  m->outer_l3_len = 0;
  m->ol_flags &= ~(RTE_MBUF_F_TX_TUNNEL_MASK | RTE_MBUF_F_TX_OUTER_IPV4 | RTE_MBUF_F_TX_OUTER_IPV6 |
                   RTE_MBUF_F_TX_OUTER_IP_CKSUM | RTE_MBUF_F_TX_OUTER_UDP_CKSUM);
}

}  // namespace vo::vhost
