#pragma once

#include <rte_mbuf.h>

namespace vo {

template <typename H>
H* header_at(rte_mbuf* m, uint32_t off) {
  return rte_pktmbuf_mtod_offset(m, H*, off);
}

template <typename H>
const H* header_at(const rte_mbuf* m, uint32_t off) {
  return rte_pktmbuf_mtod_offset(m, const H*, off);
}

}  // namespace vo
