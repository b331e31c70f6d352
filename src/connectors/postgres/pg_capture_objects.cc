// PgChangeCapture's source objects and start: prerequisites, the publication, the slot (and
// the wait for open transactions its creation makes), exported snapshots, the task's lock,
// listing and dropping what Ferry created. The stream is started in pg_capture.cc and read
// by PgChangeStream (pg_change_stream.cc).
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
#include "connectors/postgres/pg_capture.h"
#include "connectors/postgres/pg_capture_internal.h"
#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_partitions.h"
#include "connectors/postgres/pg_types.h"
#include "logging/log.h"

namespace ferry::postgres {

using namespace capture_internal;

namespace {

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

std::string SqlName(const std::string& schema, const std::string& name) {
  const std::string s = PlainIdent(schema) ? schema : DoubleQuoteIdent(schema);
  const std::string n = PlainIdent(name) ? name : DoubleQuoteIdent(name);
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
    p.push_back(
        fmt::format("user '{}' has neither REPLICATION nor SUPERUSER: run ALTER ROLE {} "
                    "REPLICATION as a superuser",
                    f.user, PlainIdent(f.user) ? f.user : DoubleQuoteIdent(f.user)));
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
                              DoubleQuoteIdent(publication_), missing));
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
    c.Exec(fmt::format("CREATE PUBLICATION {} FOR TABLE {}{}", DoubleQuoteIdent(publication_), list,
                       with),
           what);
    if (!options_.owner.empty()) {
      c.Exec(fmt::format("COMMENT ON PUBLICATION {} IS {}", DoubleQuoteIdent(publication_),
                         QuoteLiteral(options_.owner)),
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
    c.Exec(fmt::format("ALTER PUBLICATION {} SET TABLE {}", DoubleQuoteIdent(publication_), list),
           what);
  }
  if (!with.empty()) {
    c.Exec(fmt::format("ALTER PUBLICATION {} SET (publish_via_partition_root = true)",
                       DoubleQuoteIdent(publication_)),
           what);
  }
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
      fmt::format("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput {}", DoubleQuoteIdent(slot_),
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
    result.snapshot = HoldPgSnapshot(
        uri_, *exported, fmt::format("importing the snapshot {} of slot {}", *exported, slot_));
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
    auto cancel_statement = [&] {
      if (PGcancel* cancel = PQgetCancel(conn)) {
        char buf[256];
        PQcancel(cancel, buf, sizeof buf);
        PQfreeCancel(cancel);
      }
      while (PGresult* left = PQgetResult(conn)) PQclear(left);
      if (options_.on_waiting) options_.on_waiting("");
    };
    if (options_.should_stop && options_.should_stop()) {
      cancel_statement();
      throw Error(ErrorKind::kCancelled,
                  fmt::format("{}: stopped while waiting for the transactions open on the "
                              "source cluster to end",
                              what));
    }
    if (timeout.count() > 0 && now - start >= timeout) {
      const std::string open = OpenTransactionsBefore(start_unix_us);
      cancel_statement();
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
  // The temporary slot goes with its connection, once the snapshot is held elsewhere.
  std::unique_ptr<Replication> temp = Replication::Connect(uri_);
  PgResult r = ExecWaitingForOpenTransactions(
      *temp,
      fmt::format("CREATE_REPLICATION_SLOT {} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT",
                  DoubleQuoteIdent(name)),
      what);
  cdc::PrepareResult result;
  result.slot_created = false;
  result.start = LsnPosition(ParseLsn(GetText(r.get(), 0, 1).value_or("")).value_or(0));
  const std::string exported = GetText(r.get(), 0, 2).value_or("");
  result.snapshot =
      HoldPgSnapshot(uri_, exported,
                     fmt::format("importing the snapshot {} of temporary slot {}", exported, name));
  return result;
}

cdc::DropResult PgChangeCapture::DropObjects() {
  // Our own walsender holds the slot while streaming: end it first.
  stream_.Stop();
  repl_.reset();
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
        c.Exec("DROP PUBLICATION IF EXISTS " + DoubleQuoteIdent(publication_), pwhat);
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
