// Live progress of a full load. On a terminal: one line per running table (rows, rows/s,
// percent of the estimate, ETA), redrawn in place twice a second. Otherwise: a log line per
// running table every `log_interval`. Runs its own thread between Start() and Stop().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "task_model/table_stats.h"

namespace ferry {

class ProgressDisplay {
 public:
  // `stats` must outlive the display. `interactive` selects the redrawn terminal view.
  ProgressDisplay(const std::vector<std::unique_ptr<TableStats>>& stats, bool interactive,
                  std::chrono::milliseconds log_interval = std::chrono::seconds(10));
  ~ProgressDisplay();
  // Change processing (CDC tasks): `header` returns the task's CDC line (positions, latency,
  // pending); the display then also shows each table's DMS change counters. Call before Start.
  void SetChangeStatus(std::function<std::string()> header) { cdc_header_ = std::move(header); }
  void Start();
  void Stop();  // idempotent; erases the live lines on a terminal

 private:
  void Loop();
  void Draw(bool final);

  const std::vector<std::unique_ptr<TableStats>>& stats_;
  bool interactive_;
  std::chrono::milliseconds interval_;
  std::thread thread_;
  Mutex mu_;
  std::condition_variable cv_;
  bool stop_ FERRY_GUARDED_BY(mu_) = false;
  int lines_drawn_ = 0;
  std::chrono::steady_clock::time_point started_;
  // Per table: rows at the previous tick, for the rate.
  std::vector<int64_t> last_rows_;
  std::vector<double> rate_;
  std::function<std::string()> cdc_header_;
};

// "1.2M", "950", "12.5k"
std::string HumanCount(double n);
// "1h02m", "3m05s", "12s"
std::string HumanDuration(double seconds);

}  // namespace ferry
