// The PostgreSQL applier's statement text: shapes chosen per change, prepared SQL per shape,
// and Statement() rendering with literal values (no server needed).
#include <gtest/gtest.h>

#include <string>

#include "change/change.h"
#include "common/error.h"
#include "connectors/postgres/pg_applier.h"
#include "test_types.h"

namespace ferry::postgres {
namespace {

using ferry::testing::T;

ColumnDef Col(const std::string& name, const std::string& native, DmsType type) {
  ColumnDef c;
  c.name = name;
  c.native_type = native;
  c.type = type;
  return c;
}

TableDef Table(bool with_key) {
  TableDef t;
  t.engine = Engine::kPostgres;
  t.schema = "s";
  t.name = "t";
  t.columns = {Col("id", "integer", T(DmsKind::kInt4)),
               Col("name", "character varying(10)", T(DmsKind::kWstring, 10)),
               Col("amount", "numeric(10,2)", T(DmsKind::kNumeric, 0, 10, 2))};
  if (with_key) t.primary_key = {"id"};
  return t;
}

// Rows: id, name, amount.
void Row(Batch* b, int64_t id, const char* name, const char* amount) {
  b->AppendInt(id);
  if (name) {
    b->AppendBytes(name);
  } else {
    b->AppendNull();
  }
  if (amount) {
    b->AppendBytes(amount);
  } else {
    b->AppendUnchanged();
  }
}

TEST(PgApplierSql, InsertStatements) {
  const TableDef t = Table(true);
  PgApplyShape s;
  s.kind = PgApplyKind::kInsert;
  s.set_columns = {0, 1, 2};
  EXPECT_EQ(PgApplyPreparedSql(t, s),
            R"(INSERT INTO "s"."t" ("id", "name", "amount") VALUES ($1, $2, $3) )"
            "ON CONFLICT DO NOTHING");
  s.kind = PgApplyKind::kUpsertInsert;
  EXPECT_EQ(PgApplyPreparedSql(t, s),
            R"(INSERT INTO "s"."t" ("id", "name", "amount") VALUES ($1, $2, $3) )"
            R"(ON CONFLICT ("id") DO UPDATE SET "name" = EXCLUDED."name", )"
            R"("amount" = EXCLUDED."amount")");
  s.set_columns = {0};
  EXPECT_EQ(PgApplyPreparedSql(t, s),
            R"(INSERT INTO "s"."t" ("id") VALUES ($1) ON CONFLICT ("id") DO NOTHING)");
}

TEST(PgApplierSql, UpdateDeleteStatements) {
  const TableDef t = Table(true);
  PgApplyShape s;
  s.kind = PgApplyKind::kUpdate;
  s.set_columns = {1};
  s.where_columns = {0};
  EXPECT_EQ(PgApplyPreparedSql(t, s), R"(UPDATE "s"."t" SET "name"=$1 WHERE "id"=$2)");
  s.kind = PgApplyKind::kDelete;
  s.set_columns.clear();
  EXPECT_EQ(PgApplyPreparedSql(t, s), R"(DELETE FROM "s"."t" WHERE "id"=$1)");
  s.kind = PgApplyKind::kUpsertUpdate;
  s.set_columns = {1, 2};
  EXPECT_EQ(PgApplyPreparedSql(t, s),
            R"(WITH u AS (UPDATE "s"."t" SET "name"=$1, "amount"=$2 WHERE "id"=$3 RETURNING 1), )"
            R"(i AS (INSERT INTO "s"."t" ("name", "amount", "id") SELECT $1, $2, $3 WHERE NOT )"
            "EXISTS (SELECT 1 FROM u) ON CONFLICT DO NOTHING RETURNING 1) SELECT 1 FROM u UNION "
            "ALL SELECT 1 FROM i");
}

TEST(PgApplierSql, NoKeyMatchesOneRowNullSafe) {
  TableDef t = Table(false);
  t.columns.push_back(Col("j", "json", T(DmsKind::kNclob)));
  PgApplyShape s;
  s.kind = PgApplyKind::kDelete;
  s.where_columns = {0, 3};
  EXPECT_EQ(PgApplyPreparedSql(t, s),
            R"(DELETE FROM "s"."t" WHERE ctid = (SELECT ctid FROM "s"."t" WHERE "id" IS NOT )"
            R"(DISTINCT FROM $1 AND "j"::text IS NOT DISTINCT FROM $2::text LIMIT 1))");
  s.kind = PgApplyKind::kUpsertInsert;  // no key: the plain insert
  s.set_columns = {0};
  s.where_columns.clear();
  EXPECT_EQ(PgApplyPreparedSql(t, s),
            R"(INSERT INTO "s"."t" ("id") VALUES ($1) ON CONFLICT DO NOTHING)");
}

TEST(PgApplierSql, ShapesFollowTheChange) {
  const TableDef t = Table(true);
  const std::vector<int> key = {0};
  Batch b(3);
  Row(&b, 1, "a", "1.5");    // row 0: old
  Row(&b, 1, "b", nullptr);  // row 1: new, amount unchanged
  cdc::ChangeView u;
  u.op = cdc::ChangeOp::kUpdate;
  u.rows = &b;
  u.new_row = 1;
  PgApplyShape s;
  ASSERT_TRUE(PgApplyShapeOf(t, key, u, false, &s));
  EXPECT_EQ(s.kind, PgApplyKind::kUpdate);
  EXPECT_EQ(s.set_columns, std::vector<int>({1}));  // key unchanged, amount unchanged
  EXPECT_EQ(s.where_columns, std::vector<int>({0}));

  // A key change sets the key too.
  Batch k(3);
  Row(&k, 1, "a", "1");
  Row(&k, 2, "a", "1");
  cdc::ChangeView kc{cdc::ChangeOp::kUpdate, 0, cdc::OldImage::kKey, &k, 0, 1, {}};
  ASSERT_TRUE(PgApplyShapeOf(t, key, kc, true, &s));
  EXPECT_EQ(s.kind, PgApplyKind::kUpsertUpdate);
  EXPECT_EQ(s.set_columns, std::vector<int>({0, 1, 2}));

  // Nothing but unchanged cells: a no-op.
  Batch n(3);
  n.AppendInt(1);
  n.AppendUnchanged();
  n.AppendUnchanged();
  cdc::ChangeView noop{cdc::ChangeOp::kUpdate, 0, cdc::OldImage::kNone, &n, -1, 0, {}};
  EXPECT_FALSE(PgApplyShapeOf(t, key, noop, false, &s));

  // No key and no whole old row: the source needs REPLICA IDENTITY FULL.
  const TableDef nk = Table(false);
  cdc::ChangeView del{cdc::ChangeOp::kDelete, 0, cdc::OldImage::kKey, &b, 0, -1, {}};
  try {
    PgApplyShapeOf(nk, {}, del, false, &s);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("REPLICA IDENTITY FULL"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("s.t"), std::string::npos);
  }
  del.old_kind = cdc::OldImage::kFull;
  ASSERT_TRUE(PgApplyShapeOf(nk, {}, del, false, &s));
  EXPECT_EQ(s.where_columns, std::vector<int>({0, 1, 2}));
}

TEST(PgApplierSql, StatementRendersLiterals) {
  PgChangeApplier applier(nullptr);
  const TableDef t = Table(true);
  Batch b(3);
  Row(&b, 5, "it's", "12.5");
  Row(&b, 5, "x", nullptr);
  b.AppendInt(6);
  b.AppendNull();
  b.AppendBytes("-3");
  cdc::ChangeView ins{cdc::ChangeOp::kInsert, 0, cdc::OldImage::kNone, &b, -1, 0, {}};
  EXPECT_EQ(applier.Statement(t, ins),
            R"(INSERT INTO "s"."t" ("id", "name", "amount") VALUES (5, 'it''s', 12.5))");
  cdc::ChangeView up{cdc::ChangeOp::kUpdate, 0, cdc::OldImage::kNone, &b, -1, 1, {}};
  EXPECT_EQ(applier.Statement(t, up), R"(UPDATE "s"."t" SET "name"='x' WHERE "id"=5)");
  cdc::ChangeView kc{cdc::ChangeOp::kUpdate, 0, cdc::OldImage::kKey, &b, 0, 2, {}};
  EXPECT_EQ(applier.Statement(t, kc),
            R"(UPDATE "s"."t" SET "id"=6, "name"=NULL, "amount"=-3 WHERE "id"=5)");
  cdc::ChangeView del{cdc::ChangeOp::kDelete, 0, cdc::OldImage::kKey, &b, 0, -1, {}};
  EXPECT_EQ(applier.Statement(t, del), R"(DELETE FROM "s"."t" WHERE "id"=5)");
  cdc::ChangeView tr{cdc::ChangeOp::kTruncate, 0, cdc::OldImage::kNone, nullptr, -1, -1, {}};
  EXPECT_EQ(applier.Statement(t, tr), R"(TRUNCATE TABLE "s"."t")");
}

TEST(PgApplierSql, StatementShortensLongAndShowsBadValues) {
  PgChangeApplier applier(nullptr);
  const TableDef t = Table(true);
  Batch b(3);
  const std::string long_text(300, 'y');
  b.AppendInt(1);
  b.AppendBytes(long_text);  // too long for varchar(10): still shown, shortened
  b.AppendBytes("1");
  cdc::ChangeView ins{cdc::ChangeOp::kInsert, 0, cdc::OldImage::kNone, &b, -1, 0, {}};
  EXPECT_EQ(applier.Statement(t, ins), R"(INSERT INTO "s"."t" ("id", "name", "amount") VALUES )"
                                       "(1, '" +
                                           std::string(200, 'y') + "...', 1)");
}

}  // namespace
}  // namespace ferry::postgres
