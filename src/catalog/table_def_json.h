// A TableDef as JSON, whole (every field a catalog reader fills), so a task can keep the source
// table shapes its change apply has seen (the task store's table shapes) and read them back
// after a restart exactly as they were.
#pragma once

#include <string>
#include <string_view>

#include "catalog/table_def.h"

namespace ferry {

// Compact JSON text of `def`.
std::string TableDefToJson(const TableDef& def);

// The TableDef of TableDefToJson's text. Throws Error(kInvalidArgument) naming `what` (e.g.
// "task store table shape of t") on text that is not such JSON.
TableDef TableDefFromJson(std::string_view json, std::string_view what);

}  // namespace ferry
