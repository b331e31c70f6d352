#include "types/dms_type.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <limits>

namespace ferry {

Storage StorageOf(DmsKind kind) {
  switch (kind) {
    case DmsKind::kBoolean:
    case DmsKind::kDate:
    case DmsKind::kTime:
    case DmsKind::kDatetime:
    case DmsKind::kInt1:
    case DmsKind::kInt2:
    case DmsKind::kInt4:
    case DmsKind::kInt8:
      return Storage::kInt;
    case DmsKind::kUint1:
    case DmsKind::kUint2:
    case DmsKind::kUint4:
    case DmsKind::kUint8:
      return Storage::kUint;
    case DmsKind::kReal4:
    case DmsKind::kReal8:
      return Storage::kDouble;
    default:
      return Storage::kBytes;
  }
}

namespace {
constexpr const char* kNames[] = {"BOOLEAN", "BYTES",  "DATE",   "TIME",    "DATETIME", "INT1",
                                  "INT2",    "INT4",   "INT8",   "UINT1",   "UINT2",    "UINT4",
                                  "UINT8",   "NUMERIC", "REAL4", "REAL8",   "STRING",   "WSTRING",
                                  "BLOB",    "CLOB",   "NCLOB",  "ENGINE_VALUE"};
// The names a user may write (task settings, mapping rules): the DMS types only.
constexpr size_t kDmsNames = static_cast<size_t>(DmsKind::kNclob) + 1;
}  // namespace

const char* DmsKindName(DmsKind kind) { return kNames[static_cast<int>(kind)]; }

std::optional<DmsKind> ParseDmsKindName(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (size_t i = 0; i < kDmsNames; ++i) {
    if (upper == kNames[i]) return static_cast<DmsKind>(i);
  }
  return std::nullopt;
}

std::string DescribeDmsType(const DmsType& t) {
  switch (t.kind) {
    case DmsKind::kNumeric:
      if (t.precision == 0) return "NUMERIC";
      return fmt::format("NUMERIC({},{})", t.precision, t.scale);
    case DmsKind::kString:
    case DmsKind::kWstring:
    case DmsKind::kBytes:
      if (t.length == 0) return DmsKindName(t.kind);
      return fmt::format("{}({})", DmsKindName(t.kind), t.length);
    case DmsKind::kTime:
    case DmsKind::kDatetime:
      return fmt::format("{}({}){}", DmsKindName(t.kind), t.precision,
                         t.with_time_zone ? " UTC" : "");
    default:
      return DmsKindName(t.kind);
  }
}

bool SignedRange(DmsKind kind, int64_t* min, int64_t* max) {
  switch (kind) {
    case DmsKind::kBoolean: *min = 0; *max = 1; return true;
    case DmsKind::kInt1: *min = INT8_MIN; *max = INT8_MAX; return true;
    case DmsKind::kInt2: *min = INT16_MIN; *max = INT16_MAX; return true;
    case DmsKind::kInt4: *min = INT32_MIN; *max = INT32_MAX; return true;
    case DmsKind::kInt8:
      *min = std::numeric_limits<int64_t>::min();
      *max = std::numeric_limits<int64_t>::max();
      return true;
    default: return false;
  }
}

uint64_t UnsignedMax(DmsKind kind) {
  switch (kind) {
    case DmsKind::kUint1: return UINT8_MAX;
    case DmsKind::kUint2: return UINT16_MAX;
    case DmsKind::kUint4: return UINT32_MAX;
    case DmsKind::kUint8: return UINT64_MAX;
    default: return 0;
  }
}

}  // namespace ferry
