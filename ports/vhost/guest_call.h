// Interrupts into a guest: when the switch "calls" a virtqueue (writes the
// eventfd QEMU or KVM turns into the guest's interrupt), and how often.
//
// librte_vhost 22.11 raises the call itself at the end of every enqueue and
// dequeue burst in which the guest's event index was crossed: one interrupt
// per burst, however many bursts a datapath round makes and however close
// together they come. It has no switch to defer that call, so a port that
// coalesces takes the call over (GuestCall::take_over):
//   - the library keeps its callfd number, but that number is made to refer to
//     /dev/null (dup2), so its per-burst eventfd_write costs a write and
//     reaches no guest;
//   - the port keeps its own descriptor for the guest's eventfd, a number that
//     stays the same for the port's life (a new eventfd from the guest is
//     dup2'd onto it), so the datapath never writes to a descriptor that was
//     closed under it;
//   - at the end of each datapath round the port reads the ring's used index
//     and the guest's wish (used_event with VIRTIO_RING_F_EVENT_IDX, else
//     VRING_AVAIL_F_NO_INTERRUPT; virtio 1.2 section 2.7.7) and decides.
// The alternatives were worse: rte_vhost_vring_call() writes the same callfd
// the bursts write; a pre_msg_handle hook that steals the fd from
// VHOST_USER_SET_VRING_CALL would depend on the library's private message
// layout.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace vo::vhost {

enum class NotifyPolicy : uint8_t {
  Library,   // the vhost library calls after every burst (DPDK's behaviour)
  Coalesce,  // one call per datapath round at most, spaced by gap_us under load
};

struct NotifyConfig {
  NotifyPolicy policy = NotifyPolicy::Coalesce;
  // Least time between two calls of one queue while the guest streams (the
  // last call found it a batch on either ring of the pair). The first call
  // after a quiet gap goes at once, and so does every call of a
  // request/response exchange (one entry per call): a lone packet waits no
  // longer than one datapath round. A streaming guest takes at most one
  // interrupt per gap per queue and finds more packets each time, as with a
  // NIC's interrupt throttling (e1000's InterruptThrottleRate). 1.5 ms:
  // under TCG, in one run of tools/bench notify (4 repetitions, interleaved),
  // 1 ms gave 1,577/2,150 interrupts per GB into/out of the guest at
  // 5.19/3.80 Gbit/s, 1.5 ms 1,014/1,390 at 5.35/4.01: fewer interrupts at
  // no cost in throughput, a lone packet still never held.
  uint32_t gap_us = 1500;
};

// "library" / "coalesce"; false for anything else.
bool parse_notify_policy(std::string_view s, NotifyPolicy& out);
const char* notify_policy_name(NotifyPolicy p);
// For logs and statistics: "coalesce (one per round, 100 us apart under load)".
std::string notify_description(const NotifyConfig& c);

// The decision alone, over plain numbers, so that tests can drive it.
class CallPacer {
 public:
  enum class Action : uint8_t { None, Hold, Call };
  explicit CallPacer(uint64_t gap_tsc) : gap_tsc_(gap_tsc) {}
  // Called once per round with the ring's used index, what the guest asked
  // for (used_event when event_idx, else whether it set NO_INTERRUPT) and
  // the time. Call: raise the interrupt now. Hold: the guest is owed one
  // that waits for the gap (ask again next round). None: nothing owed.
  // `peer_streams`: the guest's other ring of the pair streams (a guest
  // sending 64 KB segments gets its ACKs one at a time on the receive ring).
  // `now_anyway`: the pair's other ring is called this round: a call owed
  // here goes with it, gap or not (with INTx, or one MSI-X vector for the
  // pair, the guest takes both as one interrupt).
  Action on_round(uint16_t used_idx, bool event_idx, uint16_t used_event, bool no_interrupt,
                  uint64_t now, bool peer_streams = false, bool now_anyway = false);
  // The last call found the guest a batch: this ring carries a stream.
  [[nodiscard]] bool streams() const { return last_batch_ >= kStreamBatch; }
  // A new ring (guest connected or its driver restarted): the first call
  // goes whatever the event index says, as the library does.
  void reset() { valid_ = false; }

 private:
  // Used entries a call must have covered for the next to be held: more
  // than a lone packet's one.
  static constexpr uint16_t kStreamBatch = 2;
  uint64_t gap_tsc_;
  uint64_t last_call_ = 0;
  uint16_t last_batch_ = 0;  // used entries the last call covered
  uint16_t called_idx_ = 0;  // used index at the last call
  uint16_t signalled_ = 0;  // used index at the last call or check
  bool valid_ = false;
  bool called_once_ = false;
};

// One virtqueue's call, taken over from librte_vhost. The library thread
// calls take_over() and release(); the datapath lcore calls end_of_round().
class GuestCall {
 public:
  GuestCall() = default;
  GuestCall(const GuestCall&) = delete;
  GuestCall& operator=(const GuestCall&) = delete;
  ~GuestCall() { release(); }

  void configure(uint64_t gap_tsc) { pacer_ = CallPacer(gap_tsc); }
  // Takes the call of vring `q` of device `vid` over (own_call), or
  // refreshes it after the guest sent a new call eventfd, and starts
  // counting the vring's kicks either way. False when the call stays the
  // library's: not asked, the guest wants none (it polls), or a packed ring.
  bool take_over(int vid, uint16_t q, bool own_call);
  // The same over explicit pieces (tests): the library's callfd number and
  // the ring, whose pointers must stay valid while active.
  bool take_over_fds(int lib_callfd, const void* used, const void* avail, uint16_t size,
                     bool event_idx);
  // Counts the kicks on `kickfd` (a new eventfd from the guest adds to the count).
  void watch_kicks(int kickfd);
  // Stops calling and closes this side's descriptors. Only once the datapath
  // has quiesced (it may be in end_of_round()).
  void release();
  [[nodiscard]] bool active() const { return active_.load(std::memory_order_acquire); }

  // Datapath: decides and raises this round's call (Hold: one is owed and
  // waits for the gap, to be decided again next round). `peer_streams`, `now_anyway`: as for
  // CallPacer::on_round.
  CallPacer::Action end_of_round(uint64_t now, bool peer_streams, bool now_anyway = false);
  [[nodiscard]] bool streams() const { return pacer_.streams(); }

  [[nodiscard]] uint64_t calls() const { return calls_.load(std::memory_order_relaxed); }
  // Kicks (guest -> switch notifications) on this vring's kick eventfd so
  // far: nobody reads that eventfd while the datapath polls, so its counter
  // is the number of kicks. Read from /proc/self/fdinfo, which consumes nothing.
  [[nodiscard]] uint64_t kicks() const;

 private:
  CallPacer pacer_{0};
  std::atomic<bool> active_{false};
  int call_fd_ = -1;  // our own number for the guest's call eventfd
  int kick_fd_ = -1;  // our own number for the guest's kick eventfd
  uint64_t kicks_before_ = 0;  // kicks counted on eventfds since replaced
  std::atomic<const void*> used_{nullptr};
  std::atomic<const void*> avail_{nullptr};
  uint16_t size_ = 0;
  bool event_idx_ = false;
  int lib_callfd_ = -1;  // the library's number for the call, pointed at /dev/null
  std::atomic<bool> resync_{false};  // the guest replaced its call eventfd
  std::atomic<uint64_t> calls_{0};   // written by the datapath only
};

// Points descriptor `lib_fd` at /dev/null and makes `own_fd` (opened with a
// new number when -1) refer to what lib_fd referred to; *replaced: own_fd
// referred to another eventfd before. No-op when lib_fd already points at
// /dev/null and own_fd is open. False on a system call failure, or when
// lib_fd is /dev/null and there is no own_fd to call through.
bool redirect_fd(int lib_fd, int& own_fd, bool* replaced = nullptr);
// The counter of eventfd `fd` from /proc/self/fdinfo; 0 if it is none.
uint64_t eventfd_count(int fd);

}  // namespace vo::vhost
