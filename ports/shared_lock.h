// A port's lock, taken only when several datapath threads run: with one,
// nothing else touches what it guards on the packets' path.
#pragma once

#include <rte_spinlock.h>

#include "port.h"

namespace vo {

class SharedLock {
 public:
  explicit SharedLock(rte_spinlock_t& lock) : lock_(datapath_threads() > 1 ? &lock : nullptr) {
    if (lock_) rte_spinlock_lock(lock_);
  }
  ~SharedLock() {
    if (lock_) rte_spinlock_unlock(lock_);
  }
  SharedLock(const SharedLock&) = delete;
  SharedLock& operator=(const SharedLock&) = delete;

 private:
  rte_spinlock_t* lock_;
};

}  // namespace vo
