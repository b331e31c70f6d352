// cdc::ChangeApplier for a PostgreSQL target: row changes as prepared statements with binary
// parameters, sent in libpq pipeline mode so a group of changes costs one round trip, and the
// task's checkpoint (awsdms_txn_state) committed in the same transaction.
//
// Statements, per target table, operation and set of columns present (cached, prepared once
// per connection):
//   INSERT           INSERT INTO t (...) VALUES ($1, ...) ON CONFLICT DO NOTHING
//                    (a duplicate changes nothing: kDuplicate, the transaction goes on)
//   INSERT, upsert   ... ON CONFLICT (<primary key>) DO UPDATE SET c = EXCLUDED.c, ...
//                    (tables without a primary key: the plain INSERT above)
//   UPDATE           UPDATE t SET <columns not unchanged> WHERE <key> (kNoRow when 0 rows)
//   UPDATE, upsert   one statement: WITH u AS (UPDATE ... RETURNING 1), i AS (INSERT ...
//                    SELECT ... WHERE NOT EXISTS (SELECT 1 FROM u) ON CONFLICT DO NOTHING
//                    RETURNING 1) SELECT 1 FROM u UNION ALL SELECT 1 FROM i
//                    (no row returned: the new key exists already -> kDuplicate)
//   DELETE           DELETE FROM t WHERE <key> (kNoRow when 0 rows)
//   TRUNCATE         TRUNCATE TABLE t
// <key> is the primary key's columns ("k"=$n); without a primary key every column of the old
// image, NULL-safe and one row only: ctid = (SELECT ctid FROM t WHERE "c" IS NOT DISTINCT FROM
// $n AND ... LIMIT 1). Key columns are SET only when the update changes the key.
//
// Threading: one thread (as cdc::ChangeApplier).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "change/change_applier.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/pg_writer.h"
#include "connectors/txn_state.h"

namespace ferry::postgres {

// The statement forms the applier prepares (see the file comment).
enum class PgApplyKind : uint8_t { kInsert, kUpsertInsert, kUpdate, kUpsertUpdate, kDelete };

// One statement's shape: the columns it writes and the columns it finds the row by, as
// indexes into TableDef::columns. Its values are numbered set values first, then where values.
struct PgApplyShape {
  PgApplyKind kind = PgApplyKind::kInsert;
  std::vector<int> set_columns;    // INSERT: the inserted columns; UPDATE: the SET columns
  std::vector<int> where_columns;  // UPDATE, DELETE: the columns matched
};

// The shape that applies `change` (not a TRUNCATE) to `table`, whose primary key columns are
// `key` (indexes; empty when it has none), into `shape` (its vectors reused). Returns false for
// an UPDATE that changes nothing (every non-key column unchanged, key unchanged): a no-op that
// counts as applied. Throws Error(kData) when a table without a primary key gets an UPDATE or
// DELETE without the whole old row (the source table needs REPLICA IDENTITY FULL).
bool PgApplyShapeOf(const TableDef& table, const std::vector<int>& key,
                    const cdc::ChangeView& change, bool upsert, PgApplyShape* shape);

// Appends the SQL of value `index` of a shape (set values, then where values) to `out`.
using PgApplyValueFn = std::function<void(size_t index, std::string* out)>;

// The SQL text of `shape` on `table`, each value rendered by `value`. `for_display` leaves
// the ON CONFLICT DO NOTHING off a plain INSERT (Statement() shows the change, not the
// duplicate handling).
std::string PgApplySql(const TableDef& table, const PgApplyShape& shape, bool for_display,
                       const PgApplyValueFn& value);
// The same with parameters $1, $2, ... (what the applier prepares).
std::string PgApplyPreparedSql(const TableDef& table, const PgApplyShape& shape);

class PgChangeApplier : public cdc::ChangeApplier {
 public:
  // Takes the applier's own connection. A null `conn` gives an applier that can only render
  // Statement() (unit tests).
  explicit PgChangeApplier(std::unique_ptr<PgConnection> conn);
  ~PgChangeApplier() override;

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
  // Set-based: the queued changes are read, pipeline mode is left, the keys and the rows are
  // sent by COPY (binary; text when a column has no binary encoder) into two temporary tables
  // (ON COMMIT DROP), then DELETE FROM t USING keys and INSERT INTO t SELECT FROM rows; pipeline
  // mode is entered again for what follows.
  void ApplyNet(const TableDef& target, const Batch& remove_keys, const Batch& rows) override;

 private:
  void CopyInto(const std::string& table, const std::string& columns, bool binary,
                const std::string& data, const std::string& what);

  struct Prepared;
  struct TableState;
  struct Pending;

  TableState& StateFor(const TableDef& target);
  void EncodeParams(const TableDef& target, const TableState& table, const cdc::ChangeView& change);
  void SendControl(const std::string& sql, const char* what);
  void SyncAndRead();
  void LeavePipeline();
  void Reconnect() noexcept;
  const cdc::TxnStateSql& txn_state();

  std::unique_ptr<PgConnection> conn_;
  std::optional<cdc::TxnStateSql> txn_state_;
  bool in_txn_ = false;
  std::unordered_map<std::string, std::unique_ptr<TableState>> tables_;
  std::vector<std::unique_ptr<TableState>> retired_;  // replaced while results were pending
  TableState* last_ = nullptr;
  uint64_t statement_counter_ = 0;

  // Queued and not yet read, in send order.
  std::vector<Pending> pending_;
  size_t since_sync_ = 0;
  std::vector<cdc::ApplyIssue> issues_;

  // Reused per change.
  PgApplyShape shape_;
  std::string key_buf_;
  std::string params_;
  std::string scratch_;
  std::vector<int64_t> param_offset_;  // -1 for NULL
  std::vector<const char*> param_values_;
  std::vector<int> param_lengths_;
  std::vector<int> param_formats_;
};

}  // namespace ferry::postgres
