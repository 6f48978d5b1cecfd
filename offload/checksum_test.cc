// Internet checksum arithmetic (offload/checksum.h) against published vectors
// and against testing::naive_sum, a byte-at-a-time RFC 1071 sum that shares no
// code with the engine.
#include "offload/checksum.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "offload/headers.h"
#include "offload/testing/eal_env.h"
#include "offload/testing/packet_builder.h"
#include "offload/testing/packet_check.h"

namespace vo {
namespace {

using testing::Bytes;
using testing::naive_sum;

// The engine keeps sums in raw (memory-order) form; tests state values in
// network order, as the RFCs print them.
uint16_t net(uint16_t raw) { return ntohs(raw); }
uint16_t raw_of(uint16_t host) { return htons(host); }

uint16_t sum_of(const Bytes& b) {
  Checksum c;
  c.add(b.data(), b.size());
  return net(c.folded());
}

Bytes random_bytes(std::mt19937& rng, size_t n) {
  Bytes b(n);
  for (auto& x : b) x = uint8_t(rng());
  return b;
}

uint16_t get16(const Bytes& b, size_t off) { return uint16_t(b[off] << 8 | b[off + 1]); }
void set16(Bytes& b, size_t off, uint16_t v) {
  b[off] = uint8_t(v >> 8);
  b[off + 1] = uint8_t(v);
}

// ---------------------------------------------------------------------------
// Known vectors

struct Vector {
  const char* source;
  Bytes data;
  uint16_t folded;  // network order, not complemented
};

class ChecksumVector : public ::testing::TestWithParam<Vector> {};

TEST_P(ChecksumVector, FoldedSumAndComplement) {
  const Vector& v = GetParam();
  EXPECT_EQ(sum_of(v.data), v.folded) << v.source;
  EXPECT_EQ(naive_sum(v.data.data(), v.data.size()), v.folded) << "naive disagrees: " << v.source;
  Checksum c;
  c.add(v.data.data(), v.data.size());
  EXPECT_EQ(net(c.finish()), uint16_t(~v.folded)) << v.source;
}

// The IPv4 header of the Wikipedia "Internet checksum" article
// (4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7): sum 479e, checksum b861.
const Bytes kWikipediaIpv4 = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                              0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

const Vector kVectors[] = {
    // RFC 1071 section 3, "Numerical Examples": bytes 00 01 f2 03 f4 f5 f6 f7
    // sum to 2ddf0, folded ddf2.
    {"RFC 1071 s3", {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, 0xddf2},
    // The same bytes in the other order pairing (RFC 1071 section 2(B)): the
    // sum of the byte-swapped words is the byte-swapped sum.
    {"RFC 1071 s2(B) swap", {0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6}, 0xf2dd},
    // By hand: an empty buffer and all-zero bytes sum to zero.
    {"empty", {}, 0x0000},
    {"zeros", Bytes(7, 0), 0x0000},
    // By hand: a lone trailing byte is the high byte of a zero-padded word (RFC 1071 s4.1).
    {"one byte", {0xab}, 0xab00},
    {"odd tail", {0x12, 0x34, 0x56}, 0x6834},
    // By hand: ffff + ffff = 1fffe -> fffe + 1 = ffff; one's complement never reaches 0 again.
    {"all ones", Bytes(4, 0xff), 0xffff},
    // By hand: 8000 + 8000 = 10000 -> 0000 + 1 = 0001 (end-around carry).
    {"carry", {0x80, 0x00, 0x80, 0x00}, 0x0001},
    // 65,536 bytes of ff: 32768 words of ffff fold to ffff (no accumulator overflow).
    {"64 KiB of ff", Bytes(65536, 0xff), 0xffff},
    {"wikipedia ipv4", kWikipediaIpv4, 0x479e},
};

INSTANTIATE_TEST_SUITE_P(Known, ChecksumVector, ::testing::ValuesIn(kVectors));

// ---------------------------------------------------------------------------
// Streaming: split points, chunk combination, copy_and_sum

class ChecksumSplit : public ::testing::TestWithParam<size_t> {};

TEST_P(ChecksumSplit, EverySplitPointMatchesWhole) {
  std::mt19937 rng{uint32_t(GetParam())};
  Bytes b = random_bytes(rng, GetParam());
  uint16_t whole = naive_sum(b.data(), b.size());
  ASSERT_EQ(sum_of(b), whole);
  for (size_t k = 0; k <= b.size(); ++k) {
    Checksum c;
    c.add(b.data(), k);
    c.add(b.data() + k, b.size() - k);
    EXPECT_EQ(net(c.folded()), whole) << "split at " << k;
    EXPECT_EQ(c.odd(), (b.size() & 1) != 0);
  }
}

TEST_P(ChecksumSplit, EveryTwoSplitPointsMatchWhole) {
  std::mt19937 rng(uint32_t(GetParam()) + 7);
  Bytes b = random_bytes(rng, GetParam());
  uint16_t whole = naive_sum(b.data(), b.size());
  for (size_t i = 0; i <= b.size(); ++i) {
    for (size_t j = i; j <= b.size(); ++j) {
      Checksum c;
      c.add(b.data(), i);
      c.add(b.data() + i, j - i);
      c.add(b.data() + j, b.size() - j);
      ASSERT_EQ(net(c.folded()), whole) << "splits at " << i << ", " << j;
    }
  }
}

TEST_P(ChecksumSplit, ChunksSummedApartCombine) {
  std::mt19937 rng(uint32_t(GetParam()) + 13);
  Bytes b = random_bytes(rng, GetParam());
  uint16_t whole = naive_sum(b.data(), b.size());
  for (int trial = 0; trial < 50; ++trial) {
    Checksum total;
    for (size_t off = 0; off < b.size();) {
      size_t n = std::min<size_t>(b.size() - off, 1 + rng() % 9);  // odd and even chunks
      Checksum chunk;
      chunk.add(b.data() + off, n);
      total.add(chunk);
      off += n;
    }
    ASSERT_EQ(net(total.folded()), whole) << "trial " << trial;
    EXPECT_EQ(total.odd(), (b.size() & 1) != 0);
  }
}

TEST_P(ChecksumSplit, CopyAndSumCopiesAndSums) {
  std::mt19937 rng(uint32_t(GetParam()) + 21);
  Bytes src = random_bytes(rng, GetParam());
  for (size_t lead : {0, 1, 2, 3}) {  // continue a stream that is at an odd or even position
    Bytes prefix = random_bytes(rng, lead);
    Bytes dst(src.size() + 2, 0x5a);
    Checksum c;
    c.add(prefix.data(), prefix.size());
    copy_and_sum(c, dst.data() + 1, src.data(), src.size());
    EXPECT_TRUE(std::equal(src.begin(), src.end(), dst.begin() + 1)) << "lead " << lead;
    EXPECT_EQ(dst.front(), 0x5a);
    EXPECT_EQ(dst.back(), 0x5a);
    Bytes whole = prefix;
    whole.insert(whole.end(), src.begin(), src.end());
    EXPECT_EQ(net(c.folded()), naive_sum(whole.data(), whole.size())) << "lead " << lead;
  }
}

INSTANTIATE_TEST_SUITE_P(Lengths, ChecksumSplit, ::testing::Values(1, 2, 15, 16, 17, 63, 64, 67));

// ---------------------------------------------------------------------------
// sum_mbuf over chains

struct Chain {
  testing::Pool pool{"csum_chain", 64, 512};
  Bytes bytes;
  rte_mbuf* m = nullptr;
  // A chain of mbufs with the given (odd and even) lengths, random content.
  explicit Chain(const std::vector<uint16_t>& lens, uint32_t seed = 1) {
    std::mt19937 rng(seed);
    for (uint16_t n : lens) {
      Bytes part = random_bytes(rng, n);
      rte_mbuf* s = testing::make_mbuf(pool, part);
      if (m == nullptr) m = s;
      else if (rte_pktmbuf_chain(m, s) != 0) std::abort();
      bytes.insert(bytes.end(), part.begin(), part.end());
    }
  }
  ~Chain() {
    rte_pktmbuf_free(m);
    EXPECT_EQ(pool.in_use(), 0u);
  }
};

TEST(SumMbuf, EveryRangeOfAnOddSizedChain) {
  Chain ch({13, 7, 1, 50, 2, 33});
  for (uint32_t off = 0; off <= ch.bytes.size(); ++off) {
    for (uint32_t len = 0; off + len <= ch.bytes.size(); ++len) {
      Checksum c;
      ASSERT_TRUE(sum_mbuf(c, ch.m, off, len)) << off << "+" << len;
      ASSERT_EQ(net(c.folded()), naive_sum(ch.bytes.data() + off, len)) << off << "+" << len;
      ASSERT_EQ(c.odd(), (len & 1) != 0);
    }
  }
}

TEST(SumMbuf, ContinuesAnOddStream) {
  Chain ch({3, 5, 8});
  Checksum c;
  const uint8_t lead = 0x9c;
  c.add(&lead, 1);
  ASSERT_TRUE(sum_mbuf(c, ch.m, 1, 14));
  Bytes whole = {lead};
  whole.insert(whole.end(), ch.bytes.begin() + 1, ch.bytes.begin() + 15);
  EXPECT_EQ(net(c.folded()), naive_sum(whole.data(), whole.size()));
}

TEST(SumMbuf, FalseWhenTheChainIsShorter) {
  Chain ch({13, 7, 1});
  Checksum c;
  EXPECT_FALSE(sum_mbuf(c, ch.m, 0, 22));
  Checksum d;
  EXPECT_FALSE(sum_mbuf(d, ch.m, 21, 1));
  Checksum e;
  EXPECT_TRUE(sum_mbuf(e, ch.m, 20, 1));
}

// ---------------------------------------------------------------------------
// IPv4 header checksum and pseudo-headers

TEST(Ipv4HeaderChecksum, MatchesNaiveForEveryHeaderLength) {
  std::mt19937 rng(5);
  for (uint8_t ihl = 5; ihl <= 15; ++ihl) {
    for (int trial = 0; trial < 20; ++trial) {
      Bytes h = random_bytes(rng, ihl * 4);
      h[0] = uint8_t(0x40 | ihl);
      Bytes zeroed = h;
      set16(zeroed, 10, 0);
      uint16_t want = uint16_t(~naive_sum(zeroed.data(), zeroed.size()));
      // The stored field (random here) must be ignored.
      EXPECT_EQ(net(ipv4_header_checksum(*reinterpret_cast<const Ipv4Hdr*>(h.data()))), want)
          << "ihl " << int(ihl);
      set16(h, 10, want);  // and a header carrying its right checksum gives it again
      EXPECT_EQ(net(ipv4_header_checksum(*reinterpret_cast<const Ipv4Hdr*>(h.data()))), want);
      EXPECT_EQ(naive_sum(h.data(), h.size()), 0xffff);
    }
  }
}

TEST(Ipv4HeaderChecksum, WikipediaExample) {
  Bytes h = kWikipediaIpv4;
  set16(h, 10, 0xdead);
  EXPECT_EQ(net(ipv4_header_checksum(*reinterpret_cast<const Ipv4Hdr*>(h.data()))), 0xb861);
}

Bytes addr(int af, const char* text) {
  Bytes a(af == AF_INET ? 4 : 16);
  EXPECT_EQ(inet_pton(af, text, a.data()), 1);
  return a;
}

TEST(PseudoHeader, Ipv4MatchesHandBuiltRfc793Header) {
  Bytes ip(20, 0);
  ip[0] = 0x45;
  Bytes src = addr(AF_INET, "192.0.2.254"), dst = addr(AF_INET, "198.51.100.7");
  std::copy(src.begin(), src.end(), ip.begin() + 12);
  std::copy(dst.begin(), dst.end(), ip.begin() + 16);
  for (uint8_t proto : {kIpProtoTcp, kIpProtoUdp}) {
    for (uint32_t len : {0u, 20u, 1480u, 0xfffbu, 0xffffu}) {
      // RFC 793 section 3.1: src, dst, zero, protocol, TCP length (16 bits).
      Bytes ph = src;
      ph.insert(ph.end(), dst.begin(), dst.end());
      ph.insert(ph.end(), {0, proto, uint8_t(len >> 8), uint8_t(len)});
      Checksum c;
      add_pseudo_header(c, *reinterpret_cast<const Ipv4Hdr*>(ip.data()), len, proto);
      EXPECT_EQ(net(c.folded()), naive_sum(ph.data(), ph.size())) << len;
      EXPECT_FALSE(c.odd());
    }
  }
}

TEST(PseudoHeader, Ipv6MatchesHandBuiltRfc8200Header) {
  Bytes ip(40, 0);
  ip[0] = 0x60;
  Bytes src = addr(AF_INET6, "2001:db8::1"), dst = addr(AF_INET6, "2001:db8:ffff:1::abcd");
  std::copy(src.begin(), src.end(), ip.begin() + 8);
  std::copy(dst.begin(), dst.end(), ip.begin() + 24);
  for (uint8_t proto : {kIpProtoTcp, kIpProtoUdp}) {
    for (uint32_t len : {0u, 20u, 1460u, 0xffffu, 0x12345u}) {
      // RFC 8200 section 8.1: src, dst, upper-layer length (32 bits), 3 zero bytes, next header.
      Bytes ph = src;
      ph.insert(ph.end(), dst.begin(), dst.end());
      ph.insert(ph.end(), {uint8_t(len >> 24), uint8_t(len >> 16), uint8_t(len >> 8), uint8_t(len),
                           0, 0, 0, proto});
      Checksum c;
      add_pseudo_header(c, *reinterpret_cast<const Ipv6Hdr*>(ip.data()), len, proto);
      EXPECT_EQ(net(c.folded()), naive_sum(ph.data(), ph.size())) << len;
      EXPECT_FALSE(c.odd());
    }
  }
}

// ---------------------------------------------------------------------------
// RFC 1624 incremental update

TEST(ChecksumUpdate, Rfc1624Section3Example) {
  // RFC 1624 section 3: other words sum to cd7a, m = 5555 -> m' = 3285.
  // HC = ~(cd7a + 5555) = dd2f; the new sum is ffff, so HC' must be 0000 (eqn. 3),
  // not the ffff that eqn. 2 gives.
  EXPECT_EQ(net(checksum_update16(raw_of(0xdd2f), raw_of(0x5555), raw_of(0x3285))), 0x0000);
}

// A 20-byte header with a valid checksum at bytes 10-11; `mutate` picks a word.
struct Header {
  Bytes b;
  uint16_t field_raw() const { return raw_of(get16(b, 10)); }
  void recompute() {
    set16(b, 10, 0);
    set16(b, 10, uint16_t(~naive_sum(b.data(), b.size())));
  }
};

uint16_t pick_value(std::mt19937& rng) {
  switch (rng() % 4) {
    case 0: return 0x0000;  // the two representations of zero
    case 1: return 0xffff;
    default: return uint16_t(rng());
  }
}

TEST(ChecksumUpdate, Update16EqualsFullRecompute) {
  std::mt19937 rng(1624);
  for (int trial = 0; trial < 20000; ++trial) {
    Header h{random_bytes(rng, 20)};
    if (trial % 3 == 0) std::fill(h.b.begin(), h.b.end(), uint8_t(trial % 2 ? 0xff : 0x00));
    h.recompute();
    size_t off = 2 * (rng() % 10);
    if (off == 10) off = 0;
    uint16_t old_raw = raw_of(get16(h.b, off));
    uint16_t new_host = pick_value(rng);
    Bytes rest = h.b;
    set16(rest, off, 0);
    set16(rest, 10, 0);
    if (trial % 5 == 0) {
      // Choose the new word so that the new sum is ffff: the checksum becomes 0000.
      new_host = uint16_t(0xffff - naive_sum(rest.data(), rest.size()));
    }
    // All-zero data is the one input where eqn. 3 (0000) and a recompute (ffff)
    // pick different zeros (RFC 1624 section 3); no IP or TCP header is all zero.
    if (new_host == 0 && std::all_of(rest.begin(), rest.end(), [](uint8_t x) { return x == 0; }))
      continue;
    uint16_t got = checksum_update16(h.field_raw(), old_raw, raw_of(new_host));
    set16(h.b, off, new_host);
    h.recompute();
    ASSERT_EQ(net(got), get16(h.b, 10)) << "trial " << trial << " word " << off;
  }
}

TEST(ChecksumUpdate, Update32EqualsFullRecompute) {
  std::mt19937 rng(1625);
  for (int trial = 0; trial < 20000; ++trial) {
    Header h{random_bytes(rng, 20)};
    h.recompute();
    size_t off = 4 * (rng() % 5);
    if (off == 8) off = 12;  // not the word holding the checksum field
    uint32_t old_raw;
    std::memcpy(&old_raw, h.b.data() + off, 4);
    uint16_t hi = pick_value(rng), lo = pick_value(rng);
    set16(h.b, off, hi);
    set16(h.b, off + 2, lo);
    uint32_t new_raw;
    std::memcpy(&new_raw, h.b.data() + off, 4);
    uint16_t before = raw_of(get16(h.b, 10));
    uint16_t got = checksum_update32(before, old_raw, new_raw);
    h.recompute();
    ASSERT_EQ(net(got), get16(h.b, 10)) << "trial " << trial;
  }
}

TEST(ChecksumUpdate, NoChangeKeepsTheChecksum) {
  for (uint16_t c : {0x0000, 0x1234, 0xfffe}) {
    for (uint16_t w : {0x0000, 0xffff, 0xabcd}) {
      EXPECT_EQ(checksum_update16(raw_of(c), raw_of(w), raw_of(w)), raw_of(c)) << c << " " << w;
    }
  }
}

// ---------------------------------------------------------------------------
// complete_partial_checksum

class PartialChecksum : public ::testing::Test {
 protected:
  testing::Pool pool_{"csum_partial", 1024, 2048};
  void TearDown() override { EXPECT_EQ(pool_.in_use(), 0u); }

  static testing::TcpSpec spec(IpVer ip, testing::L4Checksum ck) {
    testing::TcpSpec s;
    s.ip = ip;
    if (ip == IpVer::V6) {
      s.src = "2001:db8::10";
      s.dst = "2001:db8::20";
    }
    s.tcp_options = testing::tcp_timestamp_option(0x01020304, 0xa0b0c0d0);
    s.payload_len = 301;  // odd: the sum ends on a lone byte
    s.checksum = ck;
    return s;
  }
  static uint32_t tcp_off(IpVer ip) { return 14 + (ip == IpVer::V4 ? 20 : 40); }
};

TEST_F(PartialChecksum, CompletesToTheSenderChecksumForEveryChainShape) {
  for (IpVer ip : {IpVer::V4, IpVer::V6}) {
    Bytes partial = testing::build_frame(spec(ip, testing::L4Checksum::Partial));
    Bytes full = testing::build_frame(spec(ip, testing::L4Checksum::Full));
    ASSERT_NE(partial, full);
    // seg_size 0 is one mbuf; every other size chains, and tcp_off + 17 puts the
    // checksum field's two bytes in two mbufs.
    std::vector<uint32_t> sizes = {0, tcp_off(ip) + 17};
    for (uint32_t s = 1; s <= 120; ++s) sizes.push_back(s);
    for (uint32_t seg : sizes) {
      rte_mbuf* m = testing::make_mbuf(pool_, partial, seg);
      ASSERT_NE(m, nullptr);
      ASSERT_TRUE(complete_partial_checksum(m, tcp_off(ip), kTcpChecksumOffset)) << seg;
      EXPECT_EQ(testing::flatten(m), full) << "seg_size " << seg;
      rte_pktmbuf_free(m);
    }
  }
}

TEST_F(PartialChecksum, FieldAtAnyEvenPositionVerifies) {
  std::mt19937 rng(99);
  Bytes data = random_bytes(rng, 97);
  for (uint32_t start = 0; start + 2 <= data.size(); start += 3) {
    for (uint32_t off = 0; start + off + 2 <= data.size(); off += 2) {
      rte_mbuf* m = testing::make_mbuf(pool_, data, 11);
      ASSERT_TRUE(complete_partial_checksum(m, start, off)) << start << "/" << off;
      Bytes got = testing::flatten(m);
      // Only the field changed, and the region now sums to ffff with the old field
      // value (the pseudo-header sum it held) added back.
      Bytes other = got;
      other[start + off] = data[start + off];
      other[start + off + 1] = data[start + off + 1];
      EXPECT_EQ(other, data);
      uint16_t pseudo = get16(data, start + off);
      EXPECT_EQ(naive_sum(got.data() + start, got.size() - start, pseudo), 0xffff)
          << start << "/" << off;
      rte_pktmbuf_free(m);
    }
  }
}

TEST_F(PartialChecksum, RefusesOffsetsOutsideThePacketAndLeavesItUnchanged) {
  Bytes frame = testing::build_frame(spec(IpVer::V4, testing::L4Checksum::Partial));
  const uint32_t len = uint32_t(frame.size());
  const uint32_t tcp = tcp_off(IpVer::V4);
  struct Case {
    const char* what;
    uint32_t start, offset;
  } cases[] = {
      {"start at end", len, 0},
      {"start past end", len + 1, 0},
      {"start far past end", 0xffffffffu, 16},
      {"field at last byte", tcp, len - tcp - 1},
      {"field just past end", tcp, len - tcp},
      {"field far past end", tcp, 0xfffffff0u},
      {"one byte left", len - 1, 0},
      {"offset overflows", 2, 0xffffffffu},
  };
  for (uint32_t seg : {0u, 100u, 7u}) {
    for (const Case& c : cases) {
      rte_mbuf* m = testing::make_mbuf(pool_, frame, seg);
      EXPECT_FALSE(complete_partial_checksum(m, c.start, c.offset)) << c.what;
      EXPECT_EQ(testing::flatten(m), frame) << c.what;
      rte_pktmbuf_free(m);
    }
    // The last two bytes are a legal place for the field.
    rte_mbuf* m = testing::make_mbuf(pool_, frame, seg);
    EXPECT_TRUE(complete_partial_checksum(m, tcp, len - tcp - 2));
    rte_pktmbuf_free(m);
  }
}

}  // namespace
}  // namespace vo
