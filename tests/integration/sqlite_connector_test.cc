// The SQLite connector against real database files in a fresh temporary directory.
#include "connectors/sqlite/sqlite_connector.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "connectors/connector.h"
#include "support/collect_sink.h"
#include "test_env.h"
#include "types/value_codec.h"

namespace ferry::sqlite {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry_sqlite_XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::unique_ptr<SqlConnector> OpenFile(const std::string& path) {
  EndpointUri uri;
  uri.engine = Engine::kSqlite;
  uri.scheme = "sqlite";
  uri.database = path;
  return OpenSqliteConnector(uri);
}

using ::ferry::testing::CollectSink;

// Every row as canonical text per column (nullopt for NULL), in scan order.
using Row = std::vector<std::optional<std::string>>;
std::vector<Row> Canonical(const CollectSink& sink, const TableDef& table) {
  return testing::CanonicalRows(sink.batches, table);
}

const ColumnDef& ColumnNamed(const TableDef& t, const std::string& name) {
  int i = t.ColumnIndex(name);
  if (i < 0) throw std::runtime_error("no column " + name);
  return t.columns[i];
}

constexpr int64_t kBig = int64_t{17} * 1024 * 1024;

// The all-types table: edge values in rows 1..4, a 17 MB text and blob in row 5.
void CreateAllTypes(SqlSession& s) {
  s.Execute(R"sql(
    CREATE TABLE all_types (
      id INTEGER PRIMARY KEY,
      b BOOLEAN, i1 TINYINT, i2 SMALLINT, i4 INT, i8 BIGINT NOT NULL,
      u1 TINYINT UNSIGNED, u2 SMALLINT UNSIGNED, u4 INT UNSIGNED, u8 BIGINT UNSIGNED,
      u8max DECIMAL_TEXT(20,0), n NUMERIC(10,2), dec40 DECIMAL_TEXT(40,10), dn NUMERIC,
      r4 FLOAT4, r8 DOUBLE, s NVARCHAR(20), t TEXT, bl BLOB, d DATE, tm TIME, ts DATETIME,
      j JSON, anything,
      UNIQUE (s));
    CREATE UNIQUE INDEX all_types_i4_i2 ON all_types (i4, i2);
    CREATE INDEX all_types_plain ON all_types (t);
    INSERT INTO all_types VALUES
      (1, 1, 127, 32767, 2147483647, 9223372036854775807, 255, 65535, 4294967295,
       9223372036854775807, '18446744073709551615', 12345678.99,
       '123456789012345678901234567890.1234567890', '0.000000000000000000001',
       0.5, 1.7976931348623157e308, 'héllo 😀', '', x'', '0001-01-01', '838:59:59.999999',
       '9999-12-31 23:59:59.999999', '{"a":[1,2.0]}', 42),
      (2, 0, -128, -32768, -2147483648, -9223372036854775808, 0, 0, 0, 0, '0', -0.01,
       '-9999999999999999999999999999.9999999999', '-1e-5',
       -3.4028234663852886e38, 9e999, '', char(1,9,10,13,27,127), x'00ff', '9999-12-31',
       '-01:00:00', '1970-01-01 00:00:00', '1.0', 2.5),
      (3, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       -9e999, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (4, 'true', 0, 0, 0, 1, 1, 1, 1, 1, '1', 0.1, '0.1', 'NaN', 1, 0.1, 'x', 'Ω', NULL,
       '2024-02-29', '00:00:00', '2024-02-29 12:34:56.000001', '"text"', x'c3a9');
  )sql");
  std::string hex;  // all 256 byte values
  for (int i = 0; i < 256; ++i) {
    hex += "0123456789ABCDEF"[i >> 4];
    hex += "0123456789ABCDEF"[i & 15];
  }
  s.Execute("UPDATE all_types SET bl = x'" + hex + "' WHERE id = 4");
  s.Execute(
      "INSERT INTO all_types (id, i8, t, bl) VALUES (5, 5, "
      "'€' || printf('%.*c', " + std::to_string(kBig) + ", 'x'), randomblob(" +
      std::to_string(kBig) + "))");
}

TEST(SqliteConnectorTest, CatalogScanAndRoundTrip) {
  TempDir dir;
  const std::string src = dir.File("source.db");
  auto source = OpenFile(src);
  {
    auto session = source->OpenSession();
    CreateAllTypes(*session);
  }
  source->TestConnection();

  // Catalog.
  auto catalog = source->OpenCatalog();
  EXPECT_EQ(catalog->ServerVersion().rfind("SQLite 3.", 0), 0u);
  auto tables = catalog->ListTables("");
  ASSERT_EQ(tables.size(), 1u);
  TableDef t = tables[0];
  EXPECT_EQ(t.schema, "main");
  EXPECT_EQ(t.name, "all_types");
  EXPECT_EQ(t.estimated_rows, 5);
  ASSERT_EQ(t.columns.size(), 24u);
  EXPECT_EQ(t.primary_key, std::vector<std::string>{"id"});
  EXPECT_FALSE(ColumnNamed(t, "id").nullable);  // rowid alias
  EXPECT_FALSE(ColumnNamed(t, "i8").nullable);
  EXPECT_TRUE(ColumnNamed(t, "i4").nullable);
  EXPECT_EQ(DescribeDmsType(ColumnNamed(t, "id").type), "INT8");
  EXPECT_EQ(DescribeDmsType(ColumnNamed(t, "u4").type), "UINT4");
  EXPECT_EQ(DescribeDmsType(ColumnNamed(t, "u8max").type), "NUMERIC(20,0)");
  EXPECT_EQ(DescribeDmsType(ColumnNamed(t, "s").type), "WSTRING(20)");
  EXPECT_EQ(DescribeDmsType(ColumnNamed(t, "ts").type), "DATETIME(6)");
  EXPECT_EQ(DescribeDmsType(ColumnNamed(t, "anything").type), "NCLOB");
  EXPECT_EQ(ColumnNamed(t, "s").native_type, "NVARCHAR(20)");
  ASSERT_EQ(t.unique_indexes.size(), 2u);  // the plain index is not unique
  EXPECT_EQ(t.unique_indexes[0].name, "all_types_i4_i2");
  EXPECT_EQ(t.unique_indexes[0].columns, (std::vector<std::string>{"i4", "i2"}));
  EXPECT_EQ(t.unique_indexes[1].columns, std::vector<std::string>{"s"});
  EXPECT_EQ(catalog->GetTable("main", "ALL_TYPES").name, "all_types");
  try {
    catalog->GetTable("main", "nope");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
  }

  // Scan.
  CollectSink sink;
  ScanOptions options;
  options.batch_rows = 2;  // several batches, and the big row alone over batch_bytes
  EXPECT_EQ(source->OpenReader()->Scan(t, options, sink), 5);
  ASSERT_EQ(sink.Rows(), 5u);
  auto rows = Canonical(sink, t);
  auto v = [&](int row, const std::string& col) { return rows[row][t.ColumnIndex(col)]; };
  EXPECT_EQ(v(0, "i8"), "9223372036854775807");
  EXPECT_EQ(v(1, "i8"), "-9223372036854775808");
  EXPECT_EQ(v(0, "u8max"), "18446744073709551615");
  EXPECT_EQ(v(0, "n"), "12345678.99");
  EXPECT_EQ(v(1, "n"), "-0.01");
  EXPECT_EQ(v(0, "dec40"), "123456789012345678901234567890.123456789");
  EXPECT_EQ(v(1, "dec40"), "-9999999999999999999999999999.9999999999");
  EXPECT_EQ(v(0, "dn"), "0.000000000000000000001");
  EXPECT_EQ(v(3, "dn"), "NaN");
  EXPECT_EQ(v(1, "r4"), "-3.4028235e+38");
  EXPECT_EQ(v(1, "r8"), "Infinity");
  EXPECT_EQ(v(2, "r8"), "-Infinity");
  EXPECT_EQ(v(0, "s"), "héllo 😀");
  EXPECT_EQ(v(1, "s"), "");        // '' is not NULL
  EXPECT_EQ(v(2, "s"), std::nullopt);
  EXPECT_EQ(v(0, "bl"), "");
  EXPECT_EQ(v(1, "t"), std::string("\x01\t\n\r\x1b\x7f"));
  EXPECT_EQ(v(0, "d"), "0001-01-01");
  EXPECT_EQ(v(1, "d"), "9999-12-31");
  EXPECT_EQ(v(0, "tm"), "838:59:59.999999");
  EXPECT_EQ(v(1, "tm"), "-01:00:00");
  EXPECT_EQ(v(0, "ts"), "9999-12-31 23:59:59.999999");
  EXPECT_EQ(v(3, "ts"), "2024-02-29 12:34:56.000001");
  EXPECT_EQ(v(3, "b"), "1");
  EXPECT_EQ(v(1, "j"), "1");  // a column declared JSON has NUMERIC affinity: '1.0' became 1
  EXPECT_EQ(v(0, "anything"), "42");
  EXPECT_EQ(v(3, "anything"), "é");  // a UTF-8 BLOB in an untyped column
  ASSERT_TRUE(v(3, "bl").has_value());
  ASSERT_EQ(v(3, "bl")->size(), 256u);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(static_cast<unsigned char>((*v(3, "bl"))[i]), i);
  ASSERT_TRUE(v(4, "t").has_value());
  EXPECT_EQ(v(4, "t")->size(), static_cast<size_t>(kBig) + 3);
  EXPECT_EQ(v(4, "bl")->size(), static_cast<size_t>(kBig));

  // Write to a second file twice: same engine (declared types kept) and as if the source were
  // another engine (declared types chosen from the DMS types), then read back and compare.
  const std::string dst = dir.File("target.db");
  auto target = OpenFile(dst);
  for (Engine from : {Engine::kSqlite, Engine::kPostgres}) {
    TableDef out = t;
    out.name = from == Engine::kSqlite ? "copy_same" : "copy_dms";
    out.unique_indexes[0].name = out.name + "_i4_i2";
    for (ColumnDef& c : out.columns) {
      c = target->dialect().MapColumn(c, from, false);
    }
    auto writer = target->OpenWriter();
    writer->EnsureSchema("main");
    writer->PrepareTable(out, TablePrepMode::kDropAndCreate);
    writer->PrepareTable(out, TablePrepMode::kDropAndCreate);  // drops the first one
    EXPECT_TRUE(writer->TableExists("main", out.name));
    writer->BeginLoad(out);
    for (const Batch& b : sink.batches) writer->Write(b);
    writer->EndLoad();

    TableDef back = target->OpenCatalog()->GetTable("main", out.name);
    EXPECT_EQ(back.primary_key, t.primary_key);
    EXPECT_EQ(back.unique_indexes.size(), 2u);
    EXPECT_FALSE(ColumnNamed(back, "i8").nullable);
    if (from == Engine::kPostgres) {
      EXPECT_EQ(ColumnNamed(back, "u8max").native_type, "DECIMAL_TEXT(20,0)");
      EXPECT_EQ(ColumnNamed(back, "dec40").native_type, "DECIMAL_TEXT(40,10)");
      EXPECT_EQ(ColumnNamed(back, "r4").native_type, "FLOAT4");
      EXPECT_EQ(ColumnNamed(back, "id").native_type, "INTEGER");
    }
    CollectSink again;
    EXPECT_EQ(target->OpenReader()->Scan(back, options, again), 5);
    auto rows2 = Canonical(again, back);
    ASSERT_EQ(rows2.size(), rows.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      for (size_t c = 0; c < t.columns.size(); ++c) {
        EXPECT_EQ(rows2[r][c], rows[r][c])
            << out.name << " row " << r << " column " << t.columns[c].name;
      }
    }
  }

  // TRUNCATE_BEFORE_LOAD empties; DO_NOTHING leaves the rows.
  auto writer = target->OpenWriter();
  TableDef same = target->OpenCatalog()->GetTable("main", "copy_same");
  writer->PrepareTable(same, TablePrepMode::kDoNothing);
  auto session = target->OpenSession();
  EXPECT_EQ(session->Query("SELECT count(*) FROM copy_same")[0][0], "5");
  writer->PrepareTable(same, TablePrepMode::kTruncateBeforeLoad);
  EXPECT_EQ(session->Query("SELECT count(*) FROM copy_same")[0][0], "0");
  // With ANALYZE's statistics the estimate comes from sqlite_stat1.
  session->Execute("ANALYZE");
  ASSERT_FALSE(session->Query("SELECT stat FROM sqlite_stat1 WHERE tbl = 'copy_dms'").empty());
  EXPECT_EQ(target->OpenCatalog()->GetTable("main", "copy_dms").estimated_rows, 5);
}

// The Chinook sample (shared datasets): every table scanned, copied and compared.
TEST(SqliteConnectorTest, ChinookCopiesValueByValue) {
  const std::string chinook =
      std::string(FERRY_SOURCE_DIR) + "/../shared/datasets/chinook/Chinook_Sqlite.sqlite";
  if (!std::filesystem::exists(chinook)) GTEST_SKIP() << chinook << " is absent";
  TempDir dir;
  auto source = OpenFile(chinook);
  auto target = OpenFile(dir.File("chinook_copy.db"));
  auto tables = source->OpenCatalog()->ListTables("");
  const std::map<std::string, size_t> want = {
      {"Album", 347},    {"Artist", 275},   {"Customer", 59},   {"Employee", 8},
      {"Genre", 25},     {"Invoice", 412},  {"InvoiceLine", 2240}, {"MediaType", 5},
      {"Playlist", 18},  {"PlaylistTrack", 8715}, {"Track", 3503}};
  ASSERT_EQ(tables.size(), want.size());
  for (const TableDef& t : tables) {
    SCOPED_TRACE(t.name);
    CollectSink sink;
    EXPECT_EQ(source->OpenReader()->Scan(t, ScanOptions{}, sink),
              static_cast<int64_t>(want.at(t.name)));
    EXPECT_EQ(t.estimated_rows, static_cast<int64_t>(want.at(t.name)));
    if (t.name == "Invoice") {
      EXPECT_EQ(DescribeDmsType(ColumnNamed(t, "Total").type), "NUMERIC(10,2)");
      EXPECT_EQ(DescribeDmsType(ColumnNamed(t, "InvoiceDate").type), "DATETIME(6)");
    }
    if (t.name == "PlaylistTrack") {
      EXPECT_EQ(t.primary_key, (std::vector<std::string>{"PlaylistId", "TrackId"}));
    }
    auto writer = target->OpenWriter();
    writer->PrepareTable(t, TablePrepMode::kDropAndCreate);
    writer->BeginLoad(t);
    for (const Batch& b : sink.batches) writer->Write(b);
    writer->EndLoad();
    CollectSink back;
    TableDef copy = target->OpenCatalog()->GetTable("main", t.name);
    target->OpenReader()->Scan(copy, ScanOptions{}, back);
    EXPECT_EQ(Canonical(back, copy), Canonical(sink, t));
  }
}

// One row per case, each scanned alone with WHERE id = n.
TEST(SqliteConnectorTest, DynamicTypingConversionsAndRowErrors) {
  TempDir dir;
  auto conn = OpenFile(dir.File("mixed.db"));
  auto s = conn->OpenSession();
  s->Execute(R"sql(
    CREATE TABLE mixed (id INTEGER PRIMARY KEY, i BIGINT, b BOOLEAN, n NUMERIC(10,2),
                        d DATE, ts DATETIME, tm TIME, t TEXT, bl BLOB, r DOUBLE, u INT UNSIGNED);
    INSERT INTO mixed (id, i, b, n, d, ts, tm, t, bl, r, u) VALUES
      (1, 3.0, 't', 1.5, 86400, 1700000000, 3600, 42, 'txt', 42, '7'),
      (2, '12', 'FALSE', 42, 2440588.5, 2440587.5, '12:30', 1.5, x'00', '2.5', 3.0),
      (3, 7, 0.0, '1.10', '2024-01-01 00:00:00', '2024-01-01T10:00:00+02:00', -5,
       x'c3a9', x'05', 1e300, 0);
    INSERT INTO mixed (id, i) VALUES (10, 3.5), (11, 'abc'), (12, x'01');
    INSERT INTO mixed (id, b) VALUES (13, 2), (14, 'yes');
    INSERT INTO mixed (id, n) VALUES (15, 'x1'), (16, 1.005), (17, 123456789);
    INSERT INTO mixed (id, d) VALUES (18, '2024-02-30'), (19, 86401), (20, '2024-01-01 10:00');
    INSERT INTO mixed (id, t) VALUES (21, x'ff00');
    INSERT INTO mixed (id, bl) VALUES (22, 5);
    INSERT INTO mixed (id, u) VALUES (23, -1), (24, 4294967296);
    INSERT INTO mixed (id, ts) VALUES (25, 'yesterday');
  )sql");
  TableDef t = conn->OpenCatalog()->GetTable("main", "mixed");
  auto reader = conn->OpenReader();
  auto scan = [&](int id) {
    CollectSink sink;
    ScanOptions o;
    o.where = "id = " + std::to_string(id);
    reader->Scan(t, o, sink);
    return Canonical(sink, t);
  };
  auto rows = scan(1);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][1], "3");
  EXPECT_EQ(rows[0][2], "1");
  EXPECT_EQ(rows[0][3], "1.5");
  EXPECT_EQ(rows[0][4], "1970-01-02");
  EXPECT_EQ(rows[0][5], "2023-11-14 22:13:20");
  EXPECT_EQ(rows[0][6], "01:00:00");
  EXPECT_EQ(rows[0][7], "42");
  EXPECT_EQ(rows[0][8], "txt");
  EXPECT_EQ(rows[0][9], "42");
  EXPECT_EQ(rows[0][10], "7");
  rows = scan(2);
  EXPECT_EQ(rows[0][1], "12");
  EXPECT_EQ(rows[0][2], "0");
  EXPECT_EQ(rows[0][3], "42");
  EXPECT_EQ(rows[0][4], "1970-01-02");  // julian day 2440588.5
  EXPECT_EQ(rows[0][5], "1970-01-01 00:00:00");
  EXPECT_EQ(rows[0][6], "12:30:00");
  EXPECT_EQ(rows[0][7], "1.5");
  EXPECT_EQ(rows[0][8], std::string("\0", 1));
  EXPECT_EQ(rows[0][9], "2.5");
  EXPECT_EQ(rows[0][10], "3");
  rows = scan(3);
  EXPECT_EQ(rows[0][2], "0");
  EXPECT_EQ(rows[0][3], "1.1");
  EXPECT_EQ(rows[0][4], "2024-01-01");
  EXPECT_EQ(rows[0][5], "2024-01-01 08:00:00");
  EXPECT_EQ(rows[0][6], "-00:00:05");
  EXPECT_EQ(rows[0][7], "é");
  EXPECT_EQ(rows[0][9], "1e+300");

  struct Bad {
    int id;
    int column;
    const char* needle;
  } bad[] = {
      {10, 1, "REAL value 3.5 is not an integer"},
      {11, 1, "TEXT value 'abc' is not an integer"},
      {12, 1, "BLOB of 1 bytes is not an integer"},
      {13, 2, "INTEGER value 2 is not a boolean"},
      {14, 2, "TEXT value 'yes' is not a boolean"},
      {15, 3, "TEXT value 'x1' is not a decimal number"},
      {16, 3, "REAL value 1.005 does not fit the declared precision and scale"},
      {17, 3, "INTEGER value 123456789 does not fit"},
      {18, 4, "TEXT value '2024-02-30' is not a date"},
      {19, 4, "INTEGER value 86401 has a time of day"},
      {20, 4, "has a time of day"},
      {21, 7, "BLOB of 2 bytes is not valid UTF-8 text"},
      {22, 8, "INTEGER value 5 is a number, not binary data"},
      {23, 10, "INTEGER value -1 is negative"},
      {24, 10, "INTEGER value 4294967296 is out of range"},
      {25, 5, "TEXT value 'yesterday' is not a datetime"},
  };
  for (const Bad& b : bad) {
    try {
      scan(b.id);
      ADD_FAILURE() << "no RowError for id " << b.id;
    } catch (const RowError& e) {
      EXPECT_EQ(e.column, b.column) << e.what();
      EXPECT_EQ(e.batch_row, 0) << e.what();
      EXPECT_EQ(e.row_key, "(id=" + std::to_string(b.id) + ")");
      EXPECT_NE(std::string(e.what()).find(b.needle), std::string::npos)
          << "id " << b.id << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("column \"" + t.columns[b.column].name + "\""),
                std::string::npos)
          << e.what();
    }
  }
  // The batch row is the failing row's place in its batch.
  try {
    CollectSink sink;
    ScanOptions o;
    o.where = "id IN (1, 2, 3, 10) ORDER BY id";
    reader->Scan(t, o, sink);
    ADD_FAILURE() << "no RowError";
  } catch (const RowError& e) {
    EXPECT_EQ(e.batch_row, 3);
  }
}

TEST(SqliteConnectorTest, WriterRefusesValuesSqliteWouldChange) {
  TempDir dir;
  auto conn = OpenFile(dir.File("w.db"));
  TableDef t;
  t.schema = "main";
  t.name = "w";
  auto col = [](const std::string& name, DmsKind kind, int p = 0, int s = 0) {
    ColumnDef c;
    c.name = name;
    c.type.kind = kind;
    c.type.precision = p;
    c.type.scale = s;
    c.native_type = "x";
    return c;
  };
  t.columns = {col("id", DmsKind::kInt4), col("r", DmsKind::kReal8),
               col("u", DmsKind::kUint8), col("n", DmsKind::kNumeric, 12, 2)};
  t.columns[0].nullable = false;
  t.primary_key = {"id"};
  for (ColumnDef& c : t.columns) c = conn->dialect().MapColumn(c, Engine::kMysql, false);
  auto writer = conn->OpenWriter();
  writer->PrepareTable(t, TablePrepMode::kDropAndCreate);
  // NUMERIC(12,2) -> NUMERIC(12,2), a NaN double, a NULL key (the rowid would invent one).
  auto batch_with = [&](double r, std::optional<int64_t> id) {
    Batch b(4);
    id ? b.AppendInt(*id) : b.AppendNull();
    b.AppendDouble(r);
    b.AppendUint(UINT64_MAX);
    b.AppendBytes("1234567890.12");
    return b;
  };
  writer->BeginLoad(t);
  writer->Write(batch_with(1.5, 1));
  try {
    Batch b = batch_with(2.5, 2);
    b.AppendInt(3);
    b.AppendDouble(std::nan(""));
    b.AppendUint(1);
    b.AppendBytes("1");
    writer->Write(b);
    ADD_FAILURE() << "NaN accepted";
  } catch (const RowError& e) {
    EXPECT_EQ(e.column, 1);
    EXPECT_EQ(e.batch_row, 1);
    EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
    EXPECT_EQ(e.row_key, "(id=3)");
  }
  try {
    writer->Write(batch_with(2.5, std::nullopt));
    ADD_FAILURE() << "NULL key accepted";
  } catch (const RowError& e) {
    EXPECT_EQ(e.column, 0);
    EXPECT_NE(std::string(e.what()).find("NULL"), std::string::npos) << e.what();
  }
  try {
    writer->Write(batch_with(2.5, 1));  // duplicate key: nothing of the batch stays
    ADD_FAILURE() << "duplicate accepted";
  } catch (const RowError& e) {
    EXPECT_NE(std::string(e.what()).find("UNIQUE constraint failed"), std::string::npos)
        << e.what();
  }
  writer->Write(batch_with(-0.0, 2));
  writer->EndLoad();
  auto s = conn->OpenSession();
  auto rows = s->Query("SELECT id, r, u, typeof(u), n, typeof(n) FROM w ORDER BY id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][2], "18446744073709551615");
  EXPECT_EQ(rows[0][3], "text");
  EXPECT_EQ(rows[0][4], "1234567890.12");
  EXPECT_EQ(rows[0][5], "real");
}

TEST(SqliteConnectorTest, OpenErrorsNameTheFile) {
  TempDir dir;
  const std::string missing = dir.File("missing.db");
  try {
    OpenFile(missing)->OpenCatalog();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_EQ(std::string(e.what()), "SQLite database file '" + missing + "' does not exist");
  }
  EXPECT_THROW(OpenFile(missing)->OpenReader(), Error);
  EXPECT_FALSE(std::filesystem::exists(missing));  // a source is never created

  const std::string junk = dir.File("junk.db");
  std::ofstream(junk) << "this is not a database, just a text file long enough to matter.\n"
                      << std::string(4096, 'x');
  for (int target = 0; target < 2; ++target) {
    try {
      auto c = OpenFile(junk);
      if (target) {
        c->OpenWriter();
      } else {
        c->OpenCatalog();
      }
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kIo);
      EXPECT_NE(std::string(e.what()).find("file is not a database"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(junk), std::string::npos) << e.what();
    }
  }

  const std::string nodir = dir.File("no/such/dir/t.db");
  try {
    OpenFile(nodir)->OpenWriter();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_EQ(std::string(e.what()), "directory '" + dir.File("no/such/dir") +
                                         "' of SQLite database file '" + nodir +
                                         "' does not exist");
  }
  EXPECT_THROW(OpenFile(nodir)->TestConnection(), Error);
  EXPECT_NO_THROW(OpenFile(dir.File("new.db"))->TestConnection());
  // A target is created on open.
  OpenFile(dir.File("new.db"))->OpenSession()->Execute("CREATE TABLE x (a)");
  EXPECT_TRUE(std::filesystem::exists(dir.File("new.db")));
}

TableDef WideTable(const std::string& name) {
  TableDef t;
  t.schema = "main";
  t.name = name;
  auto col = [](const std::string& n, DmsKind kind, int64_t length = 0) {
    ColumnDef c;
    c.name = n;
    c.type.kind = kind;
    c.type.length = length;
    c.type.precision = kind == DmsKind::kNumeric ? 12 : 6;
    c.type.scale = kind == DmsKind::kNumeric ? 2 : 0;
    c.native_type = "x";
    return c;
  };
  t.columns = {col("id", DmsKind::kInt8), col("name", DmsKind::kWstring, 40),
               col("amount", DmsKind::kNumeric), col("ratio", DmsKind::kReal8),
               col("created", DmsKind::kDatetime), col("flag", DmsKind::kBoolean)};
  t.columns[0].nullable = false;
  t.primary_key = {"id"};
  return t;
}

Batch WideBatch(int64_t first, size_t rows) {
  Batch b(6);
  b.Reserve(rows, rows * 40);
  char buf[64];
  for (size_t r = 0; r < rows; ++r) {
    const int64_t id = first + static_cast<int64_t>(r);
    b.AppendInt(id);
    int n = std::snprintf(buf, sizeof(buf), "customer %lld", static_cast<long long>(id));
    b.AppendBytes(std::string_view(buf, n));
    n = std::snprintf(buf, sizeof(buf), "%lld.%02lld", static_cast<long long>(id % 100000),
                      static_cast<long long>(id % 100));
    b.AppendBytes(std::string_view(buf, n));
    b.AppendDouble(static_cast<double>(id) / 7.0);
    b.AppendInt(1'600'000'000'000'000LL + id * 1'000'001);
    b.AppendInt(id & 1);
  }
  return b;
}

TEST(SqliteConnectorTest, TwoWritersLoadDifferentTablesAtOnce) {
  TempDir dir;
  auto conn = OpenFile(dir.File("parallel.db"));
  constexpr int64_t kRows = 240'000;  // several commit chunks each
  std::atomic<int> failures{0};
  std::vector<std::string> errors(2);
  auto load = [&](int w) {
    try {
      TableDef t = WideTable("t" + std::to_string(w));
      for (ColumnDef& c : t.columns) c = conn->dialect().MapColumn(c, Engine::kPostgres, false);
      auto writer = conn->OpenWriter();
      writer->PrepareTable(t, TablePrepMode::kDropAndCreate);
      writer->BeginLoad(t);
      for (int64_t i = 0; i < kRows; i += 10'000) writer->Write(WideBatch(i, 10'000));
      writer->EndLoad();
    } catch (const std::exception& e) {
      errors[w] = e.what();
      ++failures;
    }
  };
  // A reader of the file runs meanwhile: WAL lets it read while the writers write.
  std::thread a(load, 0), b(load, 1);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0) << errors[0] << " / " << errors[1];
  auto s = conn->OpenSession();
  EXPECT_EQ(s->Query("SELECT count(*) FROM t0")[0][0], std::to_string(kRows));
  EXPECT_EQ(s->Query("SELECT count(*) FROM t1")[0][0], std::to_string(kRows));
  EXPECT_EQ(s->Query("PRAGMA journal_mode")[0][0], "wal");
}

// 1M-row scan and load, against the sqlite3 shell copying the same table with ATTACH.
// Set FERRY_SQLITE_BENCH=1 to run it.
TEST(SqliteConnectorTest, MillionRowThroughput) {
  if (ferry::testing::EnvOr("FERRY_SQLITE_BENCH").empty()) {
    GTEST_SKIP() << "set FERRY_SQLITE_BENCH=1 to measure";
  }
  TempDir dir;
  const std::string a = dir.File("a.db"), bfile = dir.File("b.db"), c = dir.File("c.db");
  constexpr int64_t kRows = 1'000'000;
  auto src = OpenFile(a);
  {
    TableDef t = WideTable("t");
    for (ColumnDef& col : t.columns) col = src->dialect().MapColumn(col, Engine::kPostgres, false);
    auto w = src->OpenWriter();
    w->PrepareTable(t, TablePrepMode::kDropAndCreate);
    w->BeginLoad(t);
    for (int64_t i = 0; i < kRows; i += 10'000) w->Write(WideBatch(i, 10'000));
    w->EndLoad();
  }
  TableDef t = src->OpenCatalog()->GetTable("main", "t");
  CollectSink sink;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(src->OpenReader()->Scan(t, ScanOptions{}, sink), kRows);
  auto t1 = std::chrono::steady_clock::now();
  auto dst = OpenFile(bfile);
  TableDef out = t;
  for (ColumnDef& col : out.columns) col = dst->dialect().MapColumn(col, Engine::kSqlite, false);
  auto w = dst->OpenWriter();
  w->PrepareTable(out, TablePrepMode::kDropAndCreate);
  auto t2 = std::chrono::steady_clock::now();
  w->BeginLoad(out);
  for (const Batch& b : sink.batches) w->Write(b);
  w->EndLoad();
  auto t3 = std::chrono::steady_clock::now();
  {
    auto s = OpenFile(c)->OpenSession();
    s->Execute(src->OpenSession()->Query("SELECT sql FROM sqlite_schema WHERE name = 't'")[0][0]
                   .value());
  }
  const std::string cmd = "sqlite3 " + a + " \"PRAGMA journal_mode=WAL; ATTACH '" + c +
                          "' AS b; PRAGMA b.journal_mode=WAL; PRAGMA b.synchronous=NORMAL; "
                          "INSERT INTO b.t SELECT * FROM main.t;\" > /dev/null";
  auto t4 = std::chrono::steady_clock::now();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto t5 = std::chrono::steady_clock::now();
  auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::printf("scan 1M rows: %.3f s (%.0f rows/s)\n", secs(t1 - t0), kRows / secs(t1 - t0));
  std::printf("load 1M rows: %.3f s (%.0f rows/s)\n", secs(t3 - t2), kRows / secs(t3 - t2));
  std::printf("scan+load:    %.3f s (%.0f rows/s)\n", secs(t1 - t0) + secs(t3 - t2),
              kRows / (secs(t1 - t0) + secs(t3 - t2)));
  std::printf("sqlite3 CLI ATTACH + INSERT ... SELECT: %.3f s (%.0f rows/s)\n", secs(t5 - t4),
              kRows / secs(t5 - t4));
}

// Several writers opening one new file at the same moment (a parallel load's workers) all
// get it in WAL mode: switching the journal mode does not wait on SQLite's busy handler, so
// without Ferry taking turns this failed with "database is locked".
TEST(SqliteConnectorTest, WritersOpeningOneNewFileAtOnce) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("ferry-sqlite-open-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (int round = 0; round < 20; ++round) {
    const std::string uri = "sqlite://" + (dir / ("f" + std::to_string(round) + ".db")).string();
    auto connector = ferry::testing::Open(uri);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        try {
          auto writer = connector->OpenWriter();
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
          ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(failures.load(), 0) << "round " << round;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry::sqlite
