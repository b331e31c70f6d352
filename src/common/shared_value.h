// A value one thread writes while others read it: a std::atomic that can still be copied
// (and so kept in a std::vector) while no other thread sees it yet, e.g. while a task is set
// up. Reads and writes are sequentially consistent; a copy reads the source once. A type that
// std::atomic cannot hold (a cdc::Position: bytes) is kept behind a mutex instead, with the
// same interface.
#pragma once

#include <atomic>
#include <type_traits>
#include <utility>

#include "common/mutex.h"

namespace ferry {

namespace detail {

template <typename T, bool kAtomic = std::is_trivially_copyable_v<T>>
class SharedCell {
 public:
  explicit SharedCell(T value) : value_(value) {}
  T load() const { return value_.load(); }
  void store(T value) { value_.store(value); }

 private:
  std::atomic<T> value_;
};

template <typename T>
class SharedCell<T, false> {
 public:
  explicit SharedCell(T value) : value_(std::move(value)) {}
  T load() const {
    MutexLock lock(mu_);
    return value_;
  }
  void store(T value) {
    MutexLock lock(mu_);
    value_ = std::move(value);
  }

 private:
  mutable Mutex mu_;
  T value_ FERRY_GUARDED_BY(mu_);
};

}  // namespace detail

template <typename T>
class SharedValue {
 public:
  SharedValue(T value = T{}) : value_(std::move(value)) {}  // NOLINT: converts like the T it holds
  SharedValue(const SharedValue& other) : value_(other.value_.load()) {}
  SharedValue& operator=(const SharedValue& other) {
    if (this != &other) value_.store(other.value_.load());
    return *this;
  }
  SharedValue& operator=(T value) {
    value_.store(std::move(value));
    return *this;
  }
  operator T() const { return value_.load(); }  // NOLINT: reads like the T it holds
  T load() const { return value_.load(); }

 private:
  detail::SharedCell<T> value_;
};

}  // namespace ferry
