#include "connectors/postgres/pg_writer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "connectors/ddl.h"
#include "connectors/postgres/pg_copy_binary.h"
#include "types/utf8.h"
#include "types/value_codec.h"

namespace ferry::postgres {

namespace {

constexpr size_t kSendChunk = 1u << 20;

// Short, printable rendering of a value for messages.
std::string Preview(std::string_view v) {
  std::string out;
  for (unsigned char c : v.substr(0, 64)) {
    if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (v.size() > 64) out += fmt::format("... ({} bytes)", v.size());
  return out;
}

// Everything a conversion needs to report a bad value.
struct Ctx {
  const Batch& batch;
  size_t row;
  int col;
  const PgWriteColumn& c;
  const TableDef& table;

  [[noreturn]] void Fail(const std::string& value, const std::string& why) const {
    throw RowError(col, static_cast<int64_t>(row),
                   fmt::format("column {} of {}: value '{}' ({}) {}", c.name, table.QualifiedName(),
                               Preview(value), DescribeDmsType(c.source), why),
                   DescribeRowKey(batch, row, table));
  }
  // The value as canonical text, for messages.
  std::string Text() const {
    std::string s;
    AppendCanonical(batch, row, col, c.source, &s);
    return s;
  }
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

int64_t Pow10(int n) {
  int64_t v = 1;
  while (n-- > 0) v *= 10;
  return v;
}

// The value as a signed 64-bit integer (integer targets, booleans); fails otherwise.
int64_t AsInt(const Ctx& x) {
  const Cell& cell = x.batch.at(x.row, x.col);
  switch (StorageOf(x.c.source.kind)) {
    case Storage::kInt:
      return cell.i;
    case Storage::kUint:
      if (cell.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        x.Fail(x.Text(), "is out of range for the target integer column");
      }
      return static_cast<int64_t>(cell.u);
    case Storage::kDouble: {
      const double d = cell.d;
      if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || std::trunc(d) != d) {
        x.Fail(x.Text(), "is not an integer in range for the target column");
      }
      return static_cast<int64_t>(d);
    }
    case Storage::kBytes: {
      const std::string_view s = TrimSpaces(x.batch.Bytes(x.row, x.col));
      int64_t v = 0;
      const char* b = s.data() + (!s.empty() && s.front() == '+');
      auto res = std::from_chars(b, s.data() + s.size(), v);
      if (s.empty() || res.ec != std::errc() || res.ptr != s.data() + s.size()) {
        x.Fail(std::string(s), "is not an integer");
      }
      return v;
    }
  }
  return 0;
}

double AsDouble(const Ctx& x) {
  const Cell& cell = x.batch.at(x.row, x.col);
  switch (StorageOf(x.c.source.kind)) {
    case Storage::kInt:
      return static_cast<double>(cell.i);
    case Storage::kUint:
      return static_cast<double>(cell.u);
    case Storage::kDouble:
      return cell.d;
    case Storage::kBytes: {
      const std::string_view s = x.batch.Bytes(x.row, x.col);
      auto v = ParseDouble(s);
      if (!v) x.Fail(std::string(s), "is not a floating-point number");
      return *v;
    }
  }
  return 0;
}

// True for text in NormalizeDecimal's canonical form (or NaN/Infinity/-Infinity).
bool IsCanonicalDecimal(std::string_view s) {
  if (s == "NaN" || s == "Infinity" || s == "-Infinity") return true;
  size_t p = 0;
  if (p < s.size() && s[p] == '-') ++p;
  const size_t int_begin = p;
  while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
  const size_t int_len = p - int_begin;
  if (int_len == 0 || (int_len > 1 && s[int_begin] == '0')) return false;
  if (p == s.size()) return !(s[0] == '-' && int_len == 1 && s[int_begin] == '0');
  if (s[p] != '.') return false;
  const size_t frac_begin = ++p;
  while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
  return p == s.size() && p > frac_begin && s.back() != '0';
}

// Canonical decimal text of the value (in `scratch` or the batch), checked against
// numeric(p,s).
std::string_view AsDecimal(const Ctx& x, std::string* scratch) {
  scratch->clear();
  std::string_view v;
  const Cell& cell = x.batch.at(x.row, x.col);
  switch (StorageOf(x.c.source.kind)) {
    case Storage::kInt:
      if (x.c.source.kind == DmsKind::kBoolean || x.c.source.kind == DmsKind::kDate ||
          x.c.source.kind == DmsKind::kTime || x.c.source.kind == DmsKind::kDatetime) {
        if (x.c.source.kind != DmsKind::kBoolean) x.Fail(x.Text(), "is not a number");
      }
      fmt::format_to(std::back_inserter(*scratch), "{}", cell.i);
      break;
    case Storage::kUint:
      fmt::format_to(std::back_inserter(*scratch), "{}", cell.u);
      break;
    case Storage::kDouble: {
      AppendDouble(cell.d, x.c.source.kind == DmsKind::kReal4, scratch);
      if (std::isfinite(cell.d)) {
        auto n = NormalizeDecimal(*scratch);
        *scratch = *n;
      }
      break;
    }
    case Storage::kBytes: {
      const std::string_view s = x.batch.Bytes(x.row, x.col);
      if (IsCanonicalDecimal(s)) {
        v = s;  // the usual case: readers hand over canonical text; no copy
        break;
      }
      auto n = NormalizeDecimal(s);
      if (!n) x.Fail(std::string(s), "is not a decimal number");
      *scratch = std::move(*n);
      break;
    }
  }
  if (v.data() == nullptr) v = *scratch;
  const int p = x.c.target.precision, s = x.c.target.scale;
  if (p > 0) {
    if (v == "Infinity" || v == "-Infinity") {
      x.Fail(std::string(v), fmt::format("cannot be stored in numeric({},{})", p, s));
    }
    if (v != "NaN") {
      int int_digits, frac_digits;
      DecimalDigits(v, &int_digits, &frac_digits);
      bool fits;
      if (s >= 0) {
        fits = int_digits <= p - s && frac_digits <= s;
      } else {
        // Negative scale: the value must be a multiple of 10^-s.
        size_t zeros = 0;
        for (size_t i = v.size(); i > 0 && v[i - 1] == '0'; --i) ++zeros;
        fits =
            frac_digits == 0 && (v == "0" || static_cast<int>(zeros) >= -s) && int_digits <= p - s;
      }
      if (!fits) {
        x.Fail(std::string(v), fmt::format("does not fit numeric({},{}) without rounding", p, s));
      }
    }
  }
  return v;
}

// Text of a text-like value, checked: valid UTF-8, no NUL, length limit in characters.
std::string_view AsCheckedText(const Ctx& x, std::string* scratch) {
  std::string_view v;
  if (StorageOf(x.c.source.kind) == Storage::kBytes) {
    v = x.batch.Bytes(x.row, x.col);
  } else {
    scratch->clear();
    AppendCanonical(x.batch, x.row, x.col, x.c.source, scratch);
    v = *scratch;
  }
  bool has_nul = false;
  if (!IsValidUtf8(v, &has_nul)) x.Fail(std::string(v), "is not valid UTF-8 text");
  if (has_nul) {
    x.Fail(std::string(v), "contains a NUL byte, which PostgreSQL text cannot hold");
  }
  const int64_t max = x.c.target.max_chars;
  if (max > 0 && static_cast<int64_t>(v.size()) > max) {
    const int64_t chars = Utf8Length(v);
    if (static_cast<int64_t>(chars) > max) {
      x.Fail(std::string(v),
             fmt::format("is {} characters, longer than the target's {}", chars, max));
    }
  }
  return v;
}

void CheckFraction(const Ctx& x, int64_t micros) {
  const int p = x.c.target.precision;
  if (p >= 0 && p < 6 && micros % Pow10(6 - p) != 0) {
    x.Fail(x.Text(), fmt::format("has more fractional second digits than the target's {}", p));
  }
}

int32_t AsPgDate(const Ctx& x) {
  const DmsKind k = x.c.source.kind;
  int64_t days;
  if (k == DmsKind::kDate) {
    days = x.batch.at(x.row, x.col).i;
  } else if (StorageOf(k) == Storage::kBytes) {
    const std::string_view s = TrimSpaces(x.batch.Bytes(x.row, x.col));
    if (EqualsIgnoreCase(s, "infinity")) return kDateInfinity;
    if (EqualsIgnoreCase(s, "-infinity")) return kDateMinusInfinity;
    auto d = ParseDate(s);
    if (!d) x.Fail(std::string(s), "is not a date");
    days = *d;
  } else if (k == DmsKind::kDatetime) {
    const int64_t v = x.batch.at(x.row, x.col).i;
    if (v % kMicrosPerDay != 0) x.Fail(x.Text(), "has a time of day; the target is a date");
    days = v / kMicrosPerDay;
  } else {
    x.Fail(x.Text(), "is not a date");
  }
  int32_t pg;
  if (!PgDateFromCell(days, &pg)) x.Fail(x.Text(), "is outside PostgreSQL's date range");
  return pg;
}

int64_t AsPgTime(const Ctx& x) {
  const DmsKind k = x.c.source.kind;
  int64_t v;
  if (k == DmsKind::kTime) {
    v = x.batch.at(x.row, x.col).i;
  } else if (StorageOf(k) == Storage::kBytes) {
    const std::string_view s = TrimSpaces(x.batch.Bytes(x.row, x.col));
    auto t = ParseTime(s);
    if (!t) x.Fail(std::string(s), "is not a time of day");
    v = *t;
  } else {
    x.Fail(x.Text(), "is not a time of day");
  }
  if (v < 0 || v > kMicrosPerDay) {
    x.Fail(x.Text(), "is outside PostgreSQL time's range 00:00:00 to 24:00:00");
  }
  CheckFraction(x, v);
  return v;
}

int64_t AsPgTimestamp(const Ctx& x) {
  const DmsKind k = x.c.source.kind;
  int64_t v;
  if (k == DmsKind::kDatetime) {
    v = x.batch.at(x.row, x.col).i;
  } else if (k == DmsKind::kDate) {
    const int64_t d = x.batch.at(x.row, x.col).i;
    if (d == kDateInfinity) {
      v = kDatetimeInfinity;
    } else if (d == kDateMinusInfinity) {
      v = kDatetimeMinusInfinity;
    } else {
      v = d * kMicrosPerDay;
    }
  } else if (StorageOf(k) == Storage::kBytes) {
    const std::string_view s = TrimSpaces(x.batch.Bytes(x.row, x.col));
    if (EqualsIgnoreCase(s, "infinity")) {
      v = kDatetimeInfinity;
    } else if (EqualsIgnoreCase(s, "-infinity")) {
      v = kDatetimeMinusInfinity;
    } else {
      auto t = ParseDatetime(s);
      if (!t) x.Fail(std::string(s), "is not a timestamp");
      v = *t;
    }
  } else {
    x.Fail(x.Text(), "is not a timestamp");
  }
  int64_t pg;
  if (!PgTimestampFromCell(v, &pg)) {
    x.Fail(x.Text(), "is outside PostgreSQL's timestamp range");
  }
  if (pg != std::numeric_limits<int64_t>::max() && pg != std::numeric_limits<int64_t>::min()) {
    CheckFraction(x, ((v % kMicrosPerSecond) + kMicrosPerSecond) % kMicrosPerSecond);
  }
  return pg;
}

bool AsBool(const Ctx& x) {
  if (StorageOf(x.c.source.kind) == Storage::kBytes) {
    const std::string_view s = TrimSpaces(x.batch.Bytes(x.row, x.col));
    for (const char* t : {"t", "true", "1", "y", "yes", "on"}) {
      if (EqualsIgnoreCase(s, t)) return true;
    }
    for (const char* f : {"f", "false", "0", "n", "no", "off"}) {
      if (EqualsIgnoreCase(s, f)) return false;
    }
    x.Fail(std::string(s), "is not a boolean");
  }
  const int64_t v = AsInt(x);
  if (v != 0 && v != 1) x.Fail(x.Text(), "is not a boolean (0 or 1)");
  return v == 1;
}

// Appends the binary form of one non-null value (without its length).
void BinaryValue(const Ctx& x, std::string* out, std::string* scratch) {
  const PgTargetType& t = x.c.target;
  switch (t.wire) {
    case PgWire::kBool:
      out->push_back(AsBool(x) ? 1 : 0);
      return;
    case PgWire::kInt2:
    case PgWire::kInt4:
    case PgWire::kInt8: {
      if (x.c.source.kind == DmsKind::kDate || x.c.source.kind == DmsKind::kTime ||
          x.c.source.kind == DmsKind::kDatetime) {
        x.Fail(x.Text(), "is not an integer");
      }
      const int64_t v = AsInt(x);
      if (t.wire == PgWire::kInt2) {
        if (v < INT16_MIN || v > INT16_MAX) x.Fail(x.Text(), "is out of range for smallint");
        PutU16(static_cast<uint16_t>(v), out);
      } else if (t.wire == PgWire::kInt4) {
        if (v < INT32_MIN || v > INT32_MAX) x.Fail(x.Text(), "is out of range for integer");
        PutU32(static_cast<uint32_t>(v), out);
      } else {
        PutU64(static_cast<uint64_t>(v), out);
      }
      return;
    }
    case PgWire::kFloat4: {
      const double d = AsDouble(x);
      const float f = static_cast<float>(d);
      if (!std::isnan(d) && static_cast<double>(f) != d) {
        x.Fail(x.Text(), "cannot be stored exactly in real");
      }
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      PutU32(bits, out);
      return;
    }
    case PgWire::kFloat8: {
      const double d = AsDouble(x);
      const Storage st = StorageOf(x.c.source.kind);
      if ((st == Storage::kInt && static_cast<int64_t>(d) != x.batch.at(x.row, x.col).i &&
           std::abs(d) < 9.2e18) ||
          (st == Storage::kUint && std::abs(d) < 1.8e19 &&
           static_cast<uint64_t>(d) != x.batch.at(x.row, x.col).u)) {
        x.Fail(x.Text(), "cannot be stored exactly in double precision");
      }
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      PutU64(bits, out);
      return;
    }
    case PgWire::kNumeric: {
      const std::string_view v = AsDecimal(x, scratch);
      if (!EncodeNumeric(v, out)) x.Fail(std::string(v), "exceeds PostgreSQL numeric's limits");
      return;
    }
    case PgWire::kDate:
      PutU32(static_cast<uint32_t>(AsPgDate(x)), out);
      return;
    case PgWire::kTime:
      PutU64(static_cast<uint64_t>(AsPgTime(x)), out);
      return;
    case PgWire::kTimestamp:
    case PgWire::kTimestamptz:
      PutU64(static_cast<uint64_t>(AsPgTimestamp(x)), out);
      return;
    case PgWire::kBytea:
      if (StorageOf(x.c.source.kind) == Storage::kBytes) {
        out->append(x.batch.Bytes(x.row, x.col));
      } else {
        AppendCanonical(x.batch, x.row, x.col, x.c.source, out);
      }
      return;
    case PgWire::kText:
    case PgWire::kJson:
      out->append(AsCheckedText(x, scratch));
      return;
    case PgWire::kJsonb:
      out->push_back(1);
      out->append(AsCheckedText(x, scratch));
      return;
    case PgWire::kUuid: {
      const std::string_view s = AsCheckedText(x, scratch);
      char b[16];
      if (!ParseUuidText(TrimSpaces(s), b)) x.Fail(std::string(s), "is not a UUID");
      out->append(b, 16);
      return;
    }
    case PgWire::kOther:
      throw Error(ErrorKind::kInternal, fmt::format("column {} of {} has no binary encoder",
                                                    x.c.name, x.table.QualifiedName()));
  }
}

void AppendEscaped(std::string_view v, std::string* out) {
  size_t start = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    const char* esc = nullptr;
    switch (c) {
      case '\\':
        esc = "\\\\";
        break;
      case '\t':
        esc = "\\t";
        break;
      case '\n':
        esc = "\\n";
        break;
      case '\r':
        esc = "\\r";
        break;
      default:
        continue;
    }
    out->append(v.data() + start, i - start);
    out->append(esc);
    start = i + 1;
  }
  out->append(v.data() + start, v.size() - start);
}

// Appends the PostgreSQL text input form of one non-null value, COPY-escaped when
// `copy_escape` (else as a text-format query parameter takes it).
void TextValue(const Ctx& x, bool copy_escape, std::string* out, std::string* scratch) {
  // Values for columns with a known binary form go through the binary checks first, so text
  // mode rejects exactly what binary mode rejects.
  if (x.c.target.wire != PgWire::kOther) {
    scratch->clear();
    std::string discard;
    BinaryValue(x, &discard, scratch);
  }
  const Cell& cell = x.batch.at(x.row, x.col);
  const DmsKind k = x.c.source.kind;
  const PgWire w = x.c.target.wire;
  switch (k) {
    case DmsKind::kBoolean:
      if (w == PgWire::kBool || w == PgWire::kOther) {
        out->push_back(cell.i ? 't' : 'f');
      } else {
        out->push_back(cell.i ? '1' : '0');
      }
      return;
    case DmsKind::kDate:
      AppendDate(cell.i, out);  // prints the infinity sentinels as PostgreSQL spells them
      return;
    case DmsKind::kDatetime: {
      if (cell.i == kDatetimeInfinity || cell.i == kDatetimeMinusInfinity) {
        AppendDatetime(cell.i, out);  // "infinity" / "-infinity", no zone suffix
        return;
      }
      const size_t start = out->size();
      AppendDatetime(cell.i, out);
      if (x.c.source.with_time_zone) {
        const bool bc = out->size() - start > 3 && out->compare(out->size() - 3, 3, " BC") == 0;
        out->insert(bc ? out->size() - 3 : out->size(), "+00");
      }
      return;
    }
    default:
      break;
  }
  if (StorageOf(k) != Storage::kBytes) {
    AppendCanonical(x.batch, x.row, x.col, x.c.source, out);
    return;
  }
  const std::string_view v = x.batch.Bytes(x.row, x.col);
  if (w == PgWire::kBytea) {
    static constexpr char kHex[] = "0123456789abcdef";
    out->append(copy_escape ? "\\\\x" : "\\x");
    for (unsigned char b : v) {
      out->push_back(kHex[b >> 4]);
      out->push_back(kHex[b & 15]);
    }
    return;
  }
  if (w == PgWire::kOther) AsCheckedText(x, scratch);
  if (copy_escape) {
    AppendEscaped(v, out);
  } else {
    out->append(v);
  }
}

}  // namespace

void EncodeBinaryValue(const Batch& batch, size_t row, int col, const PgWriteColumn& column,
                       const TableDef& table, std::string* out, std::string* scratch) {
  BinaryValue(Ctx{batch, row, col, column, table}, out, scratch);
}

void EncodeTextValue(const Batch& batch, size_t row, int col, const PgWriteColumn& column,
                     const TableDef& table, std::string* out, std::string* scratch) {
  TextValue(Ctx{batch, row, col, column, table}, false, out, scratch);
}

void EncodeBinaryRow(const Batch& batch, size_t row, const std::vector<PgWriteColumn>& cols,
                     const TableDef& table, std::string* out, std::string* scratch) {
  const int n = static_cast<int>(cols.size());
  PutU16(static_cast<uint16_t>(n), out);
  for (int col = 0; col < n; ++col) {
    if (batch.IsNull(row, col)) {
      PutU32(0xFFFFFFFFu, out);
      continue;
    }
    const size_t len_at = out->size();
    out->append(4, '\0');
    BinaryValue(Ctx{batch, row, col, cols[col], table}, out, scratch);
    const size_t len = out->size() - len_at - 4;
    if (len > 0x3FFFFFFF) {
      Ctx{batch, row, col, cols[col], table}.Fail("(large value)",
                                                  "is larger than PostgreSQL's 1 GB limit");
    }
    const uint32_t be = __builtin_bswap32(static_cast<uint32_t>(len));
    std::memcpy(out->data() + len_at, &be, 4);
  }
}

void EncodeTextRow(const Batch& batch, size_t row, const std::vector<PgWriteColumn>& cols,
                   const TableDef& table, std::string* out, std::string* scratch) {
  const int n = static_cast<int>(cols.size());
  for (int col = 0; col < n; ++col) {
    if (col) out->push_back('\t');
    if (batch.IsNull(row, col)) {
      out->append("\\N");
      continue;
    }
    TextValue(Ctx{batch, row, col, cols[col], table}, true, out, scratch);
  }
  out->push_back('\n');
}

namespace {

// "CONSTRAINT <name> " for the primary key of a table whose name leaves no room for
// PostgreSQL's own "<table>_pkey" in 63 bytes, else "". PostgreSQL would cut that name, so two
// long table names sharing a prefix would ask for one key name (and, created at once, collide
// in pg_class); a hash of the full table name keeps the names apart, the same on every run.
std::string PrimaryKeyConstraint(const std::string& table) {
  constexpr size_t kMax = 63;
  if (table.size() + 5 <= kMax) return "";
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : table) h = (h ^ c) * 16777619u;
  const std::string name =
      std::string(Utf8PrefixBytes(table, kMax - 5 - 9)) + fmt::format("_{:08x}_pkey", h);
  return "CONSTRAINT " + DoubleQuoteIdent(name) + " ";
}

}  // namespace

std::vector<std::string> PgCreateTableSql(const TableDef& target) {
  const QuoteFn quote = [](std::string_view name) { return DoubleQuoteIdent(name); };
  const std::string table = QuoteQualified(target.schema, target.name);
  TableDef def = target;
  if (const std::string constraint = PrimaryKeyConstraint(target.name);
      !constraint.empty() && !def.primary_key.empty()) {
    std::string clause = constraint + "PRIMARY KEY (";
    for (size_t i = 0; i < def.primary_key.size(); ++i) {
      clause += (i ? ", " : "") + DoubleQuoteIdent(def.primary_key[i]);
    }
    def.create_table_clauses.insert(def.create_table_clauses.begin(), clause + ")");
    def.primary_key.clear();
  }
  std::vector<std::string> out = {CreateTableSql(
      def, table, quote, [&](size_t i) { return target.columns[i].native_type; },
      [&](size_t i) { return !target.columns[i].nullable; })};
  for (const IndexDef& index : target.unique_indexes) {
    out.push_back(CreateUniqueIndexSql(index.name, table, index, quote));
  }
  return out;
}

PgTableWriter::PgTableWriter(std::unique_ptr<PgConnection> conn)
    : conn_(std::move(conn)),
      marks_(
          DialectFor(Engine::kPostgres),
          SqlSegmentMarks::Session{
              [this](const std::string& sql, const std::string& what) { conn_->Exec(sql, what); },
              [this](const std::string& sql, const std::string& what) {
                PgResult r = conn_->Exec(sql, what);
                SqlSegmentMarks::Rows rows(static_cast<size_t>(PQntuples(r.get())));
                for (size_t i = 0; i < rows.size(); ++i) {
                  for (int c = 0; c < PQnfields(r.get()); ++c) {
                    const int row = static_cast<int>(i);
                    rows[i].push_back(
                        PQgetisnull(r.get(), row, c)
                            ? std::nullopt
                            : std::optional<std::string>(PQgetvalue(r.get(), row, c)));
                  }
                }
                return rows;
              },
              [this](const std::string& schema, const std::string& table) {
                return TableExists(schema, table);
              }}) {}

PgTableWriter::~PgTableWriter() {
  if (loading_) AbortLoad();
}

void PgTableWriter::EnsureSchema(const std::string& schema) {
  // Only what the work needs: an existing schema needs USAGE (CREATE is checked when a table
  // is created), a missing one CREATE on the database. CREATE SCHEMA IF NOT EXISTS alone would
  // ask for CREATE on the database even when the schema is there.
  const std::string what = fmt::format("checking target schema '{}'", schema);
  PgResult r = conn_->ExecParams(
      "SELECT has_schema_privilege(oid, 'USAGE'), current_user, current_database() "
      "FROM pg_namespace WHERE nspname = $1",
      {schema}, what);
  if (PQntuples(r.get()) > 0) {
    if (std::string_view(PQgetvalue(r.get(), 0, 0)) != "t") {
      throw Error(ErrorKind::kAuth,
                  fmt::format("PostgreSQL role '{}' may not use target schema '{}': GRANT USAGE "
                              "ON SCHEMA {} TO {}",
                              PQgetvalue(r.get(), 0, 1), schema, DoubleQuoteIdent(schema),
                              DoubleQuoteIdent(PQgetvalue(r.get(), 0, 1))));
    }
    return;
  }
  PgResult who = conn_->ExecParams(
      "SELECT has_database_privilege(current_database(), 'CREATE'), current_user, "
      "current_database()",
      {}, what);
  const std::string user = PQgetvalue(who.get(), 0, 1);
  const std::string database = PQgetvalue(who.get(), 0, 2);
  if (std::string_view(PQgetvalue(who.get(), 0, 0)) != "t") {
    throw Error(ErrorKind::kAuth,
                fmt::format("target schema '{}' does not exist and PostgreSQL role '{}' may not "
                            "create it: GRANT CREATE ON DATABASE {} TO {}; or create it for the "
                            "role: CREATE SCHEMA {} AUTHORIZATION {}",
                            schema, user, DoubleQuoteIdent(database), DoubleQuoteIdent(user),
                            DoubleQuoteIdent(schema), DoubleQuoteIdent(user)));
  }
  conn_->Exec("CREATE SCHEMA IF NOT EXISTS " + DoubleQuoteIdent(schema),
              fmt::format("creating schema '{}'", schema));
}

bool PgTableWriter::TableExists(const std::string& schema, const std::string& name) {
  PgResult r = conn_->ExecParams(
      "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'f')",
      {schema, name}, fmt::format("looking up table {}.{}", schema, name));
  return PQntuples(r.get()) > 0;
}

void PgTableWriter::PrepareTable(const TableDef& target, TablePrepMode mode) {
  const std::string what =
      fmt::format("preparing table {} ({})", target.QualifiedName(), TablePrepModeName(mode));
  const std::string qualified = QuoteQualified(target.schema, target.name);
  std::string sql = "BEGIN;";
  const bool exists = TableExists(target.schema, target.name);
  bool create = !exists;
  if (mode == TablePrepMode::kDropAndCreate) {
    sql += "DROP TABLE IF EXISTS " + qualified + " CASCADE;";
    create = true;
  } else if (mode == TablePrepMode::kTruncateBeforeLoad && exists) {
    sql += "TRUNCATE TABLE " + qualified + ";";
  }
  if (create) {
    for (const std::string& s : PgCreateTableSql(target)) sql += s + ";";
  }
  sql += "COMMIT";
  try {
    conn_->Exec(sql, what);
  } catch (const Error& e) {
    PQclear(PQexec(conn_->get(), "ROLLBACK"));
    throw Error(e.kind() == ErrorKind::kInternal ? ErrorKind::kSchema : e.kind(), e.what());
  }
}

void PgTableWriter::BeginLoad(const TableDef& target) {
  if (loading_) AbortLoad();
  target_ = target;
  cols_.clear();
  binary_ = true;
  for (const ColumnDef& c : target.columns) {
    PgWriteColumn w{c.name, c.type, ParsePgTargetType(c.native_type)};
    if (w.target.wire == PgWire::kOther) binary_ = false;
    cols_.push_back(std::move(w));
  }
  const std::string what = "loading table " + target.QualifiedName();
  std::string sql = "COPY " + QuoteQualified(target.schema, target.name) + " (";
  for (size_t i = 0; i < target.columns.size(); ++i) {
    if (i) sql += ", ";
    sql += DoubleQuoteIdent(target.columns[i].name);
  }
  sql += binary_ ? ") FROM STDIN (FORMAT binary)" : ") FROM STDIN";
  conn_->Exec("BEGIN", what);
  PgResult r(PQexec(conn_->get(), sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_IN) {
    Error e = conn_->MakeError(what, r.get());
    r.reset();
    conn_->ResetAfterFailedCopy();
    throw e;
  }
  loading_ = true;
  if (binary_) {
    buf_.clear();
    AppendCopyHeader(&buf_);
    Send(buf_);
  }
}

void PgTableWriter::Send(const std::string& data) {
  for (size_t off = 0; off < data.size(); off += kSendChunk) {
    const size_t n = std::min(kSendChunk, data.size() - off);
    if (PQputCopyData(conn_->get(), data.data() + off, static_cast<int>(n)) != 1) {
      throw conn_->MakeError("loading table " + target_.QualifiedName(), nullptr);
    }
  }
}

void PgTableWriter::Write(const Batch& batch) {
  if (!loading_) {
    throw Error(ErrorKind::kInternal, "Write without BeginLoad on " + target_.QualifiedName());
  }
  if (batch.columns() != static_cast<int>(cols_.size())) {
    throw Error(ErrorKind::kInternal,
                fmt::format("batch has {} columns, table {} has {}", batch.columns(),
                            target_.QualifiedName(), cols_.size()));
  }
  CheckNotNull(batch, target_);
  buf_.clear();
  const size_t rows = batch.rows();
  if (binary_) {
    for (size_t row = 0; row < rows; ++row) {
      EncodeBinaryRow(batch, row, cols_, target_, &buf_, &scratch_);
    }
  } else {
    for (size_t row = 0; row < rows; ++row) {
      EncodeTextRow(batch, row, cols_, target_, &buf_, &scratch_);
    }
  }
  Send(buf_);
}

void PgTableWriter::EndLoad() { Finish(nullptr); }

void PgTableWriter::EndSegment(const SegmentMark& mark) {
  if (!loading_) {
    throw Error(ErrorKind::kInternal,
                "EndSegment without BeginSegment on " + target_.QualifiedName());
  }
  Finish(&mark);
}

void PgTableWriter::Finish(const SegmentMark* mark) {
  if (!loading_) return;
  const std::string what = "loading table " + target_.QualifiedName();
  try {
    if (binary_) {
      buf_.clear();
      AppendCopyTrailer(&buf_);
      Send(buf_);
    }
    if (PQputCopyEnd(conn_->get(), nullptr) != 1) throw conn_->MakeError(what, nullptr);
    PgResult r(PQgetResult(conn_->get()));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) throw conn_->MakeError(what, r.get());
    while (PGresult* extra = PQgetResult(conn_->get())) PQclear(extra);
    loading_ = false;
    if (mark) {
      conn_->Exec(marks_.InsertSql(*mark), fmt::format("marking segment {} of table {} loaded",
                                                       mark->segment, target_.QualifiedName()));
    }
    conn_->Exec("COMMIT", what);
  } catch (...) {
    loading_ = false;
    conn_->ResetAfterFailedCopy();
    throw;
  }
}

int64_t PgTableWriter::AbortLoad() noexcept {
  // The whole load is one transaction: nothing of it stays.
  if (!loading_) return 0;
  loading_ = false;
  conn_->ResetAfterFailedCopy();
  return 0;
}

void PgTableWriter::AddPrimaryKey(const TableDef& target) {
  std::string sql = "ALTER TABLE " + QuoteQualified(target.schema, target.name) + " ADD " +
                    PrimaryKeyConstraint(target.name) + "PRIMARY KEY (";
  for (size_t i = 0; i < target.primary_key.size(); ++i) {
    if (i) sql += ", ";
    sql += DoubleQuoteIdent(target.primary_key[i]);
  }
  sql += ")";
  conn_->Exec(sql, fmt::format("adding the primary key ({}) to table {} after the full load",
                               fmt::join(target.primary_key, ", "), target.QualifiedName()));
}

}  // namespace ferry::postgres
