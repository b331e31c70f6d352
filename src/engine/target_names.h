// Every planned target name checked against the target engine's naming rules
// (connectors/name_rules.h) before anything is created, so no two source tables or columns
// become one target object and no name arrives cut or changed.
#pragma once

#include <string>
#include <vector>

#include "connectors/name_rules.h"
#include "task_model/plan.h"

namespace ferry {

// Throws Error(kInvalidArgument) listing every problem of `plans` on a target with `rules`:
// a schema, table or column name the target would not take as given (NameRules::Refusal),
// two tables landing on one target table, two columns of a table on one target column (after
// the target's folding, NameRules::Keys). Each problem names the source objects, the rule
// of the target, and a table-mapping rule that fixes it (numbered from `next_rule_id`).
// `hint`, when not empty, ends the message. Throws Error from NameRules::Keys on a connection
// failure.
void CheckTargetNames(const std::vector<TablePlan>& plans, NameRules& rules, int next_rule_id,
                      const std::string& hint = "");

}  // namespace ferry
