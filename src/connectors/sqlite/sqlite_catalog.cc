#include "connectors/sqlite/sqlite_catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "connectors/sqlite/sqlite_capture.h"
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

ForeignKeyAction SqliteAction(std::string_view action) {
  if (action == "CASCADE") return ForeignKeyAction::kCascade;
  if (action == "SET NULL") return ForeignKeyAction::kSetNull;
  if (action == "SET DEFAULT") return ForeignKeyAction::kSetDefault;
  if (action == "RESTRICT") return ForeignKeyAction::kRestrict;
  return ForeignKeyAction::kNoAction;
}

// Ferry extension: every index but the primary key (with DESC and expression parts), and the
// foreign keys. SQLite does not name foreign keys in its pragmas: they are named
// "<table>_fk<id>"; a foreign key to the parent's primary key without columns gets the
// parent's key columns; DEFERRABLE is not reported by SQLite and is read as not deferrable.
void ReadSqliteSchemaObjects(Connection& conn, TableDef* table) {
  const std::string quoted = QuoteLiteral(table->name);
  {
    Statement st(conn, "SELECT l.name, l.\"unique\", l.partial, s.sql FROM pragma_index_list(" +
                           quoted + ", 'main') l LEFT JOIN main.sqlite_schema s ON "
                           "s.type = 'index' AND s.name = l.name WHERE l.origin <> 'pk' "
                           "ORDER BY l.name");
    while (st.Step()) {
      SecondaryIndexDef index;
      index.name = std::string(st.ColumnText(0));
      index.unique = st.ColumnInt(1) != 0;
      index.plain = st.ColumnInt(2) == 0;
      index.method = "btree";
      if (!st.ColumnIsNull(3)) index.definition = std::string(st.ColumnText(3));
      Statement cols(conn, "SELECT cid, name, \"desc\" FROM pragma_index_xinfo(" +
                               QuoteLiteral(index.name) + ", 'main') WHERE key = 1 "
                               "ORDER BY seqno");
      while (cols.Step()) {
        IndexColumn part;
        if (cols.ColumnInt(0) >= 0) part.name = std::string(cols.ColumnText(1));
        else index.plain = false;  // expression (-2) or rowid (-1)
        part.descending = cols.ColumnInt(2) != 0;
        index.columns.push_back(std::move(part));
      }
      table->secondary_indexes.push_back(std::move(index));
    }
  }
  Statement st(conn, "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete "
                     "FROM pragma_foreign_key_list(" + quoted + ", 'main') ORDER BY id, seq");
  int64_t last_id = -1;
  while (st.Step()) {
    const int64_t id = st.ColumnInt(0);
    if (id != last_id || table->foreign_keys.empty()) {
      ForeignKeyDef fk;
      fk.name = fmt::format("{}_fk{}", table->name, id);
      fk.ref_schema = "main";
      fk.ref_table = std::string(st.ColumnText(1));
      fk.on_update = SqliteAction(st.ColumnText(4));
      fk.on_delete = SqliteAction(st.ColumnText(5));
      table->foreign_keys.push_back(std::move(fk));
      last_id = id;
    }
    ForeignKeyDef& fk = table->foreign_keys.back();
    fk.columns.emplace_back(st.ColumnText(2));
    if (!st.ColumnIsNull(3)) fk.ref_columns.emplace_back(st.ColumnText(3));
  }
  for (ForeignKeyDef& fk : table->foreign_keys) {
    if (fk.ref_columns.size() == fk.columns.size()) continue;
    // REFERENCES parent without columns: the parent's primary key.
    fk.ref_columns.clear();
    Statement pk(conn, "SELECT name FROM pragma_table_info(" + QuoteLiteral(fk.ref_table) +
                           ", 'main') WHERE pk > 0 ORDER BY pk");
    while (pk.Step()) fk.ref_columns.emplace_back(pk.ColumnText(0));
  }
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
    Statement st(conn, "SELECT name, type, \"notnull\", pk, hidden, dflt_value "
                       "FROM pragma_table_xinfo(" +
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
      // Ferry extension: the default as written; generated columns (hidden 2, 3) have none.
      if (hidden == 0 && !st.ColumnIsNull(5)) col.default_expression = st.ColumnText(5);
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

  ReadSqliteSchemaObjects(conn, &table);

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
  if (rows < 0) rows = conn.QueryInt("SELECT count(*) FROM main." + DoubleQuoteIdent(name), -1);
  table.estimated_rows = rows;
  return table;
}

TableDef ReadSqliteView(Connection& conn, const std::string& name) {
  TableDef view;
  view.engine = Engine::kSqlite;
  view.schema = "main";
  view.name = name;
  view.is_view = true;
  Statement st(conn, "SELECT name, type FROM pragma_table_xinfo(" + QuoteLiteral(name) +
                         ", 'main')");
  while (st.Step()) {
    ColumnDef col;
    col.name = std::string(st.ColumnText(0));
    col.native_type = std::string(st.ColumnText(1));
    col.type = DmsTypeFromDeclared(col.native_type);
    view.columns.push_back(std::move(col));
  }
  if (view.columns.empty()) {
    throw Error(ErrorKind::kSchema,
                fmt::format("view main.{} of SQLite database '{}' has no columns (a view over "
                            "a table that no longer exists?)",
                            name, conn.path()));
  }
  return view;
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
  return List(schema, "table");
}

std::vector<TableDef> SqliteCatalogReader::ListViews(const std::string& schema) {
  return List(schema, "view");
}

std::vector<TableDef> SqliteCatalogReader::List(const std::string& schema, const char* type) {
  CheckSchema(schema);
  std::vector<std::string> names;
  {
    Statement st(conn_, fmt::format("SELECT name FROM pragma_table_list WHERE schema = 'main' "
                                    "AND type = '{}' AND name NOT LIKE 'sqlite\\_%' ESCAPE "
                                    "'\\' ORDER BY name",
                                    type));
    while (st.Step()) names.emplace_back(st.ColumnText(0));
  }
  const bool views = std::string_view(type) == "view";
  if (!views) {
    // A CDC task's change table and its companions (sqlite_capture.h) are Ferry's, not data.
    std::vector<std::string> all = names;
    std::erase_if(names, [&](const std::string& n) { return IsCaptureTable(n, all); });
  }
  // One read transaction so every table is described from the same state of the file.
  conn_.Exec("BEGIN");
  std::vector<TableDef> out;
  try {
    for (const std::string& n : names) {
      out.push_back(views ? ReadSqliteView(conn_, n) : ReadSqliteTable(conn_, n, has_stat1_));
    }
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
