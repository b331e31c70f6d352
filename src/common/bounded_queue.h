// A blocking FIFO with a capacity, joining one producer thread to one consumer thread.
// Close() wakes both sides: Push then returns false (the consumer is gone), Pop drains what is
// left and then returns false. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <optional>

#include "common/mutex.h"

namespace ferry {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Blocks while full. Returns false (and drops `item`) when the queue was closed.
  bool Push(T item) {
    MutexLock lock(mu_);
    while (!closed_ && items_.size() >= capacity_) lock.Wait(not_full_);
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // Blocks while empty and open. Returns nullopt once closed and drained.
  std::optional<T> Pop() {
    MutexLock lock(mu_);
    while (!closed_ && items_.empty()) lock.Wait(not_empty_);
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }

  // Like Pop, but waits at most `timeout`: nullopt when nothing arrived (check closed()).
  template <typename Rep, typename Period>
  std::optional<T> PopFor(std::chrono::duration<Rep, Period> timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    MutexLock lock(mu_);
    while (!closed_ && items_.empty() && lock.WaitUntil(not_empty_, deadline)) {
    }
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }
  bool closed() const {
    MutexLock lock(mu_);
    return closed_;
  }
  size_t size() const {
    MutexLock lock(mu_);
    return items_.size();
  }

  // No more pushes will be accepted; pending items may still be popped.
  void Close() {
    MutexLock lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }
  // Close and drop everything pending (the consumer gave up).
  void CloseAndClear() {
    MutexLock lock(mu_);
    closed_ = true;
    items_.clear();
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  mutable Mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_ FERRY_GUARDED_BY(mu_);
  size_t capacity_;
  bool closed_ FERRY_GUARDED_BY(mu_) = false;
};

}  // namespace ferry
