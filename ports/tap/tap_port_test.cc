// The kernel port against a real TAP: frames a process writes into the
// kernel side, read by the port as the datapath would.
#include "tap_port.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "offload/testing/eal_env.h"
#include "virtio_net_hdr.h"

namespace vo {
namespace {

uint64_t detail(const Port& p, const std::string& key) {
  for (const auto& [k, v] : p.details().numbers)
    if (k == key) return v;
  return 0;
}

// A kernel port on a fresh TAP in this namespace, up, with IPv6 off so that
// the kernel sends nothing of its own on it; and a packet socket that writes
// frames, with a virtio_net_hdr of the writer's choice, into the kernel side.
class TapPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "creating a TAP needs root";
    std::string error;
    readiness_ = TapReadiness::create(error);
    ASSERT_TRUE(readiness_) << error;
    TapOptions o;
    o.ifname = "vo-ut" + std::to_string(getpid() % 100000);
    port_ = TapPort::open(o, pool_.get(), readiness_, error);
    ASSERT_TRUE(port_) << error;
    std::ofstream("/proc/sys/net/ipv6/conf/" + o.ifname + "/disable_ipv6") << "1";
    ASSERT_EQ(std::system(("ip link set " + o.ifname + " up").c_str()), 0);
    ifindex_ = int(if_nametoindex(o.ifname.c_str()));
    sock_ = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    ASSERT_GE(sock_, 0);
    int on = 1;
    ASSERT_EQ(setsockopt(sock_, SOL_PACKET, PACKET_VNET_HDR, &on, sizeof(on)), 0);
    rte_mbuf* none[1];
    ASSERT_EQ(port_->rx_burst(0, none, 1), 0);  // the port takes its spare mbufs
    baseline_ = pool_.in_use();
  }
  void TearDown() override {
    if (sock_ >= 0) close(sock_);
  }
  // A packet socket takes virtio-net's 10-byte header, without num_buffers.
  static constexpr size_t kHdrLen = 10;
  bool send(const VirtioNetHdr& h, const uint8_t* frame, size_t len) {
    uint8_t buf[256];
    std::memcpy(buf, &h, kHdrLen);
    std::memcpy(buf + kHdrLen, frame, len);
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_halen = 6;
    return sendto(sock_, buf, kHdrLen + len, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) ==
           ssize_t(kHdrLen + len);
  }

  testing::Pool pool_{"tap_ut", 4096, 2048 + 128};
  std::shared_ptr<TapReadiness> readiness_;
  std::unique_ptr<TapPort> port_;
  int sock_ = -1;
  int ifindex_ = 0;
  uint32_t baseline_ = 0;
};

// A namespace that streams frames the port refuses must not keep the
// datapath reading: each call reads no more frames than it may return.
TEST_F(TapPortTest, RefusedFramesCountAgainstTheBurst) {
  // NEEDS_CSUM on a frame that is not IP: the kernel passes it through (the
  // checksum field lies inside the frame), the port refuses it.
  uint8_t frame[64] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xb5};
  VirtioNetHdr h{};
  h.flags = VirtioNetHdr::kNeedsCsum;
  h.csum_start.set(34);  // the kernel wants it past an IPv4 header's worth
  h.csum_offset.set(16);
  constexpr int kFrames = 300;
  for (int i = 0; i < kFrames; ++i) ASSERT_TRUE(send(h, frame, sizeof(frame))) << std::strerror(errno);
  rte_mbuf* pkts[32];
  uint64_t reads = detail(*port_, "rx_reads");
  EXPECT_EQ(port_->rx_burst(0, pkts, 32), 0);
  EXPECT_LE(detail(*port_, "rx_reads") - reads, 32u);
  int rounds = 1;
  while (port_->stats().rx_packets < kFrames && rounds < 1000) {
    EXPECT_EQ(port_->rx_burst(0, pkts, 32), 0);
    ++rounds;
  }
  EXPECT_EQ(port_->stats().rx_packets, uint64_t(kFrames));
  EXPECT_EQ(port_->stats().rx_invalid[Reason::NotIp], uint64_t(kFrames));
  EXPECT_GE(rounds, kFrames / 32);
  EXPECT_EQ(pool_.in_use(), baseline_) << "a refused frame's mbufs were not given back";
}

}  // namespace
}  // namespace vo
