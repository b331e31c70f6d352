// Records the replication streams of tests/fixtures/pgoutput/ from the real server (README
// there), and checks the seam under PostgreSQL capture: a stream recorded from the live
// capture and replayed through PgChangeStream from the file (with the recorded column types,
// no server) delivers exactly what the live capture delivered, event by event.
//
// FERRY_RECORD_PGOUTPUT_DIR=<dir> writes the recordings there (tests/fixtures/pgoutput to
// re-record the fixtures); without it they go to a temporary directory and are removed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "catalog/table_def_json.h"
#include "connectors/postgres/pg_capture.h"
#include "connectors/postgres/pg_catalog.h"
#include "connectors/postgres/pg_change_stream.h"
#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_replication_stream.h"
#include "connectors/postgres/pgoutput.h"
#include "support/recorded_types.h"
#include "test_env.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;
using postgres::FileReplicationStream;
using postgres::PgChangeCapture;
using postgres::PgChangeStream;

std::string Hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

// Every event but OnIdle (its timing is the poll loop's) as one line.
class EventLog : public cdc::CaptureSink {
 public:
  void OnBegin(uint32_t xid) override { Add("begin {}", xid); }
  void OnChange(uint32_t xid, std::string_view record) override {
    Add("change {} {}", xid, Hex(record));
  }
  void OnStreamedChange(uint32_t xid, uint32_t subxid, std::string_view record) override {
    Add("streamed {} {} {}", xid, subxid, Hex(record));
  }
  void OnCommit(const cdc::TransactionInfo& t) override {
    ++commits;
    Add("commit {} {} {} {}", t.xid, Hex(t.commit_position.bytes()), Hex(t.end_position.bytes()),
        t.commit_time_us);
  }
  void OnAbort(uint32_t xid, uint32_t subxid) override { Add("abort {} {}", xid, subxid); }
  void OnTableChanged(uint32_t table, const TableDef& def, const cdc::Position& commit) override {
    Add("table {} {} {}", table, TableDefToJson(def), Hex(commit.bytes()));
  }
  void OnTableChangedInTransaction(uint32_t table, const TableDef& def, uint32_t xid) override {
    Add("table-in-txn {} {} {}", table, TableDefToJson(def), xid);
  }
  void OnTableDropped(uint32_t table) override { Add("dropped {}", table); }

  template <typename... Args>
  void Add(fmt::format_string<Args...> f, Args&&... args) {
    events.push_back(fmt::format(f, std::forward<Args>(args)...));
  }
  std::vector<std::string> events;
  size_t commits = 0;
};

using test_support::RecordedTypes;

struct Scenario {
  std::string name;
  std::string ddl;
  std::vector<std::string> tables;  // in schema pgo_fix
  // Each its own statement or transaction, in autocommit; one starting "2> " runs on a second
  // session (a transaction of its own while the first session's is open).
  std::vector<std::string> sql;
  size_t commits = 0;               // transactions the SQL commits with changes of the tables
  PgChangeCapture::ValueFormat format = PgChangeCapture::ValueFormat::kAuto;
  std::string pgoptions;  // for the replication connection
};

const char* kItemsDdl =
    "CREATE TABLE pgo_fix.items (id integer PRIMARY KEY, name text, qty smallint, "
    "price numeric(10,2), ok boolean, at timestamptz, data bytea, big text);"
    // Out of line and uncompressed: an update that leaves it alone sends it as unchanged.
    "ALTER TABLE pgo_fix.items ALTER COLUMN big SET STORAGE EXTERNAL;"
    "CREATE TABLE pgo_fix.notes (k text, v integer);"
    "ALTER TABLE pgo_fix.notes REPLICA IDENTITY FULL";

const std::vector<std::string> kDml = {
    std::string("INSERT INTO pgo_fix.items VALUES (1, 'one', 1, 1.50, true, ") +
        "'2024-02-29 12:00:00+02', '\\x00ff', repeat('x', 2100)), (2, NULL, NULL, NULL, NULL, "
        "NULL, NULL, NULL)",
    "UPDATE pgo_fix.items SET qty = 5, name = 'uno' WHERE id = 1",
    "UPDATE pgo_fix.items SET id = 3 WHERE id = 2",
    std::string("BEGIN; INSERT INTO pgo_fix.notes VALUES ('a', 1), ('b', NULL); ") +
        "UPDATE pgo_fix.notes SET v = 2 WHERE k = 'a'; DELETE FROM pgo_fix.notes WHERE k = 'b'; "
        "COMMIT",
    "DELETE FROM pgo_fix.items WHERE id = 1",
};

std::vector<Scenario> Scenarios() {
  std::vector<Scenario> out;
  out.push_back({"dml_text",
                 kItemsDdl,
                 {"items", "notes"},
                 kDml,
                 5,
                 PgChangeCapture::ValueFormat::kText,
                 ""});
  out.push_back({"dml_binary",
                 kItemsDdl,
                 {"items", "notes"},
                 kDml,
                 5,
                 PgChangeCapture::ValueFormat::kBinary,
                 ""});
  out.push_back({"ddl_truncate",
                 "CREATE TABLE pgo_fix.evolve (id integer PRIMARY KEY, a text)",
                 {"evolve"},
                 {"INSERT INTO pgo_fix.evolve VALUES (1, 'a')",
                  "ALTER TABLE pgo_fix.evolve ADD COLUMN b integer",
                  "INSERT INTO pgo_fix.evolve VALUES (2, 'b', 20)",
                  std::string("BEGIN; INSERT INTO pgo_fix.evolve VALUES (3, 'c', 30); ") +
                      "ALTER TABLE pgo_fix.evolve ADD COLUMN c text; "
                      "INSERT INTO pgo_fix.evolve VALUES (4, 'd', 40, 'dd'); COMMIT",
                  std::string("BEGIN; UPDATE pgo_fix.evolve SET a = 'z' WHERE id = 1; ") +
                      "ALTER TABLE pgo_fix.evolve DROP COLUMN b; "
                      "UPDATE pgo_fix.evolve SET a = 'y' WHERE id = 2; COMMIT",
                  "TRUNCATE pgo_fix.evolve"},
                 5,
                 PgChangeCapture::ValueFormat::kAuto,
                 ""});
  // Over logical_decoding_work_mem (64kB, the least it can be): streamed in blocks before the
  // commit; the savepoint's rows are streamed too before it is rolled back.
  out.push_back({"streamed",
                 "CREATE TABLE pgo_fix.big (id integer PRIMARY KEY)",
                 {"big"},
                 {"BEGIN; INSERT INTO pgo_fix.big SELECT generate_series(1, 450); SAVEPOINT a; "
                  "INSERT INTO pgo_fix.big SELECT generate_series(1001, 1450); "
                  "ROLLBACK TO SAVEPOINT a; INSERT INTO pgo_fix.big VALUES (2001), (2002); "
                  "COMMIT"},
                 1,
                 PgChangeCapture::ValueFormat::kAuto,
                 "-c logical_decoding_work_mem=64kB"});
  // A whole transaction alters a table between its own changes while another is streamed
  // open: the streamed one changed that table only in a subtransaction it rolled back (which
  // released its lock and let the ALTER in), so the whole one carries a shape record between
  // its changes and nothing is suspended.
  out.push_back({"streamed_concurrent_alter",
                 "CREATE TABLE pgo_fix.big (id integer PRIMARY KEY); "
                 "CREATE TABLE pgo_fix.evolve (id integer PRIMARY KEY, a text, b integer); "
                 "INSERT INTO pgo_fix.evolve VALUES (1, 'a', 10), (2, 'b', 20)",
                 {"big", "evolve"},
                 {"BEGIN", "INSERT INTO pgo_fix.big SELECT generate_series(1, 450)", "SAVEPOINT a",
                  "UPDATE pgo_fix.evolve SET a = 's' WHERE id = 1",
                  "INSERT INTO pgo_fix.big SELECT generate_series(1001, 2000)",
                  "ROLLBACK TO SAVEPOINT a", "2> SET lock_timeout = '10s'",
                  std::string("2> BEGIN; UPDATE pgo_fix.evolve SET a = 'z' WHERE id = 1; ") +
                      "ALTER TABLE pgo_fix.evolve DROP COLUMN b; "
                      "UPDATE pgo_fix.evolve SET a = 'y' WHERE id = 2; COMMIT",
                  "INSERT INTO pgo_fix.big VALUES (2001)", "COMMIT"},
                 2,
                 PgChangeCapture::ValueFormat::kAuto,
                 "-c logical_decoding_work_mem=64kB"});
  return out;
}

class PgoutputFixtures : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    pg_ = Open(PostgresUri());
    s_ = pg_->OpenSession();
    if (s_->Query("SHOW wal_level")[0][0].value_or("") != "logical") {
      GTEST_SKIP() << "wal_level is not logical on the test server";
    }
    if (std::stoi(*s_->Query("SHOW server_version_num")[0][0]) < 150000) {
      GTEST_SKIP() << "the fixtures are recorded from PostgreSQL 15 or newer";
    }
    const char* dir = std::getenv("FERRY_RECORD_PGOUTPUT_DIR");
    if (dir != nullptr && *dir != '\0') {
      dir_ = dir;
    } else {
      dir_ = fs::temp_directory_path() / fmt::format("ferry-pgoutput-{}", ::getpid());
      temporary_ = true;
    }
    fs::create_directories(dir_);
    Cleanup();
  }
  void TearDown() override {
    if (s_) Cleanup();
    if (temporary_) fs::remove_all(dir_);
  }
  void Cleanup() {
    s_->Execute(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
        "WHERE slot_name LIKE 'pgo\\_fix\\_%' AND NOT active");
    for (const auto& row :
         s_->Query("SELECT pubname FROM pg_publication WHERE pubname LIKE 'pgo\\_fix\\_%'")) {
      s_->Execute("DROP PUBLICATION IF EXISTS " + *row[0]);
    }
    s_->Execute("DROP SCHEMA IF EXISTS pgo_fix CASCADE");
  }

  // Records `sc` live into <dir>/<name>.pgstream (with .tables.json and .types.json), then
  // replays it and compares.
  void RecordAndReplay(const Scenario& sc);

  std::unique_ptr<SqlConnector> pg_;
  std::unique_ptr<SqlSession> s_;
  fs::path dir_;
  bool temporary_ = false;
};

void PgoutputFixtures::RecordAndReplay(const Scenario& sc) {
  SCOPED_TRACE(sc.name);
  Cleanup();
  s_->Execute("CREATE SCHEMA pgo_fix; " + sc.ddl);
  std::vector<TableDef> tables;
  for (const std::string& t : sc.tables)
    tables.push_back(pg_->OpenCatalog()->GetTable("pgo_fix", t));
  cdc::CaptureOptions o;
  o.task = "pgo_fix_" + sc.name;
  o.slot = o.task;
  o.publication = o.task;
  o.new_slot = true;
  o.tables = tables;
  o.heartbeat = std::chrono::seconds(0);
  o.retained_wal_warning_bytes = 0;
  const fs::path stream_path = dir_ / (sc.name + ".pgstream");
  // A short wal_sender_timeout makes the server ask for replies (keepalives with the reply
  // flag) within the recording.
  struct Env {
    explicit Env(const std::string& options) { ::setenv("PGOPTIONS", options.c_str(), 1); }
    ~Env() { ::unsetenv("PGOPTIONS"); }
  };
  auto env = std::make_unique<Env>(sc.pgoptions + " -c wal_sender_timeout=2s");
  EventLog live;
  {
    PgChangeCapture cap(ParseEndpointUri(PostgresUri()).ValueOrThrow(), o);
    cap.set_value_format(sc.format);
    cap.CheckPrerequisites();
    const cdc::PrepareResult prep = cap.Prepare();
    cap.set_stream_recording(stream_path.string());
    cap.Start(prep.start);
    std::unique_ptr<SqlSession> second;
    for (const std::string& sql : sc.sql) {
      if (sql.rfind("2> ", 0) == 0) {
        if (!second) second = pg_->OpenSession();
        second->Execute(sql.substr(3));
      } else {
        s_->Execute(sql);
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (live.commits < sc.commits && std::chrono::steady_clock::now() < deadline) {
      cap.Poll(live, std::chrono::milliseconds(200));
    }
    // Long enough for the server to ask for a reply once (wal_sender_timeout / 2).
    cap.Poll(live, std::chrono::milliseconds(1500));
    cap.DropObjects();
  }
  env.reset();
  ASSERT_EQ(live.commits, sc.commits) << "the transactions did not arrive in 60 s";

  {
    std::ofstream out(dir_ / (sc.name + ".tables.json"), std::ios::trunc);
    for (const TableDef& t : tables) out << TableDefToJson(t) << "\n";
  }
  // Every column type the Relation messages name, typed by the server now.
  std::unique_ptr<FileReplicationStream> file = FileReplicationStream::Open(stream_path.string());
  {
    postgres::PgCatalogReader catalog(
        postgres::PgConnection::Connect(ParseEndpointUri(PostgresUri()).ValueOrThrow()));
    TableDef types;
    types.engine = Engine::kPostgres;
    types.name = "types";
    pgoutput::Decoder decoder(file->header().proto_version);
    std::string_view m;
    while (file->Next(std::chrono::milliseconds(0), &m) ==
           postgres::ReplicationStream::Read::kMessage) {
      if (m[0] != 'w') continue;
      Result<pgoutput::Message> d = decoder.Decode(m.substr(25));
      ASSERT_TRUE(d.ok()) << d.error().what();
      const auto* rel = std::get_if<pgoutput::Relation>(&d.value());
      if (rel == nullptr) continue;
      for (const pgoutput::RelationColumn& c : rel->columns) {
        const std::string key = fmt::format("{}/{}", c.type_oid, c.type_modifier);
        if (types.ColumnIndex(key) >= 0) continue;
        types.columns.push_back(catalog.ColumnOfType(key, c.type_oid, c.type_modifier));
      }
    }
    std::ofstream out(dir_ / (sc.name + ".types.json"), std::ios::trunc);
    out << TableDefToJson(types) << "\n";
  }

  // Replayed from the files alone.
  std::ifstream in(dir_ / (sc.name + ".types.json"));
  std::stringstream types_json;
  types_json << in.rdbuf();
  RecordedTypes types(TableDefFromJson(types_json.str(), "recorded types"));
  file = FileReplicationStream::Open(stream_path.string());
  FileReplicationStream* replay = file.get();
  const postgres::StreamFileHeader header = file->header();
  EXPECT_EQ(header.binary, sc.format != PgChangeCapture::ValueFormat::kText);
  EXPECT_TRUE(header.streaming);
  PgChangeStream stream({o.slot, o.publication, o.task}, tables, types);
  stream.Start(std::move(file), header.start, header.proto_version, header.server_end);
  EventLog replayed;
  stream.Poll(replayed, std::chrono::seconds(10));
  EXPECT_EQ(replay->messages_read(), [&] {
    auto again = FileReplicationStream::Open(stream_path.string());
    size_t n = 0;
    std::string_view m;
    while (again->Next(std::chrono::milliseconds(0), &m) ==
           postgres::ReplicationStream::Read::kMessage) {
      ++n;
    }
    return n;
  }());
  ASSERT_EQ(replayed.events.size(), live.events.size());
  for (size_t i = 0; i < live.events.size(); ++i) {
    EXPECT_EQ(replayed.events[i], live.events[i]) << "event " << i;
  }
  if (!temporary_) {
    std::fprintf(stderr, "recorded %s: %zu bytes, %zu messages, %zu events\n", stream_path.c_str(),
                 static_cast<size_t>(fs::file_size(stream_path)), replay->messages_read(),
                 live.events.size());
  }
}

TEST_F(PgoutputFixtures, ReplayDeliversWhatTheLiveStreamDelivered) {
  for (const Scenario& sc : Scenarios()) {
    RecordAndReplay(sc);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace ferry::testing
