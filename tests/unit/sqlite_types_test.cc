#include "connectors/sqlite/sqlite_types.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstring>

#include "test_types.h"

namespace ferry::sqlite {
namespace {

using ::ferry::testing::T;

TEST(SqliteTypesTest, DeclaredTypeToDms) {
  struct Case {
    const char* declared;
    DmsType want;
  } cases[] = {
      {"BOOLEAN", T(DmsKind::kBoolean)},
      {"bool", T(DmsKind::kBoolean)},
      {"TINYINT", T(DmsKind::kInt1)},
      {"SMALLINT", T(DmsKind::kInt2)},
      {"INT2", T(DmsKind::kInt2)},
      {"MEDIUMINT", T(DmsKind::kInt4)},
      {"INT", T(DmsKind::kInt4)},
      {"int(11)", T(DmsKind::kInt4)},
      {"INTEGER", T(DmsKind::kInt8)},  // SQLite's INTEGER is 64-bit (Chinook's ids)
      {"BIGINT", T(DmsKind::kInt8)},
      {"INT8", T(DmsKind::kInt8)},
      {"TINYINT UNSIGNED", T(DmsKind::kUint1)},
      {"smallint unsigned", T(DmsKind::kUint2)},
      {"INT UNSIGNED", T(DmsKind::kUint4)},
      {"int(10) unsigned", T(DmsKind::kUint4)},
      {"MEDIUMINT UNSIGNED", T(DmsKind::kUint4)},
      {"BIGINT UNSIGNED", T(DmsKind::kUint8)},
      {"UNSIGNED BIG INT", T(DmsKind::kUint8)},
      {"CHAR(10)", T(DmsKind::kWstring, 10)},
      {"VARCHAR(255)", T(DmsKind::kWstring, 255)},
      {"NCHAR(55)", T(DmsKind::kWstring, 55)},
      {"NVARCHAR(160)", T(DmsKind::kWstring, 160)},  // Chinook
      {"NVARCHAR( 70 )", T(DmsKind::kWstring, 70)},
      {"CHARACTER(20)", T(DmsKind::kWstring, 20)},
      {"VARYING CHARACTER(255)", T(DmsKind::kWstring, 255)},
      {"NATIVE CHARACTER(70)", T(DmsKind::kWstring, 70)},
      {"VARCHAR", T(DmsKind::kNclob)},
      {"TEXT", T(DmsKind::kNclob)},
      {"CLOB", T(DmsKind::kNclob)},
      {"JSON", T(DmsKind::kNclob)},
      {"JSON_TEXT", T(DmsKind::kNclob)},
      {"BLOB", T(DmsKind::kBlob)},
      {"", T(DmsKind::kNclob)},  // no declared type: anything, read as text
      {"REAL", T(DmsKind::kReal8)},
      {"DOUBLE", T(DmsKind::kReal8)},
      {"DOUBLE PRECISION", T(DmsKind::kReal8)},
      {"FLOAT", T(DmsKind::kReal8)},
      {"FLOAT4", T(DmsKind::kReal4)},
      {"NUMERIC", T(DmsKind::kNumeric)},
      {"NUMERIC(10,2)", T(DmsKind::kNumeric, 0, 10, 2)},  // Chinook
      {"DECIMAL(10,5)", T(DmsKind::kNumeric, 0, 10, 5)},
      {"decimal(5)", T(DmsKind::kNumeric, 0, 5, 0)},
      {"DECIMAL_TEXT(40,10)", T(DmsKind::kNumeric, 0, 40, 10)},
      {"DECIMAL_TEXT(20,0)", T(DmsKind::kNumeric, 0, 20, 0)},
      {"DECIMAL_TEXT", T(DmsKind::kNumeric)},
      {"DATE", T(DmsKind::kDate)},
      {"DATETIME", T(DmsKind::kDatetime, 0, 6)},  // Chinook
      {"TIMESTAMP", T(DmsKind::kDatetime, 0, 6)},
      {"TIME", T(DmsKind::kTime, 0, 6)},
      {"UUID", T(DmsKind::kString, 36)},
      // Affinity fallbacks (datatype3.html 3.1)
      {"SERIALINTEGER", T(DmsKind::kInt8)},
      {"LONGCHARS", T(DmsKind::kNclob)},
      {"STRINGTEXT", T(DmsKind::kNclob)},
      {"MEDIUMBLOB", T(DmsKind::kBlob)},
      {"FLOATING POINT", T(DmsKind::kInt8)},  // "INT" wins, as in SQLite
      {"DOUBLY", T(DmsKind::kReal8)},
      {"MONEY", T(DmsKind::kNumeric)},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DescribeDmsType(DmsTypeFromDeclared(c.declared)), DescribeDmsType(c.want))
        << "declared '" << c.declared << "'";
    EXPECT_EQ(DmsTypeFromDeclared(c.declared), c.want) << "declared '" << c.declared << "'";
  }
  DmsType tz = DmsTypeFromDeclared("TIMESTAMP WITH TIME ZONE");
  EXPECT_EQ(tz.kind, DmsKind::kDatetime);
  EXPECT_TRUE(tz.with_time_zone);
}

TEST(SqliteTypesTest, AffinityFollowsSqlite) {
  EXPECT_EQ(AffinityOf("INTEGER"), Affinity::kInteger);
  EXPECT_EQ(AffinityOf("TINYINT UNSIGNED"), Affinity::kInteger);
  EXPECT_EQ(AffinityOf("NVARCHAR(10)"), Affinity::kText);
  EXPECT_EQ(AffinityOf("DECIMAL_TEXT(20,0)"), Affinity::kText);  // exact decimals as text
  EXPECT_EQ(AffinityOf("JSON_TEXT"), Affinity::kText);
  EXPECT_EQ(AffinityOf("BLOB"), Affinity::kBlob);
  EXPECT_EQ(AffinityOf(""), Affinity::kBlob);
  EXPECT_EQ(AffinityOf("FLOAT4"), Affinity::kReal);
  EXPECT_EQ(AffinityOf("DOUBLE"), Affinity::kReal);
  EXPECT_EQ(AffinityOf("NUMERIC(10,2)"), Affinity::kNumeric);
  EXPECT_EQ(AffinityOf("DATETIME"), Affinity::kNumeric);
}

ColumnDef Col(const std::string& name, DmsType type, std::string native = "x") {
  ColumnDef c;
  c.name = name;
  c.type = type;
  c.native_type = std::move(native);
  return c;
}

TEST(SqliteTypesTest, MapColumnEveryKind) {
  SqliteDialect d;
  struct Case {
    DmsType type;
    const char* want;
  } cases[] = {
      {T(DmsKind::kBoolean), "BOOLEAN"},
      {T(DmsKind::kBytes, 16), "BLOB"},
      {T(DmsKind::kDate), "DATE"},
      {T(DmsKind::kTime, 0, 6), "TIME"},
      {T(DmsKind::kDatetime, 0, 6), "DATETIME"},
      {T(DmsKind::kInt1), "TINYINT"},
      {T(DmsKind::kInt2), "SMALLINT"},
      {T(DmsKind::kInt4), "INT"},
      {T(DmsKind::kInt8), "BIGINT"},
      {T(DmsKind::kUint1), "TINYINT UNSIGNED"},
      {T(DmsKind::kUint2), "SMALLINT UNSIGNED"},
      {T(DmsKind::kUint4), "INT UNSIGNED"},
      {T(DmsKind::kUint8), "DECIMAL_TEXT(20,0)"},
      {T(DmsKind::kNumeric, 0, 10, 2), "NUMERIC(10,2)"},
      {T(DmsKind::kNumeric, 0, 15, 15), "NUMERIC(15,15)"},
      {T(DmsKind::kNumeric, 0, 16, 2), "DECIMAL_TEXT(16,2)"},
      {T(DmsKind::kNumeric, 0, 40, 10), "DECIMAL_TEXT(40,10)"},
      {T(DmsKind::kNumeric), "DECIMAL_TEXT"},
      {T(DmsKind::kReal4), "FLOAT4"},
      {T(DmsKind::kReal8), "DOUBLE"},
      {T(DmsKind::kString, 20), "VARCHAR(20)"},
      {T(DmsKind::kString), "TEXT"},
      {T(DmsKind::kWstring, 160), "NVARCHAR(160)"},
      {T(DmsKind::kWstring), "TEXT"},
      {T(DmsKind::kBlob), "BLOB"},
      {T(DmsKind::kClob), "TEXT"},
      {T(DmsKind::kNclob), "TEXT"},
  };
  for (const Case& c : cases) {
    ColumnDef out = d.MapColumn(Col("c", c.type, "whatever"), Engine::kPostgres, false);
    EXPECT_EQ(out.native_type, c.want) << DescribeDmsType(c.type);
    EXPECT_EQ(out.type, c.type);
    // What we declare must read back as a type that holds every value of the source type.
    DmsType back = DmsTypeFromDeclared(out.native_type);
    if (c.type.kind != DmsKind::kUint8 && c.type.kind != DmsKind::kBytes &&
        c.type.kind != DmsKind::kClob && c.type.kind != DmsKind::kString &&
        !(c.type.kind == DmsKind::kWstring && c.type.length == 0)) {
      EXPECT_EQ(back.kind, c.type.kind) << c.want;
    }
  }
  // JSON documents: TEXT affinity so '1.0' stays '1.0'.
  EXPECT_EQ(d.MapColumn(Col("j", T(DmsKind::kNclob), "jsonb"), Engine::kPostgres, false)
                .native_type,
            "JSON_TEXT");
  EXPECT_EQ(d.MapColumn(Col("j", T(DmsKind::kClob), "json"), Engine::kMysql, false).native_type,
            "JSON_TEXT");
  EXPECT_EQ(d.MapColumn(Col("u", T(DmsKind::kString, 36), "uuid"), Engine::kPostgres, false)
                .native_type,
            "UUID");
  // Same engine keeps the declared type; an untyped column stays untyped (any storage class).
  EXPECT_EQ(d.MapColumn(Col("n", T(DmsKind::kWstring, 160), "NVARCHAR(160)"), Engine::kSqlite,
                        false)
                .native_type,
            "NVARCHAR(160)");
  EXPECT_EQ(d.MapColumn(Col("n", T(DmsKind::kNclob), ""), Engine::kSqlite, false).native_type,
            "");
  // A non-portable native type falls back to the DMS type.
  ColumnDef e = Col("e", T(DmsKind::kWstring, 5), "mood");
  e.portable_native = false;
  EXPECT_EQ(d.MapColumn(e, Engine::kSqlite, false).native_type, "NVARCHAR(5)");
}

TEST(SqliteTypesTest, CreateTableSql) {
  SqliteDialect d;
  TableDef t;
  t.schema = "main";
  t.name = "orders";
  t.columns = {Col("id", T(DmsKind::kInt4), "INT"), Col("code", T(DmsKind::kWstring, 10),
                                                            "NVARCHAR(10)"),
               Col("we\"ird", T(DmsKind::kNclob), "TEXT")};
  t.columns[0].nullable = false;
  t.columns[1].nullable = false;
  t.primary_key = {"id"};
  t.unique_indexes = {{"code_key", {"code"}}, {"orders_x", {"code", "we\"ird"}}};
  auto sql = d.CreateTableSql(t);
  ASSERT_EQ(sql.size(), 3u);
  EXPECT_EQ(sql[0],
            "CREATE TABLE \"orders\" (\"id\" INTEGER NOT NULL, \"code\" NVARCHAR(10) NOT NULL, "
            "\"we\"\"ird\" TEXT, PRIMARY KEY (\"id\"))");
  EXPECT_EQ(sql[1], "CREATE UNIQUE INDEX \"orders_code_key\" ON \"orders\" (\"code\")");
  EXPECT_EQ(sql[2], "CREATE UNIQUE INDEX \"orders_x\" ON \"orders\" (\"code\", \"we\"\"ird\")");
  EXPECT_EQ(RowidAliasColumn(t), 0);

  // UINT8 keys and composite keys keep their types.
  t.columns[0] = Col("id", T(DmsKind::kUint8), "DECIMAL_TEXT(20,0)");
  EXPECT_EQ(RowidAliasColumn(t), -1);
  t.columns[0] = Col("id", T(DmsKind::kInt8), "BIGINT");
  t.primary_key = {"id", "code"};
  EXPECT_EQ(RowidAliasColumn(t), -1);
  EXPECT_EQ(d.QuoteIdentifier("a\"b"), "\"a\"\"b\"");
}

// DmsKind::kEngineValue as SQLite carries it: every storage class round-trips exactly and
// quotes as SQLite's own literal.
TEST(SqliteStoredValue, EveryStorageClassRoundTripsAndQuotes) {
  std::string enc;
  AppendStoredInteger(INT64_MIN, &enc);
  StoredValue v;
  ASSERT_TRUE(DecodeStoredValue(enc, &v));
  EXPECT_EQ(v.tag, ValueTag::kInteger);
  EXPECT_EQ(v.integer, INT64_MIN);
  EXPECT_EQ(QuoteStoredValue(enc), "-9223372036854775808");
  for (double d : {0.1, -0.0, 1e308, 2460000.5, 5e-324}) {
    enc.clear();
    AppendStoredReal(d, &enc);
    ASSERT_TRUE(DecodeStoredValue(enc, &v)) << enc;
    EXPECT_EQ(v.tag, ValueTag::kReal);
    EXPECT_EQ(std::bit_cast<uint64_t>(v.real), std::bit_cast<uint64_t>(d))
        << enc << " reads back bit for bit";
  }
  enc.clear();
  AppendStoredReal(1.0, &enc);
  EXPECT_EQ(QuoteStoredValue(enc), "1.0") << "a REAL never quotes like an INTEGER";
  enc.clear();
  AppendStoredBytes(ValueTag::kText, "it's", &enc);
  EXPECT_EQ(QuoteStoredValue(enc), "'it''s'");
  enc.clear();
  AppendStoredBytes(ValueTag::kBlob, std::string("\0\xff", 2), &enc);
  EXPECT_EQ(QuoteStoredValue(enc), "X'00FF'");
  SqliteDialect d;
  EXPECT_EQ(d.EngineValueLiteral(enc).value_or(""), "X'00FF'");
  EXPECT_FALSE(DecodeStoredValue("", &v));
  EXPECT_FALSE(DecodeStoredValue("i12x", &v));
  EXPECT_FALSE(DecodeStoredValue("q", &v));
  EXPECT_FALSE(d.EngineValueLiteral("r1.5.5").has_value());
  // Text holding NUL: SQLite's tokenizer ends a statement at NUL, so it is no SQL literal
  // (validation then says the key cannot be read by value instead of sending cut SQL); its
  // quoted form for messages and hashes keeps every byte.
  enc.clear();
  AppendStoredBytes(ValueTag::kText, std::string("a\0'b", 4), &enc);
  EXPECT_FALSE(d.EngineValueLiteral(enc).has_value());
  EXPECT_EQ(QuoteStoredValue(enc), std::string("'a\0''b'", 7));
}

}  // namespace
}  // namespace ferry::sqlite
