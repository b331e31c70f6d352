// cdc::ChangeApplier for MySQL/MariaDB targets (see change/change_applier.h for the contract).
//
// Each change becomes one text statement with literal values, checked and converted exactly as
// the bulk writer does (my_value_text.h AppendCheckedValue). Statements are queued and sent as
// multi-statement batches (up to kMaxQueued statements or kMaxQueuedBytes), one round trip per
// batch; the affected-row count of each statement is read back in order. A statement that
// fails ends the server's execution of its batch: a duplicate key on INSERT (ER_DUP_ENTRY) is
// recorded as kDuplicate (InnoDB rolls back that statement only) and the statements after it
// are sent again; any other failure throws Error.
//
// The connection uses CLIENT_FOUND_ROWS, so an UPDATE that changes nothing still counts the
// row it matched (kNoRow means no row matched). TRUNCATE is applied as DELETE FROM: MySQL's
// TRUNCATE TABLE is DDL and commits the open transaction implicitly, which would commit part
// of a source transaction without its checkpoint.
//
// Values larger than a statement can carry: the server refuses a statement (one client
// packet) longer than its max_allowed_packet (read once per connection), and a literal costs
// up to twice the value (binary as hex). A change whose statement would not fit is applied
// through LOAD DATA LOCAL INFILE of that one row, streamed from memory exactly as the bulk
// writer loads (my_writer.h; LOAD DATA has no such limit on a row), inside the same open
// transaction, so the txn_state checkpoint still commits with it:
//  - INSERT: LOAD DATA of the row (upsert with a primary key: DELETE by key first);
//  - UPDATE with a full new image: DELETE by the old key, then LOAD DATA of the new row (no
//    row deleted: kNoRow, nothing loaded; upsert: loaded anyway).
// An UPDATE whose new image leaves a large value unchanged (TOAST) and still does not fit, or
// a DELETE whose old image alone does not fit (no primary key, huge values), throws
// Error(kData) naming the table and the limit. mysql_stmt_send_long_data was not chosen: the
// server checks the accumulated parameter against max_allowed_packet too ("Parameter of
// prepared statement which is set through mysql_send_long_data() is longer than
// 'max_allowed_packet' bytes"), so it would not lift the limit. Smaller statements are also
// batched only up to the limit.
//
// MariaDB/MySQL targets must be transactional (InnoDB) for the checkpoint guarantee.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "change/change_applier.h"
#include "connectors/mysql/my_connection.h"
#include "connectors/mysql/my_value_text.h"
#include "connectors/txn_state.h"
#include "endpoint/endpoint_uri.h"

namespace ferry::mysql {

class MyChangeApplier : public cdc::ChangeApplier {
 public:
  // Connects lazily (first call that needs the server).
  explicit MyChangeApplier(const EndpointUri& uri);
  ~MyChangeApplier() override;

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

  // Queue limits: a batch is sent when either is reached.
  static constexpr size_t kMaxQueued = 1000;
  static constexpr size_t kMaxQueuedBytes = 4u << 20;

  // For tests: when not 0, statements longer than `bytes` take the LOAD DATA path whatever
  // the server's max_allowed_packet (process-wide; 0 restores the server's limit).
  static void SetStatementLimitForTesting(size_t bytes);

 private:
  struct TableInfo;
  struct Queued {
    std::string sql;
    std::string fallback;  // upsert UPDATE: the INSERT to run when no row matched
    uint64_t tag = 0;
    cdc::ChangeOp op = cdc::ChangeOp::kInsert;
    const TableInfo* table = nullptr;
  };

  MyConnection& Conn();
  TableInfo& Info(const TableDef& target);
  // Sends every queued statement and records their outcomes in issues_.
  void Send();
  // The longest statement the server takes (max_allowed_packet less a margin).
  size_t StatementLimit();
  // Applies a change whose statement exceeds StatementLimit() (see the header comment).
  void ApplyLarge(TableInfo& info, const cdc::ChangeView& change, bool upsert, uint64_t tag,
                  const std::string& where_sql);
  // LOAD DATA of rows(row) into the table; returns the number of rows loaded (0: duplicate).
  uint64_t LoadRow(TableInfo& info, const Batch& rows, size_t row);

  EndpointUri uri_;
  std::unique_ptr<MyConnection> conn_;
  cdc::TxnStateSql txn_state_;
  std::map<std::string, std::unique_ptr<TableInfo>> tables_;
  std::vector<Queued> queued_;
  size_t queued_bytes_ = 0;
  size_t packet_limit_ = 0;  // the server's max_allowed_packet; 0 = not read yet
  size_t row_limit_ = 0;     // MaxLoadRowBytes (my_writer.h); 0 = not read yet
  int64_t redo_log_bytes_ = 0;
  std::vector<cdc::ApplyIssue> issues_;
  std::string scratch_, value_, load_buffer_;
};

}  // namespace ferry::mysql
