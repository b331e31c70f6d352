#include "connectors/sqlite/sqlite_capture.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "change/change.h"
#include "connectors/sqlite/sqlite_catalog.h"
#include "connectors/sqlite/sqlite_position.h"
#include "logging/log.h"
#include "sqlite_api/sqlite_connection.h"

namespace ferry::sqlite {

namespace {

spdlog::logger& Log() { return logging::For(LogComponentId::kSourceCapture); }

// How long Prepare and a table's snapshot wait for the file's write lock.
constexpr int kLockWaitSeconds = 60;
// At most this many changes are deleted by one Confirm, so its write transaction stays short
// and the application's writers wait little.
constexpr int64_t kConfirmChunk = 20000;
// Confirm deletes at most this often.
constexpr auto kConfirmInterval = std::chrono::seconds(1);
// How often Poll looks for new commits while it waits (PRAGMA data_version is cheap).
constexpr auto kPollStep = std::chrono::milliseconds(20);

bool TableExists(Connection& conn, const std::string& name) {
  Statement st(conn, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  st.BindText(1, name);
  return st.Step();
}

std::vector<std::string> TriggersWithPrefix(Connection& conn, const std::string& prefix) {
  Statement st(conn, "SELECT name FROM sqlite_master WHERE type = 'trigger'");
  std::vector<std::string> out;
  while (st.Step()) {
    std::string name(st.ColumnText(0));
    if (name.compare(0, prefix.size(), prefix) == 0) out.push_back(std::move(name));
  }
  return out;
}

bool TriggerExists(Connection& conn, const std::string& name) {
  Statement st(conn, "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?1");
  st.BindText(1, name);
  return st.Step();
}

int64_t CurrentSeq(Connection& conn, const CaptureTables& names) {
  Statement st(conn, "SELECT seq FROM sqlite_sequence WHERE name = ?1");
  st.BindText(1, names.changes);
  return st.Step() && !st.ColumnIsNull(0) ? st.ColumnInt(0) : 0;
}

// The owner recorded in B_meta, if the table is there and holds one.
std::optional<cdc::CaptureOwner> ReadOwner(Connection& conn, const CaptureTables& names) {
  if (!TableExists(conn, names.meta)) return std::nullopt;
  Statement st(conn, "SELECT owner FROM " + DoubleQuoteIdent(names.meta));
  if (!st.Step() || st.ColumnIsNull(0)) return std::nullopt;
  return cdc::CaptureOwner::Parse(st.ColumnText(0));
}

// Whether two definitions of one table record the same columns and key (what the triggers
// name and how values are read).
bool SameShape(const TableDef& a, const TableDef& b) {
  if (a.columns.size() != b.columns.size() || a.primary_key != b.primary_key) return false;
  for (size_t i = 0; i < a.columns.size(); ++i) {
    if (a.columns[i].name != b.columns[i].name ||
        a.columns[i].native_type != b.columns[i].native_type ||
        !(a.columns[i].type == b.columns[i].type)) {
      return false;
    }
  }
  return true;
}

// `now` (from the catalog) with the DMS type of each column `before` captured as stored
// (DmsKind::kEngineValue, a SQLite -> SQLite copy) kept, where its declared type is the same.
TableDef KeepStoredValues(TableDef now, const TableDef& before) {
  for (ColumnDef& col : now.columns) {
    const int b = before.ColumnIndex(col.name);
    if (b >= 0 && before.columns[b].type.kind == DmsKind::kEngineValue &&
        before.columns[b].native_type == col.native_type) {
      col.type = before.columns[b].type;
    }
  }
  return now;
}

// The positions of the tables' snapshots (TableSnapshot) of each capture (by file and change
// table), for every capture object of it in this process (a reload exports with one of its
// own). Each is a point between two transactions (taken under the write lock), and Poll never
// delivers a transaction across one: the engine tells a table's cached changes from those its
// snapshot holds by the end of the transaction, so a transaction holding both would apply the
// latter twice.
class SnapshotCuts {
 public:
  static void Add(const std::string& key, int64_t seq) {
    std::lock_guard lock(mu());
    cuts()[key].insert(seq);
  }
  // The cuts of `key` after `seq`, in order; forgets those at or before it.
  static std::vector<int64_t> After(const std::string& key, int64_t seq) {
    std::lock_guard lock(mu());
    auto it = cuts().find(key);
    if (it == cuts().end()) return {};
    std::set<int64_t>& set = it->second;
    set.erase(set.begin(), set.upper_bound(seq));
    return {set.begin(), set.end()};
  }

 private:
  static std::mutex& mu() {
    static std::mutex m;
    return m;
  }
  static std::map<std::string, std::set<int64_t>>& cuts() {
    static std::map<std::string, std::set<int64_t>> c;
    return c;
  }
};

std::string CutsKey(const std::string& path, const CaptureTables& names) {
  return path + '\n' + names.changes;
}

// The transaction of a table's snapshot: every reader of the table joins while this holds
// the file's write lock, so they all see one committed state, the one at position().
class TableSnapshot final : public SourceSnapshot {
 public:
  TableSnapshot(const std::string& path, const CaptureTables& names, std::string id)
      : conn_(path, Connection::Mode::kReadWrite), id_(std::move(id)) {
    conn_.BeginImmediate(kLockWaitSeconds);
    open_ = true;
    seq_ = CurrentSeq(conn_, names);
    SnapshotCuts::Add(CutsKey(path, names), seq_);  // before any later commit can be read
  }
  ~TableSnapshot() override { Release(); }
  const std::string& id() const override { return id_; }
  void ReadersJoined() override { Release(); }
  cdc::Position position() const override { return SeqPosition(seq_); }

 private:
  void Release() {
    if (open_) sqlite3_exec(conn_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    open_ = false;
  }
  Connection conn_;
  std::string id_;
  bool open_ = false;
  int64_t seq_ = 0;
};

// The task's snapshot: SQLite cannot share one read across connections, so it hands each table
// one of its own (ForTable).
class TaskSnapshot final : public SourceSnapshot {
 public:
  TaskSnapshot(std::string path, const CaptureTables& names)
      : path_(std::move(path)), names_(names), id_("sqlite:" + names.changes) {}
  const std::string& id() const override { return id_; }
  std::unique_ptr<SourceSnapshot> ForTable(const TableDef& table) override {
    static std::atomic<uint64_t> counter{0};
    return std::make_unique<TableSnapshot>(path_, names_,
                                           fmt::format("{}:{}:{}", id_, table.name, ++counter));
  }

 private:
  std::string path_;
  CaptureTables names_;
  std::string id_;
};

class SqliteCapture final : public cdc::ChangeCapture {
 public:
  SqliteCapture(std::string path, DatetimeNumbers numbers, cdc::CaptureOptions options)
      : path_(std::move(path)),
        numbers_(numbers),
        options_(std::move(options)),
        names_(options_.slot) {
    for (size_t i = 0; i < options_.tables.size(); ++i) {
      tables_.push_back(MakeTable(options_.tables[i]));
      by_name_[options_.tables[i].name] = static_cast<uint32_t>(i);
    }
  }

  void CheckPrerequisites() override {
    std::vector<std::string> problems;
    struct stat st;
    if (stat(path_.c_str(), &st) != 0) {
      throw Error(ErrorKind::kNotFound,
                  fmt::format("SQLite source file '{}' does not exist", path_));
    }
    if (::access(path_.c_str(), W_OK) != 0) {
      problems.push_back(fmt::format(
          "the file is read-only for Ferry: change data capture creates a change table and "
          "triggers in it (make '{}' and its directory writable)",
          path_));
    }
    if (problems.empty()) {
      Connection& c = conn();
      for (const TableDef& t : options_.tables) {
        Statement q(c, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1");
        q.BindText(1, t.name);
        if (!q.Step()) {
          problems.push_back(fmt::format("table {} does not exist", t.name));
        } else if (AsciiUpper(std::string(q.ColumnText(0).substr(0, 14))) == "CREATE VIRTUAL") {
          problems.push_back(fmt::format(
              "table {} is a virtual table, which has no triggers to record its changes", t.name));
        }
      }
      Statement jm(c, "PRAGMA journal_mode");
      if (jm.Step() && AsciiUpper(std::string(jm.ColumnText(0))) != "WAL") {
        Log().warn(
            "SQLite source '{}' is in journal_mode={}: the full load's long reads block "
            "the application's commits until they end; journal_mode=WAL lets both run",
            path_, jm.ColumnText(0));
      }
    }
    if (!problems.empty()) {
      std::string text =
          fmt::format("change data capture from SQLite file '{}' cannot start:", path_);
      for (const std::string& p : problems) text += "\n- " + p;
      throw Error(ErrorKind::kInvalidArgument, text);
    }
  }

  bool SlotExists() override { return TableExists(conn(), names_.changes); }

  cdc::PrepareResult Prepare() override {
    Connection& c = conn();
    cdc::PrepareResult result;
    c.BeginImmediate(kLockWaitSeconds);
    try {
      const bool exists = TableExists(c, names_.changes);
      if (options_.new_slot) {
        if (exists || TableExists(c, names_.meta)) {
          const std::optional<cdc::CaptureOwner> owner = ReadOwner(c, names_);
          throw Error(ErrorKind::kInvalidArgument,
                      fmt::format("SQLite source '{}' already has a change table {} ({}); Ferry "
                                  "never takes over another task's change table: delete that "
                                  "task (ferry delete-task) or choose another slot name",
                                  path_, names_.changes,
                                  owner ? owner->Describe() : std::string("no owner recorded")));
        }
        c.Exec(fmt::format(
            "CREATE TABLE {meta}(owner TEXT, confirmed INTEGER NOT NULL);"
            "CREATE TABLE {changes}(seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, "
            "op TEXT NOT NULL, at_us INTEGER NOT NULL);"
            "CREATE TABLE {values}(seq INTEGER NOT NULL, img INTEGER NOT NULL, "
            "col INTEGER NOT NULL, val, PRIMARY KEY (seq, img, col)) WITHOUT ROWID",
            fmt::arg("meta", DoubleQuoteIdent(names_.meta)),
            fmt::arg("changes", DoubleQuoteIdent(names_.changes)),
            fmt::arg("values", DoubleQuoteIdent(names_.values))));
        Statement ins(c, "INSERT INTO " + DoubleQuoteIdent(names_.meta) +
                             "(owner, confirmed) VALUES (?1, 0)");
        ins.BindText(1, options_.owner);
        ins.Step();
        result.slot_created = true;
      } else if (!exists) {
        throw Error(ErrorKind::kNotFound,
                    fmt::format("SQLite source '{}' has no change table {} (task '{}'): it was "
                                "dropped, so the changes since the task's checkpoint are lost",
                                path_, names_.changes, options_.task));
      }
      // The triggers name the columns the tables have now; a table whose columns differ from
      // the captured ones is reported by the first Poll.
      for (const TableDef& t : options_.tables) {
        if (!TableExists(c, t.name)) continue;
        const TableDef now = Catalog().GetTable("main", t.name);
        RecreateTriggers(c, now);
      }
      const int64_t seq = CurrentSeq(c, names_);
      confirmed_ = ReadConfirmed(c);
      result.start = options_.new_slot ? SeqPosition(seq) : SeqPosition(confirmed_);
      server_seq_ = seq;
      c.Exec("COMMIT");
    } catch (...) {
      sqlite3_exec(c.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    if (options_.export_snapshot && result.slot_created) {
      result.snapshot = std::make_shared<TaskSnapshot>(path_, names_);
    }
    return result;
  }

  cdc::PrepareResult ExportSnapshot() override {
    cdc::PrepareResult result;
    result.start = SeqPosition(CurrentSeq(conn(), names_));
    result.snapshot = std::make_shared<TaskSnapshot>(path_, names_);
    return result;
  }

  void Start(const cdc::Position& from) override {
    delivered_ = PositionSeq(from);
    known_schema_ = -1;  // the first Poll compares every table with the source's
    data_version_ = -1;
  }

  void Poll(cdc::CaptureSink& sink, std::chrono::milliseconds wait) override {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    Connection& c = conn();
    TryConfirm();
    for (;;) {
      const int64_t version = c.QueryInt("PRAGMA data_version");
      if (version != data_version_) {
        data_version_ = version;
        if (ReadOnce(c, sink)) return;
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(kPollStep);
    }
    sink.OnIdle(SeqPosition(std::max(delivered_, server_seq_)));
  }

  void Confirm(const cdc::Position& applied) override {
    want_confirmed_ = std::max(want_confirmed_, PositionSeq(applied));
    TryConfirm();
  }

  cdc::Position ServerPosition() const override { return SeqPosition(server_seq_); }

  cdc::DropResult DropObjects() override {
    cdc::DropResult result;
    struct stat st;
    if (stat(path_.c_str(), &st) != 0) return result;
    Connection& c = conn();
    c.BeginImmediate(kLockWaitSeconds);
    try {
      result.slot_found = TableExists(c, names_.changes) || TableExists(c, names_.meta);
      const std::vector<std::string> triggers = TriggersWithPrefix(c, names_.base + "_");
      std::vector<std::string> ours;
      for (const std::string& t : triggers) {
        for (const char* kind : {"_ins_", "_upd_", "_del_"}) {
          if (t.compare(names_.base.size(), 5, kind) == 0) ours.push_back(t);
        }
      }
      result.publication_found = !ours.empty();
      const std::optional<cdc::CaptureOwner> owner = ReadOwner(c, names_);
      const bool someone_else = owner && !options_.task_id.empty() && !owner->task_id.empty() &&
                                owner->task_id != options_.task_id;
      if (options_.owns_slot && !someone_else) {
        // Triggers first: a trigger whose change table is gone would fail the application's
        // writes.
        for (const std::string& t : ours) c.Exec("DROP TRIGGER IF EXISTS " + DoubleQuoteIdent(t));
        result.publication_dropped = !ours.empty();
        for (const std::string* table : {&names_.values, &names_.changes, &names_.meta}) {
          c.Exec("DROP TABLE IF EXISTS " + DoubleQuoteIdent(*table));
        }
        result.slot_dropped = result.slot_found;
      } else if (someone_else) {
        Log().warn("SQLite source '{}': change table {} belongs to {}; not dropped", path_,
                   names_.changes, owner->Describe());
      }
      c.Exec("COMMIT");
    } catch (...) {
      sqlite3_exec(c.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    return result;
  }

  std::vector<cdc::CaptureObject> ListObjects() override {
    std::vector<cdc::CaptureObject> out;
    struct stat st;
    if (stat(path_.c_str(), &st) != 0) return out;
    Connection& c = conn();
    std::vector<std::string> tables;
    {
      Statement q(c, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
      while (q.Step()) tables.emplace_back(q.ColumnText(0));
    }
    const std::string suffix = "_meta";
    for (const std::string& t : tables) {
      if (t.size() <= suffix.size() ||
          t.compare(t.size() - suffix.size(), suffix.size(), suffix) != 0 ||
          !IsCaptureTable(t, tables)) {
        continue;
      }
      CaptureTables names(t.substr(0, t.size() - suffix.size()));
      cdc::CaptureObject o;
      o.kind = "slot";
      o.name = names.base;
      o.owner = ReadOwner(c, names);
      Statement q(c, "SELECT confirmed FROM " + DoubleQuoteIdent(names.meta));
      o.confirmed = SeqCodec().Format(SeqPosition(q.Step() ? q.ColumnInt(0) : 0));
      out.push_back(std::move(o));
    }
    return out;
  }

 private:
  struct Table {
    TableDef def;
    std::vector<ReadPlan> plans;
    std::vector<Storage> storage;
    std::vector<bool> key;  // by column: in the primary key
    bool dropped = false;
  };

  Table MakeTable(const TableDef& def) const {
    Table t;
    t.def = def;
    std::vector<DmsType> types;
    for (const ColumnDef& col : def.columns) {
      t.plans.push_back(PlanRead(col, numbers_));
      types.push_back(col.type);
      t.key.push_back(std::find(def.primary_key.begin(), def.primary_key.end(), col.name) !=
                      def.primary_key.end());
    }
    t.storage = cdc::StorageOfColumns(types);
    return t;
  }

  Connection& conn() {
    if (!conn_) conn_ = std::make_unique<Connection>(path_, Connection::Mode::kReadWrite);
    return *conn_;
  }

  SqliteCatalogReader& Catalog() {
    if (!catalog_) catalog_ = std::make_unique<SqliteCatalogReader>(path_);
    return *catalog_;
  }

  int64_t ReadConfirmed(Connection& c) {
    return c.QueryInt("SELECT confirmed FROM " + DoubleQuoteIdent(names_.meta), 0);
  }

  // Deletes the changes up to want_confirmed_ that the target has committed: at most
  // kConfirmChunk of them, at most every kConfirmInterval (Poll calls again for the rest).
  void TryConfirm() {
    const int64_t seq = want_confirmed_;
    const auto now = std::chrono::steady_clock::now();
    if (seq <= confirmed_ || now - last_confirm_ < kConfirmInterval) return;
    last_confirm_ = now;
    Connection& c = conn();
    // A short wait: the application's writers come first, the next call tries again.
    sqlite3_busy_timeout(c.get(), 200);
    const int rc = c.ExecBusyAware("BEGIN IMMEDIATE");
    sqlite3_busy_timeout(c.get(), kBusyTimeoutMs);
    if (rc != SQLITE_OK) return;
    try {
      const int64_t first =
          c.QueryInt("SELECT min(seq) FROM " + DoubleQuoteIdent(names_.changes), seq);
      const int64_t upto = std::min(seq, first + kConfirmChunk - 1);
      for (const std::string* table : {&names_.values, &names_.changes}) {
        Statement del(c, "DELETE FROM " + DoubleQuoteIdent(*table) + " WHERE seq <= ?1");
        del.BindInt(1, upto);
        del.Step();
      }
      Statement up(c, "UPDATE " + DoubleQuoteIdent(names_.meta) + " SET confirmed = ?1");
      up.BindInt(1, upto);
      up.Step();
      c.Exec("COMMIT");
      confirmed_ = upto;
      if (upto < seq) last_confirm_ = {};  // more to delete: at the next call
    } catch (...) {
      sqlite3_exec(c.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  void RecreateTriggers(Connection& c, const TableDef& table) {
    for (const std::string& t : {names_.InsertTrigger(table.name), names_.UpdateTrigger(table.name),
                                 names_.DeleteTrigger(table.name)}) {
      c.Exec("DROP TRIGGER IF EXISTS " + DoubleQuoteIdent(t));
    }
    c.Exec(TriggerSql(names_, table));
  }

  // Compares every captured table with the source (after a schema change): recreates the
  // triggers of a table whose columns changed (or whose triggers are gone) and reports the
  // change; marks a table that is gone. Returns the tables found dropped.
  std::vector<uint32_t> FollowSchema(Connection& c, cdc::CaptureSink& sink) {
    std::vector<uint32_t> dropped;
    std::vector<std::pair<uint32_t, TableDef>> changed;
    c.BeginImmediate(kLockWaitSeconds);
    try {
      for (uint32_t i = 0; i < tables_.size(); ++i) {
        Table& t = tables_[i];
        if (t.dropped) continue;
        if (!TableExists(c, t.def.name)) {
          dropped.push_back(i);
          continue;
        }
        const TableDef now = KeepStoredValues(Catalog().GetTable("main", t.def.name), t.def);
        const bool same = SameShape(now, t.def);
        const bool have_triggers = TriggerExists(c, names_.InsertTrigger(t.def.name)) &&
                                   TriggerExists(c, names_.UpdateTrigger(t.def.name)) &&
                                   TriggerExists(c, names_.DeleteTrigger(t.def.name));
        if (same && have_triggers) continue;
        if (!have_triggers) {
          Log().warn(
              "SQLite source '{}': the capture triggers of table {} were gone (the "
              "table was rebuilt?); changes made since are not captured",
              path_, t.def.name);
        }
        RecreateTriggers(c, now);
        if (!same) {
          changed.emplace_back(i, now);
          ++changed_count_;
        }
      }
      known_schema_ = c.QueryInt("PRAGMA schema_version");
      c.Exec("COMMIT");
    } catch (...) {
      sqlite3_exec(c.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    for (auto& [i, def] : changed) {
      Log().info(
          "SQLite source '{}': table {} changed its columns; its triggers were "
          "recreated",
          path_, def.name);
      tables_[i] = MakeTable(def);
      // The ALTER is somewhere after the last change delivered: no exact position, so the
      // target follows it in any case.
      sink.OnTableChanged(i, def, cdc::Position());
    }
    return dropped;
  }

  // One read of the change table: delivers the changes after delivered_ as one transaction
  // (or several, cut where a table's snapshot stands: SnapshotCuts).
  // Returns whether anything was delivered (a transaction or a table change).
  bool ReadOnce(Connection& c, cdc::CaptureSink& sink) {
    std::vector<uint32_t> dropped;
    bool delivered = false;
    const int64_t version = c.QueryInt("PRAGMA schema_version");
    if (version != known_schema_) {
      const size_t changed_before = changed_count_;
      dropped = FollowSchema(c, sink);
      delivered = changed_count_ != changed_before;
    }
    c.Exec("BEGIN DEFERRED");
    try {
      server_seq_ = CurrentSeq(c, names_);
      if (server_seq_ > delivered_) delivered = ReadChanges(c, sink) || delivered;
      c.Exec("COMMIT");
    } catch (...) {
      sqlite3_exec(c.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    for (uint32_t i : dropped) {
      tables_[i].dropped = true;
      Log().info("SQLite source '{}': table {} was dropped", path_, tables_[i].def.name);
      sink.OnTableDropped(i);
      delivered = true;
    }
    return delivered;
  }

  bool ReadChanges(Connection& c, cdc::CaptureSink& sink) {
    if (!changes_stmt_) {
      changes_stmt_ = std::make_unique<Statement>(
          c, fmt::format("SELECT c.seq, c.tbl, c.op, c.at_us, v.img, v.col, v.val FROM {} c "
                         "LEFT JOIN {} v ON v.seq = c.seq WHERE c.seq > ?1 "
                         "ORDER BY c.seq, v.img, v.col",
                         DoubleQuoteIdent(names_.changes), DoubleQuoteIdent(names_.values)));
    }
    Statement& st = *changes_stmt_;
    st.Reset();
    st.BindInt(1, delivered_);
    sqlite3_stmt* s = st.get();
    bool have = st.Step();
    if (!have) {
      st.Reset();
      return false;
    }
    // Read after this read began: every snapshot whose cut this read can pass is in.
    const std::vector<int64_t> cuts = SnapshotCuts::After(CutsKey(path_, names_), delivered_);
    size_t next_cut = 0;
    uint32_t xid = static_cast<uint32_t>(sqlite3_column_int64(s, 0));
    sink.OnBegin(xid);
    int64_t last_seq = delivered_;
    int64_t last_at = 0;
    std::string record;
    auto commit = [&] {
      cdc::TransactionInfo info;
      info.xid = xid;
      info.commit_position = SeqPosition(last_seq);
      info.end_position = info.commit_position;
      info.commit_time_us = last_at;
      sink.OnCommit(info);
      delivered_ = last_seq;
    };
    while (have) {
      const int64_t seq = sqlite3_column_int64(s, 0);
      bool cut = false;
      while (next_cut < cuts.size() && cuts[next_cut] < seq) {
        cut = cut || cuts[next_cut] >= last_seq;
        ++next_cut;
      }
      if (cut && last_seq > delivered_) {
        // A table's snapshot stands between the last change and this one.
        commit();
        xid = static_cast<uint32_t>(seq);
        sink.OnBegin(xid);
      }
      const std::string tbl(st.ColumnText(1));
      const std::string op(st.ColumnText(2));
      last_at = sqlite3_column_int64(s, 3);
      last_seq = seq;
      auto it = by_name_.find(tbl);
      if (it == by_name_.end() || tables_[it->second].dropped) {
        // A table this task no longer captures (a trigger left from an earlier run).
        while ((have = st.Step()) && sqlite3_column_int64(s, 0) == seq) {
        }
        continue;
      }
      const uint32_t index = it->second;
      const Table& t = tables_[index];
      const int ncols = static_cast<int>(t.def.columns.size());
      Batch batch(ncols);
      cdc::ChangeView view;
      view.table = index;
      view.rows = &batch;
      // Fills one image (img) from the statement's rows of this change, column by column:
      // a column the trigger did not record is NULL in a key-only old image, else unchanged
      // (a column added after the trigger was made).
      auto read_image = [&](int img, bool key_only) {
        for (int col = 0; col < ncols; ++col) {
          const bool here = have && sqlite3_column_int64(s, 0) == seq &&
                            sqlite3_column_type(s, 4) != SQLITE_NULL &&
                            sqlite3_column_int(s, 4) == img && sqlite3_column_int(s, 5) == col;
          if (!here) {
            if (key_only && !t.key[col]) {
              batch.AppendNull();
            } else {
              batch.AppendUnchanged();
            }
            continue;
          }
          const int storage = sqlite3_column_type(s, 6);
          if (storage == SQLITE_NULL) {
            batch.AppendNull();
          } else if (const char* why = ReadValue(s, 6, storage, t.plans[col], batch)) {
            const ColumnDef& cd = t.def.columns[col];
            throw Error(ErrorKind::kData,
                        fmt::format("SQLite source '{}', table {}, column \"{}\" ({}), change {} "
                                    "in {}: {} {}",
                                    path_, t.def.name, cd.name, DescribeDmsType(cd.type), seq,
                                    names_.changes, DescribeStoredValue(s, 6, storage), why));
          }
          have = st.Step();
        }
        // Values of columns this definition does not have (should not happen): skipped.
        while (have && sqlite3_column_int64(s, 0) == seq &&
               sqlite3_column_type(s, 4) != SQLITE_NULL && sqlite3_column_int(s, 4) == img) {
          have = st.Step();
        }
      };
      const bool key_only = !t.def.primary_key.empty();
      if (op == "I") {
        view.op = cdc::ChangeOp::kInsert;
        read_image(1, false);
        view.new_row = 0;
      } else if (op == "U") {
        view.op = cdc::ChangeOp::kUpdate;
        view.old_kind = key_only ? cdc::OldImage::kKey : cdc::OldImage::kFull;
        read_image(0, key_only);
        read_image(1, false);
        view.old_row = 0;
        view.new_row = 1;
      } else if (op == "D") {
        view.op = cdc::ChangeOp::kDelete;
        view.old_kind = key_only ? cdc::OldImage::kKey : cdc::OldImage::kFull;
        read_image(0, key_only);
        view.old_row = 0;
      } else {
        throw Error(ErrorKind::kData,
                    fmt::format("SQLite source '{}': change {} in {} has operation '{}'", path_,
                                seq, names_.changes, op));
      }
      // Rows left of this change (none normally).
      while (have && sqlite3_column_int64(s, 0) == seq) have = st.Step();
      record.clear();
      cdc::EncodeChange(view, t.storage, &record);
      sink.OnChange(xid, record);
    }
    st.Reset();
    commit();
    return true;
  }

  std::string path_;
  DatetimeNumbers numbers_;
  cdc::CaptureOptions options_;
  CaptureTables names_;
  std::vector<Table> tables_;
  std::map<std::string, uint32_t> by_name_;
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<SqliteCatalogReader> catalog_;
  std::unique_ptr<Statement> changes_stmt_;  // prepared on conn_
  int64_t delivered_ = 0;                    // the last seq delivered
  int64_t confirmed_ = 0;                    // the last seq deleted (B_meta.confirmed)
  int64_t want_confirmed_ = 0;               // the last seq the target committed (Confirm)
  int64_t server_seq_ = 0;                   // the change table's last seq when last read
  int64_t known_schema_ = -1;
  int64_t data_version_ = -1;
  size_t changed_count_ = 0;
  std::chrono::steady_clock::time_point last_confirm_{};
};

}  // namespace

CaptureTables::CaptureTables(const std::string& b)
    : base(b), changes(b + "_changes"), values(b + "_values"), meta(b + "_meta") {}

bool IsCaptureTable(const std::string& name, const std::vector<std::string>& tables) {
  for (const char* suffix : {"_changes", "_values", "_meta"}) {
    const std::string s = suffix;
    if (name.size() <= s.size() || name.compare(name.size() - s.size(), s.size(), s) != 0) {
      continue;
    }
    const CaptureTables names(name.substr(0, name.size() - s.size()));
    auto has = [&](const std::string& t) {
      return std::find(tables.begin(), tables.end(), t) != tables.end();
    };
    if (has(names.changes) && has(names.values) && has(names.meta)) return true;
  }
  return false;
}

std::string TriggerSql(const CaptureTables& names, const TableDef& table) {
  const std::string tbl = QuoteLiteral(table.name);
  const std::string on = "main." + DoubleQuoteIdent(table.name);
  const std::string changes = DoubleQuoteIdent(names.changes);
  const std::string values = DoubleQuoteIdent(names.values);
  const bool key_only = !table.primary_key.empty();
  // The change row, then its values: the change row's seq is last_insert_rowid() while the
  // trigger runs (B_values is WITHOUT ROWID, so its inserts leave it alone).
  auto change_row = [&](const char* op) {
    return fmt::format(
        "INSERT INTO {}(tbl, op, at_us) VALUES ({}, '{}', "
        "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER));",
        changes, tbl, op);
  };
  auto image = [&](int img, const char* ref, bool keys, std::string* rows) {
    for (size_t c = 0; c < table.columns.size(); ++c) {
      const std::string& col = table.columns[c].name;
      if (keys && std::find(table.primary_key.begin(), table.primary_key.end(), col) ==
                      table.primary_key.end()) {
        continue;
      }
      if (!rows->empty()) *rows += ", ";
      *rows +=
          fmt::format("(last_insert_rowid(), {}, {}, {}.{})", img, c, ref, DoubleQuoteIdent(col));
    }
  };
  auto trigger = [&](const std::string& name, const char* event, const char* op, bool old_img,
                     bool new_img) {
    std::string rows;
    if (old_img) image(0, "OLD", key_only, &rows);
    if (new_img) image(1, "NEW", false, &rows);
    return fmt::format(
        "CREATE TRIGGER {} AFTER {} ON {} BEGIN {} INSERT INTO {}(seq, img, col, "
        "val) VALUES {}; END",
        DoubleQuoteIdent(name), event, on, change_row(op), values, rows);
  };
  return trigger(names.InsertTrigger(table.name), "INSERT", "I", false, true) + ";\n" +
         trigger(names.UpdateTrigger(table.name), "UPDATE", "U", true, true) + ";\n" +
         trigger(names.DeleteTrigger(table.name), "DELETE", "D", true, false);
}

std::unique_ptr<cdc::ChangeCapture> OpenSqliteCapture(const std::string& path,
                                                      DatetimeNumbers numbers,
                                                      const cdc::CaptureOptions& options) {
  return std::make_unique<SqliteCapture>(path, numbers, options);
}

}  // namespace ferry::sqlite
