// A value one thread writes while others read it: a std::atomic that can still be copied
// (and so kept in a std::vector) while no other thread sees it yet, e.g. while a task is set
// up. Reads and writes are sequentially consistent; a copy reads the source once.
#pragma once

#include <atomic>

namespace ferry {

template <typename T>
class SharedValue {
 public:
  SharedValue(T value = T{}) : value_(value) {}  // NOLINT: converts like the T it holds
  SharedValue(const SharedValue& other) : value_(other.value_.load()) {}
  SharedValue& operator=(const SharedValue& other) {
    value_.store(other.value_.load());
    return *this;
  }
  SharedValue& operator=(T value) {
    value_.store(value);
    return *this;
  }
  operator T() const { return value_.load(); }  // NOLINT: reads like the T it holds
  T load() const { return value_.load(); }

 private:
  std::atomic<T> value_;
};

}  // namespace ferry
