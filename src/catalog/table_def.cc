#include "catalog/table_def.h"

namespace ferry {

const char* EngineName(Engine engine) {
  switch (engine) {
    case Engine::kPostgres: return "postgresql";
    case Engine::kMysql: return "mysql";
    case Engine::kSqlite: return "sqlite";
  }
  return "unknown";
}

std::vector<std::string> TableDef::RowKey() const {
  if (!primary_key.empty()) return primary_key;
  for (const IndexDef& index : unique_indexes) {
    bool all_not_null = true;
    for (const std::string& c : index.columns) {
      int i = ColumnIndex(c);
      if (i < 0 || columns[i].nullable) all_not_null = false;
    }
    if (all_not_null) return index.columns;
  }
  return {};
}

}  // namespace ferry
