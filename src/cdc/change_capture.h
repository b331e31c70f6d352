// The source side of change data capture: what a connector with CDC (PostgreSQL pgoutput
// today; MySQL binlog later) implements, and what the engine (engine/cdc_task) drives.
//
// Life of a capture:
//   CheckPrerequisites()           -> throws Error(kInvalidArgument) saying exactly what to change
//   Prepare()                      -> publication and slot exist; for a new slot with
//                                     export_snapshot, a snapshot at the slot's start point
//   (full load reads in that snapshot; ReleaseSnapshot() when every reader has joined it)
//   Start(from)                    -> streaming begins after `from`
//   Poll(sink, wait) ... repeatedly  -> transactions in commit order reach the sink
//   Confirm(applied)               -> the source may discard everything up to `applied`
//
// Threading: one thread drives a ChangeCapture. Errors: Error(kConnection) for a lost or
// refused connection (the engine retries per the RecoverableError settings), kData for a
// message that cannot be decoded (names table, column and position), never the password.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/table_def.h"
#include "cdc/change.h"

namespace ferry::cdc {

// Ferry's default slot and publication name for `task`: "ferry_" + the name lower-cased, every
// character outside [a-z0-9] as '_', at most 63 bytes (PostgreSQL's identifier limit).
std::string DefaultCaptureObjectName(const std::string& task);

struct CaptureOptions {
  std::string task;         // the task's name, for generated names and messages
  std::string slot;         // replication slot; "" = "ferry_<task>" (lower case, [a-z0-9_])
  std::string publication;  // "" = Ferry creates "ferry_<task>" for `tables`; else the user's
                            // own publication, which must exist and cover `tables`
  // The task's source tables as the catalog reader returned them. A change record's table id
  // is the index in this vector; its values follow these columns' DMS types.
  std::vector<TableDef> tables;
  // Prepare() on a slot it creates also exports a snapshot at the slot's consistent point.
  bool export_snapshot = false;
  // Keep the slot moving while the selected tables are idle: every `heartbeat` the capture
  // writes a tiny logical message on the source (0 = off).
  std::chrono::seconds heartbeat{std::chrono::seconds(60)};
  // Ask for transactions larger than the source's decoding memory while they are still open
  // (PostgreSQL 14+: pgoutput streaming); they reach OnStreamedChange / OnAbort.
  bool stream_in_progress = true;
  // Warn (log) when the slot retains more WAL than this many bytes (0 = never).
  int64_t retained_wal_warning_bytes = int64_t{1} << 30;
};

struct PrepareResult {
  bool slot_created = false;  // false: the slot existed (a resumed task)
  Lsn start = 0;              // the slot's consistent point (created) or confirmed position
  // When a slot was created with export_snapshot: an id for ScanOptions::snapshot, importable
  // until ReleaseSnapshot(). Else empty.
  std::string snapshot;
};

// Receives what the source committed, in commit order. Changes of one transaction arrive
// between OnBegin and OnCommit (or OnAbort for a streamed transaction rolled back).
class CaptureSink {
 public:
  virtual ~CaptureSink() = default;
  virtual void OnBegin(uint32_t xid) = 0;
  // One change of `xid`, encoded (change.h) with the current columns of its table.
  virtual void OnChange(uint32_t xid, std::string_view record) = 0;
  // One change of a transaction streamed before its commit, written by subtransaction `subxid`
  // (== xid for the transaction itself): OnAbort(xid, subxid) may take it back.
  virtual void OnStreamedChange(uint32_t xid, uint32_t subxid, std::string_view record) {
    (void)subxid;
    OnChange(xid, record);
  }
  virtual void OnCommit(const TransactionInfo& txn) = 0;
  // A transaction streamed before its commit was rolled back (subxid == xid: all of it; else
  // only that subtransaction's changes). Only when the capture streams in-progress transactions.
  virtual void OnAbort(uint32_t xid, uint32_t subxid) { (void)xid; (void)subxid; }
  // Table `table` has new columns on the source (ALTER TABLE seen in the stream): `def` is its
  // definition now. Called before the first change encoded with the new columns.
  virtual void OnTableChanged(uint32_t table, const TableDef& def) = 0;
  // Table `table` no longer exists on the source (DROP TABLE), and every transaction that
  // changed it before the drop has been delivered. Nothing of it follows.
  virtual void OnTableDropped(uint32_t table) { (void)table; }
  // The source is at `position` and sent nothing for the selected tables since the last call.
  virtual void OnIdle(Lsn position) { (void)position; }
};

class ChangeCapture {
 public:
  virtual ~ChangeCapture() = default;
  // Checks every source setting and privilege CDC needs, and each table's ability to deliver
  // updates and deletes (PostgreSQL: a primary key or REPLICA IDENTITY FULL/USING INDEX).
  // Throws Error(kInvalidArgument) listing every problem found and what to change.
  virtual void CheckPrerequisites() = 0;
  // Creates the publication (when Ferry owns it) and the slot when missing.
  virtual PrepareResult Prepare() = 0;
  // Exports a new snapshot at the source's current position without touching the task's slot
  // (PostgreSQL: a temporary slot), for reloading tables of a resumed task: rows committed at
  // or before `position` are in the snapshot. Importable until ReleaseSnapshot().
  virtual PrepareResult ExportSnapshot() = 0;
  // Every reader has imported the snapshot (or the load is over): resources can go.
  virtual void ReleaseSnapshot() = 0;
  // Starts streaming transactions that end after `from`.
  virtual void Start(Lsn from) = 0;
  // Delivers what arrived, waiting at most `wait` for the first message; returns after at most
  // about `wait` even while the source is busy, so the caller can confirm and check for stop.
  virtual void Poll(CaptureSink& sink, std::chrono::milliseconds wait) = 0;
  // Everything up to `applied` is committed on the target (PostgreSQL: standby status update
  // with flush = applied). Sent at once, and repeated by Poll as the server asks.
  virtual void Confirm(Lsn applied) = 0;
  // The source's last known end of WAL (from keepalives and data), for latency; 0 = unknown.
  virtual Lsn ServerPosition() const = 0;
  // Deletes the slot and, when Ferry created it, the publication (deleting the task).
  virtual void DropSlot() = 0;
};

}  // namespace ferry::cdc
