#include "schema/post_load.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <set>

namespace ferry::schema {

namespace {

constexpr ObjectKind kKinds[] = {ObjectKind::kIndex, ObjectKind::kForeignKey,
                                 ObjectKind::kDefault};

bool Requested(const SchemaObjectOptions& o, ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kIndex: return o.indexes;
    case ObjectKind::kForeignKey: return o.foreign_keys;
    case ObjectKind::kDefault: return o.defaults;
  }
  return false;
}

const char* KindTitle(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kIndex: return "Indexes";
    case ObjectKind::kForeignKey: return "Foreign keys";
    case ObjectKind::kDefault: return "Defaults";
  }
  return "?";
}

const char* KindKey(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kIndex: return "indexes";
    case ObjectKind::kForeignKey: return "foreignKeys";
    case ObjectKind::kDefault: return "defaults";
  }
  return "?";
}

// Whether an object made by SQLite's CREATE TABLE exists in `table` as read back.
bool ExistsInCatalog(const SchemaObject& o, const TableDef& table) {
  if (o.kind == ObjectKind::kDefault) {
    const int c = table.ColumnIndex(o.name);
    return c >= 0 && !table.columns[c].default_expression.empty();
  }
  if (o.kind == ObjectKind::kForeignKey) {
    // SQLite does not keep constraint names in its pragmas: look for the clause's columns.
    for (const ForeignKeyDef& fk : table.foreign_keys) {
      std::string cols;
      for (const std::string& c : fk.columns) {
        cols += (cols.empty() ? "" : ", ") + std::string("\"") + c + "\"";
      }
      if (o.clause.find("FOREIGN KEY (" + cols + ")") != std::string::npos) return true;
    }
  }
  return false;
}

}  // namespace

int SchemaObjectsReport::Count(ObjectKind kind, ObjectStatus status) const {
  int n = 0;
  for (const SchemaObject& o : objects) n += o.kind == kind && o.status == status;
  return n;
}

bool SchemaObjectsReport::AnyFailed() const {
  for (const SchemaObject& o : objects) {
    if (o.status == ObjectStatus::kFailed || o.status == ObjectStatus::kSkipped) return true;
  }
  return false;
}

std::string SchemaObjectsReport::FormatText() const {
  if (!options.Any()) return "";
  std::string out = "Schema objects (Ferry extension):\n";
  for (ObjectKind kind : kKinds) {
    if (!Requested(options, kind)) continue;
    out += fmt::format("  {}: {} created", KindTitle(kind), Count(kind, ObjectStatus::kCreated));
    for (ObjectStatus s : {ObjectStatus::kNotConverted, ObjectStatus::kFailed,
                           ObjectStatus::kSkipped}) {
      if (const int n = Count(kind, s)) out += fmt::format(", {} {}", n, ObjectStatusName(s));
    }
    out += "\n";
    for (const SchemaObject& o : objects) {
      if (o.kind != kind || o.reason.empty()) continue;
      out += fmt::format("    {} {} -> {}{}: {}\n", ObjectStatusName(o.status), o.source,
                         o.table, o.name.empty() ? "" : " (" + o.name + ")", o.reason);
    }
  }
  return out;
}

nlohmann::json SchemaObjectsReport::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (ObjectKind kind : kKinds) {
    if (!Requested(options, kind)) continue;
    out[KindKey(kind)] = {{"created", Count(kind, ObjectStatus::kCreated)},
                          {"notConverted", Count(kind, ObjectStatus::kNotConverted)},
                          {"failed", Count(kind, ObjectStatus::kFailed)},
                          {"skipped", Count(kind, ObjectStatus::kSkipped)}};
  }
  nlohmann::json list = nlohmann::json::array();
  for (const SchemaObject& o : objects) {
    list.push_back({{"kind", ObjectKindName(o.kind)},
                    {"source", o.source},
                    {"table", o.table},
                    {"name", o.name},
                    {"status", ObjectStatusName(o.status)},
                    {"reason", o.reason},
                    {"sql", o.with_table ? o.clause : o.sql}});
  }
  out["objects"] = std::move(list);
  return out;
}

SchemaObjectsReport CreateSchemaObjects(SqlConnector& target, const std::vector<TablePlan>& plans,
                                        Engine source_engine, const SchemaObjectOptions& options,
                                        const std::vector<std::unique_ptr<TableStats>>& stats) {
  SchemaObjectsReport report;
  report.options = options;
  if (!options.Any()) return report;
  report.objects = PlanSchemaObjects(plans, source_engine, target.engine(), options);

  std::set<std::string> completed;
  for (const auto& st : stats) {
    MutexLock lock(st->mu);
    if (st->state == kStateCompleted) completed.insert(st->TargetName());
  }
  std::map<std::string, const TableDef*> targets;
  for (const TablePlan& p : plans) targets[p.target.QualifiedName()] = &p.target;

  std::unique_ptr<SqlSession> session;
  std::unique_ptr<CatalogReader> catalog;
  std::map<std::string, TableDef> read_back;  // SQLite tables as they are after the load
  // Indexes first: a foreign key may need the referenced columns' unique index.
  for (ObjectKind kind : kKinds) {
    for (SchemaObject& o : report.objects) {
      if (o.kind != kind || o.status != ObjectStatus::kPending) continue;
      std::string missing;
      for (const std::string& t : o.required_tables) {
        if (!completed.count(t)) missing += (missing.empty() ? "" : ", ") + t;
      }
      if (!missing.empty()) {
        o.status = ObjectStatus::kSkipped;
        o.reason = "table " + missing + " did not complete its load";
        continue;
      }
      if (o.with_table) {
        auto it = read_back.find(o.table);
        if (it == read_back.end()) {
          try {
            if (!catalog) catalog = target.OpenCatalog();
            const TableDef* def = targets.at(o.table);
            it = read_back.emplace(o.table, catalog->GetTable(def->schema, def->name)).first;
          } catch (const Error& e) {
            o.status = ObjectStatus::kFailed;
            o.reason = std::string("cannot read the target table back: ") + e.what();
            continue;
          }
        }
        if (ExistsInCatalog(o, it->second)) {
          o.status = ObjectStatus::kCreated;
        } else {
          o.status = ObjectStatus::kFailed;
          o.reason = fmt::format("not in the target table: it existed before the load and "
                                 "SQLite cannot add a {} to an existing table (use "
                                 "DROP_AND_CREATE)",
                                 ObjectKindName(o.kind));
        }
        continue;
      }
      try {
        if (!session) session = target.OpenSession();
        session->Execute(o.sql);
        o.status = ObjectStatus::kCreated;
        spdlog::debug("{} {} created: {}", ObjectKindName(o.kind), o.source, o.sql);
      } catch (const Error& e) {
        o.status = ObjectStatus::kFailed;
        o.reason = e.what();
        spdlog::warn("{} {} on {} failed: {}", ObjectKindName(o.kind), o.source, o.table,
                     e.what());
      }
    }
  }
  return report;
}

}  // namespace ferry::schema
