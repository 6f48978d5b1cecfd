#include "fuzz_chain.h"

#include <rte_mbuf.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

namespace vo::fuzz {
namespace {

std::atomic<int64_t> g_ext_live{0};

void ext_free(void* addr, void* opaque) {
  std::free(addr);
  std::free(opaque);
  g_ext_live--;
}

rte_mbuf* new_mbuf(rte_mempool* pool, const uint8_t* data, uint32_t n, bool external) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  VO_FUZZ_CHECK(m != nullptr);
  if (external) {
    void* buf = std::malloc(n ? n : 1);
    auto* sh = static_cast<rte_mbuf_ext_shared_info*>(std::malloc(sizeof(rte_mbuf_ext_shared_info)));
    VO_FUZZ_CHECK(buf != nullptr && sh != nullptr);
    sh->free_cb = ext_free;
    sh->fcb_opaque = sh;
    rte_mbuf_ext_refcnt_set(sh, 1);
    g_ext_live++;
    rte_pktmbuf_attach_extbuf(m, buf, 0, uint16_t(n), sh);
  }
  if (n > 0) {
    char* dst = rte_pktmbuf_append(m, uint16_t(n));
    VO_FUZZ_CHECK(dst != nullptr);
    std::memcpy(dst, data, n);
  }
  return m;
}

}  // namespace

rte_mbuf* build_chain(rte_mempool* pool, uint16_t room, const Bytes& f, ChainShape shape) {
  uint32_t first = shape.first ? shape.first : room;
  uint32_t later = shape.later ? shape.later : room;
  size_t size = f.size();
  first = uint32_t(std::min<size_t>(first, size));
  if (size > first) {
    size_t rest = size - first;
    later = std::max<uint32_t>(later, uint32_t((rest + kMaxChain - 2) / (kMaxChain - 1)));
    later = std::min<uint32_t>(later, room);
  }
  rte_mbuf* head = new_mbuf(pool, f.data(), first, shape.external);
  rte_mbuf* last = head;
  auto link = [&](rte_mbuf* m) {
    last->next = m;
    last = m;
    head->nb_segs++;
    head->pkt_len += m->data_len;
  };
  if (shape.empty_second) link(new_mbuf(pool, nullptr, 0, shape.external));
  for (size_t off = first; off < size;) {
    uint32_t n = uint32_t(std::min<size_t>(later, size - off));
    link(new_mbuf(pool, f.data() + off, n, shape.external));
    off += n;
  }
  return head;
}

int64_t external_buffers_live() { return g_ext_live.load(); }

Bytes flatten(const rte_mbuf* m) {
  Bytes b;
  for (; m != nullptr; m = m->next) {
    const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
    b.insert(b.end(), p, p + m->data_len);
  }
  return b;
}

bool chain_consistent(const rte_mbuf* m) {
  uint64_t sum = 0;
  uint32_t n = 0;
  for (const rte_mbuf* s = m; s != nullptr; s = s->next) {
    if (++n > m->nb_segs) return false;
    sum += s->data_len;
  }
  return sum == m->pkt_len && n == m->nb_segs;
}

}  // namespace vo::fuzz
