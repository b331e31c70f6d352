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
// Values are checked before a batch is sent and the batch runs inside a SAVEPOINT, so a
// RowError (bad value or constraint violation) leaves nothing of that batch written.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "connectors/sqlite/sqlite_connection.h"

namespace ferry::sqlite {

constexpr int64_t kCommitRows = 50'000;
constexpr int64_t kCommitBytes = 256LL << 20;
constexpr int kLockWaitSeconds = 600;

class FileWriteLock;

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
  void AbortLoad() noexcept override;
  void AddPrimaryKey(const TableDef& target) override;

  struct ColumnPlan;

 private:
  // Takes this process's turn on the file, then SQLite's write lock (BEGIN IMMEDIATE).
  void BeginWrite();
  // COMMIT (retried while busy), then gives the turn to the next writer.
  void CommitWrite();
  void RollbackWrite() noexcept;
  // The first value of `batch` the target cannot hold, as a RowError; nothing when all fit.
  void CheckBatch(const Batch& batch) const;
  void InsertBatch(const Batch& batch);

  Connection conn_;
  std::shared_ptr<FileWriteLock> lock_;
  bool in_txn_ = false;
  TableDef target_;
  std::unique_ptr<Statement> insert_;
  std::vector<ColumnPlan> plans_;
  std::vector<std::string> scratch_;  // per column: date/time/uint text bound SQLITE_STATIC
  int64_t rows_in_txn_ = 0;
  int64_t bytes_in_txn_ = 0;
};

}  // namespace ferry::sqlite
