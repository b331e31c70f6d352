// How large objects travel: the DMS LOB settings (TargetMetadata SupportLobs, FullLobMode,
// LimitedSizeLobMode, LobMaxSize, and a table's table-settings lob-settings) reduced to what
// the load does per table. LOB columns are those of kind BLOB, CLOB or NCLOB (PostgreSQL text,
// bytea and json; MySQL blob/text beyond 64 KB; SQLite TEXT/BLOB).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mapping/table_mappings.h"
#include "settings/task_settings.h"
#include "task_model/plan.h"

namespace ferry {

struct LobLimit {
  bool drop_lob_columns = false;  // SupportLobs false: LOB columns are not migrated
  int64_t max_bytes = 0;          // limited LOB mode: longer values are truncated; 0 = whole
  std::string reason;             // which setting decided, for the log ("LobMaxSize 32 KB")
};

// Ferry's own default when no task settings are given: every LOB whole.
inline LobLimit WholeLobs() { return LobLimit{false, 0, "no task settings: LOBs whole"}; }

// The limit for one table. A table's lob-settings win over the task's: limited ->
// bulk-max-size KB, unlimited -> whole, none -> the task's settings. The task's: SupportLobs
// false drops LOB columns; FullLobMode -> whole; LimitedSizeLobMode -> LobMaxSize KB (DMS
// default 32 KB); neither mode set -> whole.
LobLimit TableLobLimit(const TargetMetadata& task, const std::optional<LobSettings>& table);

bool IsLobKind(DmsKind kind);

// Applies `limit` to `plan`: SupportLobs false removes the LOB columns (source and target, or
// the transform's copies of them); a byte limit makes the row-transform stage cut longer LOB
// values (creating an identity transform when the plan has none). A LOB column in the primary
// key or a unique index is never dropped (dropping it would change which rows are distinct);
// such columns are returned. The names of dropped target columns go to `dropped`.
std::vector<std::string> ApplyLobLimit(TablePlan* plan, const LobLimit& limit,
                                       std::vector<std::string>* dropped);

}  // namespace ferry
