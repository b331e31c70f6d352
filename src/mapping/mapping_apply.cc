#include "mapping/mapping_apply.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mapping/wildcard.h"

namespace ferry {
namespace {

bool IsNameAction(TransformAction a) {
  switch (a) {
    case TransformAction::kRename:
    case TransformAction::kConvertLowercase:
    case TransformAction::kConvertUppercase:
    case TransformAction::kAddPrefix:
    case TransformAction::kRemovePrefix:
    case TransformAction::kReplacePrefix:
    case TransformAction::kAddSuffix:
    case TransformAction::kRemoveSuffix:
    case TransformAction::kReplaceSuffix:
      return true;
    default:
      return false;
  }
}

// The name `name` becomes under the name-changing rule `r`. Case conversion is ASCII only:
// engines fold other letters differently, so they are kept as they are.
std::string ApplyName(const TransformationRule& r, const std::string& name) {
  auto starts = [&](const std::string& p) { return name.compare(0, p.size(), p) == 0; };
  auto ends = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  std::string out = name;
  switch (r.action) {
    case TransformAction::kRename:
      return r.value;
    case TransformAction::kConvertLowercase:
      for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      return out;
    case TransformAction::kConvertUppercase:
      for (char& c : out) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      }
      return out;
    case TransformAction::kAddPrefix:
      return r.value + name;
    case TransformAction::kRemovePrefix:
      return starts(r.value) ? name.substr(r.value.size()) : name;
    case TransformAction::kReplacePrefix:
      return starts(r.old_value) ? r.value + name.substr(r.old_value.size()) : name;
    case TransformAction::kAddSuffix:
      return name + r.value;
    case TransformAction::kRemoveSuffix:
      return ends(r.value) ? name.substr(0, name.size() - r.value.size()) : name;
    case TransformAction::kReplaceSuffix:
      return ends(r.old_value) ? name.substr(0, name.size() - r.old_value.size()) + r.value : name;
    default:
      return name;
  }
}

class Applier {
 public:
  Applier(const TableMappings& m, std::string_view source_name, const ApplyOptions& options)
      : m_(m), source_(source_name), options_(options) {
    for (const auto& r : m.transformations) transforms_.push_back(&r);
    std::stable_sort(transforms_.begin(), transforms_.end(),
                     [](auto* a, auto* b) { return CompareRuleIds(a->rule_id, b->rule_id) < 0; });
    for (const auto& r : m.table_settings) settings_.push_back(&r);
    std::stable_sort(settings_.begin(), settings_.end(),
                     [](auto* a, auto* b) { return CompareRuleIds(a->rule_id, b->rule_id) < 0; });
  }

  std::vector<MappedTable> Run(const std::vector<TableDef>& tables) {
    std::vector<MappedTable> out;
    // Target table -> (index in out, rule-ids that named it), to find collisions.
    std::map<std::pair<std::string, std::string>, std::pair<size_t, std::vector<std::string>>>
        targets;
    for (const TableDef& t : tables) {
      std::vector<std::string> name_rules;
      std::optional<MappedTable> mt = MapTable(t, &name_rules);
      if (!mt) continue;
      auto key = std::make_pair(mt->target_schema, mt->target_table);
      auto [it, inserted] = targets.emplace(key, std::make_pair(out.size(), name_rules));
      if (!inserted) {
        const MappedTable& other = out[it->second.first];
        std::vector<std::string> ids = it->second.second;
        ids.insert(ids.end(), name_rules.begin(), name_rules.end());
        SortIds(&ids);
        Fail(fmt::format(
            "source tables {} and {} both map to target table {}.{}{}; DMS does "
            "not replicate two source tables into one target table",
            other.source.QualifiedName(), t.QualifiedName(), mt->target_schema, mt->target_table,
            ids.empty() ? std::string() : " (rule-ids " + Join(ids) + ")"));
      }
      out.push_back(std::move(*mt));
    }
    std::stable_sort(out.begin(), out.end(), [](const MappedTable& a, const MappedTable& b) {
      return a.load_order > b.load_order;
    });
    return out;
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const {
    throw Error(ErrorKind::kInvalidArgument, fmt::format("{}: {}", source_, what));
  }

  static void SortIds(std::vector<std::string>* ids) {
    std::sort(ids->begin(), ids->end(),
              [](const auto& a, const auto& b) { return CompareRuleIds(a, b) < 0; });
    ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
  }
  static std::string Join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  }

  static bool MatchesTable(const ObjectLocator& loc, const TableDef& t) {
    return WildcardMatch(loc.schema_name, t.schema) && WildcardMatch(loc.table_name, t.name);
  }

  std::optional<MappedTable> MapTable(const TableDef& t, std::vector<std::string>* name_rules) {
    const bool view = options_.is_view && options_.is_view(t);
    std::vector<const SelectionRule*> explicit_rules;
    std::vector<const SelectionRule*> include_rules;
    bool excluded = false;
    for (const SelectionRule& s : m_.selections) {
      const TableType tt = s.locator.table_type;
      if (tt != TableType::kAll && (tt == TableType::kView) != view) continue;
      if (s.action == SelectionAction::kExplicit) {
        if (s.locator.schema_name == t.schema && s.locator.table_name == t.name) {
          explicit_rules.push_back(&s);
        }
      } else if (MatchesTable(s.locator, t)) {
        if (s.action == SelectionAction::kExclude) {
          excluded = true;
        } else {
          include_rules.push_back(&s);
        }
      }
    }
    if (explicit_rules.empty() && (include_rules.empty() || excluded)) return std::nullopt;
    std::vector<const SelectionRule*> chosen = explicit_rules;
    if (!excluded) chosen.insert(chosen.end(), include_rules.begin(), include_rules.end());

    MappedTable mt;
    mt.source = t;
    for (const SelectionRule* s : chosen) {
      mt.rule_ids.push_back(s->rule_id);
      mt.load_order = std::max(mt.load_order, s->load_order);
      for (size_t i = 0; i < s->filters.size(); ++i) {
        const SourceFilter& f = s->filters[i];
        if (t.ColumnIndex(f.column) < 0) {
          Fail(fmt::format("rule-id {}: filters[{}].column-name: table {} has no column \"{}\"",
                           s->rule_id, i, t.QualifiedName(), f.column));
        }
        mt.filters.push_back(f);
      }
    }

    // Names of the schema and the table: the lowest-rule-id matching rule of each.
    mt.target_schema = t.schema;
    mt.target_table = t.name;
    const TransformationRule* schema_rule = nullptr;
    const TransformationRule* table_rule = nullptr;
    const TransformationRule* pk_rule = nullptr;
    for (const TransformationRule* r : transforms_) {
      if (r->target == RuleTarget::kSchema) {
        if (!schema_rule && IsNameAction(r->action) &&
            WildcardMatch(r->locator.schema_name, t.schema)) {
          schema_rule = r;
        }
      } else if (r->target == RuleTarget::kTable && MatchesTable(r->locator, t)) {
        if (!table_rule && IsNameAction(r->action)) table_rule = r;
        if (!pk_rule && r->action == TransformAction::kDefinePrimaryKey) pk_rule = r;
      }
    }
    if (schema_rule) {
      mt.target_schema = ApplyName(*schema_rule, t.schema);
      Applied(&mt, schema_rule, name_rules);
      if (mt.target_schema.empty()) {
        Fail(fmt::format("rule-id {}: schema {} of table {} would get an empty name",
                         schema_rule->rule_id, t.schema, t.QualifiedName()));
      }
    }
    if (table_rule) {
      mt.target_table = ApplyName(*table_rule, t.name);
      Applied(&mt, table_rule, name_rules);
      if (mt.target_table.empty()) {
        Fail(fmt::format("rule-id {}: table {} would get an empty name", table_rule->rule_id,
                         t.QualifiedName()));
      }
    }

    MapColumns(t, &mt);
    MapKey(t, pk_rule, &mt);
    MapSettings(t, &mt);
    SortIds(&mt.rule_ids);
    return mt;
  }

  static void Applied(MappedTable* mt, const TransformationRule* r,
                      std::vector<std::string>* also = nullptr) {
    mt->rule_ids.push_back(r->rule_id);
    if (also) also->push_back(r->rule_id);
  }

  bool MatchesColumn(const TransformationRule& r, const ColumnDef& c) const {
    if (!WildcardMatch(r.locator.column_name, c.name)) return false;
    return !r.locator.data_type || *r.locator.data_type == c.type.kind;
  }

  void MapColumns(const TableDef& t, MappedTable* mt) {
    std::vector<const TransformationRule*> rules;
    for (const TransformationRule* r : transforms_) {
      if (r->target != RuleTarget::kColumn || !MatchesTable(r->locator, t)) continue;
      rules.push_back(r);
      if (r->action == TransformAction::kAddColumn) continue;
      // A column-name without % names columns; one that matches none of this table's is
      // almost always a typo, and DMS would silently do nothing.
      if (r->locator.column_name.find('%') == std::string::npos) {
        bool any = false;
        for (const ColumnDef& c : t.columns) any |= WildcardMatch(r->locator.column_name, c.name);
        if (!any) {
          Fail(fmt::format("rule-id {}: object-locator.column-name: table {} has no column \"{}\"",
                           r->rule_id, t.QualifiedName(), r->locator.column_name));
        }
      }
    }
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const ColumnDef& c = t.columns[i];
      const TransformationRule* remove = nullptr;
      const TransformationRule* name = nullptr;
      const TransformationRule* type = nullptr;
      for (const TransformationRule* r : rules) {
        if (r->action == TransformAction::kAddColumn || !MatchesColumn(*r, c)) continue;
        if (r->action == TransformAction::kRemoveColumn) {
          if (!remove) remove = r;
        } else if (r->action == TransformAction::kChangeDataType) {
          if (!type) type = r;
        } else if (IsNameAction(r->action) && !name) {
          name = r;
        }
      }
      if (remove) {
        Applied(mt, remove);
        continue;
      }
      MappedColumn mc;
      mc.source_index = static_cast<int>(i);
      mc.name = c.name;
      mc.type = c.type;
      mc.nullable = c.nullable;
      if (name) {
        mc.name = ApplyName(*name, c.name);
        Applied(mt, name);
        if (mc.name.empty()) {
          Fail(fmt::format("rule-id {}: column \"{}\" of table {} would get an empty name",
                           name->rule_id, c.name, t.QualifiedName()));
        }
      }
      if (type) {
        mc.type = *type->data_type;
        mc.rule_id = type->rule_id;
        Applied(mt, type);
      }
      mt->columns.push_back(std::move(mc));
    }
    for (const TransformationRule* r : rules) {
      if (r->action != TransformAction::kAddColumn) continue;
      MappedColumn mc;
      mc.name = r->value;
      mc.type = *r->data_type;
      mc.expression = r->expression;
      mc.rule_id = r->rule_id;
      mt->columns.push_back(std::move(mc));
      Applied(mt, r);
    }
    // Target column names must be unique.
    for (size_t a = 0; a < mt->columns.size(); ++a) {
      for (size_t b = a + 1; b < mt->columns.size(); ++b) {
        if (mt->columns[a].name != mt->columns[b].name) continue;
        auto origin = [&](const MappedColumn& mc) {
          return mc.source_index >= 0
                     ? fmt::format("source column \"{}\"", t.columns[mc.source_index].name)
                     : fmt::format("the column added by rule-id {}", mc.rule_id);
        };
        std::vector<std::string> ids = mt->rule_ids;
        SortIds(&ids);
        Fail(fmt::format("table {}: {} and {} both become column \"{}\" of target table {}.{}{}",
                         t.QualifiedName(), origin(mt->columns[a]), origin(mt->columns[b]),
                         mt->columns[a].name, mt->target_schema, mt->target_table,
                         ids.empty() ? std::string() : " (rule-ids " + Join(ids) + ")"));
      }
    }
  }

  void MapKey(const TableDef& t, const TransformationRule* pk_rule, MappedTable* mt) {
    if (pk_rule) {
      const PrimaryKeyDef& def = *pk_rule->primary_key;
      for (const std::string& col : def.columns) {
        // The key names target columns; a source name of a renamed column is accepted too.
        const MappedColumn* found = nullptr;
        for (const MappedColumn& mc : mt->columns) {
          if (mc.name == col) found = &mc;
        }
        for (const MappedColumn& mc : mt->columns) {
          if (!found && mc.source_index >= 0 && t.columns[mc.source_index].name == col) {
            found = &mc;
          }
        }
        if (!found) {
          Fail(fmt::format("rule-id {}: primary-key-def.columns: table {} has no column \"{}\"",
                           pk_rule->rule_id, t.QualifiedName(), col));
        }
        mt->primary_key.push_back(found->name);
      }
      mt->primary_key_name = def.name;
      mt->primary_key_is_unique_index = def.unique_index;
      Applied(mt, pk_rule);
      return;
    }
    for (const std::string& col : t.primary_key) {
      const int si = t.ColumnIndex(col);
      auto it = std::find_if(mt->columns.begin(), mt->columns.end(),
                             [&](const MappedColumn& mc) { return mc.source_index == si; });
      if (si < 0 || it == mt->columns.end()) {
        mt->primary_key.clear();  // a key column was removed: the target has no key
        return;
      }
      mt->primary_key.push_back(it->name);
    }
  }

  void MapSettings(const TableDef& t, MappedTable* mt) {
    for (const TableSettingsRule* r : settings_) {
      if (!MatchesTable(r->locator, t)) continue;
      if (r->parallel_load && !mt->parallel_load) {
        for (size_t i = 0; i < r->parallel_load->columns.size(); ++i) {
          const std::string& col = r->parallel_load->columns[i];
          if (t.ColumnIndex(col) < 0) {
            Fail(fmt::format("rule-id {}: parallel-load.columns[{}]: table {} has no column \"{}\"",
                             r->rule_id, i, t.QualifiedName(), col));
          }
        }
        mt->parallel_load = r->parallel_load;
        mt->rule_ids.push_back(r->rule_id);
      }
      if (r->lob_settings && !mt->lob_settings) {
        mt->lob_settings = r->lob_settings;
        mt->rule_ids.push_back(r->rule_id);
      }
    }
  }

  const TableMappings& m_;
  std::string source_;
  const ApplyOptions& options_;
  std::vector<const TransformationRule*> transforms_;  // rule-id ascending
  std::vector<const TableSettingsRule*> settings_;     // rule-id ascending
};

}  // namespace

Result<std::vector<MappedTable>> ApplyTableMappings(const TableMappings& mappings,
                                                    const std::vector<TableDef>& source_tables,
                                                    std::string_view source_name,
                                                    const ApplyOptions& options) {
  try {
    return Applier(mappings, source_name, options).Run(source_tables);
  } catch (const Error& e) {
    return e;
  }
}

std::string FilterToSql(const std::vector<SourceFilter>& filters, const QuoteLiteralFn& literal,
                        const QuoteIdentifierFn& quote) {
  std::string out;
  for (const SourceFilter& f : filters) {
    const std::string col = quote(f.column);
    std::string conds;
    for (const FilterCondition& c : f.conditions) {
      std::string one;
      auto lit = [&](const std::string& v) {
        // Refused here for every engine alike (MySQL's literal could hold it).
        if (v.find('\0') != std::string::npos) {
          throw Error(ErrorKind::kInvalidArgument, "a filter value holds a NUL byte");
        }
        return literal(v);
      };
      switch (c.op) {
        case FilterOperator::kEq:
          one = col + " = " + lit(c.value);
          break;
        case FilterOperator::kNotEq:
          one = col + " <> " + lit(c.value);
          break;
        case FilterOperator::kLte:
        case FilterOperator::kSte:  // "ste" is DMS's other spelling of "less than or equal"
          one = col + " <= " + lit(c.value);
          break;
        case FilterOperator::kGte:
          one = col + " >= " + lit(c.value);
          break;
        case FilterOperator::kBetween:
          one = col + " BETWEEN " + lit(c.start_value) + " AND " + lit(c.end_value);
          break;
        case FilterOperator::kNotBetween:
          one = col + " NOT BETWEEN " + lit(c.start_value) + " AND " + lit(c.end_value);
          break;
        case FilterOperator::kNull:
          one = col + " IS NULL";
          break;
        case FilterOperator::kNotNull:
          one = col + " IS NOT NULL";
          break;
      }
      conds += (conds.empty() ? "" : " OR ") + one;
    }
    if (conds.empty()) continue;
    out += (out.empty() ? "(" : " AND (") + conds + ")";
  }
  return out;
}

}  // namespace ferry
