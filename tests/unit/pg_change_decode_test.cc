// pgoutput values -> cells and change records, without a server; and the CDC prerequisites
// message.
#include "connectors/postgres/pg_change_decode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "change/change.h"
#include "connectors/postgres/pg_capture.h"
#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_types.h"
#include "types/value_codec.h"

namespace ferry::postgres {
namespace {

ColumnDef Col(const std::string& name, const std::string& formatted, uint32_t oid,
              char typtype = 'b', char category = 'U') {
  PgTypeInfo info;
  info.formatted = formatted;
  info.oid = oid;
  info.typtype = typtype;
  info.category = category;
  ColumnDef c;
  c.name = name;
  c.native_type = formatted;
  c.native_id = oid;
  c.type = MapPgType(info).type;
  return c;
}

// Decodes `text` for a column of type (formatted, oid) into a one-cell batch; returns the
// problem text ("" when fine).
std::string Decode(const std::string& formatted, uint32_t oid, std::string_view text,
                   Batch* out) {
  *out = Batch(1);
  return AppendTextValue(ChangeColumnFor(Col("c", formatted, oid)), text, *out);
}

int64_t Int(const std::string& formatted, uint32_t oid, std::string_view text) {
  Batch b;
  const std::string p = Decode(formatted, oid, text, &b);
  EXPECT_EQ(p, "") << text;
  return p.empty() ? b.at(0, 0).i : 0;
}

double Dbl(const std::string& formatted, uint32_t oid, std::string_view text) {
  Batch b;
  const std::string p = Decode(formatted, oid, text, &b);
  EXPECT_EQ(p, "") << text;
  return p.empty() ? b.at(0, 0).d : 0;
}

std::string Bytes(const std::string& formatted, uint32_t oid, std::string_view text) {
  Batch b;
  const std::string p = Decode(formatted, oid, text, &b);
  EXPECT_EQ(p, "") << text;
  return p.empty() ? std::string(b.Bytes(0, 0)) : "";
}

std::string Problem(const std::string& formatted, uint32_t oid, std::string_view text) {
  Batch b;
  std::string p = Decode(formatted, oid, text, &b);
  EXPECT_TRUE(b.empty()) << "nothing is appended for a malformed value";
  return p;
}

TEST(PgChangeDecodeText, IntegersAndBooleans) {
  EXPECT_EQ(Int("boolean", kOidBool, "t"), 1);
  EXPECT_EQ(Int("boolean", kOidBool, "f"), 0);
  EXPECT_EQ(Int("smallint", kOidInt2, "-32768"), -32768);
  EXPECT_EQ(Int("integer", kOidInt4, "2147483647"), 2147483647);
  EXPECT_EQ(Int("bigint", kOidInt8, "-9223372036854775808"), INT64_MIN);
  EXPECT_NE(Problem("smallint", kOidInt2, "40000").find("invalid smallint '40000'"),
            std::string::npos);
  EXPECT_NE(Problem("integer", kOidInt4, "12a").find("invalid integer '12a'"), std::string::npos);
  EXPECT_NE(Problem("integer", kOidInt4, "").find("invalid integer"), std::string::npos);
  EXPECT_NE(Problem("boolean", kOidBool, "true").find("invalid boolean"), std::string::npos);
}

TEST(PgChangeDecodeText, Floats) {
  EXPECT_EQ(Dbl("real", kOidFloat4, "0.1"), static_cast<double>(0.1f));
  EXPECT_EQ(Dbl("real", kOidFloat4, "3.4028235e+38"), static_cast<double>(3.4028235e38f));
  EXPECT_EQ(Dbl("double precision", kOidFloat8, "0.1"), 0.1);
  EXPECT_EQ(Dbl("double precision", kOidFloat8, "1.7976931348623157e+308"),
            1.7976931348623157e308);
  EXPECT_EQ(Dbl("double precision", kOidFloat8, "-2.2250738585072014e-308"),
            -2.2250738585072014e-308);
  EXPECT_TRUE(std::isnan(Dbl("real", kOidFloat4, "NaN")));
  EXPECT_EQ(Dbl("double precision", kOidFloat8, "Infinity"),
            std::numeric_limits<double>::infinity());
  EXPECT_EQ(Dbl("real", kOidFloat4, "-Infinity"), -std::numeric_limits<double>::infinity());
  EXPECT_NE(Problem("double precision", kOidFloat8, "1.5x").find("invalid double precision"),
            std::string::npos);
  EXPECT_NE(Problem("real", kOidFloat4, "inf").find("invalid real"), std::string::npos);
}

TEST(PgChangeDecodeText, NumericAndMoney) {
  EXPECT_EQ(Bytes("numeric(10,2)", kOidNumeric, "12345678.90"), "12345678.9");
  EXPECT_EQ(Bytes("numeric", kOidNumeric, "-0.0000000001"), "-0.0000000001");
  EXPECT_EQ(Bytes("numeric", kOidNumeric, "0.00"), "0");
  EXPECT_EQ(Bytes("numeric", kOidNumeric, "NaN"), "NaN");
  EXPECT_EQ(Bytes("numeric", kOidNumeric, "Infinity"), "Infinity");
  EXPECT_EQ(Bytes("numeric", kOidNumeric, "-Infinity"), "-Infinity");
  EXPECT_EQ(Bytes("money", kOidMoney, "$1,234.56"), "1234.56");
  EXPECT_EQ(Bytes("money", kOidMoney, "-$1,234.56"), "-1234.56");
  EXPECT_EQ(Bytes("money", kOidMoney, "-$92,233,720,368,547,758.08"),
            "-92233720368547758.08");
  EXPECT_EQ(Bytes("money", kOidMoney, "$0.00"), "0");
  EXPECT_EQ(Bytes("money", kOidMoney, "$0.10"), "0.1");
  EXPECT_NE(Problem("money", kOidMoney, "1,234.56 EUR").find("invalid money"), std::string::npos);
  EXPECT_NE(Problem("money", kOidMoney, "$").find("invalid money"), std::string::npos);
  EXPECT_NE(Problem("numeric", kOidNumeric, "1.2.3").find("invalid numeric '1.2.3'"),
            std::string::npos);
  EXPECT_EQ(ParseMoneyText("$12."), std::nullopt);
}

TEST(PgChangeDecodeText, DatesAndTimes) {
  EXPECT_EQ(Int("date", kOidDate, "2024-02-29"), DaysFromCivil(2024, 2, 29));
  EXPECT_EQ(Int("date", kOidDate, "1970-01-01"), 0);
  EXPECT_EQ(Int("date", kOidDate, "0044-03-15 BC"), DaysFromCivil(-43, 3, 15));
  EXPECT_EQ(Int("date", kOidDate, "4713-01-01 BC"), DaysFromCivil(-4712, 1, 1));
  EXPECT_EQ(Int("date", kOidDate, "5874897-12-31"), DaysFromCivil(5874897, 12, 31));
  EXPECT_EQ(Int("date", kOidDate, "infinity"), kDateInfinity);
  EXPECT_EQ(Int("date", kOidDate, "-infinity"), kDateMinusInfinity);
  // The reader's binary decoder gives the same cells.
  EXPECT_EQ(DateCellFromPg(INT32_MAX), kDateInfinity);
  EXPECT_EQ(DateCellFromPg(0), DaysFromCivil(2000, 1, 1));

  EXPECT_EQ(Int("time without time zone", kOidTime, "12:34:56.789"),
            (12 * 3600 + 34 * 60 + 56) * kMicrosPerSecond + 789000);
  EXPECT_EQ(Int("time without time zone", kOidTime, "23:59:59.999999"),
            kMicrosPerDay - 1);
  EXPECT_EQ(Int("time without time zone", kOidTime, "24:00:00"), kMicrosPerDay);
  EXPECT_EQ(Int("time(0) without time zone", kOidTime, "00:00:00"), 0);

  const int64_t leap = DaysFromCivil(2024, 2, 29) * kMicrosPerDay;
  EXPECT_EQ(Int("timestamp without time zone", kOidTimestamp, "2024-02-29 12:34:56.123456"),
            leap + (12 * 3600 + 34 * 60 + 56) * kMicrosPerSecond + 123456);
  EXPECT_EQ(Int("timestamp without time zone", kOidTimestamp, "2024-02-29 00:00:00"), leap);
  EXPECT_EQ(Int("timestamp without time zone", kOidTimestamp, "0001-01-01 00:00:00 BC"),
            DaysFromCivil(0, 1, 1) * kMicrosPerDay);
  EXPECT_EQ(Int("timestamp without time zone", kOidTimestamp, "infinity"), kDatetimeInfinity);
  EXPECT_EQ(Int("timestamp with time zone", kOidTimestamptz, "-infinity"),
            kDatetimeMinusInfinity);
  EXPECT_EQ(Int("timestamp with time zone", kOidTimestamptz, "2024-02-29 00:00:00.5+00"),
            leap + 500000);
  EXPECT_EQ(Int("timestamp with time zone", kOidTimestamptz, "0001-01-01 00:00:00+00 BC"),
            DaysFromCivil(0, 1, 1) * kMicrosPerDay);

  EXPECT_NE(Problem("date", kOidDate, "2023-02-29").find("invalid date '2023-02-29'"),
            std::string::npos);
  EXPECT_NE(Problem("date", kOidDate, "2024-01").find("invalid date"), std::string::npos);
  EXPECT_NE(Problem("time without time zone", kOidTime, "12:61:00").find("invalid time"),
            std::string::npos);
  EXPECT_NE(Problem("timestamp without time zone", kOidTimestamp, "2024-01-01 00:00:00+02")
                .find("invalid timestamp"),
            std::string::npos);
  EXPECT_NE(Problem("timestamp with time zone", kOidTimestamptz, "2024-01-01 00:00:00")
                .find("no zone"),
            std::string::npos);
  EXPECT_NE(Problem("timestamp without time zone", kOidTimestamp, "294277-01-01 00:00:00")
                .find("DATETIME range"),
            std::string::npos);
}

TEST(PgChangeDecodeText, BytesTextAndOthers) {
  EXPECT_EQ(Bytes("bytea", kOidBytea, "\\x00ff7F"), std::string("\x00\xff\x7f", 3));
  EXPECT_EQ(Bytes("bytea", kOidBytea, "\\x"), "");
  EXPECT_NE(Problem("bytea", kOidBytea, "\\x0").find("invalid bytea"), std::string::npos);
  EXPECT_NE(Problem("bytea", kOidBytea, "\\xzz").find("invalid bytea"), std::string::npos);
  EXPECT_NE(Problem("bytea", kOidBytea, "abc").find("invalid bytea"), std::string::npos);
  EXPECT_EQ(Bytes("text", kOidText, "tab\there"), "tab\there");
  EXPECT_EQ(Bytes("character varying(10)", kOidVarchar, ""), "");
  EXPECT_EQ(Bytes("jsonb", kOidJsonb, "{\"a\": 1}"), "{\"a\": 1}");
  EXPECT_EQ(Bytes("uuid", kOidUuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_EQ(Bytes("interval", kOidInterval, "1 day 02:00:00"), "1 day 02:00:00");
  EXPECT_EQ(Bytes("integer[]", 1007, "{1,2,3}"), "{1,2,3}");
  // inet as the reader's inet::text spells it: always with the netmask.
  EXPECT_EQ(Bytes("inet", 869, "10.0.0.1"), "10.0.0.1/32");
  EXPECT_EQ(Bytes("inet", 869, "::1"), "::1/128");
  EXPECT_EQ(Bytes("inet", 869, "10.0.0.1/8"), "10.0.0.1/8");
  // A long value is quoted shortened in the message.
  const std::string long_bad(100, 'x');
  const std::string p = Problem("integer", kOidInt4, long_bad);
  EXPECT_NE(p.find("(100 bytes)"), std::string::npos) << p;
}

TEST(PgChangeDecode, BinaryDecodersOnlyWhereTheReaderHasThem) {
  EXPECT_TRUE(ChangeColumnFor(Col("c", "integer", kOidInt4)).binary_ok);
  EXPECT_TRUE(ChangeColumnFor(Col("c", "numeric", kOidNumeric)).binary_ok);
  EXPECT_TRUE(ChangeColumnFor(Col("c", "jsonb", kOidJsonb)).binary_ok);
  EXPECT_FALSE(ChangeColumnFor(Col("c", "money", kOidMoney)).binary_ok);
  EXPECT_TRUE(ChangeColumnFor(Col("c", "money", kOidMoney)).money);
  EXPECT_FALSE(ChangeColumnFor(Col("c", "interval", kOidInterval)).binary_ok);
  EXPECT_FALSE(ChangeColumnFor(Col("c", "integer[]", 1007, 'b', 'A')).binary_ok);
}

// A relation (id int4 key, name text, d date) and records through the encoder.
class PgChangeEncoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TableDef t;
    t.engine = Engine::kPostgres;
    t.schema = "s";
    t.name = "t";
    t.columns = {Col("id", "integer", kOidInt4), Col("name", "text", kOidText),
                 Col("d", "date", kOidDate)};
    t.primary_key = {"id"};
    enc_ = TableChangeEncoder(7, t);
    rel_.relation_id = 16400;
    rel_.schema = "s";
    rel_.name = "t";
    rel_.columns = {{true, "id", kOidInt4, -1}, {false, "name", kOidText, -1},
                    {false, "d", kOidDate, -1}};
  }
  static pgoutput::TupleValue T(std::string_view s) {
    return {pgoutput::TupleValue::Kind::kText, s};
  }
  static pgoutput::TupleValue B(std::string_view s) {
    return {pgoutput::TupleValue::Kind::kBinary, s};
  }
  static pgoutput::TupleValue N() { return {pgoutput::TupleValue::Kind::kNull, {}}; }
  static pgoutput::TupleValue U() { return {pgoutput::TupleValue::Kind::kUnchangedToast, {}}; }

  TableChangeEncoder enc_;
  pgoutput::Relation rel_;
};

TEST_F(PgChangeEncoderTest, InsertTextAndBinaryAgree) {
  EXPECT_TRUE(enc_.Matches(rel_, {kOidInt4, kOidText, kOidDate}));
  EXPECT_FALSE(enc_.Matches(rel_, {kOidInt8, kOidText, kOidDate}));
  enc_.SetRelation(rel_);
  std::string records;
  pgoutput::Insert ins;
  ins.relation_id = rel_.relation_id;
  ins.new_tuple = {T("42"), T("hello"), T("2000-01-02")};
  enc_.EncodeInsert(ins, 0x100, &records);
  std::string be_id, be_date;
  PutU32(42, &be_id);
  PutU32(1, &be_date);  // 2000-01-02: one day after PostgreSQL's epoch
  ins.new_tuple = {B(be_id), B("hello"), B(be_date)};
  enc_.EncodeInsert(ins, 0x101, &records);

  cdc::ChangeReader reader(records);
  cdc::ChangeView v;
  std::vector<std::string> rows;
  while (reader.Next(&v)) {
    EXPECT_EQ(v.op, cdc::ChangeOp::kInsert);
    EXPECT_EQ(v.table, 7u);
    ASSERT_EQ(v.rows->columns(), 3);
    std::string row;
    for (int c = 0; c < 3; ++c) {
      AppendCanonical(*v.rows, v.new_row, c, enc_.def().columns[c].type, &row);
      row += "|";
    }
    rows.push_back(row);
  }
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], "42|hello|2000-01-02|");
  EXPECT_EQ(rows[1], rows[0]);
}

TEST_F(PgChangeEncoderTest, UpdateDeleteTruncateAndUnchanged) {
  enc_.SetRelation(rel_);
  std::string records;
  pgoutput::Update up;
  up.relation_id = rel_.relation_id;
  up.old_kind = 'K';
  up.old_tuple = {T("1"), N(), N()};
  up.new_tuple = {T("2"), U(), N()};
  enc_.EncodeUpdate(up, 1, &records);
  pgoutput::Delete del;
  del.relation_id = rel_.relation_id;
  del.old_kind = 'O';
  del.old_tuple = {T("2"), T("x"), N()};
  enc_.EncodeDelete(del, 2, &records);
  enc_.EncodeTruncate(&records);

  cdc::ChangeReader reader(records);
  cdc::ChangeView v;
  ASSERT_TRUE(reader.Next(&v));
  EXPECT_EQ(v.op, cdc::ChangeOp::kUpdate);
  EXPECT_EQ(v.old_kind, cdc::OldImage::kKey);
  EXPECT_EQ(v.rows->at(v.old_row, 0).i, 1);
  EXPECT_EQ(v.rows->at(v.new_row, 0).i, 2);
  EXPECT_TRUE(v.rows->at(v.new_row, 1).unchanged);
  EXPECT_TRUE(v.rows->at(v.new_row, 2).null);
  EXPECT_FALSE(v.rows->at(v.new_row, 2).unchanged);
  ASSERT_TRUE(reader.Next(&v));
  EXPECT_EQ(v.op, cdc::ChangeOp::kDelete);
  EXPECT_EQ(v.old_kind, cdc::OldImage::kFull);
  EXPECT_EQ(v.rows->Bytes(v.old_row, 1), "x");
  ASSERT_TRUE(reader.Next(&v));
  EXPECT_EQ(v.op, cdc::ChangeOp::kTruncate);
  EXPECT_EQ(v.table, 7u);
  EXPECT_FALSE(reader.Next(&v));
}

TEST_F(PgChangeEncoderTest, MissingColumnsAreNullAndBadValuesNamePosition) {
  // The relation lost column d (dropped on the source, TableDef not yet re-read).
  pgoutput::Relation rel = rel_;
  rel.columns.pop_back();
  EXPECT_FALSE(enc_.Matches(rel, {kOidInt4, kOidText}));
  enc_.SetRelation(rel);
  std::string records;
  pgoutput::Insert ins;
  ins.relation_id = rel.relation_id;
  ins.new_tuple = {T("5"), T("n")};
  enc_.EncodeInsert(ins, 1, &records);
  cdc::ChangeReader reader(records);
  cdc::ChangeView v;
  ASSERT_TRUE(reader.Next(&v));
  EXPECT_TRUE(v.rows->at(v.new_row, 2).null);

  ins.new_tuple = {T("five"), T("n")};
  try {
    enc_.EncodeInsert(ins, 0x1600000010ULL, &records);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    const std::string m = e.what();
    EXPECT_NE(m.find("column id of s.t at LSN 16/10"), std::string::npos) << m;
    EXPECT_NE(m.find("invalid integer 'five'"), std::string::npos) << m;
  }
  ins.new_tuple = {T("5")};
  try {
    enc_.EncodeInsert(ins, 0x20, &records);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has 1 columns, the relation message announced 2"),
              std::string::npos)
        << e.what();
  }
  // A binary int4 of the wrong size.
  enc_.SetRelation(rel_);
  ins.new_tuple = {B("abc"), N(), N()};
  try {
    enc_.EncodeInsert(ins, 0x30, &records);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("column id of s.t"), std::string::npos) << m;
    EXPECT_NE(m.find("LSN 0/30"), std::string::npos) << m;
  }
}

TEST(PgCdcPrerequisites, EveryProblemWithItsFix) {
  PgCdcFacts f;
  f.superuser = true;
  EXPECT_EQ(DescribeCdcProblems(f), "");

  f.wal_level = "replica";
  f.max_replication_slots = 2;
  f.used_replication_slots = 2;
  f.max_wal_senders = 0;
  f.superuser = false;
  f.replication = false;
  f.user = "app";
  f.creates_publication = true;
  f.not_owned_tables = {"public.orders"};
  f.tables_without_identity = {"s.nokey", "\"S\".\"Odd\""};
  const std::string m = DescribeCdcProblems(f);
  EXPECT_NE(m.find("wal_level is 'replica': set wal_level = logical in postgresql.conf and "
                   "restart the server"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("max_replication_slots is 2 and all 2 slots are in use"), std::string::npos);
  EXPECT_NE(m.find("max_wal_senders is 0"), std::string::npos);
  EXPECT_NE(m.find("ALTER ROLE app REPLICATION"), std::string::npos);
  EXPECT_NE(m.find("does not own public.orders"), std::string::npos);
  EXPECT_NE(m.find("ALTER TABLE s.nokey REPLICA IDENTITY FULL"), std::string::npos);
  EXPECT_NE(m.find("ALTER TABLE \"S\".\"Odd\" REPLICA IDENTITY FULL"), std::string::npos);
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 6) << m;

  // An existing slot needs no free one.
  PgCdcFacts g;
  g.replication = true;
  g.max_replication_slots = 1;
  g.used_replication_slots = 1;
  g.slot_exists = true;
  EXPECT_EQ(DescribeCdcProblems(g), "");
}

TEST(PgCdcNames, OwnerMarkRoundTrips) {
  cdc::CaptureOwner o{"shop", "0a1b2c3d", "ferry_shop_0a1b2c3d", "ferry_shop_0a1b2c3d", "db1",
                      "/var/lib/ferry"};
  const std::optional<cdc::CaptureOwner> back = cdc::CaptureOwner::Parse(o.ToText());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->task, "shop");
  EXPECT_EQ(back->task_id, "0a1b2c3d");
  EXPECT_EQ(back->slot, "ferry_shop_0a1b2c3d");
  EXPECT_EQ(back->data_dir, "/var/lib/ferry");
  EXPECT_EQ(back->Describe(), "task 'shop' (id 0a1b2c3d, data directory /var/lib/ferry on host db1)");
  EXPECT_FALSE(cdc::CaptureOwner::Parse("a comment someone wrote"));
  EXPECT_FALSE(cdc::CaptureOwner::Parse("{\"task\": 1}"));
  EXPECT_FALSE(cdc::CaptureOwner::Parse(""));
}

TEST(PgCdcNames, DefaultsAndQuoting) {
  // Version-1 names (no task id) are what older tasks recorded.
  EXPECT_EQ(cdc::CaptureObjectName("My-Task.1", ""), "ferry_my_task_1");
  EXPECT_EQ(cdc::CaptureObjectName(std::string(100, 'a'), "").size(), 63u);
  // With the id: unique per task even where names fold together or are cut.
  EXPECT_EQ(cdc::CaptureObjectName("MyTask", "0a1b2c3d"), "ferry_mytask_0a1b2c3d");
  EXPECT_NE(cdc::CaptureObjectName("MyTask", "0a1b2c3d"),
            cdc::CaptureObjectName("mytask", "9f8e7d6c"));
  const std::string long_name = cdc::CaptureObjectName(std::string(100, 'a'), "0a1b2c3d");
  EXPECT_EQ(long_name.size(), 63u);
  EXPECT_EQ(long_name.substr(54), "_0a1b2c3d");
  // The checkpoint's key: the id keeps same-named tasks apart, within 128 characters.
  EXPECT_EQ(cdc::CheckpointKey("ferry", "0a1b2c3d"), "ferry#0a1b2c3d");
  EXPECT_EQ(cdc::CheckpointKey("ferry", ""), "ferry");
  const std::string long_key = cdc::CheckpointKey(std::string(255, 'a'), "0a1b2c3d");
  EXPECT_EQ(long_key.size(), 128u);
  EXPECT_EQ(long_key.substr(119), "#0a1b2c3d");
  const std::string id = cdc::NewTaskId();
  EXPECT_EQ(id.size(), 8u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(cdc::NewTaskId(), cdc::NewTaskId());
  EXPECT_EQ(SqlName("public", "t1"), "public.t1");
  EXPECT_EQ(SqlName("Public", "a b"), "\"Public\".\"a b\"");
}

}  // namespace
}  // namespace ferry::postgres
