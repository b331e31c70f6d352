#include "schema/schema_objects.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>

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

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// True when the '(' at 0 closes at the last character (outside string literals).
bool WrappedInParens(const std::string& s) {
  if (s.size() < 2 || s.front() != '(' || s.back() != ')') return false;
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '\'') quoted = false;
      continue;
    }
    if (c == '\'') quoted = true;
    else if (c == '(') ++depth;
    else if (c == ')' && --depth == 0 && i + 1 < s.size()) return false;
  }
  return depth == 0;
}

std::string QuoteIdent(std::string_view name, Engine engine) {
  const char q = engine == Engine::kMysql ? '`' : '"';
  std::string out(1, q);
  for (char c : name) {
    out.push_back(c);
    if (c == q) out.push_back(q);
  }
  out.push_back(q);
  return out;
}

std::string StringLiteral(std::string_view value, Engine engine) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += "''";
    else if (c == '\\' && engine == Engine::kMysql) out += "\\\\";
    else out.push_back(c);
  }
  return out + "'";
}

// What a default expression is, independent of the engine that printed it.
struct ParsedDefault {
  enum Kind {
    kNull, kNumber, kString, kBoolean, kNow, kDate, kTime, kSequence, kOther
  } kind = kOther;
  std::string value;  // number text, unescaped string, "true"/"false"
};

// Reads a quoted string literal starting at `s[pos]` ('...' or E'...'); returns the position
// after it, or npos when it is not a complete literal. Backslash escapes apply to MySQL and to
// PostgreSQL E'' strings.
size_t ReadLiteral(const std::string& s, size_t pos, bool backslash, std::string* out) {
  if (pos >= s.size() || s[pos] != '\'') return std::string::npos;
  for (size_t i = pos + 1; i < s.size(); ++i) {
    const char c = s[i];
    if (backslash && c == '\\' && i + 1 < s.size()) {
      const char n = s[++i];
      out->push_back(n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n == '0' ? '\0' : n);
      continue;
    }
    if (c == '\'') {
      if (i + 1 < s.size() && s[i + 1] == '\'') {
        out->push_back('\'');
        ++i;
        continue;
      }
      return i + 1;
    }
    out->push_back(c);
  }
  return std::string::npos;
}

bool IsNumber(const std::string& s) {
  static const std::regex number(R"([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)");
  return std::regex_match(s, number);
}

ParsedDefault ParseDefault(std::string_view expression, Engine engine) {
  ParsedDefault p;
  std::string s = Trim(expression);
  while (WrappedInParens(s)) s = Trim(s.substr(1, s.size() - 2));
  const std::string lower = Lower(s);
  static const std::regex now(
      R"((now\(\)|current_timestamp(\(\d*\))?|localtimestamp(\(\d*\))?|transaction_timestamp\(\)|datetime\('now'\)|getdate\(\)))");
  static const std::regex date(R"((current_date(\(\))?|curdate\(\)|date\('now'\)))");
  static const std::regex time(
      R"((current_time(\(\d*\))?|curtime(\(\d*\))?|localtime(\(\d*\))?|time\('now'\)))");
  if (lower.empty() || lower == "null") {
    p.kind = ParsedDefault::kNull;
  } else if (lower.rfind("nextval(", 0) == 0 || lower == "auto_increment" ||
             lower.find("as identity") != std::string::npos) {
    p.kind = ParsedDefault::kSequence;
  } else if (std::regex_match(lower, now)) {
    p.kind = ParsedDefault::kNow;
  } else if (std::regex_match(lower, date)) {
    p.kind = ParsedDefault::kDate;
  } else if (std::regex_match(lower, time)) {
    p.kind = ParsedDefault::kTime;
  } else if (lower == "true" || lower == "false") {
    p.kind = ParsedDefault::kBoolean;
    p.value = lower;
  } else if (IsNumber(s)) {
    p.kind = ParsedDefault::kNumber;
    p.value = s;
  } else if (lower.rfind("null::", 0) == 0) {
    p.kind = ParsedDefault::kNull;  // PostgreSQL NULL::character varying
  } else {
    size_t start = 0;
    bool backslash = engine == Engine::kMysql;
    if (engine == Engine::kPostgres && (s.rfind("E'", 0) == 0 || s.rfind("e'", 0) == 0)) {
      start = 1;
      backslash = true;
    }
    std::string literal;
    const size_t end = ReadLiteral(s, start, backslash, &literal);
    if (end == std::string::npos) return p;  // kOther
    const std::string rest = Lower(Trim(s.substr(end)));
    if (rest.empty()) {
      p.kind = ParsedDefault::kString;
      p.value = literal;
    } else if (engine == Engine::kPostgres && rest.rfind("::", 0) == 0) {
      // 'x'::text, '-1'::integer, 't'::boolean, '2020-01-01'::date ...
      const std::string type = rest.substr(2);
      if (type == "boolean" || type == "bool") {
        p.kind = ParsedDefault::kBoolean;
        const std::string v = Lower(literal);
        p.value = (v == "t" || v == "true" || v == "y" || v == "yes" || v == "on" || v == "1")
                      ? "true" : "false";
      } else if (IsNumber(literal) && type.find("char") == std::string::npos &&
                 type.find("text") == std::string::npos) {
        p.kind = ParsedDefault::kNumber;
        p.value = literal;
      } else if (type.find("[]") != std::string::npos || type.find("json") != std::string::npos ||
                 type.find("interval") != std::string::npos ||
                 type.find("bytea") != std::string::npos) {
        return p;  // arrays, json, intervals, bytes: engine-specific text forms
      } else {
        p.kind = ParsedDefault::kString;
        p.value = literal;
      }
    }
  }
  return p;
}

bool IsBooleanColumn(const ColumnDef& c) {
  const std::string t = Lower(c.native_type);
  return t == "boolean" || t == "bool";
}

}  // namespace

ConvertedDefault ConvertDefault(std::string_view expression, Engine source_engine,
                                const ColumnDef& target_column, Engine target_engine) {
  ConvertedDefault out;
  const ParsedDefault p = ParseDefault(expression, source_engine);
  const std::string original = Trim(expression);
  switch (p.kind) {
    case ParsedDefault::kNull:
      out.converted = true;
      return out;
    case ParsedDefault::kNumber:
      out.converted = true;
      if (target_engine == Engine::kPostgres && IsBooleanColumn(target_column)) {
        out.sql = std::stod(p.value) != 0 ? "true" : "false";
      } else if (IsText(target_column.type.kind)) {
        out.sql = StringLiteral(p.value, target_engine);
      } else {
        out.sql = p.value;
      }
      return out;
    case ParsedDefault::kString:
      out.converted = true;
      out.sql = StringLiteral(p.value, target_engine);
      return out;
    case ParsedDefault::kBoolean:
      out.converted = true;
      if (target_engine == Engine::kPostgres && IsBooleanColumn(target_column)) {
        out.sql = p.value;
      } else if (IsText(target_column.type.kind)) {
        out.sql = StringLiteral(p.value, target_engine);
      } else {
        out.sql = p.value == "true" ? "1" : "0";
      }
      return out;
    case ParsedDefault::kNow:
      out.converted = true;
      out.sql = "CURRENT_TIMESTAMP";
      return out;
    case ParsedDefault::kDate:
      out.converted = true;
      out.sql = target_engine == Engine::kMysql ? "(curdate())" : "CURRENT_DATE";
      return out;
    case ParsedDefault::kTime:
      out.converted = true;
      out.sql = target_engine == Engine::kMysql ? "(curtime())" : "CURRENT_TIME";
      return out;
    case ParsedDefault::kSequence:
      out.reason = fmt::format("sequence default {} (sequences and auto-increment are not "
                               "migrated)",
                               original);
      return out;
    case ParsedDefault::kOther:
      if (source_engine == target_engine) {
        out.converted = true;
        // PostgreSQL prints a complete expression; MySQL and SQLite need parentheses around
        // anything that is not a literal.
        std::string body = original;
        while (WrappedInParens(body)) body = Trim(body.substr(1, body.size() - 2));
        out.sql = target_engine == Engine::kPostgres ? original : "(" + body + ")";
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

std::string TargetTable(const TableDef& t, Engine engine) {
  // SQLite has one schema and CREATE INDEX / REFERENCES take the bare table name.
  if (engine == Engine::kSqlite) return QuoteIdent(t.name, engine);
  return QuoteIdent(t.schema, engine) + "." + QuoteIdent(t.name, engine);
}

size_t NameLimit(Engine engine) {
  return engine == Engine::kPostgres ? 63 : engine == Engine::kMysql ? 64 : 1000;
}

// `name` cut to `limit` bytes without splitting a UTF-8 sequence.
std::string Cut(const std::string& name, size_t limit) {
  return std::string(Utf8PrefixBytes(name, limit));
}

// Hands out object names unique within a scope (schema, database or table).
class NameRegistry {
 public:
  explicit NameRegistry(Engine engine) : engine_(engine) {}
  void Reserve(const std::string& scope, const std::string& name) {
    used_[scope].insert(Lower(name));
  }
  std::string Take(const std::string& scope, const std::string& wanted) {
    std::set<std::string>& used = used_[scope];
    const size_t limit = NameLimit(engine_);
    std::string name = Cut(wanted, limit);
    for (int n = 2; used.count(Lower(name)); ++n) {
      const std::string suffix = fmt::format("_{}", n);
      name = Cut(wanted, limit - suffix.size()) + suffix;
    }
    used.insert(Lower(name));
    return name;
  }

 private:
  Engine engine_;
  std::map<std::string, std::set<std::string>> used_;
};

// Where index names must be unique: PostgreSQL per schema, SQLite per database, MySQL per table.
std::string IndexScope(const TableDef& t, Engine engine) {
  if (engine == Engine::kPostgres) return t.schema;
  if (engine == Engine::kSqlite) return "";
  return t.schema + "." + t.name;
}

// Where constraint names must be unique: MySQL per database, others per table.
std::string ConstraintScope(const TableDef& t, Engine engine) {
  return engine == Engine::kMysql ? t.schema : t.schema + "." + t.name;
}

bool IsMysqlLongText(const ColumnDef& c) {
  const std::string t = Lower(c.native_type);
  for (const char* prefix : {"tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob",
                             "mediumblob", "longblob", "json"}) {
    if (t.rfind(prefix, 0) == 0) return true;
  }
  // varchar(n) / varbinary(n) beyond InnoDB's 3072-byte key limit in utf8mb4.
  static const std::regex var(R"(var(char|binary)\((\d+)\).*)");
  std::smatch m;
  if (std::regex_match(t, m, var)) return std::stol(m[2]) * 4 > 3072;
  return false;
}

// The part of a PostgreSQL / SQLite index definition after the table: "USING btree (...)"
// on PostgreSQL, "(...) [WHERE ...]" on SQLite; "" when it cannot be found.
std::string DefinitionTail(const std::string& definition, Engine engine) {
  const std::string lower = Lower(definition);
  const size_t on = lower.find(" on ");
  if (on == std::string::npos) return "";
  const size_t at = engine == Engine::kPostgres ? lower.find(" using ", on) : lower.find('(', on);
  if (at == std::string::npos) return "";
  return Trim(definition.substr(at));
}

class Planner {
 public:
  Planner(const std::vector<TablePlan>& plans, Engine source, Engine target,
          const SchemaObjectOptions& options)
      : plans_(plans), source_(source), target_(target), options_(options),
        index_names_(target), constraint_names_(target) {
    for (const TablePlan& p : plans) {
      TableMap m;
      m.plan = &p;
      for (size_t i = 0; i < p.source.columns.size() && i < p.target.columns.size(); ++i) {
        m.columns[p.source.columns[i].name] = p.target.columns[i].name;
        if (p.source.columns[i].name != p.target.columns[i].name) m.renamed_columns = true;
      }
      tables_[p.source.schema + "." + p.source.name] = std::move(m);
      // Names the load itself creates on the target.
      const std::string scope = IndexScope(p.target, target);
      if (target != Engine::kMysql) index_names_.Reserve(scope, p.target.name);
      if (target == Engine::kPostgres && !p.target.primary_key.empty()) {
        index_names_.Reserve(scope, p.target.name + "_pkey");
      }
      for (const IndexDef& u : p.target.unique_indexes) {
        std::string name = u.name;
        if (target == Engine::kSqlite && name.rfind(p.target.name, 0) != 0) {
          name = p.target.name + "_" + name;
        }
        index_names_.Reserve(scope, name);
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
    // The target name: MySQL index names are per table, so from MySQL (and for SQLite, where
    // the load prefixes unique indexes the same way) the table name makes them distinct.
    std::string wanted = index.name;
    if ((target_ == Engine::kSqlite || (source_ == Engine::kMysql && target_ != Engine::kMysql)) &&
        wanted.rfind(p.target.name + "_", 0) != 0) {
      wanted = p.target.name + "_" + wanted;
    }
    const std::string table = TargetTable(p.target, target_);
    const std::string create = index.unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ";
    const std::string if_not_exists = target_ == Engine::kMysql ? "" : "IF NOT EXISTS ";
    if (!index.plain) {
      std::string what = index.method != "btree" && index.method != "BTREE"
                             ? index.method + " index"
                             : "expression or partial index";
      for (const IndexColumn& c : index.columns) {
        if (c.name.empty()) what = "expression index";
      }
      if (source_ == target_ && target_ != Engine::kMysql && !index.definition.empty()) {
        if (m.renamed_columns) {
          return NotConverted(o, what + " kept only verbatim, but its table has renamed columns");
        }
        const std::string tail = DefinitionTail(index.definition, target_);
        if (tail.empty()) return NotConverted(o, what + ": definition not understood");
        o.name = index_names_.Take(IndexScope(p.target, target_), wanted);
        o.sql = create + if_not_exists + QuoteIdent(o.name, target_) + " ON " + table + " " + tail;
        return o;
      }
      if (source_ == Engine::kMysql && target_ == Engine::kMysql &&
          (index.method == "FULLTEXT" || index.method == "SPATIAL") &&
          std::all_of(index.columns.begin(), index.columns.end(),
                      [](const IndexColumn& c) { return !c.name.empty(); })) {
        o.name = index_names_.Take(IndexScope(p.target, target_), wanted);
        std::vector<std::string> cols;
        for (const IndexColumn& c : index.columns) {
          cols.push_back(QuoteIdent(m.columns.at(c.name), target_));
        }
        o.sql = fmt::format("CREATE {} INDEX {} ON {} ({})", index.method,
                            QuoteIdent(o.name, target_), table, fmt::join(cols, ", "));
        return o;
      }
      return NotConverted(o, fmt::format("{} {} has no equivalent on {}", EngineName(source_),
                                         what, EngineName(target_)));
    }
    // Plain: whole (or prefixed) columns, ASC/DESC.
    int long_parts = 0;
    for (const IndexColumn& c : index.columns) {
      const ColumnDef& col =
          p.target.columns[p.target.ColumnIndex(m.columns.at(c.name))];
      if (target_ == Engine::kMysql && IsMysqlLongText(col) &&
          !(source_ == Engine::kMysql && c.prefix_length > 0)) {
        if (index.unique) {
          return NotConverted(o, fmt::format("unique index on column {} ({}) would need a "
                                             "prefix length on MySQL, which changes what is "
                                             "unique",
                                             col.name, col.native_type));
        }
        ++long_parts;
      }
      if (target_ != Engine::kMysql && c.prefix_length > 0 && index.unique) {
        return NotConverted(o, fmt::format("unique prefix index ({}({})) has no equivalent on {}",
                                           c.name, c.prefix_length, EngineName(target_)));
      }
    }
    // InnoDB keys are at most 3072 bytes: share them between the prefixed parts (utf8mb4).
    const int prefix = long_parts > 0 ? std::min(255, 768 / long_parts) : 0;
    std::vector<std::string> parts;
    for (const IndexColumn& c : index.columns) {
      const ColumnDef& col = p.target.columns[p.target.ColumnIndex(m.columns.at(c.name))];
      std::string part = QuoteIdent(col.name, target_);
      if (target_ == Engine::kMysql) {
        if (source_ == Engine::kMysql && c.prefix_length > 0) {
          part += fmt::format("({})", c.prefix_length);
        } else if (IsMysqlLongText(col)) {
          part += fmt::format("({})", prefix);
        }
      }
      if (c.descending) part += " DESC";
      parts.push_back(std::move(part));
    }
    o.name = index_names_.Take(IndexScope(p.target, target_), wanted);
    o.sql = create + if_not_exists + QuoteIdent(o.name, target_) + " ON " + table + " (" +
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
      cols.push_back(QuoteIdent(it->second, target_));
    }
    for (const std::string& c : fk.ref_columns) {
      auto it = ref->second.columns.find(c);
      if (it == ref->second.columns.end()) {
        return NotConverted(o, fmt::format("referenced column {}.{} is not migrated",
                                           parent.source.QualifiedName(), c));
      }
      ref_cols.push_back(QuoteIdent(it->second, target_));
    }
    if (target_ == Engine::kMysql) {
      // InnoDB indexes foreign key columns on both sides; unbounded text cannot be.
      for (const auto& [table, names] :
           {std::pair{&p.target, &fk.columns}, std::pair{&parent.target, &fk.ref_columns}}) {
        const TableMap& tm = table == &p.target ? m : ref->second;
        for (const std::string& c : *names) {
          const ColumnDef& col = table->columns[table->ColumnIndex(tm.columns.at(c))];
          if (IsMysqlLongText(col)) {
            return NotConverted(o, fmt::format("column {}.{} ({}) cannot be indexed whole by "
                                               "MySQL, which a foreign key needs",
                                               table->name, col.name, col.native_type));
          }
        }
      }
    }
    if (target_ == Engine::kMysql && (fk.on_delete == ForeignKeyAction::kSetDefault ||
                                      fk.on_update == ForeignKeyAction::kSetDefault)) {
      return NotConverted(o, "ON DELETE/UPDATE SET DEFAULT is not supported by InnoDB");
    }
    o.name = constraint_names_.Take(ConstraintScope(p.target, target_), fk.name);
    std::string clause = fmt::format(
        "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})", QuoteIdent(o.name, target_),
        fmt::join(cols, ", "), TargetTable(parent.target, target_), fmt::join(ref_cols, ", "));
    if (fk.on_delete != ForeignKeyAction::kNoAction) {
      clause += std::string(" ON DELETE ") + ForeignKeyActionSql(fk.on_delete);
    }
    if (fk.on_update != ForeignKeyAction::kNoAction) {
      clause += std::string(" ON UPDATE ") + ForeignKeyActionSql(fk.on_update);
    }
    if (fk.deferrable) {
      if (target_ == Engine::kMysql) {
        o.reason = "created NOT DEFERRABLE: MySQL has no deferrable constraints";
      } else {
        clause += fk.initially_deferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE";
      }
    }
    o.required_tables.push_back(parent.target.QualifiedName());
    if (target_ == Engine::kSqlite) {
      if (parent.target.schema != p.target.schema) {
        return NotConverted(o, "SQLite cannot reference a table in another database");
      }
      o.with_table = true;
      o.clause = clause;
      o.required_tables = {o.table};
    } else {
      o.sql = "ALTER TABLE " + TargetTable(p.target, target_) + " ADD " + clause;
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
    if (target_ == Engine::kSqlite) {
      o.with_table = true;
      o.clause = d.sql;
    } else {
      o.sql = fmt::format("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}",
                          TargetTable(p.target, target_), QuoteIdent(dst.name, target_), d.sql);
    }
    return o;
  }

  const std::vector<TablePlan>& plans_;
  Engine source_, target_;
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
  if (plans.empty() || plans.front().target.engine != Engine::kSqlite) return;
  SchemaObjectOptions create_time = options;
  create_time.indexes = false;  // indexes are built after the load on every engine
  if (!create_time.Any()) return;
  const std::vector<SchemaObject> objects =
      PlanSchemaObjects(plans, source_engine, Engine::kSqlite, create_time);
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
