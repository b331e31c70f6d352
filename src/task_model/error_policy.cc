#include "task_model/error_policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace ferry {

const char* ErrorActionName(ErrorAction action) {
  switch (action) {
    case ErrorAction::kSkipRow: return "skip row";
    case ErrorAction::kSuspendTable: return "suspend table";
    case ErrorAction::kStopTask: return "stop task";
  }
  return "?";
}

DataErrorKind ClassifyDataError(std::string_view m) {
  for (const char* s : {"longer than", "exceed the limit", "too long", "truncat"}) {
    if (m.find(s) != std::string_view::npos) return DataErrorKind::kTruncation;
  }
  return DataErrorKind::kData;
}

ErrorBehavior StrictErrorBehavior() {
  ErrorBehavior b;
  b.data_error_policy = ErrorPolicy::kSuspendTable;
  b.data_truncation_error_policy = ErrorPolicy::kSuspendTable;
  b.recoverable_error_count = 0;
  return b;
}

ErrorPolicies::ErrorPolicies(ErrorBehavior behavior) : behavior_(behavior) {}

ErrorDecision ErrorPolicies::Decide(ErrorPolicy policy) const {
  ErrorDecision d;
  switch (policy) {
    case ErrorPolicy::kIgnoreRecord:
      d.action = ErrorAction::kSkipRow;
      d.log = false;
      break;
    case ErrorPolicy::kSuspendTable:
      d.action = ErrorAction::kSuspendTable;
      break;
    case ErrorPolicy::kStopTask:
      d.action = ErrorAction::kStopTask;
      break;
    case ErrorPolicy::kLogError:
    case ErrorPolicy::kInsertRecord:  // apply-only policies; the parser rejects them here
    case ErrorPolicy::kUpdateRecord:
      d.action = ErrorAction::kSkipRow;
      break;
  }
  return d;
}

ErrorDecision ErrorPolicies::OnDataError(const std::string& table, DataErrorKind kind) {
  int64_t count;
  {
    MutexLock lock(mu_);
    count = ++data_errors_[table];
  }
  const int64_t limit = behavior_.data_error_escalation_count;
  if (limit > 0 && count >= limit) {
    ErrorDecision d = Decide(behavior_.data_error_escalation_policy);
    d.escalated = true;
    d.count = count;
    d.reason = fmt::format("DataErrorEscalationPolicy {} after {} data error(s) in table {} "
                           "(DataErrorEscalationCount {})",
                           ErrorPolicyName(behavior_.data_error_escalation_policy), count, table,
                           limit);
    return d;
  }
  const ErrorPolicy policy = kind == DataErrorKind::kTruncation
                                 ? behavior_.data_truncation_error_policy
                                 : behavior_.data_error_policy;
  ErrorDecision d = Decide(policy);
  d.count = count;
  d.reason = fmt::format("{} {}",
                         kind == DataErrorKind::kTruncation ? "DataTruncationErrorPolicy"
                                                            : "DataErrorPolicy",
                         ErrorPolicyName(policy));
  return d;
}

int64_t ErrorPolicies::DataErrors(const std::string& table) const {
  MutexLock lock(mu_);
  auto it = data_errors_.find(table);
  return it == data_errors_.end() ? 0 : it->second;
}

void ErrorPolicies::ResetDataErrors(const std::string& table) {
  MutexLock lock(mu_);
  data_errors_.erase(table);
}

ErrorDecision ErrorPolicies::OnApplyConflict(const std::string& table, char op) {
  int64_t count;
  {
    MutexLock lock(mu_);
    count = ++apply_conflicts_;
  }
  const int64_t limit = behavior_.apply_error_escalation_count;
  if (limit > 0 && count >= limit) {
    ErrorDecision d = Decide(behavior_.apply_error_escalation_policy);
    d.escalated = true;
    d.count = count;
    d.reason = fmt::format("ApplyErrorEscalationPolicy {} after {} apply conflict(s) "
                           "(ApplyErrorEscalationCount {}), the last in table {}",
                           ErrorPolicyName(behavior_.apply_error_escalation_policy), count, limit,
                           table);
    return d;
  }
  const char* setting = op == 'I'   ? "ApplyErrorInsertPolicy"
                        : op == 'U' ? "ApplyErrorUpdatePolicy"
                                    : "ApplyErrorDeletePolicy";
  const ErrorPolicy policy = op == 'I'   ? behavior_.apply_error_insert_policy
                             : op == 'U' ? behavior_.apply_error_update_policy
                                         : behavior_.apply_error_delete_policy;
  ErrorDecision d = Decide(policy);
  d.count = count;
  d.reason = fmt::format("{} {}", setting, ErrorPolicyName(policy));
  return d;
}

int64_t ErrorPolicies::ApplyConflicts() const {
  MutexLock lock(mu_);
  return apply_conflicts_;
}

ErrorDecision ErrorPolicies::OnTableError(const std::string& table) {
  int64_t count;
  {
    MutexLock lock(mu_);
    count = ++table_errors_;
  }
  const int64_t limit = behavior_.table_error_escalation_count;
  if (limit > 0 && count >= limit) {
    // STOP_TASK is the only escalation DMS allows; anything else still suspends.
    ErrorDecision d = Decide(behavior_.table_error_escalation_policy);
    if (d.action == ErrorAction::kSkipRow) d.action = ErrorAction::kSuspendTable;
    d.escalated = true;
    d.count = count;
    d.reason = fmt::format("TableErrorEscalationPolicy {} after {} table(s) in error, the last "
                           "{} (TableErrorEscalationCount {})",
                           ErrorPolicyName(behavior_.table_error_escalation_policy), count, table,
                           limit);
    return d;
  }
  ErrorDecision d = Decide(behavior_.table_error_policy);
  if (d.action == ErrorAction::kSkipRow) d.action = ErrorAction::kSuspendTable;
  d.count = count;
  d.reason = fmt::format("TableErrorPolicy {}", ErrorPolicyName(behavior_.table_error_policy));
  return d;
}

int64_t ErrorPolicies::TableErrors() const {
  MutexLock lock(mu_);
  return table_errors_;
}

RetryDecision ErrorPolicies::OnRecoverableError(Channel channel) {
  MutexLock lock(mu_);
  Streak& streak = streaks_[static_cast<int>(channel)];
  RetryDecision d;
  const int64_t limit = behavior_.recoverable_error_count;
  if (limit == 0) {
    d.reason = "RecoverableErrorCount is 0";
    return d;
  }
  if (limit > 0 && streak.retries >= limit) {
    d.reason = fmt::format("RecoverableErrorCount {} retries used", limit);
    return d;
  }
  if (streak.waited_at_max) {
    d.reason = fmt::format(
        "the retry wait reached RecoverableErrorThrottlingMax {} s and "
        "RecoverableErrorStopRetryAfterThrottlingMax is set",
        behavior_.recoverable_error_throttling_max);
    return d;
  }
  const int64_t interval = std::max<int64_t>(behavior_.recoverable_error_interval, 0);
  int64_t wait = interval;
  if (behavior_.recoverable_error_throttling) {
    const int64_t cap = std::max<int64_t>(behavior_.recoverable_error_throttling_max, interval);
    for (int64_t i = 0; i < streak.retries && wait < cap; ++i) wait *= 2;
    if (wait >= cap) {
      wait = cap;
      if (behavior_.recoverable_error_stop_retry_after_throttling_max) streak.waited_at_max = true;
    }
  }
  ++retries_;
  d.retry = true;
  d.attempt = ++streak.retries;
  d.wait_seconds = wait;
  return d;
}

void ErrorPolicies::Recovered(Channel channel) {
  MutexLock lock(mu_);
  streaks_[static_cast<int>(channel)] = Streak{};
}

int64_t ErrorPolicies::Retries() const {
  MutexLock lock(mu_);
  return retries_;
}

bool ErrorPolicies::WaitBeforeRetry(const RetryDecision& decision,
                                    const std::function<bool()>& stop) const {
  return clock_->Wait(std::chrono::seconds(decision.wait_seconds), stop);
}

}  // namespace ferry
