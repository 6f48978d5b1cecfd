// send_in_runs over fake queues: which packet went to which queue, in what
// order, and what is left when a queue fills. Packets are stand-ins (their
// addresses only); packet i belongs to flow flows[i], and flow f goes to
// queue f % queues, as a flow hash would put it.
#include "queue_runs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace vo {
namespace {

struct Row {
  const char* name;
  std::vector<int> flows;  // the flow of each packet of the burst, in order
  int queues;
  std::vector<int> room;   // what each queue takes this burst (-1: all)
  uint16_t want_sent;
  int want_full;           // the queue that took less, or -1
  int want_calls;          // sends made
};

const Row kRows[] = {
    {"one_queue_takes_the_burst_in_one_send", {0, 0, 0, 0}, 1, {-1}, 4, -1, 1},
    {"one_flow_stays_on_its_queue", {3, 3, 3}, 4, {-1, -1, -1, -1}, 3, -1, 1},
    {"flows_interleaved_go_in_runs", {0, 1, 1, 0, 2, 2, 2}, 4, {-1, -1, -1, -1}, 7, -1, 4},
    {"a_full_queue_ends_the_burst_with_its_run", {0, 1, 1, 0}, 2, {-1, 1, -1, -1}, 2, 1, 2},
    {"a_queue_that_takes_nothing_leaves_everything_after", {1, 0, 0}, 2, {-1, 0}, 0, 1, 1},
    {"room_for_exactly_the_run_is_enough", {0, 0, 1}, 2, {2, 1}, 3, -1, 2},
    {"an_empty_burst_sends_nothing", {}, 2, {-1, -1}, 0, -1, 0},
};

class QueueRuns : public ::testing::TestWithParam<Row> {};

TEST_P(QueueRuns, EachFlowInOrderOnItsQueueAndATailLeft) {
  const Row& row = GetParam();
  std::vector<std::array<char, 1>> storage(row.flows.size());
  std::vector<rte_mbuf*> pkts;
  for (auto& s : storage) pkts.push_back(reinterpret_cast<rte_mbuf*>(s.data()));
  auto index_of = [&](const rte_mbuf* m) { return int(reinterpret_cast<const std::array<char, 1>*>(m) - storage.data()); };
  std::vector<int> room = row.room;
  std::vector<std::vector<int>> got(size_t(row.queues));
  int calls = 0;
  int full = -2;
  const uint16_t sent = send_in_runs(
      pkts.data(), uint16_t(pkts.size()),
      [&](const rte_mbuf* m) { return uint16_t(row.flows[size_t(index_of(m))] % row.queues); },
      [&](uint16_t q, rte_mbuf** p, uint16_t k) {
        ++calls;
        for (uint16_t i = 1; i < k; ++i)
          EXPECT_EQ(row.flows[size_t(index_of(p[i]))] % row.queues, q) << "a run mixes queues";
        uint16_t took = room[q] < 0 ? k : uint16_t(std::min<int>(k, room[q]));
        if (room[q] >= 0) room[q] -= took;
        for (uint16_t i = 0; i < took; ++i) got[q].push_back(index_of(p[i]));
        return took;
      },
      &full);
  EXPECT_EQ(sent, row.want_sent);
  EXPECT_EQ(full, row.want_full);
  EXPECT_EQ(calls, row.want_calls);
  // What was sent is the burst's head: packets 0..sent-1, each once, each
  // on its flow's queue, each queue's in the burst's order.
  std::vector<int> seen(row.flows.size(), 0);
  for (int q = 0; q < row.queues; ++q) {
    for (size_t i = 0; i < got[size_t(q)].size(); ++i) {
      const int p = got[size_t(q)][i];
      EXPECT_EQ(row.flows[size_t(p)] % row.queues, q);
      EXPECT_LT(p, int(sent)) << "a packet after the tail's start went out";
      if (i) EXPECT_LT(got[size_t(q)][i - 1], p) << "out of order on queue " << q;
      seen[size_t(p)]++;
    }
  }
  for (size_t p = 0; p < seen.size(); ++p) EXPECT_EQ(seen[p], p < sent ? 1 : 0) << "packet " << p;
}

INSTANTIATE_TEST_SUITE_P(Bursts, QueueRuns, ::testing::ValuesIn(kRows),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace vo
