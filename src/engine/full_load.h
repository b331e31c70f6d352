// The full-load phase: every planned table is read from the source and bulk-loaded into the
// target, several tables at once. Per table, one reader thread fills batches and hands them
// over a bounded queue to the writer, so memory stays flat whatever the table size.
//
// A table that fails (a value the target cannot hold, a lost connection) ends in
// "Table error" with a message naming table, column, row key and value; the other tables go on.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "connectors/connector.h"
#include "task_model/error_policy.h"
#include "task_model/plan.h"
#include "task_model/table_stats.h"

namespace ferry {

// What an earlier, interrupted run of a task did to one table (FullLoadOptions::interrupted).
struct InterruptedLoad {
  bool began = false;          // its load began (on_load_begun) and did not complete
  bool started_empty = false;  // the target table had no rows then
  bool pk_after = false;       // the target table was created without its primary key
  // The segments it was loading (on_segments_planned; empty = not segment by segment) and the
  // ones the task store recorded committed (on_segment_done): segment index -> rows. That list
  // is a cache for `ferry status`: the target's segment marks decide what is kept.
  std::vector<Segment> segments;
  std::map<size_t, int64_t> segments_done;
};

struct FullLoadOptions {
  TablePrepMode prep_mode = TablePrepMode::kDoNothing;
  int parallel = 0;           // tables loaded at once; 0 = one per core, at least 2, at most 8
  size_t queue_batches = 4;   // batches in flight per table between reader and writer
  ScanOptions scan;
  // Every table is read in this source snapshot (the CDC handoff: the one the capture's
  // Prepare or ExportSnapshot returned); each reader joins it (TableReader::JoinSnapshot) as
  // segment readers join their table's own (Connector::OpenSnapshot). Held until Run() ends.
  // Null = each table in its own.
  std::shared_ptr<SourceSnapshot> snapshot;
  size_t max_warnings_logged = 10;  // per table, then only counted
  // ErrorBehavior task settings (data, table and recoverable errors). The default is Ferry's
  // behaviour without task settings: a bad value fails its table, a lost connection is not
  // retried. Ignored when error_policies is set.
  ErrorBehavior error_behavior = StrictErrorBehavior();
  // The task's shared policy object (also used by the row-transform stage), or null to make
  // one from error_behavior.
  std::shared_ptr<ErrorPolicies> error_policies;
  // CreatePkAfterFullLoad: a table this load creates gets its primary key only after its rows
  // are in (ALTER TABLE ... ADD PRIMARY KEY; a UNIQUE index on SQLite). Tables that already
  // exist (DO_NOTHING, TRUNCATE_BEFORE_LOAD) are left as they are.
  bool create_pk_after_load = false;
  // Automatic segments (engine/segmenting.h) for a table without parallel-load segments: at
  // most this many readers (0 or 1 = off), only for tables estimated at or above either
  // threshold.
  int auto_segments = 0;
  int64_t auto_segment_min_rows = 1000000;
  int64_t auto_segment_min_bytes = int64_t{256} << 20;
  // Called on the loading thread when a table's load is over (its TableStats state says how it
  // ended: completed, error or cancelled), with its index in the plans. CDC uses it to apply the
  // table's cached changes. Must be thread-safe.
  std::function<void(size_t plan_index)> on_table_done;
  // Called on the loading thread when a table's readers joined a snapshot of its own
  // (SourceSnapshot::ForTable of `snapshot`), before its first row is read, with where in the
  // change stream its rows stand; again when the table is read anew in a new one. Must be
  // thread-safe.
  std::function<void(size_t plan_index, const cdc::Position& position)> on_table_snapshot;
  // Load only these plans (indexes); the others keep their stats ("Before load") and are not
  // touched. nullopt = every plan. CDC resumes reload only the tables that need it.
  std::optional<std::vector<size_t>> tables_to_load;
  // A resumed task (engine/full_load_task.h): by plan index, how an earlier run's load of the
  // table went, where it began and did not finish. Empty = no earlier run.
  std::vector<InterruptedLoad> interrupted;
  // Called on the loading thread once a table's load has begun (the target table prepared,
  // the load open), the first time only: `started_empty` says the target table had no rows,
  // `pk_after` that it was created without its primary key (CreatePkAfterFullLoad). A task
  // records it, so a resume knows what rows an interrupted load can have left. Thread-safe.
  std::function<void(size_t plan_index, bool started_empty, bool pk_after)> on_load_begun;
  // Segment commits: a table read in segments, into a target whose writer keeps segment marks
  // (TableWriter::segment_marks; every SQL target), loads each segment in a transaction of its
  // own that also writes the segment's mark (connectors/connector.h SegmentMark), so an
  // interrupted load keeps the segments it committed: a resume (`interrupted`), and a reload
  // after a lost connection, read the marks back from the target and load only the others.
  // The target decides, so a segment committed just before a crash is never loaded twice.
  // On when `segment_marks_task` is set: the task's checkpoint key, whose marks they are; they
  // go to `control_schema` (ControlTablesSettings.ControlSchema, "" = the engine's default).
  // A table's marks are deleted once it completed (after on_table_done).
  std::string segment_marks_task;
  std::string control_schema;
  // The task records a table's segments once planned, before any of them commits (the marks
  // name segments by their index in that plan: a failure to record must throw, which fails
  // the table), and each segment committed with its rows (a cache for `ferry status`; also
  // called on resume for a committed segment the task had not recorded). Both are called on
  // loading threads.
  std::function<void(size_t plan_index, const std::vector<Segment>& segments)>
      on_segments_planned;
  std::function<void(size_t plan_index, size_t segment, int64_t rows)> on_segment_done;
};

// Default for FullLoadOptions::parallel on this machine.
int DefaultParallelism();

class FullLoad {
 public:
  // Segment commits cut automatic segments so that none is estimated above this many rows (10
  // times the rows a MariaDB writer otherwise commits at once), at most kMaxAutoSegments: a
  // segment is one transaction, whose size the target feels (MariaDB's binlog cache spills
  // it to a file and copies it into the binlog at commit; a SQLite file's other writers wait
  // for it).
  static constexpr int64_t kSegmentRows = 1'000'000;
  static constexpr int kMaxAutoSegments = 256;

  // `source` and `target` must outlive this object.
  FullLoad(SqlConnector& source, Connector& target, std::vector<TablePlan> plans,
           FullLoadOptions options);

  // Loads every table; blocks until all are done or cancelled. Never throws for a table's
  // failure (see stats()); throws only for failures that stop everything.
  void Run();
  // Loads `tables` (plan indexes) again, now (`ferry reload-tables`): each with its plan as
  // given (the task's plan now), in source snapshot `snapshot` (FullLoadOptions::snapshot;
  // null = each table its own), with `mode`. Their statistics start over; on_table_done is
  // called for each as in Run(). Blocks. Not while Run() runs; after Cancel() it loads nothing.
  void LoadAgain(const std::vector<std::pair<size_t, TablePlan>>& tables,
                 std::shared_ptr<SourceSnapshot> snapshot, TablePrepMode mode);
  // Asks the running load to stop soon: tables not started stay "Before load", running ones end
  // "Table cancelled". Safe from any thread.
  void Cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  // Stops the task because an error policy said STOP_TASK: like Cancel(), and records `reason`
  // (the first one wins). Safe from any thread.
  void StopTask(const std::string& reason);
  // Why the task was stopped by an error policy; empty when it was not.
  std::string stop_reason() const;
  // The policy object deciding data, table and recoverable errors for this load.
  ErrorPolicies& error_policies() { return *policies_; }

  // One entry per planned table, in plan order; live while Run() executes.
  const std::vector<std::unique_ptr<TableStats>>& stats() const { return stats_; }
  // True when every table ended "Table completed".
  bool AllCompleted() const;

  // Counts and (under LOG_ERROR) logs a row dropped by DataErrorPolicy; `text` names column,
  // row key and value. Used by the writer path and the row-transform stage.
  void RecordSkippedRow(TableStats& st, const std::string& table, const ErrorDecision& d,
                        const std::string& text);

 private:
  void Worker();
  // Per-table state kept across reloads after recoverable errors.
  struct LoadAttempt {
    int attempt = 0;           // 0 for the first load, n for the n-th reload
    bool prepared = false;     // PrepareTable succeeded once
    bool add_pk_after = false;  // the table was created without its primary key
    // What the last abandoned attempt left: rows it committed that stay in the target, and
    // whether the table was empty before it (then those rows are all the load's own).
    int64_t left_behind = 0;
    bool started_empty = false;
    // Segment commits: the segments planned and those committed (index -> rows), kept across
    // reloads so a reload loads only the others.
    std::vector<Segment> segments;
    std::map<size_t, int64_t> segments_done;
  };
  // A table error decided while loading segments (the row or transform refusal, and what the
  // policy said).
  struct UnitFailure {
    ErrorDecision decision;
    std::string message;
  };
  // Loads the segments of `plan` not in attempt.segments_done, each read by its own reader
  // into its own writer and committed on its own (`first_writer`, whose load is open, takes the
  // first). Returns with every unit ended: nothing, or the decided failure; rethrows the first
  // exception a unit met (a reader's RowError, a lost connection) once all have ended.
  std::optional<UnitFailure> LoadSegmentUnits(size_t index, TableWriter& first_writer,
                                              TableReader& first_reader,
                                              std::vector<std::unique_ptr<TableReader>>& readers,
                                              const ScanOptions& base_scan, LoadAttempt& attempt,
                                              const std::function<bool(const RowError&)>& skip_row);
  // How a table's first load in this run begins, after an earlier run's load of it was
  // interrupted (ResumeInterruptedLoad).
  struct ResumedLoad {
    TablePrepMode prep_mode = TablePrepMode::kDoNothing;  // the table's, for this load
    // Marks of the table that load left and this one does not keep: delete them once
    // PrepareTable has dealt with their rows.
    bool stale_marks = false;
    // Segments kept: whether the table was empty when that load began (it holds them now).
    std::optional<bool> began_empty;
    // Why the table cannot be resumed, its error ("" = it can).
    std::string refused;
  };
  // The resume decision for table `index`, whose load an earlier run of the task began and
  // did not finish (`earlier`), taken before this run's first load of it. The target's
  // segment marks of the table decide (read once, from `marks`: `writer`'s, located; null
  // when it keeps none); the task store's list (earlier.segments_done) is only a cache.
  //  - Marks that fit the segment plan the task recorded (earlier.segments) and name committed
  //    segments: those stay. `attempt` takes the plan and them, the table's count is their
  //    rows, on_segment_done is called for each one the store had not recorded, and the table
  //    is loaded into as it is.
  //  - Otherwise the table loads again whole, in FullLoadOptions::prep_mode; under DO_NOTHING,
  //    where that load may have left rows (not in segments into a writer that commits as it
  //    goes, marks of another plan, or segments the store recorded without marks), a table
  //    that was empty when it began is emptied first (TRUNCATE_BEFORE_LOAD), and one that had
  //    rows of its own is refused.
  // Whenever it loads, a primary key that run left for after its load (earlier.pk_after) is
  // left for after this one (attempt.add_pk_after), unless the table is dropped and created.
  // Logs what it decided. Throws what reading the marks throws.
  ResumedLoad ResumeInterruptedLoad(size_t index, const InterruptedLoad& earlier,
                                    SegmentMarks* marks, const TableWriter& writer,
                                    LoadAttempt& attempt);
  // Loads one table once. Returns true when it should be loaded again: a recoverable error
  // happened, the policy allows a retry and the wait is over (connections are dropped).
  bool LoadTable(size_t index, std::unique_ptr<TableReader>& reader,
                 std::unique_ptr<TableWriter>& writer, LoadAttempt& attempt);
  // Writes `batch`, dropping (and counting, logging) the rows the data-error policies say to
  // skip, and retrying with the rest. Returns nothing when written; else the decision
  // (suspend table or stop task) for the row `*message` describes, nothing of it written.
  std::optional<ErrorDecision> WriteBatch(TableWriter& writer, const Batch& batch,
                                          const TablePlan& plan, TableStats& st,
                                          std::string* message,
                                          int64_t* rows_written = nullptr);
  // Applies TableErrorPolicy to a table that just ended in error (not cancelled).
  void OnTableFailed(const std::string& table);
  // Applies the recoverable-error policy to `error` in `table`: returns true after waiting the
  // retry interval (false when retries are used up or the load was cancelled).
  bool WaitToRetry(const std::string& table, TableStats& st, const Error& error);
  void EnsureSchemaOnce(TableWriter& writer, const std::string& schema);
  // A new writer on the target, its segment marks (MarksOf) located: once per writer, when
  // it is opened.
  std::unique_ptr<TableWriter> OpenWriter();
  // `writer`'s segment marks when this load commits segments (segment_marks_task set) and the
  // writer keeps them; else nullptr. Located when `writer` came from OpenWriter.
  SegmentMarks* MarksOf(TableWriter& writer);
  // Makes the segment marks' home on the target through `marks` (located), once per load.
  // False when the target refused it (logged once; say a role without CREATE on the control
  // schema): then tables load without segment commits.
  bool CreateMarksOnce(SegmentMarks& marks);
  // Deletes the segment marks of table `index` once it completed (its task recorded it).
  // Logs a failure: the table is loaded.
  void ClearMarksOfCompleted(size_t index, std::unique_ptr<TableWriter>& writer);

  SqlConnector& source_;
  Connector& target_;
  std::vector<TablePlan> plans_;
  FullLoadOptions options_;
  std::vector<std::unique_ptr<TableStats>> stats_;
  std::atomic<size_t> next_{0};
  std::vector<size_t> order_;  // plan indexes, largest table first
  std::atomic<bool> cancelled_{false};
  Mutex schema_mu_;
  std::set<std::string> schemas_done_ FERRY_GUARDED_BY(schema_mu_);
  Mutex marks_mu_;
  bool marks_created_ FERRY_GUARDED_BY(marks_mu_) = false;
  std::string marks_refused_ FERRY_GUARDED_BY(marks_mu_);  // why the target refused them
  std::shared_ptr<ErrorPolicies> policies_;
  mutable Mutex stop_mu_;
  std::string stop_reason_ FERRY_GUARDED_BY(stop_mu_);
};

}  // namespace ferry
