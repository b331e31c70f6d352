// Data validation of a CDC task (ValidationSettings.EnableValidation with --migration-type cdc or
// full-load-and-cdc), the way DMS validates ongoing replication:
//  1. each table once whole (Validator::ValidateTable) when its changes go live: after its full
//     load, at the start of a cdc task ("pre-existing data first"), and for every live table when
//     a task resumes (so a row changed on the target behind the task's back while it ran or was
//     stopped is found);
//  2. then every row the task applies a change to, ValidationQueryCdcDelaySeconds after the
//     target committed it, read by key on both sides (Validator::CompareKeys).
// A row that differs is not a failure at once: a later change of it may still be on its way,
// or the whole-table pass read it mid-change. It is compared again (every few seconds) until
// it matches, or until it has differed for RecordFailureDelayInMinutes (never less than the
// task's CDC latency; RecordFailureDelayLimitInMinutes, when set, instead) and at least twice:
// then it is a validation failure (awsdms_validation_failures_v1, ValidationFailedRecords,
// ValidationState "Mismatched records"). Until then it counts in ValidationPendingRecords.
// ValidationState: "Pending records" while the whole-table pass or rows wait, "Mismatched
// records" once a row failed, else "Validated"; "No primary key" / "Error" as ferry validate.
//
// Threading: TableLive, PlanChanged, TableRewritten and OnApplied are called from the apply thread; the
// comparisons run on the validator's own thread (Start/Stop). Memory: one entry per row
// waiting (its key), deduplicated.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cdc/apply_stage.h"
#include "change/change.h"
#include "common/mutex.h"
#include "connectors/connector.h"
#include "control/control_tables.h"
#include "settings/task_settings.h"
#include "task_model/plan.h"
#include "task_model/table_stats.h"

namespace ferry {

class ChangeValidator : public cdc::AppliedObserver {
 public:
  using Clock = std::chrono::steady_clock;

  // `stats`: one per table (index = the task's table index), outliving this. `latency_s`: the
  // task's CDC latency now (seconds), read from the validator thread. `control` null: failures
  // are counted but not written to the target.
  ChangeValidator(SqlConnector& source, SqlConnector& target, ValidationSettings settings,
                  std::unique_ptr<ControlTables> control, std::vector<TableStats*> stats,
                  std::function<int64_t()> latency_s);
  ~ChangeValidator();  // stops the thread
  ChangeValidator(const ChangeValidator&) = delete;
  ChangeValidator& operator=(const ChangeValidator&) = delete;

  void Start();
  void Stop();

  // Table `table`'s changes are applied from now on with `plan`: validate it whole, then its
  // changed rows.
  void TableLive(size_t table, const TablePlan& plan);
  // The table's plan changed (an ALTER carried to the target): rows compare with this one.
  void PlanChanged(size_t table, const TablePlan& plan) override;
  // Compares the live table whole again (as TableLive).
  void TableRewritten(size_t table, const TablePlan& plan) override;
  // The target committed `mapped` (a change in the plan's target columns): its rows are
  // compared once ValidationQueryCdcDelaySeconds have passed.
  void OnApplied(size_t table, const cdc::ChangeView& mapped) override;

  // Rows waiting and failed so far, over every table (for tests and the summary).
  int64_t pending() const;
  int64_t failed() const;

 private:
  struct Row {
    std::vector<std::string> key;  // the key columns' canonical text
    Clock::time_point due;
    Clock::time_point first_difference{};  // {} = not seen differing
    int differences = 0;
  };
  struct Table {
    bool live = false;
    bool whole_pending = false;  // the whole-table pass is still to run
    bool whole_done = false;
    bool unsupported = false;    // rows cannot be compared by key: whole-table pass only
    std::string state;           // a final state of the whole pass (No primary key, Error)
    TablePlan plan;
    std::vector<int> key_columns;  // indexes into plan.target of the row key
    std::map<std::string, Row> rows;  // by KeyJson
    int64_t failed = 0;
    int64_t source_rows = 0, target_rows = 0;
    std::string message;
  };

  void Run();
  void ValidateWhole(size_t index);
  void CompareDue(size_t index, Clock::time_point now);
  void Publish(size_t index);  // copies the figures into the table's TableStats
  std::chrono::seconds FailureDelay() const;
  void SetPlan(Table& t, const TablePlan& plan);

  SqlConnector& source_;
  SqlConnector& target_;
  ValidationSettings settings_;
  std::unique_ptr<ControlTables> control_;
  std::vector<TableStats*> stats_;
  std::function<int64_t()> latency_s_;

  mutable Mutex mu_;
  std::condition_variable wake_;
  std::vector<Table> tables_ FERRY_GUARDED_BY(mu_);
  bool stop_ FERRY_GUARDED_BY(mu_) = false;
  std::thread thread_;
  std::atomic<int64_t> task_failures_{0};
};

}  // namespace ferry
