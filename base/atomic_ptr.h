// A pointer that one thread may set while others read it: the region's store
// and replicator are replaced by a kill and a restart while the region's HTTP
// threads (and the admin API) read them. Reads and writes are atomic
// (acquire/release), and it reads like a plain pointer at the call sites.
#pragma once

#include <atomic>

namespace regionlab {

template <class T>
class AtomicPtr {
 public:
  AtomicPtr(T* p = nullptr) : p_(p) {}  // NOLINT: implicit, like a raw pointer
  AtomicPtr(const AtomicPtr&) = delete;
  AtomicPtr& operator=(const AtomicPtr&) = delete;

  AtomicPtr& operator=(T* p) {
    p_.store(p, std::memory_order_release);
    return *this;
  }
  T* get() const { return p_.load(std::memory_order_acquire); }
  operator T*() const { return get(); }  // NOLINT: implicit, like a raw pointer
  T* operator->() const { return get(); }
  T& operator*() const { return *get(); }

 private:
  std::atomic<T*> p_;
};

}  // namespace regionlab
