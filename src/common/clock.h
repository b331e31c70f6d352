// The seam for waits that only pass time: retry intervals after a lost connection. Code that
// waits asks a Clock; production uses RealClock() (steady clock, interruptible), a test
// installs an InstantClock so the same retry paths run without sitting through the interval.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

namespace ferry {

class Clock {
 public:
  virtual ~Clock() = default;
  // Waits `duration`, returning early as soon as `stop()` is true (polled at least every
  // 50 ms). Returns true when the whole wait ran, false when `stop` ended it.
  virtual bool Wait(std::chrono::milliseconds duration, const std::function<bool()>& stop) const = 0;
};

// The steady clock, sleeping in slices of 50 ms. Thread-safe.
const Clock& RealClock();

// Waits return at once (unless `stop()` is already true) and add up what was asked (tests).
class InstantClock : public Clock {
 public:
  bool Wait(std::chrono::milliseconds duration, const std::function<bool()>& stop) const override {
    if (stop && stop()) return false;
    waited_ms_ += duration.count();
    return true;
  }
  // Milliseconds of waiting asked for so far.
  int64_t waited_ms() const { return waited_ms_.load(); }

 private:
  mutable std::atomic<int64_t> waited_ms_{0};
};

}  // namespace ferry
