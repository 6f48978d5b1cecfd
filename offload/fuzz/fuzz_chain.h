// Packets for fuzz targets: a frame laid out in an mbuf chain of the input's
// choosing, with each mbuf's bytes optionally in its own exactly sized
// malloc'd buffer, so that ASan sees a read past what an mbuf holds (mempool
// memory is invisible to it). Shared by every fuzz target.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

struct rte_mbuf;
struct rte_mempool;

namespace vo::fuzz {

using Bytes = std::vector<uint8_t>;

#define VO_FUZZ_CHECK(cond)                                                          \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "fuzz: invariant failed at %s:%d: %s\n", __FILE__, __LINE__, \
                   #cond);                                                           \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

struct ChainShape {
  uint32_t first = 0;   // bytes in the first mbuf; 0: as many as fit
  uint32_t later = 0;   // bytes in each later mbuf; 0: as many as fit
  bool external = false;
  bool empty_second = false;  // an empty mbuf after the first
};

// `f` in a chain from `pool` (whose mbufs hold `room` bytes), at most
// kMaxChain mbufs long: later mbufs grow when the frame needs it.
rte_mbuf* build_chain(rte_mempool* pool, uint16_t room, const Bytes& f, ChainShape shape);
constexpr uint32_t kMaxChain = 1024;

// External buffers not freed yet: 0 between rounds, or a leak.
int64_t external_buffers_live();

Bytes flatten(const rte_mbuf* m);

// pkt_len is the sum of the data_len and nb_segs the length of the chain.
bool chain_consistent(const rte_mbuf* m);

}  // namespace vo::fuzz
