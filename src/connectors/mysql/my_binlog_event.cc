#include "connectors/mysql/my_binlog_event.h"

#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "connectors/mysql/my_binlog_bytes.h"

namespace ferry::mysql::binlog {

namespace {

// Largest body Ferry inflates (a compressed rows event or a transaction payload). The servers
// cap an event at max_allowed_packet, 1 GiB.
constexpr uint64_t kMaxInflated = uint64_t{1} << 30;

struct TypeName {
  uint8_t code;
  const char* name;
};
constexpr TypeName kEventNames[] = {
    {0, "UNKNOWN_EVENT"},
    {1, "START_EVENT_V3"},
    {2, "QUERY_EVENT"},
    {3, "STOP_EVENT"},
    {4, "ROTATE_EVENT"},
    {5, "INTVAR_EVENT"},
    {6, "LOAD_EVENT"},
    {7, "SLAVE_EVENT"},
    {8, "CREATE_FILE_EVENT"},
    {9, "APPEND_BLOCK_EVENT"},
    {10, "EXEC_LOAD_EVENT"},
    {11, "DELETE_FILE_EVENT"},
    {12, "NEW_LOAD_EVENT"},
    {13, "RAND_EVENT"},
    {14, "USER_VAR_EVENT"},
    {15, "FORMAT_DESCRIPTION_EVENT"},
    {16, "XID_EVENT"},
    {17, "BEGIN_LOAD_QUERY_EVENT"},
    {18, "EXECUTE_LOAD_QUERY_EVENT"},
    {19, "TABLE_MAP_EVENT"},
    {20, "PRE_GA_WRITE_ROWS_EVENT"},
    {21, "PRE_GA_UPDATE_ROWS_EVENT"},
    {22, "PRE_GA_DELETE_ROWS_EVENT"},
    {23, "WRITE_ROWS_EVENT_V1"},
    {24, "UPDATE_ROWS_EVENT_V1"},
    {25, "DELETE_ROWS_EVENT_V1"},
    {26, "INCIDENT_EVENT"},
    {27, "HEARTBEAT_LOG_EVENT"},
    {28, "IGNORABLE_LOG_EVENT"},
    {29, "ROWS_QUERY_LOG_EVENT"},
    {30, "WRITE_ROWS_EVENT"},
    {31, "UPDATE_ROWS_EVENT"},
    {32, "DELETE_ROWS_EVENT"},
    {33, "GTID_LOG_EVENT"},
    {34, "ANONYMOUS_GTID_LOG_EVENT"},
    {35, "PREVIOUS_GTIDS_LOG_EVENT"},
    {36, "TRANSACTION_CONTEXT_EVENT"},
    {37, "VIEW_CHANGE_EVENT"},
    {38, "XA_PREPARE_LOG_EVENT"},
    {39, "PARTIAL_UPDATE_ROWS_EVENT"},
    {40, "TRANSACTION_PAYLOAD_EVENT"},
    {41, "HEARTBEAT_LOG_EVENT_V2"},
    {42, "GTID_TAGGED_LOG_EVENT"},
    {160, "ANNOTATE_ROWS_EVENT"},
    {161, "BINLOG_CHECKPOINT_EVENT"},
    {162, "GTID_EVENT"},
    {163, "GTID_LIST_EVENT"},
    {164, "START_ENCRYPTION_EVENT"},
    {165, "QUERY_COMPRESSED_EVENT"},
    {166, "WRITE_ROWS_COMPRESSED_EVENT_V1"},
    {167, "UPDATE_ROWS_COMPRESSED_EVENT_V1"},
    {168, "DELETE_ROWS_COMPRESSED_EVENT_V1"},
    {169, "WRITE_ROWS_COMPRESSED_EVENT"},
    {170, "UPDATE_ROWS_COMPRESSED_EVENT"},
    {171, "DELETE_ROWS_COMPRESSED_EVENT"},
};

constexpr TypeName kColumnTypeNames[] = {
    {0, "DECIMAL"},
    {1, "TINY"},
    {2, "SHORT"},
    {3, "LONG"},
    {4, "FLOAT"},
    {5, "DOUBLE"},
    {6, "NULL"},
    {7, "TIMESTAMP"},
    {8, "LONGLONG"},
    {9, "INT24"},
    {10, "DATE"},
    {11, "TIME"},
    {12, "DATETIME"},
    {13, "YEAR"},
    {14, "NEWDATE"},
    {15, "VARCHAR"},
    {16, "BIT"},
    {17, "TIMESTAMP2"},
    {18, "DATETIME2"},
    {19, "TIME2"},
    {20, "TYPED_ARRAY"},
    {140, "BLOB_COMPRESSED"},
    {141, "VARCHAR_COMPRESSED"},
    {245, "JSON"},
    {246, "NEWDECIMAL"},
    {247, "ENUM"},
    {248, "SET"},
    {249, "TINY_BLOB"},
    {250, "MEDIUM_BLOB"},
    {251, "LONG_BLOB"},
    {252, "BLOB"},
    {253, "VAR_STRING"},
    {254, "STRING"},
    {255, "GEOMETRY"},
};

// MySQL 5.6.1+ and MariaDB 5.3+ end a FORMAT_DESCRIPTION with the checksum algorithm and
// room for a checksum.
bool ChecksumAware(std::string_view version, bool mariadb) {
  int parts[3] = {0, 0, 0};
  const char* p = version.data();
  const char* end = p + version.size();
  for (int i = 0; i < 3 && p < end; ++i) {
    auto res = std::from_chars(p, end, parts[i]);
    if (res.ec != std::errc()) break;
    p = res.ptr;
    if (p < end && *p == '.') ++p;
  }
  for (int& p : parts) p = std::clamp(p, 0, 99);  // any version text is outside input
  const int v = parts[0] * 10000 + parts[1] * 100 + parts[2];
  return mariadb ? v >= 50300 : v >= 50601;
}

// MariaDB's compressed bodies: one header byte 0x80 | n (n = bytes of the length, 1-4; bits
// 4-6 the algorithm, 0 = zlib), the uncompressed length big-endian in n bytes, then a zlib
// stream. Inflates into `out` (growing it as output arrives, never beyond the stated length).
void InflateMariaDb(std::string_view src, const ErrorContext& ctx, std::string* out) {
  ByteReader r(src, ctx);
  const uint8_t head = r.U8("compressed body header");
  const uint8_t lenlen = head & 0x07;
  const uint8_t algorithm = (head >> 4) & 0x07;
  if (lenlen < 1 || lenlen > 4) {
    r.Fail(fmt::format("compressed body header 0x{:02x}: expected 1 to 4 length bytes", head));
  }
  if (algorithm != 0) {
    r.Fail(fmt::format("compressed body header 0x{:02x}: algorithm {} (expected 0, zlib)", head,
                       algorithm));
  }
  const uint64_t expected = r.Be(lenlen, "uncompressed length");
  std::string_view in = r.Rest();
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) ThrowData(ctx, "zlib inflateInit failed");
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out->clear();
  out->resize(static_cast<size_t>(std::min<uint64_t>(expected, 1 << 16)));
  int rc = Z_OK;
  while (true) {
    if (zs.total_out == out->size()) {
      if (out->size() >= expected) {
        // Full: the stream must end here (one more call tells).
        char probe;
        zs.next_out = reinterpret_cast<Bytef*>(&probe);
        zs.avail_out = 1;
        rc = inflate(&zs, Z_FINISH);
        if (rc == Z_STREAM_END && zs.total_out == expected) break;
        ThrowData(ctx, fmt::format("compressed body inflates to more than its stated {} bytes",
                                   expected));
      }
      out->resize(static_cast<size_t>(std::min<uint64_t>(expected, out->size() * 2)));
    }
    zs.next_out = reinterpret_cast<Bytef*>(out->data() + zs.total_out);
    zs.avail_out = static_cast<uInt>(out->size() - zs.total_out);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK) {
      ThrowData(ctx, fmt::format("compressed body does not inflate (zlib {}: {})", rc,
                                 zs.msg ? zs.msg : "?"));
    }
  }
  if (zs.total_out != expected) {
    ThrowData(ctx, fmt::format("compressed body inflates to {} bytes, its header says {}",
                               zs.total_out, expected));
  }
  out->resize(zs.total_out);
}

void InflateZstd(std::string_view src, uint64_t expected, const ErrorContext& ctx,
                 std::string* out) {
  if (expected > kMaxInflated) {
    ThrowData(ctx, fmt::format("transaction payload of {} uncompressed bytes (at most {})",
                               expected, kMaxInflated));
  }
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (!ds) ThrowData(ctx, "ZSTD_createDStream failed");
  struct Free {
    ZSTD_DStream* ds;
    ~Free() { ZSTD_freeDStream(ds); }
  } free_ds{ds};
  ZSTD_initDStream(ds);
  ZSTD_inBuffer in{src.data(), src.size(), 0};
  out->clear();
  out->resize(static_cast<size_t>(std::min<uint64_t>(expected, 1 << 16)));
  size_t produced = 0;
  while (true) {
    if (produced == out->size()) {
      if (out->size() >= expected) break;
      out->resize(static_cast<size_t>(std::min<uint64_t>(expected, out->size() * 2)));
    }
    ZSTD_outBuffer ob{out->data() + produced, out->size() - produced, 0};
    const size_t rc = ZSTD_decompressStream(ds, &ob, &in);
    produced += ob.pos;
    if (ZSTD_isError(rc)) {
      ThrowData(ctx, fmt::format("transaction payload does not decompress (zstd: {})",
                                 ZSTD_getErrorName(rc)));
    }
    if (rc == 0) break;  // frame complete
    if (ob.pos == 0 && in.pos == in.size) {
      ThrowData(ctx, "transaction payload: zstd frame cut off");
    }
  }
  if (produced != expected || in.pos != in.size) {
    ThrowData(ctx, fmt::format("transaction payload decompresses to {} bytes (of {} input "
                               "bytes read {}), its header says {}",
                               produced, src.size(), in.pos, expected));
  }
  out->resize(produced);
}

// The status variables of a QUERY event this decoder knows; stops at the first unknown code
// (their lengths are implicit, as the servers' own decoders do).
void ParseStatusVars(ByteReader r, Query* q) {
  while (!r.empty()) {
    const uint8_t code = r.U8("status variable code");
    switch (code) {
      case 0:
        q->flags2 = r.U32("Q_FLAGS2_CODE");
        break;
      case 1:
        q->sql_mode = r.U64("Q_SQL_MODE_CODE");
        break;
      case 2: {  // Q_CATALOG_CODE: length, text, NUL
        const uint8_t n = r.U8("Q_CATALOG_CODE length");
        r.Skip(n + 1u, "Q_CATALOG_CODE");
        break;
      }
      case 3:
        r.Skip(4, "Q_AUTO_INCREMENT");
        break;
      case 4: {
        std::array<uint16_t, 3> cs{};
        for (auto& c : cs) c = r.U16("Q_CHARSET_CODE");
        q->charset = cs;
        break;
      }
      case 5: {
        const uint8_t n = r.U8("Q_TIME_ZONE_CODE length");
        q->time_zone = r.Bytes(n, "Q_TIME_ZONE_CODE");
        break;
      }
      case 6: {
        const uint8_t n = r.U8("Q_CATALOG_NZ_CODE length");
        r.Skip(n, "Q_CATALOG_NZ_CODE");
        break;
      }
      case 7:
        r.Skip(2, "Q_LC_TIME_NAMES_CODE");
        break;
      case 8:
        q->database_collation = r.U16("Q_CHARSET_DATABASE_CODE");
        break;
      case 9:
        r.Skip(8, "Q_TABLE_MAP_FOR_UPDATE_CODE");
        break;
      case 10:
        r.Skip(4, "Q_MASTER_DATA_WRITTEN_CODE");
        break;
      case 11: {
        const uint8_t user = r.U8("Q_INVOKER user length");
        r.Skip(user, "Q_INVOKER user");
        const uint8_t host = r.U8("Q_INVOKER host length");
        r.Skip(host, "Q_INVOKER host");
        break;
      }
      case 12: {
        const uint8_t count = r.U8("Q_UPDATED_DB_NAMES count");
        if (count == 254) break;  // OVER_MAX_DBS_IN_EVENT_MTS: no names follow
        for (int i = 0; i < count; ++i) {
          while (r.U8("Q_UPDATED_DB_NAMES name") != 0) {
          }
        }
        break;
      }
      case 13:
        q->microseconds = static_cast<uint32_t>(r.Le(3, "Q_MICROSECONDS"));
        break;
      case 16:
        r.Skip(1, "Q_EXPLICIT_DEFAULTS_FOR_TIMESTAMP");
        break;
      case 17:
        r.Skip(8, "Q_DDL_LOGGED_WITH_XID");
        break;
      case 18:
        r.Skip(2, "Q_DEFAULT_COLLATION_FOR_UTF8MB4");
        break;
      case 19:
      case 20:
        r.Skip(1, "Q_SQL_REQUIRE_PRIMARY_KEY / Q_DEFAULT_TABLE_ENCRYPTION");
        break;
      case 128:
        r.Skip(3, "Q_HRNOW");
        break;
      case 129:
        q->xid = r.U64("Q_XID");
        break;
      case 130:
        r.Skip(1, "Q_GTID_FLAGS3");
        break;
      default:
        return;
    }
  }
}

// The columns the charset fields of the optional metadata list. MariaDB also counts GEOMETRY
// (a BLOB to it) among the character columns, and YEAR (an unsigned TINY to it) among the
// numeric ones of SIGNEDNESS; MySQL does not.
bool IsCharacterColumn(const TableMapColumn& c, bool mariadb) {
  if (mariadb && c.type == static_cast<uint8_t>(ColumnType::kGeometry)) return true;
  switch (static_cast<ColumnType>(c.real_type)) {
    case ColumnType::kString:
    case ColumnType::kVarString:
    case ColumnType::kVarchar:
    case ColumnType::kBlob:
    case ColumnType::kTinyBlob:
    case ColumnType::kMediumBlob:
    case ColumnType::kLongBlob:
      return true;
    default:
      return false;
  }
}

bool IsEnumOrSetColumn(const TableMapColumn& c) {
  return c.real_type == static_cast<uint8_t>(ColumnType::kEnum) ||
         c.real_type == static_cast<uint8_t>(ColumnType::kSet);
}

bool IsNumericColumn(const TableMapColumn& c, bool mariadb) {
  if (mariadb && c.type == static_cast<uint8_t>(ColumnType::kYear)) return true;
  switch (static_cast<ColumnType>(c.type)) {
    case ColumnType::kTiny:
    case ColumnType::kShort:
    case ColumnType::kInt24:
    case ColumnType::kLong:
    case ColumnType::kLongLong:
    case ColumnType::kFloat:
    case ColumnType::kDouble:
    case ColumnType::kNewDecimal:
      return true;
    default:
      return false;
  }
}

// Reads the metadata bytes of one column and unpacks them.
void ReadColumnMeta(ByteReader& r, TableMapColumn& c, size_t index) {
  const std::string what = fmt::format("metadata of column {} ({})", index, ColumnTypeName(c.type));
  switch (static_cast<ColumnType>(c.type)) {
    case ColumnType::kFloat:
    case ColumnType::kDouble:
      c.meta = r.U8(what);
      c.pack_length = static_cast<uint8_t>(c.meta);
      break;
    case ColumnType::kTinyBlob:
    case ColumnType::kMediumBlob:
    case ColumnType::kLongBlob:
    case ColumnType::kBlob:
    case ColumnType::kGeometry:
    case ColumnType::kJson:
    case ColumnType::kBlobCompressed:
      c.meta = r.U8(what);
      c.length_bytes = static_cast<uint8_t>(c.meta);
      if (c.length_bytes < 1 || c.length_bytes > 4) {
        r.Fail(fmt::format("{}: {} length bytes (expected 1 to 4)", what, c.length_bytes));
      }
      break;
    case ColumnType::kVarchar:
    case ColumnType::kVarString:
    case ColumnType::kVarcharCompressed:
      c.meta = r.U16(what);
      c.max_length = c.meta;
      break;
    case ColumnType::kBit: {
      const uint8_t rem = r.U8(what);
      const uint8_t bytes = r.U8(what);
      c.meta = static_cast<uint16_t>(rem | (bytes << 8));
      c.bits = static_cast<uint16_t>(bytes * 8 + rem);
      break;
    }
    case ColumnType::kNewDecimal: {
      c.precision = r.U8(what);
      c.scale = r.U8(what);
      c.meta = static_cast<uint16_t>((c.precision << 8) | c.scale);
      if (c.precision < 1 || c.precision > 65 || c.scale > 38 || c.scale > c.precision) {
        r.Fail(fmt::format("{}: DECIMAL({},{}) (expected precision 1-65, scale 0-38)", what,
                           c.precision, c.scale));
      }
      break;
    }
    case ColumnType::kString:
    case ColumnType::kEnum:
    case ColumnType::kSet: {
      const uint8_t b0 = r.U8(what);
      const uint8_t b1 = r.U8(what);
      c.meta = static_cast<uint16_t>((b0 << 8) | b1);
      // The real type's 0x30 bits carry bits 8-9 of the length (lengths up to 1023 bytes).
      if ((b0 & 0x30) != 0x30) {
        c.max_length = b1 | (((b0 & 0x30) ^ 0x30) << 4);
        c.real_type = b0 | 0x30;
      } else {
        c.max_length = b1;
        c.real_type = b0;
      }
      if (c.real_type == static_cast<uint8_t>(ColumnType::kEnum) ||
          c.real_type == static_cast<uint8_t>(ColumnType::kSet)) {
        c.pack_length = static_cast<uint8_t>(c.max_length);
        const bool is_enum = c.real_type == static_cast<uint8_t>(ColumnType::kEnum);
        if (is_enum ? (c.pack_length < 1 || c.pack_length > 2)
                    : (c.pack_length < 1 || c.pack_length > 8)) {
          r.Fail(fmt::format("{}: {} value of {} bytes", what, is_enum ? "ENUM" : "SET",
                             c.pack_length));
        }
      }
      break;
    }
    case ColumnType::kTimestamp2:
    case ColumnType::kDatetime2:
    case ColumnType::kTime2:
      c.meta = r.U8(what);
      c.fsp = static_cast<uint8_t>(c.meta);
      if (c.fsp > 6) r.Fail(fmt::format("{}: {} fractional digits (at most 6)", what, c.fsp));
      break;
    default:
      break;
  }
}

// binlog_row_metadata=FULL: type byte, packed length, value.
void ReadOptionalMetadata(ByteReader r, TableMap& t, bool mariadb) {
  std::vector<size_t> numeric, character, enum_set, enums, sets, geometry;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    const TableMapColumn& c = t.columns[i];
    if (IsNumericColumn(c, mariadb)) numeric.push_back(i);
    if (IsCharacterColumn(c, mariadb)) character.push_back(i);
    if (IsEnumOrSetColumn(c)) enum_set.push_back(i);
    if (c.real_type == static_cast<uint8_t>(ColumnType::kEnum)) enums.push_back(i);
    if (c.real_type == static_cast<uint8_t>(ColumnType::kSet)) sets.push_back(i);
    if (c.type == static_cast<uint8_t>(ColumnType::kGeometry)) geometry.push_back(i);
  }
  auto read_charsets = [&](ByteReader& f, const std::vector<size_t>& cols, bool with_default,
                           const char* what) {
    if (with_default) {
      const uint64_t def = f.Packed(what);
      for (size_t i : cols) t.columns[i].collation = static_cast<uint32_t>(def);
      while (!f.empty()) {
        const uint64_t k = f.Packed(what);
        const uint64_t coll = f.Packed(what);
        if (k >= cols.size()) {
          f.Fail(fmt::format("{}: column {} of {} such columns", what, k, cols.size()));
        }
        t.columns[cols[k]].collation = static_cast<uint32_t>(coll);
      }
    } else {
      for (size_t i : cols) t.columns[i].collation = static_cast<uint32_t>(f.Packed(what));
    }
  };
  auto read_members = [&](ByteReader& f, const std::vector<size_t>& cols, bool is_enum) {
    const char* what = is_enum ? "ENUM_STR_VALUE" : "SET_STR_VALUE";
    for (size_t i : cols) {
      const uint64_t n = f.Packed(what);
      if (n > f.remaining()) f.Fail(fmt::format("{}: {} members", what, n));
      auto& members = is_enum ? t.columns[i].enum_values : t.columns[i].set_values;
      members.clear();
      for (uint64_t k = 0; k < n; ++k) members.emplace_back(f.PackedString(what));
    }
  };
  auto msb_bitmap = [](ByteReader& f, size_t n, const char* what) {
    std::string_view bits = f.Bytes((n + 7) / 8, what);
    std::vector<bool> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = (static_cast<uint8_t>(bits[i / 8]) >> (7 - i % 8)) & 1;
    return out;
  };
  while (!r.empty()) {
    const uint8_t type = r.U8("optional metadata type");
    const uint64_t len = r.Packed("optional metadata length");
    if (len > r.remaining()) {
      r.Fail(
          fmt::format("optional metadata field {} of {} bytes, {} left", type, len, r.remaining()));
    }
    ByteReader f(r.Bytes(static_cast<size_t>(len), "optional metadata"), r.context(), r.offset());
    switch (type) {
      case 1: {  // SIGNEDNESS: one bit per numeric column, most significant first
        auto bits = msb_bitmap(f, numeric.size(), "SIGNEDNESS");
        for (size_t k = 0; k < numeric.size(); ++k) t.columns[numeric[k]].is_unsigned = bits[k];
        t.has_signedness = true;
        break;
      }
      case 2:
        read_charsets(f, character, true, "DEFAULT_CHARSET");
        t.has_charsets = true;
        break;
      case 3:
        read_charsets(f, character, false, "COLUMN_CHARSET");
        t.has_charsets = true;
        break;
      case 4:
        for (auto& c : t.columns) c.name = std::string(f.PackedString("COLUMN_NAME"));
        t.has_names = true;
        break;
      case 5:
        read_members(f, sets, false);
        break;
      case 6:
        read_members(f, enums, true);
        break;
      case 7:
        for (size_t i : geometry) {
          t.columns[i].geometry_type = static_cast<uint32_t>(f.Packed("GEOMETRY_TYPE"));
        }
        break;
      case 8:
      case 9:
        t.primary_key.clear();
        while (!f.empty()) {
          const uint64_t k = f.Packed("PRIMARY_KEY");
          if (type == 9) f.Packed("PRIMARY_KEY prefix");
          if (k >= t.columns.size()) {
            f.Fail(fmt::format("PRIMARY_KEY names column {} of {}", k, t.columns.size()));
          }
          t.primary_key.push_back(static_cast<uint32_t>(k));
          t.columns[k].in_primary_key = true;
        }
        t.has_primary_key = true;
        break;
      case 10:
        read_charsets(f, enum_set, true, "ENUM_AND_SET_DEFAULT_CHARSET");
        break;
      case 11:
        read_charsets(f, enum_set, false, "ENUM_AND_SET_COLUMN_CHARSET");
        break;
      case 12: {
        auto bits = msb_bitmap(f, t.columns.size(), "COLUMN_VISIBILITY");
        for (size_t i = 0; i < t.columns.size(); ++i) t.columns[i].visible = bits[i];
        break;
      }
      default:
        break;  // a newer field: skipped (its length is known)
    }
  }
}

std::vector<bool> LsbBitmap(ByteReader& r, size_t n, std::string_view what) {
  std::string_view bits = r.Bytes((n + 7) / 8, what);
  std::vector<bool> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = (static_cast<uint8_t>(bits[i / 8]) >> (i % 8)) & 1;
  return out;
}

// Column counts are bounded by the servers (4096 in MySQL); a larger count in a TABLE_MAP or
// rows event is malformed input, refused before anything is allocated for it.
constexpr uint64_t kMaxColumns = 4096;

}  // namespace

std::string EventTypeName(uint8_t type) {
  for (const auto& n : kEventNames) {
    if (n.code == type) return n.name;
  }
  return fmt::format("UNKNOWN_EVENT({})", type);
}

std::string ColumnTypeName(uint8_t type) {
  for (const auto& n : kColumnTypeNames) {
    if (n.code == type) return n.name;
  }
  return fmt::format("type {}", type);
}

std::string FormatUuid(const Uuid& u) {
  std::string s;
  for (size_t i = 0; i < u.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    fmt::format_to(std::back_inserter(s), "{:02x}", u[i]);
  }
  return s;
}

std::string FormatMariaGtid(const MariaGtidTriple& g) {
  return fmt::format("{}-{}-{}", g.domain_id, g.server_id, g.seq_no);
}

std::string FormatGtidSet(const std::vector<GtidSetEntry>& sets) {
  std::string s;
  for (const auto& e : sets) {
    if (!s.empty()) s.push_back(',');
    s += FormatUuid(e.sid);
    for (const auto& iv : e.intervals) {
      if (iv.end - 1 == iv.start) {
        fmt::format_to(std::back_inserter(s), ":{}", iv.start);
      } else {
        fmt::format_to(std::back_inserter(s), ":{}-{}", iv.start, iv.end - 1);
      }
    }
  }
  return s;
}

uint32_t Crc32(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large inputs in pieces.
  while (!bytes.empty()) {
    const size_t n = std::min<size_t>(bytes.size(), 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(n));
    bytes.remove_prefix(n);
  }
  return static_cast<uint32_t>(crc);
}

EventHeader ParseEventHeader(std::string_view bytes, uint64_t position) {
  ErrorContext ctx{"event", "", position};
  ByteReader r(bytes, ctx);
  EventHeader h;
  h.timestamp = r.U32("common header timestamp");
  h.type = r.U8("common header type");
  h.server_id = r.U32("common header server_id");
  h.event_size = r.U32("common header event_size");
  h.log_pos = r.U32("common header log_pos");
  h.flags = r.U16("common header flags");
  return h;
}

uint8_t EventDecoder::PostHeaderLength(uint8_t type, uint8_t fallback) const {
  if (has_fd_ && type >= 1 && type <= fd_.post_header_lengths.size()) {
    return fd_.post_header_lengths[type - 1];
  }
  return fallback;
}

Event EventDecoder::Decode(std::string_view bytes, uint64_t position) {
  const EventHeader h = ParseEventHeader(bytes, position);
  ErrorContext ctx{EventTypeName(h.type), file_, position};
  if (h.event_size != bytes.size()) {
    ThrowData(ctx, fmt::format("event_size {} in the header, but the event has {} bytes",
                               h.event_size, bytes.size()));
  }
  bool with_checksum = fd_.checksum == Checksum::kCrc32;
  if (h.type == static_cast<uint8_t>(EventType::kFormatDescription)) {
    with_checksum = false;  // DecodeBody reads the algorithm and checks the CRC itself
  }
  if (with_checksum) {
    if (bytes.size() < kHeaderSize + kChecksumSize) {
      ThrowData(ctx, fmt::format("{} bytes: no room for the CRC32 checksum", bytes.size()));
    }
    if (verify_) {
      const std::string_view covered = bytes.substr(0, bytes.size() - kChecksumSize);
      ByteReader tail(bytes.substr(bytes.size() - kChecksumSize), ctx, covered.size());
      const uint32_t stored = tail.U32("checksum");
      const uint32_t computed = Crc32(covered);
      if (stored != computed) {
        ThrowData(ctx, fmt::format("CRC32 checksum mismatch: stored 0x{:08x}, computed 0x{:08x}",
                                   stored, computed));
      }
    }
  }
  return DecodeBody(bytes, position, with_checksum, {});
}

std::vector<Event> EventDecoder::InnerEvents(const Event& payload) {
  const auto* p = payload.get<TransactionPayload>();
  ErrorContext ctx{EventTypeName(payload.header.type), file_, payload.position};
  if (!p) ThrowData(ctx, "not a TRANSACTION_PAYLOAD_EVENT");
  std::vector<Event> out;
  std::string_view rest = p->events;
  size_t offset = 0;
  while (!rest.empty()) {
    ByteReader r(rest, ctx, offset);
    const EventHeader h =
        ParseEventHeader(r.Bytes(kHeaderSize, "inner event header"), payload.position);
    if (h.event_size < kHeaderSize || h.event_size > rest.size()) {
      r.Fail(fmt::format("inner event {} of {} bytes, {} left in the payload",
                         EventTypeName(h.type), h.event_size, rest.size()));
    }
    out.push_back(DecodeBody(rest.substr(0, h.event_size), payload.position, false, payload.owned));
    rest.remove_prefix(h.event_size);
    offset += h.event_size;
  }
  return out;
}

Event EventDecoder::DecodeBody(std::string_view bytes, uint64_t position, bool with_checksum,
                               std::vector<std::shared_ptr<const std::string>> owned) {
  Event ev;
  ev.header = ParseEventHeader(bytes, position);
  ev.position = position;
  ev.owned = std::move(owned);
  const uint8_t type = ev.header.type;
  ErrorContext ctx{EventTypeName(type), file_, position};
  std::string_view body = bytes.substr(kHeaderSize);
  if (with_checksum) body.remove_suffix(kChecksumSize);
  ByteReader r(body, ctx, kHeaderSize);

  // Bodies Ferry inflates go into a buffer the event owns.
  auto own = [&ev](std::string s) -> std::string_view {
    auto p = std::make_shared<std::string>(std::move(s));
    std::string_view v = *p;
    ev.owned.push_back(std::move(p));
    return v;
  };

  switch (static_cast<EventType>(type)) {
    case EventType::kFormatDescription: {
      FormatDescription fd;
      fd.binlog_version = r.U16("binlog_version");
      std::string_view version = r.Bytes(50, "server_version");
      version = version.substr(0, version.find('\0'));
      fd.server_version = std::string(version);
      fd.mariadb = fd.server_version.find("MariaDB") != std::string::npos;
      fd.create_timestamp = r.U32("create_timestamp");
      fd.header_length = r.U8("header_length");
      if (fd.header_length < kHeaderSize) {
        r.Fail(fmt::format("header_length {} (at least {})", fd.header_length, kHeaderSize));
      }
      std::string_view lengths = r.Rest();
      if (ChecksumAware(fd.server_version, fd.mariadb)) {
        if (lengths.size() < 1 + kChecksumSize) {
          ThrowData(ctx, "no checksum algorithm byte at the end of the format description");
        }
        const uint8_t alg = static_cast<uint8_t>(lengths[lengths.size() - 1 - kChecksumSize]);
        if (alg != 0 && alg != 1) {
          ThrowData(ctx, fmt::format("checksum algorithm {} (expected 0 off or 1 CRC32)", alg));
        }
        fd.checksum = static_cast<Checksum>(alg);
        if (fd.checksum == Checksum::kCrc32 && verify_) {
          const std::string_view covered = bytes.substr(0, bytes.size() - kChecksumSize);
          ByteReader tail(bytes.substr(bytes.size() - kChecksumSize), ctx, covered.size());
          const uint32_t stored = tail.U32("checksum");
          if (stored != Crc32(covered)) {
            ThrowData(ctx, fmt::format("CRC32 checksum mismatch: stored 0x{:08x}, computed "
                                       "0x{:08x}",
                                       stored, Crc32(covered)));
          }
        }
        lengths.remove_suffix(1 + kChecksumSize);
      }
      fd.post_header_lengths.assign(lengths.begin(), lengths.end());
      fd_ = fd;
      has_fd_ = true;
      ev.body = std::move(fd);
      break;
    }
    case EventType::kRotate: {
      Rotate rot;
      const uint8_t ph = PostHeaderLength(type, 8);
      ByteReader post(r.Bytes(ph, "post-header"), ctx, kHeaderSize);
      rot.position = ph >= 8 ? post.U64("position") : 4;
      rot.next_file = r.Rest();
      ev.body = rot;
      break;
    }
    case EventType::kHeartbeat:
      ev.body = Heartbeat{r.Rest()};
      break;
    case EventType::kStop:
      ev.body = StopEvent{};
      break;
    case EventType::kQuery:
    case EventType::kQueryCompressed: {
      Query q;
      const uint8_t ph = PostHeaderLength(type, 13);
      if (ph < 11) r.Fail(fmt::format("post-header of {} bytes (at least 11)", ph));
      ByteReader post(r.Bytes(ph, "post-header"), ctx, kHeaderSize);
      q.thread_id = post.U32("thread_id");
      q.exec_time = post.U32("exec_time");
      const uint8_t db_len = post.U8("schema length");
      q.error_code = post.U16("error_code");
      const uint16_t vars_len = ph >= 13 ? post.U16("status_vars length") : 0;
      const size_t vars_at = r.offset();
      ParseStatusVars(ByteReader(r.Bytes(vars_len, "status variables"), ctx, kHeaderSize + vars_at),
                      &q);
      q.schema = r.Bytes(db_len, "schema");
      if (r.U8("schema terminator") != 0) r.Fail("schema not NUL-terminated");
      if (type == static_cast<uint8_t>(EventType::kQueryCompressed)) {
        std::string sql;
        InflateMariaDb(r.Rest(), ctx, &sql);
        q.sql = own(std::move(sql));
      } else {
        q.sql = r.Rest();
      }
      ev.body = q;
      break;
    }
    case EventType::kXid:
      ev.body = Xid{r.U64("xid")};
      break;
    case EventType::kMariaGtid: {
      MariaGtid g;
      g.seq_no = r.U64("seq_no");
      g.domain_id = r.U32("domain_id");
      g.flags = r.U8("flags2");
      g.server_id = ev.header.server_id;
      if (g.flags & MariaGtid::kFlGroupCommitId) g.commit_id = r.U64("commit_id");
      ev.body = g;
      break;
    }
    case EventType::kMariaGtidList: {
      MariaGtidList l;
      const uint32_t count = r.U32("count");
      l.flags = static_cast<uint8_t>(count >> 28);
      const uint32_t n = count & 0x0fffffff;
      if (uint64_t{n} * 16 > r.remaining()) {
        r.Fail(fmt::format("{} GTIDs need {} bytes, {} left", n, uint64_t{n} * 16, r.remaining()));
      }
      l.gtids.resize(n);
      for (auto& g : l.gtids) {
        g.domain_id = r.U32("domain_id");
        g.server_id = r.U32("server_id");
        g.seq_no = r.U64("seq_no");
      }
      ev.body = std::move(l);
      break;
    }
    case EventType::kAnnotateRows:
      ev.body = AnnotateRows{r.Rest()};
      break;
    case EventType::kBinlogCheckpoint: {
      const uint32_t n = r.U32("file name length");
      ev.body = BinlogCheckpoint{r.Bytes(n, "file name")};
      break;
    }
    case EventType::kGtid:
    case EventType::kAnonymousGtid: {
      MysqlGtid g;
      g.anonymous = type == static_cast<uint8_t>(EventType::kAnonymousGtid);
      g.flags = r.U8("flags");
      std::string_view sid = r.Bytes(16, "sid");
      std::memcpy(g.sid.data(), sid.data(), 16);
      g.gno = static_cast<int64_t>(r.U64("gno"));
      if (!r.empty()) {
        const uint8_t lt = r.U8("logical clock type");
        if (lt != 2) r.Fail(fmt::format("logical clock type {} (expected 2)", lt));
        g.last_committed = static_cast<int64_t>(r.U64("last_committed"));
        g.sequence_number = static_cast<int64_t>(r.U64("sequence_number"));
      }
      if (r.remaining() >= 7) {
        uint64_t ts = r.Le(7, "immediate_commit_timestamp");
        const bool has_original = ts & (uint64_t{1} << 55);
        ts &= ~(uint64_t{1} << 55);
        g.immediate_commit_timestamp = ts;
        g.original_commit_timestamp = has_original ? r.Le(7, "original_commit_timestamp") : ts;
        if (!r.empty()) g.transaction_length = r.Packed("transaction_length");
      }
      ev.body = g;
      break;
    }
    case EventType::kPreviousGtids: {
      PreviousGtids p;
      const uint64_t n = r.U64("number of sids");
      if (n > r.remaining() / 24) r.Fail(fmt::format("{} sids", n));
      p.sets.resize(static_cast<size_t>(n));
      for (auto& s : p.sets) {
        std::string_view sid = r.Bytes(16, "sid");
        std::memcpy(s.sid.data(), sid.data(), 16);
        const uint64_t k = r.U64("number of intervals");
        if (k > r.remaining() / 16) r.Fail(fmt::format("{} intervals", k));
        s.intervals.resize(static_cast<size_t>(k));
        for (auto& iv : s.intervals) {
          iv.start = static_cast<int64_t>(r.U64("interval start"));
          iv.end = static_cast<int64_t>(r.U64("interval end"));
        }
      }
      ev.body = std::move(p);
      break;
    }
    case EventType::kTableMap: {
      TableMap t;
      const uint8_t ph = PostHeaderLength(type, 8);
      if (ph < 6) r.Fail(fmt::format("post-header of {} bytes (at least 6)", ph));
      ByteReader post(r.Bytes(ph, "post-header"), ctx, kHeaderSize);
      t.table_id = post.Le(ph == 6 ? 4 : 6, "table_id");
      t.flags = post.U16("flags");
      const uint8_t schema_len = r.U8("schema length");
      t.schema = std::string(r.Bytes(schema_len, "schema name"));
      if (r.U8("schema terminator") != 0) r.Fail("schema name not NUL-terminated");
      const uint8_t table_len = r.U8("table length");
      t.table = std::string(r.Bytes(table_len, "table name"));
      if (r.U8("table terminator") != 0) r.Fail("table name not NUL-terminated");
      const uint64_t n = r.Packed("column count");
      if (n > kMaxColumns) r.Fail(fmt::format("{} columns (at most {})", n, kMaxColumns));
      std::string_view types = r.Bytes(static_cast<size_t>(n), "column types");
      t.columns.resize(static_cast<size_t>(n));
      for (size_t i = 0; i < t.columns.size(); ++i) {
        t.columns[i].type = static_cast<uint8_t>(types[i]);
        t.columns[i].real_type = t.columns[i].type;
      }
      const uint64_t meta_len = r.Packed("metadata length");
      if (meta_len > r.remaining()) {
        r.Fail(fmt::format("metadata of {} bytes, {} left", meta_len, r.remaining()));
      }
      const size_t meta_at = r.offset();
      ByteReader meta(r.Bytes(static_cast<size_t>(meta_len), "metadata"), ctx,
                      kHeaderSize + meta_at);
      for (size_t i = 0; i < t.columns.size(); ++i) ReadColumnMeta(meta, t.columns[i], i);
      if (!meta.empty()) {
        meta.Fail(fmt::format("{} metadata byte(s) left after the last column", meta.remaining()));
      }
      auto nullable = LsbBitmap(r, t.columns.size(), "null bitmap");
      for (size_t i = 0; i < t.columns.size(); ++i) t.columns[i].nullable = nullable[i];
      if (!r.empty()) {
        const size_t at = r.offset();
        ReadOptionalMetadata(ByteReader(r.Rest(), ctx, kHeaderSize + at), t, fd_.mariadb);
      }
      ev.body = std::move(t);
      break;
    }
    case EventType::kWriteRowsV1:
    case EventType::kUpdateRowsV1:
    case EventType::kDeleteRowsV1:
    case EventType::kWriteRowsV2:
    case EventType::kUpdateRowsV2:
    case EventType::kDeleteRowsV2:
    case EventType::kWriteRowsCompressedV1:
    case EventType::kUpdateRowsCompressedV1:
    case EventType::kDeleteRowsCompressedV1:
    case EventType::kWriteRowsCompressed:
    case EventType::kUpdateRowsCompressed:
    case EventType::kDeleteRowsCompressed: {
      RowsEvent e;
      const auto et = static_cast<EventType>(type);
      switch (et) {
        case EventType::kWriteRowsV1:
        case EventType::kWriteRowsV2:
        case EventType::kWriteRowsCompressedV1:
        case EventType::kWriteRowsCompressed:
          e.kind = RowsKind::kWrite;
          break;
        case EventType::kUpdateRowsV1:
        case EventType::kUpdateRowsV2:
        case EventType::kUpdateRowsCompressedV1:
        case EventType::kUpdateRowsCompressed:
          e.kind = RowsKind::kUpdate;
          break;
        default:
          e.kind = RowsKind::kDelete;
      }
      e.compressed = type >= static_cast<uint8_t>(EventType::kWriteRowsCompressedV1);
      const bool v2_type = (type >= 30 && type <= 32) || type >= 169;
      const uint8_t ph = PostHeaderLength(type, v2_type ? 10 : 8);
      if (ph != 6 && ph != 8 && ph != 10) {
        r.Fail(fmt::format("post-header of {} bytes (expected 6, 8 or 10)", ph));
      }
      ByteReader post(r.Bytes(ph, "post-header"), ctx, kHeaderSize);
      e.table_id = post.Le(ph == 6 ? 4 : 6, "table_id");
      e.flags = post.U16("flags");
      e.version = ph == 10 ? 2 : 1;
      if (e.version == 2) {
        const uint16_t extra = post.U16("extra data length");
        if (extra < 2) post.Fail(fmt::format("extra data length {} (at least 2)", extra));
        e.extra_data = r.Bytes(extra - 2u, "extra data");
      }
      const uint64_t n = r.Packed("column count");
      if (n > kMaxColumns) r.Fail(fmt::format("{} columns (at most {})", n, kMaxColumns));
      e.column_count = static_cast<uint32_t>(n);
      if (e.kind != RowsKind::kWrite) {
        e.present_before = LsbBitmap(r, e.column_count, "columns-present bitmap (before image)");
      }
      if (e.kind != RowsKind::kDelete) {
        e.present_after = LsbBitmap(r, e.column_count, "columns-present bitmap (after image)");
      }
      if (e.compressed) {
        std::string rows;
        InflateMariaDb(r.Rest(), ctx, &rows);
        e.rows = own(std::move(rows));
      } else {
        e.rows = r.Rest();
      }
      ev.body = std::move(e);
      break;
    }
    case EventType::kTransactionPayload: {
      TransactionPayload p;
      const uint8_t ph = PostHeaderLength(type, 0);
      r.Skip(ph, "post-header");
      uint64_t payload_size = 0;
      bool have_size = false;
      while (true) {
        const uint64_t field = r.Packed("payload header field type");
        if (field == 0) break;  // OTW_PAYLOAD_HEADER_END_MARK
        const uint64_t len = r.Packed("payload header field length");
        if (len > r.remaining()) r.Fail(fmt::format("payload header field of {} bytes", len));
        const size_t at = r.offset();
        ByteReader f(r.Bytes(static_cast<size_t>(len), "payload header field"), ctx,
                     kHeaderSize + at);
        switch (field) {
          case 1:
            payload_size = f.Packed("PAYLOAD_SIZE");
            have_size = true;
            break;
          case 2:
            p.compression = f.Packed("COMPRESSION_TYPE");
            break;
          case 3:
            p.uncompressed_size = f.Packed("UNCOMPRESSED_SIZE");
            break;
          default:
            break;
        }
      }
      std::string_view data = r.Rest();
      if (have_size && payload_size != data.size()) {
        ThrowData(ctx, fmt::format("payload size {} in the header, {} bytes follow", payload_size,
                                   data.size()));
      }
      if (p.compression == 0) {
        std::string events;
        InflateZstd(data, p.uncompressed_size, ctx, &events);
        p.events = own(std::move(events));
      } else if (p.compression == 255) {
        p.events = data;
      } else {
        ThrowData(ctx,
                  fmt::format("compression type {} (expected 0 zstd or 255 none)", p.compression));
      }
      ev.body = p;
      break;
    }
    default:
      ev.body = UnknownEvent{body};
      break;
  }
  return ev;
}

BinlogFileReader::BinlogFileReader(std::string_view file_bytes, std::string file_name)
    : bytes_(file_bytes), file_(std::move(file_name)) {
  if (bytes_.substr(0, 4) != kBinlogMagic) {
    throw Error(ErrorKind::kData,
                fmt::format("binlog file {}: does not start with the binlog magic \\xfebin",
                            file_.empty() ? "(unnamed)" : file_));
  }
}

bool BinlogFileReader::partial_tail() const {
  const size_t left = bytes_.size() - pos_;
  if (left == 0) return false;
  if (left < kHeaderSize) return true;
  const EventHeader h = ParseEventHeader(bytes_.substr(pos_), pos_);
  return h.event_size > left;
}

bool BinlogFileReader::Next(std::string_view* event, uint64_t* position) {
  if (pos_ >= bytes_.size()) return false;
  const size_t left = bytes_.size() - pos_;
  ErrorContext ctx{"event", file_, pos_};
  if (left < kHeaderSize) {
    ThrowData(ctx, fmt::format("file ends {} byte(s) into an event header", left));
  }
  const EventHeader h = ParseEventHeader(bytes_.substr(pos_), pos_);
  ctx.event = EventTypeName(h.type);
  if (h.event_size < kHeaderSize || h.event_size > left) {
    ThrowData(ctx, fmt::format("event_size {}: {} byte(s) left in the file", h.event_size, left));
  }
  *event = bytes_.substr(pos_, h.event_size);
  *position = pos_;
  pos_ += h.event_size;
  return true;
}

}  // namespace ferry::mysql::binlog
