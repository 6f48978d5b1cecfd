// DPDK for unit tests: EAL started once per test binary in a mode that needs
// nothing from the machine (no hugepages, no PCI, no files), and mempools
// that can be checked for leaks.
#pragma once

#include <cstdint>
#include <string>

struct rte_mempool;

namespace vo::testing {

// Starts the EAL if it is not running yet. Aborts the test binary with a
// message if it cannot (tests cannot mean anything without it).
void ensure_eal();

// A packet mempool owned by a test; the destructor frees it.
class Pool {
 public:
  Pool(const std::string& name, uint32_t n, uint16_t data_room);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  [[nodiscard]] rte_mempool* get() const { return mp_; }
  operator rte_mempool*() const { return mp_; }
  // Mbufs currently taken from the pool (allocated, not yet freed).
  [[nodiscard]] uint32_t in_use() const;

 private:
  rte_mempool* mp_;
};

}  // namespace vo::testing
