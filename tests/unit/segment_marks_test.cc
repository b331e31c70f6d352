// ferry_segment_marks (connectors/segment_marks.h): the SQL each engine gets, and
// SqlSegmentMarks over a fake session: nothing is read or deleted where the table was never
// created, marks parse back, a row that is not Ferry's is refused, and InsertSql needs Locate.
#include "connectors/segment_marks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"

namespace ferry {
namespace {

TEST(SegmentMarkSql, EachEngineSpellsTheTableInItsControlSchema) {
  const SegmentMark mark{"t#ab12", "s", "o'k", 3, 16, 250000};
  const SegmentMarkSql pg(DialectFor(Engine::kPostgres), "");
  EXPECT_EQ(pg.table(), "\"public\".\"ferry_segment_marks\"");
  EXPECT_EQ(pg.Insert(mark),
            "INSERT INTO \"public\".\"ferry_segment_marks\" (\"task_name\", \"table_owner\", "
            "\"table_name\", \"segment\", \"segments\", \"loaded_rows\") VALUES ('t#ab12', 's', "
            "'o''k', 3, 16, 250000)");
  EXPECT_EQ(pg.Delete("t#ab12", "", ""),
            "DELETE FROM \"public\".\"ferry_segment_marks\" WHERE \"task_name\" = 't#ab12'");
  EXPECT_EQ(pg.Delete("t#ab12", "s", "x"),
            "DELETE FROM \"public\".\"ferry_segment_marks\" WHERE \"task_name\" = 't#ab12' AND "
            "\"table_owner\" = 's' AND \"table_name\" = 'x'");

  const SegmentMarkSql my(DialectFor(Engine::kMysql), "");
  EXPECT_EQ(my.schema(), "awsdms_control");
  const std::vector<std::string> create = my.Create();
  ASSERT_EQ(create.size(), 2u);  // the database, then the table
  EXPECT_NE(create[0].find("CREATE DATABASE IF NOT EXISTS `awsdms_control`"), std::string::npos);
  EXPECT_NE(create[1].find("PRIMARY KEY (`TASK_NAME`, `TABLE_OWNER`, `TABLE_NAME`, `SEGMENT`)"),
            std::string::npos)
      << create[1];
  EXPECT_EQ(my.Select("t", "s", "x"),
            "SELECT `SEGMENT`, `SEGMENTS`, `LOADED_ROWS` FROM `awsdms_control`."
            "`ferry_segment_marks` WHERE `TASK_NAME` = 't' AND `TABLE_OWNER` = 's' AND "
            "`TABLE_NAME` = 'x' ORDER BY `SEGMENT`");

  const SegmentMarkSql lite(DialectFor(Engine::kSqlite), "elsewhere");
  EXPECT_EQ(lite.schema(), "main");
  EXPECT_EQ(lite.Create().size(), 1u);  // no schema to create
}

struct FakeSession {
  bool table = false;
  std::vector<std::string> executed;
  SqlSegmentMarks::Rows rows;
  SqlSegmentMarks::Session Session() {
    return {[this](const std::string& sql, const std::string&) {
              executed.push_back(sql);
              if (sql.starts_with("CREATE TABLE")) table = true;
            },
            [this](const std::string& sql, const std::string&) {
              executed.push_back(sql);
              return rows;
            },
            [this](const std::string&, const std::string&) { return table; }};
  }
};

TEST(SqlSegmentMarks, ReadsAndClearsOnlyWhatExists) {
  FakeSession fake;
  SqlSegmentMarks marks(DialectFor(Engine::kPostgres), fake.Session());
  EXPECT_THROW(marks.InsertSql(SegmentMark{}), Error);  // before Locate
  marks.Locate("", /*create=*/false);
  EXPECT_TRUE(marks.Read("t", "s", "x").empty());
  marks.Clear("t", "", "");
  EXPECT_TRUE(fake.executed.empty()) << "nothing to read or delete: no table";

  marks.Locate("", /*create=*/true);
  EXPECT_TRUE(fake.table);
  fake.rows = {{"0", "4", "10"}, {"2", "4", "12"}};
  const std::vector<SegmentMark> got = marks.Read("t", "s", "x");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].segment, 2u);
  EXPECT_EQ(got[1].segments, 4u);
  EXPECT_EQ(got[1].rows, 12);
  EXPECT_EQ(got[1].table, "x");
  fake.rows = {{"zero", "4", "10"}};
  EXPECT_THROW(marks.Read("t", "s", "x"), Error);
  fake.rows = {{"0", std::nullopt, "10"}};
  EXPECT_THROW(marks.Read("t", "s", "x"), Error);
}

}  // namespace
}  // namespace ferry
