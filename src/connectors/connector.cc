#include "connectors/connector.h"

#include <fmt/format.h>

#include <algorithm>

#include "change/change_applier.h"
#include "change/change_capture.h"
#include "change/position.h"
#include "connectors/mysql/mysql_connector.h"
#include "connectors/postgres/postgres_connector.h"
#include "connectors/sqlite/sqlite_connector.h"
#include "connectors/sqlite/sqlite_types.h"
#include "types/value_codec.h"

namespace ferry {

const Dialect& DialectFor(Engine engine) {
  switch (engine) {
    case Engine::kPostgres:
      return postgres::EngineDialect();
    case Engine::kMysql:
      return mysql::EngineDialect();
    case Engine::kSqlite:
      return sqlite::EngineDialect();
  }
  throw Error(ErrorKind::kInternal, "no dialect for this engine");
}

const char* TablePrepModeName(TablePrepMode mode) {
  switch (mode) {
    case TablePrepMode::kDoNothing: return "DO_NOTHING";
    case TablePrepMode::kDropAndCreate: return "DROP_AND_CREATE";
    case TablePrepMode::kTruncateBeforeLoad: return "TRUNCATE_BEFORE_LOAD";
  }
  return "?";
}

const char* const kDuplicateKeyHint =
    "the target table already has a row with this key (--target-table-prep-mode DO_NOTHING "
    "loads into the rows there; TRUNCATE_BEFORE_LOAD or DROP_AND_CREATE replaces them), or the "
    "source has two rows with it";

std::string DescribeRowKey(const Batch& batch, size_t row, const TableDef& table) {
  std::vector<std::string> key = table.RowKey();
  if (key.empty()) return "(no primary key)";
  std::string out = "(";
  for (size_t k = 0; k < key.size(); ++k) {
    if (k) out += ", ";
    out += key[k] + "=";
    int col = table.ColumnIndex(key[k]);
    if (col < 0 || row * batch.columns() + col >= batch.cell_count()) {
      out += "?";
      continue;
    }
    if (batch.IsNull(row, col)) {
      out += "NULL";
      continue;
    }
    std::string v;
    if (table.columns[col].type.kind == DmsKind::kEngineValue &&
        table.engine == Engine::kSqlite) {
      // A value as stored (storage-class tag + bytes): as SQLite quotes it, 1 or 'a'.
      v = sqlite::QuoteStoredValue(batch.Bytes(row, col));
      out += v.size() > 66 ? v.substr(0, 64) + "..." : v;
      continue;
    }
    AppendCanonical(batch, row, col, table.columns[col].type, &v);
    if (StorageOf(table.columns[col].type.kind) == Storage::kBytes) {
      if (v.size() > 64) v = v.substr(0, 64) + "...";
      out += "'" + v + "'";
    } else {
      out += v;
    }
  }
  return out + ")";
}

void CheckNotNull(const Batch& batch, const TableDef& target) {
  for (size_t c = 0; c < target.columns.size() && static_cast<int>(c) < batch.columns(); ++c) {
    // Primary key columns are NOT NULL whatever the column says.
    const bool in_key = std::find(target.primary_key.begin(), target.primary_key.end(),
                                  target.columns[c].name) != target.primary_key.end();
    if (target.columns[c].nullable && !in_key) continue;
    for (size_t r = 0; r < batch.rows(); ++r) {
      if (!batch.IsNull(r, static_cast<int>(c))) continue;
      throw RowError(static_cast<int>(c), static_cast<int64_t>(r),
                     fmt::format("column \"{}\" is NOT NULL on target table {} and the value is "
                                 "NULL",
                                 target.columns[c].name, target.QualifiedName()),
                     DescribeRowKey(batch, r, target));
    }
  }
}

void TableWriter::BeginSegment(const TableDef& target) {
  throw Error(ErrorKind::kUnsupported,
              fmt::format("this target's writer cannot load table {} one segment per "
                          "transaction",
                          target.QualifiedName()));
}

void TableWriter::EndSegment(const SegmentMark& mark) {
  throw Error(ErrorKind::kUnsupported,
              fmt::format("this target's writer cannot mark segment {} of table {}.{}",
                          mark.segment, mark.schema, mark.table));
}

std::unique_ptr<cdc::ChangeCapture> Connector::OpenChangeCapture(const cdc::CaptureOptions&) {
  throw Error(ErrorKind::kUnsupported,
              fmt::format("change data capture from {} is not supported yet", EngineName(engine())));
}

cdc::Position Connector::PositionAtTime(int64_t unix_micros) {
  (void)unix_micros;
  throw Error(ErrorKind::kUnsupported,
              fmt::format("--cdc-start-time: change data capture from {} cannot start at a "
                          "time; give --cdc-start-position",
                          EngineName(engine())));
}

std::unique_ptr<cdc::ChangeApplier> Connector::OpenChangeApplier() {
  throw Error(ErrorKind::kUnsupported,
              fmt::format("applying changes to {} is not supported yet", EngineName(engine())));
}

SqlConnector& RequireSql(Connector& endpoint, std::string_view what) {
  if (SqlConnector* sql = endpoint.sql()) return *sql;
  throw Error(ErrorKind::kUnsupported,
              fmt::format("{} needs a database endpoint; {} ({}) is not one", what,
                          endpoint.types().DisplayName(), endpoint.uri().Describe()));
}

const SqlConnector& RequireSql(const Connector& endpoint, std::string_view what) {
  return RequireSql(const_cast<Connector&>(endpoint), what);
}

std::unique_ptr<Connector> OpenConnector(const EndpointUri& uri) { return OpenSqlConnector(uri); }

std::unique_ptr<SqlConnector> OpenSqlConnector(const EndpointUri& uri) {
  switch (uri.engine) {
    case Engine::kPostgres: return postgres::OpenPostgresConnector(uri);
    case Engine::kMysql: return mysql::OpenMysqlConnector(uri);
    case Engine::kSqlite: return sqlite::OpenSqliteConnector(uri);
  }
  throw Error(ErrorKind::kInternal, "unknown engine");
}

}  // namespace ferry
