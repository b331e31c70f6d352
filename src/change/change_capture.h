// The source side of change data capture: what a connector with CDC (PostgreSQL pgoutput,
// MySQL binlog, SQLite triggers into a change table) implements, and what the engine
// (engine/cdc_task) drives.
//
// Life of a capture:
//   CheckPrerequisites()           -> throws Error(kInvalidArgument) saying exactly what to change
//   Prepare()                      -> publication and slot exist; for a new slot with
//                                     export_snapshot, a snapshot at the slot's start point
//   (the full load's readers join that snapshot, as segment readers join one of
//   Connector::OpenSnapshot: one contract, SourceSnapshot; it goes when its last holder does)
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
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/table_def.h"
#include "change/change.h"
#include "change/source_snapshot.h"

namespace ferry::cdc {

// The name of the slot and publication Ferry creates for a task: "ferry_" + the task's name
// lower-cased (every character outside [a-z0-9] as '_', cut to fit) + "_" + its task id, at
// most 63 bytes (PostgreSQL's identifier limit). The id makes the names unique per task: tasks
// "MyTask" and "mytask", or two installations' tasks "ferry" on one server, never share a
// slot. An empty id gives the version-1 name ("ferry_<task>"), kept by tasks created then.
std::string CaptureObjectName(const std::string& task, const std::string& task_id);
// A new random task id: 8 lower-case hex digits.
std::string NewTaskId();
// The task's key in awsdms_txn_state (TASK_NAME): "<task>#<task_id>", so that tasks of one name
// from two data directories (two machines, the default name "ferry") applying to one target
// never read each other's checkpoint; the name alone for a task from before task ids. At most
// 128 characters (the column's width): a long name is cut before "#<id>".
std::string CheckpointKey(const std::string& task, const std::string& task_id);

struct CaptureOptions {
  std::string task;         // the task's name, for messages
  std::string task_id;      // the task's id (TaskRecord::task_id; "" for version-1 tasks)
  // Replication slot (CaptureObjectName, or the user's). SQLite: the base name of the change
  // tables and triggers (connectors/sqlite/sqlite_capture.h), which also stand for the slot.
  std::string slot;
  std::string publication;  // publication (CaptureObjectName, or the user's)
  // Ownership: Ferry created the slot for this task (DropObjects may drop it) / Ferry creates
  // and keeps the publication for `tables`, marked with `owner`. The user's own (false) must
  // exist, are used as they are, and are never dropped.
  bool owns_slot = true;
  bool owns_publication = true;
  // Prepare() creates the slot and refuses if one of that name exists (Ferry never takes over
  // or drops a slot it did not create for this task); false: the slot must exist (a resumed
  // task, the user's slot).
  bool new_slot = false;
  // What Ferry writes on the source objects it creates so they can be recognised later
  // (PostgreSQL: the publication's comment): CaptureOwner::ToText().
  std::string owner;
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
  // How long Prepare() may wait for the transactions open on the source to end before its
  // slot has a consistent start (FullLoadSettings.TransactionConsistencyTimeout; 0 = no
  // limit); past it, Prepare throws Error(kCancelled) naming them.
  std::chrono::seconds consistency_timeout{600};
  // Called on Prepare()'s thread while it waits for them: after a second, then every 10 s,
  // with what it waits for ("pid 4242 (database shop, user app, open 25 s): UPDATE ..."); ""
  // once the wait is over. May be empty.
  std::function<void(const std::string& waiting_for)> on_waiting;
  // Checked while Prepare() / ExportSnapshot() wait that way: true gives up at once with
  // Error(kCancelled) (the task is stopping). May be empty.
  std::function<bool()> should_stop;
  // Warn (log) when the slot retains more WAL than this many bytes (0 = never).
  int64_t retained_wal_warning_bytes = int64_t{1} << 30;
};

// Whose a source object is: written on what Ferry creates (the publication's comment), read
// back by `ferry cleanup` and in messages about objects that are not this task's.
struct CaptureOwner {
  std::string task, task_id, slot, publication, host, data_dir;
  // {"ferry_task": ..., "task_id": ..., ...} (one line of JSON).
  std::string ToText() const;
  // The owner in `text`, or nullopt when it is not one Ferry wrote.
  static std::optional<CaptureOwner> Parse(std::string_view text);
  // "task 'shop' (id 1a2b3c4d, data directory /var/lib/ferry on host db1)".
  std::string Describe() const;
};

// A Ferry source object found on the source (ChangeCapture::ListObjects).
struct CaptureObject {
  std::string kind;  // "slot" or "publication"
  std::string name;
  std::optional<CaptureOwner> owner;  // from the object (or its publication), when recorded
  bool active = false;                // a slot being read right now
  std::string confirmed;              // a slot's confirmed position (the engine's spelling)
  int64_t retained_bytes = 0;         // WAL a slot holds
};

// What DropObjects found and did.
struct DropResult {
  bool slot_found = false, slot_dropped = false;
  bool publication_found = false, publication_dropped = false;
};

struct PrepareResult {
  bool slot_created = false;  // false: the slot existed (a resumed task, the user's slot)
  Position start;             // the slot's consistent point (created) or confirmed position
  // When a slot was created with export_snapshot (or by ExportSnapshot): the snapshot at
  // `start` that readers join (TableReader::JoinSnapshot, then ScanOptions::snapshot = its
  // id). It stays joinable while a holder keeps it; independent of this capture's life and
  // thread. Else null.
  std::shared_ptr<SourceSnapshot> snapshot;
  // The source keeps its change log by retention rather than for a slot (MySQL binlog): Start
  // accepts any position the source still has and refuses one it no longer has with
  // Error(kNotFound), so a start position before `start` is no reason to refuse.
  bool any_retained_start = false;
};

// Receives what the source committed, in commit order. Changes of one transaction arrive
// between OnBegin and OnCommit (or OnAbort for a streamed transaction rolled back).
class CaptureSink {
 public:
  virtual ~CaptureSink() = default;
  virtual void OnBegin(uint32_t xid) = 0;
  // One change of `xid`, encoded (change.h) with the current columns of its table; or a
  // shape record (EncodeShapeChange) where the table's columns changed between the
  // transaction's own changes of it: the records before it use the old columns, the ones
  // after it the new.
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
  // definition now. Called before the first change encoded with the new columns. `commit`:
  // the commit position of the transaction that change belongs to (empty when not known yet: a
  // transaction streamed before its commit), so a table still being loaded can tell an ALTER
  // its snapshot already has from one after it.
  virtual void OnTableChanged(uint32_t table, const TableDef& def, const Position& commit) = 0;
  // As OnTableChanged, but the columns changed inside a transaction streamed before its
  // commit (or while one is open) that had already delivered changes of the table with its old
  // columns (an ALTER between the own changes of transaction `xid`), where no shape record can
  // stand between them: those changes and the ones after cannot be applied in one order that
  // is right for both shapes. The default passes it on as OnTableChanged.
  virtual void OnTableChangedInTransaction(uint32_t table, const TableDef& def, uint32_t xid) {
    (void)xid;
    OnTableChanged(table, def, Position());
  }
  // Table `table` no longer exists on the source (DROP TABLE), and every transaction that
  // changed it before the drop has been delivered. Nothing of it follows.
  virtual void OnTableDropped(uint32_t table) { (void)table; }
  // The source is at `position` and sent nothing for the selected tables since the last call.
  virtual void OnIdle(const Position& position) { (void)position; }
};

class ChangeCapture {
 public:
  virtual ~ChangeCapture() = default;
  // Checks every source setting and privilege CDC needs, and each table's ability to deliver
  // updates and deletes (PostgreSQL: a primary key or REPLICA IDENTITY FULL/USING INDEX).
  // Throws Error(kInvalidArgument) listing every problem found and what to change.
  virtual void CheckPrerequisites() = 0;
  // Whether the slot named in the options exists on the source.
  virtual bool SlotExists() = 0;
  // Takes the task's lock on the source (where the engine has one), makes sure the
  // publication is there (creating it when Ferry owns it) and the slot: created when new_slot
  // (refused with Error(kInvalidArgument), naming whose it appears to be, when one of that name
  // exists), else it must exist (Error(kNotFound)) and serve this database.
  virtual PrepareResult Prepare() = 0;
  // Exports a new snapshot at the source's current position without touching the task's slot
  // (PostgreSQL: a temporary slot), for reloading tables (a resumed task, reload-tables):
  // transactions ending at or before `start` are in the snapshot.
  virtual PrepareResult ExportSnapshot() = 0;
  // Starts streaming transactions that end after `from`.
  virtual void Start(const Position& from) = 0;
  // Delivers what arrived, waiting at most `wait` for the first message; returns after at most
  // about `wait` even while the source is busy, so the caller can confirm and check for stop.
  virtual void Poll(CaptureSink& sink, std::chrono::milliseconds wait) = 0;
  // Everything up to `applied` is committed on the target (PostgreSQL: standby status update
  // with flush = applied). Sent at once, and repeated by Poll as the server asks.
  virtual void Confirm(const Position& applied) = 0;
  // The source's last known end of its log (from keepalives and data); empty = unknown.
  virtual Position ServerPosition() const = 0;
  // Drops the slot and the publication, each only when this task owns it (owns_slot,
  // owns_publication) and, for a publication, its recorded owner is this task. Says what was
  // there and what was dropped. Throws Error when a slot is in use by another process.
  virtual DropResult DropObjects() = 0;
  // Whether the capture keeps objects on the source for the task (PostgreSQL: a slot and a
  // publication). False (MySQL binlog): nothing to name in the task's record or to drop.
  virtual bool KeepsSourceObjects() const { return true; }
  // Every slot and publication on the source that Ferry created (by owner mark or name),
  // with its owner where recorded; for `ferry cleanup` and `delete-task` without a data dir.
  virtual std::vector<CaptureObject> ListObjects() = 0;
};

}  // namespace ferry::cdc
