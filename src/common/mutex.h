// A mutex that clang's thread-safety analysis understands (-Wthread-safety, on in every clang
// build; the sanitizer CI jobs build with clang and stop on a violation), and the annotations
// for what it guards.
//
//   Mutex mu_;
//   int count_ FERRY_GUARDED_BY(mu_);
//   void Add() { MutexLock lock(mu_); ++count_; }
//
// libstdc++'s std::mutex and std::lock_guard carry no annotations, so state guarded this way
// is locked through Mutex and MutexLock; a std::condition_variable waits through the lock
// (MutexLock::Wait, WaitUntil), with the condition checked in a loop the analysis sees. g++
// ignores the attributes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define FERRY_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define FERRY_THREAD_ANNOTATION(x)
#endif

#define FERRY_CAPABILITY(x) FERRY_THREAD_ANNOTATION(capability(x))
#define FERRY_SCOPED_CAPABILITY FERRY_THREAD_ANNOTATION(scoped_lockable)
#define FERRY_GUARDED_BY(x) FERRY_THREAD_ANNOTATION(guarded_by(x))
#define FERRY_PT_GUARDED_BY(x) FERRY_THREAD_ANNOTATION(pt_guarded_by(x))
#define FERRY_REQUIRES(...) FERRY_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define FERRY_ACQUIRE(...) FERRY_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define FERRY_RELEASE(...) FERRY_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define FERRY_TRY_ACQUIRE(...) FERRY_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define FERRY_EXCLUDES(...) FERRY_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define FERRY_NO_THREAD_SAFETY_ANALYSIS FERRY_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace ferry {

class FERRY_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() FERRY_ACQUIRE() { mu_.lock(); }
  void unlock() FERRY_RELEASE() { mu_.unlock(); }
  bool try_lock() FERRY_TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds `mu` for its scope. Waiting on a condition variable releases and retakes it; the
// analysis sees it held throughout, as it is around every access:
//   MutexLock lock(mu_);
//   while (!ready_) lock.Wait(cv_);
class FERRY_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) FERRY_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() FERRY_RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // Lets go of the mutex for a while (work that must not hold it), and takes it again.
  void Unlock() FERRY_RELEASE() { mu_.unlock(); }
  void Lock() FERRY_ACQUIRE() { mu_.lock(); }

  // Waits for a notification of `cv` (or a spurious wake-up).
  void Wait(std::condition_variable& cv) {
    std::unique_lock<std::mutex> native(mu_.mu_, std::adopt_lock);
    cv.wait(native);
    native.release();
  }
  // The same until `deadline`; false once it has passed.
  template <typename Clock, typename Duration>
  bool WaitUntil(std::condition_variable& cv,
                 const std::chrono::time_point<Clock, Duration>& deadline) {
    std::unique_lock<std::mutex> native(mu_.mu_, std::adopt_lock);
    const bool notified = cv.wait_until(native, deadline) == std::cv_status::no_timeout;
    native.release();
    return notified;
  }

 private:
  Mutex& mu_;
};

}  // namespace ferry
