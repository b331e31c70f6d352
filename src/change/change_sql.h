// SQL text for one captured change (change/change.h), for the appliers that write statements
// rather than set-based batches: MySQL/MariaDB (literal values, sent as text) and SQLite
// (parameter placeholders, prepared per statement shape). The appliers differ only in what
// SqlDialect describes; the values come from a callback, so one builder serves literals and
// placeholders alike.
//
// Contract of every builder: columns whose cell is `unchanged` (unchanged TOAST) are left out of
// INSERT column lists and UPDATE SET lists, and out of WHERE conditions; a table without a
// primary key finds its row by every column with a null-safe comparison and touches one row.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/table_def.h"
#include "change/change.h"
#include "types/batch.h"

namespace ferry::cdc {

// Appends the SQL for cell (row, col) of a batch: a literal or a parameter placeholder.
using SqlValueFn = std::function<void(const Batch&, int row, int col, std::string*)>;

struct SqlDialect {
  const char* engine;  // "MySQL", "SQLite": names the table in messages
  std::string (*quote_ident)(std::string_view);
  // Appends a quoted string literal (StatementLiteral).
  void (*append_text_literal)(std::string_view, std::string*);
  bool numeric_literal_bare;  // NUMERIC values written as bare numbers (else quoted)
  // INSERT ... ON DUPLICATE KEY UPDATE c = VALUES(c) (MySQL), or
  // INSERT ... ON CONFLICT (key) DO UPDATE SET c = excluded.c (SQLite).
  bool upsert_on_duplicate_key;
  // A keyless table's UPDATE/DELETE touches one row by ... LIMIT 1 (MySQL), or by
  // rowid = (SELECT rowid ... LIMIT 1) (SQLite).
  bool one_row_by_limit;
};

// A target table as the builders need it.
struct ChangeSqlTable {
  // Throws Error(kSchema) when a primary key column is not one of the table's columns.
  ChangeSqlTable(const TableDef& def, std::string sql_name, const SqlDialect& dialect);

  const TableDef* def;    // must outlive this
  std::string sql_name;   // the table's qualified, quoted name
  std::vector<int> key;   // primary key columns; every column when the table has none
  bool has_pk;
  const SqlDialect* dialect;
};

// INSERT of batch row `row`; with `upsert` (and a primary key) it updates an existing row.
std::string InsertSql(const ChangeSqlTable& t, const Batch& b, int row, bool upsert,
                      const SqlValueFn& value);

// " WHERE ..." finding the row `ch` changes (by its old image when it has one): by the key, or
// (keyless table) by every column, one row. `strict` as for ChangeSql.
std::string WhereSql(const ChangeSqlTable& t, const ChangeView& ch, bool strict,
                     const SqlValueFn& value);

// The statement that applies `ch`. `strict`: a keyless table's update or delete without a full
// old row throws Error(kData) naming REPLICA IDENTITY FULL (else it matches by the new row, for
// logs). TRUNCATE becomes DELETE FROM (TRUNCATE TABLE would commit the open transaction).
std::string ChangeSql(const ChangeSqlTable& t, const ChangeView& ch, bool upsert, bool strict,
                      const SqlValueFn& value);

// Longest value text StatementLiteral writes before shortening it with "...".
constexpr size_t kStatementValueBytes = 200;

// Appends cell (row, col) as a literal for logs and awsdms_apply_exceptions: the canonical text,
// unchecked, long values shortened.
void StatementLiteral(const SqlDialect& dialect, const DmsType& type, const Batch& b, size_t row,
                      int col, std::string* out);

}  // namespace ferry::cdc
