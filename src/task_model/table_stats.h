// Per-table statistics as AWS DMS reports them (DescribeTableStatistics), kept live during a
// load: the counters are atomics so the progress display can read them from another thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "common/mutex.h"

namespace ferry {

// DMS TableState values.
inline constexpr const char* kStateBeforeLoad = "Before load";
inline constexpr const char* kStateFullLoad = "Full load";
inline constexpr const char* kStateCompleted = "Table completed";
inline constexpr const char* kStateError = "Table error";
inline constexpr const char* kStateCancelled = "Table cancelled";
// The source table was dropped during change processing (HandleSourceTableDropped).
inline constexpr const char* kStateTableDropped = "Table does not exist";

using WallClock = std::chrono::system_clock;

struct TableStats {
  std::string source_schema, source_table;
  std::string target_schema, target_table;
  int64_t estimated_rows = -1;

  std::atomic<int64_t> full_load_rows{0};   // rows committed/written to the target
  std::atomic<int64_t> rows_read{0};        // rows read from the source
  std::atomic<int64_t> bytes_read{0};       // approximate bytes moved (batch sizes)
  std::atomic<int64_t> full_load_error_rows{0};  // rows refused (reader or writer side)
  std::atomic<bool> running{false};

  // Guards the fields below (checked by clang: lock it with MutexLock).
  Mutex mu;
  std::string state FERRY_GUARDED_BY(mu) = kStateBeforeLoad;
  WallClock::time_point start_time FERRY_GUARDED_BY(mu){};
  WallClock::time_point end_time FERRY_GUARDED_BY(mu){};
  std::string error FERRY_GUARDED_BY(mu);  // set when state is Table error
  // message -> count (e.g. zero dates per column)
  std::map<std::string, int64_t> warnings FERRY_GUARDED_BY(mu);

  // Data validation (ValidationSettings, `ferry validate`; see validation/validator.h).
  // Guarded by mu. validation_state "" = validation did not run ("Not enabled" in reports).
  std::string validation_state FERRY_GUARDED_BY(mu);
  int64_t validation_pending_records FERRY_GUARDED_BY(mu) = 0;
  int64_t validation_failed_records FERRY_GUARDED_BY(mu) = 0;
  int64_t validation_suspended_records FERRY_GUARDED_BY(mu) = 0;
  int64_t validation_source_rows FERRY_GUARDED_BY(mu) = 0;  // rows compared on each side
  int64_t validation_target_rows FERRY_GUARDED_BY(mu) = 0;
  // Why the state is not Validated, or a limit reached.
  std::string validation_message FERRY_GUARDED_BY(mu);

  // Recoverable errors (ErrorBehavior.RecoverableError*): times this table was reloaded from
  // the start after a lost connection. Guarded by mu.
  int64_t recoverable_retries FERRY_GUARDED_BY(mu) = 0;
  std::string last_recoverable_error FERRY_GUARDED_BY(mu);

  // Change processing (DMS: Inserts, Updates, Deletes, Ddls are changes captured for the table;
  // Applied* are the ones committed on the target). Cached changes count when applied.
  std::atomic<int64_t> cdc_inserts{0}, cdc_updates{0}, cdc_deletes{0}, cdc_ddls{0};
  std::atomic<int64_t> applied_inserts{0}, applied_updates{0}, applied_deletes{0},
      applied_ddls{0};
  std::atomic<int64_t> cdc_apply_errors{0};  // changes that did not apply (apply error policies)

  std::string SourceName() const { return source_schema + "." + source_table; }
  std::string TargetName() const { return target_schema + "." + target_table; }
};

}  // namespace ferry
