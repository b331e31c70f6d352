// What a task does when something goes wrong, as DMS's ErrorBehavior task settings say:
//  - data errors (one row's value cannot be written or transformed): DataErrorPolicy, or
//    DataTruncationErrorPolicy for a value too long for its column, with escalation after
//    DataErrorEscalationCount errors in one table;
//  - table errors (a table cannot be loaded): TableErrorPolicy, with escalation to stopping the
//    task after TableErrorEscalationCount tables in error;
//  - recoverable errors (a dropped connection, a restarted server): RecoverableErrorCount
//    retries per task, RecoverableErrorInterval seconds apart, doubling when throttled.
//
// ErrorPolicies only decides and counts; the caller acts (drops the row, ends the table, stops
// the task, waits and reloads). It does not depend on any writer or reader, so the full-load
// writer loop and the row-transform stage share one object per task.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/mutex.h"
#include "settings/task_settings.h"

namespace ferry {

// Which DMS policy governs a data error.
enum class DataErrorKind {
  kData,        // DataErrorPolicy: a value the target cannot hold, a transformation failure
  kTruncation,  // DataTruncationErrorPolicy: a value longer than its target column
};

// Writers report no category with a RowError; a value too long for its column is recognised
// by the wording every writer uses for it, so DataTruncationErrorPolicy can apply.
DataErrorKind ClassifyDataError(std::string_view message);

enum class ErrorAction {
  kSkipRow,       // drop the row and go on (LOG_ERROR logs it, IGNORE_RECORD only counts it)
  kSuspendTable,  // the table ends "Table error"; the other tables go on
  kStopTask,      // every table stops; the task ends in error
};

const char* ErrorActionName(ErrorAction action);  // "skip row", "suspend table", "stop task"

struct ErrorDecision {
  ErrorAction action = ErrorAction::kSuspendTable;
  bool log = true;         // kSkipRow only: false under IGNORE_RECORD (counted, not logged)
  bool escalated = false;  // the escalation policy decided, not the base policy
  int64_t count = 0;       // errors of this category so far (per table for data errors, per
                           // task for table errors), including this one
  std::string reason;      // e.g. "DataErrorPolicy LOG_ERROR", "DataErrorEscalationPolicy
                           // STOP_TASK after 2 data errors in table s.t"
};

struct RetryDecision {
  bool retry = false;
  int64_t attempt = 0;       // 1 for the first retry since the channel last recovered
  int64_t wait_seconds = 0;  // to wait before reconnecting
  std::string reason;        // why not, when !retry
};

// Ferry's behaviour without task settings: a bad value fails its table, nothing is retried.
ErrorBehavior StrictErrorBehavior();

// Thread-safe: every method may be called from any thread at once.
class ErrorPolicies {
 public:
  explicit ErrorPolicies(ErrorBehavior behavior);

  const ErrorBehavior& behavior() const { return behavior_; }

  // One row of `table` (qualified name, the counting key) failed. Counts it and returns what
  // to do: the base policy for `kind`, unless DataErrorEscalationCount > 0 and this error makes
  // the table's count reach it, or an earlier one did, in which case DataErrorEscalationPolicy
  // decides (LOG_ERROR escalation keeps skipping rows).
  ErrorDecision OnDataError(const std::string& table, DataErrorKind kind);
  // Data errors counted so far for `table`.
  int64_t DataErrors(const std::string& table) const;
  // Forgets `table`'s data errors: it is being reloaded from the start.
  void ResetDataErrors(const std::string& table);

  // A CDC change of `table` did not apply (change_applier.h ApplyOutcome): `op` is 'I' for an
  // insert that found its key taken, 'U' / 'D' for an update / delete that found no row.
  // Counts it per task and returns ApplyErrorInsertPolicy / ApplyErrorUpdatePolicy /
  // ApplyErrorDeletePolicy (INSERT_RECORD and UPDATE_RECORD never reach here: the change is
  // applied as an upsert), or ApplyErrorEscalationPolicy once ApplyErrorEscalationCount > 0
  // conflicts happened.
  ErrorDecision OnApplyConflict(const std::string& table, char op);
  int64_t ApplyConflicts() const;

  // `table` ended in error (not cancelled). Counts it per task and returns kSuspendTable or
  // kStopTask: TableErrorPolicy, or TableErrorEscalationPolicy (STOP_TASK) once
  // TableErrorEscalationCount > 0 tables are in error.
  ErrorDecision OnTableError(const std::string& table);
  int64_t TableErrors() const;

  // Who meets a recoverable error. Each counts its own retries since its last recovery, so an
  // outage of the target does not shorten the source's patience, and a change-processing task
  // that recovers keeps its full allowance for the next outage.
  enum class Channel { kLoad = 0, kSource = 1, kTarget = 2 };

  // A recoverable error (ErrorKind::kConnection) happened; returns whether to retry and after
  // how long. Counts the channel's retries since it last recovered: RecoverableErrorCount -1
  // retries forever, 0 never, N at most N times. The wait is RecoverableErrorInterval, doubled
  // per retry when RecoverableErrorThrottling, capped at RecoverableErrorThrottlingMax; with
  // RecoverableErrorStopRetryAfterThrottlingMax, retrying stops after one wait at the cap.
  RetryDecision OnRecoverableError(Channel channel = Channel::kLoad);
  // The channel works again (reconnected and made progress): its count and wait start over.
  void Recovered(Channel channel);
  // Retries of every channel since the task started.
  int64_t Retries() const;

  // Waits the decision's interval before a retry, on this task's clock (RealClock() unless a
  // test set another); returns early, false, when `stop()` becomes true.
  bool WaitBeforeRetry(const RetryDecision& decision, const std::function<bool()>& stop) const;
  // The clock retry waits use; `clock` must outlive this object.
  void set_clock(const Clock* clock) { clock_ = clock; }

 private:
  ErrorDecision Decide(ErrorPolicy policy) const;

  const ErrorBehavior behavior_;
  const Clock* clock_ = &RealClock();
  mutable Mutex mu_;
  std::map<std::string, int64_t> data_errors_ FERRY_GUARDED_BY(mu_);  // per table
  int64_t table_errors_ FERRY_GUARDED_BY(mu_) = 0;
  int64_t apply_conflicts_ FERRY_GUARDED_BY(mu_) = 0;
  int64_t retries_ FERRY_GUARDED_BY(mu_) = 0;  // every channel
  struct Streak {
    int64_t retries = 0;  // since the channel last recovered
    bool waited_at_max = false;
  };
  Streak streaks_[3] FERRY_GUARDED_BY(mu_);  // by Channel
};

}  // namespace ferry
