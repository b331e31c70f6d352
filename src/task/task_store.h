// The task store: one SQLite database per data directory (DIR/ferry.db, see data_dir.h) that
// keeps what a CDC task needs to resume after a stop or a crash, and what `ferry status` shows
// from another process while the task runs: the task (endpoints without passwords, mappings,
// settings, status, CDC positions, live figures) and its tables (state, DMS table statistics).
//
// Concurrency: the store is in WAL mode, so one writing process (the task) and any number of
// read-only handles (`ferry status`) work at the same time; a reader sees the last committed
// state. Writers wait up to 5 s for another writer's lock (busy_timeout) before throwing
// Error(kConnection).
//
// Thread-safety: a TaskStore is safe to use from several threads: every method takes an
// internal mutex (the engine's progress thread and its control thread may share one handle).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"

namespace ferry {

// One task, as AWS DMS describes a replication task (DescribeReplicationTasks) plus the CDC
// source objects and live figures Ferry adds. Times are microseconds since the Unix epoch,
// 0 = not set.
struct TaskRecord {
  std::string name;            // ReplicationTaskIdentifier (CheckTaskName)
  std::string migration_type;  // full-load | cdc | full-load-and-cdc
  // Endpoint URIs. PutTask stores them without their password (RedactEndpointUri), so what is
  // read back never holds one: the task must be given its URIs again to resume.
  std::string source_endpoint, target_endpoint;
  std::string table_mappings_json, task_settings_json;
  std::string status;       // DMS: creating | ready | running | stopping | stopped | failed
  std::string stop_reason;  // DMS StopReason text, e.g. "Stop Reason NORMAL", or the error
  // While starting: what the task waits for on the source (the transactions open there when a
  // new slot is created); "" otherwise. Version 4.
  std::string waiting_for;
  std::string last_failure_message;
  std::string slot, publication;    // CDC source objects Ferry created or uses
  // Whether Ferry created the slot / publication for this task (and so may drop them); false
  // for the user's own (--slot-name of an existing slot, --publication), which are never
  // dropped.
  bool slot_owned = true, publication_owned = true;
  // The task's identity, fixed when it is created: a random id (in the names of the source
  // objects Ferry creates for it, so two tasks never share them) and the endpoints'
  // Connector::Identity(). A resume against another source or target is refused.
  std::string task_id, source_identity, target_identity;
  std::string cdc_start_position;   // where CDC began (LSN text)
  std::string recovery_checkpoint;  // last committed position (mirror of the target's)
  int64_t created_at_us = 0, started_at_us = 0, stopped_at_us = 0;
  int64_t updated_at_us = 0;  // 0 when writing = stamped with the current time by the store
  // Live figures (SaveProgress): CDC latency in seconds, read/applied positions, memory.
  int64_t cdc_latency_source_s = 0, cdc_latency_target_s = 0;
  std::string source_position, applied_position;  // read / applied LSN text
  int64_t memory_bytes = 0, spilled_bytes = 0, pending_changes = 0;
};

// One table of a task, as DMS DescribeTableStatistics reports it, plus the CDC hand-over state.
struct TableRecord {
  int index = 0;  // the task's table index (plan order); unique within the task
  std::string source_schema, source_table, target_schema, target_table;
  std::string state;          // DMS TableState: "Before load", "Full load", "Table completed",
                              // "Table error", "Table cancelled", "Suspended"...
  bool cdc_live = false;      // loaded and its cached changes applied: CDC applies directly
  std::string load_position;  // the source position its loaded rows reflect (LSN text)
  int64_t full_load_rows = 0, inserts = 0, updates = 0, deletes = 0, ddls = 0,
          applied_inserts = 0, applied_updates = 0, applied_deletes = 0, applied_ddls = 0,
          apply_errors = 0;
  int64_t load_start_us = 0, load_end_us = 0;
  int64_t updated_at_us = 0;  // 0 when writing = stamped with the current time by the store
  std::string last_error;
  // Data validation (DMS ValidationState and Validation*Records; "" = not enabled).
  std::string validation_state;
  int64_t validation_pending = 0, validation_failed = 0, validation_suspended = 0;
  // Full-load resume (version 4). The load of this table began in an earlier run of the task
  // (load_began) into a target table that was empty then (load_started_empty), which that run
  // created without its primary key (load_pk_after: CreatePkAfterFullLoad adds it at the end).
  bool load_began = false, load_started_empty = false, load_pk_after = false;
  // The table's parallel-load segments as planned when its load began (engine/segment_json.h;
  // "" = read in one stream), and those whose rows are committed: their indexes, ascending,
  // comma-separated. A resumed load keeps those and reloads the others.
  std::string segments, segments_done;
};

// One entry of a table's shape history: the source table's columns as the task's change apply
// knows them from that entry on. A live table's history starts with its shape when the task
// started ("initial") and gains one entry per column change the apply saw: "ddl" when the
// target was altered to follow it (through cdc::PlanTableChange), "rebind" when only the
// decoding changed (the table was not live then, so the target kept its columns), "txn" when
// the target was altered inside the target transaction of the source transaction that made the
// change between its own changes of the table (committed with that transaction's checkpoint,
// or not at all). Replayed in
// order after a restart, the history gives the table's plan and shape at the checkpoint,
// whatever the source catalog says now. `pending`: written before the target's ALTER ran and
// not yet confirmed done (a crash in between leaves it pending).
struct TableShapeRecord {
  int table_index = 0;
  int64_t seq = 0;           // order within the table (assigned by AppendShape)
  std::string kind;          // "initial" | "ddl" | "rebind" | "txn"
  bool pending = false;
  // The task's checkpoint when it was written (LSN text); for "txn", the end of the source
  // transaction the change came in.
  std::string position;
  std::string definition;    // the TableDef (catalog/table_def_json.h)
};

// A table of a task asked to be loaded again (`ferry reload-tables`, DMS ReloadTables),
// waiting until the task acts on it: a running task reloads it at once, a stopped one when it
// resumes. Version 5.
struct ReloadRequest {
  int table_index = 0;
  // DMS ReloadOption validate-only: the table is validated again, its rows stay.
  bool validate_only = false;
  int64_t requested_at_us = 0;  // identifies the request (distinct per RequestReload call)
};

// The schema version this Ferry writes; a store with a higher one is refused.
// Version 2 added the task's identity and source-object ownership, version 3 the table shape
// history, version 4 the full-load resume state of each table, version 5 reload requests (an
// older store is upgraded in place when opened).
inline constexpr int kTaskStoreSchemaVersion = 5;

// `uri` with its password replaced by "***" (and any query parameter whose name contains
// "password"). URIs Ferry cannot parse are redacted by their shape (scheme://user:***@rest).
std::string RedactEndpointUri(std::string_view uri);

class TaskStore {
 public:
  // Opens DIR/ferry.db (kStoreFileName) in `data_dir`.
  // Writable (read_only = false): creates the directory and the store when missing, switches
  // it to WAL and creates or checks the schema. Read-only: the store must exist; nothing is
  // created or changed (works while a writer has it open).
  // Throws ferry::Error naming the file:
  //   kNotFound  read-only and there is no store (the message says to run a task first);
  //   kIo        the directory cannot be created, the file cannot be opened or is not SQLite
  //              (with SQLite's message);
  //   kInvalidArgument  a SQLite database that is not a Ferry task store (no ferry_schema
  //              table while holding other tables);
  //   kUnsupported  a store written by a newer Ferry (schema version above ours).
  static std::unique_ptr<TaskStore> Open(const std::filesystem::path& data_dir,
                                         bool read_only = false);
  ~TaskStore();
  TaskStore(const TaskStore&) = delete;
  TaskStore& operator=(const TaskStore&) = delete;

  // The store file's path.
  const std::filesystem::path& path() const { return path_; }

  // The task named `name`, or nullopt.
  std::optional<TaskRecord> GetTask(const std::string& name);
  // Every task, by name.
  std::vector<TaskRecord> ListTasks();
  // Inserts or replaces the task named task.name (every field; endpoints redacted,
  // updated_at_us 0 stamped with now). Its tables are kept.
  void PutTask(const TaskRecord& task);
  // Deletes the task, its tables, their shape histories and reload requests; no-op when it
  // does not exist.
  void DeleteTask(const std::string& name);

  // The task's tables in index order (empty when none or no such task).
  std::vector<TableRecord> GetTables(const std::string& task);
  // Replaces all the task's tables with `tables` in one transaction. Throws Error(kNotFound)
  // when the task does not exist, Error(kInvalidArgument) when two tables share an index.
  void PutTables(const std::string& task, const std::vector<TableRecord>& tables);
  // Inserts or replaces one table (by its index). Throws Error(kNotFound) when the task does
  // not exist.
  void PutTable(const std::string& task, const TableRecord& table);

  // The shape history of every table of `task`, by table index then seq.
  std::vector<TableShapeRecord> GetShapes(const std::string& task);
  // Replaces table `table_index`'s history with one "initial" entry.
  void ResetShape(const std::string& task, int table_index, const std::string& position,
                  const std::string& definition);
  // Appends `shape` (its seq is ignored) to its table's history; returns its seq.
  int64_t AppendShape(const std::string& task, const TableShapeRecord& shape);
  // Marks an entry no longer pending.
  void ConfirmShape(const std::string& task, int table_index, int64_t seq);
  // Removes one entry (a change whose target transaction rolled back).
  void DeleteShape(const std::string& task, int table_index, int64_t seq);

  // Asks task `task` to reload `tables` (indexes), replacing an earlier request of a table.
  // Throws Error(kNotFound) when the task does not exist.
  void RequestReload(const std::string& task, const std::vector<int>& tables, bool validate_only);
  // The task's requests not acted on yet, by table index.
  std::vector<ReloadRequest> GetReloadRequests(const std::string& task);
  // The task acted on `request` (a newer request of the same table stays).
  void ClearReloadRequest(const std::string& task, const ReloadRequest& request);

  // The periodic write of a running task (every few seconds; prepared statements, one
  // transaction). Writes task.name's live figures only: recovery_checkpoint, source_position,
  // applied_position, cdc_latency_source_s, cdc_latency_target_s, memory_bytes, spilled_bytes,
  // pending_changes, updated_at_us (status, stop reason, endpoints etc. change through PutTask),
  // and inserts or replaces each of `tables` whole (by index; tables not listed are kept).
  // Throws Error(kNotFound) when the task does not exist; nothing is written then.
  void SaveProgress(const TaskRecord& task, const std::vector<TableRecord>& tables);

 private:
  struct Impl;
  TaskStore(std::filesystem::path path, std::unique_ptr<Impl> impl);

  std::filesystem::path path_;
  Mutex mu_;  // guards impl_ (connection and prepared statements)
  std::unique_ptr<Impl> impl_ FERRY_GUARDED_BY(mu_);
};

}  // namespace ferry
