// The binlog decoder (src/connectors/mysql/my_binlog_*.h) against the real MariaDB server:
// rows of every column type are inserted, updated and deleted; the same rows are read by the
// MySQL connector's TableReader (the full-load reference) and decoded from the server's binlog
// file, and the cells are compared byte for byte: an insert's after image and an update's
// before image against a scan taken after the inserts, and the rows the binlog leaves at the
// end against a scan taken at the end.
//
// The binlog is read from the server's own file (@@log_bin_basename): the test runs beside
// scripts/servers.sh's server. The replica connection that will carry these bytes in change
// capture is not part of this test.
#include <gtest/gtest.h>

#include <bit>
#include <fstream>
#include <map>
#include <sstream>

#include "connectors/connector.h"
#include "connectors/mysql/my_binlog_cells.h"
#include "connectors/mysql/my_binlog_event.h"
#include "connectors/mysql/my_binlog_rows.h"
#include "support/collect_sink.h"
#include "test_env.h"
#include "types/value_codec.h"

namespace ferry {
namespace {

using namespace ferry::mysql::binlog;
using ::ferry::testing::MysqlUri;
using ::ferry::testing::Open;
using ::ferry::testing::WithDatabase;

using ::ferry::testing::CollectSink;

constexpr const char* kDb = "it_my_binlog";

constexpr const char* kDdl = R"sql(
CREATE TABLE bl (
  id int NOT NULL PRIMARY KEY,
  ti tinyint, tiu tinyint unsigned, flag boolean, si smallint, siu smallint unsigned,
  mi mediumint, miu mediumint unsigned, i int, iu int unsigned, bi bigint, biu bigint unsigned,
  d decimal(65,30), d2 decimal(10,2), d0 decimal(18,0), du decimal(9,4) unsigned,
  f float, db double,
  yr year, dt date, tm time, tm3 time(3), tm6 time(6), dtm datetime, dtm1 datetime(1),
  dtm6 datetime(6), ts timestamp NULL, ts4 timestamp(4) NULL,
  c char(10), c255 char(255), vc varchar(300), vc5 varchar(5), lat varchar(20) CHARACTER SET latin1,
  tt tinytext, tx text, mt mediumtext, lt longtext,
  bin binary(16), vb varbinary(300), tb tinyblob, bl blob, mb mediumblob, lb longblob,
  b1 bit(1), b10 bit(10), b64 bit(64),
  en enum('a','b','it''s','é'), st set('x','y','z','ü'), js json, g geometry, p point
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4)sql";

// Rows: 1 minimums, 2 maximums, 3 NULLs, 4 zero dates and empties, 5 text and long bytes.
const char* const kInserts[] = {
    "INSERT INTO bl VALUES (1, -128, 0, 0, -32768, 0, -8388608, 0, -2147483648, 0, "
    "-9223372036854775808, 0, "
    "'-99999999999999999999999999999999999.999999999999999999999999999999', -12345678.91, "
    "-999999999999999999, 0, -3.4028234663852886e38, -1.7976931348623157e308, 1901, '1000-01-01', "
    "'-838:59:59', '-838:59:59.999', '-00:00:00.000001', '1000-01-01 00:00:00', "
    "'1000-01-01 00:00:00.1', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01', "
    "'1970-01-01 00:00:01.0001', 'a', '', '', 'x', 'abc', '', '', '', '', "
    "UNHEX('00000000000000000000000000000001'), '', '', '', '', '', b'0', b'0000000000', "
    "b'0', 'a', '', '[]', ST_GeomFromText('POINT(0 0)'), ST_GeomFromText('POINT(-1 -2)', 4326))",
    "INSERT INTO bl VALUES (2, 127, 255, 1, 32767, 65535, 8388607, 16777215, 2147483647, "
    "4294967295, 9223372036854775807, 18446744073709551615, "
    "'99999999999999999999999999999999999.999999999999999999999999999999', 99999999.99, "
    "999999999999999999, 99999.9999, 3.4028234663852886e38, 1.7976931348623157e308, 2155, "
    "'9999-12-31', '838:59:59', '838:59:59.999', '838:59:59.999999', '9999-12-31 23:59:59', "
    "'9999-12-31 23:59:59.9', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07', "
    "'2038-01-19 03:14:07.9999', 'abcdefghij', REPEAT('ü', 255), REPEAT('x', 300), 'ñ日本語🎉', "
    "'caf\xC3\xA9 \xE2\x82\xAC', REPEAT('t', 255), REPEAT('text ✓ ', 5000), "
    "REPEAT('m', 70000), REPEAT('long 😀 ', 40000), UNHEX('FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF'), "
    "UNHEX('00FF00FF'), UNHEX('00'), UNHEX('DEADBEEF'), REPEAT(UNHEX('5A00'), 40000), "
    "REPEAT(UNHEX('A5'), 300000), b'1', b'1111111111', "
    "b'1111111111111111111111111111111111111111111111111111111111111111', 'é', 'x,y,z,ü', "
    "'{\"k\": [1, 2.5, \"\\\\u00e9\", null, true, {\"n\": {}}]}', "
    "ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'), ST_GeomFromText('POINT(1.5 2.5)'))",
    "INSERT INTO bl (id) VALUES (3)",
    "INSERT INTO bl (id, dt, dtm, dtm6, ts, ts4, c, vc, tx, vb, lb, js, en, st, tm, f, db) "
    "VALUES (4, '0000-00-00', '0000-00-00 00:00:00', '2024-00-10 00:00:00', "
    "'0000-00-00 00:00:00', '0000-00-00 00:00:00', '', '', '', '', '', '{}', '', '', "
    "'00:00:00', 0.1, 0.1)",
    "INSERT INTO bl (id, vc, tx, lt, lb, f, db, d, tm6, dtm6, ts4, bin) VALUES (5, 'trailing  ', "
    "CONCAT('tab\\there\\nnewline\\\\back', X'F09F9880'), REPEAT('ab😀\\t\\n\\\\', 100000), "
    "REPEAT(UNHEX('005C0A0D095C4E1A'), 150000), 1.17549435e-38, 2.2250738585072014e-308, "
    "'-0.000000000000000000000000000001', '-00:00:01.5', '2024-02-29 12:34:56.5', "
    "'2000-01-01 00:00:00.0001', UNHEX('AB000000000000000000000000000000'))",
};

const char* const kChanges[] = {
    "UPDATE bl SET i = 42, vc = 'updated', dtm6 = '2001-02-03 04:05:06.000007', lb = 'short', "
    "en = 'b', st = '', js = '{\"a\": 1}' WHERE id = 2",
    "UPDATE bl SET tx = NULL, lt = 'small now', dt = '2024-02-29' WHERE id = 5",
    "DELETE FROM bl WHERE id = 3",
    "BEGIN; INSERT INTO bl (id, vc, b10) VALUES (6, 'in a transaction', b'1000000001'); "
    "UPDATE bl SET ti = -1 WHERE id = 1; COMMIT",
};

// Every row of a scan by id.
std::map<int64_t, std::pair<const Batch*, size_t>> ById(const CollectSink& sink) {
  std::map<int64_t, std::pair<const Batch*, size_t>> out;
  for (const Batch& b : sink.batches) {
    for (size_t r = 0; r < b.rows(); ++r) out[b.at(r, 0).i] = {&b, r};
  }
  return out;
}

// Values compared (non-NULL cells), to show the comparison ran.
int g_compared = 0;

// Cell by cell, the encoded bytes: NULL and unchanged flags, then the value per Storage.
void ExpectSameRow(const TableDef& t, const Batch& want, size_t wr, const Batch& got, size_t gr,
                   const std::string& what) {
  for (int c = 0; c < static_cast<int>(t.columns.size()); ++c) {
    SCOPED_TRACE(what + " column " + t.columns[c].name + " (" + t.columns[c].native_type + ")");
    const Cell& a = want.at(wr, c);
    const Cell& b = got.at(gr, c);
    ASSERT_EQ(a.null, b.null);
    ASSERT_EQ(a.unchanged, b.unchanged);
    if (a.null) continue;
    ++g_compared;
    switch (StorageOf(t.columns[c].type.kind)) {
      case Storage::kInt:
        EXPECT_EQ(a.i, b.i);
        break;
      case Storage::kUint:
        EXPECT_EQ(a.u, b.u);
        break;
      case Storage::kDouble:
        EXPECT_EQ(std::bit_cast<uint64_t>(a.d), std::bit_cast<uint64_t>(b.d))
            << a.d << " vs " << b.d;
        break;
      case Storage::kBytes: {
        const std::string_view x = want.Bytes(wr, c), y = got.Bytes(gr, c);
        EXPECT_EQ(x.size(), y.size());
        EXPECT_TRUE(x == y) << "'" << x.substr(0, 80) << "' vs '" << y.substr(0, 80) << "'";
        break;
      }
    }
  }
}

struct BinlogChange {
  RowsKind kind;
  RowChange change;
};

// The server settings a scenario runs under (global, dynamic), and how to put them back.
struct Scenario {
  const char* name;
  const char* settings;  // SET GLOBAL ...; run before the binlog is rotated
};

class MysqlBinlogTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(MysqlBinlogTest, DecodedRowsEqualTheReadersCells) {
  FERRY_REQUIRE_MYSQL();
  auto admin = Open(MysqlUri())->OpenSession();
  const auto before = admin->Query(
      "SELECT @@global.binlog_checksum, @@global.log_bin_compress, "
      "@@global.log_bin_compress_min_len, @@global.binlog_row_metadata");
  ASSERT_EQ(before.size(), 1u);
  struct Restore {
    SqlSession* s;
    std::string sql;
    ~Restore() {
      try {
        s->Execute(sql);
      } catch (...) {
      }
    }
  } restore{admin.get(), "SET GLOBAL binlog_checksum=" + before[0][0].value_or("CRC32") +
                             ", GLOBAL log_bin_compress=" + before[0][1].value_or("OFF") +
                             ", GLOBAL log_bin_compress_min_len=" + before[0][2].value_or("256") +
                             ", GLOBAL binlog_row_metadata=" + before[0][3].value_or("FULL")};
  if (*GetParam().settings) admin->Execute(GetParam().settings);
  admin->Execute(std::string("DROP DATABASE IF EXISTS ") + kDb + "; CREATE DATABASE " + kDb +
                 " CHARACTER SET utf8mb4");
  auto src = Open(WithDatabase(MysqlUri(), kDb));
  auto s = src->OpenSession();
  s->Execute(kDdl);
  const auto basename = admin->Query("SELECT @@log_bin_basename, @@binlog_row_image");
  ASSERT_EQ(basename.size(), 1u);
  ASSERT_TRUE(basename[0][0].has_value()) << "the server runs without --log-bin";
  if (basename[0][1].value_or("") != "FULL") GTEST_SKIP() << "binlog_row_image is not FULL";
  const std::string dir = basename[0][0]->substr(0, basename[0][0]->rfind('/') + 1);

  admin->Execute("FLUSH BINARY LOGS");
  const auto status = admin->Query("SHOW MASTER STATUS");
  const std::string file = *status[0][0];
  s->Execute("SET SESSION sql_mode = ''");  // zero dates
  for (const char* sql : kInserts) s->Execute(sql);

  TableDef t = src->OpenCatalog()->GetTable(kDb, "bl");
  ScanOptions options;
  CollectSink after_inserts;
  src->OpenReader()->Scan(t, options, after_inserts);
  for (const char* sql : kChanges) s->Execute(sql);
  CollectSink at_end;
  src->OpenReader()->Scan(t, options, at_end);
  admin->Execute("FLUSH BINARY LOGS");  // closes `file`

  std::ifstream in(dir + file, std::ios::binary);
  if (!in.good()) GTEST_SKIP() << "cannot read the server's binlog file " << dir + file;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();

  // Decode: the rows of `bl`, in order.
  BinlogFileReader reader(bytes, file);
  EventDecoder decoder;
  decoder.set_file_name(file);
  std::map<uint64_t, TableMap> maps;
  std::vector<BinlogChange> changes;
  TableMap map;
  int compressed = 0;
  std::string_view ev;
  uint64_t pos;
  std::vector<Event> events;  // decoded values point into them (compressed rows: their own)
  while (reader.Next(&ev, &pos)) {
    const Event& e = events.emplace_back(decoder.Decode(ev, pos));
    if (const auto* tm = e.get<TableMap>()) maps[tm->table_id] = *tm;
    if (const auto* r = e.get<RowsEvent>()) {
      const TableMap& m = maps.at(r->table_id);
      if (m.schema != kDb || m.table != "bl") continue;
      map = m;
      compressed += r->compressed;
      RowsCursor cursor(e, m);
      RowChange rc;
      while (cursor.Next(&rc)) changes.push_back({r->kind, rc});
    }
  }
  ASSERT_EQ(changes.size(), 5u + 5u);  // 5 inserts; 2 updates, 1 delete, 1 insert, 1 update

  BinlogRowConverter conv(t, map, mysql::ZeroDates{});
  Batch decoded(conv.columns());
  std::vector<CellWarning> warnings;
  auto append = [&](const RowImage& image) {
    conv.AppendImage(image, &decoded, &warnings);
    return decoded.rows() - 1;
  };

  // Inserts against the scan after the inserts.
  auto first = ById(after_inserts);
  ASSERT_EQ(first.size(), 5u);
  for (int k = 0; k < 5; ++k) {
    ASSERT_EQ(changes[k].kind, RowsKind::kWrite);
    const size_t row = append(changes[k].change.after);
    const int64_t id = decoded.at(row, 0).i;
    ASSERT_TRUE(first.count(id)) << id;
    ExpectSameRow(t, *first[id].first, first[id].second, decoded, row,
                  "insert of id " + std::to_string(id));
  }
  // The reader's zero-date warnings and the converter's are the same.
  std::vector<std::pair<int, std::string>> got_warnings;
  got_warnings.reserve(warnings.size());
  for (const auto& w : warnings) got_warnings.emplace_back(w.column, w.message);
  EXPECT_EQ(got_warnings, after_inserts.warnings);

  // Updates' before images are the rows as they were; replay the changes on the first scan's
  // rows to get the end state.
  std::map<int64_t, size_t> state;  // id -> row of `decoded`
  for (int k = 0; k < 5; ++k) state[decoded.at(k, 0).i] = k;
  for (size_t k = 5; k < changes.size(); ++k) {
    const BinlogChange& c = changes[k];
    if (c.kind != RowsKind::kWrite) {
      const size_t row = append(c.change.before);
      const int64_t id = decoded.at(row, 0).i;
      ASSERT_TRUE(state.count(id)) << id;
      ExpectSameRow(t, decoded, state[id], decoded, row,
                    "before image of id " + std::to_string(id));
      state.erase(id);
    }
    if (c.kind != RowsKind::kDelete) {
      const size_t row = append(c.change.after);
      state[decoded.at(row, 0).i] = row;
    }
  }
  auto last = ById(at_end);
  ASSERT_EQ(last.size(), state.size());
  for (const auto& [id, row] : state) {
    ASSERT_TRUE(last.count(id)) << id;
    ExpectSameRow(t, *last[id].first, last[id].second, decoded, row,
                  "end state of id " + std::to_string(id));
  }
  // 5 inserted rows, 4 before images, 5 rows at the end, most of 52 columns set.
  EXPECT_GT(g_compared, 300);
  EXPECT_FALSE(warnings.empty());  // the zero dates
  // The scenario's settings showed in the events.
  EXPECT_EQ(decoder.checksum(), std::string(GetParam().name) == "nochecksum_compressed"
                                    ? Checksum::kOff
                                    : Checksum::kCrc32);
  EXPECT_EQ(map.has_names, std::string(GetParam().name) != "minimal_metadata");
  EXPECT_EQ(compressed > 0, std::string(GetParam().name) == "nochecksum_compressed");
}

INSTANTIATE_TEST_SUITE_P(
    Settings, MysqlBinlogTest,
    ::testing::Values(Scenario{"full", ""},
                      Scenario{"nochecksum_compressed",
                               "SET GLOBAL binlog_checksum=NONE, GLOBAL log_bin_compress=ON, "
                               "GLOBAL log_bin_compress_min_len=10"},
                      Scenario{"minimal_metadata", "SET GLOBAL binlog_row_metadata=MINIMAL"}),
    [](const ::testing::TestParamInfo<Scenario>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ferry
