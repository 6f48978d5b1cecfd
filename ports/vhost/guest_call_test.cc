#include "guest_call.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <vector>

namespace vo::vhost {
namespace {

using Action = CallPacer::Action;

// One round as the pacer sees it, and what it must decide.
struct Round {
  uint16_t used_idx;
  uint16_t used_event;  // with event_idx
  bool no_interrupt;    // without event_idx
  uint64_t now;
  Action expect;
  bool peer_streams = false;  // the pair's other ring streams
  bool now_anyway = false;    // the pair's other ring is called this round
};

struct PacerCase {
  const char* name;
  bool event_idx;
  uint64_t gap;
  std::vector<Round> rounds;
};

const PacerCase kPacerCases[] = {
    {"a ring just taken over is called once, even with nothing new", true, 100,
     {{7, 0, false, 1000, Action::Call}, {7, 0, false, 2000, Action::None}}},
    {"event index not reached: no call; crossed: call", true, 0,
     {{0, 0, false, 0, Action::Call},      // take-over call
      {3, 5, false, 10, Action::None},     // used 0->3, guest waits for 5
      {5, 5, false, 20, Action::None},     // 3->5: event 5 not in [3,5)
      {6, 5, false, 30, Action::Call}}},   // 5->6: crossed
    {"under load one call per gap; the held call goes when the gap is over", true, 100,
     {{0, 0, false, 0, Action::Call},      // take-over
      {4, 0, false, 10, Action::Call},     // nothing known of the load yet
      {5, 4, false, 20, Action::Hold},     // that call found 4 entries: a stream
      {7, 4, false, 60, Action::Hold},     // still owed (event 4 in [4,7)), still < gap
      {8, 4, false, 110, Action::Call},    // the gap since 10 is over
      {9, 8, false, 150, Action::Hold},
      {9, 8, false, 209, Action::Hold},    // nothing new, but still owed
      {9, 8, false, 210, Action::Call}}},
    {"a guest that asks late streams by what the call covered since the last call", true, 100,
     // Linux's virtio-net transmit ring asks for its call when 3/4 of what it
     // has in flight is used (virtqueue_enable_cb_delayed): the rounds before
     // it owe nothing, and the call that crosses covers all of them.
     {{0, 0, false, 0, Action::Call},
      {1, 0, false, 10, Action::Call},    // a lone entry: nothing known of the load
      {6, 6, false, 20, Action::None},    // the guest asks for entry 6
      {7, 6, false, 30, Action::Call},    // one entry since that check, 6 since the call
      {8, 7, false, 40, Action::Hold}}},  // a stream: the next waits for the gap
    {"a request/response exchange is never held: one entry per call", true, 100,
     {{0, 0, false, 0, Action::Call},
      {1, 0, false, 10, Action::Call},
      {2, 1, false, 20, Action::Call},
      {3, 2, false, 30, Action::Call}}},
    {"a guest sending a stream gets its ACKs one by one, held with the stream", true, 100,
     {{0, 0, false, 0, Action::Call},
      {1, 0, false, 10, Action::Call},           // one ACK, and the other ring idle
      {2, 1, false, 20, Action::Hold, true},     // one ACK while the transmit ring streams
      {2, 1, false, 110, Action::Call, true}}},
    {"an owed call goes with the pair's other ring, gap or not; nothing owed, nothing goes",
     true, 100,
     {{0, 0, false, 0, Action::Call},
      {4, 0, false, 10, Action::Call},
      {5, 4, false, 20, Action::Hold},
      {6, 4, false, 30, Action::Call, false, true},
      {7, 9, false, 40, Action::None, false, true}}},   // the guest waits for entry 9
    {"after a quiet spell the first call goes at once (a lone ping)", true, 100,
     {{0, 0, false, 0, Action::Call},
      {1, 0, false, 5000, Action::Call},
      {2, 1, false, 9000, Action::Call}}},
    {"the guest polling (event behind) owes nothing, later crossings count from there", true,
     0,
     {{0, 0, false, 0, Action::Call},
      {10, 100, false, 1, Action::None},   // asks for entry 100: not yet
      {11, 5, false, 2, Action::None},     // entry 5 was before this check's [10,11)
      {12, 11, false, 3, Action::Call}}},  // entry 11 is in [11,12)
    {"16-bit indexes wrap", true, 0,
     {{65534, 0, false, 0, Action::Call},
      {65535, 1, false, 1, Action::None},  // waits for 1
      {2, 1, false, 2, Action::Call}}},   // 65535 -> 2 passes 1
    {"without event index: NO_INTERRUPT set means no call", false, 0,
     {{0, 0, false, 0, Action::Call},
      {1, 0, true, 1, Action::None},
      {2, 0, false, 2, Action::Call},
      {2, 0, false, 3, Action::None}}},    // nothing used since the call
};

class PacerTest : public ::testing::TestWithParam<PacerCase> {};

TEST_P(PacerTest, DecidesEachRound) {
  const PacerCase& c = GetParam();
  CallPacer p(c.gap);
  for (size_t i = 0; i < c.rounds.size(); ++i) {
    const Round& r = c.rounds[i];
    EXPECT_EQ(p.on_round(r.used_idx, c.event_idx, r.used_event, r.no_interrupt, r.now,
                         r.peer_streams, r.now_anyway),
              r.expect)
        << c.name << ", round " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, PacerTest, ::testing::ValuesIn(kPacerCases));

// A split ring's used and avail parts as a guest lays them out (virtio 1.2
// section 2.7): used_event sits after the avail ring's entries.
constexpr uint16_t kSize = 8;
struct FakeRing {
  struct {
    uint16_t flags = 0, idx = 0;
    uint32_t ring[2 * kSize] = {};
  } used;
  struct {
    uint16_t flags = 0, idx = 0;
    uint16_t ring[kSize + 1] = {};  // + used_event
  } avail;
  void set_used_event(uint16_t e) { avail.ring[kSize] = e; }
};

uint64_t drain(int efd) {
  uint64_t v = 0;
  return read(efd, &v, sizeof(v)) == sizeof(v) ? v : 0;
}

int new_eventfd() { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

TEST(GuestCall, TheLibrarysWritesReachNoGuestOursDo) {
  FakeRing ring;
  int guest = new_eventfd();  // the guest's interrupt, as QEMU hands it over
  int lib = dup(guest);       // the library's number for it
  GuestCall call;
  call.configure(0);
  ASSERT_TRUE(call.take_over_fds(lib, &ring.used, &ring.avail, kSize, true));
  uint64_t one = 1;
  ASSERT_EQ(write(lib, &one, sizeof(one)), 8);  // a burst's call: now /dev/null
  EXPECT_EQ(drain(guest), 0u);

  EXPECT_EQ(call.end_of_round(1, false), Action::Call);  // the take-over call
  EXPECT_EQ(drain(guest), 1u);
  ring.used.idx = 3;
  ring.set_used_event(5);
  call.end_of_round(2, false);
  EXPECT_EQ(drain(guest), 0u) << "called before the guest's event index";
  ring.used.idx = 6;
  call.end_of_round(3, false);
  EXPECT_EQ(drain(guest), 1u);
  EXPECT_EQ(call.calls(), 2u);
  close(guest);
  close(lib);
}

TEST(GuestCall, FollowsANewCallEventfdFromTheGuest) {
  FakeRing ring;
  int first = new_eventfd();
  int lib = dup(first);
  GuestCall call;
  call.configure(0);
  ASSERT_TRUE(call.take_over_fds(lib, &ring.used, &ring.avail, kSize, false));
  call.end_of_round(1, false);
  EXPECT_EQ(drain(first), 1u);
  // The library closes its number and receives the guest's new eventfd,
  // which may get the same number.
  int second = new_eventfd();
  ASSERT_EQ(dup2(second, lib), lib);
  EXPECT_TRUE(call.take_over_fds(lib, &ring.used, &ring.avail, kSize, false));
  EXPECT_TRUE(call.take_over_fds(lib, &ring.used, &ring.avail, kSize, false))
      << "a second refresh with nothing new must keep the call";
  ring.used.idx = 1;
  call.end_of_round(2, false);
  EXPECT_EQ(drain(second), 1u);
  EXPECT_EQ(drain(first), 0u) << "called the eventfd the guest replaced";
  close(first);
  close(second);
  close(lib);
}

TEST(GuestCall, AReplacedEventfdIsCalledOnceWhateverTheEventIndex) {
  FakeRing ring;
  int first = new_eventfd();
  int lib = dup(first);
  GuestCall call;
  call.configure(1000000);
  ASSERT_TRUE(call.take_over_fds(lib, &ring.used, &ring.avail, kSize, true));
  call.end_of_round(1, false);  // the take-over call
  ring.used.idx = 5;
  ring.set_used_event(3);
  call.end_of_round(2, false);  // crossed: called on the first eventfd
  EXPECT_EQ(drain(first), 2u);
  // The guest masks its vector: a new eventfd, and it already saw the call
  // above only on the old one. Its event index stays behind.
  int second = new_eventfd();
  ASSERT_EQ(dup2(second, lib), lib);
  ASSERT_TRUE(call.take_over_fds(lib, &ring.used, &ring.avail, kSize, true));
  EXPECT_EQ(call.end_of_round(3, true), Action::Call) << "the guest would wait forever";
  EXPECT_EQ(drain(second), 1u);
  close(first);
  close(second);
  close(lib);
}

TEST(GuestCall, ReleaseGivesTheLibraryItsCallBack) {
  FakeRing ring;
  int guest = new_eventfd();
  int lib = dup(guest);
  GuestCall call;
  call.configure(0);
  ASSERT_TRUE(call.take_over_fds(lib, &ring.used, &ring.avail, kSize, true));
  call.release();  // destroy_device (RESET_OWNER keeps the library's callfd)
  uint64_t one = 1;
  ASSERT_EQ(write(lib, &one, sizeof(one)), 8);
  EXPECT_EQ(drain(guest), 1u) << "the library's call still goes to /dev/null";
  ASSERT_TRUE(call.take_over_fds(lib, &ring.used, &ring.avail, kSize, true));  // new_device
  EXPECT_EQ(call.end_of_round(1, false), Action::Call);
  EXPECT_EQ(drain(guest), 1u);
  close(guest);
  close(lib);
}

TEST(GuestCall, NoCallEventfdMeansTheGuestPolls) {
  FakeRing ring;
  GuestCall call;
  EXPECT_FALSE(call.take_over_fds(-1, &ring.used, &ring.avail, kSize, true));
  EXPECT_FALSE(call.active());
  ring.used.idx = 4;
  EXPECT_EQ(call.end_of_round(1, false), Action::None);
  EXPECT_EQ(call.calls(), 0u);
}

TEST(GuestCall, CountsKicksWithoutConsumingThem) {
  int kick = new_eventfd();
  GuestCall call;
  call.watch_kicks(kick);
  uint64_t one = 1;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(write(kick, &one, sizeof(one)), 8);
  EXPECT_EQ(call.kicks(), 3u);
  EXPECT_EQ(call.kicks(), 3u);
  call.watch_kicks(kick);  // the same eventfd again: counted once
  EXPECT_EQ(call.kicks(), 3u);
  int next = new_eventfd();  // the guest sends a new kick eventfd
  call.watch_kicks(next);
  ASSERT_EQ(write(next, &one, sizeof(one)), 8);
  EXPECT_EQ(call.kicks(), 4u);
  call.release();
  EXPECT_EQ(call.kicks(), 4u) << "kicks are kept when the guest leaves";
  close(kick);
  close(next);
}

TEST(NotifyPolicy, ParsesItsNames) {
  NotifyPolicy p;
  EXPECT_TRUE(parse_notify_policy("library", p));
  EXPECT_EQ(p, NotifyPolicy::Library);
  EXPECT_TRUE(parse_notify_policy("coalesce", p));
  EXPECT_EQ(p, NotifyPolicy::Coalesce);
  EXPECT_FALSE(parse_notify_policy("often", p));
  EXPECT_STREQ(notify_policy_name(NotifyPolicy::Library), "library");
}

}  // namespace
}  // namespace vo::vhost
