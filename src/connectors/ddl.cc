#include "connectors/ddl.h"

namespace ferry {

std::string QuotedList(const std::vector<std::string>& names, const QuoteFn& quote) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ", ";
    out += quote(names[i]);
  }
  return out;
}

std::string CreateTableSql(const TableDef& table, const std::string& qualified_name,
                           const QuoteFn& quote,
                           const std::function<std::string(size_t)>& column_type,
                           const std::function<bool(size_t)>& not_null) {
  std::string sql = "CREATE TABLE " + qualified_name + " (";
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (i) sql += ", ";
    sql += quote(table.columns[i].name);
    const std::string type = column_type(i);
    if (!type.empty()) sql += " " + type;
    if (not_null(i)) sql += " NOT NULL";
    if (!table.columns[i].create_default.empty()) {
      sql += " DEFAULT " + table.columns[i].create_default;
    }
  }
  if (!table.primary_key.empty()) {
    sql += ", PRIMARY KEY (" + QuotedList(table.primary_key, quote) + ")";
  }
  for (const std::string& clause : table.create_table_clauses) sql += ", " + clause;
  return sql + ")";
}

std::string CreateUniqueIndexSql(const std::string& index_name, const std::string& qualified_table,
                                 const IndexDef& index, const QuoteFn& quote) {
  return "CREATE UNIQUE INDEX " + quote(index_name) + " ON " + qualified_table + " (" +
         QuotedList(index.columns, quote) + ")";
}

}  // namespace ferry
