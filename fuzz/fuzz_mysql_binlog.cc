// Fuzzes the MySQL/MariaDB binlog decoder (connectors/mysql/my_binlog_event.h,
// my_binlog_rows.h, my_binlog_cells.h): events from a replica connection or a binlog file are
// outside input.
//
// Input layout: the first byte holds flags (bit 0: the checksum in force before the first
// FORMAT_DESCRIPTION is CRC32, bit 1: checksums are not verified); the rest is a sequence of
// whole events, each as long as its header's event_size says (a last event that runs past the
// end is given as it is, so the size check is fuzzed too). One EventDecoder decodes them in
// order (a FORMAT_DESCRIPTION changes its state). TABLE_MAPs are kept by table id; a rows
// event's rows are decoded with its map's RowsCursor and each image converted to cells by a
// BinlogRowConverter over a table built from the map (a native type per column type, with the
// map's signedness and members), under each zero_dates policy in turn. A TRANSACTION_PAYLOAD's
// inner events go through the same path.
// Invariants: no crash, no sanitizer report; errors are ferry::Error of kind kData (malformed
// input), kUnsupported (a column type the decoder does not convert) or kSchema (a map the
// converter cannot use); a converted image appends exactly one row, or none after a RowError.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/connector.h"
#include "connectors/mysql/my_binlog_cells.h"
#include "connectors/mysql/my_binlog_event.h"
#include "connectors/mysql/my_binlog_rows.h"
#include "connectors/mysql/my_types.h"

namespace {

using namespace ferry;
using namespace ferry::mysql;
using namespace ferry::mysql::binlog;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz_mysql_binlog: %s\n", what);
  std::abort();
}

std::string Members(const std::vector<std::string>& members, size_t fallback) {
  std::string s;
  const size_t n = members.empty() ? fallback : members.size();
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ",";
    s += "'" + (members.empty() ? "m" + std::to_string(i) : members[i]) + "'";
  }
  return s;
}

// A native type the catalog could have printed for a TABLE_MAP column.
std::string NativeTypeFor(const TableMapColumn& c) {
  const std::string u = c.is_unsigned.value_or(false) ? " unsigned" : "";
  switch (static_cast<ColumnType>(c.type)) {
    case ColumnType::kTiny:
      return "tinyint(4)" + u;
    case ColumnType::kShort:
      return "smallint(6)" + u;
    case ColumnType::kInt24:
      return "mediumint(9)" + u;
    case ColumnType::kLong:
      return "int(11)" + u;
    case ColumnType::kLongLong:
      return "bigint(20)" + u;
    case ColumnType::kFloat:
      return "float";
    case ColumnType::kDouble:
      return "double";
    case ColumnType::kNewDecimal:
      return "decimal(" + std::to_string(c.precision) + "," + std::to_string(c.scale) + ")";
    case ColumnType::kYear:
      return "year(4)";
    case ColumnType::kDate:
    case ColumnType::kNewDate:
      return "date";
    case ColumnType::kTime:
    case ColumnType::kTime2:
      return "time(" + std::to_string(c.fsp) + ")";
    case ColumnType::kDatetime:
    case ColumnType::kDatetime2:
      return "datetime(" + std::to_string(c.fsp) + ")";
    case ColumnType::kTimestamp:
    case ColumnType::kTimestamp2:
      return "timestamp(" + std::to_string(c.fsp) + ")";
    case ColumnType::kVarchar:
    case ColumnType::kVarString:
      return (c.collation == 63u ? "varbinary(" : "varchar(") + std::to_string(c.max_length) + ")";
    case ColumnType::kString:
    case ColumnType::kEnum:
    case ColumnType::kSet:
      if (c.real_type == static_cast<uint8_t>(ColumnType::kEnum)) {
        return "enum(" + Members(c.enum_values, c.pack_length == 1 ? 3 : 300) + ")";
      }
      if (c.real_type == static_cast<uint8_t>(ColumnType::kSet)) {
        return "set(" + Members(c.set_values, size_t{c.pack_length} * 8) + ")";
      }
      return (c.collation == 63u ? "binary(" : "char(") + std::to_string(c.max_length) + ")";
    case ColumnType::kBit:
      return "bit(" + std::to_string(c.bits) + ")";
    case ColumnType::kJson:
      return "json";
    case ColumnType::kGeometry:
      return "geometry";
    default:
      return c.collation == 63u ? "longblob" : "longtext";
  }
}

TableDef TableFor(const TableMap& map) {
  TableDef t;
  t.engine = Engine::kMysql;
  t.schema = map.schema;
  t.name = map.table;
  for (size_t i = 0; i < map.columns.size(); ++i) {
    ColumnDef c;
    c.name = map.has_names ? map.columns[i].name : "c" + std::to_string(i);
    c.native_type = NativeTypeFor(map.columns[i]);
    c.type = DmsTypeForNative(ParseNativeType(c.native_type));
    c.nullable = map.columns[i].nullable;
    t.columns.push_back(c);
  }
  if (!t.columns.empty()) t.primary_key = {t.columns[0].name};
  return t;
}

void CheckKind(const Error& e) {
  if (e.kind() != ErrorKind::kData && e.kind() != ErrorKind::kUnsupported &&
      e.kind() != ErrorKind::kSchema) {
    std::fprintf(stderr, "%s\n", e.what());
    Fail("unexpected error kind");
  }
}

void Convert(const TableMap& map, const RowImage& image) {
  static const ZeroDates kPolicies[] = {ParseZeroDates("null"), ParseZeroDates("refuse"),
                                        ParseZeroDates("0001-01-01")};
  const TableDef table = TableFor(map);
  for (const ZeroDates& zd : kPolicies) {
    try {
      BinlogRowConverter conv(table, map, zd);
      Batch b(conv.columns());
      std::vector<CellWarning> warnings;
      try {
        conv.AppendImage(image, &b, &warnings);
        if (b.rows() != 1 || b.cell_count() != static_cast<size_t>(conv.columns())) {
          Fail("a converted image is not one whole row");
        }
      } catch (const RowError& e) {
        if (b.cell_count() != 0) Fail("a refused row left cells behind");
      }
    } catch (const Error& e) {
      CheckKind(e);
    }
  }
}

void Handle(EventDecoder& dec, const Event& e, std::map<uint64_t, TableMap>& maps, int depth) {
  if (const auto* t = e.get<TableMap>()) maps[t->table_id] = *t;
  if (const auto* r = e.get<RowsEvent>()) {
    auto it = maps.find(r->table_id);
    if (it == maps.end()) return;
    try {
      RowsCursor cursor(e, it->second);
      RowChange rc;
      for (int n = 0; n < 64 && cursor.Next(&rc); ++n) {
        const RowImage& image = r->kind == RowsKind::kDelete ? rc.before : rc.after;
        if (image.values.size() != it->second.columns.size()) Fail("image size");
        Convert(it->second, image);
      }
    } catch (const Error& err) {
      CheckKind(err);
    }
  }
  if (e.get<TransactionPayload>() && depth == 0) {
    try {
      for (const Event& inner : dec.InnerEvents(e)) Handle(dec, inner, maps, depth + 1);
    } catch (const Error& err) {
      CheckKind(err);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  EventDecoder dec;
  if (flags & 1) dec.set_checksum(Checksum::kCrc32);
  if (flags & 2) dec.set_verify_checksums(false);
  std::map<uint64_t, TableMap> maps;
  uint64_t pos = 4;
  while (rest.size() >= kHeaderSize) {
    const EventHeader h = ParseEventHeader(rest, pos);
    const size_t n = h.event_size < kHeaderSize || h.event_size > rest.size()
                         ? rest.size()
                         : static_cast<size_t>(h.event_size);
    try {
      Event e = dec.Decode(rest.substr(0, n), pos);
      Handle(dec, e, maps, 0);
    } catch (const Error& err) {
      CheckKind(err);
    }
    rest.remove_prefix(n);
    pos += n;
  }
  return 0;
}
