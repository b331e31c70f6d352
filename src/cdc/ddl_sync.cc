#include "cdc/ddl_sync.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

#include "common/error.h"
#include "schema/schema_objects.h"
#include "transform/row_transform.h"

namespace ferry::cdc {

namespace {

bool SameType(const ColumnDef& a, const ColumnDef& b) {
  return a.type == b.type && a.native_type == b.native_type;
}

// What changed between two column lists of one source table.
struct ColumnDiff {
  std::vector<std::string> dropped;                           // names of `before`
  std::vector<std::pair<std::string, std::string>> renamed;   // (before name, after name)
  std::vector<std::string> retyped;                           // names in both
  std::vector<std::string> added;                             // names of `after`, in order
  bool empty() const {
    return dropped.empty() && renamed.empty() && retyped.empty() && added.empty();
  }
};

ColumnDiff DiffColumns(const TableDef& before, const TableDef& after) {
  ColumnDiff d;
  std::vector<bool> new_used(after.columns.size(), false);
  for (size_t j = 0; j < after.columns.size(); ++j) {
    if (before.ColumnIndex(after.columns[j].name) >= 0) new_used[j] = true;
  }
  for (size_t i = 0; i < before.columns.size(); ++i) {
    const ColumnDef& b = before.columns[i];
    const int j = after.ColumnIndex(b.name);
    if (j >= 0) {
      if (!SameType(b, after.columns[j])) d.retyped.push_back(b.name);
      continue;
    }
    // Gone: a new name at the same position with the same type is a rename.
    if (i < after.columns.size() && !new_used[i] && SameType(b, after.columns[i])) {
      new_used[i] = true;
      d.renamed.emplace_back(b.name, after.columns[i].name);
    } else {
      d.dropped.push_back(b.name);
    }
  }
  for (size_t j = 0; j < after.columns.size(); ++j) {
    if (!new_used[j]) d.added.push_back(after.columns[j].name);
  }
  return d;
}

bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

// Positions of `$column` references in an add-column expression (case-insensitive, as the
// expression compiler matches them).
std::vector<size_t> ReferencesOf(const std::string& expression, const std::string& column) {
  std::vector<size_t> out;
  const std::string needle = "$" + column;
  for (size_t i = 0; i + needle.size() <= expression.size(); ++i) {
    bool match = true;
    for (size_t k = 0; k < needle.size() && match; ++k) {
      match = std::tolower(static_cast<unsigned char>(expression[i + k])) ==
              std::tolower(static_cast<unsigned char>(needle[k]));
    }
    if (!match) continue;
    if (i + needle.size() < expression.size() && IsIdentChar(expression[i + needle.size()])) {
      continue;
    }
    if (i > 0 && IsIdentChar(expression[i - 1])) continue;
    out.push_back(i);
  }
  return out;
}

// Key membership of a target column (primary key or a unique index).
bool InKey(const TableDef& t, const std::string& name) {
  if (std::find(t.primary_key.begin(), t.primary_key.end(), name) != t.primary_key.end()) {
    return true;
  }
  for (const IndexDef& idx : t.unique_indexes) {
    if (std::find(idx.columns.begin(), idx.columns.end(), name) != idx.columns.end()) return true;
  }
  return false;
}

// A dropped column takes the keys that contain it along (as on the source).
void DropFromKeys(TableDef& t, const std::string& name) {
  if (std::find(t.primary_key.begin(), t.primary_key.end(), name) != t.primary_key.end()) {
    t.primary_key.clear();
  }
  std::erase_if(t.unique_indexes, [&](const IndexDef& idx) {
    return std::find(idx.columns.begin(), idx.columns.end(), name) != idx.columns.end();
  });
}

void RenameInKeys(TableDef& t, const std::string& from, const std::string& to) {
  for (std::string& k : t.primary_key) {
    if (k == from) k = to;
  }
  for (IndexDef& idx : t.unique_indexes) {
    for (std::string& k : idx.columns) {
      if (k == from) k = to;
    }
  }
}

// ALTER TABLE statements for one target table, in the target's dialect.
class AlterSql {
 public:
  AlterSql(const SqlConnector& target, const TableDef& table) : dialect_(target.dialect()) {
    table_ = table.schema.empty() ? Q(table.name) : Q(table.schema) + "." + Q(table.name);
  }
  std::string Q(const std::string& name) const { return dialect_.QuoteIdentifier(name); }
  std::string Add(const ColumnDef& c) const { return dialect_.AddColumnSql(table_, c); }
  const std::string& table() const { return table_; }
  std::string Drop(const std::string& column) const {
    return fmt::format("ALTER TABLE {} DROP COLUMN {}", table_, Q(column));
  }
  std::string Rename(const std::string& from, const std::string& to) const {
    return fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}", table_, Q(from), Q(to));
  }
  // Empty when the engine cannot change a column's type (SQLite).
  std::string Retype(const ColumnDef& c) const { return dialect_.RetypeColumnSql(table_, c); }
  const Dialect& dialect() const { return dialect_; }

 private:
  const Dialect& dialect_;
  std::string table_;
};

// Plans the change for one table; `out->new_plan` starts as the plan now.
class Planner {
 public:
  Planner(const TableDef& after, const SqlConnector& target, Engine source_engine,
          TableChangePlan* out)
      : after_(after),
        target_(target),
        source_engine_(source_engine),
        out_(*out),
        plan_(out->new_plan),
        sql_(target, out->new_plan.target) {}

  void Run(const ColumnDiff& diff) {
    for (const std::string& x : diff.dropped) Drop(x);
    for (const auto& [x, y] : diff.renamed) Rename(x, y);
    for (const std::string& x : diff.retyped) Retype(x);
    for (const std::string& y : diff.added) Add(y);
    if (!sqlite_casts_.empty()) RebuildSqliteTable();
  }

 private:
  const ColumnDef& After(const std::string& name) const {
    return after_.columns[after_.ColumnIndex(name)];
  }
  void Note(std::string text) {
    out_.notes.push_back(fmt::format("table {}: {}", plan_.source.QualifiedName(), text));
  }
  // The source column list the plan reads (the transform's when there is one).
  TableDef& Input() { return plan_.transform ? plan_.transform->source : plan_.source; }
  // Target columns fed by input column `s`, unchanged (a plain copy), in target order.
  std::vector<int> CopiesOf(int s, const DmsType& source_type) const {
    std::vector<int> out;
    if (!plan_.transform) {
      out.push_back(s);
      return out;
    }
    const std::vector<TransformColumn>& cols = plan_.transform->columns;
    for (size_t c = 0; c < cols.size(); ++c) {
      if (cols[c].source_index == s && cols[c].type == source_type) {
        out.push_back(static_cast<int>(c));
      }
    }
    return out;
  }
  bool ExpressionReads(const std::string& column) const {
    if (!plan_.transform) return false;
    for (const TransformColumn& tc : plan_.transform->columns) {
      if (tc.source_index < 0 && !ReferencesOf(tc.expression, column).empty()) return true;
    }
    return false;
  }
  void EraseTargetColumn(int c) {
    const std::string name = plan_.target.columns[c].name;
    plan_.target.columns.erase(plan_.target.columns.begin() + c);
    DropFromKeys(plan_.target, name);
    if (plan_.transform) {
      plan_.transform->columns.erase(plan_.transform->columns.begin() + c);
    }
  }

  void Drop(const std::string& x) {
    const int s = Input().ColumnIndex(x);
    if (s < 0) return;  // the task does not read it: nothing on the target
    const std::vector<int> copies = CopiesOf(s, Input().columns[s].type);
    for (auto it = copies.rbegin(); it != copies.rend(); ++it) {
      const std::string tname = plan_.target.columns[*it].name;
      if (plan_.target.columns.size() == 1) {
        Note(fmt::format("source column {} was dropped; target column {} is the table's last "
                         "column and is kept (it receives NULL)",
                         x, tname));
        continue;
      }
      if (!sql_.dialect().DropsKeyColumns() && InKey(plan_.target, tname)) {
        Note(
            fmt::format("source column {} was dropped; {} cannot drop target column {}, "
                        "which is in the primary key or a unique index: it is kept and "
                        "receives NULL",
                        x, sql_.dialect().DisplayName(), tname));
        continue;
      }
      out_.statements.push_back(sql_.Drop(tname));
      EraseTargetColumn(*it);
    }
    if (!plan_.transform) {
      // Column s fed target column s; when kept above, the plan keeps reading it (as NULL).
      if (plan_.target.columns.size() == plan_.source.columns.size()) return;
      plan_.source.columns.erase(plan_.source.columns.begin() + s);
      DropFromKeys(plan_.source, x);
      return;
    }
    if (ExpressionReads(x)) {
      Note(fmt::format("source column {} was dropped; an add-column expression reads it, so "
                       "the task keeps reading it (as NULL)",
                       x));
      return;
    }
    for (const TransformColumn& tc : plan_.transform->columns) {
      if (tc.source_index == s) {
        Note(fmt::format("source column {} was dropped; target column {} (converted by rule "
                         "{}) is kept and receives NULL",
                         x, tc.name, tc.rule_id));
        return;
      }
    }
    plan_.transform->source.columns.erase(plan_.transform->source.columns.begin() + s);
    DropFromKeys(plan_.transform->source, x);
    for (TransformColumn& tc : plan_.transform->columns) {
      if (tc.source_index > s) --tc.source_index;
    }
    const int ps = plan_.source.ColumnIndex(x);
    if (ps >= 0) {
      plan_.source.columns.erase(plan_.source.columns.begin() + ps);
      DropFromKeys(plan_.source, x);
    }
  }

  void Rename(const std::string& x, const std::string& y) {
    const int s = Input().ColumnIndex(x);
    if (s < 0) return;  // not read by the task (and not added now: it is not a new column)
    for (int c : CopiesOf(s, Input().columns[s].type)) {
      ColumnDef& tcol = plan_.target.columns[c];
      if (tcol.name != x) {
        Note(fmt::format("source column {} was renamed {}; target column {} keeps the name a "
                         "mapping rule gave it",
                         x, y, tcol.name));
        continue;
      }
      if (plan_.target.ColumnIndex(y) >= 0) {
        Note(fmt::format("source column {} was renamed {}; the target already has a column {}, "
                         "so target column {} keeps its name",
                         x, y, y, x));
        continue;
      }
      out_.statements.push_back(sql_.Rename(x, y));
      RenameInKeys(plan_.target, x, y);
      tcol.name = y;
      if (plan_.transform) plan_.transform->columns[c].name = y;
    }
    Input().columns[s].name = y;
    RenameInKeys(Input(), x, y);
    if (plan_.transform) {
      const int ps = plan_.source.ColumnIndex(x);
      if (ps >= 0) {
        plan_.source.columns[ps].name = y;
        RenameInKeys(plan_.source, x, y);
      }
      for (TransformColumn& tc : plan_.transform->columns) {
        if (tc.source_index >= 0) continue;
        const std::vector<size_t> refs = ReferencesOf(tc.expression, x);
        for (auto it = refs.rbegin(); it != refs.rend(); ++it) {
          tc.expression.replace(*it, x.size() + 1, "$" + y);
        }
      }
    }
  }

  void Retype(const std::string& x) {
    const int s = Input().ColumnIndex(x);
    if (s < 0) return;
    const ColumnDef& now = After(x);
    const DmsType old_type = Input().columns[s].type;
    for (int c : CopiesOf(s, old_type)) {
      ColumnDef& tcol = plan_.target.columns[c];
      ColumnDef mapped = target_.dialect().MapColumn(now, source_engine_, InKey(plan_.target,
                                                                                 tcol.name));
      ColumnDef next = tcol;
      next.type = mapped.type;
      next.native_type = mapped.native_type;
      next.native_id = mapped.native_id;
      next.portable_native = mapped.portable_native;
      if (next.native_type != tcol.native_type) {
        const std::string sql = sql_.Retype(next);
        if (sql.empty()) {
          // SQLite cannot change a column's type: the table is rebuilt after the other
          // statements (RebuildSqliteTable), each value converted as the source's ALTER did.
          sqlite_casts_[next.name] = SqliteCast(tcol, next);
        } else {
          out_.statements.push_back(sql);
        }
      }
      tcol = next;
      if (plan_.transform) plan_.transform->columns[c].type = next.type;
    }
    ColumnDef updated = now;
    updated.name = x;
    Input().columns[s] = updated;
    if (plan_.transform) {
      const int ps = plan_.source.ColumnIndex(x);
      if (ps >= 0) plan_.source.columns[ps] = updated;
    }
  }

  // The source filled its existing rows with the added column's default, and no change of
  // them comes through the stream: the target's rows get the same value where it is a
  // constant; anything else (CURRENT_TIMESTAMP, an expression) is said, never left silent.
  void FillAddedColumn(const ColumnDef& source_column, const ColumnDef& mapped) {
    if (source_column.default_expression.empty()) return;
    const schema::ConvertedDefault d = schema::ConvertDefault(
        source_column.default_expression, source_engine_, mapped, target_.engine());
    if (d.converted && d.sql.empty()) return;  // DEFAULT NULL: the rows are NULL on both sides
    const ParsedDefault::Kind kind =
        d.converted ? target_.dialect().ParseDefault(d.sql).kind : ParsedDefault::kOther;
    if (kind == ParsedDefault::kNumber || kind == ParsedDefault::kString ||
        kind == ParsedDefault::kBoolean) {
      out_.statements.push_back(
          fmt::format("UPDATE {} SET {} = {}", sql_.table(), sql_.Q(mapped.name), d.sql));
      return;
    }
    Note(
        fmt::format("source column {} was added with default {}, which the source wrote into "
                    "every row it had; the target's rows from before have NULL in it ({}). "
                    "Reload the table to have the source's values",
                    source_column.name, source_column.default_expression,
                    d.converted ? "not a constant" : d.reason));
  }

  void Add(const std::string& y) {
    const ColumnDef& now = After(y);
    if (plan_.target.ColumnIndex(y) >= 0) {
      Note(fmt::format("source column {} was added; the target already has a column {}, so it "
                       "is not replicated",
                       y, y));
      return;
    }
    ColumnDef mapped = target_.dialect().MapColumn(now, source_engine_, false);
    mapped.name = y;
    mapped.nullable = true;
    mapped.default_expression.clear();
    mapped.create_default.clear();
    out_.statements.push_back(sql_.Add(mapped));
    FillAddedColumn(now, mapped);
    plan_.target.columns.push_back(mapped);
    if (plan_.transform) {
      plan_.transform->source.columns.push_back(now);
      TransformColumn tc;
      tc.source_index = static_cast<int>(plan_.transform->source.columns.size()) - 1;
      tc.type = now.type;
      tc.name = y;
      plan_.transform->columns.push_back(tc);
      if (plan_.source.ColumnIndex(y) < 0) plan_.source.columns.push_back(now);
    } else {
      plan_.source.columns.push_back(now);
    }
  }

  const TableDef& after_;
  const SqlConnector& target_;
  Engine source_engine_;
  // The value of `c` (declared `from`) as the source's ALTER ... TYPE converts it to `to`:
  // a scaled decimal to text keeps its scale ('1.50', as numeric::text prints it); anything
  // else is copied and SQLite applies the new column's affinity.
  std::string SqliteCast(const ColumnDef& from, const ColumnDef& to) const {
    std::string q = sql_.Q(from.name);
    if (from.type.kind == DmsKind::kNumeric && from.type.scale > 0 && IsText(to.type.kind)) {
      return fmt::format("CASE WHEN {0} IS NULL THEN NULL ELSE printf('%.{1}f', {0}) END", q,
                         from.type.scale);
    }
    return q;
  }
  // SQLite's way to change column types: a new table with the target's columns as they are
  // now, every row copied (converted), the old table dropped and the new one renamed, then
  // its unique indexes.
  void RebuildSqliteTable() {
    const TableDef& t = plan_.target;
    TableDef temp = t;
    temp.name = t.name + "__ferry_rebuild";
    const std::vector<std::string> create = target_.dialect().CreateTableSql(temp);
    const std::vector<std::string> final_sql = target_.dialect().CreateTableSql(t);
    const auto qualified = [&](const std::string& name) {
      return t.schema.empty() ? sql_.Q(name) : sql_.Q(t.schema) + "." + sql_.Q(name);
    };
    std::string names, values;
    for (const ColumnDef& c : t.columns) {
      names += (names.empty() ? "" : ", ") + sql_.Q(c.name);
      auto it = sqlite_casts_.find(c.name);
      values += (values.empty() ? "" : ", ") + (it != sqlite_casts_.end() ? it->second
                                                                          : sql_.Q(c.name));
    }
    out_.statements.push_back("DROP TABLE IF EXISTS " + qualified(temp.name));
    if (!create.empty()) out_.statements.push_back(create.front());
    out_.statements.push_back(fmt::format("INSERT INTO {} ({}) SELECT {} FROM {}",
                                          qualified(temp.name), names, values,
                                          qualified(t.name)));
    out_.statements.push_back("DROP TABLE " + qualified(t.name));
    out_.statements.push_back(fmt::format("ALTER TABLE {} RENAME TO {}", qualified(temp.name),
                                          sql_.Q(t.name)));
    for (size_t i = 1; i < final_sql.size(); ++i) out_.statements.push_back(final_sql[i]);
  }

  TableChangePlan& out_;
  TablePlan& plan_;
  AlterSql sql_;
  std::map<std::string, std::string> sqlite_casts_;  // target column -> its copy expression
};

std::string Describe(const ColumnDiff& d) {
  std::vector<std::string> parts;
  if (!d.added.empty()) parts.push_back(fmt::format("added {}", fmt::join(d.added, ", ")));
  if (!d.dropped.empty()) parts.push_back(fmt::format("dropped {}", fmt::join(d.dropped, ", ")));
  for (const auto& [x, y] : d.renamed) parts.push_back(fmt::format("renamed {} to {}", x, y));
  if (!d.retyped.empty()) {
    parts.push_back(fmt::format("changed the type of {}", fmt::join(d.retyped, ", ")));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

}  // namespace

TableChangePlan PlanTableChange(const TablePlan& plan, const TableDef& before,
                                const TableDef& after, const SqlConnector& target,
                                Engine source_engine, bool handle_altered) {
  TableChangePlan out;
  out.new_plan = plan;
  const ColumnDiff diff = DiffColumns(before, after);
  if (diff.empty()) return out;
  if (!handle_altered) {
    out.notes.push_back(fmt::format(
        "table {}: the source table changed ({}); HandleSourceTableAltered is false, so the "
        "target table is left as it is (new columns are not replicated, dropped or renamed ones "
        "receive NULL)",
        plan.source.QualifiedName(), Describe(diff)));
    return out;
  }
  Planner(after, target, source_engine, &out).Run(diff);
  if (out.new_plan.transform) {
    try {
      RowTransformer::Create(*out.new_plan.transform);
    } catch (const Error& e) {
      TableChangePlan kept;
      kept.new_plan = plan;
      kept.notes = std::move(out.notes);
      kept.notes.push_back(fmt::format(
          "table {}: the source table changed ({}) but the table's transformation rules do not "
          "fit the new columns ({}); the target table is left as it is",
          plan.source.QualifiedName(), Describe(diff), e.what()));
      return kept;
    }
  }
  return out;
}

}  // namespace ferry::cdc
