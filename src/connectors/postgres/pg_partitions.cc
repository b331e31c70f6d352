#include "connectors/postgres/pg_partitions.h"

#include <fmt/format.h>

#include "connectors/postgres/pg_types.h"

namespace ferry::postgres {

namespace {

class PgSnapshot : public SourceSnapshot {
 public:
  PgSnapshot(std::unique_ptr<PgConnection> conn, std::string id)
      : conn_(std::move(conn)), id_(std::move(id)) {}
  ~PgSnapshot() override {
    // Read only: ending it any way is fine; a broken connection is simply closed.
    PgResult r(PQexec(conn_->get(), "COMMIT"));
  }
  const std::string& id() const override { return id_; }

 private:
  std::unique_ptr<PgConnection> conn_;
  std::string id_;
};

}  // namespace

bool IsPartitionedParent(PgConnection& conn, const TableDef& table, const std::string& what) {
  PgResult kind = conn.ExecParams(
      "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = $1 AND c.relname = $2",
      {table.schema, table.name}, what);
  if (PQntuples(kind.get()) != 1) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("table {} not found on {}", table.QualifiedName(), conn.where()));
  }
  return *GetText(kind.get(), 0, 0) == "p";
}

std::vector<PartitionInfo> ListPgPartitions(PgConnection& conn, const TableDef& table) {
  const std::string what = "listing the partitions of " + table.QualifiedName();
  if (!IsPartitionedParent(conn, table, what)) return {};
  PgResult r = conn.ExecParams(
      "SELECT n.nspname, c.relname, c.reltuples::int8 "
      "FROM pg_partition_tree(format('%I.%I', $1::text, $2::text)::regclass) t "
      "JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE t.isleaf ORDER BY n.nspname, c.relname",
      {table.schema, table.name}, what);
  std::vector<PartitionInfo> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    PartitionInfo p;
    p.schema = *GetText(r.get(), i, 0);
    p.name = *GetText(r.get(), i, 1);
    p.estimated_rows = std::stoll(GetText(r.get(), i, 2).value_or("-1"));
    out.push_back(std::move(p));
  }
  return out;
}

void BeginReadTransaction(PgConnection& conn, const std::string& snapshot,
                          const std::string& what) {
  conn.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", what);
  if (snapshot.empty()) return;
  // Exported ids look like 00000003-0000001B-1; refuse anything else rather than quote it.
  if (snapshot.find_first_not_of("0123456789ABCDEFabcdef-") != std::string::npos) {
    conn.Exec("ROLLBACK", what);
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{}: '{}' is not a PostgreSQL snapshot id", what, snapshot));
  }
  try {
    conn.Exec("SET TRANSACTION SNAPSHOT " + QuoteLiteral(snapshot),
              fmt::format("{} in snapshot {}", what, snapshot));
  } catch (...) {
    PgResult r(PQexec(conn.get(), "ROLLBACK"));
    throw;
  }
}

namespace {

std::unique_ptr<SourceSnapshot> ExportFrom(const EndpointUri& uri, const std::string& imported,
                                           const std::string& what) {
  std::unique_ptr<PgConnection> conn = PgConnection::Connect(uri);
  BeginReadTransaction(*conn, imported, what);
  PgResult r = conn->Exec("SELECT pg_export_snapshot()", what);
  std::string id = GetText(r.get(), 0, 0).value_or("");
  return std::make_unique<PgSnapshot>(std::move(conn), std::move(id));
}

}  // namespace

std::unique_ptr<SourceSnapshot> OpenPgSnapshot(const EndpointUri& uri) {
  return ExportFrom(uri, "", "exporting a snapshot for parallel segment readers");
}

std::unique_ptr<SourceSnapshot> HoldPgSnapshot(const EndpointUri& uri, const std::string& exported,
                                               const std::string& what) {
  return ExportFrom(uri, exported, what);
}

}  // namespace ferry::postgres
