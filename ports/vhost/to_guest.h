// What librte_vhost reads of a packet's offload metadata when it writes the
// guest's virtio_net_hdr, and the translation that makes it right.
#pragma once

struct rte_mbuf;

namespace vo::vhost {

// librte_vhost (22.11, virtio_enqueue_offload) puts csum_start at l2_len +
// l3_len and a large segment's hdr_len at l2_len + l3_len + l4_len: it knows
// no outer headers, so a VXLAN packet's partial inner checksum would be
// pointed into its outer headers. To a guest a tunnelled packet is one
// frame: its outer headers are folded into l2_len and the tunnel metadata
// dropped. Idempotent; a packet without a tunnel is left alone.
void fold_tunnel_headers(rte_mbuf* m);

}  // namespace vo::vhost
