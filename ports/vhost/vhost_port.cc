#include "vhost_port.h"

#include <rte_cycles.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_vhost.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include "features.h"
#include "to_guest.h"
#include "ports/queue_runs.h"
#include "offload/flow_hash.h"
#include "offload/metadata.h"
#include "log/log.h"

namespace vo::vhost {
namespace {

// Virtqueue indexes as the device sees them (virtio 1.2 section 5.1.2): pair
// i is ring 2i to the guest (its receive queue) and 2i+1 from it.
constexpr uint16_t kGuestRxQueue = 0;  // switch -> guest
constexpr uint16_t kGuestTxQueue = 1;  // guest -> switch
constexpr uint32_t kToGuestRings = 0x55555555u;  // the even bits of a ring mask

// The library's callbacks carry only a vid; the socket path leads back to the port.
std::mutex g_registry_mutex;
std::map<std::string, VhostPort*>& registry() {
  static std::map<std::string, VhostPort*> r;
  return r;
}

std::string socket_problem(const std::string& path, bool client) {
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  if (dir.empty()) dir = ".";
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return "directory " + dir + " does not exist: create it or choose another socket path";
  if (!client && access(dir.c_str(), W_OK) != 0)
    return "directory " + dir + " is not writable: run as a user that may create the socket there";
  if (!client && stat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
    return path + " exists and is not a socket: remove it or choose another path";
  return "";
}

// "/run/vm1.sock" -> "vm1"
std::string default_name(const std::string& path) {
  std::string file = path.substr(path.rfind('/') + 1);
  return file.substr(0, file.rfind('.') == 0 ? file.size() : file.rfind('.'));
}

}  // namespace

VhostPort::VhostPort(const VhostOptions& opts, rte_mempool* pool, std::function<void()> quiesce)
    : Port(opts.name.empty() ? default_name(opts.path) : opts.name),
      opts_(opts),
      pool_(pool),
      quiesce_(std::move(quiesce)) {}

std::unique_ptr<VhostPort> VhostPort::create(const VhostOptions& opts, rte_mempool* pool,
                                             std::function<void()> quiesce, std::string& error) {
  if (std::string p = socket_problem(opts.path, opts.client); !p.empty()) {
    error = "vhost-user socket " + opts.path + ": " + p;
    return nullptr;
  }
  struct stat st;
  if (!opts.client && stat(opts.path.c_str(), &st) == 0) {
    VO_LOG(WARNING, "removing stale socket %s left by an earlier run", opts.path.c_str());
    unlink(opts.path.c_str());
  }
  std::unique_ptr<VhostPort> port(new VhostPort(opts, pool, std::move(quiesce)));
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    registry()[opts.path] = port.get();
  }
  std::unique_lock<std::mutex> lock(port->registration_mutex_);
  if (!port->register_socket(error)) return nullptr;  // the destructor unregisters
  if (opts.client) {
    // The first attempt here, so that no registration is left unstarted: the
    // library closes a client's socket only once it connected or failed to.
    const bool up = port->try_connect(lock, false);
    lock.unlock();
    port->connector_ = std::thread([p = port.get(), up] { p->keep_connected(up); });
  } else if (rte_vhost_driver_start(opts.path.c_str()) != 0) {
    error = "cannot start vhost-user socket " + opts.path + ": see the log above";
    return nullptr;
  } else if (opts.access.any() && !apply_socket_access(opts.path.c_str(), opts.access, error)) {
    // The library created the socket with the umask's mode, which lets only
    // the switch's own user connect; until it is given away nobody else can.
    error = "vhost-user socket " + opts.path + ": " + error;
    return nullptr;
  }
  VO_LOG(INFO, "port %s: vhost-user %s %s, offering %s; guest interrupts: %s", port->name().c_str(),
         opts.client ? "client of" : "server on", opts.path.c_str(),
         feature_names(port->offered() & kOffloadMask).c_str(),
         notify_description(opts.notify).c_str());
  return port;
}

bool VhostPort::register_socket(std::string& error) {
  // EXTBUF: a guest's 64 KB segment arrives in one external buffer instead of a
  // chain of 32 mbufs: one copy out of the guest, one buffer for GSO to slice
  // and checksum, one source for the copy into the next guest. Measured with
  // tools/bench switch: VM->VM 13 -> 22 Gbit/s, guest TSO cut for a NIC 9 -> 24.
  // A client reconnects by itself (keep_connected), not by the library.
  const uint64_t flags =
      RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS | RTE_VHOST_USER_NET_STATS_ENABLE |
      RTE_VHOST_USER_EXTBUF_SUPPORT |
      (opts_.client ? RTE_VHOST_USER_CLIENT | RTE_VHOST_USER_NO_RECONNECT : 0);
  const char* path = opts_.path.c_str();
  if (rte_vhost_driver_register(path, flags) != 0) {
    error = "cannot register vhost-user socket " + opts_.path +
            " (is another process serving it? see the log above)";
    return false;
  }
  registered_ = true;
  if (supported_ == 0) {  // the first time: what the library offers, and what of it we do
    rte_vhost_driver_get_features(path, &supported_);
    uint64_t withdrawn = opts_.disabled | kNeverOffered;
    // Coalescing reads the split ring's event index (guest_call.h); guests
    // use split rings unless told otherwise (QEMU's packed=off).
    if (opts_.notify.policy == NotifyPolicy::Coalesce) withdrawn |= bit(kRingPacked);
    if (opts_.max_queue_pairs <= 1) withdrawn |= bit(kMq);
    offered_.store(supported_ & ~withdrawn);
  }
  static const rte_vhost_device_ops ops = {
      .new_device = &VhostPort::on_new_device,
      .destroy_device = &VhostPort::on_destroy_device,
      .vring_state_changed = &VhostPort::on_vring_state_changed,
      .new_connection = &VhostPort::on_new_connection,
      .destroy_connection = &VhostPort::on_destroy_connection,
  };
  // disable_features, not set_features: setting them tells the library that
  // the application implements its own virtio-net backend.
  if (rte_vhost_driver_disable_features(path, supported_ & ~offered()) != 0 ||
      rte_vhost_driver_callback_register(path, &ops) != 0) {
    error = "cannot set up vhost-user socket " + opts_.path + ": see the log above";
    return false;
  }
  return true;
}

namespace {

// While a client port retries, the library's own lines about each attempt
// (socket created, connect refused) are held back: one line of ours says
// that the port waits.
class LibraryQuiet {
 public:
  explicit LibraryQuiet(bool quiet) {
    static const int type = rte_log_register("lib.vhost.config");
    if (quiet && type >= 0 && rte_log_get_level(type) > int(RTE_LOG_ERR)) {
      type_ = type;
      level_ = rte_log_get_level(type);
      rte_log_set_level(type, RTE_LOG_ERR);
    }
  }
  ~LibraryQuiet() {
    if (type_ >= 0) rte_log_set_level(type_, level_);
  }
  LibraryQuiet(const LibraryQuiet&) = delete;
  LibraryQuiet& operator=(const LibraryQuiet&) = delete;

 private:
  int type_ = -1;
  int level_ = 0;
};

}  // namespace

// librte_vhost's client retries a refused connection once a second (its
// reconnect thread sleeps a second between rounds): a switch restarted
// under a running QEMU, or a QEMU restarted under the switch, could wait up
// to a second for nothing. The port makes its connection itself instead,
// with the library's reconnection off: every 10 ms for the first 2 s of
// waiting, then every 200 ms. Each attempt is a fresh registration, since the
// library closes a client socket whose connection failed or ended.
void VhostPort::keep_connected(bool up) {
  const char* path = opts_.path.c_str();
  std::unique_lock<std::mutex> lock(registration_mutex_);
  uint32_t attempts = 0;
  uint64_t waiting_since = rte_get_timer_cycles();
  while (!stopping_) {
    if (up) {
      if (attempts > 0)
        VO_LOG(INFO, "port %s: connected to %s after %.2f s", name().c_str(), path,
               double(rte_get_timer_cycles() - waiting_since) / double(rte_get_timer_hz()));
      connection_cv_.wait(lock, [&] { return stopping_ || !connected_; });
      if (stopping_) break;
      VO_LOG(INFO, "port %s: %s closed the connection; reconnecting", name().c_str(), path);
      attempts = 0;
      waiting_since = rte_get_timer_cycles();
    } else if (attempts == 0) {
      VO_LOG(INFO, "port %s: waiting for QEMU to serve %s (retrying every 10 ms for 2 s, "
             "then every 200 ms)", name().c_str(), path);
    }
    connected_ = false;
    if (registered_) {
      registered_ = false;
      LibraryQuiet quiet(true);
      lock.unlock();
      rte_vhost_driver_unregister(path);
      lock.lock();
    }
    ++attempts;
    const auto pause = std::chrono::milliseconds(attempts < 200 ? 10 : 200);
    if (connection_cv_.wait_for(lock, pause, [&] { return stopping_; })) break;
    up = try_connect(lock, true);
  }
}

// One attempt, with `lock` (registration_mutex_) held but while the library
// connects: its callbacks take it. True once connected.
bool VhostPort::try_connect(std::unique_lock<std::mutex>& lock, bool quiet) {
  LibraryQuiet hush(quiet);
  std::string error;
  if (!registered_ && !register_socket(error)) {
    VO_LOG_RL(WARNING, "port %s: %s", name().c_str(), error.c_str());
    return false;
  }
  connected_ = true;  // before start: the library may close it before start returns
  lock.unlock();
  const bool up = rte_vhost_driver_start(opts_.path.c_str()) == 0;
  lock.lock();
  return up;
}

VhostPort::~VhostPort() {
  if (connector_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(registration_mutex_);
      stopping_ = true;
    }
    connection_cv_.notify_all();
    connector_.join();
  }
  if (registered_) rte_vhost_driver_unregister(opts_.path.c_str());
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  registry().erase(opts_.path);
}

VhostPort* VhostPort::by_vid(int vid) {
  char path[PATH_MAX];
  if (rte_vhost_get_ifname(vid, path, sizeof(path)) != 0) return nullptr;
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  auto it = registry().find(path);
  return it == registry().end() ? nullptr : it->second;
}

// A port is one guest's: whoever connects to its socket while a guest is
// attached would otherwise take the port over (and its leaving would take
// the port down under the first guest). Refused here, the library closes
// the connection before reading a message from it.
int VhostPort::on_new_connection(int vid) {
  VhostPort* p = by_vid(vid);
  if (p == nullptr) return -1;
  if (p->connection_vid_ >= 0) {
    p->refused_connections_++;
    VO_LOG(WARNING, "port %s: refused a second connection on vhost-user socket %s: a guest "
           "(vid %d) is connected to it already; one socket serves one guest, give another "
           "guest its own --vhost port", p->name().c_str(), p->opts_.path.c_str(),
           p->connection_vid_);
    return -1;
  }
  p->connection_vid_ = vid;
  p->ready_rings_.store(0);
  return 0;
}

void VhostPort::on_destroy_connection(int vid) {
  VhostPort* p = by_vid(vid);
  if (p == nullptr || p->connection_vid_ != vid) return;
  p->connection_vid_ = -1;
  p->ready_rings_.store(0);
  if (p->opts_.client) {
    std::lock_guard<std::mutex> lock(p->registration_mutex_);
    p->connected_ = false;
    p->connection_cv_.notify_all();
  }
}

int VhostPort::on_new_device(int vid) {
  VhostPort* p = by_vid(vid);
  if (p == nullptr) return -1;
  p->attach(vid);
  return 0;
}

void VhostPort::on_destroy_device(int vid) {
  if (VhostPort* p = by_vid(vid)) p->detach(vid);
}

// Fires around every change of a vring's call or kick eventfd (the guest
// masking an MSI-X vector, a driver restart), with the library's vring locks
// held: nothing here may wait for the datapath.
int VhostPort::on_vring_state_changed(int vid, uint16_t queue, int enable) {
  VhostPort* p = by_vid(vid);
  if (p == nullptr || p->connection_vid_ != vid) return 0;
  if (queue >= 2 * p->opts_.max_queue_pairs) {
    if (enable) {
      p->refused_rings_++;
      VO_LOG_RL(ERR, "port %s: the guest set up ring %u, beyond the %u queue pairs the port "
                "takes: its traffic there is lost; start the guest with at most %u queues, or "
                "give the port --queues %u", p->name().c_str(), queue, p->opts_.max_queue_pairs,
                p->opts_.max_queue_pairs, queue / 2 + 1);
    }
    return 0;
  }
  // Recorded before the device starts too: the library reports each ring
  // as it becomes ready, the first pair's before new_device.
  if (enable)
    p->ready_rings_.fetch_or(1u << queue, std::memory_order_release);
  else
    p->ready_rings_.fetch_and(~(1u << queue), std::memory_order_release);
  if (enable && p->vid_.load() == vid) p->take_over_calls(vid, queue);
  return 0;
}

void VhostPort::take_over_calls(int vid, uint16_t queue) {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  bool own = opts_.notify.policy == NotifyPolicy::Coalesce;
  if (!calls_[queue].take_over(vid, queue, own) && own)
    VO_LOG(INFO, "port %s: vring %u has no interrupt eventfd (the guest polls it), or it "
           "could not be taken over: the vhost library raises its interrupts",
           name().c_str(), queue);
}

void VhostPort::attach(int vid) {
  uint64_t f = 0;
  rte_vhost_get_negotiated_features(vid, &f);
  TxCaps c;
  c.l4_csum = f & bit(kGuestCsum);
  c.tso4 = c.l4_csum && (f & bit(kGuestTso4));
  c.tso6 = c.l4_csum && (f & bit(kGuestTso6));
  uint16_t mtu = 0;
  // Without an MTU from the device, a guest's receive buffers hold a
  // 1500-byte packet with an 802.1Q tag (virtio 1.2 section 5.1.6.3).
  c.max_frame = (rte_vhost_get_mtu(vid, &mtu) == 0 && mtu != 0 ? mtu : 1500) + 18;
  c.max_tso_frame = 65535 + 18;  // the guest takes the segment whole and never cuts it
  caps_ = c;
  negotiated_.store(f, std::memory_order_release);
  // The datapath polls: the guest need not kick us (saves it a VM exit per
  // kick). With EVENT_IDX the library leaves avail_event where the guest's
  // driver started it, so the guest kicks once per 65,536 buffers at most.
  uint32_t quiet = 0;
  for (uint16_t q = 0; q < rte_vhost_get_vring_num(vid) && q < 2 * kMaxQueuePairs; ++q)
    if (rte_vhost_enable_guest_notification(vid, q, 0) == 0) quiet |= 1u << q;
  quiet_rings_.store(quiet);
  const uint32_t ready = ready_rings_.load();
  for (uint16_t q = 0; q < 2 * kMaxQueuePairs; ++q) {
    calls_[q].configure(rte_get_tsc_hz() * opts_.notify.gap_us / 1000000);
    if (ready & (1u << q)) take_over_calls(vid, q);
  }
  vid_.store(vid, std::memory_order_release);
  ready_.store(true, std::memory_order_release);
  connects_++;
  VO_LOG(INFO, "port %s: guest connected (vid %d), negotiated %s", name().c_str(), vid,
         feature_names(f).c_str());
  if (std::string refused = refused_names(offered(), f); !refused.empty())
    VO_LOG(WARNING,
           "port %s: guest refused %s; the switch does that work in software for it (enable "
           "the offloads on the guest's virtio-net device to avoid the cost)",
           name().c_str(), refused.c_str());
}

void VhostPort::detach(int vid) {
  if (vid_.load() != vid) return;
  // seq_cst: this store must not pass quiesce()'s load of the datapath's
  // epoch, or both sides could miss each other.
  ready_.store(false, std::memory_order_seq_cst);
  if (quiesce_) quiesce_();  // after this the datapath no longer uses vid
  {
    std::lock_guard<std::mutex> lock(calls_mutex_);
    for (GuestCall& c : calls_) c.release();
  }
  std::lock_guard<std::mutex> lock(stats_mutex_);
  vid_.store(-1, std::memory_order_release);
  VO_LOG(INFO, "port %s: guest disconnected", name().c_str());
}

bool VhostPort::set_disabled(uint64_t disabled, std::string& error) {
  const uint64_t now = offered() & kOffloadMask;
  const uint64_t want = supported_ & kOffloadMask & ~disabled;
  const uint64_t off = now & ~want, on = want & ~now;
  const char* path = opts_.path.c_str();
  std::lock_guard<std::mutex> lock(registration_mutex_);  // else the next registration applies it
  if (registered_ && ((off && rte_vhost_driver_disable_features(path, off) != 0) ||
                      (on && rte_vhost_driver_enable_features(path, on) != 0))) {
    error = "the vhost library refused to change the offloads of " + opts_.path;
    return false;
  }
  offered_.store((offered() & ~off) | on);
  VO_LOG(INFO, "port %s: now offering %s (at the guest's next negotiation)", name().c_str(),
         feature_names(offered() & kOffloadMask).c_str());
  return true;
}

void VhostPort::normalize_from_guest(rte_mbuf** pkts, uint16_t& n) {
  uint64_t features = negotiated_.load(std::memory_order_relaxed);
  uint16_t kept = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    Reason r = metadata_from_guest(features, m);
    if (admit_rx(m, r, "guest")) pkts[kept++] = m;
  }
  n = kept;
}

// A pair's rings that became ready since the device started ask for no kicks
// either (the datapath polls). Done here: the library reports them with its
// ring locks held, which rte_vhost_enable_guest_notification takes.
void VhostPort::quiet_new_rings(int vid, uint16_t pair, uint32_t ready) {
  const uint32_t pair_rings = 3u << (2 * pair);
  uint32_t quiet = quiet_rings_.load(std::memory_order_relaxed);
  if (const uint32_t gone = quiet & pair_rings & ~ready)  // a ring set up again asks again
    quiet = quiet_rings_.fetch_and(~gone, std::memory_order_relaxed) & ~gone;
  const uint32_t fresh = pair_rings & ready & ~quiet;
  for (uint32_t f = fresh; f; f &= f - 1)
    rte_vhost_enable_guest_notification(vid, uint16_t(__builtin_ctz(f)), 0);
  if (fresh) quiet_rings_.fetch_or(fresh, std::memory_order_relaxed);  // once each: a ring that refuses only costs kicks
}

// Queue `pair`'s ring from the guest; each pair is polled by one datapath
// lcore.
uint16_t VhostPort::rx_burst(uint16_t pair, rte_mbuf** pkts, uint16_t n) {
  if (!ready() || pair >= kMaxQueuePairs) return 0;
  const uint16_t ring = uint16_t(2 * pair + 1);
  const uint32_t ready = ready_rings_.load(std::memory_order_acquire);
  const int vid = vid_.load(std::memory_order_relaxed);
  quiet_new_rings(vid, pair, ready);
  if (!(ready & (1u << ring))) return 0;
  uint16_t got = rte_vhost_dequeue_burst(vid, ring, pool_, pkts, n);
  normalize_from_guest(pkts, got);
  return got;
}

// The packet is this port's own (a flood gives each port a copy).
Reason VhostPort::tx_prepare(rte_mbuf* m) {
  fold_tunnel_headers(m);
  return Reason::Ok;
}

// Each flow to one of the guest's ready receive rings, by its hash: a flow
// stays on one ring, in order (queue_runs.h).
uint16_t VhostPort::tx_burst(rte_mbuf** pkts, uint16_t n) {
  if (!ready()) return 0;
  const int vid = vid_.load(std::memory_order_relaxed);
  uint16_t rings[kMaxQueuePairs], count = 0;
  for (uint32_t r = ready_rings_.load(std::memory_order_acquire) & kToGuestRings; r; r &= r - 1)
    rings[count++] = uint16_t(__builtin_ctz(r));
  if (count == 0) return 0;
  int full = -1;
  const uint16_t sent = send_in_runs(
      pkts, n, [&](const rte_mbuf* m) { return rings[flow_queue(m, count)]; },
      [&](uint16_t ring, rte_mbuf** p, uint16_t k) {
        const uint16_t took = rte_vhost_enqueue_burst(vid, ring, p, k);
        rte_pktmbuf_free_bulk(p, took);  // enqueue copied them into the guest's buffers
        return took;
      },
      &full);
  if (full >= 0) rx_ring_full_[full / 2].store(true, std::memory_order_relaxed);
  return sent;
}

// One call per ring per round at most, spaced by the gap while the guest
// keeps asking (guest_call.h); each pair on its own. With several datapath
// lcores, whichever comes first does it for the round: the call decides from
// the ring's indexes, which every lcore's packets moved.
void VhostPort::end_of_round(uint64_t now) {
  if (!ready()) return;
  if (pacing_.test_and_set(std::memory_order_acquire)) return;
  const uint32_t ready = ready_rings_.load(std::memory_order_acquire);
  for (uint16_t pair = 0; pair < kMaxQueuePairs; ++pair)
    if ((ready >> (2 * pair)) & 3u) pace_calls(pair, now);
  pacing_.clear(std::memory_order_release);
}

void VhostPort::pace_calls(uint16_t pair, uint64_t now) {
  using Action = CallPacer::Action;
  GuestCall& rx = calls_[2 * pair];
  GuestCall& tx = calls_[2 * pair + 1];
  bool rx_streams = rx.streams(), tx_streams = tx.streams();
  // A guest whose receive ring is full is called at once: held, it would
  // find the ring full again and the switch would queue, then drop.
  Action a = rx.end_of_round(now, tx_streams, rx_ring_full_[pair].exchange(false, std::memory_order_relaxed));
  Action b = tx.end_of_round(now, rx_streams, a == Action::Call);
  // The pair's calls go together: one interrupt where the guest shares one
  // line or vector between its rings (INTx), one gap for both.
  if (b == Action::Call && a == Action::Hold) rx.end_of_round(now, tx_streams, true);
}

// Over every ring of the direction `q` names (0: to the guest, 1: from it).
uint64_t VhostPort::interrupts(uint16_t q) const {
  uint64_t n = 0;
  for (uint16_t r = q; r < 2 * kMaxQueuePairs; r += 2) n += calls_[r].calls();
  if (opts_.notify.policy == NotifyPolicy::Library)
    for (auto& [k, v] : vring_stats())
      if (k == (q == kGuestRxQueue ? "to_guest_guest_notifications" : "from_guest_guest_notifications"))
        n += v;
  return n;
}

uint64_t VhostPort::kicks(uint16_t q) const {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  uint64_t n = 0;
  for (uint16_t r = q; r < 2 * kMaxQueuePairs; r += 2) n += calls_[r].kicks();
  return n;
}

TxCaps VhostPort::tx_caps() const { return caps_; }

Port::Details VhostPort::details() const {
  Details d;
  d.text.emplace_back("socket", opts_.path);
  // Offload features by name (a telemetry string holds 128 bytes), all as bits.
  d.text.emplace_back("features", feature_names(negotiated() & kOffloadMask));
  d.text.emplace_back("offered", feature_names(offered() & kOffloadMask));
  d.numbers.emplace_back("feature_bits", negotiated());
  d.numbers.emplace_back("connects", connects());
  d.numbers.emplace_back("refused_connections", refused_connections());
  d.numbers.emplace_back("max_queue_pairs", opts_.max_queue_pairs);
  d.numbers.emplace_back("queue_pairs", uint64_t(__builtin_popcount(ready_rings_.load() & kToGuestRings)));
  d.numbers.emplace_back("refused_rings", refused_rings_.load());
  d.text.emplace_back("notify", notify_description(opts_.notify));
  d.numbers.emplace_back("to_guest_interrupts", interrupts(kGuestRxQueue));
  d.numbers.emplace_back("from_guest_interrupts", interrupts(kGuestTxQueue));
  d.numbers.emplace_back("to_guest_kicks", kicks(kGuestRxQueue));
  d.numbers.emplace_back("from_guest_kicks", kicks(kGuestTxQueue));
  for (auto& [k, v] : vring_stats()) d.numbers.emplace_back("vring_" + k, v);
  return d;
}

// The library's counters summed over each direction's rings ("to_guest_..."),
// and each queue pair's packets ("q1_to_guest_packets").
std::vector<std::pair<std::string, uint64_t>> VhostPort::vring_stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  std::vector<std::pair<std::string, uint64_t>> out;
  std::vector<std::pair<std::string, uint64_t>> per_queue;
  int vid = vid_.load();
  if (vid < 0) return out;
  const uint16_t rings = uint16_t(std::min<uint32_t>(rte_vhost_get_vring_num(vid), 2 * kMaxQueuePairs));
  for (uint16_t q = 0; q < rings; ++q) {
    int count = rte_vhost_vring_stats_get_names(vid, q, nullptr, 0);
    if (count <= 0) continue;
    std::vector<rte_vhost_stat_name> names(count);
    std::vector<rte_vhost_stat> values(count);
    if (rte_vhost_vring_stats_get_names(vid, q, names.data(), count) != count ||
        rte_vhost_vring_stats_get(vid, q, values.data(), count) != count)
      continue;
    const std::string dir = q % 2 == kGuestRxQueue ? "to_guest_" : "from_guest_";
    for (int i = 0; i < count; ++i) {
      std::string name = names[values[i].id].name;
      // Library names are "rx_q0_good_packets"-style; keep the counter part.
      size_t cut = name.find('_', name.find('_') + 1);
      const std::string key = dir + name.substr(cut == std::string::npos ? 0 : cut + 1);
      auto it = std::find_if(out.begin(), out.end(), [&](const auto& kv) { return kv.first == key; });
      if (it == out.end())
        out.emplace_back(key, values[i].value);
      else
        it->second += values[i].value;
      if (key == dir + "good_packets")
        per_queue.emplace_back(queue_counter(q / 2, dir + "packets"), values[i].value);
    }
  }
  out.insert(out.end(), per_queue.begin(), per_queue.end());
  return out;
}

}  // namespace vo::vhost
