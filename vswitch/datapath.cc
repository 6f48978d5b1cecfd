#include "datapath.h"

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "egress.h"
#include "log/log.h"
#include "offload/headers.h"
#include "offload/metadata.h"
#include "offload/packet_copy.h"
#include "offload/parse.h"
#include "offload/vlan.h"
#include "rxq_assignment.h"

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

Datapath::SharedPort::SharedPort(Port* p, const PortPolicy& policy, const DatapathConfig& cfg,
                                 uint64_t tsc_hz)
    : port(p), security(policy.security), vlan(policy.vlan), flood(cfg.flood_pps, tsc_hz) {}

bool Datapath::SharedPort::take_flood(uint64_t now) {
  rte_spinlock_lock(&flood_lock);
  const bool ok = flood.take(now);
  rte_spinlock_unlock(&flood_lock);
  return ok;
}

Datapath::Datapath(const DatapathConfig& cfg, const GsoConfig& gso, rte_mempool* pool)
    : cfg_(cfg),
      gso_(gso),
      pool_(pool),
      tsc_hz_(rte_get_tsc_hz()),
      tx_hold_tsc_(tsc_hz_ * cfg.tx_hold_us / 1000000),
      gro_timeout_tsc_(tsc_hz_ * cfg.gro_timeout_us / 1000000),
      macs_(tsc_hz_, cfg.mac_age_s, cfg.mac_limits) {
  cfg_.burst = std::min<uint16_t>(cfg_.burst, kMaxBurst);
  cfg_.threads = std::clamp<uint16_t>(cfg_.threads, 1, kMaxDatapathThreads);
  // At least one 64 KB segment cut at the smallest MSS, as the command line asks.
  tx_queue_mbufs_ = std::max<uint32_t>(cfg_.tx_queue_mbufs / cfg_.threads, kMaxEgressSegments);
  shared_.resize(kMaxPorts);
  for (uint16_t t = 0; t < cfg_.threads; ++t) {
    workers_.push_back(std::make_unique<Worker>());
    workers_.back()->index = t;
    workers_.back()->ports.resize(kMaxPorts);
  }
}

Datapath::~Datapath() {
  for (auto& w : workers_)
    for (uint16_t i = 0; i < w->slots; ++i)
      if (w->ports[i]) drop_queued(*w->ports[i], w->ports[i]->tx_count, shared_[i]->port->stats().tx_dropped);
}

bool Datapath::add_port(Port* p, const PortPolicy& policy, std::string& error) {
  std::lock_guard<std::mutex> one_at_a_time(control_);
  uint16_t slot = 0;
  while (slot < kMaxPorts && shared_[slot]) ++slot;
  if (slot == kMaxPorts) {
    error = "the switch has " + std::to_string(kMaxPorts) + " ports already";
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(list_mutex_);  // rx_queues() reads the slots
    shared_[slot] = std::make_unique<SharedPort>(p, policy, cfg_, tsc_hz_);
  }
  for (uint16_t q = 0; q < p->rx_queues(); ++q)
    assignment_.push_back({slot, q, start_thread(slot, q)});
  Change c{Change::Kind::Add, slot};
  post(c);
  std::lock_guard<std::mutex> lock(list_mutex_);
  port_list_.push_back(p);
  warn_if_queues_exceed_pool();
  return true;
}

Datapath::Removed Datapath::remove_port(Port* p) {
  std::lock_guard<std::mutex> one_at_a_time(control_);
  Removed r;
  for (uint16_t slot = 0; slot < kMaxPorts; ++slot) {
    if (!shared_[slot] || shared_[slot]->port != p) continue;
    Change c{Change::Kind::Remove, slot};
    post(c);
    r = {c.queued.load(), c.held.load()};
    VO_LOG(INFO, "port %s removed: freed %u queued packets and %u held for merging",
           p->name().c_str(), r.queued, r.held);
    // No thread polls it any more: nothing learns its addresses again.
    rte_spinlock_lock(&macs_lock_);
    macs_.forget_port(slot);
    rte_spinlock_unlock(&macs_lock_);
    std::erase_if(assignment_, [slot](const Assignment& a) { return a.slot == slot; });
    std::lock_guard<std::mutex> lock(list_mutex_);
    shared_[slot].reset();
  }
  std::lock_guard<std::mutex> lock(list_mutex_);
  std::erase(port_list_, p);
  return r;
}

void Datapath::post(Change& c) {
  for (auto& w : workers_) w->pending.store(&c, std::memory_order_release);
  while (c.acks.load(std::memory_order_acquire) < threads()) {
    // Holding a thread's loop mutex keeps its run() from starting while the
    // change is applied here for it; run() holds it until after its last
    // round, so whatever the loop did not take by then, nobody else will.
    for (auto& w : workers_) {
      std::unique_lock<std::mutex> not_running(w->loop, std::try_to_lock);
      if (!not_running.owns_lock()) continue;
      // As that thread: the counters it writes are its own.
      const uint16_t me = datapath_thread();
      set_datapath_thread(w->index);
      const uint64_t now = rte_get_tsc_cycles();
      if (Change* mine = w->pending.exchange(nullptr, std::memory_order_acq_rel)) apply(*w, *mine, now);
      finish_drain(*w, false);
      set_datapath_thread(me);
    }
    if (c.acks.load(std::memory_order_acquire) < threads())
      std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

void Datapath::take_change(Worker& w, uint64_t now) {
  if (w.pending.load(std::memory_order_relaxed) != nullptr)
    if (Change* c = w.pending.exchange(nullptr, std::memory_order_acq_rel)) apply(w, *c, now);
  if (w.draining) finish_drain(w, true);
}

void Datapath::apply(Worker& w, Change& c, uint64_t now) {
  switch (c.kind) {
    case Change::Kind::Add:
      w.ports[c.slot] = make_state();
      w.slots = std::max<uint16_t>(w.slots, uint16_t(c.slot + 1));
      add_rxqs(w, c.slot);
      break;
    case Change::Kind::Remove: {
      {
        std::lock_guard<std::mutex> lock(w.rxqs_mutex);
        std::erase_if(w.rxqs, [&](const Rxq& q) { return q.slot == c.slot; });
      }
      const Removed r = let_go(w, c.slot);
      c.queued.fetch_add(r.queued);
      c.held.fetch_add(r.held);
      w.ports[c.slot].reset();
      while (w.slots > 0 && !w.ports[w.slots - 1]) --w.slots;
      break;
    }
    case Change::Kind::Release: {
      // The queues that go elsewhere stop here; the flows GRO holds from
      // their ports leave now, and the thread acknowledges once what it
      // queued from them has left too (finish_drain).
      std::vector<uint16_t> flushed;
      {
        std::lock_guard<std::mutex> lock(w.rxqs_mutex);
        std::erase_if(w.rxqs, [&](const Rxq& q) {
          if (thread_of(q.slot, q.queue) == w.index) return false;
          flushed.push_back(q.slot);
          return true;
        });
      }
      for (uint16_t slot : flushed) flush_gro(w, slot, now, true);
      w.draining = &c;
      w.drain_since = now;
      return;  // acknowledged by finish_drain
    }
    case Change::Kind::Take:
      add_rxqs(w, std::nullopt);
      break;
  }
  c.acks.fetch_add(1, std::memory_order_release);
}

// A released queue's packets have left this thread once nothing it queued
// before the release still waits (expiry bounds that by tx_hold_us): the
// queue's new thread cannot overtake them, since a port puts each flow on
// one of its rings or queues whichever thread sends it. A thread that does
// not run sends nothing more: it acknowledges at once.
void Datapath::finish_drain(Worker& w, bool running) {
  if (w.draining == nullptr) return;
  if (running) {
    for (uint16_t i = 0; i < w.slots; ++i)
      if (w.ports[i] && w.ports[i]->tx_count && w.ports[i]->tx[0].since <= w.drain_since) return;
  }
  w.draining->acks.fetch_add(1, std::memory_order_release);
  w.draining = nullptr;
}

uint16_t Datapath::start_thread(uint16_t slot, uint16_t queue) const {
  return uint16_t((slot + queue) % threads());
}

uint16_t Datapath::thread_of(uint16_t slot, uint16_t queue) const {
  for (const Assignment& a : assignment_)
    if (a.slot == slot && a.queue == queue) return a.thread;
  return start_thread(slot, queue);
}

void Datapath::add_rxqs(Worker& w, std::optional<uint16_t> slot) {
  std::lock_guard<std::mutex> lock(w.rxqs_mutex);
  if (!slot)
    for (Rxq& q : w.rxqs) q.cycles = q.packets = 0;
  for (const Assignment& a : assignment_) {
    if (a.thread != w.index || (slot && a.slot != *slot)) continue;
    if (std::none_of(w.rxqs.begin(), w.rxqs.end(),
                     [&](const Rxq& q) { return q.slot == a.slot && q.queue == a.queue; }))
      w.rxqs.push_back({a.slot, a.queue});
  }
}

// What a thread holds for a port that went down or is removed: the packets
// queued for it (counted as dropped on it), the flows GRO holds from it.
Datapath::Removed Datapath::let_go(Worker& w, uint16_t slot) {
  PortState& ps = *w.ports[slot];
  const uint32_t held = ps.gro->drop_all();
  const uint32_t queued = ps.tx_count;
  drop_queued(ps, ps.tx_count, shared_[slot]->port->stats().tx_dropped);
  return {queued, held};
}

void Datapath::for_each_port(const std::function<void(Port&)>& f) const {
  std::lock_guard<std::mutex> lock(list_mutex_);
  for (Port* p : port_list_) f(*p);
}

size_t Datapath::port_count() const {
  std::lock_guard<std::mutex> lock(list_mutex_);
  return port_list_.size();
}

std::unique_ptr<Datapath::PortState> Datapath::make_state() const {
  auto ps = std::make_unique<PortState>();
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

Datapath::Load Datapath::load(uint16_t thread) const {
  const Load& src = workers_[thread]->load;
  Load l;
  l.busy_cycles = __atomic_load_n(&src.busy_cycles, __ATOMIC_RELAXED);
  l.idle_cycles = __atomic_load_n(&src.idle_cycles, __ATOMIC_RELAXED);
  l.rounds = __atomic_load_n(&src.rounds, __ATOMIC_RELAXED);
  l.packets = __atomic_load_n(&src.packets, __ATOMIC_RELAXED);
  return l;
}

Datapath::Load Datapath::load() const {
  Load sum;
  for (uint16_t t = 0; t < threads(); ++t) {
    const Load l = load(t);
    sum.busy_cycles += l.busy_cycles;
    sum.idle_cycles += l.idle_cycles;
    sum.rounds += l.rounds;
    sum.packets += l.packets;
  }
  return sum;
}

std::vector<RxqLoad> Datapath::rx_queues() const {
  std::vector<RxqLoad> out;
  std::lock_guard<std::mutex> ports(list_mutex_);  // no port is destroyed meanwhile
  for (const auto& w : workers_) {
    std::lock_guard<std::mutex> lock(w->rxqs_mutex);
    for (const Rxq& q : w->rxqs) {
      const SharedPort* sp = shared_[q.slot].get();
      if (sp == nullptr) continue;
      out.push_back({sp->port->name(), q.queue, w->index, sp->port->rx_queue_active(q.queue),
                     __atomic_load_n(&q.cycles, __ATOMIC_RELAXED),
                     __atomic_load_n(&q.packets, __ATOMIC_RELAXED)});
    }
  }
  return out;
}

std::vector<RxqLoad> Datapath::rebalance() {
  std::lock_guard<std::mutex> one_at_a_time(control_);
  // A thread that does not run measured nothing, and a queue it gave up
  // would have its packets sent from the caller's thread: no rebalance.
  for (const auto& w : workers_)
    if (!w->running.load()) {
      VO_LOG(WARNING, "rebalance: datapath thread %u is not running; nothing moved", w->index);
      return {};
    }
  // Each queue's measured load, in the order of assignment_.
  std::vector<QueueLoad> loads;
  for (const Assignment& a : assignment_) {
    QueueLoad l{0, a.thread};
    const Worker& w = *workers_[a.thread];
    std::lock_guard<std::mutex> lock(w.rxqs_mutex);
    for (const Rxq& q : w.rxqs)
      if (q.slot == a.slot && q.queue == a.queue) l.cycles = __atomic_load_n(&q.cycles, __ATOMIC_RELAXED);
    loads.push_back(l);
  }
  const std::vector<uint16_t> to = assign_by_load(loads, threads());
  std::vector<RxqLoad> moved;
  for (size_t i = 0; i < assignment_.size(); ++i) {
    if (to[i] == assignment_[i].thread) continue;
    const Port* p = shared_[assignment_[i].slot]->port;
    moved.push_back({p->name(), assignment_[i].queue, to[i],
                     p->rx_queue_active(assignment_[i].queue), loads[i].cycles, 0});
    assignment_[i].thread = to[i];
  }
  // Two steps, so that a queue's new thread starts polling it only once its
  // old one sent (or gave up on) every packet it took from it.
  Change release{Change::Kind::Release};
  post(release);
  Change take{Change::Kind::Take};
  post(take);
  for (const RxqLoad& m : moved)
    VO_LOG(INFO, "rebalance: port %s queue %u to datapath thread %u", m.port.c_str(), m.queue,
           m.thread);
  return moved;
}

void Datapath::quiesce() const {
  for (const auto& w : workers_) {
    const uint64_t e = w->epoch.load();
    if (!w->running.load() || e % 2 == 0) continue;
    while (w->epoch.load() == e && w->running.load())
      std::this_thread::sleep_for(std::chrono::microseconds(10));
  }
}

void Datapath::run(uint16_t thread) {
  Worker& w = *workers_.at(thread);
  std::lock_guard<std::mutex> running(w.loop);
  w.lcore.store(int(rte_lcore_id()));
  w.running.store(true);
  uint32_t sleep_us = 0, idle_polls = 0;
  uint64_t start = rte_get_tsc_cycles();
  while (!stop_.load(std::memory_order_relaxed)) {
    w.epoch.fetch_add(1);  // odd: in flight
    uint32_t busy = round(thread, start);
    w.epoch.fetch_add(1);  // even: quiescent
    if (busy == 0)
      idle(sleep_us, idle_polls);
    else
      sleep_us = idle_polls = 0;
    const uint64_t end = rte_get_tsc_cycles();
    // Relaxed stores of whole words: telemetry reads each without tearing.
    uint64_t& spent = busy ? w.load.busy_cycles : w.load.idle_cycles;
    __atomic_store_n(&spent, spent + (end - start), __ATOMIC_RELAXED);
    __atomic_store_n(&w.load.rounds, w.load.rounds + 1, __ATOMIC_RELAXED);
    start = end;
  }
  w.running.store(false);
}

// Each queue's cycles run from the end of the previous busy poll to the end
// of its own: a poll that finds nothing costs no clock read.
uint32_t Datapath::round(uint16_t thread, uint64_t now) {
  Worker& w = *workers_.at(thread);
  set_datapath_thread(thread);  // the counters it writes are its own
  take_change(w, now);
  uint32_t received = 0;
  uint64_t mark = rte_rdtsc();
  for (Rxq& q : w.rxqs) {
    const uint16_t n = poll(w, q, now);
    if (n == 0) continue;
    const uint64_t end = rte_rdtsc();
    __atomic_store_n(&q.cycles, q.cycles + (end - mark), __ATOMIC_RELAXED);
    __atomic_store_n(&q.packets, q.packets + n, __ATOMIC_RELAXED);
    mark = end;
    received += n;
  }
  if (received) __atomic_store_n(&w.load.packets, w.load.packets + received, __ATOMIC_RELAXED);
  uint32_t busy = received;
  for (uint16_t i = 0; i < w.slots; ++i) {
    if (!w.ports[i]) continue;
    check_ready(w, i);
    flush_tx(w, i, now);
    busy += w.ports[i]->tx_count;  // packets waiting for a full port: no nap
  }
  for (uint16_t i = 0; i < w.slots; ++i)
    if (w.ports[i]) shared_[i]->port->end_of_round(now);
  if (thread == 0) {
    rte_spinlock_lock(&macs_lock_);
    macs_.age(now);
    rte_spinlock_unlock(&macs_lock_);
  }
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

// A port that went down: each thread lets go of what it held for it; thread
// 0, which has every port, also of what the threads share (its MAC entries,
// the MAC it announced).
void Datapath::check_ready(Worker& w, uint16_t slot) {
  PortState& ps = *w.ports[slot];
  SharedPort& sp = *shared_[slot];
  const bool ready = sp.port->ready();
  if (ready || !ps.was_ready) {
    ps.was_ready = ready;
    return;
  }
  ps.was_ready = false;
  const Removed r = let_go(w, slot);
  if (w.index != 0) return;
  rte_spinlock_lock(&macs_lock_);
  macs_.forget_port(slot);
  rte_spinlock_unlock(&macs_lock_);
  sp.security.reset();
  VO_LOG(INFO, "port %s is down: freed %u packets held for merging", sp.port->name().c_str(), r.held);
}

uint16_t Datapath::poll(Worker& w, const Rxq& q, uint64_t now) {
  Port& port = *shared_[q.slot]->port;
  if (!port.ready()) return 0;
  rte_mbuf* pkts[kMaxBurst];
  const uint16_t n = port.rx_burst(q.queue, pkts, cfg_.burst);
  if (n) forward(w, q.slot, pkts, n, now);
  if (n || w.ports[q.slot]->gro->held()) flush_gro(w, q.slot, now);
  return n;
}

// A flow leaves the GRO table at the end of the burst that brought it, unless
// a timeout asks to hold it longer, or the packets bound where it goes wait
// anyway (its destination's queue is not empty: a guest behind on its ring).
// Merging then costs no latency, and the guest that is behind gets fewer,
// larger packets. Held for a backlog at most half of tx_hold_us, so that it
// still has the other half to leave.
void Datapath::flush_gro(Worker& w, uint16_t in, uint64_t now, bool all) {
  GroTable& gro = *w.ports[in]->gro;
  // Three words of capture: std::function keeps it without allocating.
  auto keep = [this, &w, now, all](const rte_mbuf* head, uint64_t since) {
    const uint64_t age = now - since;
    return !all && (age < gro_timeout_tsc_ || (age < tx_hold_tsc_ / 2 && backlogged(w, head, now)));
  };
  rte_mbuf* out[kMaxBurst];
  uint16_t k;
  do {
    k = gro.flush_unless(keep, std::span<rte_mbuf*>(out, kMaxBurst));
    for (uint16_t i = 0; i < k; ++i) deliver_from(w, in, out[i], now);
  } while (k == kMaxBurst);
  const GroStats& gs = gro.stats();
  PortStats& st = shared_[in]->port->stats();
  st.gro_merged = gs.merged_packets;
  st.gro_absorbed = gs.segments_absorbed;
  st.gro_passed = gs.passed_through;
  st.gro_out_of_order = gs.out_of_order;
  st.gro_table_full = gs.table_full;
  st.gro_checksum_bad = gs.checksum_bad;
}

uint16_t Datapath::lookup(const rte_mbuf* m, uint64_t now) {
  const auto* eth = header_at<EthHdr>(m, 0);
  rte_spinlock_lock(&macs_lock_);
  const uint16_t out = macs_.lookup(eth->dst.b, switched_vlan(m), now);
  rte_spinlock_unlock(&macs_lock_);
  return out;
}

bool Datapath::backlogged(Worker& w, const rte_mbuf* m, uint64_t now) {
  const uint16_t out = lookup(m, now);
  return out != MacTable::kNone && w.ports[out] && w.ports[out]->tx_count > 0;
}

// The port's VLAN settings and port security decide whether a frame enters
// the switch; one that does travels untagged, its VLAN in vlan_tci.
Reason Datapath::admit(SharedPort& sp, rte_mbuf* m, FrameL2& l2) const {
  if (l2.truncated_tag) return Reason::TruncatedVlan;
  int vlan = sp.vlan.ingress(l2.tagged, l2.vlan);
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
  return sp.security.check(m, l2);
}

// Admits each frame, then learns and looks up the whole burst under one
// taking of the MAC table's lock, then sends each on.
void Datapath::forward(Worker& w, uint16_t in, rte_mbuf** pkts, uint16_t n, uint64_t now) {
  SharedPort& sp = *shared_[in];
  PortStats& st = sp.port->stats();
  rte_mbuf* kept[kMaxBurst];
  uint16_t types[kMaxBurst], outs[kMaxBurst];
  uint16_t k = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (m->data_len < sizeof(EthHdr)) {
      st.rx_invalid.add(Reason::TruncatedEthernet);
      rte_pktmbuf_free(m);
      continue;
    }
    FrameL2 l2 = frame_l2(m);
    if (Reason r = admit(sp, m, l2); r != Reason::Ok) {
      st.rx_invalid.add(r);
      VO_LOG_RL(WARNING, "port %s: dropped a frame: %s", sp.port->name().c_str(),
                std::string(describe(r)).c_str());
      rte_pktmbuf_free(m);
      continue;
    }
    types[k] = l2.ether_type;
    kept[k++] = m;
  }
  rte_spinlock_lock(&macs_lock_);
  // Read under the lock: a port that went down while this burst was on its
  // way had its entries forgotten by thread 0 (check_ready), and must not
  // get them back from a burst it sent before.
  const bool learn = sp.port->ready();
  for (uint16_t i = 0; i < k; ++i) {
    const auto* eth = header_at<EthHdr>(kept[i], 0);
    const uint16_t vlan = switched_vlan(kept[i]);
    // A secured port's MAC is its own: no other port's frame moves it.
    if (learn && refused(macs_.learn(eth->src.b, vlan, in, now, sp.security.enabled())))
      st.mac_refused++;
    outs[i] = macs_.lookup(eth->dst.b, vlan, now);
  }
  rte_spinlock_unlock(&macs_lock_);
  rte_mbuf* to_gro[kMaxBurst];
  uint16_t ng = 0;
  const bool gro = sp.port->gro_enabled();
  for (uint16_t i = 0; i < k; ++i) {
    const uint16_t out = outs[i];
    if (gro && out != MacTable::kNone && out != in && w.ports[out] && merge_toward(out, types[i]))
      to_gro[ng++] = kept[i];
    else
      deliver(w, in, out, kept[i], now);
  }
  if (ng) run_gro(w, in, to_gro, ng, now);
}

// Merging pays only toward a port that takes the merged packet whole: one with
// TSO for this IP version. Every packet bound there goes through the GRO table,
// large segments and frames too big to merge included: the table passes those
// on in their place, where sending them past it would overtake the segments of
// their flow it holds (and the receiver would see them out of order).
bool Datapath::merge_toward(uint16_t out, uint16_t type) const {
  const Port* p = shared_[out]->port;
  if (!p->ready()) return false;
  TxCaps caps = p->tx_caps();
  return type == kEtherTypeIpv4 ? caps.tso4 : type == kEtherTypeIpv6 && caps.tso6;
}

// GRO on the packets bound for ports that take large segments; the table is
// this thread's of the ingress port, flushed by flush_gro.
void Datapath::run_gro(Worker& w, uint16_t in, rte_mbuf** pkts, uint16_t n, uint64_t now) {
  GroTable& gro = *w.ports[in]->gro;
  rte_mbuf* out[kMaxBurst + 1024];
  std::span<rte_mbuf*> outs(out, n + gro.held());
  GroCounts c = gro.input(std::span<rte_mbuf* const>(pkts, n), now, outs);
  for (uint16_t i = 0; i < c.emitted; ++i) deliver_from(w, in, out[i], now);
}

void Datapath::deliver_from(Worker& w, uint16_t in, rte_mbuf* m, uint64_t now) {
  deliver(w, in, lookup(m, now), m, now);
}

void Datapath::deliver(Worker& w, uint16_t in, uint16_t out, rte_mbuf* m, uint64_t now) {
  SharedPort& src = *shared_[in];
  if (out == in) {  // the destination lives behind the port it came from
    src.port->stats().no_destination++;
    rte_pktmbuf_free(m);
    return;
  }
  // A port this thread has not been told of yet (it is being added) is
  // flooded to as unknown, without it.
  if (out != MacTable::kNone && w.ports[out]) {
    send(w, out, m, now);
    return;
  }
  // Unknown unicast, broadcast, multicast: every other port that is up and
  // carries the frame's VLAN gets a copy, within the budget of the port it
  // came from.
  if (!src.take_flood(now)) {
    src.port->stats().flood_dropped++;
    rte_pktmbuf_free(m);
    return;
  }
  // Each copy gets headers of its own (a trunk tags them, a port without TSO
  // cuts them) over the payload they share: a flooded 64 KB segment costs
  // a header per port, not 64 KB.
  const uint16_t vlan = switched_vlan(m);
  bool sent = false;
  for (uint16_t q = 0; q < w.slots; ++q) {
    if (q == in || !w.ports[q] || !shared_[q]->port->ready() ||
        shared_[q]->vlan.egress(vlan) == PortVlan::Egress::Drop)
      continue;
    sent = true;
    rte_mbuf* c = copy_headers_share_payload(m, pool_, gso_.indirect_pool);
    if (c != nullptr)
      send(w, q, c, now);
    else
      shared_[q]->port->stats().tx_invalid.add(Reason::NoMemory);
  }
  if (!sent) src.port->stats().no_destination++;
  rte_pktmbuf_free(m);
}

bool Datapath::queue_has_room(const PortState& ps, uint32_t entries, uint32_t mbufs) const {
  return ps.tx_count + entries <= kTxBufferSize && ps.tx_mbufs + mbufs <= tx_queue_mbufs_;
}

void Datapath::send(Worker& w, uint16_t out, rte_mbuf* m, uint64_t now) {
  PortState& ps = *w.ports[out];
  SharedPort& sp = *shared_[out];
  Port& port = *sp.port;
  PortStats& st = port.stats();
  const PortVlan::Egress tagging = sp.vlan.egress(switched_vlan(m));
  if (tagging == PortVlan::Egress::Drop) {  // only a misconfiguration gets here
    st.tx_invalid.add(Reason::VlanNotCarried);
    rte_pktmbuf_free(m);
    return;
  }
  bool large = is_large_segment(m);
  // Room for the packet as it is; cutting it can only need more.
  const uint32_t entries = large ? kMaxEgressSegments : 1;
  if (!queue_has_room(ps, entries, m->nb_segs)) flush_tx(w, out, now);
  if (!port.ready() || !queue_has_room(ps, entries, m->nb_segs)) {
    st.tx_dropped++;  // down, or full: tail drop
    rte_pktmbuf_free(m);
    return;
  }
  // Tagged before it is cut: segmentation copies the tag into every
  // segment's headers, for one tag written per large segment.
  if (Reason r = tag_for_egress(m, tagging == PortVlan::Egress::Tagged); r != Reason::Ok) {
    st.tx_invalid.add(r);
    rte_pktmbuf_free(m);
    return;
  }
  // Capabilities are read only once the port is up (ready's acquire pairs
  // with the release that published them).
  rte_mbuf* segs[kMaxEgressSegments];
  uint16_t k = prepare_egress(gso_, port.tx_caps(), st, m, segs);
  for (uint16_t i = 0; i < k; ++i) {
    rte_mbuf* s = segs[i];
    if (Reason r = port.tx_prepare(s); r != Reason::Ok) {
      st.tx_invalid.add(r);
      rte_pktmbuf_free(s);
      continue;
    }
    if (ps.tx_mbufs + s->nb_segs > tx_queue_mbufs_) {  // the cut took more
      st.tx_dropped++;
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

void Datapath::flush_tx(Worker& w, uint16_t out, uint64_t now) {
  PortState& ps = *w.ports[out];
  if (ps.tx_count == 0) return;
  Port& port = *shared_[out]->port;
  PortStats& st = port.stats();
  if (!port.ready()) {
    drop_queued(ps, ps.tx_count, st.tx_dropped);
    return;
  }
  // No packet leaves after waiting more than tx_hold_us from when it was
  // queued: a guest that drains a few packets now and then cannot keep the
  // rest waiting (and the pool held) for longer than that.
  uint16_t stale = 0;
  while (stale < ps.tx_count && now - ps.tx[stale].since > tx_hold_tsc_) ++stale;
  drop_queued(ps, stale, st.tx_expired);
  rte_mbuf* pkts[kTxBufferSize];
  for (uint16_t i = 0; i < ps.tx_count; ++i) pkts[i] = ps.tx[i].m;
  uint16_t done = 0;
  while (done < ps.tx_count) {
    uint16_t sent = port.tx_burst(pkts + done, ps.tx_count - done);
    if (sent == 0) break;
    for (uint16_t i = done; i < done + sent; ++i) {
      st.tx_packets++;
      st.tx_bytes += ps.tx[i].len;
      st.tx_large += ps.tx[i].large;
      ps.tx_mbufs -= ps.tx[i].mbufs;
    }
    done += sent;
  }
  std::memmove(ps.tx, ps.tx + done, (ps.tx_count - done) * sizeof(TxEntry));
  ps.tx_count = uint16_t(ps.tx_count - done);
  // The port is full: the rest waits, in order, for the next round.
  if (ps.tx_count) st.tx_retries++;
}

}  // namespace vo
