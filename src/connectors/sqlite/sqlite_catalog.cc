#include "connectors/sqlite/sqlite_catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "connectors/sqlite/sqlite_types.h"

namespace ferry::sqlite {

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

TableDef ReadSqliteTable(Connection& conn, const std::string& name, bool use_stat1) {
  TableDef table;
  table.engine = Engine::kSqlite;
  table.schema = "main";
  table.name = name;
  const std::string quoted = QuoteLiteral(name);

  std::vector<std::pair<int, std::string>> pk;  // (position in key, column)
  {
    Statement st(conn, "SELECT name, type, \"notnull\", pk, hidden FROM pragma_table_xinfo(" +
                           quoted + ", 'main')");
    while (st.Step()) {
      const int hidden = static_cast<int>(st.ColumnInt(4));
      if (hidden == 1) continue;  // virtual-table hidden column
      ColumnDef col;
      col.name = std::string(st.ColumnText(0));
      col.native_type = std::string(st.ColumnText(1));
      col.type = DmsTypeFromDeclared(col.native_type);
      col.nullable = st.ColumnInt(2) == 0;
      col.portable_native = true;
      const int key_pos = static_cast<int>(st.ColumnInt(3));
      if (key_pos > 0) pk.emplace_back(key_pos, col.name);
      table.columns.push_back(std::move(col));
    }
  }
  if (table.columns.empty()) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("table main.{} does not exist in SQLite database '{}'", name,
                            conn.path()));
  }
  std::sort(pk.begin(), pk.end());
  for (auto& [pos, col] : pk) table.primary_key.push_back(col);

  // A rowid table's INTEGER PRIMARY KEY is the rowid itself and never NULL, whatever
  // "notnull" says; a WITHOUT ROWID table enforces NOT NULL on every key column.
  const bool without_rowid =
      conn.QueryInt("SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = " +
                        quoted, 0) != 0;
  if (table.primary_key.size() == 1 || without_rowid) {
    for (const std::string& k : table.primary_key) {
      ColumnDef& c = table.columns[table.ColumnIndex(k)];
      if (without_rowid || IEquals(c.native_type, "INTEGER")) c.nullable = false;
    }
  }

  {
    Statement st(conn, "SELECT name FROM pragma_index_list(" + quoted +
                           ", 'main') WHERE \"unique\" = 1 AND origin IN ('u', 'c') "
                           "AND partial = 0 ORDER BY name");
    while (st.Step()) {
      IndexDef index;
      index.name = std::string(st.ColumnText(0));
      Statement cols(conn, "SELECT cid, name FROM pragma_index_info(" +
                               QuoteLiteral(index.name) + ", 'main') ORDER BY seqno");
      bool plain = true;
      while (cols.Step()) {
        if (cols.ColumnInt(0) < 0) plain = false;  // expression or rowid: not a column set
        index.columns.emplace_back(cols.ColumnText(1));
      }
      if (plain && !index.columns.empty()) table.unique_indexes.push_back(std::move(index));
    }
  }

  int64_t rows = -1;
  if (use_stat1) {
    Statement st(conn, "SELECT stat FROM main.sqlite_stat1 WHERE tbl = " + quoted +
                           " ORDER BY idx IS NOT NULL LIMIT 1");
    if (st.Step() && !st.ColumnIsNull(0)) {
      std::string_view stat = st.ColumnText(0);
      int64_t v = 0;
      auto res = std::from_chars(stat.data(), stat.data() + stat.size(), v);
      if (res.ec == std::errc()) rows = v;
    }
  }
  if (rows < 0) rows = conn.QueryInt("SELECT count(*) FROM main." + QuoteIdent(name), -1);
  table.estimated_rows = rows;
  return table;
}

SqliteCatalogReader::SqliteCatalogReader(const std::string& path)
    : conn_(path, Connection::Mode::kReadOnly) {
  has_stat1_ = conn_.QueryInt("SELECT count(*) FROM main.sqlite_schema WHERE type = 'table' "
                              "AND name = 'sqlite_stat1'") > 0;
}

void SqliteCatalogReader::CheckSchema(const std::string& schema) const {
  if (!schema.empty() && schema != "main") {
    throw Error(ErrorKind::kNotFound,
                fmt::format("SQLite database '{}' has only the schema \"main\", not \"{}\"",
                            conn_.path(), schema));
  }
}

std::vector<TableDef> SqliteCatalogReader::ListTables(const std::string& schema) {
  CheckSchema(schema);
  std::vector<std::string> names;
  {
    Statement st(conn_,
                 "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' "
                 "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name");
    while (st.Step()) names.emplace_back(st.ColumnText(0));
  }
  // One read transaction so every table is described from the same state of the file.
  conn_.Exec("BEGIN");
  std::vector<TableDef> out;
  try {
    for (const std::string& n : names) out.push_back(ReadSqliteTable(conn_, n, has_stat1_));
  } catch (...) {
    sqlite3_exec(conn_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  conn_.Exec("COMMIT");
  return out;
}

TableDef SqliteCatalogReader::GetTable(const std::string& schema, const std::string& name) {
  CheckSchema(schema);
  Statement st(conn_, "SELECT name FROM main.sqlite_schema WHERE type = 'table' AND name = " +
                          QuoteLiteral(name) + " COLLATE NOCASE");
  if (!st.Step()) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("table main.{} does not exist in SQLite database '{}'", name,
                            conn_.path()));
  }
  std::string stored(st.ColumnText(0));
  return ReadSqliteTable(conn_, stored, has_stat1_);
}

std::string SqliteCatalogReader::ServerVersion() {
  return std::string("SQLite ") + sqlite3_libversion();
}

}  // namespace ferry::sqlite
