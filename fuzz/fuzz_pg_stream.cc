// Fuzzes PostgreSQL capture's stream path without a server: the input is a stream file
// (connectors/postgres/pg_replication_stream.h: header, then length-framed CopyData messages,
// the recorded form of what the server sends on a replication connection), replayed by a
// FileReplicationStream through PgChangeStream, the core PgChangeCapture runs: the XLogData
// and keepalive framing, pgoutput decoding with its stream state, Relation messages (tables
// matched by name, columns retyped from a fixed type table), transactions, streamed
// transactions and aborts, positions and status updates.
//
// The tables are those of tests/fixtures/pgoutput/ (pgo_fix.items, notes, evolve, big), so the
// recorded fixtures in the corpus reach deep. Invariants: no crash, no sanitizer report; every
// error is a ferry::Error of kind kData or kUnsupported (malformed input), or kNotFound (a type
// OID outside the fixed table); every record delivered reads back with cdc::ChangeReader as
// exactly one change; every status update reports one position in write, flush and apply,
// never past what was confirmed (nothing is: the start position).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "change/change.h"
#include "connectors/postgres/pg_change_stream.h"
#include "connectors/postgres/pg_replication_stream.h"
#include "connectors/postgres/pg_types.h"

namespace {

using namespace ferry;
using namespace ferry::postgres;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz_pg_stream: %s\n", what);
  std::abort();
}

struct KnownType {
  uint32_t oid;
  const char* name;
  char category;
};
constexpr KnownType kTypes[] = {
    {16, "boolean", 'B'},
    {17, "bytea", 'U'},
    {20, "bigint", 'N'},
    {21, "smallint", 'N'},
    {23, "integer", 'N'},
    {25, "text", 'S'},
    {701, "double precision", 'N'},
    {1043, "character varying", 'S'},
    {1082, "date", 'D'},
    {1114, "timestamp without time zone", 'D'},
    {1184, "timestamp with time zone", 'D'},
    {1700, "numeric", 'N'},
};

ColumnDef Typed(const std::string& name, uint32_t oid) {
  for (const KnownType& t : kTypes) {
    if (t.oid != oid) continue;
    PgTypeInfo info;
    info.formatted = t.name;
    info.oid = oid;
    info.category = t.category;
    ColumnDef c;
    c.name = name;
    c.native_type = t.name;
    c.native_id = oid;
    c.type = MapPgType(info).type;
    return c;
  }
  throw Error(ErrorKind::kNotFound, "type OID " + std::to_string(oid) + " is not known here");
}

class FixedTypes : public PgChangeStream::Source {
 public:
  uint32_t BaseType(uint32_t oid) override { return oid; }
  ColumnDef ColumnOfType(const std::string& name, uint32_t oid, int32_t) override {
    return Typed(name, oid);
  }
};

TableDef Table(const char* name, std::initializer_list<std::pair<const char*, uint32_t>> cols,
               bool keyed = true) {
  TableDef t;
  t.engine = Engine::kPostgres;
  t.schema = "pgo_fix";
  t.name = name;
  for (const auto& [n, oid] : cols) t.columns.push_back(Typed(n, oid));
  if (keyed) t.primary_key = {t.columns[0].name};
  return t;
}

const std::vector<TableDef>& Tables() {
  static const std::vector<TableDef>* tables = new std::vector<TableDef>{
      Table("items", {{"id", 23},
                      {"name", 25},
                      {"qty", 21},
                      {"price", 1700},
                      {"ok", 16},
                      {"at", 1184},
                      {"data", 17},
                      {"big", 25}}),
      Table("notes", {{"k", 25}, {"v", 23}}, false),
      Table("evolve", {{"id", 23}, {"a", 25}}),
      Table("big", {{"id", 23}}),
  };
  return *tables;
}

class CheckingSink : public cdc::CaptureSink {
 public:
  void OnBegin(uint32_t) override {}
  void OnChange(uint32_t, std::string_view record) override { Check(record); }
  void OnStreamedChange(uint32_t, uint32_t, std::string_view record) override { Check(record); }
  void OnCommit(const cdc::TransactionInfo&) override {}
  void OnTableChanged(uint32_t table, const TableDef&, const cdc::Position&) override {
    if (table >= Tables().size()) Fail("OnTableChanged for a table that is not one");
  }

 private:
  static void Check(std::string_view record) {
    cdc::ChangeReader reader(record);
    cdc::ChangeView v;
    if (!reader.Next(&v)) Fail("an empty change record");
    if (v.table >= Tables().size()) Fail("a change of a table that is not one");
    if (reader.Next(&v)) Fail("a change record holding two changes");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FixedTypes types;
  CheckingSink sink;
  Lsn start = 0;
  const FileReplicationStream* file = nullptr;
  try {
    auto stream = std::make_unique<FileReplicationStream>(
        std::string(reinterpret_cast<const char*>(data), size), "fuzz input");
    file = stream.get();
    start = stream->header().start;
    PgChangeStream core({"fuzz_slot", "fuzz_pub", "fuzz"}, Tables(), types);
    const StreamFileHeader header = stream->header();
    core.Start(std::move(stream), header.start, header.proto_version, header.server_end);
    // A replayed stream never waits: Poll returns at the file's end, long before a minute.
    core.Poll(sink, std::chrono::seconds(60));
    core.Poll(sink, std::chrono::seconds(60));  // at the end: idle, never a crash
    for (const FileReplicationStream::SentStatus& s : file->sent()) {
      if (s.status.write != start || s.status.flush != start || s.status.apply != start) {
        Fail("a status update reports a position nobody confirmed");
      }
    }
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kData && e.kind() != ErrorKind::kUnsupported &&
        e.kind() != ErrorKind::kNotFound) {
      std::fprintf(stderr, "fuzz_pg_stream: unexpected error kind: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
