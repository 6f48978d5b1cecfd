#include "flood_budget.h"

#include <gtest/gtest.h>

namespace vo {
namespace {

constexpr uint64_t kHz = 1'000'000;  // one tick per microsecond

int taken(FloodBudget& b, uint64_t from, uint64_t to, uint64_t step) {
  int n = 0;
  for (uint64_t t = from; t < to; t += step) n += b.take(t);
  return n;
}

struct Case {
  const char* name;
  uint32_t per_second;
  uint64_t offered_every_us;  // one frame offered this often
  uint64_t seconds;
  int at_least, at_most;      // frames let through
};

// A port offering far more than its budget gets its rate and an initial
// burst of a tenth of a second's worth (at least 32); one within its
// budget loses nothing; 0 is no bound.
const Case kCases[] = {
    {"1,000/s offered 100,000/s for 2 s", 1000, 10, 2, 2000, 2000 + 100 + 1},
    {"100/s offered 100,000/s for 1 s: the burst is 32", 100, 10, 1, 100, 100 + 32 + 1},
    {"1,000/s offered 500/s: all pass", 1000, 2000, 2, 1000, 1000},
    {"no bound", 0, 10, 1, 100000, 100000},
};

TEST(FloodBudget, LetsThroughItsRateAndABurst) {
  for (const Case& c : kCases) {
    FloodBudget b(c.per_second, kHz);
    int n = taken(b, 1, 1 + c.seconds * kHz, c.offered_every_us);
    EXPECT_GE(n, c.at_least) << c.name;
    EXPECT_LE(n, c.at_most) << c.name;
  }
}

TEST(FloodBudget, AnIdleSpellRefillsOnlyUpToTheBurst) {
  FloodBudget b(1000, kHz);
  taken(b, 1, kHz, 10);  // spend it all
  EXPECT_FALSE(b.take(kHz));
  // An hour later: a tenth of a second's worth at once, not an hour's.
  uint64_t later = 3600 * kHz;
  EXPECT_EQ(taken(b, later, later + 200, 1), 100);
}

}  // namespace
}  // namespace vo
