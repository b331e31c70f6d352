#include "mapping/mapping_apply.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "connectors/dialect.h"
#include "mapping/table_mappings.h"

namespace ferry {
namespace {

ColumnDef Col(std::string name, DmsKind kind = DmsKind::kInt4) {
  ColumnDef c;
  c.name = std::move(name);
  c.type.kind = kind;
  return c;
}

TableDef Table(std::string schema, std::string name, std::vector<std::string> cols,
               std::vector<std::string> pk = {}) {
  TableDef t;
  t.engine = Engine::kPostgres;
  t.schema = std::move(schema);
  t.name = std::move(name);
  for (auto& c : cols) t.columns.push_back(Col(c));
  t.primary_key = std::move(pk);
  return t;
}

TableMappings Parse(const std::string& json) {
  auto r = ParseTableMappings(json, "m.json");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().what());
  return r.ok() ? r.value() : TableMappings{};
}

std::string Sel(const std::string& id, const std::string& schema, const std::string& table,
                const std::string& action, const std::string& extra = "") {
  return R"({"rule-type":"selection","rule-id":")" + id + R"(","rule-name":")" + id +
         R"(","object-locator":{"schema-name":")" + schema + R"(","table-name":")" + table +
         R"("},"rule-action":")" + action + "\"" + extra + "}";
}

std::string Tr(const std::string& id, const std::string& action, const std::string& target,
               const std::string& locator, const std::string& extra = "") {
  return R"({"rule-type":"transformation","rule-id":")" + id + R"(","rule-name":")" + id +
         R"(","rule-action":")" + action + R"(","rule-target":")" + target +
         R"(","object-locator":)" + locator + extra + "}";
}

std::string Doc(const std::vector<std::string>& rules) {
  std::string s = R"({"rules":[)";
  for (size_t i = 0; i < rules.size(); ++i) s += (i ? "," : "") + rules[i];
  return s + "]}";
}

std::vector<MappedTable> Apply(const std::vector<std::string>& rules,
                               const std::vector<TableDef>& tables,
                               const ApplyOptions& options = {}) {
  auto r = ApplyTableMappings(Parse(Doc(rules)), tables, "m.json", options);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().what());
  return r.ok() ? r.value() : std::vector<MappedTable>{};
}

std::string ApplyErr(const std::vector<std::string>& rules, const std::vector<TableDef>& tables) {
  auto r = ApplyTableMappings(Parse(Doc(rules)), tables, "m.json");
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
  return r.error().what();
}

std::vector<std::string> Names(const std::vector<MappedTable>& v) {
  std::vector<std::string> out;
  for (const auto& t : v) out.push_back(t.target_schema + "." + t.target_table);
  return out;
}

std::vector<std::string> ColumnNames(const MappedTable& t) {
  std::vector<std::string> out;
  for (const auto& c : t.columns) out.push_back(c.name);
  return out;
}

using V = std::vector<std::string>;

const std::vector<TableDef> kCatalog = {
    Table("Test", "actor", {"id", "first_name"}, {"id"}),
    Table("Test", "DMS_log", {"id"}),
    Table("Test", "DMSx", {"id"}),
    Table("other", "actor", {"id"}),
};

TEST(MappingApply, IncludeExcludeExplicit) {
  EXPECT_EQ(Names(Apply({Sel("1", "Test", "%", "include")}, kCatalog)),
            (V{"Test.actor", "Test.DMS_log", "Test.DMSx"}));
  // Guide example: all tables except those starting with DMS.
  EXPECT_EQ(Names(Apply({Sel("1", "Test", "%", "include"), Sel("2", "Test", "DMS%", "exclude")},
                        kCatalog)),
            (V{"Test.actor"}));
  // Explicit beats exclude; a table matching no include is not migrated.
  EXPECT_EQ(Names(Apply({Sel("1", "Test", "%", "include"), Sel("2", "%", "%", "exclude"),
                         Sel("3", "Test", "DMSx", "explicit")},
                        kCatalog)),
            (V{"Test.DMSx"}));
  // Explicit names exactly: `_` is not a wildcard there.
  EXPECT_EQ(Names(Apply({Sel("1", "Test", "DMS_log", "explicit")}, kCatalog)), (V{"Test.DMS_log"}));
  EXPECT_TRUE(Apply({Sel("1", "Test", "DMS_lo_", "explicit")}, kCatalog).empty());
  // Exclude alone selects nothing.
  EXPECT_TRUE(Apply({Sel("1", "%", "%", "exclude")}, kCatalog).empty());
  // Case-sensitive names.
  EXPECT_TRUE(Apply({Sel("1", "test", "%", "include")}, kCatalog).empty());
}

TEST(MappingApply, TableTypeViews) {
  std::vector<TableDef> cat = {Table("s", "t", {"a"}), Table("s", "v_x", {"a"})};
  ApplyOptions opt;
  opt.is_view = [](const TableDef& t) { return t.name.rfind("v_", 0) == 0; };
  EXPECT_EQ(Names(Apply({Sel("1", "s", "%", "include")}, cat, opt)), (V{"s.t"}));
  auto views = Apply({R"({"rule-type":"selection","rule-id":"1","rule-name":"1",
      "object-locator":{"schema-name":"s","table-name":"%","table-type":"view"},
      "rule-action":"include"})"},
                     cat, opt);
  EXPECT_EQ(Names(views), (V{"s.v_x"}));
  auto all = Apply({R"({"rule-type":"selection","rule-id":"1","rule-name":"1",
      "object-locator":{"schema-name":"s","table-name":"%","table-type":"all"},
      "rule-action":"include"})"},
                   cat, opt);
  EXPECT_EQ(Names(all), (V{"s.t", "s.v_x"}));
}

TEST(MappingApply, LoadOrderHigherFirstAndFilters) {
  std::vector<TableDef> cat = {Table("Test", "loadsecond", {"a"}),
                               Table("Test", "loadfirst", {"a", "b"})};
  auto out = Apply({Sel("1", "Test", "loadsecond", "include", R"(,"load-order":"1")"),
                    Sel("2", "Test", "loadfirst", "include",
                        R"(,"load-order":2,"filters":[{"filter-type":"source","column-name":"b",
                          "filter-conditions":[{"filter-operator":"null"}]}])")},
                   cat);
  EXPECT_EQ(Names(out), (V{"Test.loadfirst", "Test.loadsecond"}));
  EXPECT_EQ(out[0].load_order, 2);
  ASSERT_EQ(out[0].filters.size(), 1u);
  EXPECT_EQ(out[0].filters[0].column, "b");
  EXPECT_EQ(out[0].rule_ids, (V{"2"}));
  EXPECT_EQ(ApplyErr({Sel("4", "Test", "%", "include",
                          R"(,"filters":[{"column-name":"zz",
                            "filter-conditions":[{"filter-operator":"null"}]}])")},
                     cat),
            "m.json: rule-id 4: filters[0].column-name: table Test.loadsecond has no column "
            "\"zz\"");
}

TEST(MappingApply, NameTransformations) {
  const std::string all = R"({"schema-name":"%","table-name":"%"})";
  struct Case {
    std::string action, extra, in, want;
  };
  const Case cases[] = {
      {"rename", R"(,"value":"Actor1")", "actor", "Actor1"},
      {"convert-lowercase", "", "ACTOR", "actor"},
      {"convert-uppercase", "", "actör", "ACTöR"},
      {"add-prefix", R"(,"value":"DMS_")", "actor", "DMS_actor"},
      {"remove-prefix", R"(,"value":"tb_")", "tb_actor", "actor"},
      {"remove-prefix", R"(,"value":"tb_")", "actor", "actor"},
      {"replace-prefix", R"(,"value":"new_","old-value":"old_")", "old_actor", "new_actor"},
      {"add-suffix", R"(,"value":"_v2")", "actor", "actor_v2"},
      {"remove-suffix", R"(,"value":"_DMS")", "actor_DMS", "actor"},
      {"replace-suffix", R"(,"value":"_new","old-value":"_old")", "actor_old", "actor_new"},
      {"replace-suffix", R"(,"value":"","old-value":"_old")", "actor_old", "actor"},
  };
  for (const Case& c : cases) {
    auto out = Apply({Sel("1", "%", "%", "include"), Tr("2", c.action, "table", all, c.extra)},
                     {Table("s", c.in, {"a"})});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].target_table, c.want) << c.action << " " << c.in;
    EXPECT_EQ(out[0].target_schema, "s");
    // The same action on a schema and on a column.
    auto sch = Apply({Sel("1", "%", "%", "include"), Tr("2", c.action, "schema", all, c.extra)},
                     {Table(c.in, "t", {"a"})});
    EXPECT_EQ(sch[0].target_schema, c.want) << c.action;
    auto col = Apply({Sel("1", "%", "%", "include"),
                      Tr("2", c.action, "column",
                         R"({"schema-name":"%","table-name":"%","column-name":"%"})", c.extra)},
                     {Table("s", "t", {c.in})});
    EXPECT_EQ(ColumnNames(col[0]), (V{c.want})) << c.action;
    EXPECT_EQ(col[0].rule_ids, (V{"1", "2"}));
  }
}

TEST(MappingApply, LowestRuleIdWinsPerObject) {
  // Transformations.md: for one object, DMS applies the rule with the lower rule-id. Rule-ids
  // compare as numbers ("10" after "9"), whatever the order in the file.
  const std::string loc = R"({"schema-name":"s","table-name":"%"})";
  auto out = Apply({Sel("1", "%", "%", "include"),
                    Tr("10", "rename", "table", R"({"schema-name":"s","table-name":"t"})",
                       R"(,"value":"renamed")"),
                    Tr("9", "add-prefix", "table", loc, R"(,"value":"p_")")},
                   {Table("s", "t", {"a"}), Table("s", "u", {"a"})});
  EXPECT_EQ(Names(out), (V{"s.p_t", "s.p_u"}));
  EXPECT_EQ(out[0].rule_ids, (V{"1", "9"}));
  // Rules do not chain: each matches source names; schema and table rules both apply.
  out = Apply(
      {Sel("1", "%", "%", "include"),
       Tr("2", "rename", "table", R"({"schema-name":"s","table-name":"t"})", R"(,"value":"x")"),
       Tr("3", "convert-uppercase", "schema", R"({"schema-name":"s"})")},
      {Table("s", "t", {"a"})});
  EXPECT_EQ(Names(out), (V{"S.x"}));
  // Different kinds of change on one column all apply; name rules: lowest rule-id.
  out = Apply({Sel("1", "%", "%", "include"),
               Tr("5", "change-data-type", "column",
                  R"({"schema-name":"s","table-name":"t","column-name":"a"})",
                  R"(,"data-type":{"type":"int8"})"),
               Tr("3", "rename", "column",
                  R"({"schema-name":"s","table-name":"t","column-name":"a"})", R"(,"value":"b")"),
               Tr("4", "add-suffix", "column",
                  R"({"schema-name":"s","table-name":"t","column-name":"%"})", R"(,"value":"_x")")},
              {Table("s", "t", {"a", "c"})});
  EXPECT_EQ(ColumnNames(out[0]), (V{"b", "c_x"}));
  EXPECT_EQ(out[0].columns[0].type.kind, DmsKind::kInt8);
  EXPECT_EQ(out[0].columns[1].type.kind, DmsKind::kInt4);
  EXPECT_EQ(out[0].rule_ids, (V{"1", "3", "4", "5"}));
}

TEST(MappingApply, RemoveAddAndChangeColumns) {
  TableDef t = Table("test", "Actor", {"id", "col1", "col2", "name"}, {"id"});
  t.columns[3].type = DmsType{DmsKind::kString, 20};
  auto out =
      Apply({Sel("1", "test", "%", "include"),
             Tr("2", "remove-column", "column",
                R"({"schema-name":"test","table-name":"Actor","column-name":"col%"})"),
             Tr("3", "add-column", "column", R"({"schema-name":"test","table-name":"Actor"})",
                R"j(,"value":"last_updated","expression":"datetime('now')",
             "data-type":{"type":"datetime","precision":6})j"),
             Tr("4", "change-data-type", "column",
                R"({"schema-name":"%","table-name":"%","column-name":"%","data-type":"string"})",
                R"(,"data-type":{"type":"wstring","length":50})")},
            {t});
  ASSERT_EQ(out.size(), 1u);
  const MappedTable& m = out[0];
  EXPECT_EQ(ColumnNames(m), (V{"id", "name", "last_updated"}));
  EXPECT_EQ(m.columns[0].source_index, 0);
  EXPECT_EQ(m.columns[1].source_index, 3);
  EXPECT_EQ(m.columns[1].type, (DmsType{DmsKind::kWstring, 50}));
  EXPECT_EQ(m.columns[0].type.kind, DmsKind::kInt4);  // narrowed by object-locator.data-type
  EXPECT_EQ(m.columns[2].source_index, -1);
  EXPECT_EQ(m.columns[2].expression, "datetime('now')");
  EXPECT_EQ(m.columns[2].rule_id, "3");
  EXPECT_EQ(m.columns[2].type.kind, DmsKind::kDatetime);
  EXPECT_EQ(m.columns[2].type.precision, 6);
  EXPECT_EQ(m.primary_key, (V{"id"}));
  EXPECT_EQ(m.rule_ids, (V{"1", "2", "3", "4"}));
}

TEST(MappingApply, PrimaryKeys) {
  TableDef t = Table("inventory", "ITEM", {"ITEM-NAME", "BOM-MODEL-NUM", "x"}, {"x"});
  // Renamed key columns follow their rename; removing one drops the key.
  auto out =
      Apply({Sel("1", "%", "%", "include"),
             Tr("2", "rename", "column",
                R"({"schema-name":"%","table-name":"%","column-name":"x"})", R"(,"value":"y")")},
            {t});
  EXPECT_EQ(out[0].primary_key, (V{"y"}));
  out = Apply({Sel("1", "%", "%", "include"),
               Tr("2", "remove-column", "column",
                  R"({"schema-name":"%","table-name":"%","column-name":"x"})")},
              {t});
  EXPECT_TRUE(out[0].primary_key.empty());
  out = Apply(
      {Sel("1", "%", "%", "include"),
       Tr("2", "define-primary-key", "table", R"({"schema-name":"inventory","table-name":"ITEM"})",
          R"(,"primary-key-def":{"name":"ITEM-unique-idx","origin":"unique-index",
                     "columns":["ITEM-NAME","BOM-MODEL-NUM"]})")},
      {t});
  EXPECT_EQ(out[0].primary_key, (V{"ITEM-NAME", "BOM-MODEL-NUM"}));
  EXPECT_EQ(out[0].primary_key_name, "ITEM-unique-idx");
  EXPECT_TRUE(out[0].primary_key_is_unique_index);
  EXPECT_EQ(ApplyErr({Sel("1", "%", "%", "include"),
                      Tr("2", "define-primary-key", "table",
                         R"({"schema-name":"inventory","table-name":"ITEM"})",
                         R"(,"primary-key-def":{"name":"pk","columns":["ITEM_NAME"]})")},
                     {t}),
            "m.json: rule-id 2: primary-key-def.columns: table inventory.ITEM has no column "
            "\"ITEM_NAME\"");
}

TEST(MappingApply, MissingColumnIsAnError) {
  EXPECT_EQ(
      ApplyErr({Sel("1", "test", "%", "include"),
                Tr("4", "rename", "column",
                   R"({"schema-name":"test","table-name":"Actor","column-name":"frist_name"})",
                   R"(,"value":"fname")")},
               {Table("test", "Actor", {"first_name"})}),
      "m.json: rule-id 4: object-locator.column-name: table test.Actor has no column "
      "\"frist_name\"");
  // A % pattern may match nothing.
  EXPECT_EQ(Apply({Sel("1", "%", "%", "include"),
                   Tr("2", "remove-column", "column",
                      R"({"schema-name":"%","table-name":"%","column-name":"tmp%"})")},
                  {Table("s", "t", {"a"})})
                .size(),
            1u);
}

TEST(MappingApply, CollisionsAreErrors) {
  EXPECT_EQ(
      ApplyErr({Sel("1", "%", "%", "include"),
                Tr("2", "remove-prefix", "table", R"({"schema-name":"s","table-name":"%"})",
                   R"(,"value":"old_")")},
               {Table("s", "old_t", {"a"}), Table("s", "t", {"a"})}),
      "m.json: source tables s.old_t and s.t both map to target table s.t (rule-ids 2); DMS does "
      "not replicate two source tables into one target table");
  EXPECT_EQ(ApplyErr({Sel("1", "%", "%", "include"),
                      Tr("2", "rename", "schema", R"({"schema-name":"a"})", R"(,"value":"b")")},
                     {Table("a", "t", {"x"}), Table("b", "t", {"x"})}),
            "m.json: source tables a.t and b.t both map to target table b.t (rule-ids 2); DMS does "
            "not replicate two source tables into one target table");
  EXPECT_EQ(ApplyErr({Sel("1", "%", "%", "include"),
                      Tr("3", "add-column", "column", R"({"schema-name":"s","table-name":"t"})",
                         R"(,"value":"a","data-type":{"type":"int4"})")},
                     {Table("s", "t", {"a"})}),
            "m.json: table s.t: source column \"a\" and the column added by rule-id 3 both "
            "become column \"a\" of target table s.t (rule-ids 1, 3)");
  EXPECT_EQ(ApplyErr({Sel("1", "%", "%", "include"),
                      Tr("2", "convert-lowercase", "column",
                         R"({"schema-name":"%","table-name":"%","column-name":"%"})")},
                     {Table("s", "t", {"ID", "id"})}),
            "m.json: table s.t: source column \"ID\" and source column \"id\" both become column "
            "\"id\" of target table s.t (rule-ids 1, 2)");
  EXPECT_EQ(ApplyErr({Sel("1", "%", "%", "include"),
                      Tr("2", "remove-prefix", "table", R"({"schema-name":"s","table-name":"%"})",
                         R"(,"value":"t")")},
                     {Table("s", "t", {"a"})}),
            "m.json: rule-id 2: table s.t would get an empty name");
}

TEST(MappingApply, TableSettings) {
  std::vector<TableDef> cat = {Table("s", "big", {"id", "region"}), Table("s", "small", {"id"})};
  auto out = Apply({Sel("1", "s", "%", "include"),
                    R"({"rule-type":"table-settings","rule-id":"3","rule-name":"3",
          "object-locator":{"schema-name":"s","table-name":"big"},
          "parallel-load":{"type":"ranges","columns":["id"],"boundaries":[["100"],["200"]]}})",
                    R"({"rule-type":"table-settings","rule-id":"2","rule-name":"2",
          "object-locator":{"schema-name":"s","table-name":"%"},
          "lob-settings":{"mode":"limited","bulk-max-size":64}})",
                    R"({"rule-type":"table-settings","rule-id":"4","rule-name":"4",
          "object-locator":{"schema-name":"s","table-name":"%"},
          "parallel-load":{"type":"none"},"lob-settings":{"mode":"unlimited"}})"},
                   cat);
  ASSERT_EQ(out.size(), 2u);
  ASSERT_TRUE(out[0].parallel_load);
  EXPECT_EQ(out[0].parallel_load->type, ParallelLoadType::kRanges);
  EXPECT_EQ(out[0].parallel_load->boundaries.size(), 2u);
  EXPECT_EQ(out[0].lob_settings->mode, LobMode::kLimited);  // rule 2 beats rule 4
  EXPECT_EQ(out[0].rule_ids, (V{"1", "2", "3"}));
  EXPECT_EQ(out[1].parallel_load->type, ParallelLoadType::kNone);
  EXPECT_EQ(out[1].rule_ids, (V{"1", "2", "4"}));
  EXPECT_EQ(ApplyErr({Sel("1", "s", "%", "include"),
                      R"({"rule-type":"table-settings","rule-id":"3","rule-name":"3",
                        "object-locator":{"schema-name":"s","table-name":"%"},
                        "parallel-load":{"type":"ranges","columns":["region"],
                        "boundaries":[["N"]]}})"},
                     cat),
            "m.json: rule-id 3: parallel-load.columns[0]: table s.small has no column \"region\"");
}

// --- FilterToSql ------------------------------------------------------------------------------

std::string Q(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The engine's one string-literal escaper (its dialect's QuoteLiteral).
QuoteLiteralFn Lit(Engine engine) {
  return [engine](std::string_view v) { return DialectFor(engine).QuoteLiteral(v); };
}
std::string SqlStringLiteral(std::string_view value, Engine engine) {
  return DialectFor(engine).QuoteLiteral(value);
}

SourceFilter F(std::string col, std::vector<FilterCondition> conds) {
  SourceFilter f;
  f.column = std::move(col);
  f.conditions = std::move(conds);
  return f;
}

FilterCondition C(FilterOperator op, std::string v = "", std::string s = "", std::string e = "") {
  FilterCondition c;
  c.op = op;
  c.value = std::move(v);
  c.start_value = std::move(s);
  c.end_value = std::move(e);
  return c;
}

TEST(MappingFilterSql, EveryOperator) {
  auto one = [](FilterCondition c) {
    return FilterToSql({F("c", {std::move(c)})}, Lit(Engine::kPostgres), Q);
  };
  EXPECT_EQ(one(C(FilterOperator::kEq, "1")), R"(("c" = '1'))");
  EXPECT_EQ(one(C(FilterOperator::kNotEq, "1")), R"(("c" <> '1'))");
  EXPECT_EQ(one(C(FilterOperator::kLte, "1")), R"(("c" <= '1'))");
  EXPECT_EQ(one(C(FilterOperator::kSte, "1")), R"(("c" <= '1'))");
  EXPECT_EQ(one(C(FilterOperator::kGte, "1")), R"(("c" >= '1'))");
  EXPECT_EQ(one(C(FilterOperator::kBetween, "", "50", "75")), R"(("c" BETWEEN '50' AND '75'))");
  EXPECT_EQ(one(C(FilterOperator::kNotBetween, "", "50", "75")),
            R"(("c" NOT BETWEEN '50' AND '75'))");
  EXPECT_EQ(one(C(FilterOperator::kNull)), R"(("c" IS NULL))");
  EXPECT_EQ(one(C(FilterOperator::kNotNull)), R"(("c" IS NOT NULL))");
  EXPECT_EQ(FilterToSql({}, Lit(Engine::kMysql), Q), "");
}

TEST(MappingFilterSql, FiltersAndedConditionsOred) {
  // The guide's "(empid <= 10) OR (empid between 50 and 75) OR (empid >= 100)" AND dept.
  auto sql = FilterToSql(
      {F("empid", {C(FilterOperator::kLte, "10"), C(FilterOperator::kBetween, "", "50", "75"),
                   C(FilterOperator::kGte, "100")}),
       F("dept", {C(FilterOperator::kEq, "tech")})},
      Lit(Engine::kSqlite), Q);
  EXPECT_EQ(sql, R"(("empid" <= '10' OR "empid" BETWEEN '50' AND '75' OR "empid" >= '100'))"
                 R"( AND ("dept" = 'tech'))");
}

TEST(MappingFilterSql, LiteralsAreEscapedPerEngine) {
  EXPECT_EQ(SqlStringLiteral("O'Brien", Engine::kPostgres), "'O''Brien'");
  EXPECT_EQ(SqlStringLiteral("a\\b", Engine::kPostgres), "E'a\\\\b'");
  EXPECT_EQ(SqlStringLiteral("a\\'b", Engine::kPostgres), "E'a\\\\''b'");
  EXPECT_EQ(SqlStringLiteral("O'Brien", Engine::kMysql), "'O''Brien'");
  EXPECT_EQ(SqlStringLiteral("a\\b", Engine::kMysql), "'a\\\\b'");
  // The classic injection: a backslash before a quote must not escape our closing quote.
  EXPECT_EQ(SqlStringLiteral("\\'; DROP TABLE t; --", Engine::kMysql),
            "'\\\\''; DROP TABLE t; --'");
  EXPECT_EQ(SqlStringLiteral("x\\", Engine::kMysql), "'x\\\\'");
  EXPECT_EQ(SqlStringLiteral("a\\'b", Engine::kSqlite), "'a\\''b'");
  EXPECT_EQ(SqlStringLiteral("", Engine::kSqlite), "''");
  // A NUL byte in a filter value is refused for every engine (MySQL's literal could hold it).
  EXPECT_THROW(FilterToSql({F("c", {C(FilterOperator::kEq, std::string("a\0b", 3))})},
                           Lit(Engine::kMysql), Q),
               Error);
  const std::string sql =
      FilterToSql({F("c", {C(FilterOperator::kEq, "it's")})}, Lit(Engine::kMysql),
                  [](std::string_view s) { return "`" + std::string(s) + "`"; });
  EXPECT_EQ(sql, "(`c` = 'it''s')");
}

// A literal is safe when, read by the engine's lexer, it ends exactly at its last byte.
size_t MysqlLiteralEnd(const std::string& lit) {
  for (size_t i = 1; i < lit.size(); ++i) {
    if (lit[i] == '\\') {
      ++i;
    } else if (lit[i] == '\'') {
      if (i + 1 < lit.size() && lit[i + 1] == '\'') {
        ++i;
      } else {
        return i;
      }
    }
  }
  return std::string::npos;
}

TEST(MappingFilterSql, MysqlLiteralsCannotBeBrokenOutOf) {
  const std::string pieces[] = {"'", "\\", "''", "\\'", "'\\", "a", "\\\\'", "\n"};
  for (const auto& a : pieces) {
    for (const auto& b : pieces) {
      for (const auto& c : pieces) {
        const std::string lit = SqlStringLiteral(a + b + c, Engine::kMysql);
        EXPECT_EQ(MysqlLiteralEnd(lit), lit.size() - 1) << lit;
      }
    }
  }
}

}  // namespace
}  // namespace ferry
