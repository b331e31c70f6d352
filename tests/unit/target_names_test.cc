// Target names checked against each engine's naming rules before anything is created: the
// rules themselves (cut, fold, reserved prefix) and the messages that name the source objects,
// the rule and the table-mapping rule that fixes each problem.
#include "engine/target_names.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace ferry {
namespace {

FixedNameRules Postgres() {
  FixedNameRules r;
  r.engine = "PostgreSQL";
  r.max_bytes = 63;
  return r;
}

FixedNameRules Sqlite() {
  FixedNameRules r;
  r.engine = "SQLite";
  r.ascii_case_insensitive = true;
  r.reserved_prefix = "sqlite_";
  return r;
}

TablePlan Plan(const std::string& schema, const std::string& name,
               const std::vector<std::string>& columns, const std::string& target_schema) {
  TablePlan plan;
  plan.source.schema = schema;
  plan.source.name = name;
  plan.target.schema = target_schema;
  plan.target.name = name;
  for (const std::string& c : columns) {
    ColumnDef col;
    col.name = c;
    plan.source.columns.push_back(col);
    plan.target.columns.push_back(col);
  }
  return plan;
}

std::string Refusal(const std::vector<TablePlan>& plans, NameRules& rules) {
  try {
    CheckTargetNames(plans, rules, 7);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    return e.what();
  }
  return "";
}

// The suggested rules in `message`, each parsed.
std::vector<nlohmann::json> SuggestedRules(const std::string& message) {
  std::vector<nlohmann::json> rules;
  for (size_t at = message.find("{\"rule-type\""); at != std::string::npos;
       at = message.find("{\"rule-type\"", at + 1)) {
    const size_t end = message.find('\n', at);
    rules.push_back(nlohmann::json::parse(message.substr(at, end == std::string::npos
                                                                 ? std::string::npos
                                                                 : end - at)));
  }
  return rules;
}

TEST(NameRules, PostgresCutsAtSixtyThreeBytesOnACharacterBoundary) {
  FixedNameRules pg = Postgres();
  EXPECT_EQ(pg.Refusal(NameKind::kTable, std::string(63, 'a')), "");
  EXPECT_EQ(pg.Refusal(NameKind::kColumn, std::string(64, 'a')),
            "is 64 bytes long; PostgreSQL keeps only the first 63 bytes of a name");
  // 31 two-byte characters and a third byte would split the 32nd character: cut before it.
  const std::string e_acute = "\xC3\xA9";
  std::string name = "x";
  for (int i = 0; i < 40; ++i) name += e_acute;
  EXPECT_EQ(pg.Fit(name, "").size(), 63u);
  EXPECT_EQ(pg.Fit(name, "_2").size(), 63u);
  EXPECT_EQ(pg.Fit(name, "_2").substr(61), "_2");
  std::string even = "";
  for (int i = 0; i < 40; ++i) even += e_acute;
  EXPECT_EQ(pg.Fit(even, "").size(), 62u) << "a character is never split";
  EXPECT_EQ(pg.Keys(NameKind::kTable, {"Dup", "dup"}),
            (std::vector<std::string>{"Dup", "dup"}));
}

TEST(NameRules, SqliteFoldsAsciiCaseOnlyAndKeepsItsPrefix) {
  FixedNameRules lite = Sqlite();
  EXPECT_EQ(lite.Keys(NameKind::kTable, {"Dup", "dup", "\xC3\x89", "\xC3\xA9"}),
            (std::vector<std::string>{"dup", "dup", "\xC3\x89", "\xC3\xA9"}));
  EXPECT_EQ(lite.Refusal(NameKind::kTable, "SQLite_stat"),
            "starts with 'sqlite_', which SQLite keeps for its own tables");
  EXPECT_EQ(lite.Refusal(NameKind::kColumn, "sqlite_x"), "") << "only table names are reserved";
  EXPECT_EQ(lite.Fit("sqlite_stat", ""), "t_sqlite_stat");
  EXPECT_EQ(lite.Refusal(NameKind::kTable, std::string(500, 'a')), "");
}

TEST(TargetNames, TablesFoldedTogetherAreRefusedWithTheRuleThatSeparatesThem) {
  FixedNameRules lite = Sqlite();
  const std::string message =
      Refusal({Plan("s", "Dup", {"id"}, "main"), Plan("s", "dup", {"id"}, "main")}, lite);
  EXPECT_NE(message.find("1 target name(s) would be changed or merged by the target; nothing "
                         "was created:\n  - source table s.Dup and source table s.dup would "
                         "both be target table main.Dup: on the target, SQLite treats table "
                         "names that differ only in ASCII letter case as one; rename it with a "
                         "table-mapping rule such as "),
            std::string::npos)
      << message;
  const std::vector<nlohmann::json> rules = SuggestedRules(message);
  ASSERT_EQ(rules.size(), 1u) << message;
  EXPECT_EQ(rules[0]["rule-id"], "7");
  EXPECT_EQ(rules[0]["rule-target"], "table");
  EXPECT_EQ(rules[0]["rule-action"], "rename");
  EXPECT_EQ(rules[0]["object-locator"]["schema-name"], "s");
  EXPECT_EQ(rules[0]["object-locator"]["table-name"], "dup");
  EXPECT_EQ(rules[0]["value"], "dup_2");
  // PostgreSQL compares exactly: the same tables are fine there.
  FixedNameRules pg = Postgres();
  EXPECT_EQ(Refusal({Plan("s", "Dup", {"id"}, "s"), Plan("s", "dup", {"id"}, "s")}, pg), "");
}

TEST(TargetNames, LongNamesSharingAPrefixGetDistinctSuggestions) {
  FixedNameRules pg = Postgres();
  const std::string a = std::string(63, 'n') + "_first_one";
  const std::string b = std::string(63, 'n') + "_second_one";
  const std::string col = std::string(70, 'c');
  const std::string message =
      Refusal({Plan("main", a, {"id"}, "public"), Plan("main", b, {"id", col}, "public")}, pg);
  EXPECT_NE(message.find("3 target name(s)"), std::string::npos) << message;
  EXPECT_NE(message.find("source table main." + a + " would be target table '" + a +
                         "', but the name is 73 bytes long; PostgreSQL keeps only the first 63 "
                         "bytes of a name; rename it with a table-mapping rule such as "),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("source column main." + b + "." + col), std::string::npos) << message;
  const std::vector<nlohmann::json> rules = SuggestedRules(message);
  ASSERT_EQ(rules.size(), 3u) << message;
  EXPECT_EQ(rules[0]["value"], std::string(63, 'n'));
  EXPECT_EQ(rules[1]["value"], std::string(61, 'n') + "_2") << "not the name suggested before";
  EXPECT_EQ(rules[1]["rule-id"], "8");
  EXPECT_EQ(rules[2]["rule-target"], "column");
  EXPECT_EQ(rules[2]["object-locator"]["column-name"], col);
  EXPECT_EQ(rules[2]["value"], std::string(63, 'c'));
}

TEST(TargetNames, ColumnsFoldedTogetherAndColumnsFromAddColumnRules) {
  FixedNameRules lite = Sqlite();
  TablePlan plan = Plan("public", "t", {"id", "A", "a"}, "main");
  EXPECT_NE(Refusal({plan}, lite).find(
                "source column public.t.A and source column public.t.a would both be target "
                "column 'A' of target table main.t: on the target, SQLite treats column names "
                "that differ only in ASCII letter case as one"),
            std::string::npos)
      << Refusal({plan}, lite);
  // An added column clashing with a source column: the add-column rule is the one to change.
  TablePlan added = Plan("public", "t", {"id", "Note"}, "main");
  TransformSpec spec;
  spec.source = added.source;
  spec.columns = {TransformColumn{0, "", "", {}, "id"}, TransformColumn{1, "", "", {}, "Note"},
                  TransformColumn{-1, "'x'", "12", {}, "note"}};
  added.transform = spec;
  ColumnDef note;
  note.name = "note";
  added.target.columns.push_back(note);
  const std::string message = Refusal({added}, lite);
  EXPECT_NE(message.find("source column public.t.Note and column 'note' of source table "
                         "public.t (added by rule-id 12) would both be target column 'Note'"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("give it another name in rule-id 12 (e.g. \"note_2\")"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace ferry
