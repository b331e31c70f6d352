#include "catalog/table_def_json.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace ferry {
namespace {

TableDef Everything() {
  TableDef t;
  t.engine = Engine::kPostgres;
  t.schema = "s";
  t.name = "Tab \"1\"";
  ColumnDef a;
  a.name = "id";
  a.native_type = "integer";
  a.type = DmsType{DmsKind::kInt4, 0, 0, 0, false};
  a.nullable = false;
  a.native_id = 23;
  a.default_expression = "nextval('s'::regclass)";
  ColumnDef b;
  b.name = "Wert ü";
  b.native_type = "numeric(12,3)";
  b.type = DmsType{DmsKind::kNumeric, 0, 12, 3, false};
  b.portable_native = false;
  b.create_default = "0";
  ColumnDef c;
  c.name = "at";
  c.native_type = "timestamp with time zone";
  c.type = DmsType{DmsKind::kDatetime, 0, 6, 0, true};
  t.columns = {a, b, c};
  t.primary_key = {"id"};
  t.unique_indexes = {IndexDef{"u1", {"Wert ü", "at"}}};
  t.estimated_rows = 1234;
  t.estimated_bytes = 56789;
  SecondaryIndexDef idx;
  idx.name = "i1";
  idx.columns = {IndexColumn{"at", true, 0}, IndexColumn{"", false, 4}};
  idx.unique = true;
  idx.plain = false;
  idx.method = "btree";
  idx.definition = "CREATE INDEX i1 ON s.t (at DESC, lower(x))";
  t.secondary_indexes = {idx};
  ForeignKeyDef fk;
  fk.name = "fk";
  fk.columns = {"id"};
  fk.ref_schema = "s";
  fk.ref_table = "p";
  fk.ref_columns = {"pid"};
  fk.on_delete = ForeignKeyAction::kCascade;
  fk.on_update = ForeignKeyAction::kSetNull;
  fk.deferrable = true;
  fk.initially_deferred = true;
  t.foreign_keys = {fk};
  t.create_table_clauses = {"CONSTRAINT x CHECK (id > 0)"};
  return t;
}

TEST(TableDefJson, RoundTripsEveryField) {
  const TableDef t = Everything();
  const TableDef back = TableDefFromJson(TableDefToJson(t), "test");
  EXPECT_EQ(TableDefToJson(back), TableDefToJson(t));
  EXPECT_EQ(back.engine, Engine::kPostgres);
  EXPECT_EQ(back.name, t.name);
  ASSERT_EQ(back.columns.size(), 3u);
  EXPECT_EQ(back.columns[1].name, "Wert ü");
  EXPECT_EQ(back.columns[1].type, t.columns[1].type);
  EXPECT_FALSE(back.columns[1].portable_native);
  EXPECT_EQ(back.columns[0].default_expression, "nextval('s'::regclass)");
  EXPECT_TRUE(back.columns[2].type.with_time_zone);
  EXPECT_EQ(back.secondary_indexes[0].columns[1].prefix_length, 4);
  EXPECT_EQ(back.foreign_keys[0].on_update, ForeignKeyAction::kSetNull);
  EXPECT_TRUE(back.foreign_keys[0].initially_deferred);
  EXPECT_EQ(back.estimated_bytes, 56789);
}

TEST(TableDefJson, BadTextNamesWhatItWas) {
  for (const char* bad : {"", "{", "[]", R"({"engine": 9})",
                          R"({"engine":0,"schema":"s","name":"t","columns":[{"name":"a"}]})"}) {
    try {
      TableDefFromJson(bad, "task store shape 3");
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("task store shape 3: not a table definition Ferry "
                                           "wrote"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

// A column the task reads as the engine's own value (MySQL -> MySQL dates) is in the shape
// history of a MySQL CDC task: it reads back, though no user may write the kind.
TEST(TableDefJson, EngineValueColumnsRoundTrip) {
  TableDef t;
  t.engine = Engine::kMysql;
  t.schema = "db";
  t.name = "t";
  ColumnDef d;
  d.name = "d";
  d.native_type = "datetime(6)";
  d.type = DmsType{DmsKind::kEngineValue};
  t.columns = {d};
  const TableDef back = TableDefFromJson(TableDefToJson(t), "a test");
  ASSERT_EQ(back.columns.size(), 1u);
  EXPECT_EQ(back.columns[0].type.kind, DmsKind::kEngineValue);
  EXPECT_FALSE(ParseDmsKindName("ENGINE_VALUE").has_value());
}

}  // namespace
}  // namespace ferry
