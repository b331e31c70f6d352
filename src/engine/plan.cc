#include "engine/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace ferry {

namespace {

// '*' and '%' match any run (including empty); everything else literally.
bool Glob(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '*' || pattern[p] == '%')) {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && (pattern[p] == '*' || pattern[p] == '%')) ++p;
  return p == pattern.size();
}

bool HasWildcard(const std::string& s) { return s.find_first_of("*%") != std::string::npos; }

bool PatternMatches(const std::string& pattern, const TableDef& table) {
  size_t dot = pattern.find('.');
  if (dot == std::string::npos) return Glob(pattern, table.name);
  return Glob(pattern.substr(0, dot), table.schema) && Glob(pattern.substr(dot + 1), table.name);
}

}  // namespace

bool TableSelected(const TableDef& table, const std::vector<std::string>& patterns) {
  if (patterns.empty()) return true;
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return PatternMatches(p, table); });
}

TableDef MapTable(const TableDef& source, Engine source_engine, const Connector& target,
                  const std::string& target_schema) {
  TableDef out;
  out.engine = target.engine();
  out.schema = !target_schema.empty()
                   ? target_schema
                   : target.DefaultTargetSchema(source.schema, source_engine);
  out.name = source.name;
  out.primary_key = source.primary_key;
  if (source.primary_key.empty()) out.unique_indexes = source.unique_indexes;
  out.estimated_rows = source.estimated_rows;
  out.estimated_bytes = source.estimated_bytes;
  std::set<std::string> key_columns(out.primary_key.begin(), out.primary_key.end());
  for (const IndexDef& index : out.unique_indexes) {
    key_columns.insert(index.columns.begin(), index.columns.end());
  }
  const Dialect& dialect = target.dialect();
  for (const ColumnDef& column : source.columns) {
    out.columns.push_back(
        dialect.MapColumn(column, source_engine, key_columns.count(column.name) > 0));
  }
  // SQLite index names are database-wide; MySQL's are per table. Prefix with the table name so
  // two source tables with an index of the same name cannot collide on the target.
  if (target.engine() == Engine::kSqlite || source_engine == Engine::kMysql) {
    for (IndexDef& index : out.unique_indexes) {
      if (index.name.rfind(out.name + "_", 0) != 0) index.name = out.name + "_" + index.name;
    }
  }
  return out;
}

std::vector<TablePlan> PlanTables(const std::vector<TableDef>& source_tables, Engine source_engine,
                                  const Connector& target, const std::string& target_schema,
                                  const std::vector<std::string>& patterns) {
  for (const std::string& pattern : patterns) {
    if (HasWildcard(pattern)) continue;
    bool found = std::any_of(source_tables.begin(), source_tables.end(),
                             [&](const TableDef& t) { return PatternMatches(pattern, t); });
    if (!found) {
      throw Error(ErrorKind::kNotFound,
                  fmt::format("table '{}' was selected but does not exist on the source", pattern));
    }
  }
  std::vector<TablePlan> plans;
  std::map<std::string, std::string> landed;  // target name -> source name
  for (const TableDef& source : source_tables) {
    if (!TableSelected(source, patterns)) continue;
    TablePlan plan{source, MapTable(source, source_engine, target, target_schema)};
    auto [it, inserted] = landed.emplace(plan.target.QualifiedName(), source.QualifiedName());
    if (!inserted) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("source tables {} and {} would both land on target table {}; "
                              "select one of them or set a different target schema",
                              it->second, source.QualifiedName(), plan.target.QualifiedName()));
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

}  // namespace ferry
