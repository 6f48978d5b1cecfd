// A copy of a packet for one more receiver (flooding) that costs its headers,
// not its payload.
#pragma once

struct rte_mbuf;
struct rte_mempool;

namespace vo {

// A packet with m's bytes and offload metadata whose headers (everything up
// to the end of the innermost L4 header its metadata describes, at least the
// Ethernet header) sit in a fresh direct mbuf from `pool` that the copy owns,
// with headroom for a tag, and whose payload references m's buffers through
// indirect mbufs from `indirect`. Egress may rewrite the copy's headers (tag,
// finish a checksum, cut it) without touching m or other copies; nobody may
// write into the payload. Small packets, and packets whose headers do not sit
// in the first buffer, are copied whole. nullptr when a pool runs dry; m is
// unchanged either way.
rte_mbuf* copy_headers_share_payload(rte_mbuf* m, rte_mempool* pool, rte_mempool* indirect);

}  // namespace vo
