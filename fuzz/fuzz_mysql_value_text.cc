// Fuzzes the MySQL connector's value conversions (my_value_text.h): text-protocol fields from
// the server -> Batch cells, and Batch cells -> escaped LOAD DATA fields for a target column.
//
// Input layout:
//   byte 0   the source DmsKind (value % 21); bit 7 set: a BOOLEAN column is bit(1) (raw byte)
//   byte 1   the target native type (index into kTargets)
//   byte 2   source type details: precision/length (low 6 bits); bit 6: build the cell
//            directly from the value's bytes (what another engine's reader may hand the writer)
//            instead of reading the text as the server would send it
//   the rest the field text / cell bytes
// Checks: reading never crashes and a NUMERIC cell is canonical; the MySQL decimal fast path
// agrees with NormalizeDecimal; a written field is a well-formed LOAD DATA field whose
// unescaped bytes are the text value when the target is text; escaping round-trips.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>

#include "common/error.h"
#include "connectors/mysql/my_types.h"
#include "connectors/mysql/my_value_text.h"
#include "types/value_codec.h"

namespace {

using ferry::DmsKind;
using ferry::mysql::MyBase;

// Target native types as information_schema.COLUMNS.COLUMN_TYPE prints them.
constexpr const char* kTargets[] = {
    "tinyint(1)",       "tinyint(4)",        "tinyint(3) unsigned",   "smallint(6)",
    "mediumint(8) unsigned", "int(11)",      "int(10) unsigned",      "bigint(20)",
    "bigint(20) unsigned",   "decimal(10,2)", "decimal(65,30)",       "decimal(5,0)",
    "float",            "double",            "bit(1)",                "bit(64)",
    "bit(7)",           "char(4)",           "varchar(10)",           "varchar(255)",
    "tinytext",         "text",              "longtext",              "enum('a','b,c','it''s')",
    "set('a','b','c')", "json",              "binary(4)",             "varbinary(8)",
    "blob",             "tinyblob",          "date",                  "time",
    "time(6)",          "datetime",          "datetime(3)",           "datetime(6)",
    "timestamp",        "timestamp(6)",      "year(4)",               "uuid",
    "inet6",            "inet4",             "geometry",              "point",
};
constexpr size_t kNumTargets = sizeof(kTargets) / sizeof(kTargets[0]);

[[noreturn]] void Fail(const char* what, std::string_view input, std::string_view detail) {
  std::fprintf(stderr, "fuzz_mysql_value_text: %s\n  input: '%.*s'\n  detail: '%.*s'\n", what,
               static_cast<int>(input.size()), input.data(), static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// Undoes LOAD DATA ... ESCAPED BY '\\' for one field; false when the field is not something
// AppendLoadDataEscaped can produce (a raw separator, a lone or unknown escape).
bool Unescape(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\t' || c == '\n' || c == '\r' || c == '\0') return false;
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++i == in.size()) return false;
    switch (in[i]) {
      case '\\': out->push_back('\\'); break;
      case 't': out->push_back('\t'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case '0': out->push_back('\0'); break;
      default: return false;
    }
  }
  return true;
}

bool IsCanonical(std::string_view s) {
  auto n = ferry::NormalizeDecimal(s);
  return n && *n == s && (s.empty() || s.front() != ' ');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const auto kind = static_cast<DmsKind>((data[0] & 0x7F) % 21);
  const bool bit_boolean = (data[0] & 0x80) != 0;
  const char* target = kTargets[data[1] % kNumTargets];
  const int detail = data[2] & 0x3F;
  const bool raw_cell = (data[2] & 0x40) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 3, size - 3);

  // Escaping: any bytes, exact round trip, no raw separators left.
  {
    std::string escaped, back;
    ferry::mysql::AppendLoadDataEscaped(text, &escaped);
    if (!Unescape(escaped, &back) || back != text) Fail("escaping does not round-trip", text, escaped);
    std::string null_field;
    ferry::mysql::AppendLoadDataNull(&null_field);
    if (escaped == null_field) Fail("a value escapes to the NULL marker", text, escaped);
  }

  // The decimal fast path must agree with the general normalizer wherever it accepts.
  {
    std::string fast;
    if (ferry::mysql::AppendCanonicalMysqlDecimal(text, &fast)) {
      auto slow = ferry::NormalizeDecimal(text);
      if (!slow || *slow != fast) Fail("AppendCanonicalMysqlDecimal != NormalizeDecimal", text, fast);
    }
  }

  ferry::DmsType source;
  source.kind = kind;
  switch (kind) {
    case DmsKind::kNumeric:
      source.precision = detail;
      source.scale = detail / 3;
      break;
    case DmsKind::kTime:
    case DmsKind::kDatetime:
      source.precision = detail % 7;
      break;
    case DmsKind::kBytes:
    case DmsKind::kString:
    case DmsKind::kWstring:
      source.length = detail;
      break;
    default:
      break;
  }

  ferry::Batch batch(1);
  if (!raw_cell) {
    ferry::mysql::ReadColumn rc;
    rc.kind = kind;
    rc.base = bit_boolean && kind == DmsKind::kBoolean ? MyBase::kBit : MyBase::kUnknown;
    const auto status = ferry::mysql::AppendFieldValue(rc, text, &batch);
    if (status != ferry::mysql::ReadStatus::kOk) {
      if (batch.cell_count() != 0) Fail("a rejected field appended a cell", text, "");
      return 0;
    }
    if (batch.cell_count() != 1) Fail("a read field appended other than one cell", text, "");
    if (kind == DmsKind::kNumeric && !IsCanonical(batch.Bytes(0, 0))) {
      Fail("NUMERIC cell is not canonical", text, batch.Bytes(0, 0));
    }
    if (kind == DmsKind::kBoolean && batch.at(0, 0).i != 0 && batch.at(0, 0).i != 1) {
      Fail("BOOLEAN cell is not 0/1", text, "");
    }
  } else {
    // A cell as another engine's reader could produce it.
    uint64_t raw = 0;
    std::memcpy(&raw, text.data(), text.size() < 8 ? text.size() : 8);
    switch (ferry::StorageOf(kind)) {
      case ferry::Storage::kInt: {
        auto v = static_cast<int64_t>(raw);
        if (kind == DmsKind::kBoolean) v &= 1;
        // DATE cells come from 32-bit day counts (PostgreSQL's range, infinity sentinels
        // included); TIME from durations far below the int64 edge.
        if (kind == DmsKind::kDate) v = static_cast<int32_t>(raw) + (raw >> 32 & 1) * 10957;
        if (kind == DmsKind::kTime) v >>= 2;
        batch.AppendInt(v);
        break;
      }
      case ferry::Storage::kUint:
        batch.AppendUint(raw);
        break;
      case ferry::Storage::kDouble: {
        double d;
        std::memcpy(&d, &raw, 8);
        if (kind == DmsKind::kReal4) d = static_cast<float>(d);
        batch.AppendDouble(d);
        break;
      }
      case ferry::Storage::kBytes:
        if (kind == DmsKind::kNumeric) {
          auto n = ferry::NormalizeDecimal(text);
          if (!n) return 0;
          batch.AppendBytes(*n);
        } else {
          batch.AppendBytes(text);
        }
        break;
    }
  }

  const ferry::mysql::WriteColumn column = ferry::mysql::MakeWriteColumn("c", source, target);
  std::string scratch, out;
  try {
    ferry::mysql::AppendLoadField(column, batch, 0, 0, &scratch, &out);
  } catch (const ferry::Error&) {
    return 0;  // the value does not fit the target: a RowError
  }
  std::string value;
  if (!Unescape(out, &value)) Fail("written field is not a valid LOAD DATA field", text, out);
  const MyBase base = column.target.base;
  if (ferry::IsText(kind) && (ferry::mysql::IsTextNative(base) ||
                              ferry::mysql::IsBinaryNative(base))) {
    if (value != batch.Bytes(0, 0)) Fail("text value changed on the way to LOAD DATA", text, out);
  }
  if (ferry::mysql::IsTextNative(base) && !ferry::IsValidUtf8(value)) {
    Fail("invalid UTF-8 written to a text column", text, out);
  }
  if (base == MyBase::kDecimal && !IsCanonical(value)) {
    Fail("decimal field is not canonical", text, out);
  }
  // A NULL cell writes the NULL marker.
  ferry::Batch nulls(1);
  nulls.AppendNull();
  out.clear();
  ferry::mysql::AppendLoadField(column, nulls, 0, 0, &scratch, &out);
  if (out != "\\N") Fail("NULL is not written as \\N", text, out);
  return 0;
}
