#include "task_model/plan.h"

#include <nlohmann/json.hpp>

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

namespace {

// Fills `out`'s columns from `columns` (source columns already carrying their target names and
// nullability) through the target dialect, knowing which are key columns, and makes unique
// index names safe where the target's index names are not per table.
void MapColumnsAndIndexes(const std::vector<ColumnDef>& columns, Engine source_engine,
                          const Connector& target, TableDef* out) {
  std::set<std::string> key_columns(out->primary_key.begin(), out->primary_key.end());
  for (const IndexDef& index : out->unique_indexes) {
    key_columns.insert(index.columns.begin(), index.columns.end());
  }
  for (const ColumnDef& column : columns) {
    out->columns.push_back(
        target.types().MapColumn(column, source_engine, key_columns.count(column.name) > 0));
  }
  // Index names per database on the target (SQLite), or per table on the source (MySQL): prefix
  // with the table name so two source tables with an index of the same name cannot collide.
  const SqlConnector* sql_target = target.sql();
  if ((sql_target && sql_target->dialect().IndexNameScope() == NameScope::kDatabase) ||
      DialectFor(source_engine).IndexNameScope() == NameScope::kTable) {
    for (IndexDef& index : out->unique_indexes) {
      if (index.name.rfind(out->name + "_", 0) != 0) index.name = out->name + "_" + index.name;
    }
  }
}

// A table copied unchanged to an engine that takes the source's values as stored
// (Dialect::KeepsSourceValue): those columns carry DmsKind::kEngineValue on both sides, so no
// value goes through a DMS type. The target keeps the declared types MapColumn chose.
void KeepSourceValues(Engine source_engine, const Connector& target, TablePlan* plan) {
  if (plan->transform) return;
  for (size_t i = 0; i < plan->target.columns.size() && i < plan->source.columns.size(); ++i) {
    if (!target.types().KeepsSourceValue(source_engine, plan->source.columns[i])) continue;
    plan->source.columns[i].type = DmsType{DmsKind::kEngineValue};
    plan->target.columns[i].type = DmsType{DmsKind::kEngineValue};
  }
}

}  // namespace

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
  MapColumnsAndIndexes(source.columns, source_engine, target, &out);
  return out;
}

namespace {

// Refuses two plans landing on one target table.
void CheckDistinctTargets(const std::vector<TablePlan>& plans) {
  std::map<std::string, std::string> landed;  // target name -> source name
  for (const TablePlan& plan : plans) {
    auto [it, inserted] =
        landed.emplace(plan.target.QualifiedName(), plan.source.QualifiedName());
    if (!inserted) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("source tables {} and {} would both land on target table {}; "
                              "select one of them or set a different target schema",
                              it->second, plan.source.QualifiedName(),
                              plan.target.QualifiedName()));
    }
  }
}

}  // namespace

std::vector<std::string> RangeSegments(const std::vector<std::string>& columns,
                                       const std::vector<std::vector<std::string>>& boundaries,
                                       Engine engine, const QuoteIdentifierFn& quote) {
  std::vector<std::string> quoted;
  quoted.reserve(columns.size());
  for (const std::string& c : columns) quoted.push_back(quote(c));
  const bool single = quoted.size() == 1;
  std::string cols = single ? quoted[0] : "(";
  std::string not_null, any_null;
  for (size_t i = 0; i < quoted.size(); ++i) {
    if (!single) cols += (i ? ", " : "") + quoted[i];
    not_null += (i ? " AND " : "") + quoted[i] + " IS NOT NULL";
    any_null += (i ? " OR " : "") + quoted[i] + " IS NULL";
  }
  if (!single) cols += ")";
  auto row = [&](const std::vector<std::string>& values) {
    std::string out = single ? "" : "(";
    for (size_t i = 0; i < values.size(); ++i) {
      out += (i ? ", " : "") + DialectFor(engine).QuoteLiteral(values[i]);
    }
    return single ? out : out + ")";
  };
  std::vector<std::string> segments;
  for (size_t i = 0; i <= boundaries.size(); ++i) {
    // A row comparison can be true with a NULL in a later column ((5, NULL) > (1, 2)), so every
    // range also requires all columns NOT NULL; the NULL rows go to the last segment only.
    std::string range = not_null;
    if (i > 0) range.append(" AND ").append(cols).append(" > ").append(row(boundaries[i - 1]));
    if (i < boundaries.size()) {
      range.append(" AND ").append(cols).append(" <= ").append(row(boundaries[i]));
    }
    if (i == boundaries.size()) range = std::string("(").append(range).append(") OR ").append(any_null);
    segments.push_back(range);
  }
  return segments;
}

std::vector<TablePlan> PlanFromMappings(const std::vector<MappedTable>& mapped,
                                        const Connector& source, const Connector& target,
                                        const std::string& target_schema) {
  std::vector<TablePlan> plans;
  for (const MappedTable& m : mapped) {
    TablePlan plan;
    plan.load_order = m.load_order;
    plan.source = m.source;
    plan.source.columns.clear();
    TableDef& out = plan.target;
    out.engine = target.engine();
    out.schema = m.target_schema != m.source.schema
                     ? m.target_schema
                     : (!target_schema.empty()
                            ? target_schema
                            : target.DefaultTargetSchema(m.source.schema, source.engine()));
    out.name = m.target_table;
    out.estimated_rows = m.source.estimated_rows;
    out.estimated_bytes = m.source.estimated_bytes;
    std::map<std::string, std::string> renamed;  // source column -> target column
    // add-column and change-data-type need the row-transform stage; it reads every source
    // column, because an expression may use a column no target column keeps.
    const bool transforms =
        std::any_of(m.columns.begin(), m.columns.end(), [&](const MappedColumn& c) {
          return c.source_index < 0 || !(c.type == m.source.columns[c.source_index].type);
        });
    if (transforms) {
      plan.source.columns = m.source.columns;
      TransformSpec spec;
      spec.source = plan.source;
      for (const MappedColumn& c : m.columns) {
        spec.columns.push_back(TransformColumn{c.source_index, c.expression, c.rule_id, c.type,
                                               c.name});
      }
      // Compiles the expressions now, so a bad one stops the task before anything is touched.
      RowTransformer::Create(spec);
      plan.transform = std::move(spec);
    }
    std::vector<ColumnDef> columns;
    for (const MappedColumn& c : m.columns) {
      ColumnDef col;
      if (c.source_index >= 0) {
        col = m.source.columns[c.source_index];
        renamed[col.name] = c.name;
        if (!transforms) plan.source.columns.push_back(col);
      } else {
        col.native_type = "";
      }
      if (!(col.type == c.type)) {
        // A new type (change-data-type, add-column): the target type comes from the DMS type,
        // never from the source's native one.
        col.type = c.type;
        col.portable_native = false;
      }
      col.name = c.name;
      col.nullable = c.nullable;
      columns.push_back(std::move(col));
    }
    if (m.primary_key_is_unique_index) {
      out.unique_indexes.push_back(
          IndexDef{m.primary_key_name.empty() ? out.name + "_uq" : m.primary_key_name,
                   m.primary_key});
    } else {
      out.primary_key = m.primary_key;
    }
    if (out.primary_key.empty() && !m.primary_key_is_unique_index) {
      // The DMS minimum without a key: the source's unique indexes, renamed; an index over a
      // removed column cannot come along.
      for (const IndexDef& index : m.source.unique_indexes) {
        IndexDef mapped_index{index.name, {}};
        bool complete = true;
        for (const std::string& col : index.columns) {
          auto it = renamed.find(col);
          if (it == renamed.end()) complete = false;
          else mapped_index.columns.push_back(it->second);
        }
        if (complete) out.unique_indexes.push_back(std::move(mapped_index));
      }
    }
    MapColumnsAndIndexes(columns, source.engine(), target, &out);
    const Dialect& source_sql = RequireSql(source, "reading tables").dialect();
    const QuoteIdentifierFn quote_source = [&](std::string_view name) {
      return source_sql.QuoteIdentifier(name);
    };
    const QuoteLiteralFn literal_source = [&](std::string_view value) {
      return source_sql.QuoteLiteral(value);
    };
    plan.where = FilterToSql(m.filters, literal_source, quote_source);
    plan.filters = m.filters;
    if (m.parallel_load && m.parallel_load->type == ParallelLoadType::kRanges) {
      for (std::string& predicate : RangeSegments(m.parallel_load->columns,
                                                  m.parallel_load->boundaries, source.engine(),
                                                  quote_source)) {
        plan.segments.push_back(Segment{std::move(predicate), "", ""});
      }
    }
    KeepSourceValues(source.engine(), target, &plan);
    plans.push_back(std::move(plan));
  }
  CheckDistinctTargets(plans);
  return plans;
}

TablePlan ComparablePlan(const TablePlan& plan) {
  if (!plan.transform) return plan;
  TablePlan out = plan;
  out.transform.reset();
  out.source.columns.clear();
  out.target.columns.clear();
  const TransformSpec& spec = *plan.transform;
  for (size_t i = 0; i < spec.columns.size() && i < plan.target.columns.size(); ++i) {
    const TransformColumn& c = spec.columns[i];
    if (c.source_index < 0) continue;
    const ColumnDef& from = spec.source.columns[c.source_index];
    if (!(from.type == c.type)) continue;
    const bool lob = from.type.kind == DmsKind::kBlob || from.type.kind == DmsKind::kClob ||
                     from.type.kind == DmsKind::kNclob;
    if (lob && spec.lob_max_bytes > 0) continue;
    out.source.columns.push_back(from);
    out.target.columns.push_back(plan.target.columns[i]);
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
  for (const TableDef& source : source_tables) {
    if (!TableSelected(source, patterns)) continue;
    TablePlan plan;
    plan.source = source;
    plan.target = MapTable(source, source_engine, target, target_schema);
    KeepSourceValues(source_engine, target, &plan);
    plans.push_back(std::move(plan));
  }
  CheckDistinctTargets(plans);
  return plans;
}

std::vector<TableDef> TablesAsOf(std::vector<TableDef> listed,
                                 const std::vector<TableDef>& as_of) {
  for (const TableDef& was : as_of) {
    auto it = std::find_if(listed.begin(), listed.end(), [&](const TableDef& t) {
      return t.schema == was.schema && t.name == was.name;
    });
    if (it != listed.end()) {
      *it = was;
    } else {
      listed.push_back(was);
    }
  }
  return listed;
}

std::string SegmentsToJson(const std::vector<Segment>& segments) {
  if (segments.empty()) return "";
  nlohmann::json out = nlohmann::json::array();
  for (const Segment& s : segments) {
    out.push_back({{"predicate", s.predicate},
                   {"partition", s.partition},
                   {"partition_schema", s.partition_schema}});
  }
  return out.dump();
}

std::vector<Segment> SegmentsFromJson(const std::string& json) {
  std::vector<Segment> out;
  if (json.empty()) return out;
  try {
    for (const nlohmann::json& j : nlohmann::json::parse(json)) {
      out.push_back(Segment{j.at("predicate").get<std::string>(),
                            j.at("partition").get<std::string>(),
                            j.at("partition_schema").get<std::string>()});
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("recorded segments are not Ferry's: {} ({})", e.what(), json));
  }
  return out;
}

}  // namespace ferry
