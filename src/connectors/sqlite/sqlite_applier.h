// cdc::ChangeApplier for SQLite targets (see change/change_applier.h for the contract).
//
// Each change runs at once as a prepared statement with bound values, checked and bound exactly
// as the bulk writer does (sqlite_writer.h CheckCell / BindCell). Statements are cached per
// (table, operation, set of columns written and compared), so a stream of similar changes
// prepares each shape once. SQLite has no pipelining to gain from: Flush only hands over the
// outcomes collected so far.
//
// A constraint failure of an INSERT (SQLITE_CONSTRAINT_PRIMARYKEY / _UNIQUE) is kDuplicate:
// SQLite's default conflict action (ABORT) undoes that statement only and the transaction goes
// on. A table without a primary key finds one row by every column compared with IS, through
// rowid = (SELECT rowid ... LIMIT 1).
//
// The transaction takes this process's turn on the file (FileWriteLock, shared with the bulk
// writers) and SQLite's write lock (BEGIN IMMEDIATE) from Begin to Commit/Rollback.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "change/change_applier.h"
#include "connectors/sqlite/sqlite_writer.h"
#include "connectors/txn_state.h"
#include "sqlite_api/sqlite_connection.h"

namespace ferry::sqlite {

class SqliteChangeApplier : public cdc::ChangeApplier {
 public:
  // Opens (creating when missing) the database file at `path`.
  explicit SqliteChangeApplier(const std::string& path);
  ~SqliteChangeApplier() override;

  void Prepare(const std::string& control_schema) override;
  std::optional<cdc::Checkpoint> ReadCheckpoint(const std::string& task) override;
  void ClearCheckpoint(const std::string& task) override;
  void Begin() override;
  void Apply(const TableDef& target, const cdc::ChangeView& change, bool upsert,
             uint64_t tag) override;
  std::vector<cdc::ApplyIssue> Flush() override;
  void Commit(const std::string& task, const cdc::Checkpoint& checkpoint) override;
  void Rollback() noexcept override;
  std::string Statement(const TableDef& target, const cdc::ChangeView& change) override;
  void ExecuteInTransaction(const std::string& sql) override;

 private:
  struct TableInfo;
  struct Binding {
    int row;
    int col;
  };

  TableInfo& Info(const TableDef& target);
  // Runs `sql` (cached prepared statement under `key`) with `binds`, cells of `batch`; returns
  // the result code of the step (SQLITE_DONE, or an error with the statement already reset).
  // `batch` is null for a change without rows (a TRUNCATE: ChangeView::rows is null), which
  // binds nothing.
  int Run(const TableInfo& info, const std::string& key, const std::string& sql, const Batch* batch,
          const std::vector<Binding>& binds);
  // Runs `sql` without parameters under this process's file turn.
  void ExecLocked(const std::string& sql);

  Connection conn_;
  std::shared_ptr<FileWriteLock> lock_;
  bool in_txn_ = false;
  cdc::TxnStateSql txn_state_;
  std::map<std::string, std::unique_ptr<TableInfo>> tables_;
  std::unordered_map<std::string, std::unique_ptr<sqlite::Statement>> statements_;
  std::vector<cdc::ApplyIssue> issues_;
  std::vector<std::string> scratch_;
};

}  // namespace ferry::sqlite
