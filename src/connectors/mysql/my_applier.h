// cdc::ChangeApplier for MySQL/MariaDB targets (see cdc/change_applier.h for the contract).
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
// MariaDB/MySQL targets must be transactional (InnoDB) for the checkpoint guarantee.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cdc/change_applier.h"
#include "cdc/txn_state.h"
#include "connectors/mysql/my_connection.h"
#include "connectors/mysql/my_value_text.h"
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

  EndpointUri uri_;
  std::unique_ptr<MyConnection> conn_;
  cdc::TxnStateSql txn_state_;
  std::map<std::string, std::unique_ptr<TableInfo>> tables_;
  std::vector<Queued> queued_;
  size_t queued_bytes_ = 0;
  std::vector<cdc::ApplyIssue> issues_;
  std::string scratch_, value_;
};

}  // namespace ferry::mysql
