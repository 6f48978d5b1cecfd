// libFuzzer target over the offload engine: parse(), gso_segment() in both
// payload modes, and a GroTable fed with what GSO produced (or refused).
//
// The input's first bytes choose the MSS, how the frame is laid out in mbufs,
// the checksum mode and some metadata (fuzz_input.h); the rest is the frame.
// Per payload mode the target builds the mbuf chain, runs the engine, checks
// the invariants below, frees everything, and aborts if any pool (or external
// buffer) is not back where it started.
//
// Invariants:
//   parse:  an exact-length parse that succeeds also succeeds with padding allowed,
//           with the same layout.
//   GSO Ok: 2..out_cap segments, the rest of `out` untouched; every segment a
//           consistent chain (pkt_len = sum of data_len, nb_segs = length) that
//           parses exactly with the input's header length; payload <= MSS (= MSS
//           but the last); sequence numbers advance by MSS; payloads concatenate
//           to the input's; IPv4 header, TCP and (set) outer UDP checksums verify
//           (or TCP holds the pseudo-header sum in PseudoForNic mode).
//   GSO refusal: no segment, `out` untouched, the input's bytes and metadata
//           unchanged; the reason is parse()'s when parse() refused the packet.
//           GRO then gets the input (and, with kGroFollowUp, a copy carrying the
//           next sequence number, so that odd inputs get merged too). GRO's
//           inputs may first be spread over several interleaved flows,
//           reordered, and have a header bit flipped (kGroManyFlows, kGroShuffle,
//           kGroPerturb).
//   GRO:    every packet in comes out exactly once, merged or not: emitted +
//           absorbed = packets in; no packet emitted twice; every output a
//           consistent chain; TCP payload bytes (count and byte sum) conserved;
//           a merged packet's chain ends exactly at its IP datagram's end.
//   Memory: every pool's in_use() back to its baseline, every external buffer freed.
//
// External buffers (kExternalBufs) put each mbuf's bytes in their own exactly
// sized malloc'd buffer, so ASan sees any read past the data the mbuf holds;
// mempool memory itself is invisible to ASan.
#include <rte_mbuf.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "offload/fuzz/fuzz_chain.h"
#include "offload/fuzz/fuzz_input.h"
#include "offload/gro.h"
#include "offload/gso.h"
#include "offload/headers.h"
#include "offload/parse.h"
#include "offload/testing/eal_env.h"

namespace vo::fuzz {
namespace {

#define CHECK VO_FUZZ_CHECK



constexpr uint16_t kInputRoom = 2048;

struct Pools {
  testing::Pool* input;
  testing::Pool* header;
  testing::Pool* header_tiny;
  testing::Pool* indirect;
  [[nodiscard]] std::vector<uint32_t> in_use() const {
    return {input->in_use(), header->in_use(), header_tiny->in_use(), indirect->in_use()};
  }
};
Pools g;
bool g_trace = false;  // VO_FUZZ_TRACE=1: one line per round on stderr (for seeds and repros)

// ---------------------------------------------------------------------------
// Building the input.

Bytes make_frame(const Params& p, const uint8_t* data, size_t size) {
  Bytes f(data, data + size);
  uint32_t grow = uint32_t(p.grow_units) * kGrowUnit;
  if (grow == 0) return f;
  size_t orig = f.size();
  f.reserve(orig + grow);
  for (uint32_t i = 0; i < grow; ++i) f.push_back(grow_byte(i));
  if (p.flags_c & kGrowFixLengths) {
    for (uint16_t off : p.fix_off) {
      if (off == kNoFix || size_t(off) + 1 >= orig) continue;
      uint16_t v = uint16_t((f[off] << 8 | f[off + 1]) + grow);
      f[off] = uint8_t(v >> 8);
      f[off + 1] = uint8_t(v);
    }
  }
  return f;
}

rte_mbuf* build_input(const Params& p, const Bytes& f) {
  ChainShape shape{p.first_seg, p.later_seg, bool(p.flags_a & kExternalBufs),
                   bool(p.flags_a & kEmptyMbuf)};
  rte_mbuf* head = build_chain(g.input->get(), kInputRoom, f, shape);

  // |=: attach_extbuf set RTE_MBUF_F_EXTERNAL, which must stay.
  head->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
  if (!(p.flags_a & kClearTso)) head->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
  if (p.flags_a & kVlanStripped) {
    head->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
    head->vlan_tci = uint16_t(0x0100 | p.reserved);
  }
  head->tso_segsz = p.mss;
  head->l2_len = 14;
  head->l3_len = 20;
  head->l4_len = 20;
  if (p.flags_a & kPktLenLie) head->pkt_len += (p.flags_a & kPktLenLieDown) ? -1u : 1u;
  return head;
}

// Undoes the metadata lie before the chain is freed.
void restore_pkt_len(rte_mbuf* m) {
  uint32_t sum = 0;
  for (rte_mbuf* s = m; s != nullptr; s = s->next) sum += s->data_len;
  m->pkt_len = sum;
}

// ---------------------------------------------------------------------------
// Looking at packets.

struct Snapshot {
  Bytes bytes;
  uint32_t pkt_len;
  uint16_t nb_segs;
  uint64_t ol_flags;
  uint64_t tx_offload;
  std::vector<const rte_mbuf*> chain;
  std::vector<uint32_t> seg_meta;  // data_len << 16 | data_off
  std::vector<uint16_t> refcnt;

  static Snapshot of(const rte_mbuf* m) {
    Snapshot s{flatten(m), m->pkt_len, m->nb_segs, m->ol_flags, m->tx_offload};
    for (const rte_mbuf* x = m; x != nullptr; x = x->next) {
      s.chain.push_back(x);
      s.seg_meta.push_back(uint32_t(x->data_len) << 16 | x->data_off);
      s.refcnt.push_back(RTE_MBUF_HAS_EXTBUF(x) ? rte_mbuf_ext_refcnt_read(x->shinfo)
                                                : rte_mbuf_refcnt_read(x));
    }
    return s;
  }
  bool operator==(const Snapshot&) const = default;
};

// RFC 1071 over bytes, folded, not complemented: shares nothing with the engine.
uint32_t naive_sum(const uint8_t* p, size_t n, uint64_t s = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) s += uint32_t(p[n - 1] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint32_t(s);
}

uint32_t pseudo_sum(const Bytes& f, IpVer ver, uint32_t l3_off, uint8_t proto, uint32_t len) {
  uint32_t s = ver == IpVer::V4 ? naive_sum(&f[l3_off + 12], 8) : naive_sum(&f[l3_off + 8], 32);
  return s + proto + (len >> 16) + (len & 0xffff);
}

uint16_t get16(const Bytes& f, size_t off) { return uint16_t(f[off] << 8 | f[off + 1]); }
uint32_t get32(const Bytes& f, size_t off) { return uint32_t(get16(f, off)) << 16 | get16(f, off + 2); }

uint64_t byte_sum(const Bytes& b, size_t from, size_t to) {
  uint64_t s = 0;
  for (size_t i = from; i < to; ++i) s += b[i];
  return s;
}

// ---------------------------------------------------------------------------
// GSO.

void check_segments(const Params& p, ChecksumMode cm, const Layout& in_layout, const Bytes& in_bytes,
                    rte_mbuf* const* segs, uint16_t n) {
  Bytes payload;
  uint32_t seq0 = get32(in_bytes, in_layout.l4_off + 4);
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* s = segs[i];
    CHECK(s != nullptr);
    CHECK(chain_consistent(s));
    CHECK(!(s->ol_flags & RTE_MBUF_F_TX_TCP_SEG));
    Layout l;
    CHECK(parse(s, l, ParseOptions{.exact_length = true}) == Reason::Ok);
    CHECK(l.header_len() == in_layout.header_len());
    CHECK(l.tunnel == in_layout.tunnel && l.ip == in_layout.ip);
    uint32_t len = l.payload_len();
    CHECK(len > 0 && len <= p.mss);
    if (i + 1 < n) CHECK(len == p.mss);
    Bytes f = flatten(s);
    CHECK(get32(f, l.l4_off + 4) == seq0 + uint32_t(i) * p.mss);
    payload.insert(payload.end(), f.begin() + l.header_len(), f.begin() + l.ip_end);

    if (l.ip == IpVer::V4) CHECK(naive_sum(&f[l.l3_off], l.l3_len) == 0xffff);
    if (l.tunnel && l.outer_ip == IpVer::V4)
      CHECK(naive_sum(&f[l.outer_l3_off], l.outer_l3_len) == 0xffff);
    bool outer_csum = l.tunnel && get16(f, l.outer_l4_off + 6) != 0;
    uint32_t tcp_len = l.ip_end - l.l4_off;
    uint32_t ps = pseudo_sum(f, l.ip, l.l3_off, kIpProtoTcp, tcp_len);
    if (cm == ChecksumMode::Full || outer_csum) {
      CHECK(naive_sum(&f[l.l4_off], tcp_len, ps) == 0xffff);
    } else {
      CHECK(get16(f, l.l4_off + 16) == naive_sum(nullptr, 0, ps));
    }
    if (outer_csum) {
      uint32_t udp_len = l.outer_ip_end - l.outer_l4_off;
      CHECK(get16(f, l.outer_l4_off + 4) == udp_len);
      uint32_t ops = pseudo_sum(f, l.outer_ip, l.outer_l3_off, kIpProtoUdp, udp_len);
      CHECK(naive_sum(&f[l.outer_l4_off], udp_len, ops) == 0xffff);
    }
  }
  CHECK(payload.size() == in_layout.payload_len());
  CHECK(std::equal(payload.begin(), payload.end(), in_bytes.begin() + in_layout.header_len()));
}

// ---------------------------------------------------------------------------
// GRO.

struct PayloadTally {
  uint64_t bytes = 0;
  uint64_t byte_sum = 0;
  uint32_t unparsed = 0;
  void add(const rte_mbuf* m) {
    Layout l;
    if (parse(m, l) != Reason::Ok) {
      ++unparsed;
      return;
    }
    Bytes f = flatten(m);
    bytes += l.payload_len();
    byte_sum += fuzz::byte_sum(f, l.header_len(), l.ip_end);
  }
  bool operator==(const PayloadTally&) const = default;
};

// Several interleaved flows, reordering and odd segments, so that GRO's table fills,
// collides, deletes and sees segments out of order.
void mix_gro_inputs(const Params& p, std::vector<rte_mbuf*>& inputs) {
  size_t n = inputs.size();
  if ((p.flags_c & kGroManyFlows) && n > 1) {
    // Contiguous runs of inputs become flows (source port + run), then the
    // runs are interleaved round robin: every flow still in order.
    size_t flows = std::min<size_t>(1 + (p.reserved & 7), n);
    size_t run = (n + flows - 1) / flows;
    for (size_t i = 0; i < n; ++i) {
      Layout l;
      rte_mbuf* m = inputs[i];
      if (parse(m, l) != Reason::Ok) continue;
      auto* port = rte_pktmbuf_mtod_offset(m, uint8_t*, l.l4_off);  // in the first mbuf
      uint16_t v = uint16_t((port[0] << 8 | port[1]) + i / run);
      port[0] = uint8_t(v >> 8);
      port[1] = uint8_t(v);
    }
    std::vector<rte_mbuf*> mixed;
    for (size_t k = 0; k < run; ++k)
      for (size_t f = 0; f < flows; ++f)
        if (f * run + k < n) mixed.push_back(inputs[f * run + k]);
    inputs.swap(mixed);
  }
  if (p.flags_c & kGroPerturb) {
    // Segments that differ from their flow (ACK, options, TTL, ID...) or no
    // longer parse.
    for (size_t i = 2; i < n; i += 3) {
      Layout l;
      if (parse(inputs[i], l) != Reason::Ok) continue;
      size_t off = (p.reserved + 13 * i) % l.header_len();
      *rte_pktmbuf_mtod_offset(inputs[i], uint8_t*, off) ^= uint8_t(1 << (i % 8));
    }
  }
  if ((p.flags_c & kGroShuffle) && n > 1) {
    size_t seed = p.reserved >> 3;
    for (size_t i = 0; i < n; i += 2) std::swap(inputs[i], inputs[(i + 1 + seed) % n]);
  }
}

void run_gro(const Params& p, std::vector<rte_mbuf*>& inputs) {
  mix_gro_inputs(p, inputs);
  bool trust = p.flags_a & kGroTrustCsum;
  bool timeout = p.flags_c & kGroTimeout;
  bool drop_at_end = p.flags_c & kGroDropAtEnd;
  PayloadTally in;
  for (rte_mbuf* m : inputs) {
    m->ol_flags &= ~(RTE_MBUF_F_RX_LRO | RTE_MBUF_F_RX_L4_CKSUM_MASK | RTE_MBUF_F_RX_IP_CKSUM_MASK);
    if (trust) m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    in.add(m);
    if (g_trace) {
      Layout l;
      Reason pr = parse(m, l);
      std::fprintf(stderr, "  gro input: pkt_len %u nb_segs %u parse %s payload %u\n", m->pkt_len,
                   m->nb_segs, std::string(name(pr)).c_str(), pr == Reason::Ok ? l.payload_len() : 0);
    }
  }

  GroConfig gc;
  gc.max_flows = kMaxFlows[(p.flags_b >> kMaxFlowsShift) & 3];
  gc.flush_timeout_us = timeout ? 2 : 0;  // `now` advances one tick per burst
  gc.tsc_hz = timeout ? 1000000 : 0;
  size_t burst = (p.misc >> 4) + 1;

  std::vector<rte_mbuf*> emitted;
  {
    GroTable t(gc);
    std::vector<rte_mbuf*> out(burst);  // exactly sized: an overflow is an ASan report
    uint64_t now = 0;
    for (size_t i = 0; i < inputs.size();) {
      size_t n = std::min(burst, inputs.size() - i);
      GroCounts c = t.input(std::span<rte_mbuf* const>(inputs.data() + i, n), now, out);
      CHECK(c.consumed <= n && c.emitted <= out.size());
      emitted.insert(emitted.end(), out.begin(), out.begin() + c.emitted);
      i += c.consumed;
      ++now;
      uint16_t k = timeout ? t.flush(now, out) : 0;
      emitted.insert(emitted.end(), out.begin(), out.begin() + k);
      if (c.consumed == 0 && k == 0) {
        k = t.flush_all(out);
        CHECK(k > 0);  // room was 0 because flows are held: flushing must make progress
        emitted.insert(emitted.end(), out.begin(), out.begin() + k);
      }
    }
    if (!drop_at_end) {
      while (t.held() > 0) {
        uint16_t k = t.flush_all(out);
        CHECK(k > 0);
        emitted.insert(emitted.end(), out.begin(), out.begin() + k);
      }
      const GroStats& st = t.stats();
      if (g_trace)
        std::fprintf(stderr,
                     "  gro stats: merged %llu absorbed %llu passed %llu out_of_order %llu "
                     "table_full %llu checksum_bad %llu\n",
                     (unsigned long long)st.merged_packets, (unsigned long long)st.segments_absorbed,
                     (unsigned long long)st.passed_through, (unsigned long long)st.out_of_order,
                     (unsigned long long)st.table_full, (unsigned long long)st.checksum_bad);
      CHECK(st.packets_in == inputs.size());
      CHECK(emitted.size() + st.segments_absorbed == inputs.size());
    }
  }  // a table destroyed while holding flows frees them

  if (g_trace)
    std::fprintf(stderr, "  gro: %zu in, %zu out (%s)\n", inputs.size(), emitted.size(),
                 drop_at_end ? "held flows dropped" : "all flushed");
  std::vector<rte_mbuf*> sorted = emitted;
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());

  PayloadTally out;
  for (rte_mbuf* m : emitted) {
    CHECK(m != nullptr);
    if (m->ol_flags & RTE_MBUF_F_RX_LRO) {  // merged by GRO (inputs had the flag cleared)
      Layout l;
      CHECK(chain_consistent(m));
      CHECK(parse(m, l, ParseOptions{.exact_length = true}) == Reason::Ok);
      CHECK(m->pkt_len == l.ip_end);
      CHECK(m->tso_segsz > 0 && l.payload_len() > m->tso_segsz);
    }
    out.add(m);
  }
  if (!drop_at_end) {
    CHECK(out.unparsed == in.unparsed);
    CHECK(out.bytes == in.bytes);
    CHECK(out.byte_sum == in.byte_sum);
  }
  for (rte_mbuf* m : emitted) {
    if (!chain_consistent(m)) restore_pkt_len(m);  // a passed-through metadata lie
    rte_pktmbuf_free(m);
  }
}

// Takes all but `leave` mbufs of a pool until destroyed (raw mempool objects,
// in bulk: put back untouched).
class Starved {
 public:
  Starved(rte_mempool* mp, unsigned leave) : mp_(mp) {
    if (mp == nullptr) return;
    unsigned avail = rte_mempool_avail_count(mp);
    if (avail <= leave) return;
    held_.resize(avail - leave);
    for (size_t got = 0; got < held_.size();) {
      unsigned n = unsigned(std::min<size_t>(held_.size() - got, 512));
      CHECK(rte_mempool_get_bulk(mp, held_.data() + got, n) == 0);
      got += n;
    }
  }
  ~Starved() {
    if (!held_.empty()) rte_mempool_put_bulk(mp_, held_.data(), unsigned(held_.size()));
  }
  Starved(const Starved&) = delete;
  Starved& operator=(const Starved&) = delete;

 private:
  rte_mempool* mp_;
  std::vector<void*> held_;
};

void run_round(const Params& p, const Bytes& frame, PayloadMode pm) {
  ChecksumMode cm = (p.flags_a & kPseudoForNic) ? ChecksumMode::PseudoForNic : ChecksumMode::Full;
  rte_mbuf* in = build_input(p, frame);
  Snapshot before = Snapshot::of(in);

  Layout exact, loose;
  Reason pr = parse(in, exact, ParseOptions{.exact_length = true});
  Reason pl = parse(in, loose);
  if (pr == Reason::Ok) {
    CHECK(pl == Reason::Ok);
    CHECK(loose.header_len() == exact.header_len() && loose.ip_end == exact.ip_end &&
          loose.tunnel == exact.tunnel);
    CHECK(exact.ip_end == in->pkt_len);
  }

  uint16_t cap = kOutCaps[p.flags_b & kOutCapMask];
  rte_mbuf* const sentinel = reinterpret_cast<rte_mbuf*>(uintptr_t(0x5e471e1));
  std::vector<rte_mbuf*> out(size_t(cap) + 4, sentinel);
  testing::Pool* header = (p.flags_b & kTinyHeaderPool) ? g.header_tiny : g.header;
  GsoConfig cfg{header->get(), g.indirect->get(), cm, pm};
  unsigned starve = (p.flags_b >> kStarveShift) & 3;
  unsigned leave = p.misc & 0x0f;
  GsoResult r;
  {
    Starved s1((starve & 1) ? header->get() : nullptr, leave);
    Starved s2((starve & 2) ? g.indirect->get() : nullptr, leave);
    r = gso_segment(cfg, in, out.data(), cap);
  }

  if (g_trace)
    std::fprintf(stderr, "%s/%s: pkt_len %u nb_segs %u mss %u: parse %s, gso %s, %u segments\n",
                 pm == PayloadMode::Attach ? "attach" : "copy",
                 cm == ChecksumMode::Full ? "full" : "pseudo", before.pkt_len, before.nb_segs,
                 p.mss, std::string(name(pr)).c_str(), std::string(name(r.reason)).c_str(),
                 r.segments);
  std::vector<rte_mbuf*> gro_inputs;
  if (r.reason == Reason::Ok) {
    CHECK(pr == Reason::Ok);
    CHECK(!(p.flags_a & kClearTso));
    CHECK(r.segments >= 2 && r.segments <= cap);
    for (size_t i = r.segments; i < out.size(); ++i) CHECK(out[i] == sentinel);
    check_segments(p, cm, exact, before.bytes, out.data(), r.segments);
    gro_inputs.assign(out.begin(), out.begin() + r.segments);
  } else {
    CHECK(r.segments == 0);
    for (rte_mbuf* o : out) CHECK(o == sentinel);
    CHECK(Snapshot::of(in) == before);
    if (p.flags_a & kClearTso)
      CHECK(r.reason == Reason::NotMarkedForTso);
    else if (in->pkt_len <= kMaxGsoPacketLen && pr != Reason::Ok)
      CHECK(r.reason == pr);
    gro_inputs.push_back(in);
    if ((p.flags_c & kGroFollowUp) && pl == Reason::Ok) {
      // The next segment of the same flow: same bytes, sequence number advanced.
      Bytes next = frame;
      size_t at = loose.l4_off + 4u;
      uint32_t seq = get32(next, at) + loose.payload_len();
      for (int i = 0; i < 4; ++i) next[at + i] = uint8_t(seq >> (24 - 8 * i));
      gro_inputs.push_back(build_input(p, next));
    }
  }
  run_gro(p, gro_inputs);
}

}  // namespace
}  // namespace vo::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using vo::testing::Pool;
  vo::testing::ensure_eal();
  const char* trace = std::getenv("VO_FUZZ_TRACE");
  vo::fuzz::g_trace = trace != nullptr && trace[0] == '1';
  // Never freed: they live as long as the process.
  vo::fuzz::g.input = new Pool("fz_in", 4096, RTE_PKTMBUF_HEADROOM + vo::fuzz::kInputRoom);
  vo::fuzz::g.header = new Pool("fz_hdr", 8192, RTE_MBUF_DEFAULT_BUF_SIZE);
  // Room for Ethernet/IPv4/TCP headers without options (54 bytes), not much more.
  vo::fuzz::g.header_tiny = new Pool("fz_hdr_tiny", 4096, RTE_PKTMBUF_HEADROOM + 64);
  vo::fuzz::g.indirect = new Pool("fz_ind", 8192, 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vo::fuzz;
  if (size < kHeaderLen) return -1;  // not added to the corpus
  Params p = read_params(data);
  Bytes frame = make_frame(p, data + kHeaderLen, size - kHeaderLen);
  std::vector<uint32_t> baseline = g.in_use();
  for (vo::PayloadMode pm : {vo::PayloadMode::Attach, vo::PayloadMode::Copy}) {
    run_round(p, frame, pm);
    std::vector<uint32_t> now = g.in_use();
    if (now != baseline || external_buffers_live() != 0) {
      std::fprintf(stderr,
                   "fuzz_engine: leak after %s round: in_use input %u->%u header %u->%u "
                   "header_tiny %u->%u indirect %u->%u, external buffers live %lld\n",
                   pm == vo::PayloadMode::Attach ? "Attach" : "Copy", baseline[0], now[0],
                   baseline[1], now[1], baseline[2], now[2], baseline[3], now[3],
                   (long long)external_buffers_live());
      std::abort();
    }
  }
  return 0;
}
