#include "common/clock.h"

#include <algorithm>
#include <thread>

namespace ferry {

namespace {

class SteadyClock final : public Clock {
 public:
  bool Wait(std::chrono::milliseconds duration, const std::function<bool()>& stop) const override {
    const auto until = std::chrono::steady_clock::now() + duration;
    for (;;) {
      if (stop && stop()) return false;
      const auto now = std::chrono::steady_clock::now();
      if (now >= until) return true;
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds(50)));
    }
  }
};

}  // namespace

const Clock& RealClock() {
  static const SteadyClock clock;
  return clock;
}

}  // namespace ferry
