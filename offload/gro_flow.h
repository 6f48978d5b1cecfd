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
// Whether the checksums of a parsed segment are known good: the NIC's verdict
// where it gave one, verified in software where it did not.
bool checksums_ok(const rte_mbuf* m, const Layout& l);
// Largest TCP payload a merged packet of this layout may carry (IP lengths <= 65,535).
uint32_t payload_limit(const Layout& l);

// The index hash of a flow: its addresses, ports (both as on the wire) and
// VNI. flow_hash(key) and raw_flow_hash(m) agree.
uint32_t flow_hash(const uint8_t* src, const uint8_t* dst, IpVer ver, uint32_t ports,
                   uint32_t vni);
uint32_t flow_hash(const FlowKey& k);
// The hash of a plain (untunnelled, untagged or tagged) TCP segment read from
// its bytes without parsing it; false when `m` is not one.
bool raw_flow_hash(const rte_mbuf* m, uint32_t& hash);

// The fast path's picture of a flow: the head's headers as 8-byte words, and a
// mask of the bytes every segment of the flow must repeat exactly (all but the
// IP length, ID and header checksum, TCP sequence number, window and checksum).
// A segment that matches passes every test classify() and can_join() would
// make of those bytes; one that does not takes the full path, which decides.
// The headers are compared in whole 16-byte blocks (the mask is zero past
// them), which the compiler turns into vector operations.
struct HeaderTemplate {
  using Block = uint64_t __attribute__((vector_size(16)));
  static constexpr uint32_t kMaxBytes = 128;  // headers up to 128 bytes
  static constexpr uint32_t kBlocks = kMaxBytes / sizeof(Block);
  uint16_t bytes_compared = 0;                // 0: no fast path for this flow
  Block bytes[kBlocks];                       // already masked
  Block mask[kBlocks];
};

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
  uint32_t payload_max;  // payload_limit(layout)
  uint16_t mss;     // payload of the first segment; every later one but the last equals it
  uint16_t segments;
  uint16_t last_ip_id;
  uint8_t flags_seen;
  be16 window;      // of the newest segment, for the merged header
  uint64_t start_tsc;
  HeaderTemplate tmpl;
};

enum class Join : uint8_t { Merge, OutOfOrder, Mismatch };

// Whether `s` can be appended to `f` (sequence, ACK, options, IP fields, ID, size).
Join can_join(const Flow& f, const Segment& s);
// Builds f.tmpl from the head (called by start_flow).
void make_template(Flow& f);
void start_flow(Flow& f, const Segment& s, uint32_t hash, uint64_t now);
// Appends the payload of `s` to `f` (strips its headers; takes the mbuf).
void append(Flow& f, Segment& s);
// Rewrites the head's headers and metadata for the merged packet; returns it.
rte_mbuf* finish(Flow& f);

}  // namespace vo::gro
