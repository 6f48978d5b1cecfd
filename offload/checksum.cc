#include "checksum.h"

#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "headers.h"

namespace vo {
namespace {

uint16_t fold(uint64_t s) {
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return uint16_t(s);
}

// Sum of the bytes as raw 16-bit words from an even position. Four 32-bit lanes
// into 64-bit accumulators: 2^32 carries of room each, far above any packet.
uint64_t sum_bytes_scalar(const uint8_t* p, size_t len) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (; len >= 16; p += 16, len -= 16) {
    uint32_t w[4];
    std::memcpy(w, p, 16);
    s0 += w[0];
    s1 += w[1];
    s2 += w[2];
    s3 += w[3];
  }
  for (; len >= 4; p += 4, len -= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    s0 += w;
  }
  if (len >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    s1 += w;
    p += 2;
    len -= 2;
  }
  if (len) s2 += *p;  // a trailing byte is the first byte of a zero-padded word
  return s0 + s1 + s2 + s3;
}

#if defined(__x86_64__)
// The same sum 64 bytes at a time with AVX2 (the build targets an older
// x86-64 baseline, so it is chosen at run time): each 16-bit word widened to a
// 32-bit lane, 2^16 rounds at most before the lanes are added up into 64 bits
// (65536 x 0xffff < 2^32). Congruent to the scalar sum modulo 0xffff, and zero
// exactly when it is, so the folded result is the same. Full-mode GSO and
// software-verified GRO sum every payload byte: this is their inner loop.
__attribute__((target("avx2"))) uint64_t sum_bytes_avx2(const uint8_t* p, size_t len) {
  const __m256i zero = _mm256_setzero_si256();
  uint64_t total = 0;
  while (len >= 64) {
    size_t rounds = std::min<size_t>(len / 64, size_t(1) << 16);
    __m256i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    for (size_t i = 0; i < rounds; ++i, p += 64) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
      a0 = _mm256_add_epi32(a0, _mm256_unpacklo_epi16(v, zero));
      a1 = _mm256_add_epi32(a1, _mm256_unpackhi_epi16(v, zero));
      a2 = _mm256_add_epi32(a2, _mm256_unpacklo_epi16(w, zero));
      a3 = _mm256_add_epi32(a3, _mm256_unpackhi_epi16(w, zero));
    }
    len -= rounds * 64;
    __m256i q = zero;  // 32-bit lanes into 64-bit ones
    for (__m256i a : {a0, a1, a2, a3})
      q = _mm256_add_epi64(q, _mm256_add_epi64(_mm256_unpacklo_epi32(a, zero),
                                               _mm256_unpackhi_epi32(a, zero)));
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), q);
    total += lanes[0] + lanes[1] + lanes[2] + lanes[3];
  }
  return total + sum_bytes_scalar(p, len);
}

bool have_avx2() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
}
#endif

uint64_t sum_bytes(const uint8_t* p, size_t len) {
#if defined(__x86_64__)
  if (len >= 256 && have_avx2()) return sum_bytes_avx2(p, len);
#endif
  return sum_bytes_scalar(p, len);
}

}  // namespace

void Checksum::add(const void* data, size_t len) {
  uint16_t s = fold(sum_bytes(static_cast<const uint8_t*>(data), len));
  // A chunk that starts at an odd stream position pairs its bytes the other way
  // round: its sum is the byte-swapped one (RFC 1071 section 2(B)).
  if (odd_) s = __builtin_bswap16(s);
  sum_ += s;
  odd_ ^= (len & 1);
}

void Checksum::add(const Checksum& chunk) {
  uint16_t s = chunk.folded();
  if (odd_) s = __builtin_bswap16(s);
  sum_ += s;
  odd_ ^= chunk.odd_;
}

uint16_t Checksum::folded() const { return fold(sum_); }

void copy_and_sum(Checksum& c, void* dst, const void* src, size_t len) {
  // Copy first, then sum from the freshly written (cache-hot) destination: one
  // trip to memory for the source bytes.
  std::memcpy(dst, src, len);
  c.add(dst, len);
}

bool sum_mbuf(Checksum& c, const rte_mbuf* m, uint32_t off, uint32_t len) {
  for (; m != nullptr && len > 0; m = m->next) {
    if (off >= m->data_len) {
      off -= m->data_len;
      continue;
    }
    uint32_t n = std::min<uint32_t>(m->data_len - off, len);
    c.add(rte_pktmbuf_mtod_offset(m, const uint8_t*, off), n);
    len -= n;
    off = 0;
  }
  return len == 0;
}

uint16_t ipv4_header_checksum(const Ipv4Hdr& ip) {
  // Called per segment right after the length and ID were stored: 16-bit
  // loads, which the CPU forwards from those 16-bit stores (a wider load
  // straddling them would wait for the stores to retire), one accumulator,
  // one fold at the end.
  const auto* p = reinterpret_cast<const uint8_t*>(&ip);
  const uint32_t n = ip.header_len();
  auto word = [p](uint32_t off) {
    uint16_t w;
    std::memcpy(&w, p + off, 2);
    return uint64_t(w);
  };
  uint64_t s = uint16_t(~ip.checksum.raw());  // take the field as zero
  uint32_t i = 0;
  if (n >= 20) {  // the fixed header, unrolled
    // As a tree: five independent additions, not a chain of ten.
    s += ((word(0) + word(2)) + (word(4) + word(6))) + ((word(8) + word(10)) + (word(12) + word(14))) +
         (word(16) + word(18));
    i = 20;
  }
  for (; i < n; i += 2) s += word(i);  // options (or a header claiming less than 20 bytes)
  return uint16_t(~fold(s));
}

void add_pseudo_header(Checksum& c, const Ipv4Hdr& ip, uint32_t l4_len, uint8_t proto) {
  c.add_raw32(ip.src.raw());
  c.add_raw32(ip.dst.raw());
  c.add_raw16(be16::from_host(proto).raw());
  c.add_raw16(be16::from_host(uint16_t(l4_len)).raw());
}

void add_pseudo_header(Checksum& c, const Ipv6Hdr& ip, uint32_t l4_len, uint8_t proto) {
  c.add(&ip.src, sizeof(ip.src) + sizeof(ip.dst));
  c.add_raw32(be32::from_host(l4_len).raw());
  c.add_raw32(be32::from_host(proto).raw());
}

uint16_t checksum_update16(uint16_t csum, uint16_t old_raw, uint16_t new_raw) {
  uint64_t s = uint16_t(~csum);
  s += uint16_t(~old_raw);
  s += new_raw;
  return uint16_t(~fold(s));
}

uint16_t checksum_update32(uint16_t csum, uint32_t old_raw, uint32_t new_raw) {
  csum = checksum_update16(csum, uint16_t(old_raw), uint16_t(new_raw));
  return checksum_update16(csum, uint16_t(old_raw >> 16), uint16_t(new_raw >> 16));
}

namespace {
// Writes two bytes at `off` of a chain; they may straddle two segments.
void write_u16(rte_mbuf* m, uint32_t off, uint16_t raw) {
  uint8_t b[2];
  std::memcpy(b, &raw, 2);
  for (int i = 0; i < 2; ++i) {
    rte_mbuf* s = m;
    uint32_t o = off + i;
    while (o >= s->data_len) {
      o -= s->data_len;
      s = s->next;
    }
    *rte_pktmbuf_mtod_offset(s, uint8_t*, o) = b[i];
  }
}
}  // namespace

bool complete_partial_checksum(rte_mbuf* m, uint32_t csum_start, uint32_t csum_offset) {
  if (csum_start >= m->pkt_len || csum_offset > m->pkt_len - csum_start ||
      m->pkt_len - csum_start - csum_offset < 2)
    return false;
  Checksum c;
  if (!sum_mbuf(c, m, csum_start, m->pkt_len - csum_start)) return false;
  write_u16(m, csum_start + csum_offset, c.finish());
  return true;
}

}  // namespace vo
