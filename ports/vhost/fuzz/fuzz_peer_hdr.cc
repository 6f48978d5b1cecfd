// libFuzzer target over how ports translate a peer's offload requests into
// the packet's metadata: a kernel port's virtio_net_hdr (metadata_from_hdr,
// ports/tap/virtio_net_hdr.cc) and a guest's header as librte_vhost hands it
// over (metadata_from_guest, ports/vhost/features.cc; both reach offload/metadata.cc).
//
// Input: [0..12) a virtio_net_hdr as the peer wrote it; [12] bytes in the
// first mbuf, [13] in later ones (0: as many as fit); [14] kExternal,
// kEmptySecond, and for the guest round extra ol_flags; [15] the guest's
// negotiated offloads (bit 0 CSUM, 1 HOST_TSO4, 2 HOST_TSO6, 3 HOST_ECN);
// then the frame.
//
// Invariants, for every packet a translation admits:
//   the chain and pkt_len are as the peer sent them;
//   a large segment has an MSS of at least kMinPeerMss, its headers in the
//   first mbuf, and more payload than one MSS; GSO cuts it (Attach mode)
//   into consistent chains whose payloads add up to the input's;
//   a partial checksum's field lies inside the packet, and finishing it
//   succeeds;
//   the header the kernel port would write for it (hdr_from_metadata) is
//   admitted again with the same metadata (what we send, we would take).
// Refused packets are freed by the caller. Memory: pools back to their
// baseline and every external buffer freed after each round.
#include <rte_mbuf.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "offload/fuzz/fuzz_chain.h"
#include "offload/gso.h"
#include "offload/metadata.h"
#include "offload/testing/eal_env.h"
#include "ports/vhost/features.h"
#include "ports/tap/virtio_net_hdr.h"

namespace vo::fuzz {
namespace {

#define CHECK VO_FUZZ_CHECK

constexpr size_t kHeaderLen = 16;
constexpr uint16_t kRoom = 2048;
constexpr uint16_t kOutCap = 1024;  // a 64 KB segment at the smallest MSS a peer may ask
constexpr uint8_t kExternal = 0x01, kEmptySecond = 0x02, kForceLro = 0x04, kForceCsumNone = 0x08;

struct Pools {
  testing::Pool* input;
  testing::Pool* header;
  testing::Pool* indirect;
  [[nodiscard]] std::vector<uint32_t> in_use() const {
    return {input->in_use(), header->in_use(), indirect->in_use()};
  }
};
Pools g;

// What we would send the kernel for `m` is what we would take from it.
void check_round_trip(const rte_mbuf* m) {
  VirtioNetHdr h = hdr_from_metadata(m);
  rte_mbuf* copy = build_chain(g.input->get(), kRoom, flatten(m), ChainShape{});
  CHECK(metadata_from_hdr(h, copy) == Reason::Ok);
  const uint64_t tx = RTE_MBUF_F_TX_OFFLOAD_MASK;
  CHECK((copy->ol_flags & tx) == (m->ol_flags & tx));
  CHECK(copy->tso_segsz == (is_large_segment(m) ? m->tso_segsz : 0));
  if (m->ol_flags & tx) CHECK(headers_len(copy) == headers_len(m));
  rte_pktmbuf_free(copy);
}

void cut(rte_mbuf* m) {
  const uint32_t hdr = headers_len(m);
  CHECK(m->tso_segsz >= kMinPeerMss);
  CHECK(hdr <= m->data_len);
  CHECK(hdr + m->tso_segsz < m->pkt_len);
  std::vector<rte_mbuf*> out(kOutCap);
  GsoConfig cfg{g.header->get(), g.indirect->get(), ChecksumMode::Full, PayloadMode::Attach};
  const uint32_t payload = m->pkt_len - hdr;
  GsoResult r = gso_segment(cfg, m, out.data(), kOutCap);
  CHECK(r.reason == Reason::Ok);
  uint32_t sum = 0;
  for (uint16_t i = 0; i < r.segments; ++i) {
    CHECK(chain_consistent(out[i]));
    CHECK(out[i]->pkt_len > hdr && out[i]->pkt_len - hdr <= m->tso_segsz);
    sum += out[i]->pkt_len - hdr;
  }
  CHECK(sum == payload);
  rte_pktmbuf_free_bulk(out.data(), r.segments);
}

// Checks an admitted packet, then frees it.
void check_admitted(rte_mbuf* m, uint32_t sent_len) {
  CHECK(chain_consistent(m));
  CHECK(m->pkt_len == sent_len);
  check_round_trip(m);
  if (is_large_segment(m)) {
    cut(m);
    return;
  }
  if (has_partial_checksum(m)) {
    uint32_t start = l4_offset(m);
    CHECK(start + 8 <= m->pkt_len);  // UDP's checksum field at the least
    CHECK(finish_checksum(m) == Reason::Ok);
  }
  rte_pktmbuf_free(m);
}

void kernel_round(const VirtioNetHdr& h, const Bytes& frame, ChainShape shape) {
  rte_mbuf* m = build_chain(g.input->get(), kRoom, frame, shape);
  if (metadata_from_hdr(h, m) == Reason::Ok)
    check_admitted(m, uint32_t(frame.size()));
  else
    rte_pktmbuf_free(m);
}

// The metadata librte_vhost (compliant mode) sets from a guest's header.
void guest_round(const VirtioNetHdr& h, const Bytes& frame, ChainShape shape, uint8_t flags,
                 uint8_t offloads) {
  rte_mbuf* m = build_chain(g.input->get(), kRoom, frame, shape);
  if (h.gso_kind() != VirtioNetHdr::kGsoNone || (flags & kForceLro)) {
    m->ol_flags |= RTE_MBUF_F_RX_LRO;
    m->tso_segsz = h.gso_size.get();
  }
  if (h.needs_csum() || (flags & kForceCsumNone)) m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_NONE;
  uint64_t features = 0;
  const uint8_t bits[] = {vhost::kCsum, vhost::kHostTso4, vhost::kHostTso6, vhost::kHostEcn};
  for (int i = 0; i < 4; ++i)
    if (offloads & (1u << i)) features |= vhost::bit(bits[i]);
  if (vhost::metadata_from_guest(features, m) == Reason::Ok)
    check_admitted(m, uint32_t(frame.size()));
  else
    rte_pktmbuf_free(m);
}

void expect_baseline(const std::vector<uint32_t>& baseline, const char* round) {
  if (g.in_use() == baseline && external_buffers_live() == 0) return;
  std::vector<uint32_t> now = g.in_use();
  std::fprintf(stderr, "fuzz: leak after the %s round: in_use input %u->%u header %u->%u "
               "indirect %u->%u, external buffers live %lld\n", round, baseline[0], now[0],
               baseline[1], now[1], baseline[2], now[2], (long long)external_buffers_live());
  std::abort();
}

}  // namespace
}  // namespace vo::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using vo::testing::Pool;
  vo::testing::ensure_eal();
  // Never freed: they live as long as the process.
  vo::fuzz::g.input = new Pool("fp_in", 4096, RTE_PKTMBUF_HEADROOM + vo::fuzz::kRoom);
  vo::fuzz::g.header = new Pool("fp_hdr", 4096, RTE_MBUF_DEFAULT_BUF_SIZE);
  vo::fuzz::g.indirect = new Pool("fp_ind", 8192, 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vo::fuzz;
  if (size < kHeaderLen + 14 || size > kHeaderLen + vo::kMaxGsoPacketLen + 64) return -1;
  vo::VirtioNetHdr h;
  std::memcpy(&h, data, sizeof(h));
  ChainShape shape{data[12], data[13], bool(data[14] & kExternal), bool(data[14] & kEmptySecond)};
  Bytes frame(data + kHeaderLen, data + size);
  const std::vector<uint32_t> baseline = g.in_use();
  kernel_round(h, frame, shape);
  expect_baseline(baseline, "kernel port");
  guest_round(h, frame, shape, data[14], data[15]);
  expect_baseline(baseline, "guest port");
  return 0;
}
