#include "connectors/postgres/pg_types.h"

#include <gtest/gtest.h>

#include <limits>

#include "connectors/connector.h"
#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_writer.h"
#include "connectors/postgres/postgres_connector.h"
#include "test_types.h"
#include "types/value_codec.h"

namespace ferry::postgres {
namespace {

PgMappedType Map(const std::string& formatted, uint32_t oid, char typtype = 'b',
                 char category = 'U', uint32_t elem = 0) {
  PgTypeInfo info;
  info.formatted = formatted;
  info.oid = oid;
  info.typtype = typtype;
  info.category = category;
  info.elem_oid = elem;
  return MapPgType(info);
}

using ::ferry::testing::T;

TEST(PgTypeMap, NativeToDms) {
  EXPECT_EQ(Map("boolean", 16).type, T(DmsKind::kBoolean));
  EXPECT_EQ(Map("smallint", 21).type, T(DmsKind::kInt2));
  EXPECT_EQ(Map("integer", 23).type, T(DmsKind::kInt4));
  EXPECT_EQ(Map("bigint", 20).type, T(DmsKind::kInt8));
  EXPECT_EQ(Map("numeric(10,2)", 1700).type, T(DmsKind::kNumeric, 0, 10, 2));
  EXPECT_EQ(Map("numeric(60,0)", 1700).type, T(DmsKind::kNumeric, 0, 60, 0));
  EXPECT_EQ(Map("numeric(5)", 1700).type, T(DmsKind::kNumeric, 0, 5, 0));
  EXPECT_EQ(Map("numeric", 1700).type, T(DmsKind::kNumeric));
  EXPECT_EQ(Map("real", 700).type, T(DmsKind::kReal4));
  EXPECT_EQ(Map("double precision", 701).type, T(DmsKind::kReal8));
  EXPECT_EQ(Map("money", 790).type, T(DmsKind::kNumeric, 0, 38, 4));
  EXPECT_EQ(Map("character(3)", 1042).type, T(DmsKind::kWstring, 3));
  EXPECT_EQ(Map("character varying(20)", 1043).type, T(DmsKind::kWstring, 20));
  EXPECT_EQ(Map("character varying", 1043).type, T(DmsKind::kNclob));
  EXPECT_EQ(Map("text", 25).type, T(DmsKind::kNclob));
  EXPECT_EQ(Map("\"char\"", 18).type, T(DmsKind::kString, 1));
  EXPECT_EQ(Map("name", 19).type, T(DmsKind::kString, 64));
  EXPECT_EQ(Map("bytea", 17).type, T(DmsKind::kBlob));
  EXPECT_EQ(Map("date", 1082).type, T(DmsKind::kDate));
  EXPECT_EQ(Map("time(3) without time zone", 1083).type, T(DmsKind::kTime, 0, 3));
  EXPECT_EQ(Map("time without time zone", 1083).type, T(DmsKind::kTime, 0, 6));
  EXPECT_EQ(Map("time with time zone", 1266).type, T(DmsKind::kString));
  EXPECT_EQ(Map("timestamp(0) without time zone", 1114).type, T(DmsKind::kDatetime, 0, 0));
  EXPECT_EQ(Map("timestamp with time zone", 1184).type, T(DmsKind::kDatetime, 0, 6, 0, true));
  EXPECT_EQ(Map("interval", 1186).type, T(DmsKind::kString));
  EXPECT_EQ(Map("uuid", 2950).type, T(DmsKind::kString, 36));
  EXPECT_EQ(Map("json", 114).type, T(DmsKind::kNclob));
  EXPECT_EQ(Map("jsonb", 3802).type, T(DmsKind::kNclob));
  EXPECT_EQ(Map("xml", 142).type, T(DmsKind::kClob));
  EXPECT_EQ(Map("tsvector", 3614).type, T(DmsKind::kClob));
  EXPECT_EQ(Map("inet", 869).type, T(DmsKind::kString));
  EXPECT_EQ(Map("bit(4)", 1560).type, T(DmsKind::kString));
  EXPECT_EQ(Map("int4range", 3904, 'r', 'R').type, T(DmsKind::kString));
  EXPECT_TRUE(Map("inet", 869).portable_native);

  auto arr = Map("integer[]", 1007, 'b', 'A', 23);
  EXPECT_EQ(arr.type, T(DmsKind::kNclob));
  EXPECT_TRUE(arr.portable_native);
  auto enum_arr = Map("mood[]", 16500, 'b', 'A', 16499);
  EXPECT_FALSE(enum_arr.portable_native);
  auto e = Map("mood", 16499, 'e', 'E');
  EXPECT_EQ(e.type, T(DmsKind::kString));
  EXPECT_FALSE(e.portable_native);
  auto ext = Map("hstore", 16600, 'b', 'U');
  EXPECT_EQ(ext.type, T(DmsKind::kNclob));
  EXPECT_FALSE(ext.portable_native);
  PgTypeInfo domain;
  domain.formatted = "numeric(12,2)";
  domain.oid = 1700;
  domain.is_domain = true;
  auto d = MapPgType(domain);
  EXPECT_EQ(d.type, T(DmsKind::kNumeric, 0, 12, 2));
  EXPECT_FALSE(d.portable_native);
}

TEST(PgTypeMap, ReadWires) {
  std::string cast;
  EXPECT_EQ(ReadWireForOid(790, &cast), PgWire::kNumeric);
  EXPECT_EQ(cast, "numeric");
  EXPECT_EQ(ReadWireForOid(1186, &cast), PgWire::kText);
  EXPECT_EQ(cast, "text");
  EXPECT_EQ(ReadWireForOid(2950, &cast), PgWire::kUuid);
  EXPECT_EQ(cast, "");
  // Without an OID (a TableDef built elsewhere) the native type's name decides.
  ColumnDef c;
  c.native_type = "timestamp(3) with time zone";
  EXPECT_EQ(ReadWireForColumn(c, &cast), PgWire::kTimestamptz);
  EXPECT_EQ(cast, "");
  c.native_type = "money";
  EXPECT_EQ(ReadWireForColumn(c, &cast), PgWire::kNumeric);
  EXPECT_EQ(cast, "numeric");
  c.native_type = "integer[]";
  EXPECT_EQ(ReadWireForColumn(c, &cast), PgWire::kText);
  EXPECT_EQ(cast, "text");
  c.native_id = 23;
  EXPECT_EQ(ReadWireForColumn(c, &cast), PgWire::kInt4);
}

TEST(PgTypeMap, TargetTypes) {
  auto t = ParsePgTargetType("character varying(20)");
  EXPECT_EQ(t.wire, PgWire::kText);
  EXPECT_EQ(t.max_chars, 20);
  t = ParsePgTargetType("varchar(5)");
  EXPECT_EQ(t.max_chars, 5);
  t = ParsePgTargetType("numeric(20,0)");
  EXPECT_EQ(t.wire, PgWire::kNumeric);
  EXPECT_EQ(t.precision, 20);
  t = ParsePgTargetType("timestamp(3) with time zone");
  EXPECT_EQ(t.wire, PgWire::kTimestamptz);
  EXPECT_EQ(t.precision, 3);
  EXPECT_EQ(ParsePgTargetType("timestamptz(6)").wire, PgWire::kTimestamptz);
  EXPECT_EQ(ParsePgTargetType("timestamp(6)").wire, PgWire::kTimestamp);
  EXPECT_EQ(ParsePgTargetType("time(2)").wire, PgWire::kTime);
  EXPECT_EQ(ParsePgTargetType("time with time zone").wire, PgWire::kOther);
  EXPECT_EQ(ParsePgTargetType("integer[]").wire, PgWire::kOther);
  EXPECT_EQ(ParsePgTargetType("interval").wire, PgWire::kOther);
  EXPECT_EQ(ParsePgTargetType("jsonb").wire, PgWire::kJsonb);
  EXPECT_EQ(ParsePgTargetType("character(1)").max_chars, 1);
}

TEST(PgDialect, MapColumnForEveryKind) {
  EndpointUri uri;
  uri.engine = Engine::kPostgres;
  auto connector = OpenPostgresConnector(uri);
  const Dialect& d = connector->dialect();
  struct Case {
    DmsType type;
    const char* expected;
  } cases[] = {
      {T(DmsKind::kBoolean), "boolean"},
      {T(DmsKind::kBytes, 16), "bytea"},
      {T(DmsKind::kDate), "date"},
      {T(DmsKind::kTime, 0, 3), "time(3)"},
      {T(DmsKind::kDatetime, 0, 6), "timestamp(6)"},
      {T(DmsKind::kDatetime, 0, 0, 0, true), "timestamptz(0)"},
      {T(DmsKind::kInt1), "smallint"},
      {T(DmsKind::kInt2), "smallint"},
      {T(DmsKind::kInt4), "integer"},
      {T(DmsKind::kInt8), "bigint"},
      {T(DmsKind::kUint1), "smallint"},
      {T(DmsKind::kUint2), "integer"},
      {T(DmsKind::kUint4), "bigint"},
      {T(DmsKind::kUint8), "numeric(20,0)"},
      {T(DmsKind::kNumeric, 0, 10, 2), "numeric(10,2)"},
      {T(DmsKind::kNumeric), "numeric"},
      {T(DmsKind::kNumeric, 0, 2000, 2), "numeric"},
      {T(DmsKind::kNumeric, 0, 5, -2), "numeric(5,-2)"},
      {T(DmsKind::kReal4), "real"},
      {T(DmsKind::kReal8), "double precision"},
      {T(DmsKind::kString, 10), "varchar(10)"},
      {T(DmsKind::kString, 0), "text"},
      {T(DmsKind::kWstring, 20000000), "text"},
      {T(DmsKind::kWstring, 255), "varchar(255)"},
      {T(DmsKind::kBlob), "bytea"},
      {T(DmsKind::kClob), "text"},
      {T(DmsKind::kNclob), "text"},
  };
  for (const Case& c : cases) {
    ColumnDef src;
    src.name = "c";
    src.type = c.type;
    src.native_type = "whatever";
    ColumnDef out = d.MapColumn(src, Engine::kSqlite, false);
    EXPECT_EQ(out.native_type, c.expected) << DescribeDmsType(c.type);
    EXPECT_EQ(out.type, c.type);
    EXPECT_EQ(out.name, "c");
  }
  ColumnDef uuid;
  uuid.name = "u";
  uuid.type = T(DmsKind::kString, 36);
  uuid.native_type = "uuid";
  EXPECT_EQ(d.MapColumn(uuid, Engine::kPostgres, false).native_type, "uuid");
  uuid.portable_native = false;
  uuid.native_type = "mood";
  EXPECT_EQ(d.MapColumn(uuid, Engine::kPostgres, false).native_type, "varchar(36)");
  ColumnDef json;
  json.type = T(DmsKind::kClob);
  json.native_type = "json";
  EXPECT_EQ(d.MapColumn(json, Engine::kMysql, false).native_type, "jsonb");
  EXPECT_EQ(d.QuoteIdentifier("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(connector->DefaultTargetSchema("main", Engine::kSqlite), "public");
  EXPECT_EQ(connector->DefaultTargetSchema("sales", Engine::kPostgres), "sales");
  EXPECT_EQ(connector->DefaultTargetSchema("shop", Engine::kMysql), "shop");
}

TEST(PgDialect, CreateTableSql) {
  TableDef t;
  t.schema = "s";
  t.name = "t\"x";
  ColumnDef a;
  a.name = "id";
  a.native_type = "bigint";
  a.nullable = false;
  ColumnDef b;
  b.name = "code";
  b.native_type = "varchar(10)";
  t.columns = {a, b};
  t.primary_key = {"id"};
  t.unique_indexes = {IndexDef{"t_code_key", {"code"}}};
  auto sql = PgCreateTableSql(t);
  ASSERT_EQ(sql.size(), 2u);
  EXPECT_EQ(sql[0],
            "CREATE TABLE \"s\".\"t\"\"x\" (\"id\" bigint NOT NULL, \"code\" varchar(10), "
            "PRIMARY KEY (\"id\"))");
  EXPECT_EQ(sql[1], "CREATE UNIQUE INDEX \"t_code_key\" ON \"s\".\"t\"\"x\" (\"code\")");
}

// Writer encoding: values that do not fit are RowErrors naming the column and value.
class PgEncodeTest : public ::testing::Test {
 protected:
  void SetUpColumn(DmsType source, const std::string& native) {
    table_.schema = "s";
    table_.name = "t";
    ColumnDef c;
    c.name = "col";
    c.type = source;
    c.native_type = native;
    table_.columns = {c};
    cols_ = {PgWriteColumn{"col", source, ParsePgTargetType(native)}};
    batch_ = Batch(1);
  }
  // Encodes row 0; returns the RowError message or "" when it encoded.
  std::string Encode(bool text = false) {
    out_.clear();
    try {
      if (text) {
        EncodeTextRow(batch_, 0, cols_, table_, &out_, &scratch_);
      } else {
        EncodeBinaryRow(batch_, 0, cols_, table_, &out_, &scratch_);
      }
      return "";
    } catch (const RowError& e) {
      EXPECT_EQ(e.column, 0);
      EXPECT_EQ(e.batch_row, 0);
      return e.what();
    }
  }
  TableDef table_;
  std::vector<PgWriteColumn> cols_;
  Batch batch_;
  std::string out_, scratch_;
};

TEST_F(PgEncodeTest, VarcharLengthInCharacters) {
  SetUpColumn(T(DmsKind::kWstring, 3), "varchar(3)");
  batch_.AppendBytes("h\xC3\xA9h");  // 3 characters, 4 bytes
  EXPECT_EQ(Encode(), "");
  batch_.Clear();
  batch_.AppendBytes("abcd");
  EXPECT_NE(Encode().find("4 characters, longer than the target's 3"), std::string::npos);
  EXPECT_NE(Encode().find("column col of s.t"), std::string::npos);
}

TEST_F(PgEncodeTest, NulAndInvalidUtf8) {
  SetUpColumn(T(DmsKind::kNclob), "text");
  batch_.AppendBytes(std::string_view("a\0b", 3));
  EXPECT_NE(Encode().find("NUL"), std::string::npos);
  EXPECT_NE(Encode(true).find("NUL"), std::string::npos);
  batch_.Clear();
  batch_.AppendBytes("bad \xFF");
  EXPECT_NE(Encode().find("UTF-8"), std::string::npos);
}

TEST_F(PgEncodeTest, NumericPrecisionAndScale) {
  SetUpColumn(T(DmsKind::kNumeric, 0, 5, 2), "numeric(5,2)");
  batch_.AppendBytes("123.45");
  EXPECT_EQ(Encode(), "");
  batch_.Clear();
  batch_.AppendBytes("1234.5");
  EXPECT_NE(Encode().find("does not fit numeric(5,2)"), std::string::npos);
  batch_.Clear();
  batch_.AppendBytes("1.234");
  EXPECT_NE(Encode().find("does not fit numeric(5,2)"), std::string::npos);
  batch_.Clear();
  batch_.AppendBytes("Infinity");
  EXPECT_NE(Encode(), "");
  batch_.Clear();
  batch_.AppendBytes("NaN");
  EXPECT_EQ(Encode(), "");
  batch_.Clear();
  batch_.AppendBytes("007.50");  // not canonical: normalised before the checks
  EXPECT_EQ(Encode(), "");
  std::string dec;
  ASSERT_TRUE(DecodeNumeric(out_.data() + 6, out_.size() - 6, &dec));
  EXPECT_EQ(dec, "7.5");
  batch_.Clear();
  batch_.AppendBytes("12abc");
  EXPECT_NE(Encode().find("is not a decimal number"), std::string::npos);
}

TEST_F(PgEncodeTest, Uint8IntoNumeric20) {
  SetUpColumn(T(DmsKind::kUint8), "numeric(20,0)");
  batch_.AppendUint(std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(Encode(), "");
  std::string dec;
  ASSERT_TRUE(DecodeNumeric(out_.data() + 6, out_.size() - 6, &dec));
  EXPECT_EQ(dec, "18446744073709551615");
}

TEST_F(PgEncodeTest, IntegerRanges) {
  SetUpColumn(T(DmsKind::kInt4), "smallint");
  batch_.AppendInt(40000);
  EXPECT_NE(Encode().find("out of range for smallint"), std::string::npos);
  SetUpColumn(T(DmsKind::kUint4), "bigint");
  batch_.AppendUint(4294967295u);
  EXPECT_EQ(Encode(), "");
}

TEST_F(PgEncodeTest, TimeBeyondADay) {
  SetUpColumn(T(DmsKind::kTime, 0, 6), "time(6)");
  batch_.AppendInt(25 * 3600 * kMicrosPerSecond);
  EXPECT_NE(Encode().find("range"), std::string::npos);
  batch_.Clear();
  batch_.AppendInt(-1);
  EXPECT_NE(Encode(), "");
  batch_.Clear();
  batch_.AppendInt(24 * 3600 * kMicrosPerSecond);
  EXPECT_EQ(Encode(), "");
  SetUpColumn(T(DmsKind::kTime, 0, 6), "time(0)");
  batch_.AppendInt(1);
  EXPECT_NE(Encode().find("fractional"), std::string::npos);
}

TEST_F(PgEncodeTest, TextModeEscapesAndHexBytea) {
  SetUpColumn(T(DmsKind::kNclob), "integer[]");
  batch_.AppendBytes("a\\b\tc\nd\re");
  EXPECT_EQ(Encode(true), "");
  EXPECT_EQ(out_, "a\\\\b\\tc\\nd\\re\n");
  SetUpColumn(T(DmsKind::kBlob), "bytea");
  batch_.AppendBytes(std::string_view("\x00\xff", 2));
  EXPECT_EQ(Encode(true), "");
  EXPECT_EQ(out_, "\\\\x00ff\n");
  SetUpColumn(T(DmsKind::kDatetime, 0, 6, 0, true), "timestamptz(6)");
  batch_.AppendInt(std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Encode(true), "");
  EXPECT_EQ(out_, "infinity\n");
  batch_.Clear();
  batch_.AppendNull();
  EXPECT_EQ(Encode(true), "");
  EXPECT_EQ(out_, "\\N\n");
}

TEST_F(PgEncodeTest, UuidText) {
  SetUpColumn(T(DmsKind::kString, 36), "uuid");
  batch_.AppendBytes("not-a-uuid");
  EXPECT_NE(Encode().find("is not a UUID"), std::string::npos);
}

// Two table names of 63 bytes sharing 58 of them: PostgreSQL would name both keys
// "<58 bytes>_pkey". Each key gets a name of its own, hashed from the full table name.
TEST(PgDdl, LongTableNamesGetDistinctPrimaryKeyNames) {
  auto create = [](const std::string& name) {
    TableDef t;
    t.schema = "s";
    t.name = name;
    ColumnDef id;
    id.name = "id";
    id.native_type = "bigint";
    id.nullable = false;
    t.columns = {id};
    t.primary_key = {"id"};
    return PgCreateTableSql(t)[0];
  };
  const std::string a = create(std::string(63, 'n'));
  const std::string b = create(std::string(61, 'n') + "_2");
  EXPECT_NE(a.find("CONSTRAINT \"" + std::string(49, 'n') + "_"), std::string::npos) << a;
  EXPECT_NE(a.find("_pkey\" PRIMARY KEY (\"id\")"), std::string::npos) << a;
  const auto key_name = [](const std::string& sql) {
    const size_t at = sql.find("CONSTRAINT \"") + 12;
    return sql.substr(at, sql.find('"', at) - at);
  };
  EXPECT_NE(key_name(a), key_name(b));
  EXPECT_LE(key_name(a).size(), 63u);
  EXPECT_EQ(create("short").find("CONSTRAINT"), std::string::npos) << "short names keep <t>_pkey";
}

}  // namespace
}  // namespace ferry::postgres
