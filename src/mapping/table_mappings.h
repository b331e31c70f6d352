// AWS DMS table mappings: the `{"rules": [...]}` JSON users already have, parsed and validated.
//
// Reference: the AWS DMS user guide (awsdocs/aws-dms-user-guide), files
// doc_source/CHAP_Tasks.CustomizingTasks.TableMapping.SelectionTransformation.Selections.md,
// ...Transformations.md, ...Tablesettings.md and CHAP_Tasks.CustomizingTasks.Filters.md.
//
// Parsing is strict where DMS is (unknown rule types, actions and keys are errors) and lenient
// where DMS is: rule-id may be a JSON string or integer, and the numbers DMS's own examples
// write as strings ("load-order": "1", "length": "4092", "bulk-max-size": "16") are accepted
// as either; an empty string for an optional number ("scale": "") means "not set". Filter and
// boundary values may be strings or numbers and are kept as text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "types/dms_type.h"

namespace ferry {

enum class TableType { kTable, kView, kAll };

// Names in an object-locator are DMS wildcard patterns (mapping/wildcard.h); empty = absent.
struct ObjectLocator {
  std::string schema_name;
  std::string table_name;
  std::string column_name;                   // transformation rules on columns
  std::optional<DmsKind> data_type;          // transformation: only columns of this DMS type
  TableType table_type = TableType::kTable;  // selection rules
};

enum class FilterOperator { kEq, kNotEq, kLte, kSte, kGte, kBetween, kNotBetween, kNull, kNotNull };
const char* FilterOperatorName(FilterOperator op);  // "eq", "noteq", ...

struct FilterCondition {
  FilterOperator op = FilterOperator::kEq;
  std::string value;        // eq, noteq, lte, ste, gte
  std::string start_value;  // between, notbetween
  std::string end_value;
};

// One `filters[]` entry of a selection rule: conditions ORed; filters of a rule are ANDed.
struct SourceFilter {
  std::string column;  // source column name (case-sensitive)
  std::vector<FilterCondition> conditions;
  std::string rule_id;  // the selection rule it came from (for messages)
};

enum class SelectionAction { kInclude, kExclude, kExplicit };

struct SelectionRule {
  std::string rule_id;
  std::string rule_name;
  ObjectLocator locator;
  SelectionAction action = SelectionAction::kInclude;
  int load_order = 0;  // 0..2147483647; higher loads first (Selections.md)
  std::vector<SourceFilter> filters;
};

enum class RuleTarget { kSchema, kTable, kColumn };
const char* RuleTargetName(RuleTarget target);

enum class TransformAction {
  kRename,
  kConvertLowercase,
  kConvertUppercase,
  kAddPrefix,
  kRemovePrefix,
  kReplacePrefix,
  kAddSuffix,
  kRemoveSuffix,
  kReplaceSuffix,
  kRemoveColumn,
  kAddColumn,
  kChangeDataType,
  kDefinePrimaryKey,
};
const char* TransformActionName(TransformAction action);  // "rename", "add-prefix", ...

struct PrimaryKeyDef {
  std::string name;
  bool unique_index = false;  // origin "unique-index" (default "primary-key")
  std::vector<std::string> columns;
};

struct TransformationRule {
  std::string rule_id;
  std::string rule_name;
  RuleTarget target = RuleTarget::kTable;
  ObjectLocator locator;
  TransformAction action = TransformAction::kRename;
  std::string value;       // rename, prefixes, suffixes; the new column's name for add-column
  std::string old_value;   // replace-prefix, replace-suffix
  std::string expression;  // add-column (SQLite syntax; evaluated by the engine)
  std::optional<DmsType> data_type;          // add-column, change-data-type
  std::optional<PrimaryKeyDef> primary_key;  // define-primary-key
};

enum class ParallelLoadType { kNone, kPartitionsAuto, kPartitionsList, kRanges };
const char* ParallelLoadTypeName(ParallelLoadType type);

struct ParallelLoad {
  ParallelLoadType type = ParallelLoadType::kNone;
  std::vector<std::string> columns;                  // ranges: 1..10 source columns
  std::vector<std::vector<std::string>> boundaries;  // ranges: each has columns.size() values
  std::vector<std::string> partitions;               // partitions-list
};

enum class LobMode { kLimited, kUnlimited, kNone };
const char* LobModeName(LobMode mode);

struct LobSettings {
  LobMode mode = LobMode::kLimited;
  std::optional<int64_t> bulk_max_size_kb;  // required (> 0) for limited
};

struct TableSettingsRule {
  std::string rule_id;
  std::string rule_name;
  ObjectLocator locator;
  std::optional<ParallelLoad> parallel_load;
  std::optional<LobSettings> lob_settings;
};

// The rules of one file, each kind in file order.
struct TableMappings {
  std::vector<SelectionRule> selections;
  std::vector<TransformationRule> transformations;
  std::vector<TableSettingsRule> table_settings;
};

// Parses and validates a table-mappings document. On failure the error is
// ErrorKind::kInvalidArgument and its message reads
//   "<source_name>: <json path>[ (rule-id <id>)]: <what was expected>, found <what was found>"
// e.g. "mappings.json: rules[3].object-locator.schema-name (rule-id 7): expected a string,
// found number 5". `source_name` is only used in messages (a file name, "--table-mappings").
// Never throws.
Result<TableMappings> ParseTableMappings(std::string_view json, std::string_view source_name);

// Orders rule-ids as DMS does: numerically when both are integers, else as text.
// Returns <0, 0, >0.
int CompareRuleIds(std::string_view a, std::string_view b);

}  // namespace ferry
