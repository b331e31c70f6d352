// PlanTableChange (cdc/ddl_sync.h): the ALTER TABLE statements and the new plan for each kind of
// source column change, on each target engine. Nothing connects: only dialects are used.
#include "cdc/ddl_sync.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "endpoint/endpoint_uri.h"
#include "test_types.h"
#include "transform/row_transform.h"

namespace ferry::cdc {
namespace {

using ferry::testing::T;

ColumnDef Col(std::string name, std::string native, DmsType type, bool nullable = true) {
  ColumnDef c;
  c.name = std::move(name);
  c.native_type = std::move(native);
  c.type = type;
  c.nullable = nullable;
  return c;
}

ColumnDef Id() { return Col("id", "integer", T(DmsKind::kInt4), false); }
ColumnDef Name() { return Col("name", "character varying(20)", T(DmsKind::kWstring, 20)); }
ColumnDef N() { return Col("n", "integer", T(DmsKind::kInt4)); }
ColumnDef Note() { return Col("note", "text", T(DmsKind::kNclob)); }

TableDef Source(std::vector<ColumnDef> columns) {
  TableDef t;
  t.engine = Engine::kPostgres;
  t.schema = "app";
  t.name = "t";
  t.columns = std::move(columns);
  t.primary_key = {"id"};
  return t;
}

std::unique_ptr<SqlConnector> Target(Engine engine) {
  switch (engine) {
    case Engine::kPostgres:
      return OpenSqlConnector(ParseEndpointUri("postgresql://u@localhost/db").value());
    case Engine::kMysql:
      return OpenSqlConnector(ParseEndpointUri("mysql://u@localhost/db").value());
    case Engine::kSqlite:
      break;
  }
  return OpenSqlConnector(ParseEndpointUri("sqlite:///tmp/ferry-ddl-sync-unit.db").value());
}

std::string SchemaFor(Engine engine) {
  return engine == Engine::kPostgres ? "dst" : engine == Engine::kMysql ? "db" : "main";
}

TablePlan PlanFor(const TableDef& source, const SqlConnector& target) {
  TablePlan plan;
  plan.source = source;
  plan.target = MapTable(source, Engine::kPostgres, target, SchemaFor(target.engine()));
  return plan;
}

std::vector<std::string> Names(const TableDef& t) {
  std::vector<std::string> out;
  for (const ColumnDef& c : t.columns) out.push_back(c.name);
  return out;
}

class DdlSyncTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override { target_ = Target(GetParam()); }
  TableChangePlan Change(const TableDef& before, const TableDef& after, bool handle = true) {
    return PlanTableChange(PlanFor(before, *target_), before, after, *target_,
                           Engine::kPostgres, handle);
  }
  // Statement prefix of the target table.
  std::string Alter() const {
    switch (GetParam()) {
      case Engine::kPostgres: return "ALTER TABLE \"dst\".\"t\" ";
      case Engine::kMysql: return "ALTER TABLE `db`.`t` ";
      case Engine::kSqlite: return "ALTER TABLE \"main\".\"t\" ";
    }
    return "";
  }
  std::string Q(const std::string& name) const {
    return GetParam() == Engine::kMysql ? "`" + name + "`" : "\"" + name + "\"";
  }
  std::unique_ptr<SqlConnector> target_;
};

TEST_P(DdlSyncTest, NoChangeNoStatement) {
  const TableDef t = Source({Id(), Name()});
  TableChangePlan p = Change(t, t);
  EXPECT_TRUE(p.statements.empty());
  EXPECT_TRUE(p.notes.empty());
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "name"}));
}

TEST_P(DdlSyncTest, AddColumnIsNullableAndAppended) {
  TableDef after = Source({Id(), Name(), Col("note", "text", T(DmsKind::kNclob), false)});
  TableChangePlan p = Change(Source({Id(), Name()}), after);
  const std::string type = GetParam() == Engine::kPostgres ? "text"
                           : GetParam() == Engine::kMysql  ? "longtext NULL"
                                                           : "TEXT";
  ASSERT_EQ(p.statements.size(), 1u);
  EXPECT_EQ(p.statements[0], Alter() + "ADD COLUMN " + Q("note") + " " + type);
  EXPECT_EQ(Names(p.new_plan.source), (std::vector<std::string>{"id", "name", "note"}));
  ASSERT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "name", "note"}));
  EXPECT_TRUE(p.new_plan.target.columns[2].nullable);
  EXPECT_EQ(p.new_plan.target.columns[2].type, T(DmsKind::kNclob));
  EXPECT_TRUE(p.notes.empty());
}

TEST_P(DdlSyncTest, DropColumn) {
  TableChangePlan p = Change(Source({Id(), Name(), N()}), Source({Id(), N()}));
  ASSERT_EQ(p.statements.size(), 1u);
  EXPECT_EQ(p.statements[0], Alter() + "DROP COLUMN " + Q("name"));
  EXPECT_EQ(Names(p.new_plan.source), (std::vector<std::string>{"id", "n"}));
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "n"}));
}

TEST_P(DdlSyncTest, SameTypeAtSamePositionIsARename) {
  ColumnDef title = Name();
  title.name = "title";
  TableChangePlan p = Change(Source({Id(), Name(), N()}), Source({Id(), title, N()}));
  ASSERT_EQ(p.statements.size(), 1u);
  EXPECT_EQ(p.statements[0], Alter() + "RENAME COLUMN " + Q("name") + " TO " + Q("title"));
  EXPECT_EQ(Names(p.new_plan.source), (std::vector<std::string>{"id", "title", "n"}));
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "title", "n"}));
}

TEST_P(DdlSyncTest, RenameOfAKeyColumnRenamesTheKey) {
  ColumnDef key = Id();
  key.name = "key";
  TableDef after = Source({key, Name()});
  after.primary_key = {"key"};
  TableChangePlan p = Change(Source({Id(), Name()}), after);
  ASSERT_EQ(p.statements.size(), 1u);
  EXPECT_EQ(p.new_plan.target.primary_key, (std::vector<std::string>{"key"}));
  EXPECT_EQ(p.new_plan.source.primary_key, (std::vector<std::string>{"key"}));
}

TEST_P(DdlSyncTest, TypeChange) {
  TableDef after = Source({Id(), Name(), Col("n", "bigint", T(DmsKind::kInt8))});
  TableChangePlan p = Change(Source({Id(), Name(), N()}), after);
  const ColumnDef& n = p.new_plan.target.columns[2];
  EXPECT_EQ(n.type, T(DmsKind::kInt8));
  EXPECT_EQ(p.new_plan.source.columns[2].type, T(DmsKind::kInt8));
  switch (GetParam()) {
    case Engine::kPostgres:
      ASSERT_EQ(p.statements.size(), 1u);
      EXPECT_EQ(p.statements[0], Alter() + "ALTER COLUMN \"n\" TYPE bigint USING \"n\"::bigint");
      EXPECT_EQ(n.native_type, "bigint");
      break;
    case Engine::kMysql:
      ASSERT_EQ(p.statements.size(), 1u);
      EXPECT_EQ(p.statements[0], Alter() + "MODIFY COLUMN `n` bigint NULL");
      EXPECT_EQ(n.native_type, "bigint");
      break;
    case Engine::kSqlite: {
      // Rebuilt: a new table with the new declared type, rows copied, renamed into place.
      ASSERT_EQ(p.statements.size(), 5u) << fmt::format("{}", fmt::join(p.statements, "\n"));
      EXPECT_EQ(p.statements[0], "DROP TABLE IF EXISTS \"main\".\"t__ferry_rebuild\"");
      EXPECT_EQ(p.statements[1].rfind("CREATE TABLE \"t__ferry_rebuild\"", 0), 0u)
          << p.statements[1];
      EXPECT_NE(p.statements[1].find("\"n\" BIGINT"), std::string::npos) << p.statements[1];
      EXPECT_EQ(p.statements[2],
                "INSERT INTO \"main\".\"t__ferry_rebuild\" (\"id\", \"name\", \"n\") SELECT "
                "\"id\", \"name\", \"n\" FROM \"main\".\"t\"");
      EXPECT_EQ(p.statements[3], "DROP TABLE \"main\".\"t\"");
      EXPECT_EQ(p.statements[4],
                "ALTER TABLE \"main\".\"t__ferry_rebuild\" RENAME TO \"t\"");
      EXPECT_TRUE(p.notes.empty());
      EXPECT_EQ(n.native_type, "BIGINT");
      break;
    }
  }
}

TEST_P(DdlSyncTest, TypeChangeOfANotNullColumnKeepsNotNullOnMysql) {
  TableDef after = Source({Col("id", "bigint", T(DmsKind::kInt8), false), Name()});
  TableChangePlan p = Change(Source({Id(), Name()}), after);
  if (GetParam() == Engine::kMysql) {
    ASSERT_EQ(p.statements.size(), 1u);
    EXPECT_EQ(p.statements[0], Alter() + "MODIFY COLUMN `id` bigint NOT NULL");
  }
  EXPECT_FALSE(p.new_plan.target.columns[0].nullable);
}

TEST_P(DdlSyncTest, EveryKindAtOnceInOrder) {
  // name dropped, n renamed to m (same type, same position), note added.
  ColumnDef m = N();
  m.name = "m";
  TableChangePlan p = Change(Source({Id(), Name(), N()}), Source({Id(), N(), Note()}));
  // Positions moved: n is still there by name, name is gone, note is new.
  ASSERT_EQ(p.statements.size(), 2u);
  EXPECT_EQ(p.statements[0], Alter() + "DROP COLUMN " + Q("name"));
  EXPECT_EQ(p.statements[1].rfind(Alter() + "ADD COLUMN " + Q("note"), 0), 0u) << p.statements[1];
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "n", "note"}));

  p = Change(Source({Id(), Name(), N()}), Source({Id(), Name(), m, Note()}));
  ASSERT_EQ(p.statements.size(), 2u);
  EXPECT_EQ(p.statements[0], Alter() + "RENAME COLUMN " + Q("n") + " TO " + Q("m"));
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "name", "m", "note"}));
}

TEST_P(DdlSyncTest, NotHandledLeavesTheTargetAlone) {
  TablePlan plan = PlanFor(Source({Id(), Name(), N()}), *target_);
  TableChangePlan p = PlanTableChange(plan, Source({Id(), Name(), N()}),
                                      Source({Id(), N(), Note()}), *target_, Engine::kPostgres,
                                      /*handle_altered=*/false);
  EXPECT_TRUE(p.statements.empty());
  EXPECT_EQ(Names(p.new_plan.source), Names(plan.source));
  EXPECT_EQ(Names(p.new_plan.target), Names(plan.target));
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_NE(p.notes[0].find("HandleSourceTableAltered is false"), std::string::npos);
  EXPECT_NE(p.notes[0].find("added note"), std::string::npos) << p.notes[0];
  EXPECT_NE(p.notes[0].find("dropped name"), std::string::npos) << p.notes[0];
}

TEST_P(DdlSyncTest, DroppingTheKeyColumnDropsTheTargetKey) {
  TableDef after = Source({Name(), N()});
  after.primary_key.clear();
  TableChangePlan p = Change(Source({Id(), Name(), N()}), after);
  if (GetParam() == Engine::kSqlite) {
    // SQLite cannot drop a primary key column: kept, and it receives NULL.
    EXPECT_TRUE(p.statements.empty());
    ASSERT_EQ(p.notes.size(), 1u);
    EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "name", "n"}));
    EXPECT_EQ(Names(p.new_plan.source), (std::vector<std::string>{"id", "name", "n"}));
    return;
  }
  ASSERT_EQ(p.statements.size(), 1u);
  EXPECT_EQ(p.statements[0], Alter() + "DROP COLUMN " + Q("id"));
  EXPECT_TRUE(p.new_plan.target.primary_key.empty());
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"name", "n"}));
}

TEST_P(DdlSyncTest, ColumnsTheTaskDoesNotReadAreIgnored) {
  // A remove-column rule left `n` out: its drop and rename do not touch the target.
  TablePlan plan = PlanFor(Source({Id(), Name()}), *target_);
  ColumnDef m = N();
  m.name = "m";
  TableChangePlan p = PlanTableChange(plan, Source({Id(), Name(), N()}),
                                      Source({Id(), Name(), m}), *target_, Engine::kPostgres,
                                      true);
  EXPECT_TRUE(p.statements.empty());
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "name"}));
}

TEST_P(DdlSyncTest, MappedNameIsKeptOnRename) {
  TablePlan plan = PlanFor(Source({Id(), Name()}), *target_);
  plan.target.columns[1].name = "label";  // a rename-column rule
  ColumnDef title = Name();
  title.name = "title";
  TableChangePlan p = PlanTableChange(plan, Source({Id(), Name()}), Source({Id(), title}),
                                      *target_, Engine::kPostgres, true);
  EXPECT_TRUE(p.statements.empty());
  EXPECT_EQ(Names(p.new_plan.source), (std::vector<std::string>{"id", "title"}));
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "label"}));
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_NE(p.notes[0].find("keeps the name a mapping rule gave it"), std::string::npos);
}

TEST_P(DdlSyncTest, AddedColumnClashingWithAMappedNameIsNotReplicated) {
  TablePlan plan = PlanFor(Source({Id(), Name()}), *target_);
  plan.target.columns[1].name = "note";  // a rename-column rule
  TableChangePlan p = PlanTableChange(plan, Source({Id(), Name()}), Source({Id(), Name(), Note()}),
                                      *target_, Engine::kPostgres, true);
  EXPECT_TRUE(p.statements.empty());
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "note"}));
  ASSERT_EQ(p.notes.size(), 1u);
}

// A plan with a row transform: id copied, name copied, n converted to a string by a
// change-data-type rule, and an add-column expression reading $name.
TablePlan TransformPlan(const TableDef& source, const SqlConnector& target) {
  TablePlan plan = PlanFor(source, target);
  TransformSpec spec;
  spec.source = source;
  spec.columns.push_back(TransformColumn{0, "", "", T(DmsKind::kInt4), "id"});
  spec.columns.push_back(TransformColumn{1, "", "", T(DmsKind::kWstring, 20), "name"});
  spec.columns.push_back(TransformColumn{2, "", "2", T(DmsKind::kString, 30), "n"});
  spec.columns.push_back(TransformColumn{-1, "$NAME || '!'", "3", T(DmsKind::kString, 50), "x"});
  plan.target.columns[2].type = T(DmsKind::kString, 30);
  plan.target.columns[2].portable_native = false;
  plan.target.columns[2].native_type =
      target.dialect().MapColumn(plan.target.columns[2], Engine::kPostgres, false).native_type;
  ColumnDef x = Col("x", "", T(DmsKind::kString, 50));
  x.portable_native = false;
  x.native_type = target.dialect().MapColumn(x, Engine::kPostgres, false).native_type;
  plan.target.columns.push_back(x);
  plan.transform = spec;
  return plan;
}

TEST_P(DdlSyncTest, TransformAddRenameDrop) {
  const TableDef before = Source({Id(), Name(), N()});
  const TablePlan plan = TransformPlan(before, *target_);
  ASSERT_NO_THROW(RowTransformer::Create(*plan.transform));

  // Added: joins the transform's source, copied to a new target column.
  TableChangePlan p =
      PlanTableChange(plan, before, Source({Id(), Name(), N(), Note()}), *target_,
                      Engine::kPostgres, true);
  ASSERT_EQ(p.statements.size(), 1u);
  EXPECT_EQ(p.statements[0].rfind(Alter() + "ADD COLUMN " + Q("note"), 0), 0u);
  ASSERT_TRUE(p.new_plan.transform.has_value());
  EXPECT_EQ(Names(p.new_plan.transform->source),
            (std::vector<std::string>{"id", "name", "n", "note"}));
  EXPECT_EQ(Names(p.new_plan.source), (std::vector<std::string>{"id", "name", "n", "note"}));
  ASSERT_EQ(p.new_plan.transform->columns.size(), 5u);
  EXPECT_EQ(p.new_plan.transform->columns[4].source_index, 3);
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "name", "n", "x", "note"}));
  EXPECT_NO_THROW(RowTransformer::Create(*p.new_plan.transform));

  // Renamed: the copy follows, the expression reads the new name.
  ColumnDef title = Name();
  title.name = "title";
  p = PlanTableChange(plan, before, Source({Id(), title, N()}), *target_, Engine::kPostgres,
                      true);
  ASSERT_EQ(p.statements.size(), 1u);
  EXPECT_EQ(p.statements[0], Alter() + "RENAME COLUMN " + Q("name") + " TO " + Q("title"));
  EXPECT_EQ(p.new_plan.transform->columns[3].expression, "$title || '!'");
  EXPECT_EQ(Names(p.new_plan.transform->source), (std::vector<std::string>{"id", "title", "n"}));
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "title", "n", "x"}));
  EXPECT_NO_THROW(RowTransformer::Create(*p.new_plan.transform));

  // Dropped: the converted column stays (NULL), with a note; nothing runs.
  p = PlanTableChange(plan, before, Source({Id(), Name()}), *target_, Engine::kPostgres, true);
  EXPECT_TRUE(p.statements.empty());
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_NE(p.notes[0].find("rule 2"), std::string::npos) << p.notes[0];
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "name", "n", "x"}));

  // Dropped and read by the expression: the copy goes, the expression keeps reading it.
  p = PlanTableChange(plan, before, Source({Id(), N(), Note()}), *target_, Engine::kPostgres,
                      true);
  ASSERT_GE(p.statements.size(), 1u);
  EXPECT_EQ(p.statements[0], Alter() + "DROP COLUMN " + Q("name"));
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "n", "x", "note"}));
  EXPECT_EQ(Names(p.new_plan.transform->source),
            (std::vector<std::string>{"id", "name", "n", "note"}));
  EXPECT_NO_THROW(RowTransformer::Create(*p.new_plan.transform));
}

TEST_P(DdlSyncTest, TransformDropOfAPlainColumnShiftsIndexes) {
  TableDef before = Source({Id(), Name(), N(), Note()});
  TablePlan plan = PlanFor(before, *target_);
  TransformSpec spec;
  spec.source = before;
  spec.columns.push_back(TransformColumn{0, "", "", T(DmsKind::kInt4), "id"});
  spec.columns.push_back(TransformColumn{1, "", "", T(DmsKind::kWstring, 20), "name"});
  spec.columns.push_back(TransformColumn{3, "", "", T(DmsKind::kNclob), "note"});
  spec.columns.push_back(TransformColumn{-1, "$n + 1", "9", T(DmsKind::kInt8), "n1"});
  plan.target.columns.erase(plan.target.columns.begin() + 2);
  ColumnDef n1 = Col("n1", "bigint", T(DmsKind::kInt8));
  plan.target.columns.push_back(n1);
  plan.transform = spec;
  ASSERT_NO_THROW(RowTransformer::Create(*plan.transform));
  TableChangePlan p = PlanTableChange(plan, before, Source({Id(), N(), Note()}), *target_,
                                      Engine::kPostgres, true);
  ASSERT_EQ(p.statements.size(), 1u);
  EXPECT_EQ(Names(p.new_plan.transform->source), (std::vector<std::string>{"id", "n", "note"}));
  ASSERT_EQ(p.new_plan.transform->columns.size(), 3u);
  EXPECT_EQ(p.new_plan.transform->columns[1].source_index, 2);  // note moved from 3 to 2
  EXPECT_EQ(Names(p.new_plan.target), (std::vector<std::string>{"id", "note", "n1"}));
  EXPECT_NO_THROW(RowTransformer::Create(*p.new_plan.transform));
}

INSTANTIATE_TEST_SUITE_P(Targets, DdlSyncTest,
                         ::testing::Values(Engine::kPostgres, Engine::kMysql, Engine::kSqlite),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

}  // namespace
}  // namespace ferry::cdc
