// ErrorPolicies: every ErrorBehavior policy and escalation combination for data, table and
// recoverable errors.
#include "task_model/error_policy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ferry {
namespace {

ErrorBehavior Data(ErrorPolicy data, ErrorPolicy truncation = ErrorPolicy::kLogError) {
  ErrorBehavior b;
  b.data_error_policy = data;
  b.data_truncation_error_policy = truncation;
  return b;
}

TEST(ErrorPolicies, DataErrorBasePolicies) {
  struct Case {
    ErrorPolicy policy;
    ErrorAction action;
    bool log;
  } cases[] = {{ErrorPolicy::kLogError, ErrorAction::kSkipRow, true},
               {ErrorPolicy::kIgnoreRecord, ErrorAction::kSkipRow, false},
               {ErrorPolicy::kSuspendTable, ErrorAction::kSuspendTable, true},
               {ErrorPolicy::kStopTask, ErrorAction::kStopTask, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE(ErrorPolicyName(c.policy));
    ErrorPolicies p(Data(c.policy));
    ErrorDecision d = p.OnDataError("s.t", DataErrorKind::kData);
    EXPECT_EQ(d.action, c.action);
    if (c.action == ErrorAction::kSkipRow) {
      EXPECT_EQ(d.log, c.log);
    }
    EXPECT_FALSE(d.escalated);
    EXPECT_EQ(d.count, 1);
    EXPECT_EQ(d.reason, std::string("DataErrorPolicy ") + ErrorPolicyName(c.policy));
  }
}

TEST(ErrorPolicies, TruncationFollowsItsOwnPolicy) {
  ErrorPolicies p(Data(ErrorPolicy::kLogError, ErrorPolicy::kStopTask));
  EXPECT_EQ(p.OnDataError("s.t", DataErrorKind::kData).action, ErrorAction::kSkipRow);
  ErrorDecision d = p.OnDataError("s.t", DataErrorKind::kTruncation);
  EXPECT_EQ(d.action, ErrorAction::kStopTask);
  EXPECT_EQ(d.reason, "DataTruncationErrorPolicy STOP_TASK");
  EXPECT_EQ(d.count, 2);  // both kinds count towards the table's data errors

  ErrorPolicies q(Data(ErrorPolicy::kSuspendTable, ErrorPolicy::kIgnoreRecord));
  d = q.OnDataError("s.t", DataErrorKind::kTruncation);
  EXPECT_EQ(d.action, ErrorAction::kSkipRow);
  EXPECT_FALSE(d.log);
  EXPECT_EQ(q.OnDataError("s.t", DataErrorKind::kData).action, ErrorAction::kSuspendTable);
}

TEST(ErrorPolicies, NoEscalationWhenCountIsZero) {
  ErrorBehavior b = Data(ErrorPolicy::kLogError);
  b.data_error_escalation_count = 0;
  b.data_error_escalation_policy = ErrorPolicy::kStopTask;
  ErrorPolicies p(b);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(p.OnDataError("s.t", DataErrorKind::kData).action, ErrorAction::kSkipRow);
  }
  EXPECT_EQ(p.DataErrors("s.t"), 1000);
}

TEST(ErrorPolicies, DataEscalationAtCountPerTable) {
  for (ErrorPolicy escalation : {ErrorPolicy::kSuspendTable, ErrorPolicy::kStopTask,
                                 ErrorPolicy::kLogError}) {
    SCOPED_TRACE(ErrorPolicyName(escalation));
    ErrorBehavior b = Data(ErrorPolicy::kLogError, ErrorPolicy::kIgnoreRecord);
    b.data_error_escalation_count = 2;
    b.data_error_escalation_policy = escalation;
    ErrorPolicies p(b);
    ErrorDecision first = p.OnDataError("s.a", DataErrorKind::kData);
    EXPECT_EQ(first.action, ErrorAction::kSkipRow);
    EXPECT_FALSE(first.escalated);
    // Another table counts on its own.
    EXPECT_FALSE(p.OnDataError("s.b", DataErrorKind::kData).escalated);
    ErrorDecision second = p.OnDataError("s.a", DataErrorKind::kTruncation);
    EXPECT_TRUE(second.escalated);
    EXPECT_EQ(second.count, 2);
    const ErrorAction want = escalation == ErrorPolicy::kSuspendTable ? ErrorAction::kSuspendTable
                             : escalation == ErrorPolicy::kStopTask   ? ErrorAction::kStopTask
                                                                      : ErrorAction::kSkipRow;
    EXPECT_EQ(second.action, want);
    EXPECT_NE(second.reason.find("DataErrorEscalationPolicy"), std::string::npos);
    EXPECT_NE(second.reason.find("s.a"), std::string::npos);
    // Past the count the escalation policy keeps deciding.
    ErrorDecision third = p.OnDataError("s.a", DataErrorKind::kData);
    EXPECT_TRUE(third.escalated);
    EXPECT_EQ(third.action, want);
    // A reloaded table starts over.
    p.ResetDataErrors("s.a");
    EXPECT_EQ(p.DataErrors("s.a"), 0);
    EXPECT_FALSE(p.OnDataError("s.a", DataErrorKind::kData).escalated);
  }
}

TEST(ErrorPolicies, DataEscalationCountOneEscalatesAtOnce) {
  ErrorBehavior b = Data(ErrorPolicy::kIgnoreRecord);
  b.data_error_escalation_count = 1;
  b.data_error_escalation_policy = ErrorPolicy::kSuspendTable;
  ErrorPolicies p(b);
  EXPECT_EQ(p.OnDataError("s.t", DataErrorKind::kData).action, ErrorAction::kSuspendTable);
}

TEST(ErrorPolicies, TableErrorPolicies) {
  ErrorBehavior b;
  b.table_error_policy = ErrorPolicy::kSuspendTable;
  ErrorPolicies suspend(b);
  for (int i = 1; i <= 5; ++i) {
    ErrorDecision d = suspend.OnTableError("s.t" + std::to_string(i));
    EXPECT_EQ(d.action, ErrorAction::kSuspendTable);
    EXPECT_EQ(d.count, i);
    EXPECT_EQ(d.reason, "TableErrorPolicy SUSPEND_TABLE");
  }
  EXPECT_EQ(suspend.TableErrors(), 5);

  b.table_error_policy = ErrorPolicy::kStopTask;
  ErrorPolicies stop(b);
  ErrorDecision d = stop.OnTableError("s.t");
  EXPECT_EQ(d.action, ErrorAction::kStopTask);
  EXPECT_EQ(d.reason, "TableErrorPolicy STOP_TASK");
}

TEST(ErrorPolicies, TableEscalationStopsTheTaskAtCount) {
  ErrorBehavior b;
  b.table_error_policy = ErrorPolicy::kSuspendTable;
  b.table_error_escalation_policy = ErrorPolicy::kStopTask;
  b.table_error_escalation_count = 3;
  ErrorPolicies p(b);
  EXPECT_EQ(p.OnTableError("s.a").action, ErrorAction::kSuspendTable);
  EXPECT_EQ(p.OnTableError("s.b").action, ErrorAction::kSuspendTable);
  ErrorDecision d = p.OnTableError("s.c");
  EXPECT_EQ(d.action, ErrorAction::kStopTask);
  EXPECT_TRUE(d.escalated);
  EXPECT_NE(d.reason.find("TableErrorEscalationPolicy STOP_TASK after 3"), std::string::npos)
      << d.reason;
  EXPECT_NE(d.reason.find("s.c"), std::string::npos);
}

TEST(ErrorPolicies, RecoverableNever) {
  ErrorBehavior b;
  b.recoverable_error_count = 0;
  ErrorPolicies p(b);
  RetryDecision d = p.OnRecoverableError();
  EXPECT_FALSE(d.retry);
  EXPECT_NE(d.reason.find("RecoverableErrorCount is 0"), std::string::npos);
  EXPECT_EQ(p.Retries(), 0);
}

TEST(ErrorPolicies, RecoverableCountedPerTaskWithFixedInterval) {
  ErrorBehavior b;
  b.recoverable_error_count = 3;
  b.recoverable_error_interval = 7;
  b.recoverable_error_throttling = false;
  ErrorPolicies p(b);
  for (int i = 1; i <= 3; ++i) {
    RetryDecision d = p.OnRecoverableError();
    ASSERT_TRUE(d.retry);
    EXPECT_EQ(d.attempt, i);
    EXPECT_EQ(d.wait_seconds, 7);
  }
  RetryDecision d = p.OnRecoverableError();
  EXPECT_FALSE(d.retry);
  EXPECT_NE(d.reason.find("RecoverableErrorCount 3"), std::string::npos) << d.reason;
  EXPECT_EQ(p.Retries(), 3);
}

TEST(ErrorPolicies, RecoverableThrottlingDoublesUpToTheCap) {
  ErrorBehavior b;
  b.recoverable_error_count = -1;
  b.recoverable_error_interval = 5;
  b.recoverable_error_throttling = true;
  b.recoverable_error_throttling_max = 30;
  b.recoverable_error_stop_retry_after_throttling_max = false;
  ErrorPolicies p(b);
  std::vector<int64_t> waits;
  for (int i = 0; i < 7; ++i) {
    RetryDecision d = p.OnRecoverableError();
    ASSERT_TRUE(d.retry);
    waits.push_back(d.wait_seconds);
  }
  EXPECT_EQ(waits, (std::vector<int64_t>{5, 10, 20, 30, 30, 30, 30}));
}

TEST(ErrorPolicies, RecoverableStopsAfterTheWaitAtTheCap) {
  ErrorBehavior b;
  b.recoverable_error_count = -1;
  b.recoverable_error_interval = 5;
  b.recoverable_error_throttling = true;
  b.recoverable_error_throttling_max = 20;
  b.recoverable_error_stop_retry_after_throttling_max = true;
  ErrorPolicies p(b);
  EXPECT_EQ(p.OnRecoverableError().wait_seconds, 5);
  EXPECT_EQ(p.OnRecoverableError().wait_seconds, 10);
  RetryDecision at_cap = p.OnRecoverableError();
  EXPECT_TRUE(at_cap.retry);
  EXPECT_EQ(at_cap.wait_seconds, 20);
  RetryDecision d = p.OnRecoverableError();
  EXPECT_FALSE(d.retry);
  EXPECT_NE(d.reason.find("RecoverableErrorThrottlingMax 20"), std::string::npos) << d.reason;
}

TEST(ErrorPolicies, RetryWaitsRunOnTheTaskClock) {
  ErrorBehavior b;
  b.recoverable_error_interval = 7;
  ErrorPolicies p(b);
  InstantClock clock;
  p.set_clock(&clock);
  const RetryDecision d = p.OnRecoverableError();
  ASSERT_TRUE(d.retry);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(p.WaitBeforeRetry(d, [] { return false; }));
  EXPECT_FALSE(p.WaitBeforeRetry(d, [] { return true; }));  // a stop ends it
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(clock.waited_ms(), 7000);
}

TEST(ErrorPolicies, TheRealClockWaitsAndAStopEndsItEarly) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(RealClock().Wait(std::chrono::milliseconds(120), [] { return false; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(120));
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
  });
  const auto second = std::chrono::steady_clock::now();
  EXPECT_FALSE(RealClock().Wait(std::chrono::seconds(30), [&] { return stop.load(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - second, std::chrono::seconds(5));
  stopper.join();
}

TEST(ErrorPolicies, StrictBehaviorFailsTablesAndNeverRetries) {
  ErrorPolicies p(StrictErrorBehavior());
  EXPECT_EQ(p.OnDataError("s.t", DataErrorKind::kData).action, ErrorAction::kSuspendTable);
  EXPECT_EQ(p.OnDataError("s.t", DataErrorKind::kTruncation).action, ErrorAction::kSuspendTable);
  EXPECT_EQ(p.OnTableError("s.t").action, ErrorAction::kSuspendTable);
  EXPECT_FALSE(p.OnRecoverableError().retry);
}

TEST(ErrorPolicies, ThreadSafeCounting) {
  ErrorBehavior b = Data(ErrorPolicy::kLogError);
  b.data_error_escalation_count = 4000;
  b.data_error_escalation_policy = ErrorPolicy::kSuspendTable;
  b.recoverable_error_count = -1;
  b.recoverable_error_throttling = false;
  ErrorPolicies p(b);
  std::atomic<int> escalated{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (p.OnDataError("s.t", DataErrorKind::kData).escalated) ++escalated;
        p.OnTableError("s.x");
        p.OnRecoverableError();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(p.DataErrors("s.t"), 4000);
  EXPECT_EQ(escalated, 1);  // exactly the 4000th
  EXPECT_EQ(p.TableErrors(), 4000);
  EXPECT_EQ(p.Retries(), 4000);
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

TEST(ErrorPolicies, RecoverableCountedPerChannelAndResetOnRecovery) {
  ErrorBehavior b;
  b.recoverable_error_count = 2;
  b.recoverable_error_interval = 5;
  b.recoverable_error_throttling = true;
  b.recoverable_error_throttling_max = 1800;
  ErrorPolicies p(b);
  using C = ErrorPolicies::Channel;
  EXPECT_EQ(p.OnRecoverableError(C::kSource).wait_seconds, 5);
  EXPECT_EQ(p.OnRecoverableError(C::kSource).wait_seconds, 10);
  // The target's outage does not eat into the source's allowance, nor the other way round.
  EXPECT_EQ(p.OnRecoverableError(C::kTarget).wait_seconds, 5);
  RetryDecision d = p.OnRecoverableError(C::kSource);
  EXPECT_FALSE(d.retry);
  EXPECT_NE(d.reason.find("RecoverableErrorCount 2 retries used"), std::string::npos) << d.reason;
  // Once the source works again, its next outage starts from the first interval.
  p.Recovered(C::kSource);
  d = p.OnRecoverableError(C::kSource);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.attempt, 1);
  EXPECT_EQ(d.wait_seconds, 5);
  EXPECT_EQ(p.OnRecoverableError(C::kTarget).wait_seconds, 10);
  EXPECT_EQ(p.Retries(), 5);  // every retry of the task
}

}  // namespace
}  // namespace ferry
