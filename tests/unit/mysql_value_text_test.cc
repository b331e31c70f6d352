// The MySQL connector's pure conversions: native type parsing and mapping, text -> cell,
// LOAD DATA escaping and the value checks of the writer.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "connectors/connector.h"
#include "connectors/mysql/my_types.h"
#include "connectors/mysql/my_value_text.h"
#include "types/value_codec.h"

namespace ferry::mysql {
namespace {

ReadColumn Col(DmsKind kind, MyBase base = MyBase::kUnknown) { return ReadColumn{kind, base}; }

TEST(MysqlTypesTest, ParsesColumnTypes) {
  auto t = ParseNativeType("int(10) unsigned zerofill");
  EXPECT_EQ(t.base, MyBase::kInt);
  EXPECT_TRUE(t.is_unsigned);
  t = ParseNativeType("decimal(65,30)");
  EXPECT_EQ(t.base, MyBase::kDecimal);
  EXPECT_EQ(t.length, 65);
  EXPECT_EQ(t.scale, 30);
  t = ParseNativeType("enum('a','it''s','x,)y')");
  EXPECT_EQ(t.base, MyBase::kEnum);
  EXPECT_EQ(t.members, (std::vector<std::string>{"a", "it's", "x,)y"}));
  EXPECT_EQ(ParseNativeType("datetime(6)").length, 6);
  EXPECT_EQ(ParseNativeType("point").base, MyBase::kGeometry);
  EXPECT_EQ(ParseNativeType("double precision").base, MyBase::kDouble);
  EXPECT_EQ(ParseNativeType("no_such_type").base, MyBase::kUnknown);
}

TEST(MysqlTypesTest, ReadMapping) {
  auto d = [](const char* native) {
    return DescribeDmsType(DmsTypeForNative(ParseNativeType(native)));
  };
  EXPECT_EQ(d("tinyint(4)"), "INT1");
  EXPECT_EQ(d("tinyint(1)"), "INT1");
  EXPECT_EQ(d("tinyint(3) unsigned"), "UINT1");
  EXPECT_EQ(d("smallint(6)"), "INT2");
  EXPECT_EQ(d("smallint(5) unsigned"), "UINT2");
  EXPECT_EQ(d("mediumint(9)"), "INT4");
  EXPECT_EQ(d("mediumint(8) unsigned"), "UINT4");
  EXPECT_EQ(d("int(11)"), "INT4");
  EXPECT_EQ(d("int(10) unsigned"), "UINT4");
  EXPECT_EQ(d("bigint(20)"), "INT8");
  EXPECT_EQ(d("bigint(20) unsigned"), "UINT8");
  EXPECT_EQ(d("decimal(38,10)"), "NUMERIC(38,10)");
  EXPECT_EQ(d("float"), "REAL4");
  EXPECT_EQ(d("double"), "REAL8");
  EXPECT_EQ(d("bit(1)"), "BOOLEAN");
  EXPECT_EQ(d("bit(10)"), "BYTES(2)");
  EXPECT_EQ(d("bit(64)"), "BYTES(8)");
  EXPECT_EQ(d("binary(16)"), "BYTES(16)");
  EXPECT_EQ(d("varbinary(300)"), "BYTES(300)");
  EXPECT_EQ(d("tinyblob"), "BLOB");
  EXPECT_EQ(d("longblob"), "BLOB");
  EXPECT_EQ(d("char(10)"), "WSTRING(10)");
  EXPECT_EQ(d("varchar(300)"), "WSTRING(300)");
  EXPECT_EQ(d("tinytext"), "WSTRING(255)");
  EXPECT_EQ(d("text"), "NCLOB");
  EXPECT_EQ(d("mediumtext"), "NCLOB");
  EXPECT_EQ(d("longtext"), "NCLOB");
  EXPECT_EQ(d("date"), "DATE");
  EXPECT_EQ(d("time(3)"), "TIME(3)");
  EXPECT_EQ(d("datetime(6)"), "DATETIME(6)");
  EXPECT_EQ(d("timestamp(6)"), "DATETIME(6) UTC");
  EXPECT_EQ(d("year(4)"), "INT2");
  EXPECT_EQ(d("enum('a','bcd')"), "WSTRING(3)");
  EXPECT_EQ(d("set('a','bcd')"), "WSTRING(5)");
  EXPECT_EQ(d("json"), "CLOB");
  EXPECT_EQ(d("geometry"), "BLOB");
  EXPECT_EQ(d("inet6"), "STRING(39)");
  EXPECT_EQ(d("uuid"), "STRING(36)");
}

ColumnDef Source(DmsKind kind, int64_t length = 0, int precision = 0, int scale = 0) {
  ColumnDef c;
  c.name = "c";
  c.type = DmsType{kind, length, precision, scale, false};
  return c;
}

TEST(MysqlTypesTest, MapColumnForEveryKind) {
  auto m = [](ColumnDef c, bool in_key = false) {
    return MapColumnToMysql(c, Engine::kPostgres, in_key).native_type;
  };
  EXPECT_EQ(m(Source(DmsKind::kBoolean)), "tinyint(1)");
  EXPECT_EQ(m(Source(DmsKind::kBytes, 16)), "varbinary(16)");
  EXPECT_EQ(m(Source(DmsKind::kBytes, 70000)), "longblob");
  EXPECT_EQ(m(Source(DmsKind::kBytes, 5000), true), "varbinary(3072)");
  EXPECT_EQ(m(Source(DmsKind::kDate)), "date");
  EXPECT_EQ(m(Source(DmsKind::kTime, 0, 3)), "time(3)");
  EXPECT_EQ(m(Source(DmsKind::kTime)), "time");
  EXPECT_EQ(m(Source(DmsKind::kDatetime, 0, 6)), "datetime(6)");
  EXPECT_EQ(m(Source(DmsKind::kDatetime, 0, 9)), "datetime(6)");
  EXPECT_EQ(m(Source(DmsKind::kInt1)), "tinyint");
  EXPECT_EQ(m(Source(DmsKind::kInt2)), "smallint");
  EXPECT_EQ(m(Source(DmsKind::kInt4)), "int");
  EXPECT_EQ(m(Source(DmsKind::kInt8)), "bigint");
  EXPECT_EQ(m(Source(DmsKind::kUint1)), "tinyint unsigned");
  EXPECT_EQ(m(Source(DmsKind::kUint2)), "smallint unsigned");
  EXPECT_EQ(m(Source(DmsKind::kUint4)), "int unsigned");
  EXPECT_EQ(m(Source(DmsKind::kUint8)), "bigint unsigned");
  EXPECT_EQ(m(Source(DmsKind::kNumeric, 0, 38, 10)), "decimal(38,10)");
  EXPECT_EQ(m(Source(DmsKind::kNumeric)), "decimal(65,30)");
  EXPECT_EQ(m(Source(DmsKind::kNumeric, 0, 70, 2)), "decimal(65,30)");
  EXPECT_EQ(m(Source(DmsKind::kNumeric, 0, 10, -2)), "decimal(65,30)");
  EXPECT_EQ(m(Source(DmsKind::kReal4)), "float");
  EXPECT_EQ(m(Source(DmsKind::kReal8)), "double");
  EXPECT_EQ(m(Source(DmsKind::kString, 20)), "varchar(20)");
  EXPECT_EQ(m(Source(DmsKind::kWstring, 16383)), "varchar(16383)");
  EXPECT_EQ(m(Source(DmsKind::kWstring, 16384)), "longtext");
  EXPECT_EQ(m(Source(DmsKind::kWstring, 2000), true), "varchar(768)");
  EXPECT_EQ(m(Source(DmsKind::kWstring)), "longtext");
  EXPECT_EQ(m(Source(DmsKind::kBlob)), "longblob");
  EXPECT_EQ(m(Source(DmsKind::kBlob), true), "varbinary(3072)");
  EXPECT_EQ(m(Source(DmsKind::kClob)), "longtext");
  EXPECT_EQ(m(Source(DmsKind::kNclob)), "longtext");
  EXPECT_EQ(m(Source(DmsKind::kNclob), true), "varchar(768)");
  ColumnDef json = Source(DmsKind::kNclob);
  json.native_type = "jsonb";
  EXPECT_EQ(m(json), "json");
  // Same engine: the native type is kept.
  ColumnDef e = Source(DmsKind::kWstring, 1);
  e.native_type = "enum('a','b')";
  EXPECT_EQ(MapColumnToMysql(e, Engine::kMysql, false).native_type, "enum('a','b')");
  ColumnDef lt = Source(DmsKind::kNclob);
  lt.native_type = "longtext";
  EXPECT_EQ(MapColumnToMysql(lt, Engine::kMysql, true).native_type, "varchar(768)");
}

TEST(MysqlTypesTest, CreateTableSql) {
  TableDef t;
  t.schema = "d";
  t.name = "t`x";
  ColumnDef a;
  a.name = "id";
  a.native_type = "int";
  a.nullable = false;
  ColumnDef b;
  b.name = "k";
  b.native_type = "varchar(10)";
  t.columns = {a, b};
  t.primary_key = {"id"};
  t.unique_indexes = {IndexDef{"uk", {"k"}}};
  auto sql = CreateTableStatements(t);
  ASSERT_EQ(sql.size(), 2u);
  EXPECT_EQ(sql[0],
            "CREATE TABLE `d`.`t``x` (`id` int NOT NULL, `k` varchar(10), PRIMARY KEY (`id`)) "
            "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin");
  EXPECT_EQ(sql[1], "CREATE UNIQUE INDEX `uk` ON `d`.`t``x` (`k`)");
  // Too many wide varchars for one row: the widest non-key ones move off-row.
  TableDef w = t;
  w.columns.clear();
  for (int i = 0; i < 6; ++i) {
    ColumnDef c;
    c.name = "c" + std::to_string(i);
    c.native_type = "varchar(5000)";
    w.columns.push_back(c);
  }
  w.primary_key.clear();
  w.unique_indexes.clear();
  auto wide = CreateTableStatements(w);
  EXPECT_NE(wide[0].find("mediumtext"), std::string::npos) << wide[0];
}

TEST(MysqlValueTextTest, ReadsEveryKind) {
  Batch b(1);
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kInt8), "-9223372036854775808", &b), ReadStatus::kOk);
  EXPECT_EQ(b.at(0, 0).i, INT64_MIN);
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kUint8), "18446744073709551615", &b), ReadStatus::kOk);
  EXPECT_EQ(b.at(1, 0).u, 18446744073709551615ULL);
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kUint8), "18446744073709551616", &b), ReadStatus::kBad);
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kTime), "-838:59:59.000000", &b), ReadStatus::kOk);
  EXPECT_EQ(b.at(2, 0).i, -(838LL * 3600 + 59 * 60 + 59) * 1000000);
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kBoolean, MyBase::kBit), std::string("\x01", 1), &b),
            ReadStatus::kOk);
  EXPECT_EQ(b.at(3, 0).i, 1);
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kBoolean, MyBase::kBit), std::string("\0", 1), &b),
            ReadStatus::kOk);
  EXPECT_EQ(b.at(4, 0).i, 0);
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kBytes, MyBase::kBit), std::string("\x03\xff", 2), &b),
            ReadStatus::kOk);
  EXPECT_EQ(b.Bytes(5, 0), std::string("\x03\xff", 2));
  const std::string d65 = "-12345678901234567890123456789012345.123456789012345678901234567890";
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kNumeric), d65, &b), ReadStatus::kOk);
  EXPECT_EQ(b.Bytes(6, 0), d65.substr(0, d65.size() - 1));  // trailing zero dropped
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kNumeric), "-0.000", &b), ReadStatus::kOk);
  EXPECT_EQ(b.Bytes(7, 0), "0");
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kReal4), "0.10000000149011612", &b), ReadStatus::kOk);
  EXPECT_EQ(b.at(8, 0).d, static_cast<double>(0.1f));
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kReal8), "-1.7976931348623157e308", &b), ReadStatus::kOk);
  EXPECT_EQ(b.at(9, 0).d, -1.7976931348623157e308);
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kDatetime), "2038-01-19 03:14:07.999999", &b),
            ReadStatus::kOk);
  EXPECT_EQ(FormatDatetime(b.at(10, 0).i), "2038-01-19 03:14:07.999999");
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kDate), "1000-01-01", &b), ReadStatus::kOk);
  EXPECT_EQ(FormatDate(b.at(11, 0).i), "1000-01-01");
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kNclob), "😀\t\\N", &b), ReadStatus::kOk);
  EXPECT_EQ(b.Bytes(12, 0), "😀\t\\N");
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kInt2), "2155", &b), ReadStatus::kOk);
  EXPECT_EQ(b.rows(), 14u);
}

TEST(MysqlValueTextTest, ZeroDatesAreReportedNotAppended) {
  Batch b(1);
  for (const char* z : {"0000-00-00", "2024-00-10", "2024-05-00"}) {
    EXPECT_EQ(AppendFieldValue(Col(DmsKind::kDate), z, &b), ReadStatus::kZeroDate) << z;
  }
  for (const char* z :
       {"0000-00-00 00:00:00", "0000-00-00 00:00:00.000000", "2024-05-00 10:00:00"}) {
    EXPECT_EQ(AppendFieldValue(Col(DmsKind::kDatetime), z, &b), ReadStatus::kZeroDate) << z;
  }
  EXPECT_EQ(AppendFieldValue(Col(DmsKind::kDate), "2023-02-29", &b), ReadStatus::kBad);
  EXPECT_EQ(b.rows(), 0u);
}

// Reads one LOAD DATA field back the way the server does with ESCAPED BY '\\'.
std::string Unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] != '\\') {
      out.push_back(field[i]);
      continue;
    }
    char c = field[++i];
    switch (c) {
      case '0':
        out.push_back('\0');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'Z':
        out.push_back('\x1a');
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

TEST(MysqlValueTextTest, LoadDataEscaping) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::string out;
  AppendLoadDataEscaped(all, &out);
  // No raw separator survives, and the server's unescaping gives the bytes back.
  EXPECT_EQ(out.find('\t'), std::string::npos);
  EXPECT_EQ(out.find('\n'), std::string::npos);
  EXPECT_EQ(out.find('\0'), std::string::npos);
  EXPECT_EQ(Unescape(out), all);
  out.clear();
  AppendLoadDataEscaped("\\N", &out);
  EXPECT_EQ(out, "\\\\N");  // the two-character string, not NULL
  out.clear();
  AppendLoadDataNull(&out);
  EXPECT_EQ(out, "\\N");
  out.clear();
  AppendLoadDataEscaped("a\tb\nc\\", &out);
  EXPECT_EQ(out, "a\\tb\\nc\\\\");
  out.clear();
  AppendLoadDataEscaped("", &out);
  EXPECT_EQ(out, "");
}

// Encodes one value of `kind` into a column of native type `target`.
std::string Encode(DmsKind kind, const std::string& target, void (*fill)(Batch&),
                   std::string* error = nullptr) {
  WriteColumn w = MakeWriteColumn("c", DmsType{kind, 0, 6, 0, false}, target);
  Batch b(1);
  fill(b);
  std::string scratch, out;
  try {
    AppendLoadField(w, b, 0, 0, &scratch, &out);
  } catch (const RowError& e) {
    EXPECT_EQ(e.column, 0);
    EXPECT_EQ(e.batch_row, 0);
    if (error) *error = e.what();
    return "<error>";
  }
  return out;
}

TEST(MysqlValueTextTest, WriterEncodesAndChecks) {
  std::string err;
  EXPECT_EQ(Encode(DmsKind::kUint8, "bigint unsigned",
                   [](Batch& b) { b.AppendUint(18446744073709551615ULL); }),
            "18446744073709551615");
  EXPECT_EQ(Encode(
                DmsKind::kUint8, "bigint", [](Batch& b) { b.AppendUint(1ULL << 63); }, &err),
            "<error>");
  EXPECT_NE(err.find("out of range -9223372036854775808..9223372036854775807"), std::string::npos)
      << err;
  EXPECT_NE(err.find("`c`"), std::string::npos) << err;
  EXPECT_NE(err.find("9223372036854775808"), std::string::npos) << err;
  EXPECT_EQ(Encode(
                DmsKind::kInt8, "tinyint", [](Batch& b) { b.AppendInt(-129); }, &err),
            "<error>");
  EXPECT_EQ(Encode(
                DmsKind::kInt8, "year", [](Batch& b) { b.AppendInt(1900); }, &err),
            "<error>");
  EXPECT_EQ(Encode(DmsKind::kInt8, "year", [](Batch& b) { b.AppendInt(2024); }), "2024");
  EXPECT_EQ(Encode(DmsKind::kBoolean, "bit(1)", [](Batch& b) { b.AppendInt(1); }), "1");
  EXPECT_EQ(Encode(DmsKind::kBytes, "bit(10)",
                   [](Batch& b) { b.AppendBytes(std::string("\x03\xff", 2)); }),
            "1023");
  EXPECT_EQ(Encode(DmsKind::kBytes, "bit(9)",
                   [](Batch& b) { b.AppendBytes(std::string("\x03\xff", 2)); }),
            "<error>");
  const std::string d65 = "12345678901234567890123456789012345.123456789012345678901234567891";
  EXPECT_EQ(
      Encode(DmsKind::kNumeric, "decimal(65,30)",
             [](Batch& b) {
               b.AppendBytes("12345678901234567890123456789012345.123456789012345678901234567891");
             }),
      d65);
  EXPECT_EQ(Encode(
                DmsKind::kNumeric, "decimal(65,30)",
                [](Batch& b) { b.AppendBytes("0.0000000000000000000000000000001"); }, &err),
            "<error>");
  EXPECT_NE(err.find("never rounded"), std::string::npos) << err;
  EXPECT_EQ(Encode(DmsKind::kNumeric, "decimal(10,2)", [](Batch& b) { b.AppendBytes("Infinity"); }),
            "<error>");
  EXPECT_EQ(Encode(DmsKind::kReal8, "double", [](Batch& b) { b.AppendDouble(std::nan("")); }),
            "<error>");
  EXPECT_EQ(
      Encode(DmsKind::kReal4, "float", [](Batch& b) { b.AppendDouble(static_cast<double>(0.1f)); }),
      "0.10000000149011612");
  EXPECT_EQ(Encode(DmsKind::kDate, "date", [](Batch& b) { b.AppendInt(*ParseDate("0001-01-01")); }),
            "0001-01-01");
  EXPECT_EQ(
      Encode(DmsKind::kDate, "date", [](Batch& b) { b.AppendInt(*ParseDate("0001-12-31 BC")); }),
      "<error>");
  EXPECT_EQ(Encode(DmsKind::kDatetime, "datetime(6)",
                   [](Batch& b) { b.AppendInt(*ParseDatetime("10000-01-01 00:00:00")); }),
            "<error>");
  EXPECT_EQ(Encode(DmsKind::kTime, "time(6)", [](Batch& b) { b.AppendInt(-3020399000000); }),
            "-838:59:59");
  EXPECT_EQ(Encode(DmsKind::kTime, "time(6)", [](Batch& b) { b.AppendInt(-3020400000000); }),
            "<error>");
  EXPECT_EQ(Encode(DmsKind::kTime, "time", [](Batch& b) { b.AppendInt(1); }), "<error>");
  EXPECT_EQ(Encode(DmsKind::kWstring, "varchar(2)", [](Batch& b) { b.AppendBytes("😀😀"); }), "😀😀");
  EXPECT_EQ(Encode(
                DmsKind::kWstring, "varchar(2)", [](Batch& b) { b.AppendBytes("abc"); }, &err),
            "<error>");
  EXPECT_NE(err.find("3 characters exceed the limit of 2"), std::string::npos) << err;
  EXPECT_EQ(Encode(
                DmsKind::kNclob, "longtext", [](Batch& b) { b.AppendBytes("\xe2\x82"); }, &err),
            "<error>");
  EXPECT_NE(err.find("UTF-8"), std::string::npos) << err;
  EXPECT_EQ(Encode(DmsKind::kWstring, "set('x','y')", [](Batch& b) { b.AppendBytes("x,y"); }),
            "x,y");
  EXPECT_EQ(Encode(DmsKind::kWstring, "set('x','y')", [](Batch& b) { b.AppendBytes("x,z"); }),
            "<error>");
  EXPECT_EQ(Encode(DmsKind::kBlob, "varbinary(2)", [](Batch& b) { b.AppendBytes("abc"); }),
            "<error>");
  EXPECT_EQ(
      Encode(DmsKind::kBlob, "longblob", [](Batch& b) { b.AppendBytes(std::string("\0\\N", 3)); }),
      "\\0\\\\N");
  EXPECT_EQ(Encode(DmsKind::kInt4, "varchar(5)", [](Batch& b) { b.AppendNull(); }), "\\N");
}

}  // namespace
}  // namespace ferry::mysql
