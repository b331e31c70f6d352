// Change data capture from PostgreSQL: the streaming replication protocol over a libpq
// connection with replication=database, the built-in pgoutput plugin, a publication for the
// task's tables and a logical replication slot (change/change_capture.h is the contract).
//
// It asks for `streaming 'on'` when CaptureOptions::stream_in_progress and the protocol is 2
// or newer (a transaction over the server's logical_decoding_work_mem then arrives while it
// runs, and a rolled-back one or savepoint as OnAbort), never for `two_phase`. proto_version
// is the highest the server speaks (16+: 4, 15: 3, 14: 2,
// else 1); values come in binary when every column of every table has a binary decoder (and
// the server is 14 or newer), else in text. The replication session sets DateStyle ISO,
// IntervalStyle postgres, TimeZone UTC, extra_float_digits 3, bytea_output hex and
// lc_monetary C so each text value has one spelling (pg_change_decode.h).
//
// Standby status updates report write = flush = apply = the position the engine confirmed
// (Confirm), never what was merely received, at least every 10 s and on each Confirm.
//
// The stream itself (decoding, transactions, Relation messages, positions, status updates)
// is PgChangeStream (pg_change_stream.h) reading a LibpqReplicationStream
// (pg_replication_stream.h); this class owns the connections and the source objects and
// answers what the stream asks of the source through its SQL session.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "change/change_capture.h"
#include "connectors/postgres/pg_catalog.h"
#include "connectors/postgres/pg_change_decode.h"
#include "connectors/postgres/pg_change_stream.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/pg_position.h"
#include "connectors/postgres/pgoutput.h"
#include "endpoint/endpoint_uri.h"

namespace ferry::postgres {

// What CheckPrerequisites() found on the server, for the message builder.
struct PgCdcFacts {
  std::string wal_level = "logical";
  int max_replication_slots = 10;
  int used_replication_slots = 0;
  bool slot_exists = false;  // the task's slot is already there (needs no free one)
  int max_wal_senders = 10;
  int used_wal_senders = 0;
  std::string user;
  bool superuser = false;
  bool replication = false;  // rolreplication
  // Ferry creates the publication: the user must own every table (or be superuser) and be
  // allowed to CREATE in the database.
  bool creates_publication = false;
  bool can_create_in_database = true;
  std::vector<std::string> not_owned_tables;  // "s.t"
  // Tables whose updates and deletes would arrive without a row key: no primary key and
  // replica identity DEFAULT, or replica identity NOTHING. Names as SQL spells them ("s.t").
  std::vector<std::string> tables_without_identity;
};

// Every problem in `facts`, one per line, each naming the setting and what to change; empty
// when CDC can run.
std::string DescribeCdcProblems(const PgCdcFacts& facts);

// "schema.name" with each part double-quoted only when SQL needs it.
std::string SqlName(const std::string& schema, const std::string& name);

class PgChangeCapture : public cdc::ChangeCapture, private PgChangeStream::Source {
 public:
  // Value format of the stream. kAuto: binary when every column can be decoded from binary.
  // kText / kBinary force one (tests; kBinary throws at Start when a column cannot).
  enum class ValueFormat { kAuto, kText, kBinary };

  PgChangeCapture(EndpointUri uri, cdc::CaptureOptions options);
  ~PgChangeCapture() override;

  void set_value_format(ValueFormat f) { value_format_ = f; }
  // Test-only: the next Start also writes every message of the replication stream into the
  // stream file at `path` (pg_replication_stream.h), for tests/fixtures/pgoutput/. "" = off.
  void set_stream_recording(std::string path) { recording_path_ = std::move(path); }
  // The format Start() chose: true = binary.
  bool binary() const { return binary_; }
  const std::string& slot() const { return slot_; }
  const std::string& publication() const { return publication_; }
  // The current definition of table `table` (updated before each OnTableChanged).
  const TableDef& table_def(uint32_t table) const { return stream_.table_def(table); }

  void CheckPrerequisites() override;
  bool SlotExists() override;
  cdc::PrepareResult Prepare() override;
  cdc::PrepareResult ExportSnapshot() override;
  void Start(const cdc::Position& from) override;
  void Poll(cdc::CaptureSink& sink, std::chrono::milliseconds wait) override;
  void Confirm(const cdc::Position& applied) override;
  cdc::Position ServerPosition() const override { return LsnPosition(stream_.server_end()); }
  cdc::DropResult DropObjects() override;
  std::vector<cdc::CaptureObject> ListObjects() override;

 private:
  class Replication;  // a replication=database connection (pg_capture_internal.h)
  using Clock = std::chrono::steady_clock;

  // PgChangeStream::Source, through the SQL session.
  uint32_t BaseType(uint32_t type_oid) override;
  ColumnDef ColumnOfType(const std::string& name, uint32_t type_oid, int32_t typmod) override;
  std::string ColumnDefault(uint32_t relation_oid, const std::string& column) override;
  // Heartbeat, retained WAL, dropped tables.
  void BetweenMessages(cdc::CaptureSink& sink, Clock::time_point now) override;

  PgConnection& Sql();
  void EnsurePublication();
  // Takes the task's advisory lock on the source for the life of the SQL session (one owner
  // per task, across machines); throws naming the session that holds it.
  void LockTask();
  // "task 'x' (id ...)" for the slot, from the Ferry publication that names it; "" if none.
  std::string SlotOwner(const std::string& slot);
  // Runs `sql` on `repl` (creating a slot), reporting every 10 s through the log and
  // options_.on_waiting which transactions it waits for, and cancelling it past
  // options_.consistency_timeout with Error(kCancelled) naming them.
  PgResult ExecWaitingForOpenTransactions(Replication& repl, const std::string& sql,
                                          const std::string& what);
  // The transactions with a transaction id that began at or before `since_unix_us`
  // (microseconds since the Unix epoch), as text.
  std::string OpenTransactionsBefore(int64_t since_unix_us);
  // Writes the heartbeat and checks the WAL the slot retains, when due.
  void Housekeeping(Clock::time_point now);
  // Looks for selected tables gone from the source (by OID: a rename is not a drop) and
  // reports each once the stream has passed the position where it was found gone.
  void CheckDroppedTables(cdc::CaptureSink& sink, Clock::time_point now);

  EndpointUri uri_;
  cdc::CaptureOptions options_;
  std::string slot_;
  std::string publication_;
  ValueFormat value_format_ = ValueFormat::kAuto;
  std::string recording_path_;
  int server_version_ = 0;

  std::unique_ptr<PgConnection> sql_;
  bool task_locked_ = false;  // the advisory lock is held on sql_
  std::unique_ptr<PgCatalogReader> catalog_;
  std::unique_ptr<Replication> repl_;

  // The stream's decoding, transactions and positions; reads repl_ while streaming.
  PgChangeStream stream_;
  bool binary_ = false;
  std::unordered_map<uint32_t, uint32_t> base_oids_;  // type OID -> base type (domains)

  Clock::time_point last_heartbeat_{};
  Clock::time_point last_wal_check_{};
  Clock::time_point last_drop_check_{};
  std::vector<uint32_t> table_oids_;  // per table id; 0 = unknown (resolved at Start)
  std::vector<bool> dropped_;         // per table id: reported dropped
  struct PendingDrop {
    uint32_t table;
    Lsn at;  // the source's WAL end when the table was found gone
  };
  std::vector<PendingDrop> pending_drops_;
};

}  // namespace ferry::postgres
