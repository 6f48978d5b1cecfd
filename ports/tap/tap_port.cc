#include "tap_port.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "log/log.h"
#include "offload/flow_hash.h"
#include "offload/gso.h"
#include "offload/headers.h"
#include "offload/metadata.h"
#include "ports/shared_lock.h"

namespace vo {
namespace {

constexpr const char* kTunPath = "/dev/net/tun";
constexpr const char* kNetnsDir = "/var/run/netns/";
// How often a port looks for its device or namespace having gone away.
constexpr uint32_t kLivenessChecksPerSecond = 10;
// iovecs of one write: the header plus the mbufs of a chain. A GRO-merged
// 64 KB packet is at most ~90 mbufs; a longer chain is refused, not written.
constexpr uint16_t kMaxTxIov = 256;
// iovecs of one read: the header plus enough mbufs for the largest frame.
constexpr uint16_t kMaxRxIov = 128;

std::string errno_text(int err) { return std::strerror(err); }

// What to do about a TUNSETIFF refusal (drivers/net/tun.c, tun_set_iff()).
std::string setiff_problem(const TapOptions& o, int err) {
  std::string dev = "TAP " + o.ifname + (o.netns.empty() ? "" : " in namespace " + o.netns);
  switch (err) {
    case EBUSY:
      return dev + " is busy: another process holds its queue; stop it, or create the TAP "
                   "with multi_queue and use --queues";
    case EINVAL:
      return dev + ": a device of that name exists and is not a TAP opened this way (a TUN, a "
                   "veth, or a TAP whose multi_queue setting differs from --queues); choose "
                   "another name or match --queues to it";
    case EPERM:
    case EACCES:
      return dev + ": not permitted (needs CAP_NET_ADMIN: run as root)";
    default:
      return dev + ": TUNSETIFF failed: " + errno_text(err);
  }
}

std::string open_problem(int err) {
  if (err == ENOENT || err == ENODEV || err == ENXIO)
    return std::string(kTunPath) + " is missing: load the tun module (modprobe tun) or create "
           "the node (mkdir -p /dev/net && mknod /dev/net/tun c 10 200)";
  if (err == EACCES || err == EPERM)
    return std::string("cannot open ") + kTunPath + ": permission denied (run as root)";
  return std::string("cannot open ") + kTunPath + ": " + errno_text(err);
}

unsigned tun_offload_flags(const TapOptions& o) {
  if (!o.csum) return 0;
  unsigned f = TUN_F_CSUM | (o.tso4 ? TUN_F_TSO4 : 0) | (o.tso6 ? TUN_F_TSO6 : 0);
  if ((o.tso4 || o.tso6) && o.ecn) f |= TUN_F_TSO_ECN;
  return f;
}

std::string tun_offload_names(unsigned f) {
  std::string s;
  for (auto [bit, n] : {std::pair{TUN_F_CSUM, "CSUM"}, {TUN_F_TSO4, "TSO4"},
                        {TUN_F_TSO6, "TSO6"}, {TUN_F_TSO_ECN, "TSO_ECN"}})
    if (f & bit) {
      if (!s.empty()) s += ' ';
      s += n;
    }
  return s.empty() ? "none" : s;
}

// One queue's descriptor, set up for 12-byte little-endian virtio-net headers.
int open_queue(const TapOptions& o, std::string& error) {
  int fd = ::open(kTunPath, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    error = open_problem(errno);
    return -1;
  }
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, o.ifname.c_str(), IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (o.queues > 1 ? IFF_MULTI_QUEUE : 0);
  int hdr_size = sizeof(VirtioNetHdr), le = 1;
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    error = setiff_problem(o, errno);
  } else if (o.persist && ioctl(fd, TUNSETPERSIST, 1) != 0) {
    error = "TAP " + o.ifname + ": TUNSETPERSIST failed: " + errno_text(errno);
  } else if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) != 0) {
    error = "TAP " + o.ifname + ": TUNSETVNETHDRSZ failed: " + errno_text(errno);
  } else if (ioctl(fd, TUNSETVNETLE, &le) != 0) {
    error = "TAP " + o.ifname + ": TUNSETVNETLE failed: " + errno_text(errno) +
            " (the kernel cannot give little-endian virtio-net headers)";
  } else if (ioctl(fd, TUNSETOFFLOAD, tun_offload_flags(o)) != 0) {
    error = "TAP " + o.ifname + ": the kernel refused the offloads " +
            tun_offload_names(tun_offload_flags(o)) + ": " + errno_text(errno) +
            " (switch them off with --disable)";
  } else {
    return fd;
  }
  ::close(fd);
  return -1;
}

// Sets the MTU if asked, brings the link up, and returns the MTU in use (0 on error).
uint32_t configure_link(const TapOptions& o, std::string& error) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    error = "cannot open a socket to configure " + o.ifname + ": " + errno_text(errno);
    return 0;
  }
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, o.ifname.c_str(), IFNAMSIZ - 1);
  uint32_t mtu = 0;
  if (o.mtu != 0 && (ifr.ifr_mtu = int(o.mtu), ioctl(s, SIOCSIFMTU, &ifr) != 0))
    error = "cannot set MTU " + std::to_string(o.mtu) + " on " + o.ifname + ": " +
            errno_text(errno) + " (a TAP takes 68 to 65535)";
  else if (ioctl(s, SIOCGIFMTU, &ifr) != 0)
    error = "cannot read the MTU of " + o.ifname + ": " + errno_text(errno);
  else if (mtu = uint32_t(ifr.ifr_mtu), ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
    error = "cannot read the flags of " + o.ifname + ": " + errno_text(errno);
  else if (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
    error = "cannot bring " + o.ifname + " up: " + errno_text(errno);
  ::close(s);
  return error.empty() ? mtu : 0;
}

struct Opened {
  std::vector<int> fds;
  uint32_t mtu = 0;
  uint64_t netns_dev = 0, netns_ino = 0;
  std::string error;
};

// Opens every queue and configures the link, in the calling thread's namespace.
void open_all(const TapOptions& o, Opened& out) {
  for (uint16_t q = 0; q < o.queues && out.error.empty(); ++q) {
    int fd = open_queue(o, out.error);
    if (fd >= 0) out.fds.push_back(fd);
  }
  if (out.error.empty()) out.mtu = configure_link(o, out.error);
  if (out.error.empty()) return;
  for (int fd : out.fds) ::close(fd);
  out.fds.clear();
}

// setns() changes only the calling thread's namespace, so a short-lived thread
// enters it, opens the TAP (which is created in the namespace of the process
// that opens /dev/net/tun) and ends; the descriptors stay with the switch.
Opened open_in_netns(const TapOptions& o) {
  Opened out;
  std::string path = kNetnsDir + o.netns;
  int ns = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    out.error = errno == ENOENT ? "network namespace " + o.netns + " not found (no " + path +
                                      "): create it with `ip netns add " + o.netns +
                                      "` or correct --netns"
                                : "cannot open " + path + ": " + errno_text(errno);
    return out;
  }
  struct stat st;
  fstat(ns, &st);
  out.netns_dev = st.st_dev;
  out.netns_ino = st.st_ino;
  std::thread t([&] {
    if (setns(ns, CLONE_NEWNET) != 0)
      out.error = "cannot enter network namespace " + o.netns + ": " + errno_text(errno) +
                  " (needs CAP_SYS_ADMIN: run as root)";
    else
      open_all(o, out);
  });
  t.join();
  ::close(ns);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// TapReadiness

std::shared_ptr<TapReadiness> TapReadiness::create(std::string& error) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    error = "cannot create an epoll instance for kernel ports: " + errno_text(errno);
    return nullptr;
  }
  uint64_t interval = rte_get_tsc_hz() / 1000000 * kPollIntervalUs;
  return std::shared_ptr<TapReadiness>(new TapReadiness(epfd, interval));
}

TapReadiness::~TapReadiness() { ::close(epfd_); }

bool TapReadiness::add(TapPort::Queue* q, std::string& error) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = q;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, q->fd, &ev) == 0) return true;
  error = "cannot watch a TAP descriptor with epoll: " + errno_text(errno);
  return false;
}

// Once it returns, no poll() holds `q` from an epoll_wait made before: the
// caller may free it.
void TapReadiness::remove(TapPort::Queue* q) {
  epoll_ctl(epfd_, EPOLL_CTL_DEL, q->fd, nullptr);
  std::lock_guard<std::mutex> no_poll_in_flight(polling_);
}

// One caller at a time (kernel ports on several datapath lcores): another
// that finds it busy goes on, the first marks its queues too.
void TapReadiness::poll() {
  uint64_t now = rte_get_tsc_cycles();
  if (now < next_.load(std::memory_order_relaxed)) return;
  std::unique_lock<std::mutex> lock(polling_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  next_.store(now + interval_tsc_, std::memory_order_relaxed);
  epoll_event evs[64];
  int n = epoll_wait(epfd_, evs, 64, 0);
  waits_.fetch_add(1, std::memory_order_relaxed);
  // EPOLLERR/EPOLLHUP count as readable: the read then says what happened.
  for (int i = 0; i < n; ++i) static_cast<TapPort::Queue*>(evs[i].data.ptr)->readable = true;
}

// ---------------------------------------------------------------------------
// TapPort: opening and closing

TapPort::TapPort(const TapOptions& opts, rte_mempool* pool,
                 std::shared_ptr<TapReadiness> readiness)
    : Port(opts.name.empty() ? opts.ifname : opts.name),
      opts_(opts),
      pool_(pool),
      readiness_(std::move(readiness)) {}

std::unique_ptr<TapPort> TapPort::open(const TapOptions& opts, rte_mempool* pool,
                                       std::shared_ptr<TapReadiness> readiness,
                                       std::string& error) {
  if (opts.ifname.empty() || opts.ifname.size() >= IFNAMSIZ) {
    error = "TAP name '" + opts.ifname + "' must have 1 to " + std::to_string(IFNAMSIZ - 1) +
            " characters";
    return nullptr;
  }
  std::unique_ptr<TapPort> port(new TapPort(opts, pool, std::move(readiness)));
  if (!port->setup(error)) return nullptr;  // the destructor closes what was opened
  VO_LOG(INFO, "port %s: TAP %s%s%s, %u queue(s), MTU %u, kernel offloads: %s%s",
         port->name().c_str(), opts.ifname.c_str(), opts.netns.empty() ? "" : " in namespace ",
         opts.netns.c_str(), opts.queues, port->mtu_, port->offloads().c_str(),
         port->tx_caps().tso4 && port->tx_caps().tso6 ? "" : "; large segments are cut in software");
  return port;
}

bool TapPort::setup(std::string& error) {
  Opened o;
  if (opts_.netns.empty())
    open_all(opts_, o);
  else
    o = open_in_netns(opts_);
  if (!o.error.empty()) {
    error = o.error;
    return false;
  }
  netns_dev_ = o.netns_dev;
  netns_ino_ = o.netns_ino;
  mtu_ = o.mtu;
  queues_.resize(o.fds.size());  // never resized again: readiness holds pointers
  for (size_t i = 0; i < o.fds.size(); ++i) queues_[i].fd = o.fds[i];
  seg_room_ = rte_pktmbuf_data_room_size(pool_) - RTE_PKTMBUF_HEADROOM;
  segs_per_frame_ = uint16_t((kMaxGsoPacketLen + 1 + seg_room_ - 1) / seg_room_);
  if (segs_per_frame_ + 1 > kMaxRxIov) {
    error = "the packet pool's mbufs are too small to receive from a TAP";
    return false;
  }
  for (Queue& q : queues_)
    if (!readiness_->add(&q, error)) return false;
  tun_flags_.store(tun_offload_flags(opts_));
  caps_.max_frame = mtu_ + sizeof(EthHdr) + sizeof(VlanTag);
  caps_.max_large = kMaxGsoPacketLen;
  caps_.max_tso_frame = kMaxIpLength + sizeof(EthHdr) + sizeof(VlanTag);  // the kernel cuts at any MSS
  set_gro_enabled(opts_.gro);
  ready_.store(true, std::memory_order_release);
  return true;
}

TapPort::~TapPort() { release(); }

TxCaps TapPort::tx_caps() const {
  TxCaps c = caps_;
  const unsigned f = tun_flags_.load(std::memory_order_relaxed);
  c.l4_csum = f & TUN_F_CSUM;
  c.tso4 = f & TUN_F_TSO4;
  c.tso6 = f & TUN_F_TSO6;
  return c;
}

std::string TapPort::offloads() const { return tun_offload_names(tun_flags_.load()); }

// TUNSETOFFLOAD is the device's, whichever queue sets it. A large segment the
// datapath prepared before the change still goes whole: the kernel takes a
// GSO frame from a TAP whatever its offload flags (they say what it may hand
// us), and cuts it itself where it must.
bool TapPort::set_offloads(const TapOptions& o, std::string& error) {
  const unsigned f = tun_offload_flags(o);
  if (queues_.empty() || ioctl(queues_[0].fd, TUNSETOFFLOAD, f) != 0) {
    error = "TAP " + opts_.ifname + ": the kernel refused the offloads " + tun_offload_names(f) +
            ": " + errno_text(errno);
    return false;
  }
  tun_flags_.store(f);
  VO_LOG(INFO, "port %s: kernel offloads now %s", name().c_str(), tun_offload_names(f).c_str());
  return true;
}

void TapPort::retire() {
  if (!opts_.persist) return;
  for (Queue& q : queues_)
    if (q.fd >= 0 && ioctl(q.fd, TUNSETPERSIST, 0) == 0) return;  // gone with the last fd
  VO_LOG(WARNING, "port %s: TAP %s could not be let go and stays: delete it with `ip link del %s`",
         name().c_str(), opts_.ifname.c_str(), opts_.ifname.c_str());
}

void TapPort::release() {
  for (Queue& q : queues_) {
    if (q.fd >= 0) {
      readiness_->remove(&q);
      ::close(q.fd);
      q.fd = -1;
    }
    if (!q.spare.empty()) rte_pktmbuf_free_bulk(q.spare.data(), unsigned(q.spare.size()));
    q.spare.clear();
  }
}

void TapPort::go_down(const std::string& why) {
  if (!ready()) return;
  ready_.store(false, std::memory_order_seq_cst);
  down_reason_ = why;
  down_events_.fetch_add(1, std::memory_order_release);
  release();
  VO_LOG(WARNING, "port %s: %s; the port is down and has let go of the device (the other "
         "ports carry on; restart the switch to attach it again)", name().c_str(), why.c_str());
}

// A deleted device shows as EBADFD on the next read or write. A deleted
// namespace does not: our descriptors keep it alive, device and all, so the
// port watches the namespace's name and lets go when `ip netns del` removed it.
void TapPort::check_alive(uint64_t now) {
  next_check_ = now + rte_get_tsc_hz() / kLivenessChecksPerSecond;
  if (!ready()) return;
  if (!opts_.netns.empty()) {
    struct stat st;
    std::string path = kNetnsDir + opts_.netns;
    if (stat(path.c_str(), &st) != 0 || st.st_dev != netns_dev_ || st.st_ino != netns_ino_) {
      go_down("network namespace " + opts_.netns + " was deleted");
      return;
    }
  }
  for (Queue& q : queues_) q.readable = true;  // a quiet queue reads once: is it still there?
}

// ---------------------------------------------------------------------------
// Receive: kernel -> switch

bool TapPort::refill(Queue& q) {
  size_t have = q.spare.size();
  if (have >= segs_per_frame_) return true;
  q.spare.resize(segs_per_frame_);
  if (rte_pktmbuf_alloc_bulk(pool_, q.spare.data() + have, unsigned(segs_per_frame_ - have)) == 0)
    return true;
  q.spare.resize(have);
  return false;
}

// The first mbufs of the spare chain, holding `len` bytes just read, as one packet.
rte_mbuf* TapPort::take_frame(Queue& q, uint32_t len) {
  uint16_t k = uint16_t(std::max<uint32_t>(1, (len + seg_room_ - 1) / seg_room_));
  rte_mbuf* head = q.spare[0];
  uint32_t left = len;
  for (uint16_t i = 0; i < k; ++i) {
    rte_mbuf* s = q.spare[i];
    s->data_len = uint16_t(std::min(left, seg_room_));
    left -= s->data_len;
    s->next = i + 1 < k ? q.spare[i + 1] : nullptr;
  }
  head->nb_segs = k;
  head->pkt_len = len;
  q.spare.erase(q.spare.begin(), q.spare.begin() + k);
  return head;
}

void TapPort::admit_frame(const VirtioNetHdr& h, rte_mbuf* m, rte_mbuf** pkts, uint16_t& got) {
  Reason r = metadata_from_hdr(h, m);
  char fields[160] = "";
  if (r != Reason::Ok)  // the header's fields say more than the reason alone
    snprintf(fields, sizeof(fields),
             " (virtio_net_hdr flags %u gso_type %u gso_size %u hdr_len %u csum_start %u "
             "csum_offset %u, frame %u bytes)",
             h.flags, h.gso_type, h.gso_size.get(), h.hdr_len.get(), h.csum_start.get(),
             h.csum_offset.get(), m->pkt_len);
  if (admit_rx(m, r, "kernel", fields)) pkts[got++] = m;
}

uint16_t TapPort::read_queue(Queue& q, rte_mbuf** pkts, uint16_t n) {
  q.readable = false;
  uint16_t got = 0;
  iovec iov[kMaxRxIov];
  VirtioNetHdr h;
  // Every read counts against the burst, a refused frame's too: a peer that
  // streams frames the port refuses must not keep the datapath reading here.
  for (uint16_t reads = 0; reads < n && q.fd >= 0; ++reads) {
    if (!refill(q)) {  // the pool is empty: leave the frames queued in the kernel
      rx_no_mbufs_++;
      break;
    }
    iov[0] = {&h, sizeof(h)};
    for (uint16_t i = 0; i < segs_per_frame_; ++i)
      iov[1 + i] = {rte_pktmbuf_mtod(q.spare[i], void*), seg_room_};
    ssize_t r = readv(q.fd, iov, 1 + segs_per_frame_);
    rx_reads_++;
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        rx_empty_reads_++;
        q.quiet = true;
        break;
      }
      go_down("TAP " + opts_.ifname + " is gone (read: " + errno_text(errno) + ")");
      break;
    }
    q.quiet = false;
    // tun returns the frame's full length even when it did not fit (tun_put_user()),
    // so a length past the largest frame means a truncated read, never a packet.
    uint32_t len = uint32_t(r) > sizeof(h) ? uint32_t(r - sizeof(h)) : 0;
    Reason early = uint32_t(r) < sizeof(h) + sizeof(EthHdr) ? Reason::HdrTruncated
                   : len > kMaxGsoPacketLen                 ? Reason::TooLarge
                                                            : Reason::Ok;
    if (early != Reason::Ok) {  // the spare mbufs stay for the next read
      stats().rx_packets++;
      stats().rx_invalid.add(early);
      VO_LOG_RL(WARNING, "port %s: dropped a %zd-byte read from the kernel: %s", name().c_str(),
                r, std::string(describe(early)).c_str());
      continue;
    }
    q.rx_frames++;
    admit_frame(h, take_frame(q, len), pkts, got);
  }
  return got;
}

uint16_t TapPort::rx_burst(uint16_t /*queue*/, rte_mbuf** pkts, uint16_t n) {
  SharedLock io(io_lock_);
  uint64_t now = rte_get_tsc_cycles();
  if (now >= next_check_) check_alive(now);
  if (!ready()) return 0;
  bool any_quiet = false;
  for (const Queue& q : queues_) any_quiet |= q.quiet && !q.readable;
  if (any_quiet) readiness_->poll();
  uint16_t got = 0;
  size_t nq = queues_.size();
  for (size_t k = 0; k < nq && got < n && ready(); ++k) {
    Queue& q = queues_[(next_queue_ + k) % nq];
    if (!q.quiet || q.readable) got += read_queue(q, pkts + got, uint16_t(n - got));
  }
  next_queue_ = uint16_t((next_queue_ + 1) % nq);  // no queue always first
  return got;
}

// ---------------------------------------------------------------------------
// Transmit: switch -> kernel

Reason TapPort::tx_prepare(rte_mbuf* m) {
  // A 12-byte virtio_net_hdr has no tunnel GSO type: the kernel would take a
  // VXLAN large segment for plain TCP and fail to cut it.
  if (is_large_segment(m) && (m->ol_flags & RTE_MBUF_F_TX_TUNNEL_MASK)) {
    VO_LOG_RL(WARNING, "port %s: cannot hand a VXLAN large segment to the kernel whole "
              "(virtio_net_hdr has no tunnel GSO); dropped", name().c_str());
    return Reason::DeviceRefused;
  }
  return Reason::Ok;
}

// With several queues, each flow is written to one of them by its hash: the
// kernel receives it as that queue's (skb rx queue), so that RPS and RFS in
// the host spread flows over CPUs as they do a multi-queue NIC's, and a
// flow stays on one queue, in order.
uint16_t TapPort::tx_burst(rte_mbuf** pkts, uint16_t n) {
  SharedLock io(io_lock_);
  if (!ready()) return 0;
  const size_t nq = queues_.size();
  iovec iov[kMaxTxIov];
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    Queue& q = queues_[flow_queue(m, uint16_t(nq))];
    const int fd = q.fd;
    VirtioNetHdr h = hdr_from_metadata(m);
    iov[0] = {&h, sizeof(h)};
    uint16_t k = 1;
    for (rte_mbuf* s = m; s != nullptr && k < kMaxTxIov; s = s->next)
      if (s->data_len) iov[k++] = {rte_pktmbuf_mtod(s, void*), s->data_len};
    ssize_t r = k < kMaxTxIov ? writev(fd, iov, k) : (errno = EMSGSIZE, -1);
    if (r < 0 && errno == EINTR) r = writev(fd, iov, k);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return i;  // retried later
      if (errno == EBADFD || errno == EBADF || errno == ENODEV) {
        go_down("TAP " + opts_.ifname + " is gone (write: " + errno_text(errno) + ")");
        return i;
      }
      tx_refused_++;
      stats().tx_invalid.add(Reason::DeviceRefused);
      VO_LOG_RL(WARNING, "port %s: the kernel refused a %u-byte frame: %s", name().c_str(),
                m->pkt_len, errno_text(errno).c_str());
    } else {
      q.tx_frames++;
    }
    rte_pktmbuf_free(m);  // written: the kernel copied it
  }
  return n;
}

Port::Details TapPort::details() const {
  Details d;
  d.text.emplace_back("device", opts_.ifname);
  if (!opts_.netns.empty()) d.text.emplace_back("netns", opts_.netns);
  d.text.emplace_back("features", offloads());
  uint64_t downs = down_events_.load(std::memory_order_acquire);
  if (downs) d.text.emplace_back("down_reason", down_reason_);
  d.numbers.emplace_back("down_events", downs);
  d.numbers.emplace_back("queues", queues_.size());
  d.numbers.emplace_back("mtu", mtu_);
  d.numbers.emplace_back("rx_reads", rx_reads_);
  d.numbers.emplace_back("rx_empty_reads", rx_empty_reads_);
  d.numbers.emplace_back("readiness_polls", readiness_->waits());
  d.numbers.emplace_back("rx_no_mbufs", rx_no_mbufs_);
  d.numbers.emplace_back("tx_refused", tx_refused_);
  for (size_t i = 0; i < queues_.size(); ++i) {
    d.numbers.emplace_back(queue_counter(uint16_t(i), "rx_frames"), queues_[i].rx_frames);
    d.numbers.emplace_back(queue_counter(uint16_t(i), "tx_frames"), queues_[i].tx_frames);
  }
  return d;
}

}  // namespace vo
