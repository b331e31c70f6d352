#include "task/task_store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>
#include <system_error>
#include <utility>
#include <variant>

#include "common/error.h"
#include "endpoint/endpoint_uri.h"
#include "sqlite_api/sqlite_connection.h"
#include "task/data_dir.h"

namespace ferry {

namespace {

using sqlite::Connection;
using sqlite::Statement;

constexpr int kStoreBusyTimeoutMs = 5'000;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One stored field: its column and the record member it mirrors. The lists below are the one
// place that says how a record maps to its table; SQL text, binding and reading follow them.
template <typename R>
struct Field {
  const char* column;
  std::variant<std::string R::*, int64_t R::*, int R::*, bool R::*> member;
};

// tasks: `name` first (the key).
const std::vector<Field<TaskRecord>>& TaskFields() {
  static const std::vector<Field<TaskRecord>> fields = {
      {"name", &TaskRecord::name},
      {"migration_type", &TaskRecord::migration_type},
      {"source_endpoint", &TaskRecord::source_endpoint},
      {"target_endpoint", &TaskRecord::target_endpoint},
      {"table_mappings_json", &TaskRecord::table_mappings_json},
      {"task_settings_json", &TaskRecord::task_settings_json},
      {"status", &TaskRecord::status},
      {"stop_reason", &TaskRecord::stop_reason},
      {"last_failure_message", &TaskRecord::last_failure_message},
      {"slot", &TaskRecord::slot},
      {"publication", &TaskRecord::publication},
      {"cdc_start_position", &TaskRecord::cdc_start_position},
      {"recovery_checkpoint", &TaskRecord::recovery_checkpoint},
      {"created_at_us", &TaskRecord::created_at_us},
      {"started_at_us", &TaskRecord::started_at_us},
      {"stopped_at_us", &TaskRecord::stopped_at_us},
      {"updated_at_us", &TaskRecord::updated_at_us},
      {"cdc_latency_source_s", &TaskRecord::cdc_latency_source_s},
      {"cdc_latency_target_s", &TaskRecord::cdc_latency_target_s},
      {"source_position", &TaskRecord::source_position},
      {"applied_position", &TaskRecord::applied_position},
      {"memory_bytes", &TaskRecord::memory_bytes},
      {"spilled_bytes", &TaskRecord::spilled_bytes},
      {"pending_changes", &TaskRecord::pending_changes},
      // Version 2.
      {"slot_owned", &TaskRecord::slot_owned},
      {"publication_owned", &TaskRecord::publication_owned},
      {"task_id", &TaskRecord::task_id},
      {"source_identity", &TaskRecord::source_identity},
      {"target_identity", &TaskRecord::target_identity},
      // Version 4.
      {"waiting_for", &TaskRecord::waiting_for},
  };
  return fields;
}

// The fields SaveProgress writes (besides the key).
const std::vector<Field<TaskRecord>>& TaskLiveFields() {
  static const std::vector<Field<TaskRecord>> fields = {
      {"recovery_checkpoint", &TaskRecord::recovery_checkpoint},
      {"source_position", &TaskRecord::source_position},
      {"applied_position", &TaskRecord::applied_position},
      {"cdc_latency_source_s", &TaskRecord::cdc_latency_source_s},
      {"cdc_latency_target_s", &TaskRecord::cdc_latency_target_s},
      {"memory_bytes", &TaskRecord::memory_bytes},
      {"spilled_bytes", &TaskRecord::spilled_bytes},
      {"pending_changes", &TaskRecord::pending_changes},
      {"updated_at_us", &TaskRecord::updated_at_us},
  };
  return fields;
}

// task_tables: the task's name comes first (not a TableRecord member), then these.
const std::vector<Field<TableRecord>>& TableFields() {
  static const std::vector<Field<TableRecord>> fields = {
      {"table_index", &TableRecord::index},
      {"source_schema", &TableRecord::source_schema},
      {"source_table", &TableRecord::source_table},
      {"target_schema", &TableRecord::target_schema},
      {"target_table", &TableRecord::target_table},
      {"state", &TableRecord::state},
      {"cdc_live", &TableRecord::cdc_live},
      {"load_position", &TableRecord::load_position},
      {"full_load_rows", &TableRecord::full_load_rows},
      {"inserts", &TableRecord::inserts},
      {"updates", &TableRecord::updates},
      {"deletes", &TableRecord::deletes},
      {"ddls", &TableRecord::ddls},
      {"applied_inserts", &TableRecord::applied_inserts},
      {"applied_updates", &TableRecord::applied_updates},
      {"applied_deletes", &TableRecord::applied_deletes},
      {"applied_ddls", &TableRecord::applied_ddls},
      {"apply_errors", &TableRecord::apply_errors},
      {"load_start_us", &TableRecord::load_start_us},
      {"load_end_us", &TableRecord::load_end_us},
      {"updated_at_us", &TableRecord::updated_at_us},
      {"last_error", &TableRecord::last_error},
      {"validation_state", &TableRecord::validation_state},
      {"validation_pending", &TableRecord::validation_pending},
      {"validation_failed", &TableRecord::validation_failed},
      {"validation_suspended", &TableRecord::validation_suspended},
      // Version 4.
      {"load_began", &TableRecord::load_began},
      {"load_started_empty", &TableRecord::load_started_empty},
      {"load_pk_after", &TableRecord::load_pk_after},
      {"segments", &TableRecord::segments},
      {"segments_done", &TableRecord::segments_done},
  };
  return fields;
}

template <typename R>
std::string ColumnDefs(const std::vector<Field<R>>& fields) {
  std::string out;
  for (const auto& f : fields) {
    if (!out.empty()) out += ", ";
    out += f.column;
    out += std::holds_alternative<std::string R::*>(f.member) ? " TEXT NOT NULL DEFAULT ''"
                                                             : " INTEGER NOT NULL DEFAULT 0";
  }
  return out;
}

template <typename R>
std::string ColumnList(const std::vector<Field<R>>& fields) {
  std::string out;
  for (const auto& f : fields) {
    if (!out.empty()) out += ", ";
    out += f.column;
  }
  return out;
}

std::string Placeholders(size_t n) {
  std::string out;
  for (size_t i = 1; i <= n; ++i) out += fmt::format("{}?{}", i == 1 ? "" : ", ", i);
  return out;
}

void Check(sqlite3* db, int rc, std::string_view what) {
  if (rc != SQLITE_OK) sqlite::ThrowSqliteError(db, rc, what);
}

// Binds `fields` of `rec` to ?first, ?first+1, ...; an updated_at_us of 0 becomes `now`.
template <typename R>
void BindFields(Statement& st, int first, const std::vector<Field<R>>& fields, const R& rec,
                int64_t now) {
  sqlite3* db = sqlite3_db_handle(st.get());
  int i = first;
  for (const auto& f : fields) {
    std::visit(
        [&](auto member) {
          using T = std::remove_cvref_t<decltype(rec.*member)>;
          if constexpr (std::is_same_v<T, std::string>) {
            st.BindText(i, rec.*member);
          } else {
            int64_t v = static_cast<int64_t>(rec.*member);
            if (v == 0 && std::string_view(f.column) == "updated_at_us") v = now;
            Check(db, sqlite3_bind_int64(st.get(), i, v), "binding a parameter");
          }
        },
        f.member);
    ++i;
  }
}

// Reads `fields` from the current row, starting at column `first`.
template <typename R>
void ReadFields(const Statement& st, int first, const std::vector<Field<R>>& fields, R& rec) {
  int i = first;
  for (const auto& f : fields) {
    std::visit(
        [&](auto member) {
          using T = std::remove_cvref_t<decltype(rec.*member)>;
          if constexpr (std::is_same_v<T, std::string>) {
            rec.*member = std::string(st.ColumnText(i));
          } else if constexpr (std::is_same_v<T, bool>) {
            rec.*member = st.ColumnInt(i) != 0;
          } else {
            rec.*member = static_cast<T>(st.ColumnInt(i));
          }
        },
        f.member);
    ++i;
  }
}

}  // namespace

std::string RedactEndpointUri(std::string_view uri) {
  if (uri.empty()) return "";
  auto parsed = ParseEndpointUri(uri);
  if (parsed.ok()) {
    return parsed->Describe();  // masks the password and any *password* parameter
  }
  // Unparsable: every password span (the credentials' and any password= value) masked.
  return RedactPasswords(uri);
}

struct TaskStore::Impl {
  explicit Impl(const std::string& file, bool ro)
      : conn(file, ro ? Connection::Mode::kReadOnly : Connection::Mode::kReadWrite),
        read_only(ro) {}

  // Prepared once the schema is known to be there.
  void Prepare() {
    const std::string task_cols = ColumnList(TaskFields());
    const std::string table_cols = ColumnList(TableFields());
    begin = std::make_unique<Statement>(conn, "BEGIN IMMEDIATE");
    commit = std::make_unique<Statement>(conn, "COMMIT");
    rollback = std::make_unique<Statement>(conn, "ROLLBACK");
    get_task = std::make_unique<Statement>(
        conn, fmt::format("SELECT {} FROM tasks WHERE name = ?1", task_cols));
    list_tasks = std::make_unique<Statement>(
        conn, fmt::format("SELECT {} FROM tasks ORDER BY name", task_cols));
    put_task = std::make_unique<Statement>(
        conn, fmt::format("INSERT OR REPLACE INTO tasks ({}) VALUES ({})", task_cols,
                          Placeholders(TaskFields().size())));
    std::string sets;
    int n = 2;
    for (const auto& f : TaskLiveFields()) {
      sets += fmt::format("{}{} = ?{}", sets.empty() ? "" : ", ", f.column, n++);
    }
    save_task = std::make_unique<Statement>(
        conn, fmt::format("UPDATE tasks SET {} WHERE name = ?1", sets));
    task_exists = std::make_unique<Statement>(conn, "SELECT 1 FROM tasks WHERE name = ?1");
    delete_task = std::make_unique<Statement>(conn, "DELETE FROM tasks WHERE name = ?1");
    delete_tables = std::make_unique<Statement>(conn, "DELETE FROM task_tables WHERE task = ?1");
    get_tables = std::make_unique<Statement>(
        conn, fmt::format("SELECT {} FROM task_tables WHERE task = ?1 ORDER BY table_index",
                          table_cols));
    put_table = std::make_unique<Statement>(
        conn, fmt::format("INSERT OR REPLACE INTO task_tables (task, {}) VALUES ({})",
                          table_cols, Placeholders(TableFields().size() + 1)));
    delete_shapes = std::make_unique<Statement>(conn, "DELETE FROM table_shapes WHERE task = ?1");
    delete_table_shapes = std::make_unique<Statement>(
        conn, "DELETE FROM table_shapes WHERE task = ?1 AND table_index = ?2");
    get_shapes = std::make_unique<Statement>(
        conn, "SELECT table_index, seq, kind, pending, position, definition FROM table_shapes "
              "WHERE task = ?1 ORDER BY table_index, seq");
    append_shape = std::make_unique<Statement>(
        conn, "INSERT INTO table_shapes (task, table_index, seq, kind, pending, position, "
              "definition) VALUES (?1, ?2, (SELECT coalesce(max(seq), -1) + 1 FROM table_shapes "
              "WHERE task = ?1 AND table_index = ?2), ?3, ?4, ?5, ?6) RETURNING seq");
    confirm_shape = std::make_unique<Statement>(
        conn, "UPDATE table_shapes SET pending = 0 WHERE task = ?1 AND table_index = ?2 AND "
              "seq = ?3");
    delete_shape = std::make_unique<Statement>(
        conn, "DELETE FROM table_shapes WHERE task = ?1 AND table_index = ?2 AND seq = ?3");
    put_reload = std::make_unique<Statement>(
        conn,
        "INSERT OR REPLACE INTO reload_requests (task, table_index, validate_only, "
        "requested_at) VALUES (?1, ?2, ?3, ?4)");
    get_reloads = std::make_unique<Statement>(
        conn,
        "SELECT table_index, validate_only, requested_at FROM reload_requests WHERE "
        "task = ?1 ORDER BY table_index");
    clear_reload = std::make_unique<Statement>(
        conn,
        "DELETE FROM reload_requests WHERE task = ?1 AND table_index = ?2 AND "
        "requested_at = ?3");
    delete_reloads =
        std::make_unique<Statement>(conn, "DELETE FROM reload_requests WHERE task = ?1");
  }

  // Runs `st` (confirm_shape, delete_shape) on entry `seq` of a table's shape history.
  void RunOnShape(Statement& st, const std::string& task, int table_index, int64_t seq) {
    CheckWritable(fmt::format("write the table shapes of task '{}'", task));
    st.Reset();
    st.BindText(1, task);
    st.BindInt(2, table_index);
    st.BindInt(3, seq);
    st.Step();
    st.Reset();
  }

  void CheckWritable(std::string_view what) const {
    if (read_only) {
      throw Error(ErrorKind::kInternal,
                  fmt::format("task store '{}' was opened read-only: cannot {}", conn.path(),
                              what));
    }
  }

  bool TaskExists(const std::string& name) {
    task_exists->Reset();
    task_exists->BindText(1, name);
    bool found = task_exists->Step();
    task_exists->Reset();
    return found;
  }

  void RequireTask(const std::string& name) {
    if (!TaskExists(name)) {
      throw Error(ErrorKind::kNotFound,
                  fmt::format("task '{}' does not exist in task store '{}'", name, conn.path()));
    }
  }

  void WriteTable(const std::string& task, const TableRecord& t, int64_t now) {
    put_table->Reset();
    put_table->BindText(1, task);
    BindFields(*put_table, 2, TableFields(), t, now);
    put_table->Step();
    put_table->Reset();
  }

  static void Run(Statement& st) {
    st.Reset();
    st.Step();
    st.Reset();
  }

  // BEGIN IMMEDIATE ... COMMIT; rolls back when left without Commit (an exception).
  class Transaction {
   public:
    explicit Transaction(Impl& impl) : impl_(impl) { Run(*impl_.begin); }
    ~Transaction() {
      if (!done_) {
        impl_.rollback->Reset();
        sqlite3_step(impl_.rollback->get());  // best effort: an error is already in flight
        impl_.rollback->Reset();
      }
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void Commit() {
      Run(*impl_.commit);
      done_ = true;
    }

   private:
    Impl& impl_;
    bool done_ = false;
  };

  Connection conn;
  bool read_only;
  int64_t last_request_us = 0;  // RequestReload's last stamp
  std::unique_ptr<Statement> begin, commit, rollback, get_task, list_tasks, put_task, save_task,
      task_exists, delete_task, delete_tables, get_tables, put_table, delete_shapes,
      delete_table_shapes, get_shapes, append_shape, confirm_shape, delete_shape, put_reload,
      get_reloads, clear_reload, delete_reloads;
};

namespace {

constexpr const char* kCreateShapes =
    "CREATE TABLE IF NOT EXISTS table_shapes (task TEXT NOT NULL, table_index INTEGER NOT NULL, "
    "seq INTEGER NOT NULL, kind TEXT NOT NULL, pending INTEGER NOT NULL, position TEXT NOT NULL, "
    "definition TEXT NOT NULL, PRIMARY KEY (task, table_index, seq))";

constexpr const char* kCreateReloads =
    "CREATE TABLE IF NOT EXISTS reload_requests (task TEXT NOT NULL, table_index INTEGER NOT "
    "NULL, validate_only INTEGER NOT NULL, requested_at INTEGER NOT NULL, PRIMARY KEY (task, "
    "table_index))";

// Adds the columns a newer schema version has to an older store's tables (their defaults are
// what an older task means: source objects owned by Ferry, no recorded identity).
void UpgradeSchema(Connection& conn) {
  conn.Exec("BEGIN IMMEDIATE");
  try {
    std::set<std::string> have;
    {
      Statement st(conn, "SELECT name FROM pragma_table_info('tasks')");
      while (st.Step()) have.insert(std::string(st.ColumnText(0)));
    }
    for (const auto& f : TaskFields()) {
      if (have.count(f.column)) continue;
      const bool text = std::holds_alternative<std::string TaskRecord::*>(f.member);
      const bool owned = std::string_view(f.column) == "slot_owned" ||
                         std::string_view(f.column) == "publication_owned";
      conn.Exec(fmt::format("ALTER TABLE tasks ADD COLUMN {} {}", f.column,
                            text    ? "TEXT NOT NULL DEFAULT ''"
                            : owned ? "INTEGER NOT NULL DEFAULT 1"
                                    : "INTEGER NOT NULL DEFAULT 0"));
    }
    have.clear();
    {
      Statement st(conn, "SELECT name FROM pragma_table_info('task_tables')");
      while (st.Step()) have.insert(std::string(st.ColumnText(0)));
    }
    for (const auto& f : TableFields()) {
      if (have.count(f.column)) continue;
      const bool text = std::holds_alternative<std::string TableRecord::*>(f.member);
      conn.Exec(fmt::format("ALTER TABLE task_tables ADD COLUMN {} {}", f.column,
                            text ? "TEXT NOT NULL DEFAULT ''" : "INTEGER NOT NULL DEFAULT 0"));
    }
    conn.Exec(kCreateShapes);
    conn.Exec(kCreateReloads);
    conn.Exec(fmt::format("UPDATE ferry_schema SET version = {}", kTaskStoreSchemaVersion));
    conn.Exec("COMMIT");
  } catch (...) {
    sqlite3_exec(conn.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

// Creates the schema in an empty database, or checks the one that is there.
void SetUpSchema(Connection& conn, bool read_only) {
  const std::string file = conn.path();
  auto not_ferry = [&](std::string_view why) {
    return Error(ErrorKind::kInvalidArgument,
                 fmt::format("'{}' is not a Ferry task store ({}); --data-dir must name a "
                             "directory used only by Ferry: choose another one or move this "
                             "file away",
                             file, why));
  };
  auto has_schema_table = [&] {
    return conn.QueryInt("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = "
                         "'ferry_schema'") > 0;
  };
  if (!has_schema_table()) {
    if (read_only) {
      throw not_ferry(conn.QueryInt("SELECT count(*) FROM sqlite_schema") == 0
                          ? "the database is empty"
                          : "it has no ferry_schema table");
    }
    conn.Exec("BEGIN IMMEDIATE");
    try {
      // Checked again under the write lock: another process may have just created it.
      if (!has_schema_table()) {
        if (conn.QueryInt("SELECT count(*) FROM sqlite_schema") > 0) {
          throw not_ferry("it holds other tables and no ferry_schema table");
        }
        conn.Exec(fmt::format(
            "CREATE TABLE ferry_schema (application TEXT NOT NULL, version INTEGER NOT NULL);"
            "INSERT INTO ferry_schema VALUES ('ferry', {});"
            "CREATE TABLE tasks ({}, PRIMARY KEY (name));"
            "CREATE TABLE task_tables (task TEXT NOT NULL, {}, PRIMARY KEY (task, table_index));"
            "{};{};",
            kTaskStoreSchemaVersion, ColumnDefs(TaskFields()), ColumnDefs(TableFields()),
            kCreateShapes, kCreateReloads));
      }
      conn.Exec("COMMIT");
    } catch (...) {
      sqlite3_exec(conn.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
  Statement st(conn, "SELECT application, version FROM ferry_schema");
  if (!st.Step() || st.ColumnText(0) != "ferry") {
    throw not_ferry("its ferry_schema table does not name Ferry");
  }
  const int64_t version = st.ColumnInt(1);
  if (version > kTaskStoreSchemaVersion) {
    throw Error(ErrorKind::kUnsupported,
                fmt::format("task store '{}' has schema version {}, written by a newer Ferry; "
                            "this Ferry reads versions up to {}: run the newer Ferry, or give "
                            "another --data-dir",
                            file, version, kTaskStoreSchemaVersion));
  }
  if (version < 1) throw not_ferry(fmt::format("schema version {} is invalid", version));
  if (version < kTaskStoreSchemaVersion) {
    if (read_only) {
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("task store '{}' has schema version {}: open it writable once "
                              "(any task command with this --data-dir) to upgrade it",
                              file, version));
    }
    UpgradeSchema(conn);
  }
}

}  // namespace

TaskStore::TaskStore(std::filesystem::path path, std::unique_ptr<Impl> impl)
    : path_(std::move(path)), impl_(std::move(impl)) {}

TaskStore::~TaskStore() = default;

std::unique_ptr<TaskStore> TaskStore::Open(const std::filesystem::path& data_dir,
                                           bool read_only) {
  const std::filesystem::path file = data_dir / kStoreFileName;
  std::error_code ec;
  if (read_only) {
    if (!std::filesystem::is_directory(data_dir, ec)) {
      throw Error(ErrorKind::kNotFound,
                  fmt::format("data directory '{}' does not exist, so it has no task store "
                              "'{}'; a task run with --data-dir creates it",
                              data_dir.string(), file.string()));
    }
    if (!std::filesystem::exists(file, ec)) {
      throw Error(ErrorKind::kNotFound,
                  fmt::format("data directory '{}' has no task store '{}'; a task run with "
                              "--data-dir creates it",
                              data_dir.string(), file.string()));
    }
  } else {
    std::filesystem::create_directories(data_dir, ec);
    if (ec) {
      throw Error(ErrorKind::kIo, fmt::format("cannot create data directory '{}': {}",
                                              data_dir.string(), ec.message()));
    }
  }
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>(file.string(), read_only);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kIo) throw;
    throw Error(ErrorKind::kIo,
                fmt::format("{}; --data-dir must name a Ferry data directory", e.what()));
  }
  Connection& conn = impl->conn;
  sqlite3_busy_timeout(conn.get(), kStoreBusyTimeoutMs);
  // The schema first: a database that is not Ferry's is refused before anything changes it.
  SetUpSchema(conn, read_only);
  if (!read_only) {
    // WAL: `ferry status` reads while the task writes. FULL: a committed status survives a
    // power loss too (a few commits a minute, so the fsync costs nothing that matters).
    conn.Exec("PRAGMA journal_mode = WAL");
    conn.Exec("PRAGMA synchronous = FULL");
  }
  impl->Prepare();
  return std::unique_ptr<TaskStore>(new TaskStore(file, std::move(impl)));
}

std::optional<TaskRecord> TaskStore::GetTask(const std::string& name) {
  MutexLock lock(mu_);
  Statement& st = *impl_->get_task;
  st.Reset();
  st.BindText(1, name);
  std::optional<TaskRecord> out;
  if (st.Step()) {
    out.emplace();
    ReadFields(st, 0, TaskFields(), *out);
  }
  st.Reset();
  return out;
}

std::vector<TaskRecord> TaskStore::ListTasks() {
  MutexLock lock(mu_);
  Statement& st = *impl_->list_tasks;
  st.Reset();
  std::vector<TaskRecord> out;
  while (st.Step()) ReadFields(st, 0, TaskFields(), out.emplace_back());
  st.Reset();
  return out;
}

void TaskStore::PutTask(const TaskRecord& task) {
  MutexLock lock(mu_);
  impl_->CheckWritable(fmt::format("write task '{}'", task.name));
  TaskRecord redacted = task;
  redacted.source_endpoint = RedactEndpointUri(task.source_endpoint);
  redacted.target_endpoint = RedactEndpointUri(task.target_endpoint);
  Statement& st = *impl_->put_task;
  st.Reset();
  BindFields(st, 1, TaskFields(), redacted, NowMicros());
  st.Step();
  st.Reset();
}

void TaskStore::DeleteTask(const std::string& name) {
  MutexLock lock(mu_);
  impl_->CheckWritable(fmt::format("delete task '{}'", name));
  Impl::Transaction txn(*impl_);
  for (Statement* st : {impl_->delete_shapes.get(), impl_->delete_tables.get(),
                        impl_->delete_reloads.get(), impl_->delete_task.get()}) {
    st->Reset();
    st->BindText(1, name);
    st->Step();
    st->Reset();
  }
  txn.Commit();
}

std::vector<TableRecord> TaskStore::GetTables(const std::string& task) {
  MutexLock lock(mu_);
  Statement& st = *impl_->get_tables;
  st.Reset();
  st.BindText(1, task);
  std::vector<TableRecord> out;
  while (st.Step()) ReadFields(st, 0, TableFields(), out.emplace_back());
  st.Reset();
  return out;
}

void TaskStore::PutTables(const std::string& task, const std::vector<TableRecord>& tables) {
  MutexLock lock(mu_);
  impl_->CheckWritable(fmt::format("write the tables of task '{}'", task));
  std::set<int> seen;
  for (const TableRecord& t : tables) {
    if (!seen.insert(t.index).second) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("task '{}': two tables have index {} (the second is {}.{})", task,
                              t.index, t.source_schema, t.source_table));
    }
  }
  Impl::Transaction txn(*impl_);
  impl_->RequireTask(task);
  Statement& del = *impl_->delete_tables;
  del.Reset();
  del.BindText(1, task);
  del.Step();
  del.Reset();
  const int64_t now = NowMicros();
  for (const TableRecord& t : tables) impl_->WriteTable(task, t, now);
  txn.Commit();
}

void TaskStore::PutTable(const std::string& task, const TableRecord& table) {
  MutexLock lock(mu_);
  impl_->CheckWritable(fmt::format("write a table of task '{}'", task));
  Impl::Transaction txn(*impl_);
  impl_->RequireTask(task);
  impl_->WriteTable(task, table, NowMicros());
  txn.Commit();
}

std::vector<TableShapeRecord> TaskStore::GetShapes(const std::string& task) {
  MutexLock lock(mu_);
  Statement& st = *impl_->get_shapes;
  st.Reset();
  st.BindText(1, task);
  std::vector<TableShapeRecord> out;
  while (st.Step()) {
    TableShapeRecord& r = out.emplace_back();
    r.table_index = static_cast<int>(st.ColumnInt(0));
    r.seq = st.ColumnInt(1);
    r.kind = std::string(st.ColumnText(2));
    r.pending = st.ColumnInt(3) != 0;
    r.position = std::string(st.ColumnText(4));
    r.definition = std::string(st.ColumnText(5));
  }
  st.Reset();
  return out;
}

void TaskStore::ResetShape(const std::string& task, int table_index, const std::string& position,
                           const std::string& definition) {
  MutexLock lock(mu_);
  impl_->CheckWritable(fmt::format("write the table shapes of task '{}'", task));
  Impl::Transaction txn(*impl_);
  Statement& del = *impl_->delete_table_shapes;
  del.Reset();
  del.BindText(1, task);
  del.BindInt(2, table_index);
  del.Step();
  del.Reset();
  Statement& st = *impl_->append_shape;
  st.Reset();
  st.BindText(1, task);
  st.BindInt(2, table_index);
  st.BindText(3, "initial");
  st.BindInt(4, 0);
  st.BindText(5, position);
  st.BindText(6, definition);
  st.Step();
  st.Reset();
  txn.Commit();
}

int64_t TaskStore::AppendShape(const std::string& task, const TableShapeRecord& shape) {
  MutexLock lock(mu_);
  impl_->CheckWritable(fmt::format("write the table shapes of task '{}'", task));
  Statement& st = *impl_->append_shape;
  st.Reset();
  st.BindText(1, task);
  st.BindInt(2, shape.table_index);
  st.BindText(3, shape.kind);
  st.BindInt(4, shape.pending ? 1 : 0);
  st.BindText(5, shape.position);
  st.BindText(6, shape.definition);
  int64_t seq = -1;
  if (st.Step()) seq = st.ColumnInt(0);
  while (st.Step()) {
  }
  st.Reset();
  return seq;
}

void TaskStore::ConfirmShape(const std::string& task, int table_index, int64_t seq) {
  MutexLock lock(mu_);
  impl_->RunOnShape(*impl_->confirm_shape, task, table_index, seq);
}

void TaskStore::DeleteShape(const std::string& task, int table_index, int64_t seq) {
  MutexLock lock(mu_);
  impl_->RunOnShape(*impl_->delete_shape, task, table_index, seq);
}

void TaskStore::RequestReload(const std::string& task, const std::vector<int>& tables,
                              bool validate_only) {
  MutexLock lock(mu_);
  impl_->CheckWritable(fmt::format("ask task '{}' to reload tables", task));
  Impl::Transaction txn(*impl_);
  impl_->RequireTask(task);
  // Distinct stamps, so that a request made while an earlier one of the table is being acted
  // on is never cleared with it.
  const int64_t now = std::max(NowMicros(), impl_->last_request_us + 1);
  impl_->last_request_us = now;
  Statement& st = *impl_->put_reload;
  for (int table : tables) {
    st.Reset();
    st.BindText(1, task);
    st.BindInt(2, table);
    st.BindInt(3, validate_only ? 1 : 0);
    st.BindInt(4, now);
    st.Step();
    st.Reset();
  }
  txn.Commit();
}

std::vector<ReloadRequest> TaskStore::GetReloadRequests(const std::string& task) {
  MutexLock lock(mu_);
  Statement& st = *impl_->get_reloads;
  st.Reset();
  st.BindText(1, task);
  std::vector<ReloadRequest> out;
  while (st.Step()) {
    ReloadRequest& r = out.emplace_back();
    r.table_index = static_cast<int>(st.ColumnInt(0));
    r.validate_only = st.ColumnInt(1) != 0;
    r.requested_at_us = st.ColumnInt(2);
  }
  st.Reset();
  return out;
}

void TaskStore::ClearReloadRequest(const std::string& task, const ReloadRequest& request) {
  MutexLock lock(mu_);
  impl_->CheckWritable(fmt::format("clear a reload request of task '{}'", task));
  Statement& st = *impl_->clear_reload;
  st.Reset();
  st.BindText(1, task);
  st.BindInt(2, request.table_index);
  st.BindInt(3, request.requested_at_us);
  st.Step();
  st.Reset();
}

void TaskStore::SaveProgress(const TaskRecord& task, const std::vector<TableRecord>& tables) {
  MutexLock lock(mu_);
  impl_->CheckWritable(fmt::format("save the progress of task '{}'", task.name));
  const int64_t now = NowMicros();
  Impl::Transaction txn(*impl_);
  Statement& st = *impl_->save_task;
  st.Reset();
  st.BindText(1, task.name);
  BindFields(st, 2, TaskLiveFields(), task, now);
  st.Step();
  st.Reset();
  if (sqlite3_changes(impl_->conn.get()) == 0) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("task '{}' does not exist in task store '{}'", task.name,
                            path_.string()));
  }
  for (const TableRecord& t : tables) impl_->WriteTable(task.name, t, now);
  txn.Commit();
}

}  // namespace ferry
