// Fuzzes ParseTableMappings (table-mappings JSON comes from users' files), then applies what
// parses to a small fixed catalog and renders its filters as SQL for every engine.
// The whole input is the JSON text. Invariants checked:
//  - parsing never throws; a failure is kInvalidArgument and its message starts with the
//    source name;
//  - a parsed document has a selection rule, unique rule-ids, explicit rules without %,
//    ranges boundaries with one value per column, negative filter operators alone;
//  - applying never throws; a success gives non-empty, unique target table names, unique
//    column names, valid source column indexes and a key made of target columns;
//  - FilterToSql never throws on parsed filters (values cannot hold NUL).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/dialect.h"
#include "mapping/mapping_apply.h"
#include "mapping/table_mappings.h"

namespace {

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_table_mappings: %s\n  detail: '%.*s'\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

std::vector<ferry::TableDef> Catalog() {
  auto table = [](std::string schema, std::string name, std::vector<std::string> cols,
                  std::vector<std::string> pk) {
    ferry::TableDef t;
    t.schema = std::move(schema);
    t.name = std::move(name);
    for (auto& c : cols) {
      ferry::ColumnDef cd;
      cd.name = std::move(c);
      cd.type.kind = cd.name.size() % 2 ? ferry::DmsKind::kInt4 : ferry::DmsKind::kString;
      t.columns.push_back(std::move(cd));
    }
    t.primary_key = std::move(pk);
    return t;
  };
  return {table("Test", "actor", {"id", "first_name", "last_name"}, {"id"}),
          table("Test", "DMS_log", {"id", "msg"}, {}),
          table("test", "employee", {"empid", "dept", "empstartdate"}, {"empid"}),
          table("s", "t", {"a", "b", "c"}, {"a", "b"}), table("s", "v_t", {"a"}, {})};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto r = ferry::ParseTableMappings(input, "fuzz.json");
  if (!r.ok()) {
    const std::string_view msg = r.error().what();
    if (r.error().kind() != ferry::ErrorKind::kInvalidArgument) Fail("wrong error kind", msg);
    if (msg.substr(0, 11) != "fuzz.json: ") Fail("message does not name the source", msg);
    return 0;
  }
  const ferry::TableMappings& m = r.value();
  if (m.selections.empty()) Fail("parsed without a selection rule", input);
  std::vector<std::string> ids;
  for (const auto& s : m.selections) {
    ids.push_back(s.rule_id);
    if (s.action == ferry::SelectionAction::kExplicit &&
        (s.locator.schema_name.find('%') != std::string::npos ||
         s.locator.table_name.find('%') != std::string::npos)) {
      Fail("explicit rule with %", s.rule_id);
    }
    for (const auto& f : s.filters) {
      if (f.conditions.empty()) Fail("filter without conditions", s.rule_id);
      for (const auto& c : f.conditions) {
        const bool negative = c.op == ferry::FilterOperator::kNotEq ||
                              c.op == ferry::FilterOperator::kNotBetween ||
                              c.op == ferry::FilterOperator::kNotNull;
        if (negative && f.conditions.size() != 1) Fail("negative operator not alone", s.rule_id);
      }
    }
  }
  for (const auto& t : m.transformations) ids.push_back(t.rule_id);
  for (const auto& t : m.table_settings) {
    ids.push_back(t.rule_id);
    if (t.parallel_load) {
      for (const auto& b : t.parallel_load->boundaries) {
        if (b.size() != t.parallel_load->columns.size()) Fail("ragged boundaries", t.rule_id);
      }
    }
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    for (size_t j = i + 1; j < ids.size() && j < i + 64; ++j) {
      if (ferry::CompareRuleIds(ids[i], ids[j]) == 0) Fail("duplicate rule-id accepted", ids[i]);
    }
  }

  ferry::ApplyOptions options;
  options.is_view = [](const ferry::TableDef& t) { return t.name.rfind("v_", 0) == 0; };
  auto applied = ferry::ApplyTableMappings(m, Catalog(), "fuzz.json", options);
  if (!applied.ok()) {
    const std::string_view msg = applied.error().what();
    if (applied.error().kind() != ferry::ErrorKind::kInvalidArgument) Fail("apply kind", msg);
    if (msg.substr(0, 11) != "fuzz.json: ") Fail("apply message does not name the source", msg);
    return 0;
  }
  std::set<std::pair<std::string, std::string>> targets;
  for (const ferry::MappedTable& t : applied.value()) {
    if (t.target_schema.empty() || t.target_table.empty()) Fail("empty target name", input);
    if (!targets.emplace(t.target_schema, t.target_table).second) {
      Fail("two tables mapped to one target", t.target_table);
    }
    std::set<std::string> names;
    for (const auto& c : t.columns) {
      if (!names.insert(c.name).second) Fail("duplicate target column", c.name);
      if (c.source_index < -1 || c.source_index >= static_cast<int>(t.source.columns.size())) {
        Fail("source index out of range", c.name);
      }
    }
    for (const auto& k : t.primary_key) {
      if (!names.count(k)) Fail("key column not in the target", k);
    }
    for (ferry::Engine e :
         {ferry::Engine::kPostgres, ferry::Engine::kMysql, ferry::Engine::kSqlite}) {
      const std::string sql = ferry::FilterToSql(
          t.filters, [e](std::string_view s) { return ferry::DialectFor(e).QuoteLiteral(s); },
          [](std::string_view s) { return "\"" + std::string(s) + "\""; });
      if (t.filters.empty() != sql.empty()) Fail("filter SQL presence", sql);
    }
  }
  return 0;
}
