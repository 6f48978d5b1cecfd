// The rebalance's arithmetic: where each queue goes for the loads measured.
#include "rxq_assignment.h"

#include <gtest/gtest.h>

namespace vo {
namespace {

struct Case {
  const char* name;
  uint16_t threads;
  std::vector<QueueLoad> queues;      // load, thread now
  std::vector<uint16_t> want;         // thread after
  std::vector<uint64_t> want_loads;   // each thread's load after
};

const Case kCases[] = {
    {"two busy queues on one thread: one moves", 2,
     {{100, 0}, {90, 0}}, {0, 1}, {100, 90}},
    {"already even: nothing moves", 2,
     {{100, 0}, {90, 1}}, {0, 1}, {100, 90}},
    {"a tie keeps the queue where it is", 2,
     {{50, 1}, {50, 0}}, {1, 0}, {50, 50}},
    {"idle queues stay and count for nothing", 2,
     {{0, 1}, {0, 1}, {80, 1}, {70, 1}}, {1, 1, 1, 0}, {70, 80}},
    {"busiest first, each to the least loaded", 2,
     {{10, 0}, {60, 0}, {30, 0}, {40, 0}}, {0, 0, 1, 1}, {70, 70}},
    {"three threads, four queues", 3,
     {{90, 0}, {80, 0}, {70, 0}, {20, 0}}, {0, 1, 2, 2}, {90, 80, 90}},
    {"a thread that is gone gives its queues up", 1,
     {{40, 1}, {10, 0}}, {0, 0}, {50}},
};

TEST(RxqAssignment, ByLoad) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const std::vector<uint16_t> got = assign_by_load(c.queues, c.threads);
    EXPECT_EQ(got, c.want);
    EXPECT_EQ(thread_loads(c.queues, got, c.threads), c.want_loads);
  }
}

TEST(RxqAssignment, NoQueues) {
  EXPECT_TRUE(assign_by_load({}, 2).empty());
  EXPECT_EQ(thread_loads({}, {}, 2), (std::vector<uint64_t>{0, 0}));
}

}  // namespace
}  // namespace vo
