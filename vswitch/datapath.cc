#include "datapath.h"

#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include <cstring>
#include <thread>

#include "egress.h"
#include "log/log.h"
#include "offload/headers.h"
#include "offload/metadata.h"
#include "offload/packet_copy.h"
#include "offload/parse.h"
#include "offload/vlan.h"

namespace vo {
namespace {

constexpr uint16_t kMaxBurst = 64;

// The frame as it leaves a port: tagged with the VLAN it was switched in (on
// a trunk) or not, and without the switch's own record of it.
Reason tag_for_egress(rte_mbuf* m, bool tagged) {
  const uint16_t tci = m->vlan_tci;
  m->ol_flags &= ~kStrippedVlanFlags;
  m->vlan_tci = 0;
  return tagged ? vlan_push(m, tci) : Reason::Ok;
}

}  // namespace

Datapath::Datapath(const DatapathConfig& cfg, const GsoConfig& gso, rte_mempool* pool)
    : cfg_(cfg),
      gso_(gso),
      pool_(pool),
      tsc_hz_(rte_get_tsc_hz()),
      tx_hold_tsc_(tsc_hz_ * cfg.tx_hold_us / 1000000),
      gro_timeout_tsc_(tsc_hz_ * cfg.gro_timeout_us / 1000000),
      macs_(tsc_hz_, cfg.mac_age_s, cfg.mac_limits) {
  cfg_.burst = std::min<uint16_t>(cfg_.burst, kMaxBurst);
}

Datapath::~Datapath() {
  for (uint16_t i = 0; i < slots_; ++i)
    if (ports_[i]) drop_queued(*ports_[i], ports_[i]->tx_count, ports_[i]->port->stats.tx_dropped);
}

bool Datapath::add_port(Port* p, const PortPolicy& policy, std::string& error) {
  Change c{p, policy, true};
  post(c);
  if (!c.ok) error = "the switch has " + std::to_string(kMaxPorts) + " ports already";
  return c.ok;
}

Datapath::Removed Datapath::remove_port(Port* p) {
  Change c{p, {}, false};
  post(c);
  return c.removed;
}

void Datapath::post(Change& c) {
  std::lock_guard<std::mutex> one_at_a_time(control_);
  pending_.store(&c, std::memory_order_release);
  while (!c.done.load(std::memory_order_acquire)) {
    // Holding loop_ keeps run() from starting while the change is applied
    // here; run() holds it until after its last round, so whatever the loop
    // did not take by then, nobody else will.
    if (std::unique_lock<std::mutex> not_running(loop_, std::try_to_lock); not_running.owns_lock()) {
      if (Change* mine = pending_.exchange(nullptr, std::memory_order_acq_rel)) apply(*mine);
      continue;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

void Datapath::take_change() {
  if (pending_.load(std::memory_order_relaxed) == nullptr) return;
  if (Change* c = pending_.exchange(nullptr, std::memory_order_acq_rel)) apply(*c);
}

void Datapath::apply(Change& c) {
  if (c.add) {
    uint16_t idx = 0;
    while (idx < ports_.size() && ports_[idx]) ++idx;
    c.ok = idx < kMaxPorts;
    if (c.ok) {
      if (idx == ports_.size()) ports_.emplace_back();
      ports_[idx] = make_state(c.port, c.policy);
      slots_ = std::max<uint16_t>(slots_, uint16_t(idx + 1));
      std::lock_guard<std::mutex> lock(list_mutex_);
      port_list_.push_back(c.port);
      warn_if_queues_exceed_pool();
    }
  } else {
    for (uint16_t i = 0; i < slots_; ++i)
      if (ports_[i] && ports_[i]->port == c.port) c.removed = remove_slot(i);
    std::lock_guard<std::mutex> lock(list_mutex_);
    std::erase(port_list_, c.port);
    c.ok = true;
  }
  c.done.store(true, std::memory_order_release);
}

// What the datapath holds for a port that went down or is removed: the
// packets queued for it (counted as dropped on it), the flows GRO holds from
// it, its MAC entries.
Datapath::Removed Datapath::let_go(uint16_t idx) {
  PortState& ps = *ports_[idx];
  const uint32_t held = ps.gro->drop_all();
  const uint32_t queued = ps.tx_count;
  drop_queued(ps, ps.tx_count, ps.port->stats.tx_dropped);
  macs_.forget_port(idx);
  return {queued, held};
}

// A removed port's statistics stay readable by the caller, which owns the port.
Datapath::Removed Datapath::remove_slot(uint16_t idx) {
  const Removed r = let_go(idx);
  VO_LOG(INFO, "port %s removed: freed %u queued packets and %u held for merging",
         ports_[idx]->port->name().c_str(), r.queued, r.held);
  ports_[idx].reset();
  while (slots_ > 0 && !ports_[slots_ - 1]) --slots_;
  return r;
}

void Datapath::for_each_port(const std::function<void(Port&)>& f) const {
  std::lock_guard<std::mutex> lock(list_mutex_);
  for (Port* p : port_list_) f(*p);
}

size_t Datapath::port_count() const {
  std::lock_guard<std::mutex> lock(list_mutex_);
  return port_list_.size();
}

std::unique_ptr<Datapath::PortState> Datapath::make_state(Port* p, const PortPolicy& policy) const {
  auto ps = std::make_unique<PortState>();
  ps->port = p;
  ps->security = PortSecurity(policy.security);
  ps->vlan = PortVlan(policy.vlan);
  ps->flood = FloodBudget(cfg_.flood_pps, tsc_hz_);
  GroConfig gc;
  gc.max_flows = cfg_.gro_max_flows;  // the datapath decides when flows leave (flush_gro)
  ps->gro = std::make_unique<GroTable>(gc);
  return ps;
}

void Datapath::warn_if_queues_exceed_pool() const {
  const uint64_t queued_max = uint64_t(port_list_.size()) * cfg_.tx_queue_mbufs;
  if (pool_ != nullptr && queued_max > pool_->size / 2)
    VO_LOG(WARNING,
           "%zu ports may each queue %u mbufs for a guest that stops draining: %lu, more than half "
           "the pool of %u; raise --mbufs or lower --tx-queue-mbufs",
           port_list_.size(), cfg_.tx_queue_mbufs, queued_max, pool_->size);
}

Datapath::Load Datapath::load() const {
  Load l;
  l.busy_cycles = __atomic_load_n(&load_.busy_cycles, __ATOMIC_RELAXED);
  l.idle_cycles = __atomic_load_n(&load_.idle_cycles, __ATOMIC_RELAXED);
  l.rounds = __atomic_load_n(&load_.rounds, __ATOMIC_RELAXED);
  l.packets = __atomic_load_n(&load_.packets, __ATOMIC_RELAXED);
  return l;
}

void Datapath::quiesce() const {
  uint64_t e = epoch_.load();
  if (!running_.load() || e % 2 == 0) return;
  while (epoch_.load() == e && running_.load()) std::this_thread::sleep_for(std::chrono::microseconds(10));
}

void Datapath::run() {
  std::lock_guard<std::mutex> running(loop_);
  running_.store(true);
  uint32_t sleep_us = 0, idle_polls = 0;
  uint64_t start = rte_get_tsc_cycles();
  while (!stop_.load(std::memory_order_relaxed)) {
    epoch_.fetch_add(1);  // odd: in flight
    uint32_t busy = round(start);
    epoch_.fetch_add(1);  // even: quiescent
    if (busy == 0)
      idle(sleep_us, idle_polls);
    else
      sleep_us = idle_polls = 0;
    const uint64_t end = rte_get_tsc_cycles();
    // Relaxed stores of whole words: telemetry reads each without tearing.
    __atomic_store_n(busy ? &load_.busy_cycles : &load_.idle_cycles,
                     (busy ? load_.busy_cycles : load_.idle_cycles) + (end - start), __ATOMIC_RELAXED);
    __atomic_store_n(&load_.rounds, load_.rounds + 1, __ATOMIC_RELAXED);
    start = end;
  }
  running_.store(false);
}

uint32_t Datapath::round(uint64_t now) {
  take_change();
  uint32_t busy = 0;
  for (uint16_t i = 0; i < slots_; ++i)
    if (ports_[i]) busy += poll(i, now);
  for (uint16_t i = 0; i < slots_; ++i) {
    if (!ports_[i]) continue;
    flush_tx(i, now);
    busy += ports_[i]->tx_count;  // packets waiting for a full port: no nap
  }
  for (uint16_t i = 0; i < slots_; ++i)
    if (ports_[i]) ports_[i]->port->end_of_round(now);
  macs_.age(now);
  return busy;
}

// Adaptive back-off (as OVS's pmd sleep or VPP's adaptive mode): keep
// spinning for a while after the last packet, then nap, doubling the nap up
// to idle_sleep_max_us, so an idle switch leaves the core to QEMU and the kernel.
void Datapath::idle(uint32_t& sleep_us, uint32_t& idle_polls) {
  if (++idle_polls < 1000) {
    rte_pause();
    return;
  }
  sleep_us = std::min(cfg_.idle_sleep_max_us, sleep_us ? sleep_us * 2 : 1);
  if (sleep_us) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
}

void Datapath::went_down(uint16_t idx) {
  const Removed r = let_go(idx);
  ports_[idx]->security.reset();
  VO_LOG(INFO, "port %s is down: freed %u packets held for merging",
         ports_[idx]->port->name().c_str(), r.held);
}

uint16_t Datapath::poll(uint16_t in, uint64_t now) {
  PortState& ps = *ports_[in];
  bool ready = ps.port->ready();
  if (!ready) {
    if (ps.was_ready) went_down(in);
    ps.was_ready = false;
    return 0;
  }
  ps.was_ready = true;
  rte_mbuf* pkts[kMaxBurst];
  uint16_t n = ps.port->rx_burst(pkts, cfg_.burst);
  if (n) {
    __atomic_store_n(&load_.packets, load_.packets + n, __ATOMIC_RELAXED);
    forward(in, pkts, n, now);
  }
  if (n || ps.gro->held()) flush_gro(in, now);
  return n;
}

// A flow leaves the GRO table at the end of the burst that brought it, unless
// a timeout asks to hold it longer, or the packets bound where it goes wait
// anyway (its destination's queue is not empty: a guest behind on its ring).
// Merging then costs no latency, and the guest that is behind gets fewer,
// larger packets. Held for a backlog at most half of tx_hold_us, so that it
// still has the other half to leave.
void Datapath::flush_gro(uint16_t in, uint64_t now) {
  GroTable& gro = *ports_[in]->gro;
  // Two words of capture: std::function keeps it without allocating.
  auto keep = [this, now](const rte_mbuf* head, uint64_t since) {
    const uint64_t age = now - since;
    return age < gro_timeout_tsc_ || (age < tx_hold_tsc_ / 2 && backlogged(head, now));
  };
  rte_mbuf* out[kMaxBurst];
  uint16_t k;
  do {
    k = gro.flush_unless(keep, std::span<rte_mbuf*>(out, kMaxBurst));
    for (uint16_t i = 0; i < k; ++i) deliver_from(in, out[i], now);
  } while (k == kMaxBurst);
  const GroStats& gs = gro.stats();
  PortStats& st = ports_[in]->port->stats;
  st.gro_merged = gs.merged_packets;
  st.gro_absorbed = gs.segments_absorbed;
  st.gro_passed = gs.passed_through;
  st.gro_out_of_order = gs.out_of_order;
  st.gro_table_full = gs.table_full;
  st.gro_checksum_bad = gs.checksum_bad;
}

bool Datapath::backlogged(const rte_mbuf* m, uint64_t now) {
  const auto* eth = header_at<EthHdr>(m, 0);
  const uint16_t out = macs_.lookup(eth->dst.b, switched_vlan(m), now);
  return out != MacTable::kNone && ports_[out] && ports_[out]->tx_count > 0;
}

// The port's VLAN settings and port security decide whether a frame enters
// the switch; one that does travels untagged, its VLAN in vlan_tci.
Reason Datapath::admit(PortState& ps, rte_mbuf* m, FrameL2& l2) const {
  if (l2.truncated_tag) return Reason::TruncatedVlan;
  int vlan = ps.vlan.ingress(l2.tagged, l2.vlan);
  if (vlan == PortVlan::kRefused) return Reason::VlanNotCarried;
  uint16_t tci = 0;
  if (l2.tagged) {
    if (Reason r = vlan_pop(m, tci); r != Reason::Ok) return r;
    l2.l3_off = sizeof(EthHdr);
    l2.tagged = false;
  }
  l2.vlan = uint16_t(vlan);
  m->vlan_tci = uint16_t((tci & 0xf000) | vlan);  // the priority bits stay with the frame
  if (vlan)
    m->ol_flags |= kStrippedVlanFlags;
  else
    m->ol_flags &= ~kStrippedVlanFlags;
  return ps.security.check(m, l2);
}

void Datapath::forward(uint16_t in, rte_mbuf** pkts, uint16_t n, uint64_t now) {
  rte_mbuf* to_gro[kMaxBurst];
  uint16_t ng = 0;
  PortState& ps = *ports_[in];
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (m->data_len < sizeof(EthHdr)) {
      ps.port->stats.rx_invalid.add(Reason::TruncatedEthernet);
      rte_pktmbuf_free(m);
      continue;
    }
    FrameL2 l2 = frame_l2(m);
    if (Reason r = admit(ps, m, l2); r != Reason::Ok) {
      ps.port->stats.rx_invalid.add(r);
      VO_LOG_RL(WARNING, "port %s: dropped a frame: %s", ps.port->name().c_str(),
                std::string(describe(r)).c_str());
      rte_pktmbuf_free(m);
      continue;
    }
    const auto* eth = header_at<EthHdr>(m, 0);
    // A secured port's MAC is its own: no other port's frame moves it.
    Learned l = macs_.learn(eth->src.b, l2.vlan, in, now, ps.security.enabled());
    if (refused(l)) ps.port->stats.mac_refused++;
    uint16_t out = macs_.lookup(eth->dst.b, l2.vlan, now);
    if (ps.port->gro_enabled() && out != MacTable::kNone && out != in &&
        merge_toward(out, l2.ether_type))
      to_gro[ng++] = m;
    else
      deliver(in, out, m, now);
  }
  if (ng) run_gro(in, to_gro, ng, now);
}

// Merging pays only toward a port that takes the merged packet whole: one with
// TSO for this IP version. Every packet bound there goes through the GRO table,
// large segments and frames too big to merge included: the table passes those
// on in their place, where sending them past it would overtake the segments of
// their flow it holds (and the receiver would see them out of order).
bool Datapath::merge_toward(uint16_t out, uint16_t type) const {
  const Port* p = ports_[out]->port;
  if (!p->ready()) return false;
  TxCaps caps = p->tx_caps();
  return type == kEtherTypeIpv4 ? caps.tso4 : type == kEtherTypeIpv6 && caps.tso6;
}

// GRO on the packets bound for ports that take large segments; the table is
// the ingress port's, flushed by flush_gro.
void Datapath::run_gro(uint16_t in, rte_mbuf** pkts, uint16_t n, uint64_t now) {
  PortState& ps = *ports_[in];
  rte_mbuf* out[kMaxBurst + 1024];
  std::span<rte_mbuf*> outs(out, n + ps.gro->held());
  GroCounts c = ps.gro->input(std::span<rte_mbuf* const>(pkts, n), now, outs);
  for (uint16_t i = 0; i < c.emitted; ++i) deliver_from(in, out[i], now);
}

void Datapath::deliver_from(uint16_t in, rte_mbuf* m, uint64_t now) {
  const auto* eth = header_at<EthHdr>(m, 0);
  deliver(in, macs_.lookup(eth->dst.b, switched_vlan(m), now), m, now);
}

void Datapath::deliver(uint16_t in, uint16_t out, rte_mbuf* m, uint64_t now) {
  if (out == in) {  // the destination lives behind the port it came from
    ports_[in]->port->stats.no_destination++;
    rte_pktmbuf_free(m);
    return;
  }
  if (out != MacTable::kNone) {
    send(out, m, now);
    return;
  }
  // Unknown unicast, broadcast, multicast: every other port that is up and
  // carries the frame's VLAN gets a copy, within the budget of the port it
  // came from.
  PortState& src = *ports_[in];
  if (!src.flood.take(now)) {
    src.port->stats.flood_dropped++;
    rte_pktmbuf_free(m);
    return;
  }
  // Each copy gets headers of its own (a trunk tags them, a port without TSO
  // cuts them) over the payload they share: a flooded 64 KB segment costs
  // a header per port, not 64 KB.
  const uint16_t vlan = switched_vlan(m);
  bool sent = false;
  for (uint16_t q = 0; q < slots_; ++q) {
    if (q == in || !ports_[q] || !ports_[q]->port->ready() ||
        ports_[q]->vlan.egress(vlan) == PortVlan::Egress::Drop)
      continue;
    sent = true;
    rte_mbuf* c = copy_headers_share_payload(m, pool_, gso_.indirect_pool);
    if (c != nullptr)
      send(q, c, now);
    else
      ports_[q]->port->stats.tx_invalid.add(Reason::NoMemory);
  }
  if (!sent) src.port->stats.no_destination++;
  rte_pktmbuf_free(m);
}

bool Datapath::queue_has_room(const PortState& ps, uint32_t entries, uint32_t mbufs) const {
  return ps.tx_count + entries <= kTxBufferSize && ps.tx_mbufs + mbufs <= cfg_.tx_queue_mbufs;
}

void Datapath::send(uint16_t out, rte_mbuf* m, uint64_t now) {
  PortState& ps = *ports_[out];
  Port& port = *ps.port;
  const PortVlan::Egress tagging = ps.vlan.egress(switched_vlan(m));
  if (tagging == PortVlan::Egress::Drop) {  // only a misconfiguration gets here
    port.stats.tx_invalid.add(Reason::VlanNotCarried);
    rte_pktmbuf_free(m);
    return;
  }
  bool large = is_large_segment(m);
  // Room for the packet as it is; cutting it can only need more.
  const uint32_t entries = large ? kMaxEgressSegments : 1;
  if (!queue_has_room(ps, entries, m->nb_segs)) flush_tx(out, now);
  if (!port.ready() || !queue_has_room(ps, entries, m->nb_segs)) {
    port.stats.tx_dropped++;  // down, or full: tail drop
    rte_pktmbuf_free(m);
    return;
  }
  // Tagged before it is cut: segmentation copies the tag into every
  // segment's headers, for one tag written per large segment.
  if (Reason r = tag_for_egress(m, tagging == PortVlan::Egress::Tagged); r != Reason::Ok) {
    port.stats.tx_invalid.add(r);
    rte_pktmbuf_free(m);
    return;
  }
  // Capabilities are read only once the port is up (ready's acquire pairs
  // with the release that published them).
  rte_mbuf* segs[kMaxEgressSegments];
  uint16_t k = prepare_egress(gso_, port.tx_caps(), port.stats, m, segs);
  for (uint16_t i = 0; i < k; ++i) {
    rte_mbuf* s = segs[i];
    if (Reason r = port.tx_prepare(s); r != Reason::Ok) {
      port.stats.tx_invalid.add(r);
      rte_pktmbuf_free(s);
      continue;
    }
    if (ps.tx_mbufs + s->nb_segs > cfg_.tx_queue_mbufs) {  // the cut took more
      port.stats.tx_dropped++;
      rte_pktmbuf_free(s);
      continue;
    }
    ps.tx[ps.tx_count++] = TxEntry{s, now, s->pkt_len, s->nb_segs, large && k == 1};
    ps.tx_mbufs += s->nb_segs;
  }
}

void Datapath::drop_queued(PortState& ps, uint16_t n, uint64_t& counter) {
  for (uint16_t i = 0; i < n; ++i) {
    rte_pktmbuf_free(ps.tx[i].m);
    ps.tx_mbufs -= ps.tx[i].mbufs;
  }
  counter += n;
  std::memmove(ps.tx, ps.tx + n, (ps.tx_count - n) * sizeof(TxEntry));
  ps.tx_count = uint16_t(ps.tx_count - n);
}

void Datapath::flush_tx(uint16_t out, uint64_t now) {
  PortState& ps = *ports_[out];
  if (ps.tx_count == 0) return;
  Port& port = *ps.port;
  if (!port.ready()) {
    drop_queued(ps, ps.tx_count, port.stats.tx_dropped);
    return;
  }
  // No packet leaves after waiting more than tx_hold_us from when it was
  // queued: a guest that drains a few packets now and then cannot keep the
  // rest waiting (and the pool held) for longer than that.
  uint16_t stale = 0;
  while (stale < ps.tx_count && now - ps.tx[stale].since > tx_hold_tsc_) ++stale;
  drop_queued(ps, stale, port.stats.tx_expired);
  rte_mbuf* pkts[kTxBufferSize];
  for (uint16_t i = 0; i < ps.tx_count; ++i) pkts[i] = ps.tx[i].m;
  uint16_t done = 0;
  while (done < ps.tx_count) {
    uint16_t sent = port.tx_burst(pkts + done, ps.tx_count - done);
    if (sent == 0) break;
    for (uint16_t i = done; i < done + sent; ++i) {
      port.stats.tx_packets++;
      port.stats.tx_bytes += ps.tx[i].len;
      port.stats.tx_large += ps.tx[i].large;
      ps.tx_mbufs -= ps.tx[i].mbufs;
    }
    done += sent;
  }
  std::memmove(ps.tx, ps.tx + done, (ps.tx_count - done) * sizeof(TxEntry));
  ps.tx_count = uint16_t(ps.tx_count - done);
  // The port is full: the rest waits, in order, for the next round.
  if (ps.tx_count) port.stats.tx_retries++;
}

}  // namespace vo
