// Writes the seed corpus of fuzz_engine: valid packets from readable TcpSpecs
// with the parameters that make the engine do real work.
//
//   make_corpus DIR     (the checked-in seeds live in offload/fuzz/corpus/)
#include <cstdio>
#include <string>
#include <vector>

#include "offload/fuzz/fuzz_input.h"
#include "offload/testing/packet_builder.h"
#include "offload/testing/packet_check.h"

namespace vo::fuzz {
namespace {

using testing::Bytes;
using testing::TcpSpec;
using testing::VxlanSpec;

struct Seed {
  const char* name;
  TcpSpec spec;
  Params params;
  bool fix_lengths = false;  // grow the packet, keeping its lengths valid
};

Params params(uint16_t mss) {
  Params p{};
  p.mss = mss;
  p.flags_b = 5;  // out_cap 64
  p.misc = 0x30;  // GRO bursts of 4
  for (uint16_t& o : p.fix_off) o = kNoFix;
  return p;
}

TcpSpec tcp(IpVer ip, uint32_t payload) {
  TcpSpec s;
  s.ip = ip;
  if (ip == IpVer::V6) {
    s.src = "2001:db8::1";
    s.dst = "2001:db8::2";
  }
  s.tcp_options = testing::tcp_timestamp_option(100, 200);
  s.payload_len = payload;
  s.flags = 0x10;
  s.checksum = testing::L4Checksum::Partial;
  return s;
}

std::vector<Seed> seeds() {
  std::vector<Seed> v;
  {
    Seed s{"tcp4_ts_mss1000", tcp(IpVer::V4, 3000), params(1000)};
    v.push_back(s);
  }
  {
    // One mbuf whose bytes are an external buffer: the single-mbuf fast path.
    Seed s{"tcp4_flat_external", tcp(IpVer::V4, 1400), params(600)};
    s.params.flags_a = kExternalBufs;
    v.push_back(s);
  }
  {
    Seed s{"tcp6_chain_pseudo", tcp(IpVer::V6, 2000), params(1448)};
    s.params.first_seg = 200;
    s.params.later_seg = 255;
    s.params.flags_a = kPseudoForNic;
    v.push_back(s);
  }
  {
    Seed s{"tcp4_vlan_ipopts_odd_chain_ext", tcp(IpVer::V4, 1500), params(536)};
    s.spec.vlan = 7;
    s.spec.ip_options = {0x94, 0x04, 0x00, 0x00};
    s.spec.flags = 0x18;
    s.params.first_seg = 101;
    s.params.later_seg = 61;
    s.params.flags_a = kExternalBufs | kEmptyMbuf;
    v.push_back(s);
  }
  {
    Seed s{"vxlan4_tcp4_pseudo", tcp(IpVer::V4, 2500), params(1000)};
    s.spec.vxlan = VxlanSpec{};
    s.params.flags_a = kPseudoForNic | kGroTrustCsum;
    v.push_back(s);
  }
  {
    Seed s{"vxlan6_udpcsum_tcp6_chain", tcp(IpVer::V6, 1800), params(700)};
    VxlanSpec x;
    x.outer_ip = IpVer::V6;
    x.src = "2001:db8:ff::1";
    x.dst = "2001:db8:ff::2";
    x.udp_checksum = true;
    s.spec.vxlan = x;
    s.params.first_seg = 200;  // headers are 156 bytes
    s.params.later_seg = 97;
    s.params.flags_a = kPseudoForNic | kExternalBufs;
    v.push_back(s);
  }
  {
    // 400 bytes of payload grown by 127 x 512: a 65,476-byte IPv4 datagram.
    Seed s{"tcp4_grown_to_64k", tcp(IpVer::V4, 400), params(1448)};
    s.params.grow_units = 127;
    s.params.flags_b = 6;  // out_cap 512
    s.params.flags_a = kGroTrustCsum;
    s.fix_lengths = true;
    v.push_back(s);
  }
  {
    // 44 segments as 5 interleaved flows, some reordered, some perturbed, into
    // a GRO table of 4 flows: merges, out-of-order, mismatches, a full table.
    Seed s{"tcp6_many_flows_shuffled", tcp(IpVer::V6, 300), params(100)};
    s.params.grow_units = 8;
    s.params.flags_a = kGroTrustCsum;
    s.params.flags_b = 6 | (2 << kMaxFlowsShift);
    s.params.flags_c = kGroTimeout | kGroManyFlows | kGroShuffle | kGroPerturb;
    s.params.misc = 0x70;
    s.params.reserved = 4 | (3 << 3);
    s.fix_lengths = true;
    v.push_back(s);
  }
  {
    // Pools with 3 mbufs left: NoMemory, in a chain (attach walks it).
    Seed s{"tcp6_starved_pools_chain", tcp(IpVer::V6, 2400), params(500)};
    s.params.later_seg = 128;
    s.params.flags_b = 5 | (3 << kStarveShift);
    s.params.misc = 0x33;
    v.push_back(s);
  }
  {
    // One mbuf, header pool down to 1 mbuf for 3 segments: NoMemory after the
    // pieces were taken.
    Seed s{"tcp4_flat_starved_header_pool", tcp(IpVer::V4, 300), params(100)};
    s.params.flags_b = 5 | (1 << kStarveShift);
    s.params.misc = 0x31;
    v.push_back(s);
  }
  {
    // A short frame with link padding past the datagram, refused by GSO
    // (exact length), then merged by GRO with its follow-up copy.
    Seed s{"tcp4_padded_gro_followup", tcp(IpVer::V4, 64), params(32)};
    s.spec.checksum = testing::L4Checksum::Full;
    s.params.grow_units = 1;  // 512 bytes past the IP datagram
    s.params.flags_a = kGroTrustCsum;  // the follow-up's checksum is stale
    s.params.flags_c = kGroFollowUp;
    v.push_back(s);
  }
  {
    // Regression: 65,536 bytes of "padding" past a small datagram. GRO once
    // trimmed uint16_t(65536) = 0 bytes of it and merged the packet with its
    // follow-up, carrying the 64 KB inside the merged payload.
    Seed s{"repro_gro_padding_over_64k", tcp(IpVer::V4, 200), params(100)};
    s.spec.checksum = testing::L4Checksum::Full;
    s.params.grow_units = 128;
    s.params.flags_a = kGroTrustCsum;
    s.params.flags_c = kGroFollowUp;
    v.push_back(s);
  }
  return v;
}

Bytes encode(Seed s) {
  Bytes frame = testing::build_frame(s.spec);
  if (s.fix_lengths) {
    testing::Decoded d = testing::decode(frame);
    int n = 0;
    auto fix = [&](size_t off) { s.params.fix_off[n++] = uint16_t(off); };
    fix(d.ip.off + (d.ip.version == 4 ? 2 : 4));
    if (d.tunnel) {
      fix(d.outer.off + (d.outer.version == 4 ? 2 : 4));
      fix(d.outer.off + d.outer.hdr_len + 4);  // UDP length
    }
    s.params.flags_c |= kGrowFixLengths;
  }
  Bytes out(kHeaderLen);
  write_params(s.params, out.data());
  out.insert(out.end(), frame.begin(), frame.end());
  return out;
}

}  // namespace
}  // namespace vo::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  for (const auto& s : vo::fuzz::seeds()) {
    vo::fuzz::Bytes b = vo::fuzz::encode(s);
    std::string path = std::string(argv[1]) + "/" + s.name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(b.data(), 1, b.size(), f) != b.size() || std::fclose(f) != 0) {
      std::perror(path.c_str());
      return 1;
    }
    std::printf("%s: %zu bytes\n", path.c_str(), b.size());
  }
  return 0;
}
