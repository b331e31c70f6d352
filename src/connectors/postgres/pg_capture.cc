#include "connectors/postgres/pg_capture.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "catalog/table_def_json.h"
#include "common/host.h"
#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_types.h"
#include "logging/log.h"

namespace ferry::postgres {

namespace {

constexpr auto kStatusInterval = std::chrono::seconds(10);
constexpr auto kWalCheckInterval = std::chrono::seconds(60);
// How often the selected tables are looked for (at most; the heartbeat, when shorter, wins).
constexpr auto kDropCheckInterval = std::chrono::seconds(10);

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool Contains(const std::string& s, const char* needle) {
  return s.find(needle) != std::string::npos;
}

bool PlainIdent(const std::string& s) {
  if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string SqlLiteral(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  return out + "'";
}

int64_t NowPgMicros() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(now).count() - kPgEpochMicros;
}

bool SameColumns(const TableDef& a, const TableDef& b) {
  if (a.columns.size() != b.columns.size()) return false;
  for (size_t i = 0; i < a.columns.size(); ++i) {
    const ColumnDef& x = a.columns[i];
    const ColumnDef& y = b.columns[i];
    if (x.name != y.name || x.native_type != y.native_type || x.native_id != y.native_id ||
        !(x.type == y.type) || x.nullable != y.nullable) {
      return false;
    }
  }
  return true;
}

// The (schema, table) pairs publication `name` holds: the tables named in it (named_only), or
// those plus what it publishes through them (partitions of a named parent, FOR ALL TABLES).
std::set<std::pair<std::string, std::string>> PublicationTables(PgConnection& c,
                                                                const std::string& name,
                                                                bool named_only,
                                                                const std::string& what) {
  const std::string named =
      "SELECT n.nspname, c.relname FROM pg_publication_rel pr "
      "JOIN pg_publication pb ON pb.oid = pr.prpubid JOIN pg_class c ON c.oid = pr.prrelid "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE pb.pubname = $1";
  PgResult tabs = c.ExecParams(
      named_only ? named
                 : "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1 "
                   "UNION " + named,
      {name}, what);
  std::set<std::pair<std::string, std::string>> out;
  for (int i = 0; i < PQntuples(tabs.get()); ++i) {
    out.insert({*GetText(tabs.get(), i, 0), *GetText(tabs.get(), i, 1)});
  }
  return out;
}

}  // namespace

// --- the replication connection ---

class PgChangeCapture::Replication {
 public:
  static std::unique_ptr<Replication> Connect(const EndpointUri& uri) {
    const PgServer server(uri);
    const std::string& host = server.host;
    const std::string& port = server.port;
    const std::string& database = server.database;
    // The settings that fix the values' text form, after the user's PGOPTIONS (which this
    // explicit option would otherwise replace): e.g. -c logical_decoding_work_mem=256MB.
    const char* user_options = std::getenv("PGOPTIONS");
    const std::string options =
        std::string(user_options ? user_options : "") +
        " -c DateStyle=ISO -c IntervalStyle=postgres -c TimeZone=UTC -c extra_float_digits=3 "
        "-c bytea_output=hex -c lc_monetary=C";
    PGconn* conn = PgOpen(
        uri, {{"replication", "database"}, {"options", options}, {"client_encoding", "UTF8"}});
    const std::string where =
        fmt::format("PostgreSQL at {}:{} database '{}' (replication connection)", host, port,
                    database);
    std::unique_ptr<Replication> r(new Replication(conn, where, uri.password));
    if (PQstatus(conn) != CONNECTION_OK) {
      const std::string msg = r->Scrub(Trim(PQerrorMessage(conn)));
      const bool auth = Contains(msg, "authentication failed") ||
                        Contains(msg, "no pg_hba.conf entry") ||
                        Contains(msg, "must have replication") ||
                        Contains(msg, "permission denied");
      throw Error(auth ? ErrorKind::kAuth : ErrorKind::kConnection,
                  fmt::format("cannot open a replication connection to PostgreSQL at {}:{} "
                              "(database '{}', user '{}'): {}",
                              host, port, database, uri.user, msg));
    }
    return r;
  }
  ~Replication() { PQfinish(conn_); }

  PGconn* get() const { return conn_; }
  const std::string& where() const { return where_; }

  std::string Scrub(std::string message) const { return ScrubPassword(std::move(message), password_); }

  Error MakeError(const std::string& what, const PGresult* result) const {
    std::string msg;
    ErrorKind kind = ErrorKind::kInternal;
    if (result != nullptr) {
      msg = Trim(PQresultErrorMessage(result));
      const char* st = PQresultErrorField(result, PG_DIAG_SQLSTATE);
      const std::string s = st ? st : "";
      if (s.size() == 5) {
        const std::string cls = s.substr(0, 2);
        if (cls == "08" || cls == "57" || cls == "53" || s == "55006") {
          kind = ErrorKind::kConnection;  // lost, shut down, out of resources, slot in use
        } else if (s == "42704") {
          kind = ErrorKind::kNotFound;
        } else if (cls == "42" || cls == "55") {
          kind = ErrorKind::kInvalidArgument;
        } else if (cls == "0A") {
          kind = ErrorKind::kUnsupported;
        }
      }
    }
    if (msg.empty()) msg = Trim(PQerrorMessage(conn_));
    if (PQstatus(conn_) != CONNECTION_OK) kind = ErrorKind::kConnection;
    return Error(kind, fmt::format("{} failed on {}: {}", what, where_, Scrub(msg)));
  }

  PgResult Exec(const std::string& sql, const std::string& what) {
    PgResult r(PQexec(conn_, sql.c_str()));
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) throw MakeError(what, r.get());
    return r;
  }

 private:
  Replication(PGconn* conn, std::string where, std::string password)
      : conn_(conn), where_(std::move(where)), password_(std::move(password)) {}
  PGconn* conn_;
  std::string where_;
  std::string password_;
};

// --- free functions ---

std::string SqlName(const std::string& schema, const std::string& name) {
  const std::string s = PlainIdent(schema) ? schema : QuoteIdent(schema);
  const std::string n = PlainIdent(name) ? name : QuoteIdent(name);
  return schema.empty() ? n : s + "." + n;
}

std::string DescribeCdcProblems(const PgCdcFacts& f) {
  std::vector<std::string> p;
  if (f.wal_level != "logical") {
    p.push_back(fmt::format("wal_level is '{}': set wal_level = logical in postgresql.conf and "
                            "restart the server",
                            f.wal_level));
  }
  if (f.max_replication_slots <= 0) {
    p.push_back("max_replication_slots is 0: set max_replication_slots to at least 1 (one per "
                "CDC task) in postgresql.conf and restart the server");
  } else if (!f.slot_exists && f.used_replication_slots >= f.max_replication_slots) {
    p.push_back(fmt::format(
        "max_replication_slots is {} and all {} slots are in use: raise max_replication_slots "
        "in postgresql.conf and restart the server, or drop an unused slot with "
        "SELECT pg_drop_replication_slot('name')",
        f.max_replication_slots, f.used_replication_slots));
  }
  if (f.max_wal_senders <= 0) {
    p.push_back("max_wal_senders is 0: set max_wal_senders to at least 1 (one per CDC task) in "
                "postgresql.conf and restart the server");
  } else if (f.used_wal_senders >= f.max_wal_senders) {
    p.push_back(fmt::format("max_wal_senders is {} and all {} WAL senders are in use: raise "
                            "max_wal_senders in postgresql.conf and restart the server",
                            f.max_wal_senders, f.used_wal_senders));
  }
  if (!f.superuser && !f.replication) {
    p.push_back(fmt::format("user '{}' has neither REPLICATION nor SUPERUSER: run ALTER ROLE {} "
                            "REPLICATION as a superuser",
                            f.user, PlainIdent(f.user) ? f.user : QuoteIdent(f.user)));
  }
  if (f.creates_publication && !f.superuser) {
    if (!f.can_create_in_database) {
      p.push_back(fmt::format("user '{}' cannot create the task's publication (no CREATE "
                              "privilege on the database): GRANT CREATE ON DATABASE ... TO {}, "
                              "or create a publication yourself and name it in the task",
                              f.user, f.user));
    }
    if (!f.not_owned_tables.empty()) {
      std::string list;
      for (const std::string& t : f.not_owned_tables) list += (list.empty() ? "" : ", ") + t;
      p.push_back(fmt::format("user '{}' does not own {} and so cannot publish it: let the owner "
                              "create a publication for the tables and name it in the task, or "
                              "use a superuser",
                              f.user, list));
    }
  }
  for (const std::string& t : f.tables_without_identity) {
    p.push_back(fmt::format("table {} has no primary key and no replica identity, so its "
                            "updates and deletes cannot be captured: run ALTER TABLE {} REPLICA "
                            "IDENTITY FULL (or add a primary key)",
                            t, t));
  }
  std::string out;
  for (const std::string& line : p) out += (out.empty() ? "" : "\n") + std::string("- ") + line;
  return out;
}

// --- PgChangeCapture ---

PgChangeCapture::PgChangeCapture(EndpointUri uri, cdc::CaptureOptions options)
    : uri_(std::move(uri)), options_(std::move(options)) {
  slot_ = options_.slot.empty() ? cdc::CaptureObjectName(options_.task, options_.task_id)
                                : options_.slot;
  publication_ = options_.publication.empty()
                     ? cdc::CaptureObjectName(options_.task, options_.task_id)
                     : options_.publication;
  for (size_t i = 0; i < options_.tables.size(); ++i) {
    encoders_.emplace_back(static_cast<uint32_t>(i), options_.tables[i]);
  }
}

PgChangeCapture::~PgChangeCapture() = default;

PgConnection& PgChangeCapture::Sql() {
  if (!sql_) {
    sql_ = PgConnection::Connect(uri_);
    server_version_ = PQserverVersion(sql_->get());
    // Says in pg_stat_activity whose session this is (and so who holds the task's lock).
    std::string app =
        fmt::format("ferry task {} pid {} on {}", options_.task, ::getpid(), HostName("?"));
    if (app.size() > 63) app.resize(63);
    sql_->ExecParams("SELECT set_config('application_name', $1, false)", {app},
                     "naming the capture session");
  }
  return *sql_;
}

void PgChangeCapture::CheckPrerequisites() {
  PgConnection& c = Sql();
  const std::string what = "checking the source's CDC prerequisites";
  PgCdcFacts f;
  PgResult r = c.Exec(
      "SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int, "
      "(SELECT count(*) FROM pg_replication_slots)::int, "
      "current_setting('max_wal_senders')::int, "
      "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender')::int, "
      "current_user, r.rolsuper, r.rolreplication, "
      "has_database_privilege(current_database(), 'CREATE') "
      "FROM pg_roles r WHERE r.rolname = current_user",
      what);
  if (PQntuples(r.get()) != 1) throw c.MakeError(what + ": role not found", r.get());
  f.wal_level = *GetText(r.get(), 0, 0);
  f.max_replication_slots = std::stoi(*GetText(r.get(), 0, 1));
  f.used_replication_slots = std::stoi(*GetText(r.get(), 0, 2));
  f.max_wal_senders = std::stoi(*GetText(r.get(), 0, 3));
  f.used_wal_senders = std::stoi(*GetText(r.get(), 0, 4));
  f.user = *GetText(r.get(), 0, 5);
  f.superuser = *GetText(r.get(), 0, 6) == "t";
  f.replication = *GetText(r.get(), 0, 7) == "t";
  f.can_create_in_database = *GetText(r.get(), 0, 8) == "t";
  f.creates_publication = options_.owns_publication;
  PgResult s = c.ExecParams("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {slot_},
                            what);
  f.slot_exists = PQntuples(s.get()) > 0;
  for (const TableDef& t : options_.tables) {
    PgResult tr = c.ExecParams(
        "SELECT c.relreplident, "
        "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), "
        "pg_has_role(c.relowner, 'USAGE'), c.relkind = 'p' "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2",
        {t.schema, t.name}, what);
    if (PQntuples(tr.get()) != 1) {
      throw Error(ErrorKind::kNotFound,
                  fmt::format("{}: table {} does not exist on {}", what, t.QualifiedName(),
                              c.where()));
    }
    const std::string ident = *GetText(tr.get(), 0, 0);
    const bool pk = *GetText(tr.get(), 0, 1) == "t";
    const bool owner = *GetText(tr.get(), 0, 2) == "t";
    const bool partitioned = *GetText(tr.get(), 0, 3) == "t";
    if (partitioned) {
      // The rows live in the leaf partitions, and each has its own replica identity (a
      // partitioned table's REPLICA IDENTITY FULL does not reach them): check those.
      PgResult leaves = c.ExecParams(
          "SELECT n.nspname, c.relname, c.relreplident, "
          "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) "
          "FROM pg_partition_tree(to_regclass(format('%I.%I', $1::text, $2::text))) pt "
          "JOIN pg_class c ON c.oid = pt.relid JOIN pg_namespace n ON n.oid = c.relnamespace "
          "WHERE pt.isleaf ORDER BY 1, 2",
          {t.schema, t.name}, what);
      for (int i = 0; i < PQntuples(leaves.get()); ++i) {
        const std::string leaf_ident = *GetText(leaves.get(), i, 2);
        const bool leaf_pk = *GetText(leaves.get(), i, 3) == "t";
        if (leaf_ident == "n" || (leaf_ident == "d" && !leaf_pk)) {
          f.tables_without_identity.push_back(
              SqlName(*GetText(leaves.get(), i, 0), *GetText(leaves.get(), i, 1)));
        }
      }
    } else if (ident == "n" || (ident == "d" && !pk)) {
      f.tables_without_identity.push_back(SqlName(t.schema, t.name));
    }
    if (!owner) f.not_owned_tables.push_back(SqlName(t.schema, t.name));
  }
  const std::string problems = DescribeCdcProblems(f);
  if (!problems.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{} is not ready for change data capture (task '{}'):\n{}",
                            c.where(), options_.task, problems));
  }
}

void PgChangeCapture::EnsurePublication() {
  PgConnection& c = Sql();
  const std::string what = fmt::format("preparing publication {}", publication_);
  std::set<std::pair<std::string, std::string>> want;
  for (const TableDef& t : options_.tables) want.insert({t.schema, t.name});
  PgResult p = c.ExecParams(
      "SELECT puballtables, obj_description(oid, 'pg_publication') FROM pg_publication "
      "WHERE pubname = $1",
      {publication_}, what);
  const bool exists = PQntuples(p.get()) > 0;
  if (!options_.owns_publication) {
    if (!exists) {
      throw Error(ErrorKind::kNotFound,
                  fmt::format("publication '{}' named by task '{}' does not exist on {}: create "
                              "it (CREATE PUBLICATION {} FOR TABLE ...) or leave the setting "
                              "empty so Ferry creates one",
                              publication_, options_.task, c.where(), publication_));
    }
    if (*GetText(p.get(), 0, 0) == "t") return;
    const auto have = PublicationTables(c, publication_, /*named_only=*/false, what);
    std::string missing;
    for (const auto& [s, n] : want) {
      if (!have.count({s, n})) missing += (missing.empty() ? "" : ", ") + SqlName(s, n);
    }
    if (!missing.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("publication '{}' on {} does not publish {} of task '{}': run "
                              "ALTER PUBLICATION {} ADD TABLE {}",
                              publication_, c.where(), missing, options_.task,
                              QuoteIdent(publication_), missing));
    }
    return;
  }
  std::string list;
  for (const TableDef& t : options_.tables) {
    list += (list.empty() ? "" : ", ") + QuoteQualified(t.schema, t.name);
  }
  if (list.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("task '{}' has no tables to capture", options_.task));
  }
  const std::string with =
      server_version_ >= 130000 ? " WITH (publish_via_partition_root = true)" : "";
  if (!exists) {
    c.Exec(fmt::format("CREATE PUBLICATION {} FOR TABLE {}{}", QuoteIdent(publication_), list,
                       with),
           what);
    if (!options_.owner.empty()) {
      c.Exec(fmt::format("COMMENT ON PUBLICATION {} IS {}", QuoteIdent(publication_),
                         SqlLiteral(options_.owner)),
             what);
    }
    return;
  }
  // It exists: only this task's own publication is changed.
  if (!options_.task_id.empty()) {
    const std::optional<cdc::CaptureOwner> owner =
        cdc::CaptureOwner::Parse(GetText(p.get(), 0, 1).value_or(""));
    if (!owner || owner->task_id != options_.task_id) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("publication {} on {} is not task '{}''s: it belongs to {}; Ferry "
                              "never changes or drops another task's objects",
                              publication_, c.where(), options_.task,
                              owner ? owner->Describe() : std::string("no Ferry task (it has no "
                                                                      "Ferry owner comment)")));
    }
  }
  if (PublicationTables(c, publication_, /*named_only=*/true, what) != want) {
    c.Exec(fmt::format("ALTER PUBLICATION {} SET TABLE {}", QuoteIdent(publication_), list),
           what);
  }
  if (!with.empty()) {
    c.Exec(fmt::format("ALTER PUBLICATION {} SET (publish_via_partition_root = true)",
                       QuoteIdent(publication_)),
           what);
  }
}

std::string PgChangeCapture::HoldSnapshot(const std::string& exported) {
  const std::string what = fmt::format("importing the snapshot {} of slot {}", exported, slot_);
  holder_ = PgConnection::Connect(uri_);
  holder_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ", what);
  holder_->Exec("SET TRANSACTION SNAPSHOT " + SqlLiteral(exported), what);
  PgResult r = holder_->Exec("SELECT pg_export_snapshot()", what);
  return *GetText(r.get(), 0, 0);
}

void PgChangeCapture::LockTask() {
  if (task_locked_) return;
  PgConnection& c = Sql();
  // Two int4 keys: Ferry's tag and the slot's name hashed (FNV-1a), both kept positive so
  // pg_locks shows them as they were asked for.
  uint32_t h = 2166136261u;
  for (unsigned char ch : slot_) h = (h ^ ch) * 16777619u;
  const std::string k1 = std::to_string(0x46455259 & 0x7fffffff);  // "FERY"
  const std::string k2 = std::to_string(h & 0x7fffffff);
  const std::string what = fmt::format("locking task '{}' on the source", options_.task);
  PgResult r = c.Exec(fmt::format("SELECT pg_try_advisory_lock({}, {})", k1, k2), what);
  if (*GetText(r.get(), 0, 0) == "t") {
    task_locked_ = true;
    return;
  }
  PgResult who = c.Exec(
      fmt::format("SELECT a.pid::text, coalesce(a.application_name, ''), "
                  "coalesce(host(a.client_addr), 'local'), "
                  "to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
                  "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                  "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {} "
                  "AND l.objid = {} AND l.objsubid = 2",
                  k1, k2),
      what);
  std::string holder = "another session";
  if (PQntuples(who.get()) > 0) {
    holder = fmt::format("session {} ('{}' from {}, since {} UTC)", *GetText(who.get(), 0, 0),
                         *GetText(who.get(), 0, 1), *GetText(who.get(), 0, 2),
                         *GetText(who.get(), 0, 3));
  }
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("task '{}' (slot {}) is already running against {}: {} holds its "
                          "lock; a task has one owner at a time, stop the other process first",
                          options_.task, slot_, c.where(), holder));
}

std::string PgChangeCapture::SlotOwner(const std::string& slot) {
  PgResult r = Sql().Exec(
      "SELECT obj_description(oid, 'pg_publication') FROM pg_publication "
      "WHERE obj_description(oid, 'pg_publication') IS NOT NULL",
      "looking for the owner of a replication slot");
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    const std::optional<cdc::CaptureOwner> o =
        cdc::CaptureOwner::Parse(GetText(r.get(), i, 0).value_or(""));
    if (o && o->slot == slot) return o->Describe();
  }
  return "";
}

bool PgChangeCapture::SlotExists() {
  PgResult r = Sql().ExecParams("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
                                {slot_}, "looking for replication slot " + slot_);
  return PQntuples(r.get()) > 0;
}

cdc::PrepareResult PgChangeCapture::Prepare() {
  PgConnection& c = Sql();
  LockTask();
  const std::string what = fmt::format("preparing replication slot {}", slot_);
  cdc::PrepareResult result;
  PgResult s = c.ExecParams(
      "SELECT plugin, slot_type, database, confirmed_flush_lsn::text, current_database(), "
      "coalesce(wal_status, ''), active_pid::text "
      "FROM pg_replication_slots WHERE slot_name = $1",
      {slot_}, what);
  const bool exists = PQntuples(s.get()) > 0;
  if (exists && options_.new_slot) {
    const std::string owner = SlotOwner(slot_);
    const std::optional<std::string> pid = GetText(s.get(), 0, 6);
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("replication slot {} already exists on {}{}, and it is not one task "
                            "'{}' created: it appears to belong to {}. Ferry never reuses, "
                            "advances or drops a slot it did not create for this task: drop it "
                            "if it is abandoned (ferry cleanup --source ... lists Ferry's), or "
                            "name it with --slot-name to start from it (cdc tasks)",
                            slot_, c.where(), pid ? fmt::format(" (in use by process {})", *pid) : "",
                            options_.task,
                            owner.empty() ? std::string("no Ferry task recorded on the source")
                                          : owner));
  }
  if (!exists && !options_.new_slot) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("replication slot {} of task '{}' does not exist on {}", slot_,
                            options_.task, c.where()));
  }
  EnsurePublication();
  if (exists) {
    const std::string plugin = GetText(s.get(), 0, 0).value_or("");
    const std::string database = GetText(s.get(), 0, 2).value_or("");
    if (plugin != "pgoutput" || database != *GetText(s.get(), 0, 4)) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("replication slot {} on {} is not a pgoutput slot of database "
                              "'{}' (plugin '{}', database '{}'): name another slot for task "
                              "'{}'",
                              slot_, c.where(), *GetText(s.get(), 0, 4), plugin, database,
                              options_.task));
    }
    if (GetText(s.get(), 0, 5).value_or("") == "lost") {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("replication slot {} on {} has lost WAL it needs (wal_status "
                              "'lost', max_slot_wal_keep_size): the changes since its confirmed "
                              "position are gone; task '{}' must load the tables again",
                              slot_, c.where(), options_.task));
    }
    result.slot_created = false;
    result.start = LsnPosition(ParseLsn(GetText(s.get(), 0, 3).value_or("0/0")).value_or(0));
    return result;
  }
  if (!repl_) repl_ = Replication::Connect(uri_);
  PgResult r = ExecWaitingForOpenTransactions(
      *repl_,
      fmt::format("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput {}", QuoteIdent(slot_),
                  options_.export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT"),
      what);
  result.slot_created = true;
  const std::string consistent = GetText(r.get(), 0, 1).value_or("");
  result.start = LsnPosition(ParseLsn(consistent).value_or(0));
  if (options_.export_snapshot) {
    const std::optional<std::string> exported = GetText(r.get(), 0, 2);
    if (!exported) {
      throw Error(ErrorKind::kInternal,
                  fmt::format("{}: the server exported no snapshot", what));
    }
    result.snapshot = HoldSnapshot(*exported);
  }
  return result;
}

std::string PgChangeCapture::OpenTransactionsBefore(int64_t since_unix_us) {
  PgResult r = Sql().ExecParams(
      "SELECT pid, coalesce(datname, ''), coalesce(usename, ''), "
      "extract(epoch FROM now() - xact_start)::bigint, coalesce(state, ''), "
      "left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 80) "
      "FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
      "AND xact_start <= to_timestamp($1) ORDER BY xact_start LIMIT 6",
      {fmt::format("{}.{:06}", since_unix_us / 1000000, since_unix_us % 1000000)},
      "listing the transactions open on the source");
  std::vector<std::string> out;
  for (int i = 0; i < PQntuples(r.get()) && i < 5; ++i) {
    out.push_back(fmt::format("pid {} (database {}, user {}, open {} s, {}): {}",
                              *GetText(r.get(), i, 0), *GetText(r.get(), i, 1),
                              *GetText(r.get(), i, 2), *GetText(r.get(), i, 3),
                              *GetText(r.get(), i, 4), *GetText(r.get(), i, 5)));
  }
  if (PQntuples(r.get()) > 5) out.push_back("and more");
  return out.empty() ? std::string("transactions that ended while they were listed")
                     : fmt::format("{}", fmt::join(out, "; "));
}

PgResult PgChangeCapture::ExecWaitingForOpenTransactions(Replication& repl,
                                                         const std::string& sql,
                                                         const std::string& what) {
  // A logical slot's start must be consistent: the server waits until every transaction that
  // was writing when it began has ended, anywhere on the cluster. A long one would make the
  // task sit silent, so say what it waits for, and give up at the timeout.
  PGconn* conn = repl.get();
  if (PQsendQuery(conn, sql.c_str()) == 0) throw repl.MakeError(what, nullptr);
  const auto start = std::chrono::steady_clock::now();
  const int64_t start_unix_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
  auto next_report = start + std::chrono::seconds(1);
  bool reported = false;
  for (;;) {
    if (PQconsumeInput(conn) == 0) throw repl.MakeError(what, nullptr);
    if (PQisBusy(conn) == 0) break;
    const auto now = std::chrono::steady_clock::now();
    const auto timeout = options_.consistency_timeout;
    if (timeout.count() > 0 && now - start >= timeout) {
      const std::string open = OpenTransactionsBefore(start_unix_us);
      if (PGcancel* cancel = PQgetCancel(conn)) {
        char buf[256];
        PQcancel(cancel, buf, sizeof buf);
        PQfreeCancel(cancel);
      }
      while (PGresult* left = PQgetResult(conn)) PQclear(left);
      if (options_.on_waiting) options_.on_waiting("");
      throw Error(ErrorKind::kCancelled,
                  fmt::format("{}: waited {} s (FullLoadSettings.TransactionConsistencyTimeout) "
                              "for the transactions open on the source cluster when it began to "
                              "end, and these have not: {}. End them (or let them finish) and "
                              "start the task again, or raise TransactionConsistencyTimeout",
                              what, timeout.count(), open));
    }
    if (now >= next_report) {
      const std::string open = OpenTransactionsBefore(start_unix_us);
      const std::string line = fmt::format(
          "{}: waiting {} s so far for transactions open on the source cluster to end "
          "(a replication slot starts once they have): {}",
          what, std::chrono::duration_cast<std::chrono::seconds>(now - start).count(), open);
      logging::For(LogComponentId::kSourceCapture).warn("{}", line);
      if (options_.on_waiting) options_.on_waiting(line);
      reported = true;
      next_report = now + std::chrono::seconds(10);
    }
    pollfd p{PQsocket(conn), POLLIN, 0};
    ::poll(&p, 1, 250);
  }
  PgResult r(PQgetResult(conn));
  while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
  const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) throw repl.MakeError(what, r.get());
  if (reported && options_.on_waiting) options_.on_waiting("");
  return r;
}

cdc::PrepareResult PgChangeCapture::ExportSnapshot() {
  Sql();
  static int counter = 0;
  std::string name = fmt::format("{}_x{}_{}", slot_, ::getpid(), ++counter);
  if (name.size() > 63) name = name.substr(name.size() - 63);
  const std::string what = "exporting a snapshot through temporary slot " + name;
  temp_repl_ = Replication::Connect(uri_);
  PgResult r = ExecWaitingForOpenTransactions(
      *temp_repl_,
      fmt::format("CREATE_REPLICATION_SLOT {} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT",
                  QuoteIdent(name)),
      what);
  cdc::PrepareResult result;
  result.slot_created = false;
  result.start = LsnPosition(ParseLsn(GetText(r.get(), 0, 1).value_or("")).value_or(0));
  result.snapshot = HoldSnapshot(GetText(r.get(), 0, 2).value_or(""));
  return result;
}

void PgChangeCapture::ReleaseSnapshot() {
  if (holder_) {
    try {
      holder_->Exec("COMMIT", "releasing the exported snapshot");
    } catch (const Error&) {
      // The transaction only held a snapshot; closing the connection ends it anyway.
    }
    holder_.reset();
  }
  temp_repl_.reset();
}

void PgChangeCapture::Start(const cdc::Position& from_position) {
  const Lsn from = PositionLsn(from_position);
  Sql();
  if (!repl_) repl_ = Replication::Connect(uri_);
  const std::string what = fmt::format("starting replication from slot {}", slot_);
  PgResult id = repl_->Exec("IDENTIFY_SYSTEM", what);
  server_end_ = ParseLsn(GetText(id.get(), 0, 2).value_or("")).value_or(0);
  streamed_end_ = 0;

  bool all_binary = true;
  std::string text_column;
  for (const TableChangeEncoder& e : encoders_) {
    for (const ColumnDef& col : e.def().columns) {
      if (!ChangeColumnFor(col).binary_ok) {
        if (all_binary) text_column = col.name + " of " + e.def().QualifiedName();
        all_binary = false;
      }
    }
  }
  if (value_format_ == ValueFormat::kBinary && (!all_binary || server_version_ < 140000)) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{}: binary values were asked for but {}", what,
                            server_version_ < 140000 ? "the server is older than 14"
                                                     : "column " + text_column +
                                                           " has no binary decoder"));
  }
  binary_ = value_format_ == ValueFormat::kBinary ||
            (value_format_ == ValueFormat::kAuto && all_binary && server_version_ >= 140000);
  const int proto = server_version_ >= 160000   ? 4
                    : server_version_ >= 150000 ? 3
                    : server_version_ >= 140000 ? 2
                                                : 1;
  std::string pubs = "\"";
  for (char ch : publication_) pubs += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  pubs += "\"";
  std::string sql =
      fmt::format("START_REPLICATION SLOT {} LOGICAL {} (proto_version '{}', publication_names {}",
                  QuoteIdent(slot_), FormatLsn(from), proto, SqlLiteral(pubs));
  if (server_version_ >= 140000) {
    sql += fmt::format(", binary '{}', messages 'false'", binary_ ? "true" : "false");
    // Transactions larger than the server's logical_decoding_work_mem arrive while they run
    // (their changes spill on Ferry's side, not in the server's pg_replslot).
    if (proto >= 2 && options_.stream_in_progress) sql += ", streaming 'on'";
  }
  sql += ")";
  PgResult r(PQexec(repl_->get(), sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_BOTH) throw repl_->MakeError(what, r.get());
  decoder_ = std::make_unique<pgoutput::Decoder>(proto);
  relations_.clear();
  in_txn_ = false;
  in_stream_ = false;
  open_streams_.clear();
  touched_.clear();
  confirmed_ = from;
  reported_ = 0;
  streaming_ = true;
  const auto now = Clock::now();
  last_txn_ = now;
  last_wal_check_ = now - kWalCheckInterval;  // check once at the first poll
  last_drop_check_ = now;
  pending_drops_.clear();
  if (table_oids_.size() != encoders_.size()) {
    table_oids_.assign(encoders_.size(), 0);
    dropped_.assign(encoders_.size(), false);
    for (size_t i = 0; i < encoders_.size(); ++i) {
      const TableDef& t = encoders_[i].def();
      PgResult r = Sql().ExecParams("SELECT to_regclass(format('%I.%I', $1::text, $2::text))::oid",
                                    {t.schema, t.name}, "resolving the OID of a captured table");
      const std::optional<std::string> oid = GetText(r.get(), 0, 0);
      if (oid) table_oids_[i] = static_cast<uint32_t>(std::stoul(*oid));
    }
  }
  SendStatus();
}

void PgChangeCapture::Deliver(cdc::CaptureSink& sink, uint32_t message_xid, uint32_t table) {
  touched_.insert(table);
  if (in_stream_) {
    // Inside a stream block each change names the (sub)transaction that wrote it.
    sink.OnStreamedChange(stream_xid_, message_xid, record_);
  } else {
    sink.OnChange(begin_.xid, record_);
  }
}

void PgChangeCapture::CheckDroppedTables(cdc::CaptureSink& sink, Clock::time_point now) {
  // Reported in stream order: once every transaction before the drop has been delivered.
  for (auto it = pending_drops_.begin(); it != pending_drops_.end();) {
    if (in_txn_ || streamed_end_ < it->at) {
      ++it;
      continue;
    }
    logging::For(LogComponentId::kSourceCapture)
        .warn("table {} was dropped on the source", encoders_[it->table].def().QualifiedName());
    dropped_[it->table] = true;
    sink.OnTableDropped(it->table);
    it = pending_drops_.erase(it);
  }
  const auto interval =
      options_.heartbeat.count() > 0 ? std::min<Clock::duration>(options_.heartbeat, kDropCheckInterval)
                                     : Clock::duration(kDropCheckInterval);
  if (now - last_drop_check_ < interval) return;
  last_drop_check_ = now;
  std::string oids;
  for (size_t i = 0; i < table_oids_.size(); ++i) {
    if (table_oids_[i] == 0 || dropped_[i]) continue;
    bool pending = false;
    for (const PendingDrop& p : pending_drops_) pending |= p.table == i;
    if (!pending) oids += (oids.empty() ? "" : ",") + std::to_string(table_oids_[i]);
  }
  if (oids.empty()) return;
  PgResult r = Sql().ExecParams(
      "SELECT o::oid, pg_current_wal_lsn()::text FROM unnest($1::oid[]) o "
      "WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = o)",
      {"{" + oids + "}"}, "checking whether captured tables were dropped");
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    const uint32_t oid = static_cast<uint32_t>(std::stoul(*GetText(r.get(), row, 0)));
    const Lsn at = ParseLsn(*GetText(r.get(), row, 1)).value_or(server_end_);
    for (size_t i = 0; i < table_oids_.size(); ++i) {
      if (table_oids_[i] == oid) pending_drops_.push_back({static_cast<uint32_t>(i), at});
    }
  }
}

void PgChangeCapture::SendStatus() {
  char msg[34];
  msg[0] = 'r';
  const uint64_t pos = confirmed_;
  const uint64_t be = __builtin_bswap64(pos);
  std::memcpy(msg + 1, &be, 8);
  std::memcpy(msg + 9, &be, 8);
  std::memcpy(msg + 17, &be, 8);
  const uint64_t t = __builtin_bswap64(static_cast<uint64_t>(NowPgMicros()));
  std::memcpy(msg + 25, &t, 8);
  msg[33] = 0;
  if (PQputCopyData(repl_->get(), msg, sizeof msg) != 1 || PQflush(repl_->get()) != 0) {
    streaming_ = false;
    throw repl_->MakeError(fmt::format("sending a standby status update for slot {}", slot_),
                           nullptr);
  }
  reported_ = confirmed_;
  last_status_ = Clock::now();
}

void PgChangeCapture::Confirm(const cdc::Position& applied_position) {
  const Lsn applied = PositionLsn(applied_position);
  if (applied <= confirmed_) return;
  confirmed_ = applied;
  if (streaming_) SendStatus();
}

uint32_t PgChangeCapture::BaseOid(uint32_t oid) {
  auto it = base_oids_.find(oid);
  if (it != base_oids_.end()) return it->second;
  uint32_t base = oid;
  for (int depth = 0; depth < 32; ++depth) {
    PgResult r = Sql().ExecParams(
        "SELECT typtype, typbasetype FROM pg_type WHERE oid = $1::oid",
        {std::to_string(base)}, "resolving a column type of the replication stream");
    if (PQntuples(r.get()) == 0 || *GetText(r.get(), 0, 0) != "d") break;
    base = static_cast<uint32_t>(std::stoul(*GetText(r.get(), 0, 1)));
  }
  base_oids_[oid] = base;
  return base;
}

void PgChangeCapture::HandleRelation(const pgoutput::Relation& rel, cdc::CaptureSink& sink,
                                     Lsn lsn) {
  const std::string schema = rel.schema.empty() ? "pg_catalog" : std::string(rel.schema);
  const std::string name(rel.name);
  uint32_t id = UINT32_MAX;
  for (size_t i = 0; i < encoders_.size(); ++i) {
    if (encoders_[i].def().schema == schema && encoders_[i].def().name == name) {
      id = static_cast<uint32_t>(i);
      break;
    }
  }
  if (id == UINT32_MAX) {
    // A task table renamed on the source keeps its OID: its changes keep going to its target
    // table (the task's plan names the table as it was).
    for (size_t i = 0; i < table_oids_.size(); ++i) {
      if (table_oids_[i] != 0 && table_oids_[i] == rel.relation_id) {
        id = static_cast<uint32_t>(i);
        if (renamed_warned_.insert(id).second) {
          logging::For(LogComponentId::kSourceCapture)
              .warn("table {} was renamed on the source to {}: its changes keep going to the "
                       "same target table (a --resume will plan the tables under their names "
                       "then)",
                       SqlName(encoders_[i].def().schema, encoders_[i].def().name),
                       SqlName(schema, name));
        }
        break;
      }
    }
  }
  if (id == UINT32_MAX) {
    throw Error(
        ErrorKind::kData,
        fmt::format("replication slot {} at LSN {} sent changes of table {}, which is "
                    "not one of task '{}''s tables: publication {} publishes it; remove "
                    "it from the publication",
                    slot_, FormatLsn(lsn), SqlName(schema, name), options_.task, publication_));
  }
  TableChangeEncoder& enc = encoders_[id];
  std::vector<uint32_t> oids;
  oids.reserve(rel.columns.size());
  for (const pgoutput::RelationColumn& c : rel.columns) oids.push_back(BaseOid(c.type_oid));
  if (!enc.Matches(rel, oids)) {
    // The table's shape at this point of the WAL is the Relation message's, not the catalog's
    // now (later ALTERs may have renamed or retyped columns since): build it from the message,
    // so every change decodes with the columns in force at its own position and each ALTER
    // reaches the target between the changes it separates.
    TableDef shaped = ShapeFromRelation(rel, oids, enc.def());
    if (!SameColumns(shaped, enc.def())) {
      // Columns only appended: the transaction's earlier changes of the table read the same
      // way under the new columns (the new ones absent, as they were). Anything else between
      // its own changes cannot be applied in one order right for both shapes.
      bool appended = shaped.columns.size() >= enc.def().columns.size();
      for (size_t i = 0; appended && i < enc.def().columns.size(); ++i) {
        const ColumnDef& a = enc.def().columns[i];
        const ColumnDef& b = shaped.columns[i];
        appended = a.name == b.name && a.native_type == b.native_type && a.type == b.type;
      }
      enc.SetDef(std::move(shaped));
      if (!appended && (in_txn_ || !open_streams_.empty()) && touched_.count(id)) {
        if (in_stream_ || (in_txn_ && open_streams_.empty())) {
          // A shape record between the transaction's changes, so the apply alters the target
          // right there, inside the same target transaction. In a transaction streamed before
          // its commit it belongs to the subtransaction that ran the ALTER (the Relation
          // message's xid): rolled back to a savepoint, it goes with that subtransaction's
          // changes, and the server describes the table again (its old columns) with the
          // next change, which writes another shape record.
          shape_record_.clear();
          cdc::EncodeShapeChange(id, TableDefToJson(enc.def()), &shape_record_);
          if (in_stream_) {
            sink.OnStreamedChange(stream_xid_, rel.xid != 0 ? rel.xid : stream_xid_,
                                  shape_record_);
          } else {
            sink.OnChange(begin_.xid, shape_record_);
          }
        } else {
          // A whole transaction while another is streamed open with changes of the table in
          // its old shape (the server's locks make this rare): no place between them.
          sink.OnTableChangedInTransaction(id, enc.def(), begin_.xid);
        }
      } else {
        // A transaction streamed before its commit does not know its commit position yet.
        sink.OnTableChanged(id, enc.def(), LsnPosition(in_stream_ ? Lsn{0} : begin_.final_lsn));
      }
    }
  }
  enc.SetRelation(rel);
  relations_[rel.relation_id] = id;
}

TableDef PgChangeCapture::ShapeFromRelation(const pgoutput::Relation& rel,
                                            const std::vector<uint32_t>& base_oids,
                                            const TableDef& known) {
  if (!catalog_) catalog_ = std::make_unique<PgCatalogReader>(PgConnection::Connect(uri_));
  TableDef shaped = known;
  shaped.columns.clear();
  std::vector<std::string> keys;
  for (size_t i = 0; i < rel.columns.size(); ++i) {
    const pgoutput::RelationColumn& rc = rel.columns[i];
    const std::string name(rc.name);
    if (rc.key) keys.push_back(name);
    // A column as it was (same name, same type and modifier) keeps everything known of it.
    const int k = known.ColumnIndex(name);
    if (k >= 0) {
      const ColumnDef& was = known.columns[static_cast<size_t>(k)];
      ColumnDef now = catalog_->ColumnOfType(name, rc.type_oid, rc.type_modifier);
      if (was.native_id == base_oids[i] && was.native_type == now.native_type) {
        shaped.columns.push_back(was);
        continue;
      }
      shaped.columns.push_back(std::move(now));
      continue;
    }
    shaped.columns.push_back(catalog_->ColumnOfType(name, rc.type_oid, rc.type_modifier));
  }
  // The key: the replica identity's columns when it is the key or an index; with REPLICA
  // IDENTITY FULL (every column flagged) the known key, as far as its columns remain.
  if (rel.replica_identity == 'd' || rel.replica_identity == 'i') {
    shaped.primary_key = keys;
  } else {
    std::vector<std::string> kept;
    for (const std::string& k : known.primary_key) {
      if (shaped.ColumnIndex(k) >= 0) kept.push_back(k);
    }
    if (kept.size() != known.primary_key.size()) kept.clear();
    shaped.primary_key = kept;
  }
  return shaped;
}

TableChangeEncoder& PgChangeCapture::EncoderFor(uint32_t relation_id, Lsn lsn,
                                                const char* message) {
  auto it = relations_.find(relation_id);
  if (it == relations_.end()) {
    throw Error(ErrorKind::kData,
                fmt::format("replication slot {} at LSN {}: {} for relation OID {} without a "
                            "Relation message before it",
                            slot_, FormatLsn(lsn), message, relation_id));
  }
  return encoders_[it->second];
}

void PgChangeCapture::HandleMessage(const char* data, size_t size, cdc::CaptureSink& sink,
                                    bool* table_data) {
  if (size < 1) return;
  if (data[0] == 'k') {
    if (size < 18) {
      throw Error(ErrorKind::kData,
                  fmt::format("replication slot {}: keepalive message of {} bytes", slot_, size));
    }
    const Lsn end = LoadU64(data + 1);
    if (end > server_end_) server_end_ = end;
    if (end > streamed_end_) streamed_end_ = end;
    if (data[17] != 0) SendStatus();
    return;
  }
  if (data[0] != 'w') {
    throw Error(ErrorKind::kData, fmt::format("replication slot {}: unknown message type 0x{:02x}",
                                              slot_, static_cast<uint8_t>(data[0])));
  }
  if (size < 25) {
    throw Error(ErrorKind::kData,
                fmt::format("replication slot {}: XLogData message of {} bytes", slot_, size));
  }
  const Lsn lsn = LoadU64(data + 1);
  const Lsn wal_end = LoadU64(data + 9);
  if (wal_end > server_end_) server_end_ = wal_end;
  if (wal_end > streamed_end_) streamed_end_ = wal_end;
  Result<pgoutput::Message> decoded = decoder_->Decode(std::string_view(data + 25, size - 25));
  if (!decoded.ok()) {
    const Error& e = decoded.error();
    throw Error(e.kind(),
                fmt::format("replication slot {} at LSN {}: {}", slot_, FormatLsn(lsn), e.what()));
  }
  pgoutput::Message& m = decoded.value();
  if (auto* b = std::get_if<pgoutput::Begin>(&m)) {
    begin_ = *b;
    in_txn_ = true;
    if (open_streams_.empty()) touched_.clear();
    *table_data = true;
    sink.OnBegin(b->xid);
  } else if (auto* c = std::get_if<pgoutput::Commit>(&m)) {
    cdc::TransactionInfo info;
    info.xid = begin_.xid;
    info.commit_position = LsnPosition(c->commit_lsn);
    info.end_position = LsnPosition(c->end_lsn);
    info.commit_time_us = c->commit_time + kPgEpochMicros;
    in_txn_ = false;
    if (open_streams_.empty()) touched_.clear();
    *table_data = true;
    last_txn_ = Clock::now();
    sink.OnCommit(info);
  } else if (auto* rel = std::get_if<pgoutput::Relation>(&m)) {
    // A Relation message has no WAL position of its own (0): name its transaction's commit.
    HandleRelation(*rel, sink, lsn != 0 ? lsn : begin_.final_lsn);
  } else if (auto* ins = std::get_if<pgoutput::Insert>(&m)) {
    record_.clear();
    TableChangeEncoder& enc = EncoderFor(ins->relation_id, lsn, "Insert");
    enc.EncodeInsert(*ins, lsn, &record_);
    *table_data = true;
    Deliver(sink, ins->xid, enc.table_id());
  } else if (auto* up = std::get_if<pgoutput::Update>(&m)) {
    record_.clear();
    TableChangeEncoder& enc = EncoderFor(up->relation_id, lsn, "Update");
    enc.EncodeUpdate(*up, lsn, &record_);
    *table_data = true;
    Deliver(sink, up->xid, enc.table_id());
  } else if (auto* del = std::get_if<pgoutput::Delete>(&m)) {
    record_.clear();
    TableChangeEncoder& enc = EncoderFor(del->relation_id, lsn, "Delete");
    enc.EncodeDelete(*del, lsn, &record_);
    *table_data = true;
    Deliver(sink, del->xid, enc.table_id());
  } else if (auto* tr = std::get_if<pgoutput::Truncate>(&m)) {
    *table_data = true;
    for (uint32_t rid : tr->relation_ids) {
      record_.clear();
      TableChangeEncoder& enc = EncoderFor(rid, lsn, "Truncate");
      enc.EncodeTruncate(&record_);
      Deliver(sink, tr->xid, enc.table_id());
    }
  } else if (auto* ss = std::get_if<pgoutput::StreamStart>(&m)) {
    // A block of an in-progress transaction; others may commit between blocks.
    in_stream_ = true;
    stream_xid_ = ss->xid;
    *table_data = true;
    if (ss->first_segment) {
      open_streams_.insert(ss->xid);
      sink.OnBegin(ss->xid);
    } else if (open_streams_.count(ss->xid) == 0) {
      throw Error(ErrorKind::kData,
                  fmt::format("replication slot {} at LSN {}: streamed transaction {} goes on, "
                              "but its first part was never received",
                              slot_, FormatLsn(lsn), ss->xid));
    }
  } else if (std::holds_alternative<pgoutput::StreamStop>(m)) {
    in_stream_ = false;
  } else if (auto* sc = std::get_if<pgoutput::StreamCommit>(&m)) {
    cdc::TransactionInfo info;
    info.xid = sc->xid;
    info.commit_position = LsnPosition(sc->commit_lsn);
    info.end_position = LsnPosition(sc->end_lsn);
    info.commit_time_us = sc->commit_time + kPgEpochMicros;
    open_streams_.erase(sc->xid);
    if (open_streams_.empty() && !in_txn_) touched_.clear();
    *table_data = true;
    last_txn_ = Clock::now();
    sink.OnCommit(info);
  } else if (auto* sa = std::get_if<pgoutput::StreamAbort>(&m)) {
    if (sa->subxid == sa->xid) open_streams_.erase(sa->xid);
    *table_data = true;
    sink.OnAbort(sa->xid, sa->subxid);
  }
  // Origin, Type and logical messages carry nothing Ferry applies.
}

void PgChangeCapture::Housekeeping(Clock::time_point now) {
  if (confirmed_ != reported_ || now - last_status_ >= kStatusInterval) SendStatus();
  if (options_.heartbeat.count() > 0 && !in_txn_ && now - last_txn_ >= options_.heartbeat) {
    Sql().Exec("SELECT pg_logical_emit_message(false, 'ferry_heartbeat', '')",
               "writing the CDC heartbeat");
    last_txn_ = now;
  }
  if (options_.retained_wal_warning_bytes > 0 && now - last_wal_check_ >= kWalCheckInterval) {
    last_wal_check_ = now;
    PgResult r = Sql().ExecParams(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
        "FROM pg_replication_slots WHERE slot_name = $1",
        {slot_}, "checking the WAL retained by the replication slot");
    if (PQntuples(r.get()) > 0) {
      const std::optional<std::string> v = GetText(r.get(), 0, 0);
      const int64_t retained = v ? std::stoll(*v) : 0;
      if (retained > options_.retained_wal_warning_bytes) {
        logging::For(LogComponentId::kSourceCapture)
            .warn("replication slot {} of task '{}' retains {} MB of WAL on {} (warning above "
                  "{} MB): the target is behind or the task is stopped; the source's disk fills "
                  "until it catches up or the slot is dropped",
                  slot_, options_.task, retained >> 20, Sql().where(),
                  options_.retained_wal_warning_bytes >> 20);
      }
    }
  }
}

void PgChangeCapture::Poll(cdc::CaptureSink& sink, std::chrono::milliseconds wait) {
  if (!streaming_) {
    throw Error(ErrorKind::kInternal,
                fmt::format("Poll on slot {} before Start", slot_));
  }
  const auto deadline = Clock::now() + wait;
  bool table_data = false;
  PGconn* conn = repl_->get();
  for (;;) {
    auto now = Clock::now();
    Housekeeping(now);
    CheckDroppedTables(sink, now);
    char* buf = nullptr;
    const int n = PQgetCopyData(conn, &buf, 1);
    if (n > 0) {
      std::unique_ptr<char, decltype(&PQfreemem)> holder(buf, &PQfreemem);
      HandleMessage(buf, static_cast<size_t>(n), sink, &table_data);
      if (Clock::now() >= deadline) break;
      continue;
    }
    if (n == 0) {
      now = Clock::now();
      if (now >= deadline) break;
      auto until = std::min(deadline, last_status_ + kStatusInterval);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
      pollfd pfd{PQsocket(conn), POLLIN, 0};
      const int pr = ::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(ms, 1)));
      if (pr < 0 && errno != EINTR) {
        streaming_ = false;
        throw Error(ErrorKind::kConnection,
                    fmt::format("waiting on the replication stream of slot {} from {}: {}",
                                slot_, repl_->where(), std::strerror(errno)));
      }
      if (PQconsumeInput(conn) == 0) {
        streaming_ = false;
        throw Error(ErrorKind::kConnection,
                    fmt::format("the replication stream of slot {} from {} was lost: {}", slot_,
                                repl_->where(), repl_->Scrub(Trim(PQerrorMessage(conn)))));
      }
      continue;
    }
    streaming_ = false;
    if (n == -1) {
      PgResult r(PQgetResult(conn));
      std::string msg = r ? Trim(PQresultErrorMessage(r.get())) : "";
      if (msg.empty()) msg = Trim(PQerrorMessage(conn));
      // A server shutting down ends the stream without a word.
      if (msg.empty()) msg = "no reason given (the server may be shutting down)";
      // The walsender refusing what it decodes (a publication missing at that point of the
      // WAL, an object gone) fails the same way again: not worth a retry.
      const char* st = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
      const std::string state = st ? st : "";
      if (state.size() == 5 && (state.rfind("42", 0) == 0 || state == "55000")) {
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("the server refused to stream slot {} from {}: {}{}", slot_,
                                repl_->where(), repl_->Scrub(msg),
                                state == "42704" && Contains(msg, "publication")
                                    ? " (a slot decodes with the catalog as of each change: the "
                                      "publication must have existed when the slot's position "
                                      "was written; create it before the slot)"
                                    : ""));
      }
      throw Error(ErrorKind::kConnection,
                  fmt::format("the server ended the replication stream of slot {} from {}: {}",
                              slot_, repl_->where(), repl_->Scrub(msg)));
    }
    throw Error(ErrorKind::kConnection,
                fmt::format("the replication stream of slot {} from {} was lost: {}", slot_,
                            repl_->where(), repl_->Scrub(Trim(PQerrorMessage(conn)))));
  }
  // Not idle while a streamed transaction is open: its start must not be confirmed past.
  if (!table_data && !in_txn_ && open_streams_.empty() && streamed_end_ != 0) {
    sink.OnIdle(LsnPosition(streamed_end_));
  }
}

cdc::DropResult PgChangeCapture::DropObjects() {
  // Our own walsender holds the slot while streaming: end it first.
  streaming_ = false;
  repl_.reset();
  ReleaseSnapshot();
  PgConnection& c = Sql();
  cdc::DropResult result;
  const std::string what = fmt::format("dropping replication slot {}", slot_);
  if (options_.owns_slot) {
    for (int attempt = 0;; ++attempt) {
      PgResult r = c.ExecParams(
          "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", {slot_}, what);
      if (PQntuples(r.get()) == 0) break;
      result.slot_found = true;
      const std::optional<std::string> pid = GetText(r.get(), 0, 0);
      if (!pid) {
        PgResult d = c.ExecParams(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = $1",
            {slot_}, what);
        result.slot_dropped = PQntuples(d.get()) > 0;
        break;
      }
      if (attempt >= 100) {
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("{}: the slot is in use by process {} on {}; stop whatever "
                                "reads it (another Ferry task?) and try again",
                                what, *pid, c.where()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (options_.owns_publication) {
    const std::string pwhat = "dropping publication " + publication_;
    PgResult p = c.ExecParams(
        "SELECT obj_description(oid, 'pg_publication') FROM pg_publication WHERE pubname = $1",
        {publication_}, pwhat);
    if (PQntuples(p.get()) > 0) {
      result.publication_found = true;
      const std::optional<cdc::CaptureOwner> owner =
          cdc::CaptureOwner::Parse(GetText(p.get(), 0, 0).value_or(""));
      // A version-1 task (no id) marked nothing; otherwise only our own publication goes.
      const bool ours = options_.task_id.empty() || (owner && owner->task_id == options_.task_id);
      if (ours) {
        c.Exec("DROP PUBLICATION IF EXISTS " + QuoteIdent(publication_), pwhat);
        result.publication_dropped = true;
      } else {
        logging::For(LogComponentId::kSourceCapture)
            .warn("publication {} is not task '{}''s (it belongs to {}): kept", publication_,
                  options_.task, owner ? owner->Describe() : "no Ferry task");
      }
    }
  }
  return result;
}

std::vector<cdc::CaptureObject> PgChangeCapture::ListObjects() {
  PgConnection& c = Sql();
  const std::string what = "listing Ferry's replication slots and publications";
  std::vector<cdc::CaptureObject> out;
  std::map<std::string, cdc::CaptureOwner> by_slot;
  PgResult p = c.Exec(
      "SELECT pubname, obj_description(oid, 'pg_publication') FROM pg_publication ORDER BY 1",
      what);
  for (int i = 0; i < PQntuples(p.get()); ++i) {
    std::optional<cdc::CaptureOwner> owner =
        cdc::CaptureOwner::Parse(GetText(p.get(), i, 1).value_or(""));
    const std::string name = *GetText(p.get(), i, 0);
    if (!owner && name.rfind("ferry_", 0) != 0) continue;
    cdc::CaptureObject o;
    o.kind = "publication";
    o.name = name;
    o.owner = owner;
    if (owner && !owner->slot.empty()) by_slot[owner->slot] = *owner;
    out.push_back(std::move(o));
  }
  PgResult r = c.Exec(
      "SELECT slot_name, active, coalesce(confirmed_flush_lsn::text, '0/0'), "
      "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, 0)::text "
      "FROM pg_replication_slots WHERE slot_type = 'logical' AND database = current_database() "
      "AND NOT temporary ORDER BY 1",
      what);
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    const std::string name = *GetText(r.get(), i, 0);
    auto it = by_slot.find(name);
    if (it == by_slot.end() && name.rfind("ferry_", 0) != 0) continue;
    cdc::CaptureObject o;
    o.kind = "slot";
    o.name = name;
    if (it != by_slot.end()) o.owner = it->second;
    o.active = *GetText(r.get(), i, 1) == "t";
    o.confirmed = *GetText(r.get(), i, 2);
    o.retained_bytes = std::stoll(*GetText(r.get(), i, 3));
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace ferry::postgres
