// TableWriter into one SQLite file: prepared INSERTs in large transactions.
//
// Concurrency: SQLite lets one connection write at a time. Several TableWriters may load
// different tables into the same file at once (the engine's parallel full load), so each
// writer commits in chunks (every kCommitRows rows or kCommitBytes bytes) and between chunks
// hands the file to the next writer:
//  - writers in this process queue on a first-come-first-served lock per file (a ticket lock),
//    so none starves while another re-takes SQLite's lock the moment it commits;
//  - writers in other processes are waited for by SQLite's busy handler (busy_timeout 10 s),
//    and BEGIN IMMEDIATE / COMMIT are retried on SQLITE_BUSY for up to kLockWaitSeconds.
// The connection runs journal_mode=WAL (readers never block the writer, nor the writer them)
// and synchronous=NORMAL (durable at checkpoints; a power cut may lose the last commits of a
// load, which the engine reloads anyway since the table was not finished).
//
// A segment of a table loaded in segments (BeginSegment .. EndSegment) is one transaction
// instead, with its mark: the file's other writers wait for the whole segment, so segments of
// one file commit one after another (the engine keeps them small, engine/full_load.h).
//
// Values are checked before a batch is sent and the batch runs inside a SAVEPOINT, so a
// RowError (bad value or constraint violation) leaves nothing of that batch written.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "connectors/segment_marks.h"
#include "connectors/sqlite/sqlite_types.h"
#include "sqlite_api/sqlite_connection.h"

namespace ferry::sqlite {

constexpr int64_t kCommitRows = 50'000;
constexpr int64_t kCommitBytes = 256LL << 20;
constexpr int kLockWaitSeconds = 600;

// First-come-first-served turn on one database file among this process's writers.
class FileWriteLock {
 public:
  void Lock() {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t ticket = next_++;
    cv_.wait(lock, [&] { return serving_ == ticket; });
  }
  void Unlock() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++serving_;
    }
    cv_.notify_all();
  }

  // The lock of the file at absolute path `path`, shared by every writer of this process.
  static std::shared_ptr<FileWriteLock> For(const std::string& path) {
    static std::mutex registry_mu;
    static std::map<std::string, std::weak_ptr<FileWriteLock>> registry;
    std::lock_guard<std::mutex> lock(registry_mu);
    std::shared_ptr<FileWriteLock> l = registry[path].lock();
    if (!l) {
      l = std::make_shared<FileWriteLock>();
      registry[path] = l;
    }
    return l;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_ = 0;     // guarded by mu_
  uint64_t serving_ = 0;  // guarded by mu_
};

// How one incoming column is bound and what is checked before it is.
struct ColumnPlan {
  DmsType in;            // the incoming values' type
  DmsType target;        // the target column's type as its declared type reads back
  Affinity affinity = Affinity::kBlob;
  bool not_null = false;
  bool uint8_as_text = false;  // UINT8 bound as decimal text (a TEXT-affinity column)
  bool check_int_range = false;
  int64_t tmin = 0;
  uint64_t tmax = 0;
  bool check_decimal = false;
  bool check_length = false;
  bool check_float = false;  // REAL8 into a REAL4 column: must be an exact float
};

// The plan of column `c` of `target` (its declared native_type, nullability; `rowid_col` is
// RowidAliasColumn(target)).
ColumnPlan MakeColumnPlan(const TableDef& target, int c, int rowid_col);
// Whether CheckCell can ever refuse a value of this column.
bool NeedsCheck(const ColumnPlan& p);
// Throws RowError(c, row, message naming the column, its types and why; row key of `target`)
// when batch(row, c) cannot be stored in the column exactly.
void CheckCell(const ColumnPlan& p, const TableDef& target, const Batch& batch, size_t row,
               int c);
// Binds batch(row, c) to parameter `idx` of `st`. Text made here (dates, big unsigned) lives in
// `scratch`, bound SQLITE_STATIC: keep it (and the batch) unchanged until the step.
void BindCell(sqlite3_stmt* st, int idx, const ColumnPlan& p, const Batch& batch, size_t row,
              int c, std::string* scratch);

class SqliteTableWriter : public TableWriter {
 public:
  explicit SqliteTableWriter(const std::string& path);
  ~SqliteTableWriter() override;

  void EnsureSchema(const std::string& schema) override {}
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

 private:
  // Takes this process's turn on the file, then SQLite's write lock (BEGIN IMMEDIATE).
  void BeginWrite();
  // COMMIT (retried while busy), then gives the turn to the next writer.
  void CommitWrite();
  void RollbackWrite() noexcept;
  // The first value of `batch` the target cannot hold, as a RowError; nothing when all fit.
  void CheckBatch(const Batch& batch) const;
  void InsertBatch(const Batch& batch);
  void Begin(const TableDef& target, bool segment);
  // Runs `sql` in a write transaction of its own (outside a load).
  void ExecWrite(const std::string& sql);

  Connection conn_;
  std::shared_ptr<FileWriteLock> lock_;
  bool in_txn_ = false;
  TableDef target_;
  std::unique_ptr<Statement> insert_;
  std::vector<ColumnPlan> plans_;
  std::vector<std::string> scratch_;  // per column: date/time/uint text bound SQLITE_STATIC
  int64_t rows_in_txn_ = 0;
  int64_t rows_committed_ = 0;  // rows of this load committed in earlier chunks
  bool started_empty_ = false;  // the table had no rows when the load began
  int64_t bytes_in_txn_ = 0;
  // The load is one segment (BeginSegment): one transaction, no chunk commits, and the file's
  // write lock is taken at its first row rather than at BeginSegment, so the table's other
  // segments read meanwhile and only their writes wait their turn.
  bool segment_ = false;
  SqlSegmentMarks marks_;
};

}  // namespace ferry::sqlite
