#include "guest_call.h"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <rte_vhost.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include "features.h"

namespace vo::vhost {
namespace {

// What the decision reads of a split ring (virtio 1.2 sections 2.7.6 and
// 2.7.8), little-endian 16-bit words the guest writes concurrently: the
// used ring's {flags, idx}, the avail ring's {flags, idx, ring[size],
// used_event}.
struct SplitRingView {
  const volatile uint16_t* used;
  const volatile uint16_t* avail;
  uint16_t size;
  static constexpr uint16_t kNoInterrupt = 1;  // VRING_AVAIL_F_NO_INTERRUPT
  uint16_t used_idx() const { return used[1]; }
  uint16_t avail_flags() const { return avail[0]; }
  uint16_t used_event() const { return avail[2 + size]; }
};

// virtio 1.2 section 2.7.7.2: the device notifies when the used index moved
// past used_event since the last notification, i.e. used_event in [old, new).
bool need_event(uint16_t event, uint16_t now_idx, uint16_t old) {
  return uint16_t(now_idx - event - 1) < uint16_t(now_idx - old);
}

bool is_dev_null(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

// Whether two descriptors of this process refer to the same open file.
// Where kcmp is unavailable (seccomp, no CONFIG_KCMP) the answer is "same":
// a kick count that misses a new eventfd beats one that counts one twice.
bool same_file(int a, int b) {
  pid_t self = getpid();
  return syscall(SYS_kcmp, self, self, KCMP_FILE, a, b) <= 0;
}

// Makes `own` (a new number when -1) refer to what `src` refers to.
bool mirror_fd(int src, int& own) {
  int r = own < 0 ? fcntl(src, F_DUPFD_CLOEXEC, 0) : dup3(src, own, O_CLOEXEC);
  if (r < 0) return false;
  own = r;
  return true;
}

}  // namespace

bool parse_notify_policy(std::string_view s, NotifyPolicy& out) {
  if (s == "library") out = NotifyPolicy::Library;
  else if (s == "coalesce") out = NotifyPolicy::Coalesce;
  else return false;
  return true;
}

const char* notify_policy_name(NotifyPolicy p) {
  return p == NotifyPolicy::Library ? "library" : "coalesce";
}

std::string notify_description(const NotifyConfig& c) {
  if (c.policy == NotifyPolicy::Library) return "library (one per burst)";
  return "coalesce (one per round, " + std::to_string(c.gap_us) + " us apart under load)";
}

CallPacer::Action CallPacer::on_round(uint16_t used_idx, bool event_idx, uint16_t used_event,
                                      bool no_interrupt, uint64_t now, bool peer_streams,
                                      bool now_anyway) {
  bool wanted;
  if (!valid_)
    wanted = true;  // a ring just taken over: one call, in case a burst's call was lost
  else if (used_idx == signalled_)
    return Action::None;
  else
    wanted = event_idx ? need_event(used_event, used_idx, signalled_) : !no_interrupt;
  if (!wanted) {
    // The guest is polling (NAPI) and will look at the ring itself before it
    // asks again; later crossings are counted from here, as Linux's vhost does.
    signalled_ = used_idx;
    return Action::None;
  }
  // Hold only a stream: when the last call of this ring or its pair found
  // the guest a batch. A request/response exchange has one entry in flight
  // per call on both rings, and holding it would add the gap to every round trip.
  // Never held: a ring just taken over (the guest may have waited on the
  // eventfd it replaced), nor one whose unsignalled window nears 16 bits.
  bool may_hold = valid_ && uint16_t(used_idx - signalled_) < 0x8000;
  if (may_hold && !now_anyway && called_once_ && (streams() || peer_streams) &&
      now - last_call_ < gap_tsc_)
    return Action::Hold;
  // The batch counts from the previous call, not from the last check: a
  // guest that asks late (used_event ahead, as virtio-net's transmit ring
  // does) sees one entry cross its event, but every entry since its last
  // interrupt was work for this one.
  last_batch_ = valid_ ? uint16_t(used_idx - called_idx_) : 0;
  called_idx_ = used_idx;
  last_call_ = now;
  called_once_ = true;
  signalled_ = used_idx;
  valid_ = true;
  return Action::Call;
}

bool redirect_fd(int lib_fd, int& own_fd, bool* replaced) {
  if (replaced) *replaced = false;
  if (is_dev_null(lib_fd)) return own_fd >= 0;  // taken over already (or lost: refuse)
  if (replaced) *replaced = own_fd >= 0;
  if (!mirror_fd(lib_fd, own_fd)) return false;
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null < 0) return false;
  int r = dup3(null, lib_fd, O_CLOEXEC);
  close(null);
  return r >= 0;
}

uint64_t eventfd_count(int fd) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return 0;
  char line[128];
  uint64_t count = 0;
  while (std::fgets(line, sizeof(line), f))
    if (std::sscanf(line, "eventfd-count: %" SCNx64, &count) == 1) break;
  std::fclose(f);
  return count;
}

bool GuestCall::take_over(int vid, uint16_t q, bool own_call) {
  rte_vhost_vring vr;
  uint64_t features = 0;
  if (rte_vhost_get_vhost_vring(vid, q, &vr) != 0 ||
      rte_vhost_get_negotiated_features(vid, &features) != 0)
    return false;
  if (vr.kickfd >= 0) watch_kicks(vr.kickfd);
  if (!own_call || (features >> kRingPacked & 1)) return false;
  return take_over_fds(vr.callfd, vr.used, vr.avail, vr.size, features >> kEventIdx & 1);
}

void GuestCall::watch_kicks(int kickfd) {
  if (kick_fd_ >= 0 && same_file(kick_fd_, kickfd)) return;
  if (kick_fd_ >= 0) kicks_before_ += eventfd_count(kick_fd_);  // the guest sent a new one
  mirror_fd(kickfd, kick_fd_);
}

bool GuestCall::take_over_fds(int lib_callfd, const void* used, const void* avail,
                              uint16_t size, bool event_idx) {
  if (lib_callfd < 0) {  // the guest asked for no interrupts on this ring
    active_.store(false, std::memory_order_release);
    return false;
  }
  bool replaced = false;
  if (!redirect_fd(lib_callfd, call_fd_, &replaced)) return false;
  lib_callfd_ = lib_callfd;
  // A new eventfd from the guest (an MSI-X vector masked or unmasked): a call
  // the datapath made meanwhile may have gone to the old one, so the next
  // round calls again, whatever the event index says.
  if (replaced) resync_.store(true, std::memory_order_release);
  if (!active_.load(std::memory_order_relaxed)) {
    // The datapath does not look at the pacer or the ring until active_.
    size_ = size;
    event_idx_ = event_idx;
    pacer_.reset();
  }
  used_.store(used, std::memory_order_relaxed);
  avail_.store(avail, std::memory_order_relaxed);
  active_.store(true, std::memory_order_release);
  return true;
}

void GuestCall::release() {
  active_.store(false, std::memory_order_release);
  // Give the library its call back: after RESET_OWNER it keeps the same
  // callfd for the next device, which must not stay /dev/null.
  if (call_fd_ >= 0 && lib_callfd_ >= 0 && is_dev_null(lib_callfd_))
    dup3(call_fd_, lib_callfd_, O_CLOEXEC);
  lib_callfd_ = -1;
  if (call_fd_ >= 0) close(call_fd_);
  if (kick_fd_ >= 0) {
    kicks_before_ += eventfd_count(kick_fd_);
    close(kick_fd_);
  }
  call_fd_ = kick_fd_ = -1;
}

CallPacer::Action GuestCall::end_of_round(uint64_t now, bool peer_streams, bool now_anyway) {
  if (!active_.load(std::memory_order_acquire)) return CallPacer::Action::None;
  if (resync_.exchange(false, std::memory_order_acq_rel)) pacer_.reset();
  SplitRingView ring{static_cast<const volatile uint16_t*>(used_.load(std::memory_order_relaxed)),
                     static_cast<const volatile uint16_t*>(avail_.load(std::memory_order_relaxed)),
                     size_};
  uint16_t idx = ring.used_idx();
  // The library's store of the used index must be visible to the guest
  // before we read whether it wants a call, or both sides could wait
  // (virtio 1.2 section 2.7.7.2; the library fences the same way).
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  bool no_interrupt = ring.avail_flags() & SplitRingView::kNoInterrupt;
  CallPacer::Action a = pacer_.on_round(idx, event_idx_, ring.used_event(), no_interrupt, now,
                                        peer_streams, now_anyway);
  if (a == CallPacer::Action::Call) {
    uint64_t one = 1;
    if (write(call_fd_, &one, sizeof(one)) == sizeof(one))
      calls_.store(calls_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  return a;
}

uint64_t GuestCall::kicks() const {
  return kicks_before_ + (kick_fd_ >= 0 ? eventfd_count(kick_fd_) : 0);
}

}  // namespace vo::vhost
