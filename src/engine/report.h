// The end-of-load summary: DMS table statistics per table, as a text table or as JSON.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "task_model/table_stats.h"

namespace ferry {

// Text table: one row per table with state, rows, duration, rows/s, warnings and errors.
std::string FormatSummary(const std::vector<std::unique_ptr<TableStats>>& stats);

// {"TableStatistics": [{"SchemaName", "TableName", "TargetSchemaName", "TargetTableName",
//   "FullLoadRows", "FullLoadErrorRows", "FullLoadStartTime", "FullLoadEndTime",
//   "TableState", "Inserts": 0, ..., "Warnings": {...}, "Error": "..."}]}
// Times are ISO 8601 UTC, as the DMS API prints them.
nlohmann::json SummaryJson(const std::vector<std::unique_ptr<TableStats>>& stats);

std::string IsoTime(WallClock::time_point t);

}  // namespace ferry
