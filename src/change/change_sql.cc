#include "change/change_sql.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.h"
#include "types/value_codec.h"

namespace ferry::cdc {

ChangeSqlTable::ChangeSqlTable(const TableDef& table, std::string name, const SqlDialect& d)
    : def(&table), sql_name(std::move(name)), has_pk(!table.primary_key.empty()), dialect(&d) {
  for (const std::string& k : table.primary_key) {
    const int i = table.ColumnIndex(k);
    if (i < 0) {
      throw Error(ErrorKind::kSchema,
                  fmt::format("primary key column {} of {} table {} is not one of its columns",
                              d.quote_ident(k), d.engine, table.QualifiedName()));
    }
    key.push_back(i);
  }
  if (key.empty()) {
    for (size_t i = 0; i < table.columns.size(); ++i) key.push_back(static_cast<int>(i));
  }
}

std::string InsertSql(const ChangeSqlTable& t, const Batch& b, int row, bool upsert,
                      const SqlValueFn& value) {
  const SqlDialect& d = *t.dialect;
  std::string cols, vals, set;
  for (size_t c = 0; c < t.def->columns.size(); ++c) {
    if (b.at(row, static_cast<int>(c)).unchanged) continue;
    const std::string name = d.quote_ident(t.def->columns[c].name);
    if (!cols.empty()) {
      cols += ", ";
      vals += ", ";
    }
    cols += name;
    value(b, row, static_cast<int>(c), &vals);
    if (d.upsert_on_duplicate_key) {
      set += fmt::format("{}{} = VALUES({})", set.empty() ? "" : ", ", name, name);
    } else if (std::find(t.key.begin(), t.key.end(), static_cast<int>(c)) == t.key.end()) {
      set += fmt::format("{}{} = excluded.{}", set.empty() ? "" : ", ", name, name);
    }
  }
  std::string sql = "INSERT INTO " + t.sql_name + " (" + cols + ") VALUES (" + vals + ")";
  if (!upsert || !t.has_pk) return sql;
  if (d.upsert_on_duplicate_key) {
    if (!set.empty()) sql += " ON DUPLICATE KEY UPDATE " + set;
    return sql;
  }
  std::string pk;
  for (int k : t.key) pk += (pk.empty() ? "" : ", ") + d.quote_ident(t.def->columns[k].name);
  return sql + " ON CONFLICT (" + pk + ") DO " + (set.empty() ? "NOTHING" : "UPDATE SET " + set);
}

std::string WhereSql(const ChangeSqlTable& t, const ChangeView& ch, bool strict,
                     const SqlValueFn& value) {
  const SqlDialect& d = *t.dialect;
  int row = ch.old_kind != OldImage::kNone ? ch.old_row : ch.new_row;
  if (!t.has_pk && ch.old_kind != OldImage::kFull) {
    if (strict) {
      throw Error(ErrorKind::kData,
                  fmt::format("{} of {} table {}: the table has no primary key and the change "
                              "carries no full old row to find it by; the source table needs "
                              "REPLICA IDENTITY FULL",
                              ChangeOpName(ch.op), d.engine, t.def->QualifiedName()));
    }
    if (ch.old_kind == OldImage::kNone) row = ch.new_row;
  }
  std::string cond;
  for (int c : t.key) {
    if (ch.rows->at(row, c).unchanged) continue;
    if (!cond.empty()) cond += " AND ";
    cond += d.quote_ident(t.def->columns[c].name);
    cond += t.has_pk ? " = " : d.one_row_by_limit ? " <=> " : " IS ";
    value(*ch.rows, row, c, &cond);
  }
  if (cond.empty()) cond = "1 = 1";
  if (t.has_pk) return " WHERE " + cond;
  if (d.one_row_by_limit) return " WHERE " + cond + " LIMIT 1";
  return " WHERE rowid = (SELECT rowid FROM " + t.sql_name + " WHERE " + cond + " LIMIT 1)";
}

namespace {

std::string UpdateSql(const ChangeSqlTable& t, const ChangeView& ch, bool strict,
                      const SqlValueFn& value) {
  std::string sql = "UPDATE " + t.sql_name + " SET ";
  bool first = true;
  for (size_t c = 0; c < t.def->columns.size(); ++c) {
    if (ch.rows->at(ch.new_row, static_cast<int>(c)).unchanged) continue;
    if (!first) sql += ", ";
    first = false;
    sql += t.dialect->quote_ident(t.def->columns[c].name) + " = ";
    value(*ch.rows, ch.new_row, static_cast<int>(c), &sql);
  }
  if (first) {
    // Nothing to set: still find the row, so that it counts as matched.
    const std::string k = t.dialect->quote_ident(t.def->columns[t.key[0]].name);
    sql += k + " = " + k;
  }
  return sql + WhereSql(t, ch, strict, value);
}

}  // namespace

std::string ChangeSql(const ChangeSqlTable& t, const ChangeView& ch, bool upsert, bool strict,
                      const SqlValueFn& value) {
  switch (ch.op) {
    case ChangeOp::kInsert:
      return InsertSql(t, *ch.rows, ch.new_row, upsert, value);
    case ChangeOp::kUpdate:
      return UpdateSql(t, ch, strict, value);
    case ChangeOp::kDelete:
      return "DELETE FROM " + t.sql_name + WhereSql(t, ch, strict, value);
    case ChangeOp::kTruncate:
      return "DELETE FROM " + t.sql_name;
    case ChangeOp::kShape:
      break;  // not a row change: no statement
  }
  return {};
}

void StatementLiteral(const SqlDialect& d, const DmsType& type, const Batch& b, size_t row,
                      int col, std::string* out) {
  if (b.IsNull(row, col)) {
    out->append("NULL");
    return;
  }
  std::string v;
  AppendCanonical(b, row, col, type, &v);
  bool cut = false;
  if (v.size() > kStatementValueBytes) {
    size_t n = kStatementValueBytes;
    if (!IsBinary(type.kind)) {
      while (n > 0 && (static_cast<unsigned char>(v[n]) & 0xC0) == 0x80) --n;
    }
    v.resize(n);
    cut = true;
  }
  if (IsBinary(type.kind)) {
    static const char* kDigits = "0123456789ABCDEF";
    out->append("X'");
    for (unsigned char c : v) {
      out->push_back(kDigits[c >> 4]);
      out->push_back(kDigits[c & 15]);
    }
    out->append(cut ? "...'" : "'");
    return;
  }
  const Storage st = StorageOf(type.kind);
  const bool temporal =
      type.kind == DmsKind::kDate || type.kind == DmsKind::kTime || type.kind == DmsKind::kDatetime;
  const bool numeric = type.kind == DmsKind::kNumeric && d.numeric_literal_bare;
  const bool bare = !temporal && (st != Storage::kBytes || numeric) && v != "NaN" &&
                    v != "Infinity" && v != "-Infinity";
  if (bare) {
    out->append(v);
    return;
  }
  if (cut) v += "...";
  d.append_text_literal(v, out);
}

}  // namespace ferry::cdc
