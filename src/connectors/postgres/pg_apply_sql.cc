// PgChangeApplier's statements: the shape that applies a change (PgApplyShapeOf), its SQL with
// parameters (what is prepared) or with literals (Statement(), for messages and the apply
// exceptions table). Sending them is pg_applier.cc's business.
#include <fmt/format.h>

#include "connectors/postgres/pg_applier.h"
#include "connectors/postgres/pg_applier_internal.h"
#include "connectors/postgres/pg_types.h"
#include "types/value_codec.h"

namespace ferry::postgres {

namespace {

// Statement(): values longer than this many bytes are shortened with "...".
constexpr size_t kStatementValueMax = 200;
bool Contains(const std::vector<int>& v, int x) {
  for (int e : v) {
    if (e == x) return true;
  }
  return false;
}

// True when the cells of `col` in rows `a` and `b` hold the same value.
bool SameCell(const Batch& batch, int a, int b, int col, Storage storage) {
  const Cell& x = batch.at(a, col);
  const Cell& y = batch.at(b, col);
  if (x.null || y.null) return x.null == y.null && x.unchanged == y.unchanged;
  if (storage == Storage::kBytes) return batch.Bytes(a, col) == batch.Bytes(b, col);
  return x.u == y.u;
}

bool LooksNumeric(std::string_view s) {
  if (s.empty()) return false;
  bool digit = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E') {
      return false;
    }
  }
  return digit;
}

// One value of a change as an SQL literal, for Statement().
void AppendLiteral(const Batch& batch, size_t row, int col, const PgWriteColumn& column,
                   const TableDef& table, std::string* out) {
  if (batch.IsNull(row, col)) {
    out->append("NULL");
    return;
  }
  std::string text, scratch;
  try {
    EncodeTextValue(batch, row, col, column, table, &text, &scratch);
  } catch (const Error&) {
    // A value the column cannot hold still shows, as its canonical text.
    text.clear();
    if (IsBinary(column.source.kind)) {
      static constexpr char kHex[] = "0123456789abcdef";
      text = "\\x";
      for (unsigned char b : batch.Bytes(row, col)) {
        text.push_back(kHex[b >> 4]);
        text.push_back(kHex[b & 15]);
      }
    } else {
      AppendCanonical(batch, row, col, column.source, &text);
    }
  }
  const PgWire w = column.target.wire;
  const bool numeric_column = w == PgWire::kInt2 || w == PgWire::kInt4 || w == PgWire::kInt8 ||
                              w == PgWire::kFloat4 || w == PgWire::kFloat8 || w == PgWire::kNumeric;
  if (numeric_column && text.size() <= kStatementValueMax && LooksNumeric(text)) {
    out->append(text);
    return;
  }
  if (text.size() > kStatementValueMax) {
    size_t cut = kStatementValueMax;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
    text += "...";
  }
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c == '\0') {
      clean += "\\x00";
    } else {
      clean.push_back(c);
    }
  }
  out->append(QuoteLiteral(clean));
}

}  // namespace

namespace apply_internal {

std::vector<int> KeyIndexes(const TableDef& table) {
  std::vector<int> key;
  for (const std::string& name : table.primary_key) {
    const int i = table.ColumnIndex(name);
    if (i < 0) {
      throw Error(ErrorKind::kSchema,
                  fmt::format("table {}: primary key column {} is not among its columns",
                              table.QualifiedName(), name));
    }
    key.push_back(i);
  }
  return key;
}

std::vector<PgWriteColumn> WriteColumns(const TableDef& table) {
  std::vector<PgWriteColumn> cols;
  cols.reserve(table.columns.size());
  for (const ColumnDef& c : table.columns) {
    cols.push_back(PgWriteColumn{c.name, c.type, ParsePgTargetType(c.native_type)});
  }
  return cols;
}

}  // namespace apply_internal

using apply_internal::KeyIndexes;
using apply_internal::WriteColumns;

bool PgApplyShapeOf(const TableDef& table, const std::vector<int>& key,
                    const cdc::ChangeView& change, bool upsert, PgApplyShape* shape) {
  shape->set_columns.clear();
  shape->where_columns.clear();
  const Batch& b = *change.rows;
  const int n = static_cast<int>(table.columns.size());
  if (b.columns() != n) {
    throw Error(ErrorKind::kInternal,
                fmt::format("{} on table {}: the change has {} columns, the table {}",
                            cdc::ChangeOpName(change.op), table.QualifiedName(), b.columns(), n));
  }
  switch (change.op) {
    case cdc::ChangeOp::kInsert:
      shape->kind = upsert && !key.empty() ? PgApplyKind::kUpsertInsert : PgApplyKind::kInsert;
      for (int c = 0; c < n; ++c) {
        if (!b.at(change.new_row, c).unchanged) shape->set_columns.push_back(c);
      }
      return true;
    case cdc::ChangeOp::kUpdate:
    case cdc::ChangeOp::kDelete: {
      const bool del = change.op == cdc::ChangeOp::kDelete;
      if (del && (change.old_kind == cdc::OldImage::kNone || change.old_row < 0)) {
        throw Error(ErrorKind::kData,
                    fmt::format("DELETE on table {} carries no old image", table.QualifiedName()));
      }
      if (key.empty()) {
        if (change.old_kind != cdc::OldImage::kFull) {
          throw Error(
              ErrorKind::kData,
              fmt::format(
                  "{} on table {}: the table has no primary key on the target, so the "
                  "row must be found by its whole old row, but the source sent {}; set "
                  "REPLICA IDENTITY FULL on the source table",
                  cdc::ChangeOpName(change.op), table.QualifiedName(),
                  change.old_kind == cdc::OldImage::kKey ? "only the old key" : "no old row"));
        }
        for (int c = 0; c < n; ++c) {
          if (!b.at(change.old_row, c).unchanged) shape->where_columns.push_back(c);
        }
        if (shape->where_columns.empty()) {
          throw Error(ErrorKind::kData,
                      fmt::format("{} on table {}: the old row has no value to match",
                                  cdc::ChangeOpName(change.op), table.QualifiedName()));
        }
      } else {
        shape->where_columns = key;
      }
      if (del) {
        shape->kind = PgApplyKind::kDelete;
        return true;
      }
      shape->kind = upsert ? PgApplyKind::kUpsertUpdate : PgApplyKind::kUpdate;
      bool key_changed = false;
      if (!key.empty() && change.old_kind != cdc::OldImage::kNone && change.old_row >= 0) {
        for (int k : key) {
          if (!SameCell(b, change.old_row, change.new_row, k,
                        StorageOf(table.columns[k].type.kind))) {
            key_changed = true;
          }
        }
      }
      for (int c = 0; c < n; ++c) {
        if (b.at(change.new_row, c).unchanged) continue;
        if (!key_changed && !key.empty() && Contains(key, c)) continue;
        shape->set_columns.push_back(c);
      }
      return !shape->set_columns.empty();
    }
    case cdc::ChangeOp::kTruncate:
    case cdc::ChangeOp::kShape:
      break;
  }
  throw Error(ErrorKind::kInternal,
              fmt::format("PgApplyShapeOf called for {} on table {}", cdc::ChangeOpName(change.op),
                          table.QualifiedName()));
}

std::string PgApplySql(const TableDef& table, const PgApplyShape& shape, bool for_display,
                       const PgApplyValueFn& value) {
  const std::string q = QuoteQualified(table.schema, table.name);
  const size_t nset = shape.set_columns.size();
  std::string out;
  auto col = [&](int c) { out += DoubleQuoteIdent(table.columns[c].name); };
  auto where = [&]() {
    if (!table.primary_key.empty()) {
      for (size_t j = 0; j < shape.where_columns.size(); ++j) {
        if (j) out += " AND ";
        col(shape.where_columns[j]);
        out += "=";
        value(nset + j, &out);
      }
      return;
    }
    out += "ctid = (SELECT ctid FROM " + q + " WHERE ";
    for (size_t j = 0; j < shape.where_columns.size(); ++j) {
      if (j) out += " AND ";
      const int c = shape.where_columns[j];
      // json has no equality operator: compare its text.
      const bool json = ParsePgTargetType(table.columns[c].native_type).wire == PgWire::kJson;
      col(c);
      out += json ? "::text IS NOT DISTINCT FROM " : " IS NOT DISTINCT FROM ";
      value(nset + j, &out);
      if (json) out += "::text";
    }
    out += " LIMIT 1)";
  };
  auto update = [&]() {
    out += "UPDATE " + q + " SET ";
    for (size_t i = 0; i < nset; ++i) {
      if (i) out += ", ";
      col(shape.set_columns[i]);
      out += "=";
      value(i, &out);
    }
    out += " WHERE ";
    where();
  };
  auto column_list = [&](const std::vector<int>& cols) {
    out += " (";
    for (size_t i = 0; i < cols.size(); ++i) {
      if (i) out += ", ";
      col(cols[i]);
    }
    out += ")";
  };
  switch (shape.kind) {
    case PgApplyKind::kInsert:
    case PgApplyKind::kUpsertInsert: {
      out += "INSERT INTO " + q;
      column_list(shape.set_columns);
      out += " VALUES (";
      for (size_t i = 0; i < nset; ++i) {
        if (i) out += ", ";
        value(i, &out);
      }
      out += ")";
      if (shape.kind == PgApplyKind::kInsert || table.primary_key.empty()) {
        if (!for_display) out += " ON CONFLICT DO NOTHING";
        break;
      }
      out += " ON CONFLICT (";
      for (size_t i = 0; i < table.primary_key.size(); ++i) {
        if (i) out += ", ";
        out += DoubleQuoteIdent(table.primary_key[i]);
      }
      out += ") DO ";
      bool any = false;
      for (int c : shape.set_columns) {
        if (Contains(shape.where_columns, c)) continue;  // where_columns is empty for INSERT
        bool is_key = false;
        for (const std::string& k : table.primary_key) is_key |= k == table.columns[c].name;
        if (is_key) continue;
        out += any ? ", " : "UPDATE SET ";
        any = true;
        col(c);
        out += " = EXCLUDED.";
        col(c);
      }
      if (!any) out += "NOTHING";
      break;
    }
    case PgApplyKind::kUpdate:
      update();
      break;
    case PgApplyKind::kDelete:
      out += "DELETE FROM " + q + " WHERE ";
      where();
      break;
    case PgApplyKind::kUpsertUpdate: {
      // The inserted row: the new image's columns, plus key columns the update does not set
      // (the key did not change, so the where values are the new key).
      std::vector<int> cols = shape.set_columns;
      std::vector<size_t> values;
      for (size_t i = 0; i < nset; ++i) values.push_back(i);
      if (!table.primary_key.empty()) {
        for (size_t j = 0; j < shape.where_columns.size(); ++j) {
          if (Contains(cols, shape.where_columns[j])) continue;
          cols.push_back(shape.where_columns[j]);
          values.push_back(nset + j);
        }
      }
      out += "WITH u AS (";
      update();
      out += " RETURNING 1), i AS (INSERT INTO " + q;
      column_list(cols);
      out += " SELECT ";
      for (size_t i = 0; i < values.size(); ++i) {
        if (i) out += ", ";
        value(values[i], &out);
      }
      out +=
          " WHERE NOT EXISTS (SELECT 1 FROM u) ON CONFLICT DO NOTHING RETURNING 1) "
          "SELECT 1 FROM u UNION ALL SELECT 1 FROM i";
      break;
    }
  }
  return out;
}

std::string PgApplyPreparedSql(const TableDef& table, const PgApplyShape& shape) {
  return PgApplySql(table, shape, false, [](size_t index, std::string* out) {
    fmt::format_to(std::back_inserter(*out), "${}", index + 1);
  });
}

std::string PgChangeApplier::Statement(const TableDef& target, const cdc::ChangeView& change) {
  const std::string quoted = QuoteQualified(target.schema, target.name);
  if (change.op == cdc::ChangeOp::kTruncate) return "TRUNCATE TABLE " + quoted;
  const std::vector<PgWriteColumn> cols = WriteColumns(target);
  std::vector<int> key;
  try {
    key = KeyIndexes(target);
  } catch (const Error&) {
    key.clear();
  }
  const Batch& b = *change.rows;
  const int n = static_cast<int>(target.columns.size());
  PgApplyShape shape;
  try {
    if (!PgApplyShapeOf(target, key, change, false, &shape)) {
      shape.set_columns = key;  // a no-op update: show it setting the key to itself
    }
  } catch (const Error&) {
    // No primary key and no whole old row: show the match on what the change carries.
    shape = PgApplyShape();
    const int row = change.old_row >= 0 ? change.old_row : change.new_row;
    shape.kind = change.op == cdc::ChangeOp::kDelete ? PgApplyKind::kDelete : PgApplyKind::kUpdate;
    for (int c = 0; c < n && row >= 0 && b.columns() == n; ++c) {
      if (!b.IsNull(row, c)) shape.where_columns.push_back(c);
      if (shape.kind == PgApplyKind::kUpdate && change.new_row >= 0 &&
          !b.at(change.new_row, c).unchanged) {
        shape.set_columns.push_back(c);
      }
    }
  }
  const size_t nset = shape.set_columns.size();
  const int where_row = change.old_kind != cdc::OldImage::kNone && change.old_row >= 0
                            ? change.old_row
                            : change.new_row;
  return PgApplySql(target, shape, true, [&](size_t i, std::string* out) {
    const int col = i < nset ? shape.set_columns[i] : shape.where_columns[i - nset];
    const int row = i < nset ? change.new_row : where_row;
    AppendLiteral(b, static_cast<size_t>(row), col, cols[col], target, out);
  });
}

}  // namespace ferry::postgres
