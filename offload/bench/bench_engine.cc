// Engine benchmarks: our GSO and GRO against DPDK's rte_gso and rte_gro on
// identical input, in the same process, on one EAL lcore.
//
// Benchmark names are <case>/<impl>[/<variant>]:
//   gso_tcp4, gso_tcp6, gso_vxlan4: one 64 KB TSO packet (45 x 1448 bytes of
//     payload, TCP timestamps, as Linux sends it) cut at MSS 1448.
//     impl ours, variants <checksum>-<payload>: pseudo = ChecksumMode::PseudoForNic,
//     full = ChecksumMode::Full; attach = PayloadMode::Attach, copy = PayloadMode::Copy.
//     impl rte_gso (TCPv4 and VXLAN only). rte_gso computes no checksum: compare
//     it with ours "pseudo-*", which leaves the same work (the TCP checksum) to
//     the NIC. Every iteration takes an extra reference on the input, segments
//     it and frees the segments; rte_gso's caller must also free the input (it
//     does not consume it), which is counted, as gso_segment() does it inside.
//   gro_tcp4_<n>flows, gro_tcp6_<n>flows: n flows of 45 in-order 1448-byte
//     segments each, interleaved round robin, received in bursts of 32 into a
//     table kept across bursts and flushed once at the end (each flow leaves as
//     one 64 KB packet on both sides). impl ours, variants nic-csum (the NIC
//     verified the checksums: RX_*_CKSUM_GOOD) and sw-csum (no NIC verdict: we
//     verify in software); impl rte_gro (TCPv4 only; rte_gro_reassemble() into a
//     context + rte_gro_timeout_flush(); it verifies no checksum: compare with
//     nic-csum). rte_gro reads packet_type and the l2/l3/l4 lengths from the
//     mbuf: "rte_gro" gets them for free (the reference), "rte_gro/sw-ptype"
//     finds them with rte_net_get_ptype() first, as an application must when
//     the NIC does not provide them (we parse the headers ourselves). Each
//     burst's segments are built fresh outside the timed region, right before
//     the burst is handed over (as from a NIC).
//
// Counters: gbps (TCP payload bits per second on this one core) and
// ns_per_packet (per 64 KB input packet for GSO, per input segment for GRO).
// Time is the thread's CPU time for GSO (the library's default), so that other
// processes sharing the core do not count; for GRO it is the TSC over the
// timed regions, leaving out bursts that were evidently preempted (their share
// is extrapolated from the others).
//
// Own flags, before the benchmark library's: --lcore=N (default 0), --huge
// (use hugepages instead of --no-huge).
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_gro.h>
#include <rte_gso.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_net.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "offload/gro.h"
#include "offload/gso.h"
#include "offload/testing/packet_builder.h"

namespace {

using vo::ChecksumMode;
using vo::IpVer;
using vo::PayloadMode;
using vo::testing::Bytes;
using vo::testing::TcpSpec;

constexpr uint16_t kMss = 1448;
constexpr uint32_t kSegsPerFlow = 45;                // one 64 KB TSO packet's worth
constexpr uint32_t kGsoPayload = kSegsPerFlow * kMss;  // 65160 bytes
constexpr uint16_t kBurst = 32;
constexpr uint16_t kMaxFlows = 256;
constexpr uint16_t kMaxOut = 64;

struct Pools {
  rte_mempool* big;  // GSO inputs: one 64 KB packet per mbuf
  rte_mempool* hdr;  // segment headers (rte_gso direct pool), or whole segments when copying
  rte_mempool* ind;  // indirect mbufs
  rte_mempool* rx;   // GRO input segments
} g_pools;

rte_mempool* make_pool(const char* name, unsigned n, unsigned cache, uint16_t room) {
  rte_mempool* mp = rte_pktmbuf_pool_create(name, n, cache, 0, room, int(rte_socket_id()));
  if (mp == nullptr) {
    std::fprintf(stderr, "bench_engine: cannot create mempool %s: %s\n", name,
                 rte_strerror(rte_errno));
    std::exit(1);
  }
  return mp;
}

double tsc_hz() {
  static double hz = double(rte_get_tsc_hz());
  return hz;
}

void set_counters(benchmark::State& st, uint64_t payload_bytes_per_iter, uint64_t packets_per_iter) {
  double iters = double(st.iterations());
  st.counters["gbps"] =
      benchmark::Counter(iters * double(payload_bytes_per_iter) * 8 / 1e9, benchmark::Counter::kIsRate);
  st.counters["ns_per_packet"] = benchmark::Counter(
      iters * double(packets_per_iter) / 1e9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---------------------------------------------------------------------------
// GSO

enum class GsoKind { Tcp4, Tcp6, Vxlan4 };

TcpSpec gso_spec(GsoKind k) {
  TcpSpec s;
  s.payload_len = kGsoPayload;
  s.tcp_options = vo::testing::tcp_timestamp_option(0x01020304, 0x05060708);
  s.checksum = vo::testing::L4Checksum::Partial;
  if (k == GsoKind::Tcp6) {
    s.ip = IpVer::V6;
    s.src = "2001:db8::1";
    s.dst = "2001:db8::2";
  }
  if (k == GsoKind::Vxlan4) s.vxlan = vo::testing::VxlanSpec{};
  return s;
}

void bm_gso(benchmark::State& st, GsoKind kind, bool reference, ChecksumMode cm, PayloadMode pm) {
  rte_mbuf* m = vo::testing::make_tso_mbuf(g_pools.big, gso_spec(kind), kMss);
  if (m == nullptr) {
    st.SkipWithError("cannot build the input");
    return;
  }
  const uint64_t flags = m->ol_flags;
  rte_gso_ctx ctx{};
  ctx.direct_pool = g_pools.hdr;
  ctx.indirect_pool = g_pools.ind;
  ctx.flag = 0;  // incrementing IP IDs, as ours
  ctx.gso_types = RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_VXLAN_TNL_TSO;
  ctx.gso_size =
      uint16_t(m->outer_l2_len + m->outer_l3_len + m->l2_len + m->l3_len + m->l4_len + kMss);
  const vo::GsoConfig cfg{g_pools.hdr, g_pools.ind, cm, pm};
  rte_mbuf* out[kMaxOut];

  for (auto _ : st) {
    m->ol_flags = flags;  // rte_gso clears TX_TCP_SEG on its input; restored for both alike
    rte_mbuf_refcnt_update(m, 1);
    int n;
    if (reference) {
      n = rte_gso_segment(m, &ctx, out, kMaxOut);
      rte_pktmbuf_free(m);  // rte_gso leaves the input's reference with its caller
    } else {
      vo::GsoResult r = vo::gso_segment(cfg, m, out, kMaxOut);
      n = r.segments;
      if (r.reason != vo::Reason::Ok) rte_pktmbuf_free(m);  // refused: still ours
    }
    if (n != int(kSegsPerFlow)) {
      if (n > 0) rte_pktmbuf_free_bulk(out, unsigned(n));
      st.SkipWithError(("unexpected segment count " + std::to_string(n)).c_str());
      break;
    }
    rte_pktmbuf_free_bulk(out, unsigned(n));
  }
  rte_pktmbuf_free(m);
  set_counters(st, kGsoPayload, 1);
}

// ---------------------------------------------------------------------------
// GRO

struct GroStream {
  std::vector<Bytes> frames;  // in arrival order
  uint8_t l2_len, l3_len, l4_len;
  uint32_t packet_type;
};

const GroStream& gro_stream(IpVer ip, uint16_t flows) {
  static std::map<std::pair<IpVer, uint16_t>, GroStream> cache;
  auto key = std::make_pair(ip, flows);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  GroStream s;
  std::vector<std::vector<Bytes>> per_flow(flows);
  for (uint16_t f = 0; f < flows; ++f) {
    for (uint32_t k = 0; k < kSegsPerFlow; ++k) {
      TcpSpec t;
      if (ip == IpVer::V6) {
        t.ip = IpVer::V6;
        t.src = "2001:db8::1";
        t.dst = "2001:db8::2";
      }
      t.src_port = uint16_t(10000 + f);
      t.seq = 1000u + 7919u * f + k * kMss;
      t.ip_id = uint16_t(f * 100 + k);
      t.flags = 0x10;  // ACK
      t.tcp_options = vo::testing::tcp_timestamp_option(1000 + f, 2000);
      t.payload_len = kMss;
      t.payload_seed = f * kSegsPerFlow + k;
      per_flow[f].push_back(vo::testing::build_frame(t));
    }
  }
  for (uint32_t k = 0; k < kSegsPerFlow; ++k)
    for (uint16_t f = 0; f < flows; ++f) s.frames.push_back(std::move(per_flow[f][k]));
  s.l2_len = 14;
  s.l3_len = ip == IpVer::V4 ? 20 : 40;
  s.l4_len = 32;
  s.packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L4_TCP |
                  (ip == IpVer::V4 ? RTE_PTYPE_L3_IPV4 : RTE_PTYPE_L3_IPV6);
  return cache.emplace(key, std::move(s)).first->second;
}

// Fresh input segments [from, from + in.size()) of the stream, as a receive
// queue hands a burst over: with packet_type and the l2/l3/l4 lengths that
// rte_gro needs set, unless `bare`.
bool rebuild(const GroStream& s, size_t from, std::span<rte_mbuf*> in, uint64_t rx_flags,
             bool bare) {
  if (rte_pktmbuf_alloc_bulk(g_pools.rx, in.data(), unsigned(in.size())) != 0) return false;
  for (size_t i = 0; i < in.size(); ++i) {
    rte_mbuf* m = in[i];
    const Bytes& f = s.frames[from + i];
    std::memcpy(rte_pktmbuf_mtod(m, void*), f.data(), f.size());
    m->data_len = uint16_t(f.size());
    m->pkt_len = uint32_t(f.size());
    if (!bare) {
      m->l2_len = s.l2_len;
      m->l3_len = s.l3_len;
      m->l4_len = s.l4_len;
      m->packet_type = s.packet_type;
    }
    m->ol_flags = rx_flags;
  }
  return true;
}

enum class GroImpl {
  Ours,
  RteGro,         // packet_type and l2/l3/l4 lengths given (by the NIC and driver)
  RteGroSwPtype,  // rte_net_get_ptype() finds them first, as an application must
                  // when the NIC gives no packet type (testpmd parses in software)
};

void bm_gro(benchmark::State& st, IpVer ip, uint16_t flows, GroImpl impl, bool nic_csum) {
  const bool reference = impl != GroImpl::Ours;
  const bool sw_ptype = impl == GroImpl::RteGroSwPtype;
  const GroStream& s = gro_stream(ip, flows);
  const size_t n = s.frames.size();
  const uint64_t rx_flags =
      nic_csum ? RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD : 0;
  rte_mbuf* in[kBurst];
  std::vector<rte_mbuf*> out(n + kMaxFlows + kBurst);

  vo::GroTable table(vo::GroConfig{.max_flows = kMaxFlows});
  rte_gro_param param{};
  param.gro_types = RTE_GRO_TCP_IPV4;
  param.max_flow_num = kMaxFlows;
  param.max_item_per_flow = 2;
  param.socket_id = uint16_t(rte_socket_id());
  void* ctx = reference ? rte_gro_ctx_create(&param) : nullptr;
  if (reference && ctx == nullptr) {
    st.SkipWithError("rte_gro_ctx_create failed");
    return;
  }

  // Bursts that took over 10 times the fastest per-segment time seen so far
  // shared the core with another process (a preemption lasts far longer than
  // a burst): they are left out, and their share extrapolated from the others.
  double best_per_seg = 1e300;
  for (auto _ : st) {
    size_t nout = 0;
    uint64_t ticks = 0;  // timed regions that were not preempted
    size_t counted = 0;  // segments those regions processed
    bool ok = true;
    for (size_t i = 0; i < n && ok; i += kBurst) {
      uint16_t k = uint16_t(std::min<size_t>(kBurst, n - i));
      // Each burst arrives fresh (built outside the timed region), while the
      // table holds what earlier bursts left in it.
      if (!rebuild(s, i, std::span<rte_mbuf*>(in, k), rx_flags, sw_ptype)) {
        st.SkipWithError("rx pool empty");
        ok = false;
        break;
      }
      uint64_t t0 = rte_rdtsc();
      if (reference) {
        if (sw_ptype) {
          for (uint16_t j = 0; j < k; ++j) {
            rte_net_hdr_lens h;
            in[j]->packet_type = rte_net_get_ptype(in[j], &h, RTE_PTYPE_ALL_MASK);
            in[j]->l2_len = h.l2_len;
            in[j]->l3_len = h.l3_len;
            in[j]->l4_len = h.l4_len;
          }
        }
        uint16_t left = rte_gro_reassemble(in, k, ctx);  // returns the unmerged ones first
        for (uint16_t j = 0; j < left; ++j) out[nout++] = in[j];
      } else {
        vo::GroCounts c = table.input(std::span<rte_mbuf* const>(in, k), 0,
                                      std::span<rte_mbuf*>(&out[nout], out.size() - nout));
        nout += c.emitted;
        if (c.consumed != k) {  // cannot happen with `out` this large
          st.SkipWithError("GroTable did not take a whole burst");
          ok = false;
        }
      }
      uint64_t dt = rte_rdtsc() - t0;
      double per_seg = double(dt) / k;
      if (per_seg < best_per_seg) best_per_seg = per_seg;
      if (per_seg <= 10 * best_per_seg) {
        ticks += dt;
        counted += k;
      }
    }
    if (!ok) break;
    uint64_t t0 = rte_rdtsc();
    if (reference)
      nout += rte_gro_timeout_flush(ctx, 0, RTE_GRO_TCP_IPV4, &out[nout], uint16_t(out.size() - nout));
    else
      nout += table.flush_all(std::span<rte_mbuf*>(&out[nout], out.size() - nout));
    uint64_t flush_ticks = rte_rdtsc() - t0;
    // The bursts that were preempted count as the average of those that were not.
    double burst_s = counted ? double(ticks) / tsc_hz() * double(n) / double(counted) : 0;
    st.SetIterationTime(burst_s + double(flush_ticks) / tsc_hz());
    rte_pktmbuf_free_bulk(out.data(), unsigned(nout));
    // Both sides must have done the same work: one 64 KB packet per flow.
    if (nout != flows) {
      st.SkipWithError(("unexpected output count " + std::to_string(nout)).c_str());
      break;
    }
  }
  if (ctx) rte_gro_ctx_destroy(ctx);
  set_counters(st, uint64_t(n) * kMss, n);
}

// ---------------------------------------------------------------------------

void register_all() {
  struct GsoVariant {
    const char* name;
    ChecksumMode cm;
    PayloadMode pm;
  };
  const GsoVariant variants[] = {
      {"pseudo-attach", ChecksumMode::PseudoForNic, PayloadMode::Attach},
      {"pseudo-copy", ChecksumMode::PseudoForNic, PayloadMode::Copy},
      {"full-attach", ChecksumMode::Full, PayloadMode::Attach},
      {"full-copy", ChecksumMode::Full, PayloadMode::Copy},
  };
  const std::pair<const char*, GsoKind> kinds[] = {
      {"gso_tcp4", GsoKind::Tcp4}, {"gso_tcp6", GsoKind::Tcp6}, {"gso_vxlan4", GsoKind::Vxlan4}};
  for (auto [cname, kind] : kinds) {
    for (const GsoVariant& v : variants)
      benchmark::RegisterBenchmark((std::string(cname) + "/ours/" + v.name).c_str(), bm_gso, kind,
                                   false, v.cm, v.pm)
          ;
    if (kind != GsoKind::Tcp6)
      benchmark::RegisterBenchmark((std::string(cname) + "/rte_gso").c_str(), bm_gso, kind, true,
                                   ChecksumMode::PseudoForNic, PayloadMode::Attach);
  }
  for (IpVer ip : {IpVer::V4, IpVer::V6}) {
    for (uint16_t flows : {uint16_t(1), uint16_t(16), uint16_t(256)}) {
      std::string cname = std::string(ip == IpVer::V4 ? "gro_tcp4_" : "gro_tcp6_") +
                          std::to_string(flows) + (flows == 1 ? "flow" : "flows");
      benchmark::RegisterBenchmark((cname + "/ours/nic-csum").c_str(), bm_gro, ip, flows,
                                   GroImpl::Ours, true)
          ->UseManualTime();
      benchmark::RegisterBenchmark((cname + "/ours/sw-csum").c_str(), bm_gro, ip, flows,
                                   GroImpl::Ours, false)
          ->UseManualTime();
      if (ip == IpVer::V4) {
        benchmark::RegisterBenchmark((cname + "/rte_gro").c_str(), bm_gro, ip, flows,
                                     GroImpl::RteGro, true)
            ->UseManualTime();
        benchmark::RegisterBenchmark((cname + "/rte_gro/sw-ptype").c_str(), bm_gro, ip, flows,
                                     GroImpl::RteGroSwPtype, true)
            ->UseManualTime();
      }
    }
  }
}

void start_eal(const std::string& lcore, bool huge) {
  std::vector<std::string> args = {"bench_engine", "-l", lcore, "--no-pci", "--no-shconf",
                                   "--no-telemetry", "--log-level=lib.eal:error",
                                   "-d", "librte_mempool_ring.so"};
  if (!huge)
    for (const char* a : {"--no-huge", "-m", "1024"}) args.emplace_back(a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(int(argv.size()), argv.data()) < 0) {
    std::fprintf(stderr, "bench_engine: cannot start DPDK's EAL: %s\n", rte_strerror(rte_errno));
    std::exit(1);
  }
  // Per-lcore caches as a datapath has them; the same pools for both sides.
  g_pools.big = make_pool("bench_big", 64, 0, 65535);
  g_pools.hdr = make_pool("bench_hdr", 4095, 256, RTE_MBUF_DEFAULT_BUF_SIZE);
  g_pools.ind = make_pool("bench_ind", 8191, 256, 0);
  g_pools.rx = make_pool("bench_rx", 16383, 256, RTE_MBUF_DEFAULT_BUF_SIZE);
}

}  // namespace

int main(int argc, char** argv) {
  std::string lcore = "0";
  bool huge = false;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--lcore=", 8) == 0)
      lcore = argv[i] + 8;
    else if (std::strcmp(argv[i], "--huge") == 0)
      huge = true;
    else
      rest.push_back(argv[i]);
  }
  start_eal(lcore, huge);
  register_all();
  int n = int(rest.size());
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  rte_eal_cleanup();
  return 0;
}
