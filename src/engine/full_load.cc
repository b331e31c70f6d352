#include "engine/full_load.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <thread>

#include "common/bounded_queue.h"
#include "engine/segmenting.h"
#include "transform/row_transform.h"
#include "types/value_codec.h"

namespace ferry {

int DefaultParallelism() {
  unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n, 2u, 8u));
}

namespace {

// Hands reader batches to the writer's queue and records policy warnings. Used by every
// segment reader of a table at once: thread-safe.
class QueueSink : public BatchSink {
 public:
  // `skip_row` decides a value the reader cannot represent (BatchSink::SkipRow).
  QueueSink(BoundedQueue<Batch>& queue, TableStats& stats, const TableDef& table,
            const std::atomic<bool>& cancelled, size_t max_logged,
            std::function<bool(const RowError&)> skip_row)
      : queue_(queue), stats_(stats), table_(table), cancelled_(cancelled),
        max_logged_(max_logged), skip_row_(std::move(skip_row)) {}

  bool SkipRow(const RowError& error) override { return skip_row_ && skip_row_(error); }

  bool Push(Batch&& batch) override {
    if (cancelled_) return false;
    stats_.rows_read += static_cast<int64_t>(batch.rows());
    stats_.bytes_read += static_cast<int64_t>(batch.ByteSize());
    return queue_.Push(std::move(batch));
  }

  // Readers may warn once per value (a SQLite column of numeric dates: millions of calls), so
  // the last message of each column keeps its summary key and counter: a repeat costs a
  // compare and a lock, not a format and a map lookup (measured on 2M SQLite rows with two
  // numeric date columns into PostgreSQL: 0.65 s of Ferry's CPU before, 0.39 s after).
  void Warning(int column, std::string_view message) override {
    const bool known_column = column >= 0 && column < static_cast<int>(table_.columns.size());
    const size_t logged = logged_++;  // parallel segments warn from several threads
    std::string key;
    {
      MutexLock lock(stats_.mu);
      Recent* recent = known_column ? &recent_[column] : nullptr;
      if (recent && recent->count && recent->message == message) {
        ++*recent->count;
        if (logged < max_logged_) key = recent->key;
      } else {
        key = fmt::format("column {}: {}", known_column ? table_.columns[column].name : "?",
                          message);
        int64_t& count = stats_.warnings[key];  // map nodes stay put: the pointer holds
        ++count;
        if (recent) *recent = Recent{std::string(message), key, &count};
      }
    }
    if (logged < max_logged_) {
      spdlog::warn("table {}: {}", table_.QualifiedName(), key);
    } else if (logged == max_logged_) {
      spdlog::warn("table {}: more warnings follow; counted in the summary only",
                   table_.QualifiedName());
    }
  }

 private:
  BoundedQueue<Batch>& queue_;
  TableStats& stats_;
  const TableDef& table_;
  const std::atomic<bool>& cancelled_;
  size_t max_logged_;
  std::atomic<size_t> logged_{0};
  std::function<bool(const RowError&)> skip_row_;
  // Per column: its last warning, that warning's summary key and counter (guarded by
  // stats_.mu; stats_.warnings is not cleared while this sink lives).
  struct Recent {
    std::string message, key;
    int64_t* count = nullptr;
  };
  std::vector<Recent> recent_ = std::vector<Recent>(table_.columns.size());
};

std::string ColumnName(const TableDef& table, int column) {
  if (column < 0 || column >= static_cast<int>(table.columns.size())) return "?";
  return table.columns[column].name;
}

// A copy of `batch` without row `skip`. Cells are copied by their storage (`table` gives each
// column's DMS type); fixed-size values are copied bit for bit.
Batch WithoutRow(const Batch& batch, size_t skip, const TableDef& table) {
  const int columns = batch.columns();
  std::vector<bool> bytes(static_cast<size_t>(columns), true);
  for (int c = 0; c < columns && c < static_cast<int>(table.columns.size()); ++c) {
    bytes[c] = StorageOf(table.columns[c].type.kind) == Storage::kBytes;
  }
  Batch out(columns);
  out.Reserve(batch.rows() > 0 ? batch.rows() - 1 : 0, 0);
  for (size_t r = 0; r < batch.rows(); ++r) {
    if (r == skip) continue;
    for (int c = 0; c < columns; ++c) {
      const Cell& cell = batch.at(r, c);
      if (cell.null) {
        out.AppendNull();
      } else if (bytes[c]) {
        out.AppendBytes(batch.Bytes(r, c));
      } else {
        out.AppendUint(cell.u);  // the union's 8 bytes, whatever they hold
      }
    }
  }
  return out;
}

DataErrorKind ClassifyRowError(const RowError& e) { return ClassifyDataError(e.what()); }

// The scan of one segment of `plan`: the table's filter ANDed with the segment's predicate,
// and its partition.
ScanOptions SegmentScan(const TablePlan& plan, const Segment& segment, ScanOptions scan) {
  scan.where = plan.where;
  if (!segment.predicate.empty()) {
    scan.where = plan.where.empty() ? segment.predicate
                                    : "(" + plan.where + ") AND (" + segment.predicate + ")";
  }
  if (!segment.partition.empty()) {
    scan.partition = segment.partition;
    scan.partition_schema = segment.partition_schema;
  }
  return scan;
}

int64_t RowsOf(const std::map<size_t, int64_t>& done) {
  int64_t rows = 0;
  for (const auto& [segment, n] : done) rows += n;
  return rows;
}

// The segments of target table `target` that `task`'s marks say are committed (segment ->
// rows), read from `marks` (located; null = the writer keeps none: none), when they are marks
// of a plan of `segments` segments; nullopt when one is not (a plan the task did not record).
std::optional<std::map<size_t, int64_t>> CommittedSegments(SegmentMarks* marks,
                                                           const std::string& task,
                                                           const TableDef& target,
                                                           size_t segments) {
  std::map<size_t, int64_t> out;
  if (!marks) return out;
  for (const SegmentMark& m : marks->Read(task, target.schema, target.name)) {
    if (m.segments != segments || m.segment >= segments) return std::nullopt;
    out[m.segment] = m.rows;
  }
  return out;
}

}  // namespace

FullLoad::FullLoad(SqlConnector& source, Connector& target, std::vector<TablePlan> plans,
                   FullLoadOptions options)
    : source_(source), target_(target), plans_(std::move(plans)), options_(std::move(options)) {
  policies_ = options_.error_policies
                  ? options_.error_policies
                  : std::make_shared<ErrorPolicies>(options_.error_behavior);
  for (const TablePlan& plan : plans_) {
    auto st = std::make_unique<TableStats>();
    st->source_schema = plan.source.schema;
    st->source_table = plan.source.name;
    st->target_schema = plan.target.schema;
    st->target_table = plan.target.name;
    st->estimated_rows = plan.source.estimated_rows;
    stats_.push_back(std::move(st));
  }
  if (options_.tables_to_load) {
    for (size_t i : *options_.tables_to_load) {
      if (i < plans_.size()) order_.push_back(i);
    }
  } else {
    for (size_t i = 0; i < plans_.size(); ++i) order_.push_back(i);
  }
  // Higher DMS load-order first; within one, largest first, so the longest table does not
  // start last and stretch the tail.
  std::stable_sort(order_.begin(), order_.end(), [&](size_t a, size_t b) {
    if (plans_[a].load_order != plans_[b].load_order) {
      return plans_[a].load_order > plans_[b].load_order;
    }
    auto size = [&](size_t i) {
      const TableDef& t = plans_[i].source;
      return t.estimated_bytes > 0 ? t.estimated_bytes : t.estimated_rows;
    };
    return size(a) > size(b);
  });
}

bool FullLoad::AllCompleted() const {
  return std::all_of(stats_.begin(), stats_.end(), [](const auto& st) {
    MutexLock lock(st->mu);
    return st->state == kStateCompleted;
  });
}

void FullLoad::Run() {
  int parallel = options_.parallel > 0 ? options_.parallel : DefaultParallelism();
  parallel = std::min<int>(parallel, static_cast<int>(std::max<size_t>(plans_.size(), 1)));
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(parallel));
  for (int i = 0; i < parallel; ++i) workers.emplace_back([this] { Worker(); });
  for (auto& w : workers) w.join();
  options_.snapshot.reset();  // every reader is done with it: the source may let it go
}

void FullLoad::LoadAgain(const std::vector<std::pair<size_t, TablePlan>>& tables,
                         std::shared_ptr<SourceSnapshot> snapshot, TablePrepMode mode) {
  order_.clear();
  for (const auto& [index, plan] : tables) {
    if (index >= plans_.size()) continue;
    plans_[index] = plan;
    order_.push_back(index);
    if (index < options_.interrupted.size()) options_.interrupted[index] = InterruptedLoad{};
    TableStats& st = *stats_[index];
    st.full_load_rows = 0;
    st.rows_read = 0;
    st.bytes_read = 0;
    st.full_load_error_rows = 0;
    {
      MutexLock lock(st.mu);
      st.state = kStateBeforeLoad;
      st.error.clear();
      st.warnings.clear();
      st.start_time = {};
      st.end_time = {};
    }
    policies_->ResetDataErrors(plan.source.QualifiedName());
  }
  options_.snapshot = std::move(snapshot);
  options_.prep_mode = mode;
  next_ = 0;
  Run();
}

void FullLoad::Worker() {
  std::unique_ptr<TableReader> reader;
  std::unique_ptr<TableWriter> writer;
  while (!cancelled_) {
    size_t slot = next_++;
    if (slot >= order_.size()) return;
    LoadAttempt attempt;
    while (LoadTable(order_[slot], reader, writer, attempt)) ++attempt.attempt;
    if (options_.on_table_done) options_.on_table_done(order_[slot]);
    if (!attempt.segments.empty()) ClearMarksOfCompleted(order_[slot], writer);
  }
}

std::unique_ptr<TableWriter> FullLoad::OpenWriter() {
  std::unique_ptr<TableWriter> writer = target_.OpenWriter();
  if (SegmentMarks* marks = MarksOf(*writer)) {
    marks->Locate(options_.control_schema, /*create=*/false);
  }
  return writer;
}

SegmentMarks* FullLoad::MarksOf(TableWriter& writer) {
  return options_.segment_marks_task.empty() ? nullptr : writer.segment_marks();
}

bool FullLoad::CreateMarksOnce(SegmentMarks& marks) {
  // One creator at a time: CREATE ... IF NOT EXISTS racing on two connections can fail on
  // PostgreSQL.
  MutexLock lock(marks_mu_);
  if (!marks_refused_.empty()) return false;
  if (marks_created_) return true;  // `marks` were located when their writer was opened
  try {
    marks.Locate(options_.control_schema, /*create=*/true);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kConnection) throw;  // the table's load retries
    marks_refused_ = e.what();
    spdlog::warn(
        "segment marks cannot be kept on the target ({}): tables read in segments "
        "load as one load each, and a resume loads a table cut off whole",
        marks_refused_);
    return false;
  }
  marks_created_ = true;
  return true;
}

void FullLoad::ClearMarksOfCompleted(size_t index, std::unique_ptr<TableWriter>& writer) {
  {
    MutexLock lock(stats_[index]->mu);
    if (stats_[index]->state != kStateCompleted) return;  // a resume needs them
  }
  // After on_table_done: once the task has recorded the table completed, nothing reads its
  // marks again; a crash before this only leaves marks that the next plan of the table
  // deletes.
  const TableDef& target = plans_[index].target;
  try {
    if (!writer) writer = OpenWriter();
    if (SegmentMarks* marks = MarksOf(*writer)) {
      marks->Clear(options_.segment_marks_task, target.schema, target.name);
    }
  } catch (const Error& e) {
    spdlog::warn("table {}: its segment marks stay on the target: {}", target.QualifiedName(),
                 e.what());
  }
}

void FullLoad::StopTask(const std::string& reason) {
  {
    MutexLock lock(stop_mu_);
    if (!stop_reason_.empty()) return;
    stop_reason_ = reason;
  }
  spdlog::error("stopping the task: {}", reason);
  cancelled_ = true;
}

std::string FullLoad::stop_reason() const {
  MutexLock lock(stop_mu_);
  return stop_reason_;
}

void FullLoad::OnTableFailed(const std::string& table) {
  ErrorDecision d = policies_->OnTableError(table);
  if (d.action == ErrorAction::kStopTask) {
    StopTask(fmt::format("table {} is in error ({})", table, d.reason));
  }
}

bool FullLoad::WaitToRetry(const std::string& table, TableStats& st, const Error& error) {
  if (cancelled_) return false;
  RetryDecision d = policies_->OnRecoverableError();
  if (!d.retry) {
    spdlog::error("table {}: not retrying after the lost connection: {}", table, d.reason);
    return false;
  }
  const int64_t limit = policies_->behavior().recoverable_error_count;
  spdlog::warn("table {}: recoverable error, retry {} of {} in {} s (the table then reloads "
               "from the start): {}",
               table, d.attempt, limit < 0 ? std::string("unlimited") : std::to_string(limit),
               d.wait_seconds, error.what());
  {
    MutexLock lock(st.mu);
    ++st.recoverable_retries;
    st.last_recoverable_error = error.what();
  }
  // Cancel() (Ctrl-C) or another table's STOP_TASK ends the wait at once.
  return policies_->WaitBeforeRetry(d, [this] { return cancelled_.load(); }) && !cancelled_;
}

void FullLoad::RecordSkippedRow(TableStats& st, const std::string& table, const ErrorDecision& d,
                                const std::string& text) {
  if (!d.log) return;  // IGNORE_RECORD: counted only
  {
    MutexLock lock(st.mu);
    ++st.warnings["row skipped: " + text];
  }
  const auto logged = static_cast<size_t>(st.full_load_error_rows);
  if (logged <= options_.max_warnings_logged) {
    spdlog::error("table {}: row skipped ({}): {}", table, d.reason, text);
  } else if (logged == options_.max_warnings_logged + 1) {
    spdlog::error("table {}: more rows skipped; counted in the summary only", table);
  }
}

namespace {

// Row failures and warnings of the row-transform stage (add-column, change-data-type, LOB
// limits), decided by the same DataErrorPolicy / DataTruncationErrorPolicy as the writer's.
class TransformIssues : public RowIssueSink {
 public:
  TransformIssues(FullLoad& load, ErrorPolicies& policies, const TablePlan& plan, TableStats& st,
                  const Batch& in, size_t max_logged)
      : load_(load), policies_(policies), plan_(plan), st_(st), in_(in), max_logged_(max_logged) {}

  bool RowFailed(size_t in_row, int column, RowProblem problem,
                 const std::string& message) override {
    const std::string text =
        fmt::format("column {}, row {}: {}", ColumnName(plan_.target, column),
                    DescribeRowKey(in_, in_row, plan_.source), message);
    ++st_.full_load_error_rows;
    ErrorDecision d = policies_.OnDataError(
        plan_.source.QualifiedName(),
        problem == RowProblem::kTruncation ? DataErrorKind::kTruncation : DataErrorKind::kData);
    if (d.action == ErrorAction::kSkipRow) {
      load_.RecordSkippedRow(st_, plan_.source.QualifiedName(), d, text);
      return true;
    }
    stop = d;
    stop_message = text;
    return false;
  }

  void Warning(int column, std::string_view message) override {
    std::string key = fmt::format("column {}: {}", ColumnName(plan_.target, column), message);
    {
      MutexLock lock(st_.mu);
      ++st_.warnings[key];
    }
    if (logged_ < max_logged_) {
      spdlog::warn("table {}: {}", plan_.source.QualifiedName(), key);
    } else if (logged_ == max_logged_) {
      spdlog::warn("table {}: more warnings follow; counted in the summary only",
                   plan_.source.QualifiedName());
    }
    ++logged_;
  }

  std::optional<ErrorDecision> stop;
  std::string stop_message;

 private:
  FullLoad& load_;
  ErrorPolicies& policies_;
  const TablePlan& plan_;
  TableStats& st_;
  std::reference_wrapper<const Batch> in_;
  size_t max_logged_;
  size_t logged_ = 0;
};

}  // namespace

std::optional<ErrorDecision> FullLoad::WriteBatch(TableWriter& writer, const Batch& batch,
                                                  const TablePlan& plan, TableStats& st,
                                                  std::string* message, int64_t* rows_written) {
  const std::string table = plan.source.QualifiedName();
  std::optional<Batch> rest;  // `batch` minus the rows dropped so far
  const Batch* current = &batch;
  for (;;) {
    if (current->rows() == 0) return std::nullopt;
    try {
      writer.Write(*current);
      st.full_load_rows += static_cast<int64_t>(current->rows());
      if (rows_written) *rows_written += static_cast<int64_t>(current->rows());
      return std::nullopt;
    } catch (const RowError& e) {
      const bool known_row =
          e.batch_row >= 0 && static_cast<size_t>(e.batch_row) < current->rows();
      const std::string key = e.row_key.empty() && known_row
                                  ? DescribeRowKey(*current, static_cast<size_t>(e.batch_row),
                                                   plan.target)
                                  : e.row_key;
      const std::string text = fmt::format("column {}, row {}: {}",
                                           ColumnName(plan.target, e.column), key, e.what());
      ++st.full_load_error_rows;
      if (!known_row) {
        // No row to drop: the whole batch fails, which is a table error.
        *message = text;
        ErrorDecision d;
        d.action = ErrorAction::kSuspendTable;
        d.reason = "the writer did not say which row failed";
        return d;
      }
      ErrorDecision d = policies_->OnDataError(table, ClassifyRowError(e));
      if (d.action != ErrorAction::kSkipRow) {
        *message = text;
        return d;
      }
      RecordSkippedRow(st, table, d, text);
      Batch next = WithoutRow(*current, static_cast<size_t>(e.batch_row), plan.target);
      rest = std::move(next);
      current = &*rest;
    }
  }
}

void FullLoad::EnsureSchemaOnce(TableWriter& writer, const std::string& schema) {
  MutexLock lock(schema_mu_);
  if (schemas_done_.count(schema)) return;
  writer.EnsureSchema(schema);
  schemas_done_.insert(schema);
}

FullLoad::ResumedLoad FullLoad::ResumeInterruptedLoad(size_t index, const InterruptedLoad& earlier,
                                                      SegmentMarks* marks,
                                                      const TableWriter& writer,
                                                      LoadAttempt& attempt) {
  const TablePlan& plan = plans_[index];
  TableStats& st = *stats_[index];
  const std::string table_name = plan.source.QualifiedName();
  ResumedLoad resumed;
  resumed.prep_mode = options_.prep_mode;
  std::optional<std::map<size_t, int64_t>> kept =
      CommittedSegments(marks, options_.segment_marks_task, plan.target, earlier.segments.size());
  if (kept && !kept->empty()) {
    // It committed some of the table's segments, each in its own transaction with its mark:
    // those stay, the others load now. The task store's list is only a cache: a segment
    // committed just before a crash may be missing there.
    attempt.segments = earlier.segments;
    attempt.segments_done = std::move(*kept);
    st.full_load_rows = RowsOf(attempt.segments_done);
    if (earlier.pk_after) attempt.add_pk_after = true;
    resumed.began_empty = earlier.started_empty;  // the table holds its segments now
    spdlog::info(
        "table {}: an earlier run of this task committed {} of its {} segments "
        "({} rows): loading the other {}",
        table_name, attempt.segments_done.size(), attempt.segments.size(), st.full_load_rows.load(),
        attempt.segments.size() - attempt.segments_done.size());
    for (const auto& [k, rows] : attempt.segments_done) {
      if (earlier.segments_done.count(k) || !options_.on_segment_done) continue;
      spdlog::info(
          "table {}: segment {} is committed on the target though the task store "
          "did not record it",
          table_name, k);
      options_.on_segment_done(index, k, rows);
    }
    return resumed;
  }
  // An earlier run of the task began this table's load and was stopped or killed before it
  // completed. What it committed is in the table where the writer commits as it goes (a load
  // not in segments) or where the target holds marks of segments that are not the task's
  // recorded plan (its record was lost): under DO_NOTHING, a table it found empty is emptied
  // again; one that had rows of its own cannot be told apart from them. Segments whose marks
  // fit the plan but are none left nothing, unless the task store says some committed (a run
  // of a Ferry that kept no marks): those may be there.
  resumed.stale_marks = !kept;  // marks there, not of the recorded plan
  const bool left_rows = resumed.stale_marks ||
                         (earlier.segments.empty() && writer.CommitsAsItGoes()) ||
                         !earlier.segments_done.empty();
  if (resumed.prep_mode == TablePrepMode::kDoNothing && left_rows) {
    if (!earlier.started_empty) {
      resumed.refused = fmt::format(
          "an earlier run of this task was interrupted while loading it, "
          "and target table {} had rows before that load: the rows that "
          "load committed cannot be told apart from them. Run the task "
          "again with --target-table-prep-mode TRUNCATE_BEFORE_LOAD or "
          "DROP_AND_CREATE (without --resume) to load it whole",
          plan.target.QualifiedName());
      return resumed;
    }
    resumed.prep_mode = TablePrepMode::kTruncateBeforeLoad;
  }
  if (earlier.pk_after && resumed.prep_mode != TablePrepMode::kDropAndCreate) {
    attempt.add_pk_after = true;  // that run created the table without its primary key
  }
  spdlog::info(
      "table {}: an earlier run of this task did not finish loading it: "
      "loading it again{}",
      table_name,
      resumed.prep_mode == TablePrepMode::kTruncateBeforeLoad &&
              options_.prep_mode == TablePrepMode::kDoNothing
          ? " (emptied first: it was empty before that load)"
          : "");
  return resumed;
}

bool FullLoad::LoadTable(size_t index, std::unique_ptr<TableReader>& reader,
                         std::unique_ptr<TableWriter>& writer, LoadAttempt& attempt) {
  const TablePlan& plan = plans_[index];
  TableStats& st = *stats_[index];
  const std::string table_name = plan.source.QualifiedName();
  if (attempt.attempt > 0) {
    // A reload after a recoverable error starts the table's counts over.
    st.full_load_rows = RowsOf(attempt.segments_done);  // committed segments stay
    st.rows_read = 0;
    st.bytes_read = 0;
    st.full_load_error_rows = 0;
    policies_->ResetDataErrors(table_name);
  }
  {
    MutexLock lock(st.mu);
    st.state = kStateFullLoad;
    if (attempt.attempt == 0) st.start_time = WallClock::now();
    if (attempt.attempt > 0) st.warnings.clear();
  }
  st.running = true;

  // Rows of an abandoned load that stay committed in the target (TableWriter::AbortLoad).
  int64_t left_behind = 0;
  // Ends the table "Table error" (or "Table cancelled" when the load was cancelled); with
  // `table_policy`, TableErrorPolicy and its escalation then apply to it.
  auto fail = [&](std::string message, bool table_policy = true) {
    st.running = false;
    if (left_behind > 0) {
      message += fmt::format(
          "; {} row(s) of this load stay committed in target table {} (it had rows before the "
          "load, so they cannot be told apart): rerun with --target-table-prep-mode "
          "TRUNCATE_BEFORE_LOAD or DROP_AND_CREATE to load it whole",
          left_behind, plan.target.QualifiedName());
    }
    spdlog::error("table {}: {}", table_name, message);
    bool in_error;
    {
      MutexLock lock(st.mu);
      in_error = !cancelled_;
      st.state = in_error ? kStateError : kStateCancelled;
      st.error = message;
      st.end_time = WallClock::now();
    }
    if (in_error && table_policy) OnTableFailed(table_name);
  };

  bool load_open = false;
  BoundedQueue<Batch> queue(options_.queue_batches);
  std::thread read_thread;
  std::exception_ptr read_error;
  std::vector<std::unique_ptr<TableReader>> segment_readers;  // parallel-load segments 2..N
  std::vector<Segment> segments;              // read by the read thread: outlives it
  std::unique_ptr<SourceSnapshot> snapshot;   // shared by the segment readers while they read
  // Lives outside the try block: the read thread uses it until abandon() joins it.
  // A source value the reader cannot represent is a data error of its row: DataErrorPolicy
  // may leave the row out (as for the writer's refusals) and the read goes on; else the reader
  // stops and the table fails below. Called from the read threads.
  auto skip_row = [this, &plan, &st, &table_name](const RowError& e) {
    ErrorDecision d = policies_->OnDataError(table_name, ClassifyRowError(e));
    if (d.action != ErrorAction::kSkipRow) return false;
    ++st.full_load_error_rows;
    RecordSkippedRow(st, table_name, d,
                     fmt::format("column {}, row {}: {}", ColumnName(plan.source, e.column),
                                 e.row_key.empty() ? "?" : e.row_key, e.what()));
    return true;
  };
  QueueSink sink(queue, st, plan.source, cancelled_, options_.max_warnings_logged, skip_row);
  // Stops the reader and rolls back, whatever went wrong on the writer side.
  auto abandon = [&] {
    queue.CloseAndClear();
    if (read_thread.joinable()) read_thread.join();
    if (load_open && writer) {
      // What the target keeps of the load is what the table's count says.
      left_behind = writer->AbortLoad();
      st.full_load_rows = left_behind;
      attempt.left_behind = left_behind;
      attempt.started_empty = writer->LoadStartedEmpty();
    }
    load_open = false;
  };

  try {
    if (!writer) writer = OpenWriter();
    if (!reader) reader = source_.OpenReader();
    EnsureSchemaOnce(*writer, plan.target.schema);
    TablePrepMode prep_mode = options_.prep_mode;
    const InterruptedLoad* earlier =
        attempt.attempt == 0 && index < options_.interrupted.size() &&
                options_.interrupted[index].began
            ? &options_.interrupted[index]
            : nullptr;
    // Segment commits: the target's marks say which segments of this table are committed.
    SegmentMarks* marks = MarksOf(*writer);
    // Marks of this table that an earlier load left and this one does not keep: deleted once
    // PrepareTable has dealt with their rows.
    bool stale_marks = false;
    std::optional<bool> began_empty;  // a resumed load: whether the table was empty at its start
    if (earlier && !attempt.prepared) {
      const ResumedLoad resumed = ResumeInterruptedLoad(index, *earlier, marks, *writer, attempt);
      if (!resumed.refused.empty()) {
        fail(resumed.refused);
        return false;
      }
      prep_mode = resumed.prep_mode;
      stale_marks = resumed.stale_marks;
      began_empty = resumed.began_empty;
    }
    if (attempt.prepared) {
      // Reloading. Under DO_NOTHING the table's own rows stay: an attempt that left nothing
      // reloads into it as it is, one that left rows into a table that was empty truncates
      // (those rows are all its own); the other modes empty the table anyway.
      if (prep_mode != TablePrepMode::kDoNothing ||
          (attempt.left_behind > 0 && attempt.started_empty)) {
        prep_mode = TablePrepMode::kTruncateBeforeLoad;
      }
      if (marks && !attempt.segments.empty()) {
        // A segment whose COMMIT went out as the connection broke may have committed: the
        // target's marks say.
        std::optional<std::map<size_t, int64_t>> done = CommittedSegments(
            marks, options_.segment_marks_task, plan.target, attempt.segments.size());
        if (!done) {
          throw Error(ErrorKind::kInternal,
                      fmt::format("the segment marks of table {} on the target do not fit its "
                                  "{} segments",
                                  plan.target.QualifiedName(), attempt.segments.size()));
        }
        for (const auto& [k, rows] : *done) {
          if (!attempt.segments_done.count(k) && options_.on_segment_done) {
            options_.on_segment_done(index, k, rows);
          }
        }
        attempt.segments_done = std::move(*done);
        st.full_load_rows = RowsOf(attempt.segments_done);
      }
    } else if (options_.create_pk_after_load && !plan.target.primary_key.empty() &&
               !attempt.add_pk_after) {
      attempt.add_pk_after = prep_mode == TablePrepMode::kDropAndCreate ||
                             !writer->TableExists(plan.target.schema, plan.target.name);
    }
    if (!attempt.segments_done.empty()) {
      // Committed segments stay: the table is loaded into as it is (a segment's transaction
      // holds nothing but that segment's rows).
      prep_mode = TablePrepMode::kDoNothing;
    }

    // One reader, or one per parallel-load segment (hand-written, per partition, or automatic
    // for a big table), all feeding the table's queue; the last one to finish closes it. Extra
    // segment readers get their own connections and read in one snapshot of the source.
    // With segment commits (a task loading into a target that keeps segment marks), each
    // segment is a transaction of its own, and automatic segments are cut four times finer
    // than the readers that load them, and to at most kSegmentRows estimated rows each, so that
    // segments commit all through the load, an interrupted one keeps most of its work, and no
    // segment's transaction grows huge (see FullLoadOptions).
    constexpr int kSegmentsPerReader = 4;
    size_t readers_wanted = 0;  // 0 = one per segment
    auto plan_segments = [&](bool commits_per_segment) {
      readers_wanted = 0;
      segments = !attempt.segments.empty() ? attempt.segments : plan.segments;
      if (segments.empty() && options_.auto_segments > 1) {
        int wanted = options_.auto_segments;
        if (commits_per_segment) {
          wanted *= kSegmentsPerReader;
          const int64_t rows = plan.source.estimated_rows;
          if (rows > static_cast<int64_t>(wanted) * kSegmentRows) {
            wanted = static_cast<int>(
                std::min<int64_t>(kMaxAutoSegments, (rows + kSegmentRows - 1) / kSegmentRows));
          }
        }
        segments = PlanAutoSegments(source_, plan,
                                    AutoSegmentPolicy{wanted, options_.auto_segment_min_rows,
                                                      options_.auto_segment_min_bytes});
        if (commits_per_segment) readers_wanted = static_cast<size_t>(options_.auto_segments);
      } else if (!attempt.segments.empty() && plan.segments.empty() && options_.auto_segments > 1) {
        readers_wanted = static_cast<size_t>(options_.auto_segments);  // resumed automatic ones
      }
      if (segments.empty()) segments.push_back(Segment{});
      return segments.size() > 1 && commits_per_segment;
    };
    bool segment_commits = plan_segments(marks != nullptr);
    const bool new_plan = segment_commits && attempt.segments.empty();
    if (new_plan && !CreateMarksOnce(*marks)) {
      marks = nullptr;  // the target refused the marks' table (logged): one load, as before
      segment_commits = plan_segments(false);
    }

    if (attempt.add_pk_after && !attempt.prepared) {
      TableDef without_pk = plan.target;
      without_pk.primary_key.clear();
      writer->PrepareTable(without_pk, prep_mode);
    } else {
      writer->PrepareTable(plan.target, prep_mode);
    }
    if (marks && (stale_marks || new_plan)) {
      // After PrepareTable: marks go only once their rows are gone (or were never there). A
      // crash before this leaves marks that do not fit the recorded plan: handled above.
      marks->Clear(options_.segment_marks_task, plan.target.schema, plan.target.name);
    }
    if (segment_commits && new_plan) {
      // Recorded before any segment commits: the marks name segments by their index in it.
      attempt.segments = segments;
      if (options_.on_segments_planned) options_.on_segments_planned(index, segments);
    }
    const bool first_begin = !attempt.prepared;
    attempt.prepared = true;
    if (segment_commits) {
      writer->BeginSegment(plan.target);
    } else {
      writer->BeginLoad(plan.target);
    }
    load_open = true;
    if (first_begin && options_.on_load_begun) {
      options_.on_load_begun(index, began_empty.value_or(writer->LoadStartedEmpty()),
                             attempt.add_pk_after);
    }

    const size_t readers =
        segment_commits && readers_wanted > 0 ? std::min(readers_wanted, segments.size())
                                              : segments.size();
    segment_readers.clear();
    for (size_t i = 1; i < readers; ++i) segment_readers.push_back(source_.OpenReader());
    ScanOptions base_scan = options_.scan;
    snapshot.reset();
    if (SourceSnapshot* task_snapshot = options_.snapshot.get()) {
      // The task's snapshot (the CDC handoff): every reader of every table joins it, or the
      // table's own one it hands out where the engine has no snapshot across tables.
      snapshot = task_snapshot->ForTable(plan.source);
      const SourceSnapshot& joined = snapshot ? *snapshot : *task_snapshot;
      reader->JoinSnapshot(joined);
      for (auto& r : segment_readers) r->JoinSnapshot(joined);
      if (snapshot) {
        snapshot->ReadersJoined();
        if (options_.on_table_snapshot) options_.on_table_snapshot(index, snapshot->position());
      }
      base_scan.snapshot = joined.id();
    } else if (segments.size() > 1) {
      snapshot = source_.OpenSnapshot(plan.source);
      if (snapshot) {
        reader->JoinSnapshot(*snapshot);
        for (auto& r : segment_readers) r->JoinSnapshot(*snapshot);
        snapshot->ReadersJoined();
        base_scan.snapshot = snapshot->id();
      } else {
        // SQLite has no shared snapshot; PostgreSQL and MySQL logged why they had none.
        spdlog::debug(
            "table {}: {} segment readers each read in their own transaction; "
            "consistent as long as nothing writes the table meanwhile",
            table_name, source_.dialect().DisplayName());
      }
    }
    if (segment_commits) {
      std::optional<UnitFailure> failure = LoadSegmentUnits(
          index, *writer, *reader, segment_readers, base_scan, attempt, skip_row);
      load_open = false;  // every unit's load ended: committed, or rolled back
      if (failure) {
        if (failure->decision.action == ErrorAction::kStopTask) {
          fail(failure->message, /*table_policy=*/false);
          StopTask(fmt::format("table {}: {} ({})", table_name, failure->message,
                               failure->decision.reason));
        } else {
          fail(failure->message);
        }
        return false;
      }
      if (cancelled_) {
        fail("cancelled before the load finished");
        return false;
      }
    } else {
    read_thread = std::thread([&, base_scan] {
      std::atomic<size_t> running{segments.size()};
      std::mutex error_mu;
      auto scan_segment = [&](TableReader& r, const Segment& segment) {
        try {
          r.Scan(plan.source, SegmentScan(plan, segment, base_scan), sink);
        } catch (...) {
          std::lock_guard lock(error_mu);
          if (!read_error) read_error = std::current_exception();
          queue.CloseAndClear();  // a failed segment fails the table: stop the others
        }
        if (--running == 0) queue.Close();
      };
      std::vector<std::thread> others;
      for (size_t i = 1; i < segments.size(); ++i) {
        others.emplace_back([&, i] { scan_segment(*segment_readers[i - 1], segments[i]); });
      }
      scan_segment(*reader, segments[0]);
      for (auto& t : others) t.join();
    });

    // The row-transform stage runs here, on the writer's thread (one transformer per table;
    // SQLite expression statements are not shareable between threads).
    std::unique_ptr<RowTransformer> transformer;
    if (plan.transform) {
      transformer = RowTransformer::Create(*plan.transform);
      if (transformer->identity()) transformer.reset();
    }
    const HeaderValues header = FullLoadHeader();
    Batch transformed;
    while (std::optional<Batch> batch = queue.Pop()) {
      std::string message;
      const Batch* rows = &*batch;
      if (transformer) {
        TransformIssues issues(*this, *policies_, plan, st, *batch, options_.max_warnings_logged);
        try {
          transformer->Apply(*batch, header, &transformed, issues);
        } catch (const RowError&) {
          ErrorDecision d = issues.stop.value_or(ErrorDecision{});
          abandon();
          if (d.action == ErrorAction::kStopTask) {
            fail(issues.stop_message, /*table_policy=*/false);
            StopTask(fmt::format("table {}: {} ({})", table_name, issues.stop_message, d.reason));
          } else {
            fail(issues.stop_message);
          }
          return false;
        }
        rows = &transformed;
      }
      if (std::optional<ErrorDecision> d = WriteBatch(*writer, *rows, plan, st, &message)) {
        abandon();
        if (d->action == ErrorAction::kStopTask) {
          fail(message, /*table_policy=*/false);
          StopTask(fmt::format("table {}: {} ({})", table_name, message, d->reason));
        } else {
          fail(message);
        }
        return false;
      }
    }
    read_thread.join();
    if (read_error) std::rethrow_exception(read_error);
    if (cancelled_) {
      abandon();
      fail("cancelled before the load finished");
      return false;
    }
    writer->EndLoad();
    load_open = false;
    }
    if (attempt.add_pk_after) {
      spdlog::info("table {}: adding the primary key ({}) after the full load",
                   plan.target.QualifiedName(), fmt::join(plan.target.primary_key, ", "));
      writer->AddPrimaryKey(plan.target);
    }
  } catch (const RowError& e) {
    // A value the source reader could not represent, and DataErrorPolicy did not skip its row
    // (skip_row above): the reader stopped at it, so this is a table error and
    // TableErrorPolicy decides.
    std::string key = !e.row_key.empty()
                          ? e.row_key
                          : fmt::format("#{} of the scan", st.rows_read.load() + e.batch_row + 1);
    abandon();
    ++st.full_load_error_rows;
    fail(fmt::format("column {}, row {}: {}", ColumnName(plan.source, e.column), key, e.what()));
    return false;
  } catch (const Error& e) {
    abandon();
    // A broken connection cannot be trusted for the next table: reopen.
    if (e.kind() == ErrorKind::kConnection) {
      reader.reset();
      writer.reset();
      if (options_.prep_mode == TablePrepMode::kDoNothing && attempt.left_behind > 0 &&
          !attempt.started_empty) {
        // Rows of this load stay in a table that had rows of its own: a reload would load
        // them twice, and emptying the table would take the others too.
        fail(fmt::format("{}; not reloaded automatically (DO_NOTHING into a table with rows: "
                         "a reload would load the rows below twice)",
                         e.what()));
        return false;
      }
      // RecoverableErrorCount/Interval: wait, then the caller reloads the table.
      if (WaitToRetry(table_name, st, e)) return true;
    }
    fail(e.what());
    return false;
  } catch (const std::exception& e) {
    abandon();
    reader.reset();
    writer.reset();
    fail(fmt::format("internal error: {}", e.what()));
    return false;
  }
  st.running = false;
  MutexLock lock(st.mu);
  st.state = kStateCompleted;
  st.end_time = WallClock::now();
  return false;
}

std::optional<FullLoad::UnitFailure> FullLoad::LoadSegmentUnits(
    size_t index, TableWriter& first_writer, TableReader& first_reader,
    std::vector<std::unique_ptr<TableReader>>& readers, const ScanOptions& base_scan,
    LoadAttempt& attempt, const std::function<bool(const RowError&)>& skip_row) {
  const TablePlan& plan = plans_[index];
  TableStats& st = *stats_[index];
  const std::vector<Segment>& segments = attempt.segments;
  std::vector<size_t> todo;
  for (size_t k = 0; k < segments.size(); ++k) {
    if (!attempt.segments_done.count(k)) todo.push_back(k);
  }
  std::vector<std::unique_ptr<BoundedQueue<Batch>>> queues;
  for (size_t u = 0; u < todo.size(); ++u) {
    queues.push_back(std::make_unique<BoundedQueue<Batch>>(options_.queue_batches));
  }
  std::mutex mu;  // guards error, failure, attempt.segments_done
  std::exception_ptr error;
  std::optional<UnitFailure> failure;
  std::atomic<bool> stopping{false};
  // The first problem stops every unit: their readers see closed queues, their writers roll
  // back, and no new unit starts.
  auto stop_all = [&] {
    stopping = true;
    for (auto& q : queues) q->CloseAndClear();
  };
  const HeaderValues header = FullLoadHeader();
  std::atomic<size_t> next{0};
  bool first_open = true;  // first_writer's load is open (LoadTable began it)

  // One worker per reader: takes the next segment, reads it with its reader (all readers share
  // the table's snapshot) into its writer, and commits it alone.
  auto worker = [&](size_t w) {
    TableReader& reader = w == 0 ? first_reader : *readers[w - 1];
    std::unique_ptr<TableWriter> own;
    TableWriter* writer = w == 0 ? &first_writer : nullptr;
    bool open = w == 0 && first_open;
    for (;;) {
      const size_t u = next++;
      if (u >= todo.size() || stopping || cancelled_) break;
      const size_t k = todo[u];
      BoundedQueue<Batch>& queue = *queues[u];
      int64_t written = 0;
      std::thread read_thread;
      try {
        if (!writer) {
          own = OpenWriter();  // its marks located: EndSegment writes into them
          writer = own.get();
        }
        if (!open) {
          writer->BeginSegment(plan.target);
          open = true;
        }
        QueueSink sink(queue, st, plan.source, cancelled_, options_.max_warnings_logged,
                       skip_row);
        std::exception_ptr read_error;
        read_thread = std::thread([&] {
          try {
            reader.Scan(plan.source, SegmentScan(plan, segments[k], base_scan), sink);
          } catch (...) {
            read_error = std::current_exception();
            queue.CloseAndClear();
          }
          queue.Close();
        });
        std::unique_ptr<RowTransformer> transformer;
        if (plan.transform) {
          transformer = RowTransformer::Create(*plan.transform);
          if (transformer->identity()) transformer.reset();
        }
        Batch transformed;
        std::optional<UnitFailure> refused;
        while (std::optional<Batch> batch = queue.Pop()) {
          const Batch* rows = &*batch;
          if (transformer) {
            TransformIssues issues(*this, *policies_, plan, st, *batch,
                                   options_.max_warnings_logged);
            try {
              transformer->Apply(*batch, header, &transformed, issues);
            } catch (const RowError&) {
              refused = UnitFailure{issues.stop.value_or(ErrorDecision{}), issues.stop_message};
              break;
            }
            rows = &transformed;
          }
          std::string message;
          if (std::optional<ErrorDecision> d =
                  WriteBatch(*writer, *rows, plan, st, &message, &written)) {
            refused = UnitFailure{*d, message};
            break;
          }
        }
        queue.CloseAndClear();
        read_thread.join();
        if (refused || read_error || stopping || cancelled_) {
          writer->AbortLoad();
          open = false;
          const bool failed_here = refused || read_error;
          {
            std::lock_guard lock(mu);
            if (refused && !failure && !error) failure = std::move(refused);
            if (read_error && !failure && !error) error = read_error;
          }
          if (failed_here) stop_all();
          break;
        }
        // The segment's rows and its mark commit together: the target holds the segment
        // exactly when it holds the mark, whatever happens to this process next.
        writer->EndSegment(SegmentMark{options_.segment_marks_task, plan.target.schema,
                                       plan.target.name, k, segments.size(), written});
        open = false;
        {
          std::lock_guard lock(mu);
          attempt.segments_done[k] = written;
        }
        if (options_.on_segment_done) options_.on_segment_done(index, k, written);
      } catch (...) {
        queue.CloseAndClear();
        if (read_thread.joinable()) read_thread.join();
        if (open) writer->AbortLoad();
        open = false;
        {
          std::lock_guard lock(mu);
          if (!error && !failure) error = std::current_exception();
        }
        stop_all();
        break;
      }
    }
    if (w == 0) first_open = open;
    if (open) writer->AbortLoad();  // began, but no segment was left for it
  };
  const size_t workers = std::max<size_t>(1, std::min(readers.size() + 1, todo.size()));
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (size_t w = 1; w < workers; ++w) threads.emplace_back(worker, w);
  worker(0);
  for (auto& t : threads) t.join();
  // Rows of segments rolled back are not in the target: the count is the committed ones.
  st.full_load_rows = RowsOf(attempt.segments_done);
  if (error) std::rethrow_exception(error);
  return failure;
}

}  // namespace ferry
