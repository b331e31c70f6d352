#include "connectors/postgres/pg_change_decode.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_reader.h"
#include "types/value_codec.h"

namespace ferry::postgres {

namespace {

constexpr uint32_t kOidInet = 869;

// The value for messages: at most 40 bytes of it.
std::string Excerpt(std::string_view text) {
  if (text.size() <= 40) return fmt::format("'{}'", text);
  return fmt::format("'{}...' ({} bytes)", text.substr(0, 40), text.size());
}

bool ParseInt(std::string_view text, int64_t min, int64_t max, int64_t* out) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto res = std::from_chars(text.data(), end, v);
  if (res.ec != std::errc() || res.ptr != end || text.empty() || v < min || v > max) return false;
  *out = v;
  return true;
}

// PostgreSQL's float output: decimal or exponent text, "NaN", "Infinity", "-Infinity".
template <typename T>
bool ParseFloatText(std::string_view text, T* out) {
  if (text == "NaN") {
    *out = std::numeric_limits<T>::quiet_NaN();
    return true;
  }
  if (text == "Infinity") {
    *out = std::numeric_limits<T>::infinity();
    return true;
  }
  if (text == "-Infinity") {
    *out = -std::numeric_limits<T>::infinity();
    return true;
  }
  // from_chars also takes "inf" and "nan", which PostgreSQL never prints.
  const size_t first = text.size() > 1 && text[0] == '-' ? 1 : 0;
  if (text.empty() || !((text[first] >= '0' && text[first] <= '9') || text[first] == '.')) {
    return false;
  }
  T v{};
  const char* end = text.data() + text.size();
  auto res = std::from_chars(text.data(), end, v, std::chars_format::general);
  if (res.ec != std::errc() || res.ptr != end) return false;
  *out = v;
  return true;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

ChangeColumn ChangeColumnFor(const ColumnDef& column) {
  ChangeColumn c;
  std::string cast;
  PgWire wire = ReadWireForColumn(column, &cast);
  if (cast == "numeric") {
    c.money = true;
  } else if (cast == "text") {
    wire = PgWire::kOther;
  }
  // The reader reads a column whose cell storage differs from its wire form as ::text.
  if (wire != PgWire::kOther && !c.money && PgWireStorage(wire) != StorageOf(column.type.kind) &&
      StorageOf(column.type.kind) == Storage::kBytes) {
    wire = PgWire::kOther;
  }
  c.wire = wire;
  c.inet = wire == PgWire::kOther && column.native_id == kOidInet;
  c.binary_ok = wire != PgWire::kOther && !c.money;
  return c;
}

std::optional<std::string> ParseMoneyText(std::string_view text) {
  // lc_monetary C: optional '-', '$', digits grouped by ',', '.' and two fraction digits.
  std::string plain;
  size_t i = 0;
  if (i < text.size() && text[i] == '-') {
    plain.push_back('-');
    ++i;
  }
  if (i < text.size() && text[i] == '$') ++i;
  bool digits = false, point = false;
  for (; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch >= '0' && ch <= '9') {
      plain.push_back(ch);
      digits = true;
    } else if (ch == ',' && !point && digits) {
      continue;
    } else if (ch == '.' && !point && digits) {
      plain.push_back(ch);
      point = true;
    } else {
      return std::nullopt;
    }
  }
  if (!digits || plain.back() == '.') return std::nullopt;
  return NormalizeDecimal(plain);
}

std::optional<std::string> ParseByteaHex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i < text.size(); i += 2) {
    const int hi = HexDigit(text[i]), lo = HexDigit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string AppendTextValue(const ChangeColumn& col, std::string_view text, Batch& batch) {
  if (col.money) {
    std::optional<std::string> d = ParseMoneyText(text);
    if (!d) return fmt::format("invalid money value {}", Excerpt(text));
    batch.AppendBytes(*d);
    return {};
  }
  int64_t i = 0;
  switch (col.wire) {
    case PgWire::kBool:
      if (text != "t" && text != "f") return fmt::format("invalid boolean {}", Excerpt(text));
      batch.AppendInt(text == "t" ? 1 : 0);
      return {};
    case PgWire::kInt2:
      if (!ParseInt(text, INT16_MIN, INT16_MAX, &i)) {
        return fmt::format("invalid smallint {}", Excerpt(text));
      }
      batch.AppendInt(i);
      return {};
    case PgWire::kInt4:
      if (!ParseInt(text, INT32_MIN, INT32_MAX, &i)) {
        return fmt::format("invalid integer {}", Excerpt(text));
      }
      batch.AppendInt(i);
      return {};
    case PgWire::kInt8:
      if (!ParseInt(text, INT64_MIN, INT64_MAX, &i)) {
        return fmt::format("invalid bigint {}", Excerpt(text));
      }
      batch.AppendInt(i);
      return {};
    case PgWire::kFloat4: {
      float f = 0;
      if (!ParseFloatText(text, &f)) return fmt::format("invalid real {}", Excerpt(text));
      batch.AppendDouble(static_cast<double>(f));
      return {};
    }
    case PgWire::kFloat8: {
      double d = 0;
      if (!ParseFloatText(text, &d)) {
        return fmt::format("invalid double precision {}", Excerpt(text));
      }
      batch.AppendDouble(d);
      return {};
    }
    case PgWire::kNumeric: {
      std::optional<std::string> d = NormalizeDecimal(text);
      if (!d) return fmt::format("invalid numeric {}", Excerpt(text));
      batch.AppendBytes(*d);
      return {};
    }
    case PgWire::kDate: {
      if (text == "infinity") {
        batch.AppendInt(kDateInfinity);
        return {};
      }
      if (text == "-infinity") {
        batch.AppendInt(kDateMinusInfinity);
        return {};
      }
      std::optional<int64_t> d = ParseDate(text);
      if (!d) return fmt::format("invalid date {}", Excerpt(text));
      batch.AppendInt(*d);
      return {};
    }
    case PgWire::kTime: {
      std::optional<int64_t> t = ParseTime(text);
      if (!t || *t < 0) return fmt::format("invalid time {}", Excerpt(text));
      batch.AppendInt(*t);
      return {};
    }
    case PgWire::kTimestamp:
    case PgWire::kTimestamptz: {
      if (text == "infinity") {
        batch.AppendInt(kDatetimeInfinity);
        return {};
      }
      if (text == "-infinity") {
        batch.AppendInt(kDatetimeMinusInfinity);
        return {};
      }
      // timestamptz prints a zone ("+00" under TimeZone UTC); timestamp must not have one.
      if (col.wire == PgWire::kTimestamp) {
        std::string_view t = text;
        if (t.size() > 3 && t.substr(t.size() - 3) == " BC") t.remove_suffix(3);
        const size_t colon = t.find(':');
        if (colon != std::string_view::npos &&
            t.find_first_of("+-Zz", colon) != std::string_view::npos) {
          return fmt::format("invalid timestamp {}", Excerpt(text));
        }
      } else if (text.find('+', 10) == std::string_view::npos &&
                 text.find('-', 10) == std::string_view::npos) {
        return fmt::format("invalid timestamp with time zone {} (no zone)", Excerpt(text));
      }
      std::optional<int64_t> ts = ParseDatetime(text);
      if (!ts) {
        return fmt::format("invalid timestamp {} (or beyond year 294246, outside Ferry's "
                           "DATETIME range)", Excerpt(text));
      }
      batch.AppendInt(*ts);
      return {};
    }
    case PgWire::kBytea: {
      std::optional<std::string> b = ParseByteaHex(text);
      if (!b) return fmt::format("invalid bytea hex text {}", Excerpt(text));
      batch.AppendBytes(*b);
      return {};
    }
    case PgWire::kText:
    case PgWire::kJson:
    case PgWire::kJsonb:
    case PgWire::kUuid:
      batch.AppendBytes(text);
      return {};
    case PgWire::kOther:
      if (col.inet && text.find('/') == std::string_view::npos) {
        // The reader's inet::text always shows the netmask; the output function omits a
        // full-length one.
        const size_t start = batch.arena().size();
        batch.arena().append(text);
        batch.arena().append(text.find(':') == std::string_view::npos ? "/32" : "/128");
        batch.CommitBytes(start);
        return {};
      }
      batch.AppendBytes(text);
      return {};
  }
  return "unknown wire form";
}

TableChangeEncoder::TableChangeEncoder(uint32_t table_id, TableDef def) : table_id_(table_id) {
  SetDef(std::move(def));
}

void TableChangeEncoder::SetDef(TableDef def) {
  def_ = std::move(def);
  columns_.clear();
  storage_.clear();
  for (const ColumnDef& c : def_.columns) {
    columns_.push_back(ChangeColumnFor(c));
    storage_.push_back(StorageOf(c.type.kind));
  }
  batch_ = Batch(static_cast<int>(def_.columns.size()));
  has_relation_ = false;
  source_index_.clear();
  relation_columns_ = 0;
}

bool TableChangeEncoder::Matches(const pgoutput::Relation& rel,
                                 const std::vector<uint32_t>& base_oids) const {
  if (rel.columns.size() != def_.columns.size()) return false;
  for (size_t i = 0; i < rel.columns.size(); ++i) {
    const ColumnDef& c = def_.columns[i];
    if (rel.columns[i].name != c.name) return false;
    if (i < base_oids.size() && base_oids[i] != 0 && c.native_id != 0 &&
        base_oids[i] != c.native_id) {
      return false;
    }
  }
  return true;
}

void TableChangeEncoder::SetRelation(const pgoutput::Relation& rel) {
  source_index_.assign(def_.columns.size(), -1);
  for (size_t i = 0; i < def_.columns.size(); ++i) {
    for (size_t r = 0; r < rel.columns.size(); ++r) {
      if (rel.columns[r].name == def_.columns[i].name) {
        source_index_[i] = static_cast<int>(r);
        break;
      }
    }
  }
  relation_columns_ = rel.columns.size();
  has_relation_ = true;
}

void TableChangeEncoder::AppendTuple(const pgoutput::Tuple& tuple, Lsn lsn, const char* image) {
  if (tuple.size() != relation_columns_) {
    throw Error(
        ErrorKind::kData,
        fmt::format("change to {} at LSN {}: the {} image has {} columns, the relation "
                    "message announced {}",
                    def_.QualifiedName(), FormatLsn(lsn), image, tuple.size(), relation_columns_));
  }
  for (size_t i = 0; i < def_.columns.size(); ++i) {
    const int src = source_index_[i];
    if (src < 0) {
      batch_.AppendNull();
      continue;
    }
    const pgoutput::TupleValue& v = tuple[static_cast<size_t>(src)];
    switch (v.kind) {
      case pgoutput::TupleValue::Kind::kNull:
        batch_.AppendNull();
        break;
      case pgoutput::TupleValue::Kind::kUnchangedToast:
        batch_.AppendUnchanged();
        break;
      case pgoutput::TupleValue::Kind::kText: {
        const std::string problem = AppendTextValue(columns_[i], v.data, batch_);
        if (!problem.empty()) {
          throw Error(ErrorKind::kData,
                      fmt::format("column {} of {} at LSN {} ({} image): {}", def_.columns[i].name,
                                  def_.QualifiedName(), FormatLsn(lsn), image, problem));
        }
        break;
      }
      case pgoutput::TupleValue::Kind::kBinary: {
        if (!columns_[i].binary_ok) {
          throw Error(ErrorKind::kData,
                      fmt::format("column {} of {} at LSN {} ({} image): a binary value arrived "
                                  "for type {}, which Ferry only reads as text",
                                  def_.columns[i].name, def_.QualifiedName(), FormatLsn(lsn), image,
                                  def_.columns[i].native_type));
        }
        if (v.data.size() > static_cast<size_t>(INT32_MAX)) {
          throw Error(ErrorKind::kData,
                      fmt::format("column {} of {} at LSN {}: value larger than 2 GB",
                                  def_.columns[i].name, def_.QualifiedName(), FormatLsn(lsn)));
        }
        const CopyField f{v.data.data(), static_cast<int32_t>(v.data.size())};
        try {
          DecodeBinaryField(f, columns_[i].wire, static_cast<int>(i), batch_, def_);
        } catch (const Error& e) {
          throw Error(e.kind(),
                      fmt::format("{} (at LSN {}, {} image)", e.what(), FormatLsn(lsn), image));
        }
        break;
      }
    }
  }
}

void TableChangeEncoder::EncodeInsert(const pgoutput::Insert& m, Lsn lsn, std::string* out) {
  batch_.Clear();
  AppendTuple(m.new_tuple, lsn, "new");
  cdc::ChangeView v;
  v.op = cdc::ChangeOp::kInsert;
  v.table = table_id_;
  v.rows = &batch_;
  v.new_row = 0;
  cdc::EncodeChange(v, storage_, out);
}

void TableChangeEncoder::EncodeUpdate(const pgoutput::Update& m, Lsn lsn, std::string* out) {
  batch_.Clear();
  cdc::ChangeView v;
  v.op = cdc::ChangeOp::kUpdate;
  v.table = table_id_;
  v.rows = &batch_;
  if (m.old_kind == 'K' || m.old_kind == 'O') {
    AppendTuple(m.old_tuple, lsn, "old");
    v.old_kind = m.old_kind == 'K' ? cdc::OldImage::kKey : cdc::OldImage::kFull;
    v.old_row = 0;
    v.new_row = 1;
  } else {
    v.new_row = 0;
  }
  AppendTuple(m.new_tuple, lsn, "new");
  cdc::EncodeChange(v, storage_, out);
}

void TableChangeEncoder::EncodeDelete(const pgoutput::Delete& m, Lsn lsn, std::string* out) {
  batch_.Clear();
  AppendTuple(m.old_tuple, lsn, "old");
  cdc::ChangeView v;
  v.op = cdc::ChangeOp::kDelete;
  v.table = table_id_;
  v.rows = &batch_;
  v.old_kind = m.old_kind == 'O' ? cdc::OldImage::kFull : cdc::OldImage::kKey;
  v.old_row = 0;
  cdc::EncodeChange(v, storage_, out);
}

void TableChangeEncoder::EncodeTruncate(std::string* out) const {
  cdc::ChangeView v;
  v.op = cdc::ChangeOp::kTruncate;
  v.table = table_id_;
  cdc::EncodeChange(v, storage_, out);
}

}  // namespace ferry::postgres
