#include "engine/target_names.h"

#include <fmt/format.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"

namespace ferry {

namespace {

// Where a target name comes from, and how a table-mapping rule renames it.
struct NameSource {
  NameKind kind;
  std::string schema;        // source schema
  std::string table;         // source table ("" for a schema)
  std::string column;        // source column ("" for a schema or table)
  std::string add_rule_id;   // the add-column rule that made the column ("" = a source column)
  std::string target_name;   // the target name it becomes

  std::string Describe() const {
    if (!add_rule_id.empty()) {
      return fmt::format("column '{}' of source table {}.{} (added by rule-id {})", target_name,
                         schema, table, add_rule_id);
    }
    switch (kind) {
      case NameKind::kSchema:
        return fmt::format("source schema '{}'", schema);
      case NameKind::kTable:
        return fmt::format("source table {}.{}", schema, table);
      case NameKind::kColumn:
        break;
    }
    return fmt::format("source column {}.{}.{}", schema, table, column);
  }
};

class Problems {
 public:
  Problems(NameRules& rules, int next_rule_id) : rules_(rules), next_rule_id_(next_rule_id) {}

  // Names already used on the target next to the object a suggested name is for ("T" +
  // schema for tables, "C" + schema.table for columns), compared ignoring ASCII case.
  void Taken(const std::string& container, const std::string& name) {
    taken_[container].insert(AsciiLower(name));
  }

  // A fix for `from` (in `container`): a rename rule to a new name no other object there has
  // or was suggested, or the add-column rule to edit.
  std::string Fix(const NameSource& from, const std::string& container) {
    std::set<std::string>& taken = taken_[container];
    std::string value = rules_.Fit(from.target_name, "");
    for (int n = 2; taken.count(AsciiLower(value)) > 0; ++n) {
      value = rules_.Fit(from.target_name, fmt::format("_{}", n));
    }
    taken.insert(AsciiLower(value));
    if (!from.add_rule_id.empty()) {
      return fmt::format("give it another name in rule-id {} (e.g. \"{}\")", from.add_rule_id,
                         value);
    }
    nlohmann::ordered_json rule;
    const std::string id = std::to_string(next_rule_id_++);
    rule["rule-type"] = "transformation";
    rule["rule-id"] = id;
    rule["rule-name"] = "rename-" + id;
    rule["rule-target"] = NameKindName(from.kind);
    rule["object-locator"]["schema-name"] = from.schema;
    if (from.kind != NameKind::kSchema) rule["object-locator"]["table-name"] = from.table;
    if (from.kind == NameKind::kColumn) rule["object-locator"]["column-name"] = from.column;
    rule["rule-action"] = "rename";
    rule["value"] = value;
    return "rename it with a table-mapping rule such as " + rule.dump();
  }

  void Refused(const NameSource& from, const std::string& container, const std::string& why) {
    Add(fmt::format("{} would be target {} '{}', but the name {}; {}", from.Describe(),
                    NameKindName(from.kind), from.target_name, why, Fix(from, container)));
  }

  // `first` and `second` become one target object, `where`, because `reason`.
  void Merged(const NameSource& first, const NameSource& second, const std::string& container,
              const std::string& where, const std::string& reason) {
    Add(fmt::format("{} and {} would both be target {} {}: {}; {}", first.Describe(),
                    second.Describe(), NameKindName(first.kind), where, reason,
                    Fix(second, container)));
  }

  void ThrowIfAny(const std::string& hint) const {
    if (lines_.empty()) return;
    constexpr size_t kShown = 20;
    std::string text = fmt::format(
        "{} target name(s) would be changed or merged by the target; nothing was created:",
        lines_.size());
    for (size_t i = 0; i < lines_.size() && i < kShown; ++i) text += "\n  - " + lines_[i];
    if (lines_.size() > kShown) text += fmt::format("\n  ... and {} more", lines_.size() - kShown);
    if (!hint.empty()) text += "\n" + hint;
    throw Error(ErrorKind::kInvalidArgument, text);
  }

 private:
  void Add(std::string line) { lines_.push_back(std::move(line)); }

  NameRules& rules_;
  int next_rule_id_;
  std::map<std::string, std::set<std::string>> taken_;
  std::vector<std::string> lines_;
};

// Reports the names of `sources` that the target folds together (same key), each group once,
// `where` naming the target object.
void FindMerged(NameRules& rules, const std::vector<NameSource>& sources, Problems& problems,
                const std::string& container, const std::function<std::string(size_t)>& where) {
  std::vector<std::string> names;
  for (const NameSource& s : sources) names.push_back(s.target_name);
  std::vector<std::string> keys = sources.empty() ? std::vector<std::string>{}
                                                  : rules.Keys(sources[0].kind, names);
  std::map<std::string, size_t> first;  // key -> first source with it
  for (size_t i = 0; i < sources.size(); ++i) {
    auto [it, inserted] = first.emplace(keys[i], i);
    if (!inserted) {
      const NameSource& earlier = sources[it->second];
      problems.Merged(earlier, sources[i], container, where(it->second),
                      earlier.target_name == sources[i].target_name
                          ? "both are mapped to that name"
                          : "on the target, " + rules.Comparison(sources[i].kind));
    }
  }
}

}  // namespace

void CheckTargetNames(const std::vector<TablePlan>& plans, NameRules& rules, int next_rule_id,
                      const std::string& hint) {
  Problems problems(rules, next_rule_id);
  auto table_container = [](const TableDef& t) { return "T" + t.schema; };
  auto column_container = [](const TableDef& t) { return "C" + t.QualifiedName(); };
  for (const TablePlan& plan : plans) {
    problems.Taken("S", plan.target.schema);
    problems.Taken(table_container(plan.target), plan.target.name);
    for (const ColumnDef& c : plan.target.columns) {
      problems.Taken(column_container(plan.target), c.name);
    }
  }
  std::set<std::string> schemas_checked;
  std::vector<NameSource> tables;
  for (const TablePlan& plan : plans) {
    const TableDef& target = plan.target;
    if (schemas_checked.insert(target.schema).second) {
      const std::string why = rules.Refusal(NameKind::kSchema, target.schema);
      if (!why.empty()) {
        problems.Refused(
            NameSource{NameKind::kSchema, plan.source.schema, "", "", "", target.schema}, "S",
            why);
      }
    }
    NameSource table{NameKind::kTable, plan.source.schema, plan.source.name, "", "", target.name};
    const std::string why = rules.Refusal(NameKind::kTable, target.name);
    if (!why.empty()) problems.Refused(table, table_container(target), why);
    tables.push_back(table);

    std::vector<NameSource> columns;
    for (size_t i = 0; i < target.columns.size(); ++i) {
      NameSource column{NameKind::kColumn, plan.source.schema, plan.source.name, "", "",
                        target.columns[i].name};
      if (plan.transform) {
        const TransformColumn& t = plan.transform->columns.at(i);
        if (t.source_index >= 0) {
          column.column = plan.transform->source.columns.at(t.source_index).name;
        } else {
          column.add_rule_id = t.rule_id;
        }
      } else {
        column.column = plan.source.columns.at(i).name;
      }
      const std::string column_why = rules.Refusal(NameKind::kColumn, column.target_name);
      if (!column_why.empty()) problems.Refused(column, column_container(target), column_why);
      columns.push_back(std::move(column));
    }
    FindMerged(rules, columns, problems, column_container(target), [&](size_t first) {
      return fmt::format("'{}' of target table {}", columns[first].target_name,
                         target.QualifiedName());
    });
  }
  // Tables merge when both their schema and their name fold together.
  std::vector<std::string> schema_names;
  for (const TablePlan& plan : plans) schema_names.push_back(plan.target.schema);
  const std::vector<std::string> schema_keys =
      plans.empty() ? std::vector<std::string>{} : rules.Keys(NameKind::kSchema, schema_names);
  std::vector<std::string> table_names;
  for (const NameSource& t : tables) table_names.push_back(t.target_name);
  const std::vector<std::string> table_keys =
      plans.empty() ? std::vector<std::string>{} : rules.Keys(NameKind::kTable, table_names);
  std::map<std::pair<std::string, std::string>, size_t> landed;
  for (size_t i = 0; i < plans.size(); ++i) {
    auto [it, inserted] = landed.emplace(std::make_pair(schema_keys[i], table_keys[i]), i);
    if (!inserted) {
      const TableDef& earlier = plans[it->second].target;
      const TableDef& later = plans[i].target;
      std::string reason = "both are mapped to that name";
      if (earlier.name != later.name) {
        reason = "on the target, " + rules.Comparison(NameKind::kTable);
      } else if (earlier.schema != later.schema) {
        reason = "on the target, " + rules.Comparison(NameKind::kSchema);
      }
      problems.Merged(tables[it->second], tables[i], table_container(earlier),
                      earlier.QualifiedName(), reason);
    }
  }
  problems.ThrowIfAny(hint);
}

}  // namespace ferry
