// GRO internals: what identifies a flow, what one arriving segment looks like,
// and the protocol rules that say whether it may join a held flow.
#pragma once

#include <cstdint>

#include "checksum.h"
#include "gro.h"
#include "parse.h"

struct rte_mbuf;

namespace vo::gro {

// Every field that must match for two segments to be one flow. Compared with
// memcmp: constructed zeroed, so padding and unused fields compare equal.
struct FlowKey {
  uint8_t ip_ver;
  uint8_t outer_ip_ver;
  uint8_t tunnel;
  uint8_t has_vlan;
  uint16_t vlan;
  be16 src_port;
  be16 dst_port;
  uint16_t pad;
  uint32_t vni;
  MacAddr eth_src, eth_dst;
  MacAddr inner_eth_src, inner_eth_dst;
  uint8_t src[16], dst[16];
  uint8_t outer_src[16], outer_dst[16];
  bool operator==(const FlowKey& o) const;
};

// A parsed TCP segment that may be merged.
struct Segment {
  rte_mbuf* m;
  Layout layout;
  FlowKey key;
  TcpSeq seq;
  uint32_t payload_len;
  uint8_t tcp_flags;
};

enum class Eligibility : uint8_t {
  Mergeable,     // a data segment with plain ACK (or ACK|PSH) and a good checksum
  NotTcp,        // no flow: pass through
  FlowBreaking,  // belongs to a flow but may not merge (SYN/FIN/RST/URG/CWR/ECE, no data)
  BadChecksum,
};

// Parses `m` and fills `s` (key valid unless NotTcp).
Eligibility classify(rte_mbuf* m, Segment& s);

// A held flow: the first segment (whose headers the merged packet keeps) and
// the chain of payloads appended to it.
struct Flow {
  FlowKey key;
  uint32_t hash;
  rte_mbuf* head;
  rte_mbuf* tail;  // last mbuf of the chain
  Layout layout;   // of head
  TcpSeq next_seq;
  uint32_t payload_len;
  uint16_t mss;     // payload of the first segment; every later one but the last equals it
  uint16_t segments;
  uint16_t last_ip_id;
  uint8_t flags_seen;
  uint64_t start_tsc;
};

enum class Join : uint8_t { Merge, OutOfOrder, Mismatch };

// Whether `s` can be appended to `f` (sequence, ACK, options, IP fields, ID, size).
Join can_join(const Flow& f, const Segment& s);
void start_flow(Flow& f, const Segment& s, uint32_t hash, uint64_t now);
// Appends the payload of `s` to `f` (strips its headers; takes the mbuf).
void append(Flow& f, Segment& s);
// Rewrites the head's headers and metadata for the merged packet; returns it.
rte_mbuf* finish(Flow& f);

}  // namespace vo::gro
