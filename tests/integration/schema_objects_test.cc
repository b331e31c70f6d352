// Ferry extension: secondary indexes, foreign keys and defaults created after the full load
// (src/schema/), checked in the target's own catalog, across PostgreSQL, MariaDB and SQLite.
// Objects of this test live in schemas / databases named schema_it*.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "schema/post_load.h"
#include "test_env.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;
using schema::ObjectKind;
using schema::ObjectStatus;
using schema::SchemaObjectsReport;

// Plans `tables` of `source_schema`, runs the load (DROP_AND_CREATE) and the post-load DDL,
// and returns the report; every table must complete.
SchemaObjectsReport Migrate(SqlConnector& source, const std::string& source_schema,
                            SqlConnector& target, const std::string& target_schema,
                            const std::vector<std::string>& tables) {
  std::vector<TableDef> defs = source.OpenCatalog()->ListTables(source_schema);
  std::vector<TablePlan> plans =
      PlanTables(defs, source.engine(), target, target_schema, tables);
  const schema::SchemaObjectOptions options{true, true, true};
  schema::PrepareCreateTimeObjects(plans, source.engine(), options);
  const std::vector<TablePlan> planned = plans;
  FullLoadOptions load_options;
  load_options.prep_mode = TablePrepMode::kDropAndCreate;
  FullLoad load(source, target, std::move(plans), load_options);
  load.Run();
  EXPECT_EQ(LoadFailures(load), "");
  return schema::CreateSchemaObjects(target, planned, source.engine(), options, load.stats());
}

// The status of the object whose source name ends with `suffix` (e.g. "child.child_lower").
const schema::SchemaObject* Find(const SchemaObjectsReport& r, const std::string& suffix) {
  for (const auto& o : r.objects) {
    if (o.source.size() >= suffix.size() &&
        o.source.compare(o.source.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return &o;
    }
  }
  return nullptr;
}

std::string Dump(const SchemaObjectsReport& r) { return r.FormatText() + r.ToJson().dump(1); }

std::string One(SqlConnector& c, const std::string& sql) {
  auto rows = c.OpenSession()->Query(sql);
  if (rows.empty() || rows[0].empty() || !rows[0][0]) return "<none>";
  return *rows[0][0];
}

// Expectations shared by every pairing: the objects of the common shape exist on the target.
void ExpectCommonReport(const SchemaObjectsReport& r, const std::string& what) {
  SCOPED_TRACE(what + "\n" + Dump(r));
  EXPECT_FALSE(r.AnyFailed());
  for (const char* name : {"child.child_multi", "child.child_label_uq", "child.child_parent_fk",
                           "child.qty", "child.label", "child.created"}) {
    const auto* o = Find(r, name);
    ASSERT_NE(o, nullptr) << name;
    EXPECT_EQ(o->status, ObjectStatus::kCreated) << name << ": " << o->reason;
  }
  const auto* seq = Find(r, "child.id");
  ASSERT_NE(seq, nullptr);
  EXPECT_EQ(seq->status, ObjectStatus::kNotConverted);
  EXPECT_NE(seq->reason.find("sequence default"), std::string::npos);
}

const char* kPgSchema = R"sql(
DROP SCHEMA IF EXISTS schema_it CASCADE; CREATE SCHEMA schema_it;
CREATE TABLE schema_it.parent (a int, b varchar(10), PRIMARY KEY (a, b));
CREATE TABLE schema_it.outside (id int PRIMARY KEY);
CREATE TABLE schema_it.child (
  id serial PRIMARY KEY, pa int, pb varchar(10), qty int DEFAULT 5,
  label varchar(20) DEFAULT 'x', created timestamp DEFAULT now(), note varchar(100),
  oid int REFERENCES schema_it.outside (id),
  CONSTRAINT child_parent_fk FOREIGN KEY (pa, pb) REFERENCES schema_it.parent (a, b)
    ON DELETE CASCADE);
CREATE INDEX child_multi ON schema_it.child (pa, qty DESC);
CREATE UNIQUE INDEX child_label_uq ON schema_it.child (label);
CREATE INDEX child_lower ON schema_it.child (lower(note));
INSERT INTO schema_it.parent VALUES (1, 'x');
INSERT INTO schema_it.child (pa, pb, label, note) VALUES (1, 'x', 'one', 'Hello');
)sql";

const std::vector<std::string> kTables = {"parent", "child"};  // "outside" is not migrated

TEST(SchemaObjects, PostgresToMariadb) {
  FERRY_REQUIRE_POSTGRES();
  FERRY_REQUIRE_MYSQL();
  auto pg = Open(PostgresUri());
  pg->OpenSession()->Execute(kPgSchema);
  Open(MysqlUri())->OpenSession()->Execute(
      "DROP DATABASE IF EXISTS schema_it_from_pg; CREATE DATABASE schema_it_from_pg");
  auto my = Open(WithDatabase(MysqlUri(), "schema_it_from_pg"));
  const SchemaObjectsReport r = Migrate(*pg, "schema_it", *my, "schema_it_from_pg", kTables);
  ExpectCommonReport(r, "PG -> MariaDB");
  EXPECT_EQ(Find(r, "child.child_lower")->status, ObjectStatus::kNotConverted) << Dump(r);
  EXPECT_EQ(Find(r, "child.child_oid_fkey")->status, ObjectStatus::kNotConverted);
  EXPECT_EQ(Find(r, "child.child_oid_fkey")->reason,
            "references schema_it.outside, which is not part of the migration");

  const std::string stats =
      "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'schema_it_from_pg' AND "
      "TABLE_NAME = 'child' AND INDEX_NAME = ";
  EXPECT_EQ(One(*my, "SELECT group_concat(concat(COLUMN_NAME, ' ', COLLATION) ORDER BY "
                     "SEQ_IN_INDEX) " + stats + "'child_multi'"),
            "pa A,qty D");
  EXPECT_EQ(One(*my, "SELECT NON_UNIQUE " + stats + "'child_label_uq' LIMIT 1"), "0");
  EXPECT_EQ(One(*my, "SELECT concat(REFERENCED_TABLE_NAME, ' ', DELETE_RULE) FROM "
                     "information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = "
                     "'schema_it_from_pg' AND CONSTRAINT_NAME = 'child_parent_fk'"),
            "parent CASCADE");
  const std::string col =
      "SELECT COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
      "'schema_it_from_pg' AND TABLE_NAME = 'child' AND COLUMN_NAME = ";
  EXPECT_EQ(One(*my, col + "'qty'"), "5");
  EXPECT_EQ(One(*my, col + "'label'"), "'x'");
  EXPECT_EQ(One(*my, col + "'created'"), "current_timestamp()");
  // The defaults work: a row inserted without them gets them.
  my->OpenSession()->Execute(
      "INSERT INTO schema_it_from_pg.child (id, pa, pb, label) VALUES (99, 1, 'x', 'two')");
  EXPECT_EQ(One(*my, "SELECT concat(qty, ' ', created IS NOT NULL) FROM "
                     "schema_it_from_pg.child WHERE id = 99"),
            "5 1");
}

TEST(SchemaObjects, MariadbToPostgres) {
  FERRY_REQUIRE_POSTGRES();
  FERRY_REQUIRE_MYSQL();
  Open(MysqlUri())->OpenSession()->Execute(R"sql(
DROP DATABASE IF EXISTS schema_it; CREATE DATABASE schema_it;
CREATE TABLE schema_it.parent (a int, b varchar(10), PRIMARY KEY (a, b));
CREATE TABLE schema_it.child (
  id int AUTO_INCREMENT PRIMARY KEY, pa int, pb varchar(10), qty int DEFAULT 5,
  label varchar(20) DEFAULT 'x', created timestamp NULL DEFAULT current_timestamp(),
  note text, r double DEFAULT (rand()),
  KEY child_multi (pa, qty DESC), UNIQUE KEY child_label_uq (label), KEY child_note (note(20)),
  FULLTEXT KEY child_ft (note),
  CONSTRAINT child_parent_fk FOREIGN KEY (pa, pb) REFERENCES schema_it.parent (a, b)
    ON DELETE CASCADE);
INSERT INTO schema_it.parent VALUES (1, 'x');
INSERT INTO schema_it.child (pa, pb, label, note) VALUES (1, 'x', 'one', 'Hello');
)sql");
  auto my = Open(WithDatabase(MysqlUri(), "schema_it"));
  auto pg = Open(PostgresUri());
  pg->OpenSession()->Execute("DROP SCHEMA IF EXISTS schema_it_from_my CASCADE");
  const SchemaObjectsReport r = Migrate(*my, "schema_it", *pg, "schema_it_from_my", {});
  ExpectCommonReport(r, "MariaDB -> PG");
  EXPECT_EQ(Find(r, "child.child_ft")->status, ObjectStatus::kNotConverted) << Dump(r);
  EXPECT_EQ(Find(r, "child.r")->status, ObjectStatus::kNotConverted);
  EXPECT_EQ(Find(r, "child.child_note")->status, ObjectStatus::kCreated);  // whole column

  // MySQL index names are per table: they are prefixed with the table on PostgreSQL.
  EXPECT_EQ(One(*pg, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'schema_it_from_my' "
                     "AND indexname = 'child_multi'"),
            "CREATE INDEX child_multi ON schema_it_from_my.child USING btree (pa, qty DESC)");
  EXPECT_EQ(One(*pg, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'schema_it_from_my' "
                     "AND indexname = 'child_label_uq'"),
            "CREATE UNIQUE INDEX child_label_uq ON schema_it_from_my.child USING btree (label)");
  EXPECT_EQ(One(*pg, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = "
                     "'child_parent_fk' AND connamespace = 'schema_it_from_my'::regnamespace"),
            // MariaDB reports an unspecified ON UPDATE as RESTRICT, and so it is created.
            "FOREIGN KEY (pa, pb) REFERENCES schema_it_from_my.parent(a, b) ON UPDATE RESTRICT "
            "ON DELETE CASCADE");
  const std::string col =
      "SELECT column_default FROM information_schema.columns WHERE table_schema = "
      "'schema_it_from_my' AND table_name = 'child' AND column_name = ";
  EXPECT_EQ(One(*pg, col + "'qty'"), "5");
  EXPECT_EQ(One(*pg, col + "'label'"), "'x'::character varying");
  EXPECT_EQ(One(*pg, col + "'created'"), "CURRENT_TIMESTAMP");
}

TEST(SchemaObjects, PostgresToSqliteAndBack) {
  FERRY_REQUIRE_POSTGRES();
  const fs::path tmp =
      fs::temp_directory_path() / fmt::format("ferry-it-schema-{}", ::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  auto pg = Open(PostgresUri());
  pg->OpenSession()->Execute(kPgSchema);
  auto lite = Open("sqlite://" + (tmp / "t.db").string());
  const SchemaObjectsReport r = Migrate(*pg, "schema_it", *lite, "", kTables);
  ExpectCommonReport(r, "PG -> SQLite");
  EXPECT_TRUE(Find(r, "child.child_parent_fk")->with_table);

  EXPECT_EQ(One(*lite, "SELECT group_concat(name || ':' || \"desc\", ',') FROM "
                       "pragma_index_xinfo('child_multi') WHERE key = 1"),
            "pa:0,qty:1");
  EXPECT_EQ(One(*lite, "SELECT \"unique\" FROM pragma_index_list('child') WHERE name = "
                       "'child_label_uq'"),
            "1");
  EXPECT_EQ(One(*lite, "SELECT group_concat(\"table\" || '.' || \"to\" || ' ' || on_delete) "
                       "FROM pragma_foreign_key_list('child')"),
            "parent.a CASCADE,parent.b CASCADE");
  EXPECT_EQ(One(*lite, "SELECT dflt_value FROM pragma_table_info('child') WHERE name = 'qty'"),
            "5");
  EXPECT_EQ(One(*lite,
                "SELECT dflt_value FROM pragma_table_info('child') WHERE name = 'created'"),
            "CURRENT_TIMESTAMP");

  // And SQLite -> PostgreSQL from that file, with an expression index SQLite only has.
  lite->OpenSession()->Execute("CREATE INDEX child_expr ON child (lower(note))");
  pg->OpenSession()->Execute("DROP SCHEMA IF EXISTS schema_it_from_lite CASCADE");
  const SchemaObjectsReport back = Migrate(*lite, "main", *pg, "schema_it_from_lite", {});
  SCOPED_TRACE(Dump(back));
  EXPECT_FALSE(back.AnyFailed());
  EXPECT_EQ(Find(back, "child.child_expr")->status, ObjectStatus::kNotConverted);
  EXPECT_EQ(back.Count(ObjectKind::kForeignKey, ObjectStatus::kCreated), 1);
  EXPECT_EQ(One(*pg, "SELECT indexdef FROM pg_indexes WHERE schemaname = "
                     "'schema_it_from_lite' AND indexname = 'child_multi'"),
            "CREATE INDEX child_multi ON schema_it_from_lite.child USING btree (pa, qty DESC)");
  EXPECT_EQ(One(*pg, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND "
                     "conrelid = 'schema_it_from_lite.child'::regclass AND confdeltype = 'c'"),
            "1");
  EXPECT_EQ(One(*pg, "SELECT column_default FROM information_schema.columns WHERE "
                     "table_schema = 'schema_it_from_lite' AND table_name = 'child' AND "
                     "column_name = 'created'"),
            "CURRENT_TIMESTAMP");
  fs::remove_all(tmp);
}

TEST(SchemaObjects, PostgresToPostgresKeepsExpressionIndexes) {
  FERRY_REQUIRE_POSTGRES();
  auto pg = Open(PostgresUri());
  pg->OpenSession()->Execute(kPgSchema);
  pg->OpenSession()->Execute("DROP SCHEMA IF EXISTS schema_it_copy CASCADE");
  const SchemaObjectsReport r = Migrate(*pg, "schema_it", *pg, "schema_it_copy", kTables);
  ExpectCommonReport(r, "PG -> PG");
  EXPECT_EQ(Find(r, "child.child_lower")->status, ObjectStatus::kCreated) << Dump(r);
  EXPECT_EQ(One(*pg, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'schema_it_copy' AND "
                     "indexname = 'child_lower'"),
            "CREATE INDEX child_lower ON schema_it_copy.child USING btree (lower((note)::text))");
}

}  // namespace
}  // namespace ferry::testing
