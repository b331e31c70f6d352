// PostgreSQL connector against the real server: catalog, binary COPY scan, load into another
// schema, value-by-value comparison, and the error messages users read.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <limits>

#include "connectors/connector.h"
#include "support/collect_sink.h"
#include "test_env.h"
#include "types/value_codec.h"

namespace ferry {
namespace {

using Rows = std::vector<std::vector<std::optional<std::string>>>;

using ::ferry::testing::CollectSink;

// Drops and recreates database `name`; returns a connector to it.
std::unique_ptr<SqlConnector> FreshDatabase(const std::string& name) {
  auto admin = testing::Open(testing::PostgresUri())->OpenSession();
  admin->Execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  admin->Execute("CREATE DATABASE " + name);
  return testing::Open(testing::WithDatabase(testing::PostgresUri(), name));
}

const ColumnDef& Col(const TableDef& t, const std::string& name) {
  int i = t.ColumnIndex(name);
  EXPECT_GE(i, 0) << name;
  return t.columns.at(static_cast<size_t>(i));
}

DmsType T(DmsKind kind, int64_t length = 0, int precision = 0, int scale = 0, bool tz = false) {
  DmsType t;
  t.kind = kind;
  t.length = length;
  t.precision = precision;
  t.scale = scale;
  t.with_time_zone = tz;
  return t;
}

// Copies `source` into schema `target_schema` through the connector: map, create, load.
TableDef CopyTable(SqlConnector& conn, const TableDef& source, const std::string& target_schema,
                   size_t batch_rows = 10000) {
  TableDef target = source;
  target.schema = target_schema;
  for (size_t i = 0; i < source.columns.size(); ++i) {
    target.columns[i] = conn.dialect().MapColumn(source.columns[i], source.engine, false);
  }
  CollectSink sink;
  ScanOptions options;
  options.batch_rows = batch_rows;
  const int64_t n = conn.OpenReader()->Scan(source, options, sink);
  EXPECT_EQ(static_cast<size_t>(n), sink.Rows());
  auto writer = conn.OpenWriter();
  writer->EnsureSchema(target_schema);
  writer->PrepareTable(target, TablePrepMode::kDropAndCreate);
  writer->BeginLoad(target);
  for (const Batch& b : sink.batches) writer->Write(b);
  writer->EndLoad();
  return target;
}

// Every column of both tables as md5 of its text form, in key order.
void ExpectSameRows(SqlSession& s, const TableDef& a, const TableDef& b, const std::string& key) {
  std::string cols;
  for (size_t i = 0; i < a.columns.size(); ++i) {
    if (i) cols += ", ";
    const std::string q = "\"" + a.columns[i].name + "\"";
    cols += fmt::format("length({0}::text)::text || ':' || md5({0}::text)", q);
  }
  auto query = [&](const TableDef& t) {
    return s.Query("SELECT " + cols + " FROM \"" + t.schema + "\".\"" + t.name + "\" ORDER BY " +
                   key);
  };
  Rows ra = query(a), rb = query(b);
  ASSERT_EQ(ra.size(), rb.size()) << a.QualifiedName();
  for (size_t r = 0; r < ra.size(); ++r) {
    for (size_t c = 0; c < a.columns.size(); ++c) {
      EXPECT_EQ(ra[r][c], rb[r][c])
          << a.QualifiedName() << " row " << r << " column " << a.columns[c].name;
    }
  }
}

constexpr const char* kSchemaSql = R"sql(
CREATE SCHEMA src;
CREATE TYPE src.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN src.posint AS integer CHECK (VALUE > 0);
CREATE TABLE src.core (
  id integer PRIMARY KEY, b boolean, i2 smallint, i4 integer, i8 bigint,
  n numeric(10,2), nbig numeric(60,20), nfree numeric, r real, d double precision,
  ch char(5), vc varchar(20) NOT NULL DEFAULT '', vcfree varchar, t text, by bytea,
  dt date, tm time(3), ts timestamp, tstz timestamptz(6), u uuid, j json, jb jsonb,
  mo src.mood, pi src.posint);
CREATE TABLE src.rich (
  id integer PRIMARY KEY, m money, qc "char", nm name, tmtz timetz, iv interval, x xml,
  tsv tsvector, ip inet, cid cidr, mac macaddr, bt bit(4), vb varbit, ia integer[],
  ta text[], rg int4range, pt point, t text, by bytea, dt date, ts timestamp, tstz timestamptz);
CREATE TABLE src.parted (id integer, region text NOT NULL, amount numeric(12,2),
  PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE src.parted_eu PARTITION OF src.parted FOR VALUES IN ('eu');
CREATE TABLE src.parted_us PARTITION OF src.parted FOR VALUES IN ('us');
CREATE TABLE src.nopk (code text NOT NULL, v integer, w integer);
CREATE UNIQUE INDEX nopk_code_key ON src.nopk (code);
CREATE UNIQUE INDEX nopk_partial ON src.nopk (v) WHERE v > 0;
CREATE UNIQUE INDEX nopk_expr ON src.nopk (lower(code));
)sql";

constexpr const char* kDataSql = R"sql(
INSERT INTO src.core VALUES
 (1, true, 1, 2, 3, 12.34, 1.5, 7, 1.25, 2.5, 'ab', 'hello', 'x', 'text', '\x0102',
  '2024-02-29', '12:34:56.789', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5+02',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '{"b": {"c": null}}', 'happy', 5),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, false, -32768, -2147483648, -9223372036854775808, -99999999.99,
  '1234567890123456789012345678901234567890.12345678901234567890',
  '-1234567890123456789012345678901234567890.000000000000000000000000000001',
  'NaN', 'Infinity', '', E'tab\there', E'line\nbreak\\back', E'\U0001F600 4-byte',
  NULL, '0001-01-01', '00:00:00', '0001-01-01 00:00:00', '9999-12-31 23:59:59.999999+00',
  '00000000-0000-0000-0000-000000000000', '""', '[]', 'sad', 1),
 (4, true, 32767, 2147483647, 9223372036854775807, 0, 0.00000000000000000001, 'NaN',
  '-Infinity', '-Infinity', 'zzzzz', E'\r\n\\N', '', '', '', '9999-12-31', '24:00:00',
  '0044-03-15 12:00:00 BC', '0044-03-15 12:00:00+00 BC', NULL, 'null', '"x"', 'ok', 2147483647),
 (5, false, 0, 0, 0, -0.5, -0.5, '1e-20', 'NaN', 'NaN', NULL, 'x', NULL, NULL, NULL,
  'infinity', '23:59:59.999', 'infinity', '-infinity', NULL, NULL, NULL, NULL, NULL),
 (6, NULL, NULL, NULL, NULL, NULL, NULL, 'Infinity', 3.4028235e38, 1e-300, NULL, 'y', NULL,
  NULL, NULL, '-infinity', NULL, '-infinity', 'infinity', NULL, NULL, NULL, NULL, NULL),
 (7, NULL, NULL, NULL, NULL, NULL, NULL, '-Infinity', NULL, 5e-324, NULL, 'z', NULL,
  NULL, NULL, '4713-11-24 BC', NULL, '1999-12-31 23:59:59.000001', NULL, NULL, NULL, NULL,
  NULL, NULL);
UPDATE src.core SET by = (SELECT string_agg(set_byte('\x00'::bytea, 0, g), ''::bytea ORDER BY g)
                          FROM generate_series(0, 255) g) WHERE id = 3;
INSERT INTO src.core (id, vc, t, by)
  SELECT 8, 'big', repeat(E'\u00e9\t\\', 17 * 1024 * 1024 / 4),
         decode(repeat('00ff5c0a', 17 * 1024 * 1024 / 4), 'hex');
INSERT INTO src.rich VALUES
 (1, '1234.56', 'a', 'some_name', '12:00:00+05:30', '1 year 2 mons 3 days 04:05:06.7',
  '<a>x</a>', 'fat:1 cat:2', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', B'1010',
  B'101', '{1,NULL,3}', ARRAY[E'a\tb', 'c"d', E'e\\f', NULL, ''], '[1,10)', '(1.5,2)',
  E'tab\there \\ and\nnewline', '\x00ff', '0044-03-15 BC', 'infinity', '2024-06-01 10:00:00+00'),
 (2, '-92233720368547758.08', NULL, NULL, NULL, '-00:00:00.000001', NULL, NULL, '::1', NULL,
  NULL, NULL, NULL, '{}', '{}', 'empty', NULL, '', '', '-infinity', NULL, NULL),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO src.parted VALUES (1, 'eu', 10.5), (2, 'us', 20.25), (3, 'eu', NULL);
INSERT INTO src.nopk VALUES ('a', 1, 1), ('b', NULL, 2), ('c', -1, NULL);
ANALYZE src.parted_eu;
)sql";

TEST(PgConnector, CatalogScanLoadRoundTripEveryType) {
  FERRY_REQUIRE_POSTGRES();
  auto conn = FreshDatabase("it_pg_conn_alltypes");
  auto session = conn->OpenSession();
  session->Execute(kSchemaSql);
  session->Execute(kDataSql);

  auto catalog = conn->OpenCatalog();
  EXPECT_EQ(catalog->ServerVersion().rfind("PostgreSQL 15.", 0), 0u) << catalog->ServerVersion();
  std::vector<TableDef> tables = catalog->ListTables("src");
  ASSERT_EQ(tables.size(), 4u);  // core, nopk, parted, rich: no partitions
  EXPECT_EQ(tables[0].name, "core");
  EXPECT_EQ(tables[1].name, "nopk");
  EXPECT_EQ(tables[2].name, "parted");
  EXPECT_EQ(tables[3].name, "rich");

  const TableDef& core = tables[0];
  EXPECT_EQ(core.engine, Engine::kPostgres);
  EXPECT_EQ(core.primary_key, std::vector<std::string>{"id"});
  ASSERT_EQ(core.columns.size(), 24u);
  EXPECT_EQ(Col(core, "b").type, T(DmsKind::kBoolean));
  EXPECT_EQ(Col(core, "i2").type, T(DmsKind::kInt2));
  EXPECT_EQ(Col(core, "i8").type, T(DmsKind::kInt8));
  EXPECT_EQ(Col(core, "n").type, T(DmsKind::kNumeric, 0, 10, 2));
  EXPECT_EQ(Col(core, "nbig").type, T(DmsKind::kNumeric, 0, 60, 20));
  EXPECT_EQ(Col(core, "nfree").type, T(DmsKind::kNumeric));
  EXPECT_EQ(Col(core, "r").type, T(DmsKind::kReal4));
  EXPECT_EQ(Col(core, "d").type, T(DmsKind::kReal8));
  EXPECT_EQ(Col(core, "ch").type, T(DmsKind::kWstring, 5));
  EXPECT_EQ(Col(core, "vc").type, T(DmsKind::kWstring, 20));
  EXPECT_FALSE(Col(core, "vc").nullable);
  EXPECT_TRUE(Col(core, "t").nullable);
  EXPECT_EQ(Col(core, "vcfree").type, T(DmsKind::kNclob));
  EXPECT_EQ(Col(core, "t").type, T(DmsKind::kNclob));
  EXPECT_EQ(Col(core, "by").type, T(DmsKind::kBlob));
  EXPECT_EQ(Col(core, "dt").type, T(DmsKind::kDate));
  EXPECT_EQ(Col(core, "tm").type, T(DmsKind::kTime, 0, 3));
  EXPECT_EQ(Col(core, "ts").type, T(DmsKind::kDatetime, 0, 6));
  EXPECT_EQ(Col(core, "tstz").type, T(DmsKind::kDatetime, 0, 6, 0, true));
  EXPECT_EQ(Col(core, "u").type, T(DmsKind::kString, 36));
  EXPECT_EQ(Col(core, "j").type, T(DmsKind::kNclob));
  EXPECT_EQ(Col(core, "jb").type, T(DmsKind::kNclob));
  EXPECT_EQ(Col(core, "mo").type, T(DmsKind::kString));
  EXPECT_FALSE(Col(core, "mo").portable_native);
  EXPECT_EQ(Col(core, "mo").native_type, "src.mood");
  EXPECT_EQ(Col(core, "pi").type, T(DmsKind::kInt4));
  EXPECT_FALSE(Col(core, "pi").portable_native);
  EXPECT_TRUE(Col(core, "u").portable_native);
  EXPECT_EQ(Col(core, "tstz").native_type, "timestamp(6) with time zone");

  const TableDef& rich = tables[3];
  EXPECT_EQ(Col(rich, "m").type, T(DmsKind::kNumeric, 0, 38, 4));
  EXPECT_EQ(Col(rich, "qc").type, T(DmsKind::kString, 1));
  EXPECT_EQ(Col(rich, "nm").type, T(DmsKind::kString, 64));
  EXPECT_EQ(Col(rich, "tmtz").type, T(DmsKind::kString));
  EXPECT_EQ(Col(rich, "iv").type, T(DmsKind::kString));
  EXPECT_EQ(Col(rich, "x").type, T(DmsKind::kClob));
  EXPECT_EQ(Col(rich, "tsv").type, T(DmsKind::kClob));
  EXPECT_EQ(Col(rich, "ip").type, T(DmsKind::kString));
  EXPECT_EQ(Col(rich, "ia").type, T(DmsKind::kNclob));
  EXPECT_TRUE(Col(rich, "ia").portable_native);
  EXPECT_EQ(Col(rich, "ia").native_type, "integer[]");

  const TableDef& parted = tables[2];
  EXPECT_EQ(parted.primary_key, (std::vector<std::string>{"id", "region"}));
  EXPECT_EQ(parted.estimated_rows, 2);  // only parted_eu was analyzed

  const TableDef& nopk = tables[1];
  EXPECT_TRUE(nopk.primary_key.empty());
  ASSERT_EQ(nopk.unique_indexes.size(), 1u);  // partial and expression indexes skipped
  EXPECT_EQ(nopk.unique_indexes[0].name, "nopk_code_key");
  EXPECT_EQ(nopk.unique_indexes[0].columns, std::vector<std::string>{"code"});
  EXPECT_EQ(nopk.RowKey(), std::vector<std::string>{"code"});

  TableDef got = catalog->GetTable("src", "core");
  EXPECT_EQ(got.columns.size(), core.columns.size());
  try {
    catalog->GetTable("src", "nope");
    ADD_FAILURE() << "expected kNotFound";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("src.nope"), std::string::npos);
  }

  // Scan values as the batch encodes them.
  {
    CollectSink sink;
    EXPECT_EQ(conn->OpenReader()->Scan(core, ScanOptions{}, sink), 8);
    ASSERT_EQ(sink.batches.size(), 1u);
    const Batch& b = sink.batches[0];
    // Heap order is not id order (row 3 was updated): find rows by id.
    std::vector<size_t> by_id(9);
    for (size_t r = 0; r < b.rows(); ++r) by_id.at(b.at(r, 0).i) = r;
    auto canon = [&](size_t id, const std::string& col) {
      const size_t row = by_id.at(id + 1);
      std::string s;
      const int c = core.ColumnIndex(col);
      if (b.IsNull(row, c)) return std::string("NULL");
      AppendCanonical(b, row, c, core.columns[c].type, &s);
      return s;
    };
    EXPECT_EQ(canon(0, "n"), "12.34");
    EXPECT_EQ(canon(0, "tstz"), "2024-01-02 01:04:05.5");  // normalised to UTC
    EXPECT_EQ(canon(0, "u"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    EXPECT_EQ(canon(0, "jb"), "{\"b\": {\"c\": null}}");
    EXPECT_EQ(canon(0, "mo"), "happy");
    EXPECT_EQ(canon(1, "t"), "NULL");
    EXPECT_EQ(canon(1, "vc"), "");
    EXPECT_EQ(canon(2, "nbig"), "1234567890123456789012345678901234567890.1234567890123456789");
    EXPECT_EQ(canon(2, "r"), "NaN");
    EXPECT_EQ(canon(2, "dt"), "0001-01-01");
    EXPECT_EQ(canon(2, "by").size(), 256u);
    EXPECT_EQ(canon(3, "ts"), "0044-03-15 12:00:00 BC");
    EXPECT_EQ(canon(3, "tm"), "24:00:00");
    EXPECT_EQ(canon(4, "nfree"), "0.00000000000000000001");
    EXPECT_EQ(canon(4, "n"), "-0.5");
    EXPECT_EQ(b.at(by_id[5], core.ColumnIndex("dt")).i, std::numeric_limits<int32_t>::max());
    EXPECT_EQ(b.at(by_id[5], core.ColumnIndex("ts")).i, std::numeric_limits<int64_t>::max());
    EXPECT_EQ(b.at(by_id[5], core.ColumnIndex("tstz")).i, std::numeric_limits<int64_t>::min());
    EXPECT_EQ(b.at(by_id[6], core.ColumnIndex("dt")).i, std::numeric_limits<int32_t>::min());
    EXPECT_EQ(canon(7, "t").size(), 17u * 1024 * 1024 / 4 * 4);
    EXPECT_EQ(canon(7, "by").size(), 17u * 1024 * 1024);
  }

  // Load every table into another schema and compare every value.
  for (const TableDef& t : tables) {
    SCOPED_TRACE(t.name);
    TableDef copy = CopyTable(*conn, t, "dst", 3);
    TableDef read_back = catalog->GetTable("dst", t.name);
    EXPECT_EQ(read_back.primary_key, t.primary_key);
    EXPECT_EQ(read_back.unique_indexes.size(), t.unique_indexes.size());
    ExpectSameRows(*session, t, copy, t.name == "nopk" ? "code" : "id");
  }
  // Enum and domain fall back to their DMS types; everything else kept its native type.
  TableDef dst_core = catalog->GetTable("dst", "core");
  EXPECT_EQ(Col(dst_core, "mo").native_type, "text");  // STRING without a length
  EXPECT_EQ(Col(dst_core, "pi").native_type, "integer");
  EXPECT_EQ(Col(dst_core, "u").native_type, "uuid");
  EXPECT_EQ(Col(dst_core, "nbig").native_type, "numeric(60,20)");
  EXPECT_EQ(Col(catalog->GetTable("dst", "rich"), "ia").native_type, "integer[]");
  auto count = session->Query("SELECT count(*) FROM dst.parted");
  EXPECT_EQ(count[0][0], "3");
}

// Values from another engine (MySQL-like kinds) into the types MapColumn picks.
TEST(PgConnector, LoadsForeignKindsIntoMappedTypes) {
  FERRY_REQUIRE_POSTGRES();
  auto conn = FreshDatabase("it_pg_conn_foreign");
  TableDef source;
  source.engine = Engine::kMysql;
  source.schema = "shop";
  source.name = "kinds";
  auto add = [&](const char* name, DmsType type, const char* native = "") {
    ColumnDef c;
    c.name = name;
    c.type = type;
    c.native_type = native;
    source.columns.push_back(conn->dialect().MapColumn(c, Engine::kMysql, false));
  };
  add("u8", T(DmsKind::kUint8));
  add("u4", T(DmsKind::kUint4));
  add("i1", T(DmsKind::kInt1));
  add("flag", T(DmsKind::kBoolean));
  add("bin", T(DmsKind::kBytes, 4));
  add("doc", T(DmsKind::kClob), "json");
  add("tm", T(DmsKind::kTime, 0, 0));
  add("dt", T(DmsKind::kDatetime, 0, 0));
  add("f", T(DmsKind::kReal4));
  source.primary_key = {"u8"};
  EXPECT_EQ(source.columns[0].native_type, "numeric(20,0)");
  EXPECT_EQ(source.columns[5].native_type, "jsonb");
  auto writer = conn->OpenWriter();
  const std::string schema = conn->DefaultTargetSchema("shop", Engine::kMysql);
  EXPECT_EQ(schema, "shop");
  source.schema = schema;
  writer->EnsureSchema(schema);
  writer->PrepareTable(source, TablePrepMode::kDropAndCreate);
  Batch b(9);
  b.AppendUint(18446744073709551615ull);
  b.AppendUint(4294967295u);
  b.AppendInt(-128);
  b.AppendInt(1);
  b.AppendBytes(std::string_view("\0\1\2\3", 4));
  b.AppendBytes("{\"k\": [1, \"v\"]}");
  b.AppendInt(int64_t{23} * 3600 * kMicrosPerSecond);
  b.AppendInt(*ParseDatetime("2024-05-06 07:08:09"));
  b.AppendDouble(0.1f);
  writer->BeginLoad(source);
  writer->Write(b);
  writer->EndLoad();
  auto rows = conn->OpenSession()->Query(
      "SELECT u8::text, u4::text, i1::text, flag::text, bin::text, doc->>'k', tm::text, "
      "dt::text, f::text FROM shop.kinds");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "18446744073709551615");
  EXPECT_EQ(rows[0][1], "4294967295");
  EXPECT_EQ(rows[0][2], "-128");
  EXPECT_EQ(rows[0][3], "true");
  EXPECT_EQ(rows[0][4], "\\x00010203");
  EXPECT_EQ(rows[0][5], "[1, \"v\"]");
  EXPECT_EQ(rows[0][6], "23:00:00");
  EXPECT_EQ(rows[0][7], "2024-05-06 07:08:09");
  EXPECT_EQ(rows[0][8], "0.1");
}

TEST(PgConnector, RowErrorsAbortCleanlyAndTheConnectionIsReused) {
  FERRY_REQUIRE_POSTGRES();
  auto conn = FreshDatabase("it_pg_conn_rowerr");
  TableDef t;
  t.engine = Engine::kPostgres;
  t.schema = "public";
  t.name = "short";
  ColumnDef id;
  id.name = "id";
  id.type = T(DmsKind::kInt4);
  id.native_type = "integer";
  ColumnDef s;
  s.name = "s";
  s.type = T(DmsKind::kWstring, 3);
  s.native_type = "varchar(3)";
  t.columns = {id, s};
  t.primary_key = {"id"};
  auto writer = conn->OpenWriter();
  writer->PrepareTable(t, TablePrepMode::kDropAndCreate);

  auto expect_row_error = [&](std::string_view value, const std::string& needle) {
    Batch b(2);
    b.AppendInt(1);
    b.AppendBytes("ok");
    b.AppendInt(42);
    b.AppendBytes(value);
    writer->BeginLoad(t);
    try {
      writer->Write(b);
      ADD_FAILURE() << "expected a RowError";
    } catch (const RowError& e) {
      EXPECT_EQ(e.column, 1);
      EXPECT_EQ(e.batch_row, 1);
      EXPECT_EQ(e.row_key, "(id=42)");
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("public.short"), std::string::npos) << e.what();
    }
    writer->AbortLoad();
  };
  expect_row_error("abcd", "4 characters, longer than the target's 3");
  expect_row_error(std::string_view("a\0b", 3), "NUL byte");
  expect_row_error("\xC3(", "not valid UTF-8");

  // Same writer, next load works; TRUNCATE_BEFORE_LOAD keeps the table.
  writer->PrepareTable(t, TablePrepMode::kTruncateBeforeLoad);
  Batch good(2);
  good.AppendInt(7);
  good.AppendBytes("\xC3\xA9t\xC3\xA9");
  writer->BeginLoad(t);
  writer->Write(good);
  writer->EndLoad();
  auto rows = conn->OpenSession()->Query("SELECT id, s FROM public.short");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][1], "\xC3\xA9t\xC3\xA9");
  EXPECT_TRUE(writer->TableExists("public", "short"));
  EXPECT_FALSE(writer->TableExists("public", "long"));

  // A server-side failure (duplicate key) surfaces at EndLoad as an Error, rolled back.
  writer->BeginLoad(t);
  writer->Write(good);
  EXPECT_THROW(writer->EndLoad(), Error);
  rows = conn->OpenSession()->Query("SELECT count(*) FROM public.short");
  EXPECT_EQ(rows[0][0], "1");
  writer->PrepareTable(t, TablePrepMode::kDoNothing);
}

TEST(PgConnector, ScanStopsCleanlyAndReportsUnrepresentableValues) {
  FERRY_REQUIRE_POSTGRES();
  auto conn = FreshDatabase("it_pg_conn_scanstop");
  auto session = conn->OpenSession();
  session->Execute(
      "CREATE TABLE public.s (id integer PRIMARY KEY, ts timestamp, note text);"
      "INSERT INTO public.s SELECT g, '2024-01-01'::timestamp, 'n' || g "
      "FROM generate_series(1, 5000) g;"
      "INSERT INTO public.s VALUES (9999, '294270-01-01 00:00:00', 'far future')");
  TableDef t = conn->OpenCatalog()->GetTable("public", "s");
  auto reader = conn->OpenReader();

  // A sink that stops after the first batch: the scan returns without error.
  struct StopSink : BatchSink {
    int pushes = 0;
    bool Push(Batch&&) override { return ++pushes < 1; }
    void Warning(int, std::string_view) override {}
  } stop;
  ScanOptions small;
  small.batch_rows = 100;
  small.where = "id <= 5000";
  EXPECT_EQ(reader->Scan(t, small, stop), 100);
  EXPECT_EQ(stop.pushes, 1);

  // The same reader scans again, with a predicate.
  CollectSink some;
  ScanOptions where;
  where.where = "id BETWEEN 10 AND 19";
  EXPECT_EQ(reader->Scan(t, where, some), 10);

  // A timestamp beyond Ferry's DATETIME range is a RowError naming column and key.
  CollectSink all;
  try {
    reader->Scan(t, ScanOptions{}, all);
    ADD_FAILURE() << "expected a RowError";
  } catch (const RowError& e) {
    EXPECT_EQ(e.column, 1);
    EXPECT_EQ(e.row_key, "(id=9999)");
    EXPECT_NE(std::string(e.what()).find("column ts of public.s"), std::string::npos) << e.what();
  }
  // ...and the connection is still usable.
  CollectSink again;
  EXPECT_EQ(reader->Scan(t, where, again), 10);
  // A bad predicate is an Error with the server's message.
  ScanOptions bad;
  bad.where = "no_such_column = 1";
  CollectSink none;
  EXPECT_THROW(reader->Scan(t, bad, none), Error);
  EXPECT_EQ(reader->Scan(t, where, again), 10);
}

TEST(PgConnector, ConnectionErrorsNameTheEndpointNotThePassword) {
  FERRY_REQUIRE_POSTGRES();
  EndpointUri base = ParseEndpointUri(testing::PostgresUri()).ValueOrThrow();
  {
    EndpointUri u = base;
    u.password = "S3cretPassw0rd!";
    try {
      OpenConnector(u)->TestConnection();
      ADD_FAILURE() << "expected kAuth";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(e.kind(), ErrorKind::kAuth) << msg;
      EXPECT_EQ(msg.find("S3cretPassw0rd!"), std::string::npos) << msg;
      EXPECT_NE(msg.find("refused user '" + base.user + "'"), std::string::npos) << msg;
      EXPECT_NE(msg.find(base.host + ":" + std::to_string(base.port)), std::string::npos);
    }
  }
  {
    EndpointUri u = base;
    u.database = "it_pg_no_such_db";
    try {
      OpenConnector(u)->TestConnection();
      ADD_FAILURE() << "expected kNotFound";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
      EXPECT_NE(std::string(e.what()).find("it_pg_no_such_db"), std::string::npos);
    }
  }
  {
    EndpointUri u = base;
    u.port = 1;  // nothing listens there
    try {
      OpenConnector(u)->TestConnection();
      ADD_FAILURE() << "expected kConnection";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kConnection) << e.what();
      EXPECT_NE(std::string(e.what()).find(base.host + ":1"), std::string::npos) << e.what();
    }
  }
  // Server errors keep the server's message.
  try {
    testing::Open(testing::PostgresUri())->OpenSession()->Execute("SELECT * FROM no_such_t");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("no_such_t"), std::string::npos);
  }
}

// Throughput of a 1,000,000-row mixed table (set FERRY_PG_BENCH=1 to run).
TEST(PgConnector, BenchScanAndLoadMillionRows) {
  FERRY_REQUIRE_POSTGRES();
  if (testing::EnvOr("FERRY_PG_BENCH").empty()) GTEST_SKIP() << "set FERRY_PG_BENCH=1";
  auto conn = FreshDatabase("it_pg_conn_bench");
  auto session = conn->OpenSession();
  session->Execute(
      "CREATE TABLE public.t (id bigint PRIMARY KEY, a integer, b numeric(12,2), "
      "c text, d timestamptz, e double precision, f boolean, g date);"
      "INSERT INTO public.t SELECT g, g % 1000, (g * 1.37)::numeric(12,2), "
      "md5(g::text), '2024-01-01'::timestamptz + g * interval '1 second', g / 7.0, "
      "g % 2 = 0, '2000-01-01'::date + g % 10000 FROM generate_series(1, 1000000) g;"
      "ANALYZE public.t;");
  TableDef t = conn->OpenCatalog()->GetTable("public", "t");
  TableDef target = t;
  target.name = "t2";
  auto writer = conn->OpenWriter();
  writer->PrepareTable(target, TablePrepMode::kDropAndCreate);
  // Drop the PK on the target so the load is measured like the psql pipe below.
  session->Execute("ALTER TABLE public.t2 DROP CONSTRAINT t2_pkey");

  struct CountSink : BatchSink {
    size_t rows = 0;
    std::vector<Batch> keep;
    bool store = false;
    bool Push(Batch&& b) override {
      rows += b.rows();
      if (store) keep.push_back(std::move(b));
      return true;
    }
    void Warning(int, std::string_view) override {}
  } sink;
  auto t0 = std::chrono::steady_clock::now();
  conn->OpenReader()->Scan(t, ScanOptions{}, sink);
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_EQ(sink.rows, 1000000u);
  sink.store = true;
  sink.rows = 0;
  conn->OpenReader()->Scan(t, ScanOptions{}, sink);
  auto t2 = std::chrono::steady_clock::now();
  writer->BeginLoad(target);
  for (const Batch& b : sink.keep) writer->Write(b);
  writer->EndLoad();
  auto t3 = std::chrono::steady_clock::now();
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::printf("[bench] scan 1M rows: %.3f s (%.0f rows/s)\n", secs(t0, t1), 1e6 / secs(t0, t1));
  std::printf("[bench] load 1M rows: %.3f s (%.0f rows/s)\n", secs(t2, t3), 1e6 / secs(t2, t3));
  std::printf("[bench] scan+load: %.3f s\n", secs(t0, t1) + secs(t2, t3));
  auto same = session->Query(
      "SELECT count(*) FROM (SELECT * FROM public.t EXCEPT SELECT * FROM public.t2) x");
  EXPECT_EQ(same[0][0], "0");
}

}  // namespace
}  // namespace ferry
