// The stream-consuming core of PostgreSQL change capture (PgChangeCapture, pg_capture.h):
// reads the CopyData messages of a ReplicationStream (pg_replication_stream.h), decodes their
// pgoutput payloads, assembles transactions (whole ones, and ones streamed before their
// commit with their subtransactions), follows Relation messages (a table's columns changed
// on the source), keeps the positions (what the server streamed, what the engine confirmed)
// and sends standby status updates: at Start, on each Confirm, when a keepalive asks for one
// and at least every 10 s.
//
// It needs no database connection: what it must ask the source (the types of a relation's
// columns; chores between messages such as a heartbeat) goes through PgChangeStream::Source.
// PgChangeCapture answers that through its SQL session; tests answer it from fixed type
// tables and replay recorded streams (tests/fixtures/pgoutput/) through the very same code.
//
// Not thread-safe: one thread drives it (the capture thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "catalog/table_def.h"
#include "change/change_capture.h"
#include "connectors/postgres/pg_change_decode.h"
#include "connectors/postgres/pg_position.h"
#include "connectors/postgres/pg_replication_stream.h"
#include "connectors/postgres/pgoutput.h"

namespace ferry::postgres {

class PgChangeStream {
 public:
  using Clock = std::chrono::steady_clock;

  // What the core asks of the source besides the stream.
  class Source {
   public:
    virtual ~Source() = default;
    // The base type of `type_oid`: domains followed down to the type under them; the type
    // itself when it is no domain.
    virtual uint32_t BaseType(uint32_t type_oid) = 0;
    // A column named `name` of type `type_oid` with modifier `typmod`, typed as the catalog
    // reader types one (PgCatalogReader::ColumnOfType). Throws Error(kNotFound) for a type
    // that does not exist.
    virtual ColumnDef ColumnOfType(const std::string& name, uint32_t type_oid, int32_t typmod) = 0;
    // The default of column `column` of relation `relation_oid` as the catalog prints it now
    // (pg_get_expr), "" when it has none: an added column's existing rows hold it on the source
    // without a change in the stream. Throws Error.
    virtual std::string ColumnDefault(uint32_t relation_oid, const std::string& column) {
      (void)relation_oid;
      (void)column;
      return {};
    }
    // Called on each turn of Poll before the next message is read, after a due status update
    // went out: source-side work that must go on while the stream is read (PgChangeCapture:
    // heartbeat, retained WAL, dropped tables). May deliver to `sink`.
    virtual void BetweenMessages(cdc::CaptureSink& sink, Clock::time_point now) {
      (void)sink;
      (void)now;
    }
  };

  // For messages only: "replication slot <slot>", and what to say about a table the
  // publication sends that is not one of the task's.
  struct Names {
    std::string slot;
    std::string publication;
    std::string task;
  };

  // `tables`: the task's tables (a change record's table id is the index here), with the
  // columns they have at the position the stream starts from. `source` must outlive the core.
  PgChangeStream(Names names, const std::vector<TableDef>& tables, Source& source);
  ~PgChangeStream();
  PgChangeStream(const PgChangeStream&) = delete;
  PgChangeStream& operator=(const PgChangeStream&) = delete;

  // Per table id, the table's OID on the source (0 = unknown): a Relation message naming an
  // OID of a task table under another name is that table renamed.
  void set_table_oids(std::vector<uint32_t> oids) { table_oids_ = std::move(oids); }

  // Consumes `stream` from now on: START_REPLICATION has been sent from `from` with pgoutput
  // `proto_version`; `server_end` is the server's WAL end then (0 unknown). Forgets the
  // previous stream's relations and open transactions (the server sends them again) but keeps
  // each table's current columns; the confirmed position is `from`. Sends a status update at
  // once. Throws what the stream's SendStatus throws.
  void Start(std::unique_ptr<ReplicationStream> stream, Lsn from, int proto_version,
             Lsn server_end);
  // Drops the stream (before its connection goes); Poll throws until the next Start.
  void Stop();
  bool streaming() const { return stream_ != nullptr && streaming_; }

  // ChangeCapture::Poll: hands what arrives to `sink`, waiting at most `wait` for the first
  // message and returning after about `wait` while messages keep coming, or as soon as the
  // stream has ended (a replayed file). When no message of a table arrived and no transaction
  // is open, reports the streamed position through OnIdle. Throws Error(kInternal) before
  // Start; kData naming slot and LSN for a message that cannot be decoded or is not expected;
  // whatever the stream throws (after which streaming() is false).
  void Poll(cdc::CaptureSink& sink, std::chrono::milliseconds wait);
  // ChangeCapture::Confirm: everything up to `applied` is on the target. Sends a status update
  // at once when it moves the confirmed position and a stream is open.
  void Confirm(Lsn applied);

  // The current definition of table `table` (updated before each OnTableChanged).
  const TableDef& table_def(uint32_t table) const { return encoders_.at(table).def(); }
  size_t table_count() const { return encoders_.size(); }
  // Inside a transaction (between Begin and Commit; not a streamed one).
  bool in_txn() const { return in_txn_; }
  // A transaction streamed before its commit is open.
  bool stream_open() const { return !open_streams_.empty(); }
  // The server's last known WAL end (Start's server_end, keepalives, XLogData).
  Lsn server_end() const { return server_end_; }
  // What the server said it has decoded and sent on this stream; 0 until it said so.
  Lsn streamed_end() const { return streamed_end_; }
  Lsn confirmed() const { return confirmed_; }
  // When the last transaction ended (or the stream started).
  Clock::time_point last_txn() const { return last_txn_; }

 private:
  void SendStatus();
  ReplicationStream::Read NextMessage(std::chrono::milliseconds wait, std::string_view* message);
  void HandleMessage(std::string_view message, cdc::CaptureSink& sink, bool* table_data);
  void HandleRelation(const pgoutput::Relation& rel, cdc::CaptureSink& sink, Lsn lsn);
  // The table's columns as Relation message `rel` describes them (names, types with their
  // modifiers, the replica identity's key), keeping what `known` says of unchanged columns.
  TableDef ShapeFromRelation(const pgoutput::Relation& rel, const std::vector<uint32_t>& base_oids,
                             const TableDef& known);
  TableChangeEncoder& EncoderFor(uint32_t relation_id, Lsn lsn, const char* message);
  // Hands record_ (one change) to the sink: as a change of the open transaction, or inside a
  // stream block, of the streamed transaction with the subtransaction that wrote it.
  void Deliver(cdc::CaptureSink& sink, uint32_t message_xid, uint32_t table);

  Names names_;
  Source& source_;
  std::unique_ptr<ReplicationStream> stream_;
  bool streaming_ = false;
  std::unique_ptr<pgoutput::Decoder> decoder_;
  std::vector<TableChangeEncoder> encoders_;          // per table id
  std::vector<uint32_t> table_oids_;                  // per table id; 0 = unknown
  std::set<uint32_t> renamed_warned_;                 // tables seen renamed (warned once)
  std::unordered_map<uint32_t, uint32_t> relations_;  // relation OID -> table id
  bool in_txn_ = false;
  pgoutput::Begin begin_;
  // Streamed in-progress transactions (pgoutput streaming): inside a Stream Start/Stop block,
  // and every transaction streamed but neither committed nor aborted yet.
  bool in_stream_ = false;
  uint32_t stream_xid_ = 0;
  std::set<uint32_t> open_streams_;
  std::string record_;
  // Tables with changes delivered in the open transaction(s): an ALTER of one of them before
  // the commit is an ALTER between a transaction's own changes.
  std::set<uint32_t> touched_;
  // Tables the open whole transaction (Begin..Commit) changed.
  std::set<uint32_t> txn_touched_;
  // Tables each open streamed transaction still holds changes of, per (sub)transaction that
  // wrote them: a Stream Abort of a subtransaction takes its changes, and its entry, away.
  // streamed xid -> (sub)transaction xid -> tables.
  std::map<uint32_t, std::map<uint32_t, std::set<uint32_t>>> stream_touched_;
  // Whether an open streamed transaction holds changes of `table`.
  bool StreamsHold(uint32_t table) const;
  std::string shape_record_;  // scratch for a shape record

  Lsn confirmed_ = 0;
  Lsn reported_ = 0;
  Lsn server_end_ = 0;
  // Idle is reported up to here only: IDENTIFY_SYSTEM's position is the WAL end, which the
  // stream may not have reached yet.
  Lsn streamed_end_ = 0;
  Clock::time_point last_status_{};
  Clock::time_point last_txn_{};
};

}  // namespace ferry::postgres
