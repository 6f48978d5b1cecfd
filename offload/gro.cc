// The GRO table: a bounded set of held flows, found through an open-addressing
// index, emitted in arrival order per flow.
#include "gro.h"

#include <rte_mbuf.h>

#include <cstring>
#include <vector>

#include "gro_fast_inl.h"

namespace vo {

using gro::Eligibility;
using gro::Flow;
using gro::Join;
using gro::Segment;

struct GroTable::Impl {
  GroConfig cfg;
  uint64_t timeout_tsc;
  std::vector<Flow> flows;          // slots
  std::vector<uint16_t> free_slots;
  std::vector<uint16_t> active;     // slots in use, in no particular order
  std::vector<uint16_t> active_pos; // slot -> index in `active`
  std::vector<int32_t> index;       // open addressing: slot or -1
  uint32_t mask;
  GroStats stats;

  explicit Impl(const GroConfig& c) : cfg(c) {
    timeout_tsc = cfg.tsc_hz * cfg.flush_timeout_us / 1000000;
    uint16_t n = std::max<uint16_t>(cfg.max_flows, 1);
    flows.resize(n);
    active_pos.resize(n);
    for (uint16_t i = n; i-- > 0;) free_slots.push_back(i);
    active.reserve(n);
    uint32_t size = 4;
    while (size < 2u * n) size <<= 1;
    index.assign(size, -1);
    mask = size - 1;
  }

  int32_t find(const gro::FlowKey& k, uint32_t h) const {
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
      int32_t s = index[i];
      if (s < 0) return -1;
      if (flows[s].hash == h && flows[s].key == k) return s;
    }
  }

  int32_t insert(const Segment& seg, uint32_t h, uint64_t now) {
    if (free_slots.empty()) return -1;
    uint16_t s = free_slots.back();
    free_slots.pop_back();
    gro::start_flow(flows[s], seg, h, now);
    uint32_t i = h & mask;
    while (index[i] >= 0) i = (i + 1) & mask;
    index[i] = s;
    active_pos[s] = uint16_t(active.size());
    active.push_back(s);
    return s;
  }

  // Removes slot `s` from the index by backward-shift deletion, which keeps
  // every probe chain unbroken without tombstones.
  void unindex(uint16_t s) {
    uint32_t i = flows[s].hash & mask;
    while (index[i] != s) i = (i + 1) & mask;
    for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
      int32_t t = index[j];
      if (t < 0) break;
      uint32_t home = flows[t].hash & mask;
      // Move t back into the hole at i unless its home lies cyclically in (i, j].
      bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
      if (!stays) {
        index[i] = t;
        i = j;
      }
    }
    index[i] = -1;
  }

  // Removes flow `s` from the table and returns its (merged) packet.
  rte_mbuf* emit(uint16_t s) {
    Flow& f = flows[s];
    if (f.segments > 1) {
      stats.merged_packets++;
      stats.segments_absorbed += f.segments - 1;
    }
    rte_mbuf* m = gro::finish(f);
    release(s);
    return m;
  }

  // Frees flow `s`'s packet without emitting it: no merge is counted.
  void drop(uint16_t s) {
    rte_pktmbuf_free(flows[s].head);
    release(s);
  }

  void release(uint16_t s) {
    if (last == s) last = -1;
    unindex(s);
    uint16_t pos = active_pos[s];
    active[pos] = active.back();
    active_pos[active[pos]] = pos;
    active.pop_back();
    free_slots.push_back(s);
  }

  // `hash`: the packet's raw_flow_hash(), kNoHash when it has none, kLater
  // when it is to be computed only if the packet does not join `last`.
  static constexpr uint64_t kNoHash = ~0ull, kLater = ~1ull;
  // The fast path: appends `m` to a held flow (the last one appended to
  // first: a burst is mostly runs of one flow, found without hash or index).
  [[gnu::always_inline]] bool take_fast(rte_mbuf* m, uint64_t hash, rte_mbuf** out,
                                        uint16_t& n_out);
  [[gnu::always_inline]] bool append_fast(uint16_t s, rte_mbuf* m, rte_mbuf** out,
                                          uint16_t& n_out);
  // The full path, for what the fast one did not take.
  [[gnu::noinline]] void take(rte_mbuf* m, uint64_t now, rte_mbuf** out, uint16_t& n_out);
  int32_t last = -1;         // the slot of the flow the previous packet joined, or -1
  uint32_t last_hits = 0;    // packets of the current group that joined `last`
  bool hash_first = false;   // hash a whole group before merging it (see input())
};

inline bool GroTable::Impl::append_fast(uint16_t s, rte_mbuf* m, rte_mbuf** out,
                                        uint16_t& n_out) {
  uint32_t payload = gro::fast_append(flows[s], m);
  if (payload == 0) return false;
  last = s;
  // A segment shorter than the MSS ends the burst of the sender.
  if (payload < flows[s].mss) out[n_out++] = emit(s);
  return true;
}

inline bool GroTable::Impl::take_fast(rte_mbuf* m, uint64_t hash, rte_mbuf** out,
                                      uint16_t& n_out) {
  if (hash == kLater) {
    if (last >= 0 && append_fast(uint16_t(last), m, out, n_out)) {
      last_hits++;
      return true;
    }
    uint32_t h;
    hash = gro::raw_flow_hash(m, h) ? h : kNoHash;
  } else if (hash != kNoHash && last >= 0 && flows[last].hash == uint32_t(hash) &&
             append_fast(uint16_t(last), m, out, n_out)) {
    last_hits++;
    return true;
  }
  if (hash == kNoHash) return false;
  const uint32_t h = uint32_t(hash);
  for (uint32_t i = h & mask; index[i] >= 0; i = (i + 1) & mask) {
    int32_t s = index[i];
    if (s != last && flows[s].hash == h && append_fast(uint16_t(s), m, out, n_out)) return true;
  }
  return false;
}

void GroTable::Impl::take(rte_mbuf* m, uint64_t now, rte_mbuf** out, uint16_t& n_out) {
  Segment seg;
  Eligibility e = gro::classify(m, seg);
  if (e == Eligibility::NotTcp) {
    stats.passed_through++;
    out[n_out++] = m;
    return;
  }
  uint32_t h = gro::flow_hash(seg.key);
  int32_t s = find(seg.key, h);
  if (e != Eligibility::Mergeable) {
    if (e == Eligibility::BadChecksum) stats.checksum_bad++;
    if (s >= 0) out[n_out++] = emit(uint16_t(s));  // what came before goes first
    stats.passed_through++;
    out[n_out++] = m;
    return;
  }
  bool closes = seg.tcp_flags & TcpHdr::kPsh;
  if (s >= 0) {
    Join j = gro::can_join(flows[s], seg);
    if (j == Join::Merge) {
      Flow& f = flows[s];
      gro::append(f, seg);
      last = s;
      // A segment shorter than the MSS, or PSH, ends the burst of the sender.
      if (closes || seg.payload_len < f.mss) out[n_out++] = emit(uint16_t(s));
      return;
    }
    out[n_out++] = emit(uint16_t(s));
    if (j == Join::OutOfOrder) {  // never reorder: it goes out as it came
      stats.out_of_order++;
      stats.passed_through++;
      out[n_out++] = m;
      return;
    }
  }
  if (closes) {
    stats.passed_through++;
    out[n_out++] = m;
    return;
  }
  last = insert(seg, h, now);
  if (last < 0) {
    stats.table_full++;
    stats.passed_through++;
    out[n_out++] = m;
  }
}

GroTable::GroTable(const GroConfig& cfg) : impl_(std::make_unique<Impl>(cfg)) {}
GroTable::~GroTable() { drop_all(); }

GroCounts GroTable::input(std::span<rte_mbuf* const> pkts, uint64_t now_tsc,
                          std::span<rte_mbuf*> out) {
  // Each packet taken emits at most itself plus one held flow; every held flow
  // is emitted at most once: `out` never overflows with this many.
  size_t room = out.size() > impl_->active.size() ? out.size() - impl_->active.size() : 0;
  GroCounts c;
  c.consumed = uint16_t(std::min(pkts.size(), room));
  impl_->stats.packets_in += c.consumed;
  // Interleaved flows: two passes over each group of packets, first every
  // packet's flow hash, so that the loads of their headers (each a cache miss
  // when the burst is fresh) overlap, then the merging, which finds them in
  // cache. Runs of one flow: one pass, a prefetch, and a packet that joins the
  // flow before it needs no hash. Each group goes the way the one before it
  // would have gone faster.
  constexpr uint16_t kGroup = 32;
  uint64_t hashes[kGroup];
  Impl& t = *impl_;
  for (uint16_t base = 0; base < c.consumed; base += kGroup) {
    uint16_t n = std::min<uint16_t>(kGroup, uint16_t(c.consumed - base));
    for (uint16_t i = 0; i < n; ++i) {
      uint32_t h;
      if (t.hash_first)
        hashes[i] = gro::raw_flow_hash(pkts[base + i], h) ? h : Impl::kNoHash;
      else
        rte_prefetch0(rte_pktmbuf_mtod(pkts[base + i], void*));
    }
    t.last_hits = 0;
    for (uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = pkts[base + i];
      if (!t.take_fast(m, t.hash_first ? hashes[i] : Impl::kLater, out.data(), c.emitted))
        t.take(m, now_tsc, out.data(), c.emitted);
    }
    t.hash_first = t.last_hits * 2 < n;
  }
  return c;
}

uint16_t GroTable::flush(uint64_t now_tsc, std::span<rte_mbuf*> out) {
  const uint64_t timeout = impl_->timeout_tsc;
  return flush_unless([&](const rte_mbuf*, uint64_t since) { return now_tsc - since < timeout; }, out);
}

uint16_t GroTable::flush_unless(const std::function<bool(const rte_mbuf*, uint64_t)>& keep,
                                std::span<rte_mbuf*> out) {
  uint16_t n = 0;
  for (size_t i = 0; i < impl_->active.size() && n < out.size();) {
    const Flow& f = impl_->flows[impl_->active[i]];
    if (keep(f.head, f.start_tsc))
      ++i;
    else
      out[n++] = impl_->emit(impl_->active[i]);  // swaps another flow into position i
  }
  return n;
}

uint16_t GroTable::flush_all(std::span<rte_mbuf*> out) {
  uint16_t n = 0;
  while (!impl_->active.empty() && n < out.size()) out[n++] = impl_->emit(impl_->active.back());
  return n;
}

uint32_t GroTable::drop_all() {
  uint32_t n = 0;
  for (; !impl_->active.empty(); ++n) impl_->drop(impl_->active.back());
  return n;
}

uint16_t GroTable::held() const { return uint16_t(impl_->active.size()); }
const GroStats& GroTable::stats() const { return impl_->stats; }

}  // namespace vo
