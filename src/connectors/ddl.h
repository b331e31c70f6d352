// The parts of CREATE TABLE and CREATE UNIQUE INDEX every engine spells the same way; each
// connector's Dialect adds its own types, quoting and table options around them.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/table_def.h"

namespace ferry {

using QuoteFn = std::function<std::string(std::string_view)>;

// "\"a\", \"b\"" from {"a", "b"} with the engine's identifier quoting.
std::string QuotedList(const std::vector<std::string>& names, const QuoteFn& quote);

// "CREATE TABLE <qualified_name> (<col> <type> [NOT NULL], ..., PRIMARY KEY (...))".
// `column_type(i)` is the DDL type of column i (empty = none, as SQLite allows);
// `not_null(i)` says whether column i is NOT NULL. Ferry extension: a column's
// `create_default` becomes "DEFAULT <it>" and the table's `create_table_clauses` are appended
// after the primary key (both already in the target's SQL; empty unless src/schema/ set them).
// Table options go after, by the caller.
std::string CreateTableSql(const TableDef& table, const std::string& qualified_name,
                           const QuoteFn& quote,
                           const std::function<std::string(size_t)>& column_type,
                           const std::function<bool(size_t)>& not_null);

// "CREATE UNIQUE INDEX <quoted index_name> ON <qualified_table> (<columns>)".
std::string CreateUniqueIndexSql(const std::string& index_name, const std::string& qualified_table,
                                 const IndexDef& index, const QuoteFn& quote);

}  // namespace ferry
