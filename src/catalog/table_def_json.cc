#include "catalog/table_def_json.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace ferry {

namespace {

using Json = nlohmann::json;

Json TypeToJson(const DmsType& t) {
  return Json{{"kind", DmsKindName(t.kind)},
              {"length", t.length},
              {"precision", t.precision},
              {"scale", t.scale},
              {"tz", t.with_time_zone}};
}

DmsType TypeFromJson(const Json& j) {
  DmsType t;
  const std::string kind = j.at("kind").get<std::string>();
  std::optional<DmsKind> k = ParseDmsKindName(kind);
  // Not a name users write, but Ferry's own: a column read as the engine's value (a captured
  // MySQL -> MySQL date, a SQLite -> SQLite value as stored, in the task's shape history).
  if (!k && kind == DmsKindName(DmsKind::kEngineValue)) k = DmsKind::kEngineValue;
  if (!k) throw std::invalid_argument("unknown type kind " + kind);
  t.kind = *k;
  t.length = j.at("length").get<int64_t>();
  t.precision = j.at("precision").get<int>();
  t.scale = j.at("scale").get<int>();
  t.with_time_zone = j.at("tz").get<bool>();
  return t;
}

Json IndexColumnsToJson(const std::vector<IndexColumn>& cols) {
  Json out = Json::array();
  for (const IndexColumn& c : cols) {
    out.push_back({{"name", c.name}, {"desc", c.descending}, {"prefix", c.prefix_length}});
  }
  return out;
}

}  // namespace

std::string TableDefToJson(const TableDef& def) {
  Json j;
  j["engine"] = static_cast<int>(def.engine);
  j["schema"] = def.schema;
  j["name"] = def.name;
  Json cols = Json::array();
  for (const ColumnDef& c : def.columns) {
    cols.push_back({{"name", c.name},
                    {"native_type", c.native_type},
                    {"type", TypeToJson(c.type)},
                    {"nullable", c.nullable},
                    {"native_id", c.native_id},
                    {"portable_native", c.portable_native},
                    {"default", c.default_expression},
                    {"create_default", c.create_default}});
  }
  j["columns"] = std::move(cols);
  j["primary_key"] = def.primary_key;
  Json uniques = Json::array();
  for (const IndexDef& u : def.unique_indexes) {
    uniques.push_back({{"name", u.name}, {"columns", u.columns}});
  }
  j["unique_indexes"] = std::move(uniques);
  j["estimated_rows"] = def.estimated_rows;
  j["estimated_bytes"] = def.estimated_bytes;
  if (def.is_view) j["is_view"] = true;
  Json secondary = Json::array();
  for (const SecondaryIndexDef& s : def.secondary_indexes) {
    secondary.push_back({{"name", s.name},
                         {"columns", IndexColumnsToJson(s.columns)},
                         {"unique", s.unique},
                         {"plain", s.plain},
                         {"method", s.method},
                         {"definition", s.definition}});
  }
  j["secondary_indexes"] = std::move(secondary);
  Json fks = Json::array();
  for (const ForeignKeyDef& f : def.foreign_keys) {
    fks.push_back({{"name", f.name},
                   {"columns", f.columns},
                   {"ref_schema", f.ref_schema},
                   {"ref_table", f.ref_table},
                   {"ref_columns", f.ref_columns},
                   {"on_delete", static_cast<int>(f.on_delete)},
                   {"on_update", static_cast<int>(f.on_update)},
                   {"deferrable", f.deferrable},
                   {"initially_deferred", f.initially_deferred}});
  }
  j["foreign_keys"] = std::move(fks);
  j["create_table_clauses"] = def.create_table_clauses;
  return j.dump();
}

TableDef TableDefFromJson(std::string_view json, std::string_view what) {
  try {
    const Json j = Json::parse(json);
    TableDef def;
    const int engine = j.at("engine").get<int>();
    if (engine < 0 || engine > static_cast<int>(Engine::kSqlite)) {
      throw std::invalid_argument(fmt::format("unknown engine {}", engine));
    }
    def.engine = static_cast<Engine>(engine);
    def.schema = j.at("schema").get<std::string>();
    def.name = j.at("name").get<std::string>();
    for (const Json& c : j.at("columns")) {
      ColumnDef col;
      col.name = c.at("name").get<std::string>();
      col.native_type = c.at("native_type").get<std::string>();
      col.type = TypeFromJson(c.at("type"));
      col.nullable = c.at("nullable").get<bool>();
      col.native_id = c.at("native_id").get<uint32_t>();
      col.portable_native = c.at("portable_native").get<bool>();
      col.default_expression = c.at("default").get<std::string>();
      col.create_default = c.at("create_default").get<std::string>();
      def.columns.push_back(std::move(col));
    }
    def.primary_key = j.at("primary_key").get<std::vector<std::string>>();
    for (const Json& u : j.at("unique_indexes")) {
      def.unique_indexes.push_back(
          {u.at("name").get<std::string>(), u.at("columns").get<std::vector<std::string>>()});
    }
    def.estimated_rows = j.at("estimated_rows").get<int64_t>();
    def.estimated_bytes = j.at("estimated_bytes").get<int64_t>();
    def.is_view = j.value("is_view", false);
    for (const Json& s : j.at("secondary_indexes")) {
      SecondaryIndexDef idx;
      idx.name = s.at("name").get<std::string>();
      for (const Json& c : s.at("columns")) {
        idx.columns.push_back({c.at("name").get<std::string>(), c.at("desc").get<bool>(),
                               c.at("prefix").get<int>()});
      }
      idx.unique = s.at("unique").get<bool>();
      idx.plain = s.at("plain").get<bool>();
      idx.method = s.at("method").get<std::string>();
      idx.definition = s.at("definition").get<std::string>();
      def.secondary_indexes.push_back(std::move(idx));
    }
    auto action = [](const Json& v) {
      const int a = v.get<int>();
      if (a < 0 || a > static_cast<int>(ForeignKeyAction::kSetDefault)) {
        throw std::invalid_argument(fmt::format("unknown foreign key action {}", a));
      }
      return static_cast<ForeignKeyAction>(a);
    };
    for (const Json& f : j.at("foreign_keys")) {
      ForeignKeyDef fk;
      fk.name = f.at("name").get<std::string>();
      fk.columns = f.at("columns").get<std::vector<std::string>>();
      fk.ref_schema = f.at("ref_schema").get<std::string>();
      fk.ref_table = f.at("ref_table").get<std::string>();
      fk.ref_columns = f.at("ref_columns").get<std::vector<std::string>>();
      fk.on_delete = action(f.at("on_delete"));
      fk.on_update = action(f.at("on_update"));
      fk.deferrable = f.at("deferrable").get<bool>();
      fk.initially_deferred = f.at("initially_deferred").get<bool>();
      def.foreign_keys.push_back(std::move(fk));
    }
    def.create_table_clauses = j.at("create_table_clauses").get<std::vector<std::string>>();
    return def;
  } catch (const std::exception& e) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{}: not a table definition Ferry wrote ({})", what, e.what()));
  }
}

}  // namespace ferry
