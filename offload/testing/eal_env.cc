#include "eal_env.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace vo::testing {

void ensure_eal() {
  static bool started = [] {
    std::vector<const char*> args = {
        "vo-test", "--no-huge", "--no-pci", "--no-shconf", "-m", "512", "-l", "0",
        "--log-level=lib.eal:error", "--no-telemetry",
        // Only the ring mempool driver is needed: loading every PMD in the
        // plugin directory costs seconds per test binary.
        "-d", "librte_mempool_ring.so"};
    if (rte_eal_init(int(args.size()), const_cast<char**>(args.data())) < 0) {
      std::fprintf(stderr, "tests: cannot start DPDK's EAL: %s\n", rte_strerror(rte_errno));
      std::abort();
    }
    return true;
  }();
  (void)started;
}

Pool::Pool(const std::string& name, uint32_t n, uint16_t data_room) {
  ensure_eal();
  static std::atomic<int> seq{0};
  std::string unique = name + "_" + std::to_string(seq++);
  mp_ = rte_pktmbuf_pool_create(unique.c_str(), n, 0, 0, data_room, 0);
  if (mp_ == nullptr) {
    std::fprintf(stderr, "tests: cannot create mempool %s: %s\n", unique.c_str(),
                 rte_strerror(rte_errno));
    std::abort();
  }
}

Pool::~Pool() { rte_mempool_free(mp_); }

uint32_t Pool::in_use() const { return rte_mempool_in_use_count(mp_); }

}  // namespace vo::testing
