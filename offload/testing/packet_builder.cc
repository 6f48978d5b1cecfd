#include "packet_builder.h"

#include <arpa/inet.h>
#include <rte_mbuf.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "packet_check.h"

namespace vo::testing {
namespace {

void put16(Bytes& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, uint16_t(v >> 16));
  put16(b, uint16_t(v));
}
void set16(Bytes& b, size_t off, uint16_t v) {
  b[off] = uint8_t(v >> 8);
  b[off + 1] = uint8_t(v);
}

Bytes address(IpVer ver, const std::string& text) {
  Bytes a(ver == IpVer::V4 ? 4 : 16);
  if (inet_pton(ver == IpVer::V4 ? AF_INET : AF_INET6, text.c_str(), a.data()) != 1)
    throw std::invalid_argument("bad address in spec: " + text);
  return a;
}

Bytes padded(Bytes b) {
  while (b.size() % 4) b.push_back(0);
  return b;
}

void put_eth(Bytes& b, std::optional<uint16_t> vlan, uint16_t type, uint8_t mac_seed) {
  const uint8_t dst[6] = {0x02, 0, 0, 0, 0, uint8_t(mac_seed + 2)};
  const uint8_t src[6] = {0x02, 0, 0, 0, 0, uint8_t(mac_seed + 1)};
  b.insert(b.end(), dst, dst + 6);
  b.insert(b.end(), src, src + 6);
  if (vlan) {
    put16(b, 0x8100);
    put16(b, *vlan);
  }
  put16(b, type);
}

// Sum of the pseudo-header (RFC 793 / RFC 8200), not folded into a field yet.
uint32_t pseudo_sum(IpVer ver, const Bytes& src, const Bytes& dst, uint8_t proto, uint32_t len) {
  uint32_t s = naive_sum(src.data(), src.size());
  s += naive_sum(dst.data(), dst.size());
  s += proto;
  s += (len >> 16) + (len & 0xffff);
  (void)ver;
  return s;
}

uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(s);
}

// Writes an IP header for a datagram whose payload is `l4_len` bytes long.
void put_ip(Bytes& b, IpVer ver, const Bytes& src, const Bytes& dst, uint8_t tos, uint8_t ttl,
            uint16_t id, bool df, const Bytes& options, uint8_t proto, uint32_t l4_len) {
  if (ver == IpVer::V4) {
    size_t start = b.size();
    size_t hl = 20 + options.size();
    b.push_back(uint8_t(0x40 | (hl / 4)));
    b.push_back(tos);
    put16(b, uint16_t(hl + l4_len));
    put16(b, id);
    put16(b, df ? 0x4000 : 0);
    b.push_back(ttl);
    b.push_back(proto);
    put16(b, 0);
    b.insert(b.end(), src.begin(), src.end());
    b.insert(b.end(), dst.begin(), dst.end());
    b.insert(b.end(), options.begin(), options.end());
    set16(b, start + 10, uint16_t(~naive_sum(b.data() + start, hl)));
  } else {
    put32(b, 0x60000000u | (uint32_t(tos) << 20) | 0x12345);
    put16(b, uint16_t(l4_len));
    b.push_back(proto);
    b.push_back(ttl);
    b.insert(b.end(), src.begin(), src.end());
    b.insert(b.end(), dst.begin(), dst.end());
  }
}

// The extension headers' bytes, each pointing at the next, the last at `last`.
Bytes ipv6_extensions(const std::vector<Ipv6Ext>& exts, uint8_t last) {
  Bytes b;
  for (size_t i = 0; i < exts.size(); ++i) {
    b.push_back(i + 1 < exts.size() ? exts[i + 1].type : last);
    size_t len_at = b.size();
    b.push_back(0);
    b.insert(b.end(), exts[i].options.begin(), exts[i].options.end());
    size_t used = 2 + exts[i].options.size(), pad = (8 - used % 8) % 8;
    if (pad == 1) b.push_back(0);  // Pad1
    if (pad >= 2) {                // PadN
      b.push_back(1);
      b.push_back(uint8_t(pad - 2));
      b.insert(b.end(), pad - 2, 0);
    }
    b[len_at] = uint8_t((used + pad) / 8 - 1);
  }
  return b;
}

// The inner (or only) Ethernet/IP/TCP/payload of a spec.
Bytes build_inner(const TcpSpec& s, uint8_t mac_seed) {
  Bytes src = address(s.ip, s.src), dst = address(s.ip, s.dst);
  Bytes ip_opts = padded(s.ip_options), tcp_opts = padded(s.tcp_options);
  uint32_t tcp_len = 20 + uint32_t(tcp_opts.size()) + s.payload_len;
  Bytes b;
  put_eth(b, s.vxlan ? std::nullopt : s.vlan, s.ip == IpVer::V4 ? 0x0800 : 0x86dd, mac_seed);
  Bytes ext = s.ip == IpVer::V6 ? ipv6_extensions(s.ipv6_ext, 6) : Bytes{};
  uint8_t proto = ext.empty() ? 6 : s.ipv6_ext[0].type;
  put_ip(b, s.ip, src, dst, s.tos, s.ttl, s.ip_id, s.dont_fragment, ip_opts, proto,
         uint32_t(ext.size()) + tcp_len);
  b.insert(b.end(), ext.begin(), ext.end());
  size_t tcp = b.size();
  put16(b, s.src_port);
  put16(b, s.dst_port);
  put32(b, s.seq);
  put32(b, s.ack);
  b.push_back(uint8_t(((20 + tcp_opts.size()) / 4) << 4));
  b.push_back(s.flags);
  put16(b, s.window);
  put16(b, 0);
  put16(b, 0);
  b.insert(b.end(), tcp_opts.begin(), tcp_opts.end());
  Bytes payload = payload_bytes(s.payload_seed, 0, s.payload_len);
  b.insert(b.end(), payload.begin(), payload.end());
  uint32_t ps = pseudo_sum(s.ip, src, dst, 6, tcp_len);
  if (s.checksum == L4Checksum::Full)
    set16(b, tcp + 16, uint16_t(~naive_sum(b.data() + tcp, tcp_len, ps)));
  else if (s.checksum == L4Checksum::Partial)
    set16(b, tcp + 16, fold(ps));
  return b;
}

}  // namespace

uint8_t payload_byte(uint32_t seed, uint64_t i) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t(seed) << 32);
  return uint8_t((x >> 29) ^ (x >> 47) ^ i);
}

Bytes payload_bytes(uint32_t seed, uint64_t from, uint32_t len) {
  Bytes b(len);
  for (uint32_t i = 0; i < len; ++i) b[i] = payload_byte(seed, from + i);
  return b;
}

Bytes tcp_timestamp_option(uint32_t tsval, uint32_t tsecr) {
  Bytes b = {1, 1, 8, 10};
  put32(b, tsval);
  put32(b, tsecr);
  return b;
}

Bytes build_frame(const TcpSpec& s) {
  if (!s.vxlan) return build_inner(s, 0);
  const VxlanSpec& v = *s.vxlan;
  Bytes inner = build_inner(s, 0x10);
  Bytes src = address(v.outer_ip, v.src), dst = address(v.outer_ip, v.dst);
  uint32_t udp_len = 8 + 8 + uint32_t(inner.size());
  Bytes b;
  put_eth(b, v.vlan, v.outer_ip == IpVer::V4 ? 0x0800 : 0x86dd, 0);
  put_ip(b, v.outer_ip, src, dst, 0, v.ttl, v.ip_id, true, {}, 17, udp_len);
  size_t udp = b.size();
  put16(b, v.src_port);
  put16(b, 4789);
  put16(b, uint16_t(udp_len));
  put16(b, 0);
  b.push_back(0x08);
  b.insert(b.end(), 3, 0);
  put32(b, v.vni << 8);
  b.insert(b.end(), inner.begin(), inner.end());
  if (v.udp_checksum) {
    uint16_t c = uint16_t(
        ~naive_sum(b.data() + udp, udp_len, pseudo_sum(v.outer_ip, src, dst, 17, udp_len)));
    set16(b, udp + 6, c == 0 ? 0xffff : c);
  }
  return b;
}

rte_mbuf* make_mbuf(rte_mempool* pool, const Bytes& frame, uint32_t seg_size, uint32_t first_seg) {
  rte_mbuf* head = nullptr;
  rte_mbuf* last = nullptr;
  size_t off = 0;
  do {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) {
      if (head) rte_pktmbuf_free(head);
      return nullptr;
    }
    size_t room = rte_pktmbuf_tailroom(m);
    uint32_t limit = head == nullptr && first_seg ? first_seg : seg_size;
    size_t n = std::min(frame.size() - off, limit ? std::min<size_t>(limit, room) : room);
    if (seg_size == 0 && first_seg == 0 && n < frame.size()) {
      std::fprintf(stderr, "make_mbuf: a %zu-byte frame does not fit one mbuf of the pool\n",
                   frame.size());
      std::abort();
    }
    std::memcpy(rte_pktmbuf_append(m, uint16_t(n)), frame.data() + off, n);
    off += n;
    if (head == nullptr) {
      head = m;
    } else {
      last->next = m;
      head->nb_segs++;
      head->pkt_len += m->data_len;
    }
    last = m;
  } while (off < frame.size());
  return head;
}

rte_mbuf* make_tso_mbuf(rte_mempool* pool, const TcpSpec& s, uint16_t mss, uint32_t seg_size) {
  rte_mbuf* m = make_mbuf(pool, build_frame(s), seg_size);
  if (m == nullptr) return nullptr;
  uint32_t l2 = 14 + (s.vlan && !s.vxlan ? 4 : 0);
  uint32_t l3 = s.ip == IpVer::V4 ? 20 + uint32_t(padded(s.ip_options).size()) : 40;
  m->ol_flags = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
                (s.ip == IpVer::V4 ? RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM
                                   : RTE_MBUF_F_TX_IPV6);
  m->l3_len = l3;
  m->l4_len = 20 + padded(s.tcp_options).size();
  m->tso_segsz = mss;
  if (s.vxlan) {
    const VxlanSpec& v = *s.vxlan;
    m->outer_l2_len = 14 + (v.vlan ? 4 : 0);
    m->outer_l3_len = v.outer_ip == IpVer::V4 ? 20 : 40;
    m->l2_len = 8 + 8 + 14;
    m->ol_flags |= RTE_MBUF_F_TX_TUNNEL_VXLAN |
                   (v.outer_ip == IpVer::V4 ? RTE_MBUF_F_TX_OUTER_IPV4 | RTE_MBUF_F_TX_OUTER_IP_CKSUM
                                            : RTE_MBUF_F_TX_OUTER_IPV6);
  } else {
    m->l2_len = l2;
  }
  return m;
}

Bytes flatten(const rte_mbuf* m) {
  Bytes b;
  b.reserve(m->pkt_len);
  for (; m != nullptr; m = m->next) {
    const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
    b.insert(b.end(), p, p + m->data_len);
  }
  return b;
}

}  // namespace vo::testing
