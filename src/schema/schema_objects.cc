#include "schema/schema_objects.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "common/text.h"
#include "connectors/dialect.h"
#include "types/utf8.h"

namespace ferry {

const char* ForeignKeyActionSql(ForeignKeyAction action) {
  switch (action) {
    case ForeignKeyAction::kNoAction: return "NO ACTION";
    case ForeignKeyAction::kRestrict: return "RESTRICT";
    case ForeignKeyAction::kCascade: return "CASCADE";
    case ForeignKeyAction::kSetNull: return "SET NULL";
    case ForeignKeyAction::kSetDefault: return "SET DEFAULT";
  }
  return "NO ACTION";
}

namespace schema {

const char* ObjectKindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kIndex: return "index";
    case ObjectKind::kForeignKey: return "foreign key";
    case ObjectKind::kDefault: return "default";
  }
  return "?";
}

const char* ObjectStatusName(ObjectStatus status) {
  switch (status) {
    case ObjectStatus::kPending: return "pending";
    case ObjectStatus::kCreated: return "created";
    case ObjectStatus::kNotConverted: return "not converted";
    case ObjectStatus::kFailed: return "failed";
    case ObjectStatus::kSkipped: return "skipped";
  }
  return "?";
}

namespace {

}  // namespace

ConvertedDefault ConvertDefault(std::string_view expression, Engine source_engine,
                                const ColumnDef& target_column, Engine target_engine) {
  const Dialect& target = DialectFor(target_engine);
  ConvertedDefault out;
  const ParsedDefault p = DialectFor(source_engine).ParseDefault(expression);
  const std::string original = Trim(expression);
  switch (p.kind) {
    case ParsedDefault::kNull:
      out.converted = true;
      return out;
    case ParsedDefault::kNumber:
      out.converted = true;
      if (target.IsBooleanColumn(target_column)) {
        out.sql = std::stod(p.value) != 0 ? "true" : "false";
      } else if (IsText(target_column.type.kind)) {
        out.sql = target.QuoteLiteral(p.value);
      } else {
        out.sql = p.value;
      }
      return out;
    case ParsedDefault::kString:
      out.converted = true;
      out.sql = target.QuoteLiteral(p.value);
      return out;
    case ParsedDefault::kBoolean:
      out.converted = true;
      if (target.IsBooleanColumn(target_column)) {
        out.sql = p.value;
      } else if (IsText(target_column.type.kind)) {
        out.sql = target.QuoteLiteral(p.value);
      } else {
        out.sql = p.value == "true" ? "1" : "0";
      }
      return out;
    case ParsedDefault::kNow:
    case ParsedDefault::kDate:
    case ParsedDefault::kTime:
      out.converted = true;
      out.sql = target.CurrentTimeDefaultSql(p.kind);
      return out;
    case ParsedDefault::kSequence:
      out.reason = fmt::format("sequence default {} (sequences and auto-increment are not "
                               "migrated)",
                               original);
      return out;
    case ParsedDefault::kOther:
      if (source_engine == target_engine) {
        out.converted = true;
        std::string body = original;
        while (WrappedInParens(body)) body = Trim(body.substr(1, body.size() - 2));
        out.sql = target.VerbatimDefaultSql(original, body);
        return out;
      }
      out.reason = fmt::format("expression default {} has no portable equivalent on {}",
                               original, EngineName(target_engine));
      return out;
  }
  return out;
}

namespace {

// The source -> target names of one planned table.
struct TableMap {
  const TablePlan* plan = nullptr;
  std::map<std::string, std::string> columns;  // source column -> target column
  bool renamed_columns = false;
};

// `name` cut to `limit` bytes without splitting a UTF-8 sequence.
std::string Cut(const std::string& name, size_t limit) {
  return std::string(Utf8PrefixBytes(name, limit));
}

// Hands out object names unique within a scope (schema, database or table).
class NameRegistry {
 public:
  explicit NameRegistry(size_t limit) : limit_(limit) {}
  void Reserve(const std::string& scope, const std::string& name) {
    used_[scope].insert(AsciiLower(name));
  }
  std::string Take(const std::string& scope, const std::string& wanted) {
    std::set<std::string>& used = used_[scope];
    std::string name = Cut(wanted, limit_);
    for (int n = 2; used.count(AsciiLower(name)); ++n) {
      const std::string suffix = fmt::format("_{}", n);
      name = Cut(wanted, limit_ - suffix.size()) + suffix;
    }
    used.insert(AsciiLower(name));
    return name;
  }

 private:
  size_t limit_;
  std::map<std::string, std::set<std::string>> used_;
};

// The registry key of `scope` for table `t`.
std::string ScopeKey(NameScope scope, const TableDef& t) {
  switch (scope) {
    case NameScope::kDatabase:
      return "";
    case NameScope::kSchema:
      return t.schema;
    case NameScope::kTable:
      return t.schema + "." + t.name;
  }
  return t.schema + "." + t.name;
}

class Planner {
 public:
  Planner(const std::vector<TablePlan>& plans, Engine source, Engine target,
          const SchemaObjectOptions& options)
      : plans_(plans),
        source_(source),
        target_(target),
        from_(DialectFor(source)),
        to_(DialectFor(target)),
        options_(options),
        index_names_(to_.ObjectNameLimit()),
        constraint_names_(to_.ObjectNameLimit()) {
    for (const TablePlan& p : plans) {
      TableMap m;
      m.plan = &p;
      for (size_t i = 0; i < p.source.columns.size() && i < p.target.columns.size(); ++i) {
        m.columns[p.source.columns[i].name] = p.target.columns[i].name;
        if (p.source.columns[i].name != p.target.columns[i].name) m.renamed_columns = true;
      }
      tables_[p.source.schema + "." + p.source.name] = std::move(m);
      // Names the load itself creates on the target. Where index names are not per table,
      // tables share their namespace.
      const std::string scope = IndexScope(p.target);
      if (to_.IndexNameScope() != NameScope::kTable) index_names_.Reserve(scope, p.target.name);
      if (!p.target.primary_key.empty()) {
        if (auto pkey = to_.PrimaryKeyIndexName(p.target)) index_names_.Reserve(scope, *pkey);
      }
      for (size_t u = 0; u < p.target.unique_indexes.size(); ++u) {
        index_names_.Reserve(scope, to_.UniqueIndexName(p.target, u));
      }
    }
  }

  std::vector<SchemaObject> Run() {
    std::vector<SchemaObject> out;
    for (const TablePlan& p : plans_) {
      const TableMap& m = tables_.at(p.source.schema + "." + p.source.name);
      if (options_.indexes) {
        for (const SecondaryIndexDef& index : p.source.secondary_indexes) {
          if (AlreadyCreated(index, m)) continue;
          out.push_back(Index(index, m));
        }
      }
      if (options_.foreign_keys) {
        for (const ForeignKeyDef& fk : p.source.foreign_keys) out.push_back(ForeignKey(fk, m));
      }
      if (options_.defaults) {
        for (size_t i = 0; i < p.source.columns.size() && i < p.target.columns.size(); ++i) {
          if (p.source.columns[i].default_expression.empty()) continue;
          SchemaObject o = Default(p, i);
          if (o.status == ObjectStatus::kPending && o.sql.empty() && o.clause.empty()) continue;
          out.push_back(std::move(o));
        }
      }
    }
    return out;
  }

 private:
  std::string IndexScope(const TableDef& t) const { return ScopeKey(to_.IndexNameScope(), t); }
  std::string ConstraintScope(const TableDef& t) const {
    return ScopeKey(to_.ConstraintNameScope(), t);
  }
  std::string Q(const std::string& name) const { return to_.QuoteIdentifier(name); }

  // A plain unique index the load creates already (the DMS minimum) or the primary key.
  bool AlreadyCreated(const SecondaryIndexDef& index, const TableMap& m) const {
    if (!index.unique || !index.plain) return false;
    std::vector<std::string> cols;
    for (const IndexColumn& c : index.columns) {
      auto it = m.columns.find(c.name);
      if (it == m.columns.end() || c.prefix_length > 0) return false;
      cols.push_back(it->second);
    }
    if (cols == m.plan->target.primary_key) return true;
    for (const IndexDef& u : m.plan->target.unique_indexes) {
      if (u.columns == cols) return true;
    }
    return false;
  }

  SchemaObject Base(ObjectKind kind, const TablePlan& p, const std::string& source_name) const {
    SchemaObject o;
    o.kind = kind;
    o.source = p.source.QualifiedName() + "." + source_name;
    o.table = p.target.QualifiedName();
    o.required_tables = {o.table};
    return o;
  }

  static SchemaObject NotConverted(SchemaObject o, std::string reason) {
    o.status = ObjectStatus::kNotConverted;
    o.reason = std::move(reason);
    return o;
  }

  SchemaObject Index(const SecondaryIndexDef& index, const TableMap& m) {
    const TablePlan& p = *m.plan;
    SchemaObject o = Base(ObjectKind::kIndex, p, index.name);
    for (const IndexColumn& c : index.columns) {
      if (!c.name.empty() && !m.columns.count(c.name)) {
        return NotConverted(o, fmt::format("column {} is not migrated", c.name));
      }
    }
    // The target name: index names per table on the source (MySQL) must be made distinct
    // where they are not on the target, and a target with index names per database prefixes
    // them as the load prefixes its unique indexes.
    std::string wanted = index.name;
    const bool per_table_to_wider =
        from_.IndexNameScope() == NameScope::kTable && to_.IndexNameScope() != NameScope::kTable;
    if ((to_.IndexNameScope() == NameScope::kDatabase || per_table_to_wider) &&
        wanted.rfind(p.target.name + "_", 0) != 0) {
      wanted = p.target.name + "_" + wanted;
    }
    const std::string table = to_.ObjectTableName(p.target);
    const std::string create = index.unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ";
    const std::string if_not_exists = to_.CreateIndexIfNotExists() ? "IF NOT EXISTS " : "";
    if (!index.plain) {
      std::string what = index.method != "btree" && index.method != "BTREE"
                             ? index.method + " index"
                             : "expression or partial index";
      for (const IndexColumn& c : index.columns) {
        if (c.name.empty()) what = "expression index";
      }
      const std::optional<std::string> tail = source_ == target_ && !index.definition.empty()
                                                  ? to_.VerbatimIndexTail(index.definition)
                                                  : std::nullopt;
      if (tail) {
        if (m.renamed_columns) {
          return NotConverted(o, what + " kept only verbatim, but its table has renamed columns");
        }
        if (tail->empty()) return NotConverted(o, what + ": definition not understood");
        o.name = index_names_.Take(IndexScope(p.target), wanted);
        o.sql = create + if_not_exists + Q(o.name) + " ON " + table + " " + *tail;
        return o;
      }
      if (source_ == target_ && to_.NamedIndexMethod(index.method) &&
          std::all_of(index.columns.begin(), index.columns.end(),
                      [](const IndexColumn& c) { return !c.name.empty(); })) {
        o.name = index_names_.Take(IndexScope(p.target), wanted);
        std::vector<std::string> cols;
        for (const IndexColumn& c : index.columns) cols.push_back(Q(m.columns.at(c.name)));
        o.sql = fmt::format("CREATE {} INDEX {} ON {} ({})", index.method, Q(o.name), table,
                            fmt::join(cols, ", "));
        return o;
      }
      return NotConverted(o, fmt::format("{} {} has no equivalent on {}", EngineName(source_),
                                         what, EngineName(target_)));
    }
    // Plain: whole (or prefixed) columns, ASC/DESC. A target with prefix indexes indexes a
    // column it cannot index whole by a prefix (the source's own prefix where it had one).
    auto source_prefix = [&](const IndexColumn& c) {
      return from_.IndexPrefixes() && c.prefix_length > 0;
    };
    int long_parts = 0;
    for (const IndexColumn& c : index.columns) {
      const ColumnDef& col = p.target.columns[p.target.ColumnIndex(m.columns.at(c.name))];
      if (to_.IndexPrefixes() && !to_.IndexableWhole(col) && !source_prefix(c)) {
        if (index.unique) {
          return NotConverted(o, fmt::format("unique index on column {} ({}) would need a "
                                             "prefix length on {}, which changes what is "
                                             "unique",
                                             col.name, col.native_type, to_.DisplayName()));
        }
        ++long_parts;
      }
      if (!to_.IndexPrefixes() && c.prefix_length > 0 && index.unique) {
        return NotConverted(o, fmt::format("unique prefix index ({}({})) has no equivalent on {}",
                                           c.name, c.prefix_length, EngineName(target_)));
      }
    }
    // InnoDB keys are at most 3072 bytes: share them between the prefixed parts (utf8mb4).
    const int prefix = long_parts > 0 ? std::min(255, 768 / long_parts) : 0;
    std::vector<std::string> parts;
    for (const IndexColumn& c : index.columns) {
      const ColumnDef& col = p.target.columns[p.target.ColumnIndex(m.columns.at(c.name))];
      std::string part = Q(col.name);
      if (to_.IndexPrefixes()) {
        if (source_prefix(c)) {
          part += fmt::format("({})", c.prefix_length);
        } else if (!to_.IndexableWhole(col)) {
          part += fmt::format("({})", prefix);
        }
      }
      if (c.descending) part += " DESC";
      parts.push_back(std::move(part));
    }
    o.name = index_names_.Take(IndexScope(p.target), wanted);
    o.sql = create + if_not_exists + Q(o.name) + " ON " + table + " (" +
            fmt::format("{}", fmt::join(parts, ", ")) + ")";
    if (prefix > 0) o.reason = fmt::format("created with a {}-character prefix", prefix);
    return o;
  }

  SchemaObject ForeignKey(const ForeignKeyDef& fk, const TableMap& m) {
    const TablePlan& p = *m.plan;
    SchemaObject o = Base(ObjectKind::kForeignKey, p, fk.name);
    auto ref = tables_.find(fk.ref_schema + "." + fk.ref_table);
    if (ref == tables_.end()) {
      return NotConverted(o, fmt::format("references {}.{}, which is not part of the migration",
                                         fk.ref_schema, fk.ref_table));
    }
    const TablePlan& parent = *ref->second.plan;
    std::vector<std::string> cols, ref_cols;
    for (const std::string& c : fk.columns) {
      auto it = m.columns.find(c);
      if (it == m.columns.end()) {
        return NotConverted(o, fmt::format("column {} is not migrated", c));
      }
      cols.push_back(Q(it->second));
    }
    for (const std::string& c : fk.ref_columns) {
      auto it = ref->second.columns.find(c);
      if (it == ref->second.columns.end()) {
        return NotConverted(o, fmt::format("referenced column {}.{} is not migrated",
                                           parent.source.QualifiedName(), c));
      }
      ref_cols.push_back(Q(it->second));
    }
    // The engine indexes foreign key columns on both sides (InnoDB): each must be indexable.
    for (const auto& [table, names] :
         {std::pair{&p.target, &fk.columns}, std::pair{&parent.target, &fk.ref_columns}}) {
      const TableMap& tm = table == &p.target ? m : ref->second;
      for (const std::string& c : *names) {
        const ColumnDef& col = table->columns[table->ColumnIndex(tm.columns.at(c))];
        if (!to_.IndexableWhole(col)) {
          return NotConverted(
              o, fmt::format("column {}.{} ({}) cannot be indexed whole by "
                             "{}, which a foreign key needs",
                             table->name, col.name, col.native_type, to_.DisplayName()));
        }
      }
    }
    if (std::string refusal = to_.ForeignKeyRefusal(fk); !refusal.empty()) {
      return NotConverted(o, std::move(refusal));
    }
    o.name = constraint_names_.Take(ConstraintScope(p.target), fk.name);
    std::string clause = fmt::format("CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})", Q(o.name),
                                     fmt::join(cols, ", "), to_.ObjectTableName(parent.target),
                                     fmt::join(ref_cols, ", "));
    if (fk.on_delete != ForeignKeyAction::kNoAction) {
      clause += std::string(" ON DELETE ") + ForeignKeyActionSql(fk.on_delete);
    }
    if (fk.on_update != ForeignKeyAction::kNoAction) {
      clause += std::string(" ON UPDATE ") + ForeignKeyActionSql(fk.on_update);
    }
    if (fk.deferrable) {
      if (!to_.DeferrableConstraints()) {
        o.reason = fmt::format("created NOT DEFERRABLE: {} has no deferrable constraints",
                               to_.DisplayName());
      } else {
        clause += fk.initially_deferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE";
      }
    }
    o.required_tables.push_back(parent.target.QualifiedName());
    if (to_.ConstraintsInCreateTable()) {
      if (parent.target.schema != p.target.schema) {
        return NotConverted(
            o, fmt::format("{} cannot reference a table in another database", to_.DisplayName()));
      }
      o.with_table = true;
      o.clause = clause;
      o.required_tables = {o.table};
    } else {
      o.sql = "ALTER TABLE " + to_.ObjectTableName(p.target) + " ADD " + clause;
    }
    return o;
  }

  SchemaObject Default(const TablePlan& p, size_t i) const {
    const ColumnDef& src = p.source.columns[i];
    const ColumnDef& dst = p.target.columns[i];
    SchemaObject o = Base(ObjectKind::kDefault, p, src.name);
    o.name = dst.name;
    const ConvertedDefault d = ConvertDefault(src.default_expression, source_, dst, target_);
    if (!d.converted) return NotConverted(o, d.reason);
    if (d.sql.empty()) return o;  // DEFAULT NULL: nothing to create
    if (to_.ConstraintsInCreateTable()) {
      o.with_table = true;
      o.clause = d.sql;
    } else {
      o.sql = fmt::format("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}",
                          to_.ObjectTableName(p.target), Q(dst.name), d.sql);
    }
    return o;
  }

  const std::vector<TablePlan>& plans_;
  Engine source_, target_;
  const Dialect& from_;  // the source's dialect: how it names and prints what it has
  const Dialect& to_;    // the target's dialect: the DDL and what it can hold
  SchemaObjectOptions options_;
  std::map<std::string, TableMap> tables_;  // "schema.table" of the source -> its plan
  NameRegistry index_names_;
  NameRegistry constraint_names_;
};

}  // namespace

std::vector<SchemaObject> PlanSchemaObjects(const std::vector<TablePlan>& plans,
                                            Engine source_engine, Engine target_engine,
                                            const SchemaObjectOptions& options) {
  if (!options.Any() || plans.empty()) return {};
  return Planner(plans, source_engine, target_engine, options).Run();
}

void PrepareCreateTimeObjects(std::vector<TablePlan>& plans, Engine source_engine,
                              const SchemaObjectOptions& options) {
  if (plans.empty()) return;
  const Engine target_engine = plans.front().target.engine;
  if (!DialectFor(target_engine).ConstraintsInCreateTable()) return;
  SchemaObjectOptions create_time = options;
  create_time.indexes = false;  // indexes are built after the load on every engine
  if (!create_time.Any()) return;
  const std::vector<SchemaObject> objects =
      PlanSchemaObjects(plans, source_engine, target_engine, create_time);
  std::map<std::string, TablePlan*> by_target;
  for (TablePlan& p : plans) by_target[p.target.QualifiedName()] = &p;
  for (const SchemaObject& o : objects) {
    if (!o.with_table || o.status != ObjectStatus::kPending) continue;
    TablePlan* p = by_target.at(o.table);
    if (o.kind == ObjectKind::kForeignKey) {
      p->target.create_table_clauses.push_back(o.clause);
    } else if (o.kind == ObjectKind::kDefault) {
      const int c = p->target.ColumnIndex(o.name);
      if (c >= 0) p->target.columns[c].create_default = o.clause;
    }
  }
}

}  // namespace schema
}  // namespace ferry
