// TableWriter: LOAD DATA LOCAL INFILE fed from memory (a local-infile handler serves one
// reused buffer per batch; no temporary file), values checked against the target's actual
// column types before anything is sent.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "connectors/mysql/my_connection.h"
#include "connectors/mysql/my_value_text.h"
#include "connectors/segment_marks.h"

namespace ferry::mysql {

// How each column of `target` (schema resolved) is written: its incoming DMS type and the
// table's actual column type read from information_schema (json for a longtext with a
// json_valid check). Throws Error(kNotFound) when the table is missing, Error(kSchema) naming
// a column it lacks. `what` names the operation for errors.
std::vector<WriteColumn> ActualWriteColumns(MyConnection& conn, const TableDef& target,
                                            std::string_view what);

// The largest LOAD DATA row (in bytes of its text) the server behind `conn` can write: on
// MariaDB, InnoDB must hold one row's redo in its log, and a row larger than
// innodb_log_file_size stalls the server in "Reading file" for good (KILL does not stop it;
// measured on 10.11: a 268 MB value loads in 4.5 s with a 256 MiB log, a 280 MB one never).
// 90% of the log on MariaDB; no limit (SIZE_MAX) on MySQL, which refuses such a row itself.
// `*redo_log_bytes` gets the log size for messages (0 on MySQL).
size_t MaxLoadRowBytes(MyConnection& conn, std::string_view what, int64_t* redo_log_bytes);

// Why a row of `row_bytes` (its largest value `largest_bytes`, in `column`) is not sent to a
// MariaDB server with a redo log of `redo_log_bytes`, and what to change.
std::string RowTooLargeForRedoLog(size_t row_bytes, const std::string& column,
                                  size_t largest_bytes, int64_t redo_log_bytes);

class MyTableWriter : public TableWriter {
 public:
  explicit MyTableWriter(const EndpointUri& uri);
  void EnsureSchema(const std::string& schema) override;
  bool TableExists(const std::string& schema, const std::string& name) override;
  void PrepareTable(const TableDef& target, TablePrepMode mode) override;
  void BeginLoad(const TableDef& target) override;
  void Write(const Batch& batch) override;
  void EndLoad() override;
  int64_t AbortLoad() noexcept override;
  bool LoadStartedEmpty() const override { return started_empty_; }
  bool CommitsAsItGoes() const override { return true; }
  SegmentMarks* segment_marks() override { return &marks_; }
  void BeginSegment(const TableDef& target) override;
  void EndSegment(const SegmentMark& mark) override;
  void AddPrimaryKey(const TableDef& target) override;

  // Rows per transaction: a load commits every this many rows (at a batch boundary) and at
  // EndLoad, so undo logs and lock memory stay bounded on huge tables; a failed load is
  // reloaded as a whole by the engine, so intermediate commits lose nothing. A segment
  // (BeginSegment) is one transaction instead, whatever its size: the engine keeps segments
  // small (engine/full_load.h), and a resume keeps the segments committed.
  static constexpr int64_t kCommitRows = 100'000;

  // For tests: when not 0, writers and change appliers opened afterwards take the target for a
  // MariaDB server whose innodb_log_file_size is `bytes` (process-wide; 0 = ask the server).
  static void SetRedoLogBytesForTesting(int64_t bytes);

 private:
  std::string Schema(const TableDef& t) const;
  void Begin(const TableDef& target, bool segment);

  MyConnection conn_;
  TableDef target_;
  std::string qualified_;
  std::vector<WriteColumn> columns_;
  std::string load_sql_;
  std::string buffer_;   // the current batch as LOAD DATA text, reused
  std::string scratch_;  // per-value conversions, reused
  int64_t rows_since_commit_ = 0;
  int64_t rows_committed_ = 0;  // rows of this load committed in earlier chunks
  bool started_empty_ = false;  // the table had no rows when the load began
  bool in_load_ = false;
  bool segment_ = false;        // the load is one segment: one transaction, no chunk commits
  size_t row_limit_ = 0;        // MaxLoadRowBytes, read once; 0 = not read yet
  int64_t redo_log_bytes_ = 0;  // MariaDB innodb_log_file_size, for the message
  SqlSegmentMarks marks_;
};

}  // namespace ferry::mysql
