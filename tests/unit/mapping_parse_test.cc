#include <gtest/gtest.h>

#include <string>

#include "mapping/table_mappings.h"

namespace ferry {
namespace {

TableMappings Ok(const std::string& json) {
  auto r = ParseTableMappings(json, "m.json");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().what());
  return r.ok() ? r.value() : TableMappings{};
}

std::string Err(const std::string& json) {
  auto r = ParseTableMappings(json, "m.json");
  EXPECT_FALSE(r.ok()) << json;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
  return r.error().what();
}

// A document with one include-all selection rule (rule-id 1) plus `rule`.
std::string With(const std::string& rule) {
  return R"({"rules":[{"rule-type":"selection","rule-id":"1","rule-name":"1",
    "object-locator":{"schema-name":"%","table-name":"%"},"rule-action":"include"},)" +
         rule + "]}";
}

// --- real examples from the AWS DMS user guide ------------------------------------------------

TEST(MappingParse, GuideExampleSomeTablesInASchema) {
  // CHAP_Tasks.CustomizingTasks.TableMapping.SelectionTransformation.Selections.md
  auto m = Ok(R"({
    "rules": [
        {"rule-type": "selection", "rule-id": "1", "rule-name": "1",
         "object-locator": {"schema-name": "Test", "table-name": "%"}, "rule-action": "include"},
        {"rule-type": "selection", "rule-id": "2", "rule-name": "2",
         "object-locator": {"schema-name": "Test", "table-name": "DMS%"}, "rule-action": "exclude"}
    ]})");
  ASSERT_EQ(m.selections.size(), 2u);
  EXPECT_EQ(m.selections[1].action, SelectionAction::kExclude);
  EXPECT_EQ(m.selections[1].locator.table_name, "DMS%");
}

TEST(MappingParse, GuideExampleLoadOrderAsString) {
  auto m = Ok(R"({"rules": [
     {"rule-type": "selection", "rule-id": "1", "rule-name": "1",
      "object-locator": {"schema-name": "Test", "table-name": "loadsecond"},
      "rule-action": "include", "load-order": "1"},
     {"rule-type": "selection", "rule-id": "2", "rule-name": "2",
      "object-locator": {"schema-name": "Test", "table-name": "loadfirst"},
      "rule-action": "include", "load-order": "2"}]})");
  EXPECT_EQ(m.selections[0].load_order, 1);
  EXPECT_EQ(m.selections[1].load_order, 2);
}

TEST(MappingParse, GuideExampleViewsAndAll) {
  auto m = Ok(R"({"rules": [{"rule-type": "selection", "rule-id": "2", "rule-name": "2",
     "object-locator": {"schema-name": "Test", "table-name": "view_DMS%", "table-type": "view"},
     "rule-action": "include"},
    {"rule-type": "selection", "rule-id": "3", "rule-name": "3",
     "object-locator": {"schema-name": "report", "table-name": "%", "table-type": "all"},
     "rule-action": "include"}]})");
  EXPECT_EQ(m.selections[0].locator.table_type, TableType::kView);
  EXPECT_EQ(m.selections[1].locator.table_type, TableType::kAll);
}

TEST(MappingParse, GuideExampleMultipleFilterOperators) {
  // CHAP_Tasks.CustomizingTasks.Filters.md
  auto m = Ok(R"({"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1",
        "object-locator": {"schema-name": "test", "table-name": "employee"},
        "rule-action": "include",
        "filters": [{"filter-type": "source", "column-name": "empid",
            "filter-conditions": [{"filter-operator": "lte", "value": "10"},
                {"filter-operator": "between", "start-value": "50", "end-value": "75"},
                {"filter-operator": "gte", "value": "100"}]}]}]})");
  ASSERT_EQ(m.selections[0].filters.size(), 1u);
  const auto& f = m.selections[0].filters[0];
  EXPECT_EQ(f.column, "empid");
  EXPECT_EQ(f.rule_id, "1");
  ASSERT_EQ(f.conditions.size(), 3u);
  EXPECT_EQ(f.conditions[0].op, FilterOperator::kLte);
  EXPECT_EQ(f.conditions[1].op, FilterOperator::kBetween);
  EXPECT_EQ(f.conditions[1].start_value, "50");
  EXPECT_EQ(f.conditions[1].end_value, "75");
  EXPECT_EQ(f.conditions[2].value, "100");
}

TEST(MappingParse, GuideExampleTransformations) {
  // CHAP_Tasks.CustomizingTasks.TableMapping.SelectionTransformation.Transformations.md
  auto m = Ok(R"({"rules": [
    {"rule-type": "selection", "rule-id": "1", "rule-name": "1",
     "object-locator": {"schema-name": "test", "table-name": "%"}, "rule-action": "include"},
    {"rule-type": "transformation", "rule-id": "2", "rule-name": "2", "rule-action": "add-column",
     "rule-target": "column", "object-locator": {"schema-name": "test", "table-name": "actor"},
     "value": "last_updated", "data-type": {"type": "datetime", "precision": 6}},
    {"rule-type": "transformation", "rule-id": "3", "rule-name": "3",
     "rule-action": "replace-prefix", "rule-target": "column",
     "object-locator": {"schema-name": "%", "table-name": "%", "column-name": "%"},
     "value": "NewPre_", "old-value": "Pre_"},
    {"rule-type": "transformation", "rule-id": "4", "rule-name": "4",
     "rule-action": "define-primary-key", "rule-target": "table",
     "object-locator": {"schema-name": "inventory", "table-name": "ITEM"},
     "primary-key-def": {"name": "ITEM-unique-idx", "origin": "unique-index",
        "columns": ["ITEM-NAME", "BOM-MODEL-NUM", "BOM-PART-NUM"]}},
    {"rule-type": "transformation", "rule-id": "5", "rule-name": "RuleName 1",
     "rule-action": "change-data-type", "rule-target": "column",
     "object-locator": {"schema-name": "dbo", "table-name": "dms", "column-name": "SALE_AMOUNT"},
     "data-type": {"type": "int8"}},
    {"rule-type": "transformation", "rule-id": "6", "rule-name": "6", "rule-target": "column",
     "object-locator": {"schema-name": "test", "table-name": "table_t", "column-name": "col10"},
     "rule-action": "change-data-type",
     "data-type": {"type": "string", "length": "4092", "scale": ""}}
  ]})");
  ASSERT_EQ(m.transformations.size(), 5u);
  const auto& add = m.transformations[0];
  EXPECT_EQ(add.action, TransformAction::kAddColumn);
  EXPECT_EQ(add.value, "last_updated");
  EXPECT_EQ(add.data_type->kind, DmsKind::kDatetime);
  EXPECT_EQ(add.data_type->precision, 6);
  EXPECT_EQ(m.transformations[1].old_value, "Pre_");
  ASSERT_TRUE(m.transformations[2].primary_key);
  EXPECT_TRUE(m.transformations[2].primary_key->unique_index);
  EXPECT_EQ(m.transformations[2].primary_key->columns.size(), 3u);
  EXPECT_EQ(m.transformations[3].data_type->kind, DmsKind::kInt8);
  EXPECT_EQ(m.transformations[4].data_type->length, 4092);
  EXPECT_EQ(m.transformations[4].data_type->scale, 0);
}

TEST(MappingParse, TableSettingsRangesAndLob) {
  auto m = Ok(With(R"({"rule-type": "table-settings", "rule-id": "2", "rule-name": "2",
      "object-locator": {"schema-name": "Test", "table-name": "SALES"},
      "parallel-load": {"type": "ranges", "columns": ["SALES_NO", "REGION"],
          "boundaries": [["1000", "NORTH"], [3000, "WEST"]]},
      "lob-settings": {"mode": "limited", "bulk-max-size": "16"}})"));
  ASSERT_EQ(m.table_settings.size(), 1u);
  const auto& p = *m.table_settings[0].parallel_load;
  EXPECT_EQ(p.type, ParallelLoadType::kRanges);
  EXPECT_EQ(p.columns, (std::vector<std::string>{"SALES_NO", "REGION"}));
  ASSERT_EQ(p.boundaries.size(), 2u);
  EXPECT_EQ(p.boundaries[1][0], "3000");
  EXPECT_EQ(m.table_settings[0].lob_settings->mode, LobMode::kLimited);
  EXPECT_EQ(*m.table_settings[0].lob_settings->bulk_max_size_kb, 16);
}

TEST(MappingParse, TableSettingsOtherTypes) {
  auto m = Ok(With(R"({"rule-type": "table-settings", "rule-id": "2", "rule-name": "2",
      "object-locator": {"schema-name": "s", "table-name": "t"},
      "parallel-load": {"type": "partitions-list", "partitions": ["p1", "p2"]}},
     {"rule-type": "table-settings", "rule-id": "3", "rule-name": "3",
      "object-locator": {"schema-name": "s", "table-name": "u"},
      "parallel-load": {"type": "partitions-auto"}, "lob-settings": {"mode": "unlimited"}},
     {"rule-type": "table-settings", "rule-id": "4", "rule-name": "4",
      "object-locator": {"schema-name": "s", "table-name": "v"},
      "parallel-load": {"type": "none"}})"));
  EXPECT_EQ(m.table_settings[0].parallel_load->partitions.size(), 2u);
  EXPECT_EQ(m.table_settings[1].parallel_load->type, ParallelLoadType::kPartitionsAuto);
  EXPECT_EQ(m.table_settings[1].lob_settings->mode, LobMode::kUnlimited);
  EXPECT_EQ(m.table_settings[2].parallel_load->type, ParallelLoadType::kNone);
}

TEST(MappingParse, EveryTransformationAction) {
  struct Case {
    const char* action;
    const char* target;
    const char* extra;
    TransformAction want;
  };
  const Case cases[] = {
      {"rename", "table", R"("value": "x")", TransformAction::kRename},
      {"convert-lowercase", "schema", "", TransformAction::kConvertLowercase},
      {"convert-uppercase", "column", "", TransformAction::kConvertUppercase},
      {"add-prefix", "table", R"("value": "p_")", TransformAction::kAddPrefix},
      {"remove-prefix", "table", R"("value": "p_")", TransformAction::kRemovePrefix},
      {"replace-prefix", "table", R"("value": "", "old-value": "p_")",
       TransformAction::kReplacePrefix},
      {"add-suffix", "column", R"("value": "_s")", TransformAction::kAddSuffix},
      {"remove-suffix", "column", R"("value": "_s")", TransformAction::kRemoveSuffix},
      {"replace-suffix", "schema", R"("value": "_n", "old-value": "_o")",
       TransformAction::kReplaceSuffix},
      {"remove-column", "column", "", TransformAction::kRemoveColumn},
      {"change-data-type", "column", R"("data-type": {"type": "numeric", "precision": 10,
          "scale": 2})",
       TransformAction::kChangeDataType},
  };
  for (const Case& c : cases) {
    std::string extra = *c.extra ? std::string(",") + c.extra : "";
    std::string loc = std::string(c.target) == "column"
                          ? R"({"schema-name": "s", "table-name": "t", "column-name": "c"})"
                          : R"({"schema-name": "s", "table-name": "t"})";
    auto m = Ok(With(std::string(R"({"rule-type": "transformation", "rule-id": 2,
        "rule-name": "two", "rule-action": ")") +
                     c.action + R"(", "rule-target": ")" + c.target + R"(", "object-locator": )" +
                     loc + extra + "}"));
    ASSERT_EQ(m.transformations.size(), 1u) << c.action;
    EXPECT_EQ(m.transformations[0].action, c.want) << c.action;
    EXPECT_EQ(m.transformations[0].rule_id, "2");
    EXPECT_STREQ(TransformActionName(c.want), c.action);
  }
}

TEST(MappingParse, ConsoleStyleNullsAreAbsent) {
  auto m = Ok(With(R"({"rule-type": "transformation", "rule-id": "2", "rule-name": "2",
      "rule-action": "convert-lowercase", "rule-target": "table",
      "object-locator": {"schema-name": "s", "table-name": "%"}, "value": null,
      "old-value": null})"));
  EXPECT_EQ(m.transformations.size(), 1u);
}

TEST(MappingParse, RuleIdNumberOrStringAndOrder) {
  EXPECT_LT(CompareRuleIds("2", "10"), 0);
  EXPECT_EQ(CompareRuleIds("007", "7"), 0);
  EXPECT_LT(CompareRuleIds("99999999999999999999", "100000000000000000000"), 0);
  EXPECT_LT(CompareRuleIds("10", "a"), 0);  // numbers before other ids
  EXPECT_LT(CompareRuleIds("a", "b"), 0);
  auto m = Ok(R"({"rules":[{"rule-type":"selection","rule-id":42,"rule-name":7,
      "object-locator":{"schema-name":"s","table-name":"t"},"rule-action":"explicit"}]})");
  EXPECT_EQ(m.selections[0].rule_id, "42");
  EXPECT_EQ(m.selections[0].rule_name, "7");
}

// --- errors: every message names file, JSON path, rule-id, expected and found --------------------

TEST(MappingParse, MalformedJson) {
  const std::string e = Err(R"({"rules": [)");
  EXPECT_NE(e.find("m.json: (document): not valid JSON"), std::string::npos) << e;
  EXPECT_NE(Err("").find("m.json: (document): not valid JSON"), std::string::npos);
  EXPECT_NE(Err("{\"rules\": [\"\xff\"]}").find("not valid JSON"), std::string::npos);
}

TEST(MappingParse, DeepNestingIsRefusedBeforeParsing) {
  // Found a stack overflow: the message for `rules[0]` dumped the nested array it found.
  const std::string deep =
      "{\"rules\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(Err(deep), "m.json: (document): arrays and objects nest deeper than 64 levels");
  // Brackets inside strings do not count.
  EXPECT_NE(Err("{\"rules\":[\"" + std::string(100, '[') + "\"]}")
                .find("rules[0]: expected an "
                      "object, found string"),
            std::string::npos);
}

TEST(MappingParse, TopLevelErrors) {
  EXPECT_EQ(Err("[]"), "m.json: (document): expected an object, found an array");
  EXPECT_EQ(Err("{}"), "m.json: (document): missing required key \"rules\"");
  EXPECT_EQ(Err(R"({"rules": {}})"), "m.json: rules: expected an array, found an object");
  EXPECT_EQ(Err(R"({"rules": [], "x": 1})"), "m.json: x: unknown key \"x\"; allowed keys: rules");
  EXPECT_EQ(Err(R"({"rules": []})"),
            "m.json: rules: expected at least one selection rule (DMS migrates nothing without "
            "one)");
  EXPECT_EQ(Err(R"({"rules": [5]})"), "m.json: rules[0]: expected an object, found number 5");
}

TEST(MappingParse, RuleLevelErrors) {
  EXPECT_EQ(Err(R"({"rules": [{"rule-type": "selection"}]})"),
            "m.json: rules[0]: missing required key \"rule-id\"");
  EXPECT_EQ(Err(R"({"rules": [{"rule-id": 1.5}]})"),
            "m.json: rules[0].rule-id: expected a non-empty string or an integer, found number "
            "1.5");
  EXPECT_EQ(Err(R"({"rules": [{"rule-id": ""}]})"),
            "m.json: rules[0].rule-id: expected a non-empty string or an integer, found string "
            "\"\"");
  EXPECT_EQ(Err(R"({"rules": [{"rule-id": "3", "rule-type": "selection"}]})"),
            "m.json: rules[0] (rule-id 3): missing required key \"rule-name\"");
  EXPECT_EQ(Err(R"({"rules": [{"rule-id": "3", "rule-name": "x", "rule-type": "selectoin"}]})"),
            "m.json: rules[0].rule-type (rule-id 3): expected one of selection, transformation, "
            "table-settings, found string \"selectoin\"");
  EXPECT_EQ(Err(With(R"({"rule-type": "selection", "rule-id": 1, "rule-name": "dup",
        "object-locator": {"schema-name": "s", "table-name": "t"}, "rule-action": "include"})")),
            "m.json: rules[1].rule-id (rule-id 1): duplicate rule-id; rules[0] already has "
            "rule-id 1");
  EXPECT_EQ(Err(With(R"({"rule-type": "selection", "rule-id": 2, "rule-name": "x",
        "object-locator": {"schema-name": "s", "table-name": "t"}, "rule-action": "include",
        "colour": "red"})")),
            "m.json: rules[1].colour (rule-id 2): unknown key \"colour\"; allowed keys: rule-type, "
            "rule-id, rule-name, object-locator, rule-action, load-order, filters");
}

TEST(MappingParse, SelectionErrors) {
  auto sel = [](const std::string& body) {
    return Err(R"({"rules": [{"rule-type": "selection", "rule-id": "7", "rule-name": "n", )" +
               body + "}]}");
  };
  EXPECT_EQ(sel(R"("object-locator": {"schema-name": 5, "table-name": "t"},
                   "rule-action": "include")"),
            "m.json: rules[0].object-locator.schema-name (rule-id 7): expected a non-empty "
            "string, found number 5");
  EXPECT_EQ(sel(R"("object-locator": {"schema-name": "s"}, "rule-action": "include")"),
            "m.json: rules[0].object-locator (rule-id 7): missing required key \"table-name\"");
  EXPECT_EQ(sel(R"("object-locator": {"schema-name": "s", "table-name": "t", "table-type": "x"},
                   "rule-action": "include")"),
            "m.json: rules[0].object-locator.table-type (rule-id 7): expected one of table, view, "
            "all, found string \"x\"");
  EXPECT_EQ(sel(R"("object-locator": {"schema-name": "s", "table-name": "t"},
                   "rule-action": "Include")"),
            "m.json: rules[0].rule-action (rule-id 7): expected one of include, exclude, "
            "explicit, found string \"Include\"");
  EXPECT_EQ(sel(R"("object-locator": {"schema-name": "s", "table-name": "t%"},
                   "rule-action": "explicit")"),
            "m.json: rules[0].object-locator.table-name (rule-id 7): rule-action \"explicit\" "
            "needs an exact name without the % wildcard, found \"t%\"");
  EXPECT_EQ(sel(R"("object-locator": {"schema-name": "s", "table-name": "t"},
                   "rule-action": "include", "load-order": "first")"),
            "m.json: rules[0].load-order (rule-id 7): expected an integer from 0 to 2147483647 "
            "(a number or a string of digits), found string \"first\"");
  EXPECT_EQ(sel(R"("object-locator": {"schema-name": "s", "table-name": "t"},
                   "rule-action": "include", "load-order": -1)"),
            "m.json: rules[0].load-order (rule-id 7): expected an integer from 0 to 2147483647, "
            "found number -1");
  EXPECT_EQ(sel(R"("object-locator": "s.t", "rule-action": "include")"),
            "m.json: rules[0].object-locator (rule-id 7): expected an object, found string "
            "\"s.t\"");
}

TEST(MappingParse, FilterErrors) {
  auto filt = [](const std::string& filters, const char* action = "include") {
    return Err(std::string(R"({"rules": [{"rule-type": "selection", "rule-id": "9",
        "rule-name": "n", "object-locator": {"schema-name": "s", "table-name": "t"},
        "rule-action": ")") +
               action + R"(", "filters": )" + filters + "}]}");
  };
  EXPECT_EQ(filt(R"({})"),
            "m.json: rules[0].filters (rule-id 9): expected an array, found an object");
  EXPECT_EQ(filt(R"([{"filter-type": "target", "column-name": "c",
                      "filter-conditions": [{"filter-operator": "null"}]}])"),
            "m.json: rules[0].filters[0].filter-type (rule-id 9): expected one of source, found "
            "string \"target\"");
  EXPECT_EQ(filt(R"([{"filter-type": "source", "filter-conditions": []}])"),
            "m.json: rules[0].filters[0] (rule-id 9): missing required key \"column-name\"");
  EXPECT_EQ(filt(R"([{"column-name": "c", "filter-conditions": []}])"),
            "m.json: rules[0].filters[0].filter-conditions (rule-id 9): expected at least one "
            "filter condition, found an array");
  EXPECT_EQ(filt(R"([{"column-name": "c", "filter-conditions": [{"filter-operator": "like",
                      "value": "x"}]}])"),
            "m.json: rules[0].filters[0].filter-conditions[0].filter-operator (rule-id 9): "
            "expected one of eq, noteq, lte, ste, gte, between, notbetween, null, notnull, found "
            "string \"like\"");
  EXPECT_EQ(filt(R"([{"column-name": "c", "filter-conditions": [{"filter-operator": "eq"}]}])"),
            "m.json: rules[0].filters[0].filter-conditions[0] (rule-id 9): missing required key "
            "\"value\"");
  EXPECT_EQ(filt(R"([{"column-name": "c", "filter-conditions": [{"filter-operator": "eq",
                      "value": [1]}]}])"),
            "m.json: rules[0].filters[0].filter-conditions[0].value (rule-id 9): expected a "
            "string or a number, found an array");
  EXPECT_EQ(filt(R"([{"column-name": "c", "filter-conditions": [{"filter-operator": "between",
                      "start-value": "1", "end-value": "2", "value": "3"}]}])"),
            "m.json: rules[0].filters[0].filter-conditions[0].value (rule-id 9): "
            "filter-operator \"between\" takes no \"value\"");
  EXPECT_EQ(filt(R"([{"column-name": "c", "filter-conditions": [{"filter-operator": "null",
                      "value": "x"}]}])"),
            "m.json: rules[0].filters[0].filter-conditions[0].value (rule-id 9): "
            "filter-operator \"null\" takes no \"value\"");
  EXPECT_EQ(filt(R"([{"column-name": "c", "filter-conditions": [{"filter-operator": "eq",
                      "value": "1"}, {"filter-operator": "noteq", "value": "2"}]}])"),
            "m.json: rules[0].filters[0].filter-conditions[1].filter-operator (rule-id 9): a "
            "negative operator (\"noteq\") must be the only condition of its filter; found 2 "
            "conditions (use separate filters, which are ANDed)");
  EXPECT_EQ(filt(R"([{"column-name": "c", "filter-conditions": [{"filter-operator": "null"}]}])",
                 "exclude"),
            "m.json: rules[0].filters (rule-id 9): filters are not allowed on an \"exclude\" "
            "rule");
  EXPECT_EQ(filt(R"([{"column-name": "c", "filter-conditions": [{"filter-operator": "eq",
                      "value": "a\u0000b"}]}])"),
            "m.json: rules[0].filters[0].filter-conditions[0].value (rule-id 9): a NUL character "
            "is not allowed here");
}

TEST(MappingParse, NumericFilterValuesAreKeptAsText) {
  auto m = Ok(R"({"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1",
      "object-locator": {"schema-name": "s", "table-name": "t"}, "rule-action": "include",
      "filters": [{"column-name": "c", "filter-conditions": [{"filter-operator": "gte",
      "value": 100}, {"filter-operator": "lte", "value": 2.5}]}]}]})");
  EXPECT_EQ(m.selections[0].filters[0].conditions[0].value, "100");
  EXPECT_EQ(m.selections[0].filters[0].conditions[1].value, "2.5");
}

TEST(MappingParse, TransformationErrors) {
  auto tr = [](const std::string& body) {
    return Err(
        With(R"({"rule-type": "transformation", "rule-id": "5", "rule-name": "n", )" + body + "}"));
  };
  EXPECT_EQ(tr(R"("rule-action": "include-column", "rule-target": "column",
                  "object-locator": {"schema-name": "s"})"),
            "m.json: rules[1].rule-action (rule-id 5): \"include-column\" is a DMS rule-action Ferry "
            "does not support yet; remove the rule");
  EXPECT_EQ(tr(R"("rule-action": "rename", "rule-target": "table-tablespace",
                  "object-locator": {"schema-name": "s"}, "value": "x")"),
            "m.json: rules[1].rule-target (rule-id 5): \"table-tablespace\" is a DMS rule-target for "
            "Oracle targets only (PostgreSQL, MySQL/MariaDB and SQLite targets have no tablespace "
            "setting); remove the rule");
  EXPECT_EQ(tr(R"("rule-action": "remove-column", "rule-target": "table",
                  "object-locator": {"schema-name": "s", "table-name": "t"})"),
            "m.json: rules[1].rule-target (rule-id 5): rule-action \"remove-column\" needs "
            "rule-target \"column\", found \"table\"");
  EXPECT_EQ(tr(R"("rule-action": "define-primary-key", "rule-target": "column",
                  "object-locator": {"schema-name": "s", "table-name": "t", "column-name": "c"})"),
            "m.json: rules[1].rule-target (rule-id 5): rule-action \"define-primary-key\" needs "
            "rule-target \"table\", found \"column\"");
  EXPECT_EQ(tr(R"("rule-action": "rename", "rule-target": "table",
                  "object-locator": {"schema-name": "s"}, "value": "x")"),
            "m.json: rules[1].object-locator (rule-id 5): missing required key \"table-name\"");
  EXPECT_EQ(tr(R"("rule-action": "rename", "rule-target": "column",
                  "object-locator": {"schema-name": "s", "table-name": "t"}, "value": "x")"),
            "m.json: rules[1].object-locator (rule-id 5): missing required key \"column-name\"");
  EXPECT_EQ(tr(R"("rule-action": "rename", "rule-target": "table",
                  "object-locator": {"schema-name": "s", "table-name": "t", "column-name": "c"},
                  "value": "x")"),
            "m.json: rules[1].object-locator.column-name (rule-id 5): column-name is only for "
            "rule-target \"column\", found \"table\"");
  EXPECT_EQ(tr(R"("rule-action": "rename", "rule-target": "table",
                  "object-locator": {"schema-name": "s", "table-name": "t", "index": "i"},
                  "value": "x")"),
            "m.json: rules[1].object-locator.index (rule-id 5): unknown key \"index\"; allowed "
            "keys: schema-name, table-name, column-name, data-type");
  EXPECT_EQ(tr(R"("rule-action": "rename", "rule-target": "table",
                  "object-locator": {"schema-name": "s", "table-name": "t"})"),
            "m.json: rules[1] (rule-id 5): missing required key \"value\"");
  EXPECT_EQ(tr(R"("rule-action": "rename", "rule-target": "table",
                  "object-locator": {"schema-name": "s", "table-name": "t"}, "value": "")"),
            "m.json: rules[1].value (rule-id 5): expected a non-empty string, found string \"\"");
  EXPECT_EQ(tr(R"("rule-action": "replace-prefix", "rule-target": "table",
                  "object-locator": {"schema-name": "s", "table-name": "t"}, "value": "x")"),
            "m.json: rules[1] (rule-id 5): missing required key \"old-value\"");
  EXPECT_EQ(tr(R"("rule-action": "convert-lowercase", "rule-target": "table",
                  "object-locator": {"schema-name": "s", "table-name": "t"}, "value": "x")"),
            "m.json: rules[1].value (rule-id 5): rule-action \"convert-lowercase\" takes no "
            "\"value\"");
  EXPECT_EQ(tr(R"("rule-action": "add-column", "rule-target": "column",
                  "object-locator": {"schema-name": "s", "table-name": "t"}, "value": "c")"),
            "m.json: rules[1] (rule-id 5): missing required key \"data-type\"");
  EXPECT_EQ(tr(R"("rule-action": "add-column", "rule-target": "column",
                  "object-locator": {"schema-name": "s", "table-name": "t", "column-name": "c"},
                  "value": "c", "data-type": {"type": "int4"})"),
            "m.json: rules[1].object-locator.column-name (rule-id 5): add-column takes the new "
            "column's name in \"value\", not in object-locator.column-name");
  EXPECT_EQ(tr(R"("rule-action": "add-column", "rule-target": "column",
                  "object-locator": {"schema-name": "s", "table-name": "t"}, "value": "c",
                  "data-type": {"type": "varchar"})"),
            "m.json: rules[1].data-type.type (rule-id 5): expected a DMS data type (boolean, "
            "bytes, date, time, datetime, int1, int2, int4, int8, uint1, uint2, uint4, uint8, "
            "numeric, real4, real8, string, wstring, blob, clob, nclob), found string "
            "\"varchar\"");
  EXPECT_EQ(tr(R"("rule-action": "change-data-type", "rule-target": "column",
                  "object-locator": {"schema-name": "s", "table-name": "t", "column-name": "c"},
                  "data-type": {"type": "string", "length": "long"})"),
            "m.json: rules[1].data-type.length (rule-id 5): expected an integer from 0 to "
            "1099511627776 (a number or a string of digits), found string \"long\"");
  EXPECT_EQ(tr(R"("rule-action": "change-data-type", "rule-target": "column",
                  "object-locator": {"schema-name": "s", "table-name": "t", "column-name": "c"},
                  "data-type": {"type": "string", "size": 3})"),
            "m.json: rules[1].data-type.size (rule-id 5): unknown key \"size\"; allowed keys: "
            "type, length, precision, scale");
  EXPECT_EQ(tr(R"("rule-action": "define-primary-key", "rule-target": "table",
                  "object-locator": {"schema-name": "s", "table-name": "t%"},
                  "primary-key-def": {"name": "pk", "columns": ["a"]})"),
            "m.json: rules[1].object-locator.table-name (rule-id 5): define-primary-key needs an "
            "exact name without %, found \"t%\"");
  EXPECT_EQ(tr(R"("rule-action": "define-primary-key", "rule-target": "table",
                  "object-locator": {"schema-name": "s", "table-name": "t"},
                  "primary-key-def": {"name": "pk", "origin": "index", "columns": ["a"]})"),
            "m.json: rules[1].primary-key-def.origin (rule-id 5): expected one of primary-key, "
            "unique-index, found string \"index\"");
  EXPECT_EQ(tr(R"("rule-action": "define-primary-key", "rule-target": "table",
                  "object-locator": {"schema-name": "s", "table-name": "t"},
                  "primary-key-def": {"name": "pk", "columns": ["a", 2]})"),
            "m.json: rules[1].primary-key-def.columns[1] (rule-id 5): expected a non-empty "
            "string, found number 2");
  EXPECT_EQ(tr(R"("rule-action": "define-primary-key", "rule-target": "table",
                  "object-locator": {"schema-name": "s", "table-name": "t"},
                  "primary-key-def": {"name": "pk", "columns": ["a", "a"]})"),
            "m.json: rules[1].primary-key-def.columns[1] (rule-id 5): column \"a\" is listed "
            "twice");
  EXPECT_EQ(tr(R"("rule-action": "define-primary-key", "rule-target": "table",
                  "object-locator": {"schema-name": "s", "table-name": "t"})"),
            "m.json: rules[1] (rule-id 5): missing required key \"primary-key-def\"");
  EXPECT_EQ(tr(R"("rule-action": "remove-column", "rule-target": "column",
                  "object-locator": {"schema-name": "s", "table-name": "t", "column-name": "c",
                  "data-type": "text"})"),
            "m.json: rules[1].object-locator.data-type (rule-id 5): expected a DMS data type "
            "name such as int4, found string \"text\"");
}

TEST(MappingParse, TableSettingsErrors) {
  auto ts = [](const std::string& body) {
    return Err(With(R"({"rule-type": "table-settings", "rule-id": "8", "rule-name": "n",
        "object-locator": {"schema-name": "s", "table-name": "t"})" +
                    body + "}"));
  };
  EXPECT_EQ(ts(""),
            "m.json: rules[1] (rule-id 8): a table-settings rule needs \"parallel-load\" "
            "or \"lob-settings\"");
  EXPECT_EQ(ts(R"(, "parallel-load": {"type": "subpartitions-auto"})"),
            "m.json: rules[1].parallel-load.type (rule-id 8): \"subpartitions-auto\" is a DMS "
            "parallel-load type for Oracle sources only; use partitions-auto, partitions-list or "
            "ranges");
  EXPECT_EQ(ts(R"(, "parallel-load": {"type": "ranges", "boundaries": [["1"]]})"),
            "m.json: rules[1].parallel-load (rule-id 8): missing required key \"columns\"");
  EXPECT_EQ(ts(R"(, "parallel-load": {"type": "ranges", "columns": ["a", "b"],
                  "boundaries": [["1", "2"], ["3"]]})"),
            "m.json: rules[1].parallel-load.boundaries[1] (rule-id 8): expected 2 value(s), one "
            "per column, found an array");
  EXPECT_EQ(ts(R"(, "parallel-load": {"type": "ranges", "columns": ["a"],
                  "boundaries": [[null]]})"),
            "m.json: rules[1].parallel-load.boundaries[0][0] (rule-id 8): expected a string or a "
            "number, found null");
  EXPECT_EQ(ts(R"(, "parallel-load": {"type": "ranges", "columns": ["a","b","c","d","e","f",
                  "g","h","i","j","k"], "boundaries": [["1"]]})"),
            "m.json: rules[1].parallel-load.columns (rule-id 8): expected at most 10 columns, "
            "found an array");
  EXPECT_EQ(ts(R"(, "parallel-load": {"type": "partitions-auto", "columns": ["a"]})"),
            "m.json: rules[1].parallel-load.columns (rule-id 8): \"columns\" is only for type "
            "\"ranges\", found type \"partitions-auto\"");
  EXPECT_EQ(ts(R"(, "parallel-load": {"type": "partitions-list"})"),
            "m.json: rules[1].parallel-load (rule-id 8): missing required key \"partitions\"");
  EXPECT_EQ(ts(R"(, "lob-settings": {"mode": "limited"})"),
            "m.json: rules[1].lob-settings.bulk-max-size (rule-id 8): mode \"limited\" needs a "
            "bulk-max-size (KB) greater than 0");
  EXPECT_EQ(ts(R"(, "lob-settings": {"mode": "full"})"),
            "m.json: rules[1].lob-settings.mode (rule-id 8): expected one of limited, unlimited, "
            "none, found string \"full\"");
  EXPECT_EQ(ts(R"(, "lob-settings": {"mode": "unlimited", "bulk-max-size": true})"),
            "m.json: rules[1].lob-settings.bulk-max-size (rule-id 8): expected an integer from 0 "
            "to 4294967296, found boolean true");
  EXPECT_EQ(ts(R"(, "rule-action": "include", "lob-settings": {"mode": "none"})"),
            "m.json: rules[1].rule-action (rule-id 8): unknown key \"rule-action\"; allowed keys: "
            "rule-type, rule-id, rule-name, object-locator, parallel-load, lob-settings");
}

TEST(MappingParse, LongFoundValuesAreShortened) {
  const std::string e = Err(R"({"rules": [{"rule-id": ")" + std::string(200, 'x') + R"(",
      "rule-name": "n", "rule-type": 1}]})");
  EXPECT_NE(e.find("found number 1"), std::string::npos) << e;
  const std::string e2 = Err(R"({"rules": [{"rule-id": "1", "rule-name": "n", "rule-type": ")" +
                             std::string(200, 'y') + R"("}]})");
  EXPECT_NE(e2.find("yyy..."), std::string::npos) << e2;
  EXPECT_LT(e2.size(), 300u);
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

// The user guide's lob-settings example gives only bulk-max-size: limited mode, as DMS reads it.
TEST(MappingParse, LobSettingsWithOnlyBulkMaxSizeIsLimitedMode) {
  Result<TableMappings> m = ParseTableMappings(R"({"rules": [
      {"rule-type": "selection", "rule-id": "1", "rule-name": "1",
       "object-locator": {"schema-name": "%", "table-name": "%"}, "rule-action": "include"},
      {"rule-type": "table-settings", "rule-id": "2", "rule-name": "2",
       "object-locator": {"schema-name": "s", "table-name": "t"},
       "lob-settings": {"bulk-max-size": "16"}}]})",
                                               "m.json");
  ASSERT_TRUE(m.ok()) << m.error().what();
  ASSERT_EQ(m->table_settings.size(), 1u);
  ASSERT_TRUE(m->table_settings[0].lob_settings.has_value());
  EXPECT_EQ(m->table_settings[0].lob_settings->mode, LobMode::kLimited);
  EXPECT_EQ(m->table_settings[0].lob_settings->bulk_max_size_kb.value_or(0), 16);
}

}  // namespace
}  // namespace ferry
