// Applies parsed table mappings (mapping/table_mappings.h) to a source catalog: which tables
// are migrated, under which names, with which columns, key, filters and table settings.
//
// Semantics, from the AWS DMS user guide (awsdocs/aws-dms-user-guide, doc_source/):
//  - Selection (CHAP_Tasks.CustomizingTasks.TableMapping.SelectionTransformation.Selections.md):
//    a table is migrated when an explicit rule names it exactly, or when an include rule
//    matches it and no exclude rule does (explicit > exclude > include). A table no include or
//    explicit rule matches is not migrated. table-type narrows a rule to tables, views or both.
//    Filters of every include/explicit rule that selects a table are ANDed; the load-order is
//    the highest of those rules'; tables are returned highest load-order first ("Tables and
//    views with higher values are loaded first"), then in catalog order.
//  - Transformation (...SelectionTransformation.Transformations.md, "Values", rule-id: "If you
//    specify multiple transformation rules for the same object ..., AWS DMS applies the
//    transformation rule with the lower rule-id"; and "Limitations": one transformation action
//    per object). So for each object, within each kind of change, only the matching rule with
//    the lowest rule-id (CompareRuleIds) takes effect; the others are ignored. The kinds are:
//    the name of a schema, of a table, of a column (rename, convert-*, *-prefix, *-suffix);
//    remove-column; change-data-type; define-primary-key. add-column rules all apply, each
//    adding one column at the end of the table, in rule-id order. Locators match the SOURCE
//    names (case-sensitive), so rules never chain on each other's output.
//  - Table settings (...SelectionTransformation.Tablesettings.md): per table, the
//    lowest-rule-id matching rule that has parallel-load gives it, likewise for lob-settings.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "catalog/table_def.h"
#include "common/error.h"
#include "mapping/table_mappings.h"
#include "types/dms_type.h"

namespace ferry {

struct MappedColumn {
  int source_index = -1;  // index into MappedTable::source.columns; -1 for an added column
  std::string name;       // target name
  DmsType type;           // target type (change-data-type / add-column data-type applied)
  bool nullable = true;
  std::string expression;  // add-column: SQLite expression over $column refs ("" = NULL)
  std::string rule_id;     // the add-column rule that added it, or the change-data-type rule
};

struct MappedTable {
  TableDef source;
  std::string target_schema;
  std::string target_table;
  std::vector<MappedColumn> columns;  // target column order
  // Target column names of the key: the source primary key renamed (empty when a key column
  // was removed), or a define-primary-key rule's columns.
  std::vector<std::string> primary_key;
  std::string primary_key_name;              // define-primary-key name; "" otherwise
  bool primary_key_is_unique_index = false;  // define-primary-key origin "unique-index"
  int load_order = 0;
  std::vector<SourceFilter> filters;          // on source column names; ANDed (see FilterToSql)
  std::optional<ParallelLoad> parallel_load;  // columns are source column names
  std::optional<LobSettings> lob_settings;
  std::vector<std::string> rule_ids;  // every rule that took effect on this table, ascending
};

struct ApplyOptions {
  // Whether a source object is a view (for table-type); null = every object is a table.
  std::function<bool(const TableDef&)> is_view;
};

// Decides which of `source_tables` are migrated and how. Returns kInvalidArgument naming the
// rule-id, table and column when a rule names (without wildcards) a column that a table it
// matches does not have, when two source tables map to one target table, or when two columns
// of a target table get the same name; the message starts with `source_name` (the mappings
// file). Never throws.
Result<std::vector<MappedTable>> ApplyTableMappings(const TableMappings& mappings,
                                                    const std::vector<TableDef>& source_tables,
                                                    std::string_view source_name,
                                                    const ApplyOptions& options = {});

// Quotes an identifier for the source engine (the connector's own quoting function).
using QuoteIdentifierFn = std::function<std::string(std::string_view)>;

// Quotes a string literal for the source engine (its dialect's QuoteLiteral).
using QuoteLiteralFn = std::function<std::string(std::string_view)>;

// The WHERE predicate (without "WHERE") for `filters` on the source: filters ANDed, conditions
// of one filter ORed, e.g. `("empid" <= '10' OR "empid" BETWEEN '50' AND '75') AND ("dept" IS
// NOT NULL)`. Values are rendered as string literals through `literal` (the engine converts
// them to the column's type, as DMS compares them); columns go through `quote`.
// Returns "" for no filters. Throws Error(kInvalidArgument) for a value holding a NUL byte
// (ParseTableMappings refuses those, so only hand-built filters can).
std::string FilterToSql(const std::vector<SourceFilter>& filters, const QuoteLiteralFn& literal,
                        const QuoteIdentifierFn& quote);

}  // namespace ferry
