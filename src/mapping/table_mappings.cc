#include "mapping/table_mappings.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "mapping/wildcard.h"

namespace ferry {
namespace {

using Json = nlohmann::json;

constexpr const char* kFilterOperatorNames[] = {"eq",      "noteq",      "lte",  "ste",    "gte",
                                                "between", "notbetween", "null", "notnull"};
constexpr const char* kRuleTargetNames[] = {"schema", "table", "column"};
constexpr const char* kTransformActionNames[] = {
    "rename",         "convert-lowercase", "convert-uppercase", "add-prefix",     "remove-prefix",
    "replace-prefix", "add-suffix",        "remove-suffix",     "replace-suffix", "remove-column",
    "add-column",     "change-data-type",  "define-primary-key"};
constexpr const char* kParallelLoadTypeNames[] = {"none", "partitions-auto", "partitions-list",
                                                  "ranges"};
constexpr const char* kLobModeNames[] = {"limited", "unlimited", "none"};

// What a JSON value is, for "found ..." in messages: the type, and a short rendering of a
// scalar. Containers are never dumped (dump() recurses, and a hostile file nests deeply).
std::string Found(const Json& j) {
  auto text = [&] {
    std::string t = j.dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace);
    if (t.size() > 60) t = t.substr(0, 57) + "...";
    return t;
  };
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "string " + text();
    case Json::value_t::boolean:
      return "boolean " + text();
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "number " + text();
    default:
      return std::string("a ") + j.type_name() + " value";
  }
}

// The deepest nesting of arrays and objects in `text` (strings skipped), stopping early once
// it passes `limit`. Table mappings nest 6 levels; the limit keeps recursion elsewhere safe.
int NestingDepth(std::string_view text, int limit) {
  int depth = 0;
  int max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > limit) break;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

std::string Quoted(std::string_view s) {
  return Json(std::string(s)).dump(-1, ' ', true, Json::error_handler_t::replace);
}

std::string JoinNames(std::initializer_list<const char*> names) {
  std::string out;
  for (const char* n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

template <size_t N>
std::string JoinNames(const char* const (&names)[N]) {
  std::string out;
  for (const char* n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// Where the parser is: file, rule-id of the current rule. Fail() throws the message the
// header promises; ParseTableMappings turns it into a Result.
class Ctx {
 public:
  explicit Ctx(std::string_view source) : source_(source) {}
  void SetRuleId(std::string rule_id) { rule_id_ = std::move(rule_id); }

  [[noreturn]] void Fail(const std::string& path, const std::string& what) const {
    std::string where = path;
    if (!rule_id_.empty()) where += " (rule-id " + rule_id_ + ")";
    throw Error(ErrorKind::kInvalidArgument, fmt::format("{}: {}: {}", source_, where, what));
  }
  [[noreturn]] void Expected(const std::string& path, const std::string& expected,
                             const Json& found) const {
    Fail(path, "expected " + expected + ", found " + Found(found));
  }

 private:
  std::string source_;
  std::string rule_id_;
};

std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string Index(const std::string& path, size_t i) { return fmt::format("{}[{}]", path, i); }

const Json& RequireObject(const Ctx& ctx, const Json& j, const std::string& path) {
  if (!j.is_object()) ctx.Expected(path, "an object", j);
  return j;
}

const Json& RequireArray(const Ctx& ctx, const Json& j, const std::string& path) {
  if (!j.is_array()) ctx.Expected(path, "an array", j);
  return j;
}

void CheckKeys(const Ctx& ctx, const Json& obj, const std::string& path,
               std::initializer_list<const char*> allowed) {
  for (const auto& item : obj.items()) {
    bool ok = false;
    for (const char* a : allowed) ok |= item.key() == a;
    if (!ok) {
      ctx.Fail(Child(path, item.key()),
               "unknown key " + Quoted(item.key()) + "; allowed keys: " + JoinNames(allowed));
    }
  }
}

// The member `key`, or nullptr when absent or null (DMS console exports write absent
// optional keys as null, e.g. "old-value": null).
const Json* Member(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

const Json& Required(const Ctx& ctx, const Json& obj, const std::string& path, const char* key) {
  const Json* m = Member(obj, key);
  if (m == nullptr) ctx.Fail(path, std::string("missing required key \"") + key + "\"");
  return *m;
}

void RejectNul(const Ctx& ctx, const std::string& path, const std::string& s) {
  if (s.find('\0') != std::string::npos) ctx.Fail(path, "a NUL character is not allowed here");
}

std::string String(const Ctx& ctx, const Json& j, const std::string& path, bool non_empty) {
  if (!j.is_string()) ctx.Expected(path, non_empty ? "a non-empty string" : "a string", j);
  const auto& s = j.get_ref<const std::string&>();
  if (non_empty && s.empty()) ctx.Expected(path, "a non-empty string", j);
  RejectNul(ctx, path, s);
  return s;
}

std::string RequiredString(const Ctx& ctx, const Json& obj, const std::string& path,
                           const char* key) {
  return String(ctx, Required(ctx, obj, path, key), Child(path, key), true);
}

std::string OptionalString(const Ctx& ctx, const Json& obj, const std::string& path,
                           const char* key) {
  const Json* m = Member(obj, key);
  return m == nullptr ? std::string() : String(ctx, *m, Child(path, key), false);
}

// A value DMS compares or uses as text: a string, or a number kept as its JSON spelling.
std::string ScalarText(const Ctx& ctx, const Json& j, const std::string& path) {
  if (j.is_string()) return String(ctx, j, path, false);
  if (j.is_number_integer() || j.is_number_unsigned() || j.is_number_float()) return j.dump();
  ctx.Expected(path, "a string or a number", j);
}

// An integer written as a JSON integer or as a string of digits (DMS examples write
// "load-order": "1"). An empty string gives nullopt when `empty_ok` ("scale": "").
std::optional<int64_t> LenientInt(const Ctx& ctx, const Json& j, const std::string& path,
                                  int64_t min, int64_t max, bool empty_ok) {
  const std::string range = fmt::format("an integer from {} to {}", min, max);
  int64_t v = 0;
  if (j.is_number_integer()) {
    v = j.get<int64_t>();
  } else if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(max)) ctx.Expected(path, range, j);
    v = static_cast<int64_t>(u);
  } else if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s.empty() && empty_ok) return std::nullopt;
    const char* begin = s.data();
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(begin, end, v);
    if (s.empty() || ec != std::errc() || p != end) {
      ctx.Expected(path, range + " (a number or a string of digits)", j);
    }
  } else {
    ctx.Expected(path, range, j);
  }
  if (v < min || v > max) ctx.Expected(path, range, j);
  return v;
}

// Values DMS documents that cannot apply to Ferry's engines or that Ferry does not do: each
// refused by name with the reason, rather than as malformed JSON.
struct NotApplicable {
  const char* value;
  const char* why;
};
constexpr NotApplicable kNotApplicable[] = {
    {"table-tablespace",
     "is a DMS rule-target for Oracle targets only (PostgreSQL, MySQL/MariaDB and SQLite "
     "targets have no tablespace setting); remove the rule"},
    {"index-tablespace",
     "is a DMS rule-target for Oracle targets only (PostgreSQL, MySQL/MariaDB and SQLite "
     "targets have no tablespace setting); remove the rule"},
    {"subpartitions-auto",
     "is a DMS parallel-load type for Oracle sources only; use partitions-auto, "
     "partitions-list or ranges"},
    {"subpartitions-list",
     "is a DMS parallel-load type for Oracle sources only; use partitions-auto, "
     "partitions-list or ranges"},
    {"subpartitions-range",
     "is a DMS parallel-load type for Oracle sources only; use partitions-auto, "
     "partitions-list or ranges"},
    {"add-before-image-columns",
     "is a DMS rule-action for streaming targets (Kinesis, Kafka), which Ferry does not have; "
     "remove the rule"},
    {"include-column", "is a DMS rule-action Ferry does not support yet; remove the rule"},
    {"data-masking-digits-mask",
     "is a DMS rule-action Ferry does not support yet; remove the rule"},
    {"data-masking-digits-randomize",
     "is a DMS rule-action Ferry does not support yet; remove the rule"},
    {"data-masking-hash-mask",
     "is a DMS rule-action Ferry does not support yet; remove the rule"},
};

template <size_t N>
size_t Enum(const Ctx& ctx, const Json& j, const std::string& path, const char* const (&names)[N]) {
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    for (size_t i = 0; i < N; ++i) {
      if (s == names[i]) return i;
    }
    for (const NotApplicable& n : kNotApplicable) {
      if (s == n.value) ctx.Fail(path, fmt::format("\"{}\" {}", s, n.why));
    }
  }
  ctx.Expected(path, "one of " + JoinNames(names), j);
}

std::string RuleIdText(const Ctx& ctx, const Json& j, const std::string& path) {
  if (j.is_number_integer() || j.is_number_unsigned()) return j.dump();
  if (j.is_string() && !j.get_ref<const std::string&>().empty()) {
    return String(ctx, j, path, true);
  }
  ctx.Expected(path, "a non-empty string or an integer", j);
}

// ---------------------------------------------------------------------------------------------

void ParseSelectionLocator(const Ctx& ctx, const Json& j, const std::string& path,
                           ObjectLocator* loc) {
  RequireObject(ctx, j, path);
  CheckKeys(ctx, j, path, {"schema-name", "table-name", "table-type"});
  loc->schema_name = RequiredString(ctx, j, path, "schema-name");
  loc->table_name = RequiredString(ctx, j, path, "table-name");
  if (const Json* t = Member(j, "table-type")) {
    static constexpr const char* kTypes[] = {"table", "view", "all"};
    loc->table_type = static_cast<TableType>(Enum(ctx, *t, Child(path, "table-type"), kTypes));
  }
}

FilterCondition ParseCondition(const Ctx& ctx, const Json& j, const std::string& path) {
  RequireObject(ctx, j, path);
  CheckKeys(ctx, j, path, {"filter-operator", "value", "start-value", "end-value"});
  FilterCondition c;
  c.op = static_cast<FilterOperator>(Enum(ctx, Required(ctx, j, path, "filter-operator"),
                                          Child(path, "filter-operator"), kFilterOperatorNames));
  const char* op_name = kFilterOperatorNames[static_cast<size_t>(c.op)];
  auto forbid = [&](const char* key) {
    if (Member(j, key) != nullptr) {
      ctx.Fail(Child(path, key),
               fmt::format("filter-operator \"{}\" takes no \"{}\"", op_name, key));
    }
  };
  auto need = [&](const char* key) {
    return ScalarText(ctx, Required(ctx, j, path, key), Child(path, key));
  };
  switch (c.op) {
    case FilterOperator::kEq:
    case FilterOperator::kNotEq:
    case FilterOperator::kLte:
    case FilterOperator::kSte:
    case FilterOperator::kGte:
      c.value = need("value");
      forbid("start-value");
      forbid("end-value");
      break;
    case FilterOperator::kBetween:
    case FilterOperator::kNotBetween:
      c.start_value = need("start-value");
      c.end_value = need("end-value");
      forbid("value");
      break;
    case FilterOperator::kNull:
    case FilterOperator::kNotNull:
      forbid("value");
      forbid("start-value");
      forbid("end-value");
      break;
  }
  return c;
}

bool IsNegative(FilterOperator op) {
  return op == FilterOperator::kNotEq || op == FilterOperator::kNotBetween ||
         op == FilterOperator::kNotNull;
}

SourceFilter ParseFilter(const Ctx& ctx, const Json& j, const std::string& path,
                         const std::string& rule_id) {
  RequireObject(ctx, j, path);
  CheckKeys(ctx, j, path, {"filter-type", "column-name", "filter-conditions"});
  if (const Json* t = Member(j, "filter-type")) {
    static constexpr const char* kTypes[] = {"source"};
    Enum(ctx, *t, Child(path, "filter-type"), kTypes);
  }
  SourceFilter f;
  f.rule_id = rule_id;
  f.column = RequiredString(ctx, j, path, "column-name");
  const std::string cpath = Child(path, "filter-conditions");
  const Json& conds = RequireArray(ctx, Required(ctx, j, path, "filter-conditions"), cpath);
  if (conds.empty()) ctx.Expected(cpath, "at least one filter condition", conds);
  for (size_t i = 0; i < conds.size(); ++i) {
    f.conditions.push_back(ParseCondition(ctx, conds[i], Index(cpath, i)));
  }
  // CHAP_Tasks.CustomizingTasks.Filters.md: no more than one condition in a filter that uses a
  // negative operator (noteq, notbetween, notnull).
  if (f.conditions.size() > 1) {
    for (size_t i = 0; i < f.conditions.size(); ++i) {
      if (IsNegative(f.conditions[i].op)) {
        ctx.Fail(Child(Index(cpath, i), "filter-operator"),
                 fmt::format("a negative operator (\"{}\") must be the only condition of its "
                             "filter; found {} conditions (use separate filters, which are ANDed)",
                             kFilterOperatorNames[static_cast<size_t>(f.conditions[i].op)],
                             f.conditions.size()));
      }
    }
  }
  return f;
}

SelectionRule ParseSelection(const Ctx& ctx, const Json& j, const std::string& path,
                             std::string rule_id, std::string rule_name) {
  CheckKeys(ctx, j, path,
            {"rule-type", "rule-id", "rule-name", "object-locator", "rule-action", "load-order",
             "filters"});
  SelectionRule r;
  r.rule_id = std::move(rule_id);
  r.rule_name = std::move(rule_name);
  ParseSelectionLocator(ctx, Required(ctx, j, path, "object-locator"),
                        Child(path, "object-locator"), &r.locator);
  static constexpr const char* kActions[] = {"include", "exclude", "explicit"};
  r.action = static_cast<SelectionAction>(
      Enum(ctx, Required(ctx, j, path, "rule-action"), Child(path, "rule-action"), kActions));
  if (r.action == SelectionAction::kExplicit) {
    // Selections.md: explicit names exactly one table or view and its schema, no wildcards.
    // `_` and `[` are common in real names, so only `%` is refused; explicit names are
    // compared exactly.
    for (const auto& [key, name] : {std::pair{"schema-name", &r.locator.schema_name},
                                    std::pair{"table-name", &r.locator.table_name}}) {
      if (name->find('%') != std::string::npos) {
        ctx.Fail(Child(Child(path, "object-locator"), key),
                 "rule-action \"explicit\" needs an exact name without the % wildcard, found " +
                     Quoted(*name));
      }
    }
  }
  if (const Json* lo = Member(j, "load-order")) {
    r.load_order =
        static_cast<int>(*LenientInt(ctx, *lo, Child(path, "load-order"), 0, 2147483647, false));
  }
  if (const Json* fs = Member(j, "filters")) {
    const std::string fpath = Child(path, "filters");
    RequireArray(ctx, *fs, fpath);
    if (!fs->empty() && r.action == SelectionAction::kExclude) {
      // Filters.md: filters apply to rows of tables that are loaded; on an exclude rule they
      // would be silently meaningless.
      ctx.Fail(fpath, "filters are not allowed on an \"exclude\" rule");
    }
    for (size_t i = 0; i < fs->size(); ++i) {
      r.filters.push_back(ParseFilter(ctx, (*fs)[i], Index(fpath, i), r.rule_id));
    }
  }
  return r;
}

DmsType ParseDataType(const Ctx& ctx, const Json& j, const std::string& path) {
  RequireObject(ctx, j, path);
  CheckKeys(ctx, j, path, {"type", "length", "precision", "scale"});
  const std::string tpath = Child(path, "type");
  const std::string name = RequiredString(ctx, j, path, "type");
  const auto kind = ParseDmsKindName(name);
  if (!kind) {
    ctx.Fail(tpath,
             "expected a DMS data type (boolean, bytes, date, time, datetime, int1, int2, "
             "int4, int8, uint1, uint2, uint4, uint8, numeric, real4, real8, string, "
             "wstring, blob, clob, nclob), found " +
                 Found(j["type"]));
  }
  DmsType t;
  t.kind = *kind;
  if (const Json* v = Member(j, "length")) {
    t.length = LenientInt(ctx, *v, Child(path, "length"), 0, int64_t{1} << 40, true).value_or(0);
  }
  if (const Json* v = Member(j, "precision")) {
    t.precision =
        static_cast<int>(LenientInt(ctx, *v, Child(path, "precision"), 0, 1000, true).value_or(0));
  }
  if (const Json* v = Member(j, "scale")) {
    t.scale =
        static_cast<int>(LenientInt(ctx, *v, Child(path, "scale"), -1000, 1000, true).value_or(0));
  }
  return t;
}

TransformationRule ParseTransformation(const Ctx& ctx, const Json& j, const std::string& path,
                                       std::string rule_id, std::string rule_name) {
  CheckKeys(ctx, j, path,
            {"rule-type", "rule-id", "rule-name", "rule-target", "object-locator", "rule-action",
             "value", "old-value", "expression", "data-type", "primary-key-def"});
  TransformationRule r;
  r.rule_id = std::move(rule_id);
  r.rule_name = std::move(rule_name);
  r.action = static_cast<TransformAction>(Enum(ctx, Required(ctx, j, path, "rule-action"),
                                               Child(path, "rule-action"), kTransformActionNames));
  const char* action = kTransformActionNames[static_cast<size_t>(r.action)];
  const std::string tpath = Child(path, "rule-target");
  r.target = static_cast<RuleTarget>(
      Enum(ctx, Required(ctx, j, path, "rule-target"), tpath, kRuleTargetNames));
  auto require_target = [&](RuleTarget want) {
    if (r.target != want) {
      ctx.Fail(tpath, fmt::format("rule-action \"{}\" needs rule-target \"{}\", found \"{}\"",
                                  action, RuleTargetName(want), RuleTargetName(r.target)));
    }
  };
  switch (r.action) {
    case TransformAction::kRemoveColumn:
    case TransformAction::kAddColumn:
    case TransformAction::kChangeDataType:
      require_target(RuleTarget::kColumn);
      break;
    case TransformAction::kDefinePrimaryKey:
      require_target(RuleTarget::kTable);
      break;
    default:
      break;
  }

  // object-locator: what each target needs.
  const std::string lpath = Child(path, "object-locator");
  const Json& loc = RequireObject(ctx, Required(ctx, j, path, "object-locator"), lpath);
  CheckKeys(ctx, loc, lpath, {"schema-name", "table-name", "column-name", "data-type"});
  r.locator.schema_name = RequiredString(ctx, loc, lpath, "schema-name");
  if (r.target != RuleTarget::kSchema) {
    r.locator.table_name = RequiredString(ctx, loc, lpath, "table-name");
  } else {
    // A schema rule may carry a table-name (console exports do); it does not narrow the rule.
    r.locator.table_name = OptionalString(ctx, loc, lpath, "table-name");
  }
  const bool column_rule = r.target == RuleTarget::kColumn;
  if (column_rule && r.action != TransformAction::kAddColumn) {
    r.locator.column_name = RequiredString(ctx, loc, lpath, "column-name");
  } else if (Member(loc, "column-name") != nullptr) {
    ctx.Fail(Child(lpath, "column-name"),
             r.action == TransformAction::kAddColumn
                 ? std::string("add-column takes the new column's name in \"value\", not in "
                               "object-locator.column-name")
                 : fmt::format("column-name is only for rule-target \"column\", found \"{}\"",
                               RuleTargetName(r.target)));
  }
  if (const Json* dt = Member(loc, "data-type")) {
    const std::string dpath = Child(lpath, "data-type");
    if (!column_rule || r.action == TransformAction::kAddColumn) {
      ctx.Fail(dpath, "object-locator.data-type only narrows rules on existing columns");
    }
    const std::string name = String(ctx, *dt, dpath, true);
    r.locator.data_type = ParseDmsKindName(name);
    if (!r.locator.data_type) ctx.Expected(dpath, "a DMS data type name such as int4", *dt);
  }
  if (r.action == TransformAction::kDefinePrimaryKey) {
    // Transformations.md: "You can't use a define-primary-key rule when the rule has a
    // wildcard (%) in a schema or table name."
    for (const auto& [key, name] : {std::pair{"schema-name", &r.locator.schema_name},
                                    std::pair{"table-name", &r.locator.table_name}}) {
      if (name->find('%') != std::string::npos) {
        ctx.Fail(Child(lpath, key),
                 "define-primary-key needs an exact name without %, found " + Quoted(*name));
      }
    }
  }

  // Parameters: required by the action, or refused when the action does not use them.
  bool uses_value = false;
  bool uses_old_value = false;
  switch (r.action) {
    case TransformAction::kReplacePrefix:
    case TransformAction::kReplaceSuffix:
      uses_old_value = true;
      [[fallthrough]];
    case TransformAction::kRename:
    case TransformAction::kAddPrefix:
    case TransformAction::kRemovePrefix:
    case TransformAction::kAddSuffix:
    case TransformAction::kRemoveSuffix:
    case TransformAction::kAddColumn:
      uses_value = true;
      break;
    default:
      break;
  }
  auto refuse = [&](const char* key) {
    if (Member(j, key) != nullptr) {
      ctx.Fail(Child(path, key), fmt::format("rule-action \"{}\" takes no \"{}\"", action, key));
    }
  };
  if (uses_value) {
    // replace-prefix/suffix may replace with nothing; every other action needs a name.
    const bool may_be_empty = uses_old_value;
    r.value = String(ctx, Required(ctx, j, path, "value"), Child(path, "value"), !may_be_empty);
  } else {
    refuse("value");
  }
  if (uses_old_value) {
    r.old_value = RequiredString(ctx, j, path, "old-value");
  } else {
    refuse("old-value");
  }
  if (r.action == TransformAction::kAddColumn) {
    r.expression = OptionalString(ctx, j, path, "expression");
  } else {
    refuse("expression");
  }
  if (r.action == TransformAction::kAddColumn || r.action == TransformAction::kChangeDataType) {
    r.data_type = ParseDataType(ctx, Required(ctx, j, path, "data-type"), Child(path, "data-type"));
  } else {
    refuse("data-type");
  }
  if (r.action == TransformAction::kDefinePrimaryKey) {
    const std::string ppath = Child(path, "primary-key-def");
    const Json& pk = RequireObject(ctx, Required(ctx, j, path, "primary-key-def"), ppath);
    CheckKeys(ctx, pk, ppath, {"name", "origin", "columns"});
    PrimaryKeyDef def;
    def.name = RequiredString(ctx, pk, ppath, "name");
    if (const Json* o = Member(pk, "origin")) {
      static constexpr const char* kOrigins[] = {"primary-key", "unique-index"};
      def.unique_index = Enum(ctx, *o, Child(ppath, "origin"), kOrigins) == 1;
    }
    const std::string cpath = Child(ppath, "columns");
    const Json& cols = RequireArray(ctx, Required(ctx, pk, ppath, "columns"), cpath);
    if (cols.empty()) ctx.Expected(cpath, "at least one column name", cols);
    for (size_t i = 0; i < cols.size(); ++i) {
      std::string c = String(ctx, cols[i], Index(cpath, i), true);
      if (std::find(def.columns.begin(), def.columns.end(), c) != def.columns.end()) {
        ctx.Fail(Index(cpath, i), "column " + Quoted(c) + " is listed twice");
      }
      def.columns.push_back(std::move(c));
    }
    r.primary_key = std::move(def);
  } else {
    refuse("primary-key-def");
  }
  return r;
}

std::vector<std::string> StringArray(const Ctx& ctx, const Json& j, const std::string& path) {
  RequireArray(ctx, j, path);
  if (j.empty()) ctx.Expected(path, "a non-empty array", j);
  std::vector<std::string> out;
  for (size_t i = 0; i < j.size(); ++i) out.push_back(String(ctx, j[i], Index(path, i), true));
  return out;
}

ParallelLoad ParseParallelLoad(const Ctx& ctx, const Json& j, const std::string& path) {
  RequireObject(ctx, j, path);
  CheckKeys(ctx, j, path, {"type", "columns", "boundaries", "partitions"});
  ParallelLoad p;
  p.type = static_cast<ParallelLoadType>(
      Enum(ctx, Required(ctx, j, path, "type"), Child(path, "type"), kParallelLoadTypeNames));
  auto refuse = [&](const char* key, const char* for_type) {
    if (Member(j, key) != nullptr) {
      ctx.Fail(Child(path, key), fmt::format("\"{}\" is only for type \"{}\", found type \"{}\"",
                                             key, for_type, ParallelLoadTypeName(p.type)));
    }
  };
  if (p.type == ParallelLoadType::kRanges) {
    const std::string cpath = Child(path, "columns");
    p.columns = StringArray(ctx, Required(ctx, j, path, "columns"), cpath);
    // Tablesettings.md: "You can specify up to 10 columns."
    if (p.columns.size() > 10) ctx.Expected(cpath, "at most 10 columns", j["columns"]);
    const std::string bpath = Child(path, "boundaries");
    const Json& bs = RequireArray(ctx, Required(ctx, j, path, "boundaries"), bpath);
    if (bs.empty()) ctx.Expected(bpath, "at least one boundary", bs);
    for (size_t i = 0; i < bs.size(); ++i) {
      const std::string ipath = Index(bpath, i);
      RequireArray(ctx, bs[i], ipath);
      if (bs[i].size() != p.columns.size()) {
        ctx.Expected(ipath, fmt::format("{} value(s), one per column", p.columns.size()), bs[i]);
      }
      std::vector<std::string> row;
      for (size_t k = 0; k < bs[i].size(); ++k) {
        row.push_back(ScalarText(ctx, bs[i][k], Index(ipath, k)));
      }
      p.boundaries.push_back(std::move(row));
    }
  } else {
    refuse("columns", "ranges");
    refuse("boundaries", "ranges");
  }
  if (p.type == ParallelLoadType::kPartitionsList) {
    p.partitions =
        StringArray(ctx, Required(ctx, j, path, "partitions"), Child(path, "partitions"));
  } else {
    refuse("partitions", "partitions-list");
  }
  return p;
}

LobSettings ParseLobSettings(const Ctx& ctx, const Json& j, const std::string& path) {
  RequireObject(ctx, j, path);
  CheckKeys(ctx, j, path, {"mode", "bulk-max-size"});
  LobSettings l;
  // DMS does not require mode; a block that gives only bulk-max-size means limited mode.
  if (const Json* m = Member(j, "mode")) {
    l.mode = static_cast<LobMode>(Enum(ctx, *m, Child(path, "mode"), kLobModeNames));
  }
  if (const Json* b = Member(j, "bulk-max-size")) {
    l.bulk_max_size_kb =
        LenientInt(ctx, *b, Child(path, "bulk-max-size"), 0, int64_t{1} << 32, false);
  }
  // Tablesettings.md: "In limited mode, you must set a nonzero value for this parameter."
  if (l.mode == LobMode::kLimited && l.bulk_max_size_kb.value_or(0) == 0) {
    ctx.Fail(Child(path, "bulk-max-size"),
             "mode \"limited\" needs a bulk-max-size (KB) greater than 0");
  }
  return l;
}

TableSettingsRule ParseTableSettings(const Ctx& ctx, const Json& j, const std::string& path,
                                     std::string rule_id, std::string rule_name) {
  CheckKeys(
      ctx, j, path,
      {"rule-type", "rule-id", "rule-name", "object-locator", "parallel-load", "lob-settings"});
  TableSettingsRule r;
  r.rule_id = std::move(rule_id);
  r.rule_name = std::move(rule_name);
  const std::string lpath = Child(path, "object-locator");
  const Json& loc = RequireObject(ctx, Required(ctx, j, path, "object-locator"), lpath);
  CheckKeys(ctx, loc, lpath, {"schema-name", "table-name"});
  r.locator.schema_name = RequiredString(ctx, loc, lpath, "schema-name");
  r.locator.table_name = RequiredString(ctx, loc, lpath, "table-name");
  if (const Json* p = Member(j, "parallel-load")) {
    r.parallel_load = ParseParallelLoad(ctx, *p, Child(path, "parallel-load"));
  }
  if (const Json* l = Member(j, "lob-settings")) {
    r.lob_settings = ParseLobSettings(ctx, *l, Child(path, "lob-settings"));
  }
  if (!r.parallel_load && !r.lob_settings) {
    ctx.Fail(path, "a table-settings rule needs \"parallel-load\" or \"lob-settings\"");
  }
  return r;
}

// Integers sort before other ids; integers by value (any length), others as text.
bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

TableMappings Parse(std::string_view text, std::string_view source_name) {
  Ctx ctx(source_name);
  constexpr int kMaxDepth = 64;
  if (NestingDepth(text, kMaxDepth) > kMaxDepth) {
    ctx.Fail("(document)", fmt::format("arrays and objects nest deeper than {} levels", kMaxDepth));
  }
  Json doc;
  try {
    doc = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    // nlohmann's message carries the line, column and what it expected.
    std::string what = e.what();
    const size_t bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    ctx.Fail("(document)", "not valid JSON: " + what);
  }
  RequireObject(ctx, doc, "(document)");
  CheckKeys(ctx, doc, "", {"rules"});
  const Json& rules = RequireArray(ctx, Required(ctx, doc, "(document)", "rules"), "rules");

  TableMappings out;
  std::map<std::string, size_t, bool (*)(const std::string&, const std::string&)> seen(
      [](const std::string& a, const std::string& b) { return CompareRuleIds(a, b) < 0; });
  for (size_t i = 0; i < rules.size(); ++i) {
    ctx.SetRuleId("");
    const std::string path = Index("rules", i);
    const Json& rule = RequireObject(ctx, rules[i], path);
    std::string rule_id =
        RuleIdText(ctx, Required(ctx, rule, path, "rule-id"), Child(path, "rule-id"));
    ctx.SetRuleId(rule_id);
    if (auto [it, inserted] = seen.emplace(rule_id, i); !inserted) {
      ctx.Fail(Child(path, "rule-id"),
               fmt::format("duplicate rule-id; rules[{}] already has rule-id {}", it->second,
                           it->first));
    }
    const std::string name_path = Child(path, "rule-name");
    const Json& name_json = Required(ctx, rule, path, "rule-name");
    std::string rule_name = name_json.is_string() ? String(ctx, name_json, name_path, true)
                                                  : ScalarText(ctx, name_json, name_path);
    static constexpr const char* kTypes[] = {"selection", "transformation", "table-settings"};
    switch (Enum(ctx, Required(ctx, rule, path, "rule-type"), Child(path, "rule-type"), kTypes)) {
      case 0:
        out.selections.push_back(
            ParseSelection(ctx, rule, path, std::move(rule_id), std::move(rule_name)));
        break;
      case 1:
        out.transformations.push_back(
            ParseTransformation(ctx, rule, path, std::move(rule_id), std::move(rule_name)));
        break;
      default:
        out.table_settings.push_back(
            ParseTableSettings(ctx, rule, path, std::move(rule_id), std::move(rule_name)));
        break;
    }
  }
  ctx.SetRuleId("");
  if (out.selections.empty()) {
    ctx.Fail("rules", "expected at least one selection rule (DMS migrates nothing without one)");
  }
  return out;
}

}  // namespace

const char* FilterOperatorName(FilterOperator op) {
  return kFilterOperatorNames[static_cast<size_t>(op)];
}
const char* RuleTargetName(RuleTarget target) {
  return kRuleTargetNames[static_cast<size_t>(target)];
}
const char* TransformActionName(TransformAction action) {
  return kTransformActionNames[static_cast<size_t>(action)];
}
const char* ParallelLoadTypeName(ParallelLoadType type) {
  return kParallelLoadTypeNames[static_cast<size_t>(type)];
}
const char* LobModeName(LobMode mode) { return kLobModeNames[static_cast<size_t>(mode)]; }

int CompareRuleIds(std::string_view a, std::string_view b) {
  const bool da = IsDigits(a);
  const bool db = IsDigits(b);
  if (da != db) return da ? -1 : 1;
  if (da) {
    const size_t za = std::min(a.find_first_not_of('0'), a.size());
    const size_t zb = std::min(b.find_first_not_of('0'), b.size());
    a.remove_prefix(za);
    b.remove_prefix(zb);
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  }
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

Result<TableMappings> ParseTableMappings(std::string_view json, std::string_view source_name) {
  try {
    return Parse(json, source_name);
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    // A nlohmann accessor used wrongly would be a bug here, but must not escape.
    return Error(ErrorKind::kInvalidArgument,
                 fmt::format("{}: cannot read table mappings: {}", source_name, e.what()));
  }
}

}  // namespace ferry
