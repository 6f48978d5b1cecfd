// The forwarding loop through fake ports driven round by round on a clock of
// the test's own: what a port that drains slowly, takes nothing, or leaves
// does to the packets queued for it, and what flooding costs the pool. Bytes
// are checked with the independent decoder; pools return to where they started.
#include "datapath.h"

#include <gtest/gtest.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <limits>
#include <memory>
#include <set>
#include <mutex>
#include <map>
#include <thread>

#include "offload/metadata.h"
#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"
#include "offload/testing/packet_check.h"

namespace vo {
namespace {

using testing::Bytes;
using testing::TcpSpec;

// A port the test feeds and drains: rx hands out what the test queued,
// tx takes at most `room` packets per round (the rest stay the caller's).
class FakePort : public Port {
 public:
  FakePort(const std::string& name, TxCaps caps) : Port(name), caps_(caps) {}
  ~FakePort() override {
    for (rte_mbuf* m : rx) rte_pktmbuf_free(m);
    release_sent();
  }
  [[nodiscard]] const char* kind() const override { return "fake"; }
  [[nodiscard]] bool ready() const override { return up; }
  uint16_t rx_burst(uint16_t, rte_mbuf** pkts, uint16_t n) override {
    uint16_t k = 0;
    for (; k < n && !rx.empty(); ++k) {
      pkts[k] = rx.front();
      rx.pop_front();
    }
    return k;
  }
  uint16_t tx_burst(rte_mbuf** pkts, uint16_t n) override {
    uint16_t k = uint16_t(std::min<uint32_t>(n, room_left_));
    room_left_ -= k;
    for (uint16_t i = 0; i < k; ++i) sent.push_back({pkts[i], clock});
    sent_count.fetch_add(k);
    return k;
  }
  [[nodiscard]] TxCaps tx_caps() const override { return caps_; }
  void end_of_round(uint64_t) override { room_left_ = room; }
  void set_room(uint32_t r) { room = room_left_ = r; }
  void release_sent() {
    for (auto& s : sent) rte_pktmbuf_free(s.m);
    sent.clear();
  }

  struct Sent {
    rte_mbuf* m;
    uint64_t at;  // the test's clock when the port took it
  };
  bool up = true;
  uint64_t clock = 0;
  std::deque<rte_mbuf*> rx;
  std::vector<Sent> sent;
  std::atomic<size_t> sent_count{0};  // for a test on another thread than the datapath

 private:
  TxCaps caps_;
  uint32_t room = std::numeric_limits<uint32_t>::max();
  uint32_t room_left_ = std::numeric_limits<uint32_t>::max();
};

TxCaps tso_caps() {
  TxCaps c;
  c.tso4 = c.tso6 = c.l4_csum = true;
  return c;
}

// A TCP frame from MAC 02:00:00:00:00:<src> to 02:00:00:00:00:<dst>
// (0xff: broadcast).
Bytes frame(uint8_t src, uint8_t dst, uint32_t payload_len, uint32_t seed = 1,
            uint8_t flags = testing::tcp_flag::kAck | testing::tcp_flag::kPsh) {
  TcpSpec s;
  s.flags = flags;
  s.payload_len = payload_len;
  s.payload_seed = seed;
  s.checksum = payload_len > 1448 ? testing::L4Checksum::Partial : testing::L4Checksum::Full;
  Bytes f = testing::build_frame(s);
  const uint8_t d[6] = {0x02, 0, 0, 0, 0, dst}, b[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  std::copy_n(dst == 0xff ? b : d, 6, f.begin());
  const uint8_t sm[6] = {0x02, 0, 0, 0, 0, src};
  std::copy_n(sm, 6, f.begin() + 6);
  return f;
}

class DatapathTest : public ::testing::Test {
 protected:
  DatapathTest() { cfg_.flood_pps = 0; }

  // Builds the datapath over `n` fake ports; call once per test.
  void start(std::vector<TxCaps> caps, std::vector<PortPolicy> policies = {}) {
    GsoConfig gso{pool_, indirect_};
    dp_ = std::make_unique<Datapath>(cfg_, gso, pool_);
    for (size_t i = 0; i < caps.size(); ++i) {
      ports_.push_back(std::make_unique<FakePort>(std::string("p").append(std::to_string(i)), caps[i]));
      add(ports_.back().get(), i < policies.size() ? policies[i] : PortPolicy{});
    }
    hz_ = rte_get_tsc_hz();
    now_ = rte_get_tsc_cycles();
  }
  void add(Port* p, const PortPolicy& policy = {}) {
    std::string error;
    ASSERT_TRUE(dp_->add_port(p, policy, error)) << error;
  }
  void round() {
    for (auto& p : ports_) p->clock = now_;
    dp_->round(now_);
  }
  void advance_us(uint64_t us) { now_ += hz_ * us / 1000000; }
  // Port `i` sends a frame from MAC i+1, so that it is learned there.
  void announce(size_t i) {
    ports_[i]->rx.push_back(testing::make_mbuf(pool_, frame(uint8_t(i + 1), 0xff, 64)));
    round();
    for (auto& p : ports_) p->release_sent();
  }
  uint32_t in_use() const { return pool_.in_use() + indirect_.in_use(); }
  void TearDown() override {
    dp_.reset();
    ports_.clear();
    EXPECT_EQ(pool_.in_use(), 0u);
    EXPECT_EQ(indirect_.in_use(), 0u);
  }

  testing::Pool pool_{"dp_pkts", 4096, 2048 + RTE_PKTMBUF_HEADROOM};
  testing::Pool indirect_{"dp_ind", 4096, 0};
  DatapathConfig cfg_;
  std::unique_ptr<Datapath> dp_;
  std::vector<std::unique_ptr<FakePort>> ports_;
  uint64_t hz_ = 0, now_ = 0;
};

// A guest that takes a packet now and then must not keep the others waiting
// past --tx-hold-us: each packet's wait counts from when it was queued, not
// from the port's last step.
TEST_F(DatapathTest, SlowDrainDoesNotHoldPacketsPastTheHold) {
  cfg_.tx_hold_us = 2000;
  cfg_.burst = 64;  // all 50 arrive in one round
  start({tso_caps(), tso_caps()});
  announce(1);
  ports_[1]->set_room(1);
  const uint64_t queued_at = now_;
  for (int i = 0; i < 50; ++i)
    ports_[0]->rx.push_back(testing::make_mbuf(pool_, frame(1, 2, 100, uint32_t(i))));
  for (int r = 0; r < 20; ++r) {
    round();
    advance_us(500);
  }
  const PortStats st = ports_[1]->stats_total();
  ASSERT_FALSE(ports_[1]->sent.empty());
  for (const auto& s : ports_[1]->sent)
    EXPECT_LE(s.at - queued_at, hz_ * cfg_.tx_hold_us / 1000000) << "sent after the hold";
  EXPECT_EQ(ports_[1]->sent.size() + st.tx_expired, 50u);
  EXPECT_EQ(st.tx_dropped, 0u);
  // The packets that made it left in the order they came.
  for (size_t i = 0; i < ports_[1]->sent.size(); ++i)
    EXPECT_EQ(testing::flatten(ports_[1]->sent[i].m), frame(1, 2, 100, uint32_t(i)));
  ports_[1]->release_sent();
  EXPECT_EQ(in_use(), 0u);
}

// Segment `i` of one TCP flow from MAC 1 to MAC 2, 1448 bytes each, its
// payload the pattern of seed i + 1.
Bytes stream_segment(uint32_t i) {
  TcpSpec s;
  s.seq = 1000 + i * 1448;
  s.payload_len = 1448;
  s.payload_seed = i + 1;
  s.flags = testing::tcp_flag::kAck;  // PSH would end the merge
  Bytes f = testing::build_frame(s);
  const uint8_t d[6] = {0x02, 0, 0, 0, 0, 2}, sm[6] = {0x02, 0, 0, 0, 0, 1};
  std::copy_n(d, 6, f.begin());
  std::copy_n(sm, 6, f.begin() + 6);
  return f;
}

// While packets already wait for a guest (its ring is full), the segments
// that keep coming for it are merged into one packet instead of one per
// burst: they would wait anyway. Once the queue has drained, the flow leaves;
// and a guest that stays full does not keep it past half the hold.
TEST_F(DatapathTest, GroHoldsAFlowWhileItsDestinationIsBacklogged) {
  start({tso_caps(), tso_caps()});
  announce(1);
  ports_[1]->set_room(0);
  uint32_t next = 0;
  auto burst = [&](uint32_t n) {
    for (uint32_t k = 0; k < n; ++k)
      ports_[0]->rx.push_back(testing::make_mbuf(pool_, stream_segment(next++), 512));
    round();
  };
  burst(4);  // merged, queued: the guest takes nothing
  burst(4);
  burst(4);
  burst(4);
  ports_[1]->set_room(std::numeric_limits<uint32_t>::max());
  round();  // the queue drains
  round();  // the flow held meanwhile follows
  ASSERT_EQ(ports_[1]->sent.size(), 2u) << "segments that came during the backlog were not merged";
  Bytes stream;
  const uint32_t want[] = {4, 12};
  uint32_t seq = 1000;
  for (size_t p = 0; p < 2; ++p) {
    const testing::Decoded d = testing::decode(testing::flatten(ports_[1]->sent[p].m));
    ASSERT_TRUE(d.error.empty()) << d.error;
    EXPECT_EQ(d.seq, seq);
    EXPECT_EQ(d.payload.size(), want[p] * 1448u);
    EXPECT_EQ(ports_[1]->sent[p].m->tso_segsz, 1448u);
    EXPECT_TRUE(d.ip.checksum_ok);
    seq += uint32_t(d.payload.size());
    stream.insert(stream.end(), d.payload.begin(), d.payload.end());
  }
  Bytes sent_stream;
  for (uint32_t i = 0; i < 16; ++i) {
    Bytes p = testing::payload_bytes(i + 1, 0, 1448);
    sent_stream.insert(sent_stream.end(), p.begin(), p.end());
  }
  EXPECT_EQ(stream, sent_stream);
  ports_[1]->release_sent();

  // A guest that stays full: after half the hold the flow joins the queue,
  // and leaves with it the moment the guest takes packets again.
  ports_[1]->set_room(0);
  burst(2);
  burst(2);
  advance_us(cfg_.tx_hold_us / 2 + 10);
  round();
  ports_[1]->set_room(std::numeric_limits<uint32_t>::max());
  round();
  ASSERT_EQ(ports_[1]->sent.size(), 2u) << "the flow was held past half the hold";
  EXPECT_EQ(ports_[1]->stats_total().tx_expired, 0u);
  ports_[1]->release_sent();
  EXPECT_EQ(in_use(), 0u);
}

// A port that stops draining holds at most --tx-queue-mbufs of the pool,
// however large the packets queued for it are.
TEST_F(DatapathTest, QueueForAFullPortIsBoundedInMbufs) {
  cfg_.tx_queue_mbufs = 256;
  start({tso_caps(), tso_caps()});
  announce(1);
  ports_[1]->set_room(0);
  std::vector<Bytes> frames;
  for (int i = 0; i < 40; ++i) {
    frames.push_back(frame(1, 2, 60000, uint32_t(i)));
    TcpSpec s;
    rte_mbuf* m = testing::make_mbuf(pool_, frames.back(), 2048);
    ASSERT_EQ(mark_tso(m, 1448), Reason::Ok);
    ports_[0]->rx.push_back(m);
  }
  const uint32_t per_packet = ports_[0]->rx.front()->nb_segs;
  for (int r = 0; r < 3; ++r) round();  // bursts of 32: all 40 arrive
  EXPECT_LE(in_use(), cfg_.tx_queue_mbufs) << "queued beyond the bound";
  const uint32_t queued = cfg_.tx_queue_mbufs / per_packet;
  EXPECT_EQ(ports_[1]->stats_total().tx_dropped, 40u - queued);
  // The port drains again: what was queued leaves whole and intact.
  ports_[1]->set_room(std::numeric_limits<uint32_t>::max());
  round();
  ASSERT_EQ(ports_[1]->sent.size(), queued);
  for (size_t i = 0; i < queued; ++i) EXPECT_EQ(testing::flatten(ports_[1]->sent[i].m), frames[i]);
  ports_[1]->release_sent();
  EXPECT_EQ(in_use(), 0u);
}

// A large segment flooded to several ports shares its payload: only headers
// are copied per port, and each port's copy can be changed (tagged, cut)
// without touching the others'.
TEST_F(DatapathTest, FloodCopiesHeadersAndSharesThePayload) {
  PortVlanConfig access10{.tag = 10}, trunk10{.trunks = {10}};
  TxCaps no_tso;  // cuts and finishes every checksum in software
  start({tso_caps(), tso_caps(), tso_caps(), no_tso},
        {{{}, access10}, {{}, access10}, {{}, trunk10}, {{}, access10}});
  const Bytes f = frame(1, 9, 60000);  // MAC 9 is nowhere: flooded
  rte_mbuf* m = testing::make_mbuf(pool_, f, 2048);
  ASSERT_EQ(mark_tso(m, 1448), Reason::Ok);
  const uint32_t chain = m->nb_segs;
  ports_[0]->rx.push_back(m);
  round();
  // Ports 1..3 each hold theirs: the payload once, a few header mbufs, and
  // the 42 segments port 3 cut.
  EXPECT_LE(pool_.in_use(), chain + 2 + 42) << "payload copied per port";
  ASSERT_EQ(ports_[1]->sent.size(), 1u);
  EXPECT_EQ(testing::flatten(ports_[1]->sent[0].m), f);
  ASSERT_EQ(ports_[2]->sent.size(), 1u);
  Bytes tagged = testing::flatten(ports_[2]->sent[0].m);
  testing::Decoded d = testing::decode(tagged);
  ASSERT_TRUE(d.error.empty()) << d.error;
  EXPECT_EQ(d.vlan, 10);
  Bytes untagged = tagged;
  untagged.erase(untagged.begin() + 12, untagged.begin() + 16);
  EXPECT_EQ(untagged, f);
  Bytes stream;
  for (const auto& s : ports_[3]->sent) {
    testing::Decoded seg = testing::decode(testing::flatten(s.m));
    ASSERT_TRUE(seg.error.empty()) << seg.error;
    EXPECT_TRUE(seg.tcp_checksum_ok);
    EXPECT_FALSE(seg.vlan.has_value());
    stream.insert(stream.end(), seg.payload.begin(), seg.payload.end());
  }
  EXPECT_EQ(stream, testing::payload_bytes(1, 0, 60000));
  for (auto& p : ports_) p->release_sent();
  EXPECT_EQ(in_use(), 0u);
}

// A port that goes down gives back what was queued for it, counted.
TEST_F(DatapathTest, PortGoingDownFreesItsQueue) {
  start({tso_caps(), tso_caps()});
  announce(1);
  ports_[1]->set_room(0);
  for (int i = 0; i < 10; ++i) ports_[0]->rx.push_back(testing::make_mbuf(pool_, frame(1, 2, 100)));
  round();
  EXPECT_GT(in_use(), 0u);
  ports_[1]->up = false;
  round();
  EXPECT_EQ(ports_[1]->stats_total().tx_dropped, 10u);
  EXPECT_EQ(in_use(), 0u);
}

// Frames that go nowhere are counted, not freed in silence: one for a MAC
// behind the port it came from, one flooded with no other port up.
TEST_F(DatapathTest, FramesWithNowhereToGoAreCounted) {
  start({tso_caps(), tso_caps()});
  announce(0);
  ports_[0]->rx.push_back(testing::make_mbuf(pool_, frame(1, 1, 100)));  // to itself
  round();
  EXPECT_EQ(ports_[0]->stats_total().no_destination, 1u);
  ports_[1]->up = false;
  ports_[0]->rx.push_back(testing::make_mbuf(pool_, frame(1, 0xff, 100)));
  round();
  EXPECT_EQ(ports_[0]->stats_total().no_destination, 2u);
  EXPECT_TRUE(ports_[1]->sent.empty());
  EXPECT_EQ(in_use(), 0u);
}

// The GRO table's own counters travel with the port's.
TEST_F(DatapathTest, GroStatisticsAreThePorts) {
  start({tso_caps(), tso_caps()});
  announce(1);
  for (int i = 0; i < 2; ++i)  // the same segment twice: the second is out of order
    ports_[0]->rx.push_back(testing::make_mbuf(pool_, frame(1, 2, 1000, 1, testing::tcp_flag::kAck)));
  round();
  const PortStats st = ports_[0]->stats_total();
  EXPECT_EQ(st.gro_out_of_order, 1u);
  EXPECT_EQ(st.gro_passed, 1u);
  EXPECT_EQ(st.gro_merged, 0u);
  EXPECT_EQ(ports_[1]->sent.size(), 2u);
  ports_[1]->release_sent();
  EXPECT_EQ(in_use(), 0u);
}

// A port removed gives back what the datapath held for it (its queue, the
// flows GRO held from it), counted; its MAC is forgotten, so a port that
// takes its slot later does not get its traffic.
TEST_F(DatapathTest, RemovedPortLeavesNothingBehind) {
  cfg_.gro_timeout_us = 1000000;  // GRO holds flows across rounds
  start({tso_caps(), tso_caps(), tso_caps()});
  announce(1);
  announce(2);
  ports_[1]->set_room(0);
  for (int i = 0; i < 5; ++i) ports_[0]->rx.push_back(testing::make_mbuf(pool_, frame(1, 2, 100)));
  ports_[2]->rx.push_back(testing::make_mbuf(pool_, frame(3, 2, 1000, 1, testing::tcp_flag::kAck)));
  round();
  Datapath::Removed gone = dp_->remove_port(ports_[1].get());
  EXPECT_EQ(gone.queued, 5u);
  EXPECT_EQ(dp_->remove_port(ports_[2].get()).held, 1u) << "its flow toward port 1, held by GRO";
  EXPECT_EQ(in_use(), 0u);
  EXPECT_EQ(dp_->port_count(), 1u);
  auto newcomer = std::make_unique<FakePort>("new", tso_caps());
  add(newcomer.get());
  ports_[0]->rx.push_back(testing::make_mbuf(pool_, frame(1, 2, 100)));  // to the old MAC: flooded
  round();
  EXPECT_EQ(newcomer->sent.size(), 1u);
  EXPECT_EQ(ports_[0]->stats_total().no_destination, 0u);
  dp_->remove_port(newcomer.get());
}

// Ports come and go while run() forwards on another thread: the flow between
// two other ports loses nothing, and nothing leaks.
TEST_F(DatapathTest, PortsComeAndGoWhileItRuns) {
  start({tso_caps(), tso_caps()});
  announce(1);
  constexpr int kFrames = 3000;
  for (int i = 0; i < kFrames; ++i)
    ports_[0]->rx.push_back(testing::make_mbuf(pool_, frame(1, 2, 100, uint32_t(i))));
  std::thread loop([&] { dp_->run(); });
  auto wait_for_sent = [&](size_t n) {
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ports_[1]->sent_count.load() < n && std::chrono::steady_clock::now() < limit)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
  };
  wait_for_sent(1);  // the loop runs: the changes below are handed to it
  for (int cycle = 0; cycle < 200; ++cycle) {
    FakePort extra("extra", tso_caps());
    add(&extra);
    dp_->remove_port(&extra);
  }
  wait_for_sent(kFrames);
  dp_->stop();
  loop.join();
  ASSERT_EQ(ports_[1]->sent.size(), size_t(kFrames)) << "the other ports' flow lost frames";
  for (int i = 0; i < kFrames; i += 500)
    EXPECT_EQ(testing::flatten(ports_[1]->sent[size_t(i)].m), frame(1, 2, 100, uint32_t(i)));
  ports_[1]->release_sent();
  EXPECT_EQ(in_use(), 0u);
}

// A port with several receive queues, safe to poll and send to from several
// threads (as a NIC with a queue per thread): the test feeds queue q with
// flow q and reads what was sent.
class QueuedPort : public Port {
 public:
  QueuedPort(const std::string& name, uint16_t queues) : Port(name), rx_(queues) {}
  ~QueuedPort() override {
    for (auto& q : rx_)
      for (rte_mbuf* m : q) rte_pktmbuf_free(m);
    for (rte_mbuf* m : sent) rte_pktmbuf_free(m);
  }
  [[nodiscard]] const char* kind() const override { return "fake"; }
  [[nodiscard]] bool ready() const override { return true; }
  [[nodiscard]] uint16_t rx_queues() const override { return uint16_t(rx_.size()); }
  uint16_t rx_burst(uint16_t queue, rte_mbuf** pkts, uint16_t n) override {
    std::lock_guard<std::mutex> lock(mutex_);
    polled_by[queue].insert(datapath_thread());
    uint16_t k = 0;
    for (; k < n && !rx_[queue].empty(); ++k) {
      pkts[k] = rx_[queue].front();
      rx_[queue].pop_front();
    }
    return k;
  }
  uint16_t tx_burst(rte_mbuf** pkts, uint16_t n) override {
    std::lock_guard<std::mutex> lock(mutex_);
    sent.insert(sent.end(), pkts, pkts + n);
    return n;
  }
  [[nodiscard]] TxCaps tx_caps() const override { return tso_caps(); }
  void feed(uint16_t queue, rte_mbuf* m) {
    std::lock_guard<std::mutex> lock(mutex_);
    rx_[queue].push_back(m);
  }
  size_t sent_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return sent.size();
  }

  std::vector<rte_mbuf*> sent;
  std::map<uint16_t, std::set<uint16_t>> polled_by;  // queue -> threads that polled it

 private:
  std::mutex mutex_;
  std::vector<std::deque<rte_mbuf*>> rx_;
};

// Flow q's frame number i, from MAC 1 to MAC 2: TCP source port 40000 + q,
// sequence number i.
Bytes flow_frame(uint16_t q, uint32_t i) {
  TcpSpec s;
  s.src_port = uint16_t(40000 + q);
  s.seq = i;
  s.payload_len = 100;
  s.payload_seed = q * 100000 + i;
  Bytes f = testing::build_frame(s);
  const uint8_t d[6] = {0x02, 0, 0, 0, 0, 2}, sm[6] = {0x02, 0, 0, 0, 0, 1};
  std::copy_n(d, 6, f.begin());
  std::copy_n(sm, 6, f.begin() + 6);
  return f;
}

class DatapathThreadsTest : public DatapathTest {
 protected:
  // A 4-queue sender in slot 0 and a receiver in slot 1, on two threads.
  void start_two_threads() {
    cfg_.threads = 2;
    set_datapath_threads(2);
    GsoConfig gso{pool_, indirect_};
    dp_ = std::make_unique<Datapath>(cfg_, gso, pool_);
    sender_ = std::make_unique<QueuedPort>("sender", 4);
    receiver_ = std::make_unique<QueuedPort>("receiver", 1);
    sender_->set_gro_enabled(false);  // frames go through one by one, as they came
    std::string error;
    ASSERT_TRUE(dp_->add_port(sender_.get(), {}, error));
    ASSERT_TRUE(dp_->add_port(receiver_.get(), {}, error));
    now_ = rte_get_tsc_cycles();
    // The receiver's MAC, learned from its queue (slot 1, queue 0: thread 1).
    receiver_->feed(0, testing::make_mbuf(pool_, frame(2, 0xff, 64)));
    dp_->round(1, now_);
    release(*sender_);
  }
  void release(QueuedPort& p) {
    for (rte_mbuf* m : p.sent) rte_pktmbuf_free(m);
    p.sent.clear();
  }
  // Every frame of every flow arrived once, each flow's in the order sent,
  // byte for byte.
  void expect_flows_in_order(uint32_t per_flow) {
    std::map<uint16_t, uint32_t> next;
    for (rte_mbuf* m : receiver_->sent) {
      const Bytes b = testing::flatten(m);
      const testing::Decoded d = testing::decode(b);
      const uint16_t q = uint16_t(d.src_port - 40000);
      ASSERT_LT(q, 4);
      ASSERT_EQ(d.seq, next[q]) << "flow " << q << " reordered or lost a frame";
      ASSERT_EQ(b, flow_frame(q, d.seq));
      next[q]++;
    }
    for (uint16_t q = 0; q < 4; ++q) EXPECT_EQ(next[q], per_flow) << "flow " << q;
  }
  void TearDown() override {
    dp_.reset();
    sender_.reset();
    receiver_.reset();
    set_datapath_threads(1);
    DatapathTest::TearDown();
  }

  std::unique_ptr<QueuedPort> sender_, receiver_;
};

// Each queue is polled by one thread, the ports' first queues spread over
// the threads, and each thread counts its own.
TEST_F(DatapathThreadsTest, EachQueueIsPolledByOneThread) {
  start_two_threads();
  for (uint16_t q = 0; q < 4; ++q) sender_->feed(q, testing::make_mbuf(pool_, flow_frame(q, 0)));
  dp_->round(0, now_);
  EXPECT_EQ(sender_->sent_count(), 0u);
  EXPECT_EQ(receiver_->sent_count(), 2u) << "thread 0 polls queues 0 and 2 of slot 0";
  dp_->round(1, now_);
  EXPECT_EQ(receiver_->sent_count(), 4u);
  for (uint16_t q = 0; q < 4; ++q)
    EXPECT_EQ(sender_->polled_by[q], (std::set<uint16_t>{uint16_t(q % 2)})) << "queue " << q;
  EXPECT_EQ(receiver_->polled_by[0], (std::set<uint16_t>{1}));
  std::map<std::pair<std::string, uint16_t>, uint16_t> where;
  for (const RxqLoad& r : dp_->rx_queues()) where[{r.port, r.queue}] = r.thread;
  EXPECT_EQ(where, (std::map<std::pair<std::string, uint16_t>, uint16_t>{
                       {{"sender", 0}, 0}, {{"sender", 1}, 1}, {{"sender", 2}, 0},
                       {{"sender", 3}, 1}, {{"receiver", 0}, 1}}));
  EXPECT_EQ(sender_->stats_total().rx_packets, 0u) << "the fake port counts nothing itself";
  EXPECT_EQ(receiver_->stats_total().tx_packets, 4u);
  EXPECT_EQ(dp_->load(0).packets, 2u);
  EXPECT_EQ(dp_->load(1).packets, 1u + 2u);  // the receiver's announcement, queues 1 and 3
  expect_flows_in_order(1);
}

// Two running threads; queues 0 and 2 (both on thread 0) carry most of the
// traffic, so a rebalance moves one of them to thread 1, while frames flow:
// no flow loses or reorders a frame, and the pool is back where it was.
TEST_F(DatapathThreadsTest, RebalanceMovesAQueueLosingAndReorderingNothing) {
  start_two_threads();
  std::thread t0([&] { dp_->run(0); });
  std::thread t1([&] { dp_->run(1); });
  constexpr uint32_t kPerFlow = 1200;  // every frame stays with the receiver: within the pool
  std::vector<RxqLoad> moved;
  // Queues 1 and 3 stay idle until the rebalance: they bring no load and stay.
  for (uint32_t i = 0; i < kPerFlow; ++i) {
    sender_->feed(0, testing::make_mbuf(pool_, flow_frame(0, i)));
    sender_->feed(2, testing::make_mbuf(pool_, flow_frame(2, i)));
    if (i >= kPerFlow / 2 && i % 2 == 0) {
      sender_->feed(1, testing::make_mbuf(pool_, flow_frame(1, (i - kPerFlow / 2) / 2)));
      sender_->feed(3, testing::make_mbuf(pool_, flow_frame(3, (i - kPerFlow / 2) / 2)));
    }
    if (i == kPerFlow / 2) moved = dp_->rebalance();
    if (i % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (receiver_->sent_count() < 2 * kPerFlow + 2 * kPerFlow / 4 &&
         std::chrono::steady_clock::now() < limit)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  dp_->stop();
  t0.join();
  t1.join();
  // One of the two busy queues goes to thread 1 (and a light one may go
  // the other way to even the loads); each polled since by its new thread.
  ASSERT_FALSE(moved.empty());
  EXPECT_EQ(std::count_if(moved.begin(), moved.end(), [](const RxqLoad& m) {
              return m.port == "sender" && (m.queue == 0 || m.queue == 2) && m.thread == 1;
            }), 1);
  for (const RxqLoad& m : moved) {
    for (const RxqLoad& r : dp_->rx_queues()) {
      if (r.port == m.port && r.queue == m.queue) {
        EXPECT_EQ(r.thread, m.thread);
      }
    }
    QueuedPort& port = m.port == "sender" ? *sender_ : *receiver_;
    EXPECT_EQ(port.polled_by[m.queue], (std::set<uint16_t>{0, 1})) << m.port << " queue " << m.queue;
  }
  // Flows 1 and 3 carry a quarter as many, all after the rebalance.
  std::map<uint16_t, uint32_t> next;
  for (rte_mbuf* m : receiver_->sent) {
    const testing::Decoded d = testing::decode(testing::flatten(m));
    const uint16_t q = uint16_t(d.src_port - 40000);
    ASSERT_EQ(d.seq, next[q]) << "flow " << q << " reordered or lost a frame";
    next[q]++;
  }
  EXPECT_EQ(next[0], kPerFlow);
  EXPECT_EQ(next[2], kPerFlow);
  EXPECT_EQ(next[1], kPerFlow / 4);
  EXPECT_EQ(next[3], kPerFlow / 4);
  release(*receiver_);
  EXPECT_EQ(in_use(), 0u);
}

// A thread that does not run measured nothing and would have its queues'
// packets sent from the caller's thread: the rebalance leaves every queue.
TEST_F(DatapathThreadsTest, NoRebalanceWhileAThreadIsNotRunning) {
  start_two_threads();
  // Queues 0 and 2, both on thread 0, bring far more than the receiver's one
  // frame on thread 1: a rebalance would move one of them.
  for (uint32_t i = 0; i < 200; ++i)
    for (uint16_t q : {0, 2}) sender_->feed(q, testing::make_mbuf(pool_, flow_frame(q, i)));
  for (int r = 0; r < 8; ++r) dp_->round(0, now_);
  const std::vector<RxqLoad> before = dp_->rx_queues();
  EXPECT_TRUE(dp_->rebalance().empty());
  const std::vector<RxqLoad> after = dp_->rx_queues();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].thread, before[i].thread);
  std::map<uint16_t, uint32_t> next;
  for (rte_mbuf* m : receiver_->sent) {
    const testing::Decoded d = testing::decode(testing::flatten(m));
    ASSERT_EQ(d.seq, next[d.src_port]++);
  }
  EXPECT_EQ(next[40000], 200u);
  EXPECT_EQ(next[40002], 200u);
  release(*receiver_);
}

// Ports added and removed while two threads forward between two others.
TEST_F(DatapathThreadsTest, PortsComeAndGoUnderTwoThreads) {
  start_two_threads();
  std::thread t0([&] { dp_->run(0); });
  std::thread t1([&] { dp_->run(1); });
  constexpr uint32_t kPerFlow = 800;  // every frame stays with the receiver: within the pool
  for (uint32_t i = 0; i < kPerFlow; ++i)
    for (uint16_t q = 0; q < 4; ++q) sender_->feed(q, testing::make_mbuf(pool_, flow_frame(q, i)));
  for (int cycle = 0; cycle < 100; ++cycle) {
    QueuedPort extra("extra", 3);
    std::string error;
    ASSERT_TRUE(dp_->add_port(&extra, {}, error));
    dp_->remove_port(&extra);
  }
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (receiver_->sent_count() < 4 * kPerFlow && std::chrono::steady_clock::now() < limit)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  dp_->stop();
  t0.join();
  t1.join();
  expect_flows_in_order(kPerFlow);
  release(*receiver_);
  EXPECT_EQ(in_use(), 0u);
}

}  // namespace
}  // namespace vo
