// Splitting the payload of a GSO input across segments: by reference
// (indirect or external-buffer mbufs) or by copy. Both allocate everything
// they need before they touch anything, so a failure leaves no trace.
#include <rte_mbuf.h>

#include "gso_internal.h"

namespace vo::gso {
namespace {

// Upper bound of payload pieces (segment x input-mbuf overlaps) for one input:
// 64 KB at the smallest useful MSS; more is refused as TooManySegments.
constexpr uint32_t kMaxPieces = 2048;

// Walks the payload bytes of a chain.
struct Cursor {
  rte_mbuf* seg;
  uint32_t off;
  // Bytes available at the cursor, stepping over exhausted (or empty) mbufs.
  uint32_t avail() {
    while (off == seg->data_len) {
      seg = seg->next;
      off = 0;
    }
    return seg->data_len - off;
  }
};

uint32_t count_pieces(rte_mbuf* pkt, const Plan& p) {
  Cursor c{pkt, p.layout.header_len()};
  uint32_t pieces = 0;
  for (uint16_t i = 0; i < p.count; ++i) {
    for (uint32_t left = p.segment_payload(i); left > 0; ++pieces) {
      uint32_t take = std::min(left, c.avail());
      c.off += take;
      left -= take;
    }
  }
  return pieces;
}

// Points `mi` at [off, off+len) of the buffer `m` uses, as rte_pktmbuf_attach()
// does but without touching the reference count: attach_payload() takes all
// references on one buffer in a single update instead of one atomic per piece.
void point_at(rte_mbuf* mi, const rte_mbuf* m, uint32_t off, uint32_t len) {
  if (RTE_MBUF_HAS_EXTBUF(m)) {
    mi->ol_flags = RTE_MBUF_F_EXTERNAL;
    mi->shinfo = m->shinfo;
  } else {
    mi->priv_size = m->priv_size;  // locates the direct mbuf on detach
    mi->ol_flags = RTE_MBUF_F_INDIRECT;
  }
  mi->buf_addr = m->buf_addr;
  mi->buf_iova = m->buf_iova;
  mi->buf_len = m->buf_len;
  mi->data_off = uint16_t(m->data_off + off);
  mi->data_len = uint16_t(len);
  mi->pkt_len = len;
  mi->nb_segs = 1;
  mi->next = nullptr;
}

void take_refs(rte_mbuf* m, uint16_t n) {
  if (n == 0) return;
  if (RTE_MBUF_HAS_EXTBUF(m))
    rte_mbuf_ext_refcnt_update(m->shinfo, int16_t(n));
  else
    rte_mbuf_refcnt_update(RTE_MBUF_CLONED(m) ? rte_mbuf_from_indirect(m) : m, int16_t(n));
}

// rte_pktmbuf_alloc_bulk() for the pieces of a chained input, whose every
// field reset touches is then written again by point_at() (ol_flags, data_off,
// lengths, next, nb_segs) or is set here: the same mbufs in the same state, but
// with stores only. Reset's reads of each fresh mbuf (ol_flags, buf_len) miss
// the cache and were the larger part of the cost of allocating.
inline void reset_fields(rte_mbuf* m) {
  m->next = nullptr;
  m->pkt_len = 0;
  m->tx_offload = 0;
  m->vlan_tci = 0;
  m->vlan_tci_outer = 0;
  m->nb_segs = 1;
  m->port = RTE_MBUF_PORT_INVALID;
  m->ol_flags = 0;
  m->packet_type = 0;
  m->data_off = 0;
  m->data_len = 0;
}

[[nodiscard]] bool alloc_fresh(rte_mempool* mp, rte_mbuf** ms, uint32_t n) {
  if (rte_mempool_get_bulk(mp, reinterpret_cast<void**>(ms), n) != 0) return false;
  for (uint32_t i = 0; i < n; ++i) reset_fields(ms[i]);
  return true;
}

// Segment mbufs straight from the pool: start_segment() gives each every field
// rte_pktmbuf_reset() would, so there is nothing to do before.
[[nodiscard]] bool alloc_segments(rte_mempool* mp, rte_mbuf** ms, uint32_t n) {
  return rte_mempool_get_bulk(mp, reinterpret_cast<void**>(ms), n) == 0;
}

void append(rte_mbuf* head, rte_mbuf*& last, rte_mbuf* piece) {
  last->next = piece;
  last = piece;
  head->nb_segs++;
  head->pkt_len += piece->data_len;
}

// A piece of a flat input: every field rte_pktmbuf_reset() and point_at()
// would give a fresh mbuf, in one pass.
inline void init_flat_piece(rte_mbuf* piece, const rte_mbuf* pkt, bool ext, uint32_t data_off,
                            uint32_t len) {
  piece->next = nullptr;
  piece->nb_segs = 1;
  piece->port = RTE_MBUF_PORT_INVALID;
  piece->tx_offload = 0;
  piece->vlan_tci = 0;
  piece->vlan_tci_outer = 0;
  piece->packet_type = 0;
  if (ext) {
    piece->ol_flags = RTE_MBUF_F_EXTERNAL;
    piece->shinfo = pkt->shinfo;
  } else {
    piece->ol_flags = RTE_MBUF_F_INDIRECT;
    piece->priv_size = pkt->priv_size;  // locates the direct mbuf on detach
  }
  piece->buf_addr = pkt->buf_addr;
  piece->buf_iova = pkt->buf_iova;
  piece->buf_len = pkt->buf_len;
  piece->data_off = uint16_t(data_off);
  piece->data_len = uint16_t(len);
  piece->pkt_len = len;
}

// Gives a fresh mbuf from the header pool every field rte_pktmbuf_reset()
// would, with the metadata of a segment of `pkt` (one store per field), and
// its data length the headers' (written by write_segment_headers()). The
// splitters checked the headroom and headers fit the pool's data room, so the
// headroom needs none of rte_pktmbuf_reset_headroom()'s clamping.
inline void start_segment(rte_mbuf* seg, const rte_mbuf* pkt, const Plan& p) {
  const uint16_t hlen = p.layout.header_len();
  seg->next = nullptr;
  seg->nb_segs = 1;
  seg->data_off = RTE_PKTMBUF_HEADROOM;
  seg->data_len = hlen;
  seg->pkt_len = hlen;
  seg->port = pkt->port;
  seg->vlan_tci = pkt->vlan_tci;
  seg->vlan_tci_outer = pkt->vlan_tci_outer;
  seg->hash = pkt->hash;
  seg->packet_type = pkt->packet_type;
  seg->ol_flags = p.segment_ol_flags;
  seg->tx_offload = p.segment_tx_offload;
}

// split_attach() for an input in one mbuf: segment i's payload is the one
// piece [header_len + i * mss, + its length) of that mbuf.
void attach_flat(rte_mbuf* pkt, const Plan& p, rte_mbuf** out, rte_mbuf** pieces) {
  const uint32_t hlen = p.layout.header_len();
  const bool ext = RTE_MBUF_HAS_EXTBUF(pkt);
  const uint32_t data_off = pkt->data_off + hlen;
  const uint8_t* payload = rte_pktmbuf_mtod(pkt, const uint8_t*) + hlen;
  for (uint16_t i = 0; i < p.count; ++i) {
    rte_mbuf* seg = out[i];
    rte_mbuf* piece = pieces[i];
    const uint32_t len = p.segment_payload(i);
    start_segment(seg, pkt, p);
    init_flat_piece(piece, pkt, ext, data_off + uint32_t(i) * p.mss, len);
    seg->next = piece;
    seg->nb_segs = 2;
    seg->pkt_len = hlen + len;
    Checksum sum;
    if (p.needs_payload_sum()) sum.add(payload + uint32_t(i) * p.mss, len);
    write_segment_headers(rte_pktmbuf_mtod(seg, uint8_t*), p, i, len, sum);
  }
  take_refs(pkt, p.count);
  rte_pktmbuf_free(pkt);  // the segments hold their own references now
}

}  // namespace

Reason split_attach(const GsoConfig& cfg, rte_mbuf* pkt, const Plan& p, rte_mbuf** out) {
  if (rte_pktmbuf_data_room_size(cfg.header_pool) < RTE_PKTMBUF_HEADROOM + p.layout.header_len())
    return Reason::NoHeadroom;
  // The common input, one mbuf holding the whole packet, gives one piece per
  // segment: no need to walk it first.
  const bool flat = pkt->next == nullptr && pkt->data_len == pkt->pkt_len;
  uint32_t npieces = flat ? p.count : count_pieces(pkt, p);
  if (npieces > kMaxPieces) return Reason::TooManySegments;
  rte_mbuf* pieces[kMaxPieces];
  // Pieces first, into our own array: `out` is written only by the last
  // allocation, so a refusal never leaves freed mbufs in the caller's array.
  // attach_flat() writes every field of its pieces itself.
  if (flat ? rte_mempool_get_bulk(cfg.indirect_pool, reinterpret_cast<void**>(pieces), npieces) != 0
           : !alloc_fresh(cfg.indirect_pool, pieces, npieces))
    return Reason::NoMemory;
  if (!alloc_segments(cfg.header_pool, out, p.count)) {
    if (flat)  // untouched since rte_mempool_get_bulk(): straight back
      rte_mempool_put_bulk(cfg.indirect_pool, reinterpret_cast<void**>(pieces), npieces);
    else
      rte_pktmbuf_free_bulk(pieces, npieces);
    return Reason::NoMemory;
  }

  if (flat) {
    attach_flat(pkt, p, out, pieces);
    return Reason::Ok;
  }
  Cursor c{pkt, p.layout.header_len()};
  rte_mbuf* ref_seg = nullptr;  // input mbuf whose references are being counted
  uint16_t refs = 0;
  uint32_t next_piece = 0;
  for (uint16_t i = 0; i < p.count; ++i) {
    rte_mbuf* seg = out[i];
    start_segment(seg, pkt, p);
    rte_mbuf* last = seg;
    Checksum sum;
    uint32_t len = p.segment_payload(i);
    for (uint32_t left = len; left > 0;) {
      uint32_t take = std::min(left, c.avail());
      if (c.seg != ref_seg) {
        take_refs(ref_seg, refs);
        ref_seg = c.seg;
        refs = 0;
      }
      rte_mbuf* piece = pieces[next_piece++];
      point_at(piece, c.seg, c.off, take);
      ++refs;
      if (p.needs_payload_sum()) sum.add(rte_pktmbuf_mtod(piece, const void*), take);
      append(seg, last, piece);
      c.off += take;
      left -= take;
    }
    write_segment_headers(rte_pktmbuf_mtod(seg, uint8_t*), p, i, len, sum);
  }
  take_refs(ref_seg, refs);
  rte_pktmbuf_free(pkt);  // the segments hold their own references now
  return Reason::Ok;
}

Reason split_copy(const GsoConfig& cfg, rte_mbuf* pkt, const Plan& p, rte_mbuf** out) {
  if (rte_pktmbuf_data_room_size(cfg.header_pool) <
      RTE_PKTMBUF_HEADROOM + p.layout.header_len() + p.mss)
    return Reason::NoHeadroom;
  if (!alloc_segments(cfg.header_pool, out, p.count)) return Reason::NoMemory;

  Cursor c{pkt, p.layout.header_len()};
  for (uint16_t i = 0; i < p.count; ++i) {
    rte_mbuf* seg = out[i];
    start_segment(seg, pkt, p);
    Checksum sum;
    uint32_t len = p.segment_payload(i);
    auto* dst = rte_pktmbuf_mtod_offset(seg, uint8_t*, seg->data_len);
    for (uint32_t left = len; left > 0;) {
      uint32_t take = std::min(left, c.avail());
      const auto* src = rte_pktmbuf_mtod_offset(c.seg, const uint8_t*, c.off);
      if (p.needs_payload_sum())
        copy_and_sum(sum, dst, src, take);
      else
        std::memcpy(dst, src, take);
      dst += take;
      c.off += take;
      left -= take;
    }
    seg->data_len = uint16_t(seg->data_len + len);
    seg->pkt_len += len;
    write_segment_headers(rte_pktmbuf_mtod(seg, uint8_t*), p, i, len, sum);
  }
  rte_pktmbuf_free(pkt);
  return Reason::Ok;
}

}  // namespace vo::gso
