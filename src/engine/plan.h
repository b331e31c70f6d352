// Planning a full load: which source tables move, and what each becomes on the target.
#pragma once

#include <string>
#include <vector>

#include "catalog/table_def.h"
#include "connectors/connector.h"

namespace ferry {

struct TablePlan {
  TableDef source;
  TableDef target;  // columns carry the source DmsTypes and the target's native types
};

// Selects tables by name: each pattern is "table" or "schema.table", with '*' and '%' matching
// any run of characters; an empty list selects every table.
bool TableSelected(const TableDef& table, const std::vector<std::string>& patterns);

// The target definition of `source` on `target` (see Dialect::MapColumn): target schema is
// `target_schema` when set, else the connector's default for the source schema. Keeps the
// primary key; keeps unique indexes only when there is no primary key (the DMS minimum).
TableDef MapTable(const TableDef& source, Engine source_engine, const Connector& target,
                  const std::string& target_schema);

// Plans every selected table. Throws Error(kInvalidArgument) when two source tables would land
// on the same target table, and Error(kNotFound) when a pattern without wildcards matches
// nothing.
std::vector<TablePlan> PlanTables(const std::vector<TableDef>& source_tables, Engine source_engine,
                                  const Connector& target, const std::string& target_schema,
                                  const std::vector<std::string>& patterns);

}  // namespace ferry
