#include "engine/report.h"

#include <fmt/format.h>

#include <ctime>

#include "engine/progress.h"

namespace ferry {

std::string IsoTime(WallClock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "";
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (micros / 1000) % 1000);
}

namespace {
double Seconds(const TableStats& st) FERRY_REQUIRES(st.mu) {
  if (st.end_time.time_since_epoch().count() == 0 ||
      st.start_time.time_since_epoch().count() == 0) {
    return 0;
  }
  return std::chrono::duration<double>(st.end_time - st.start_time).count();
}
}  // namespace

std::string FormatSummary(const std::vector<std::unique_ptr<TableStats>>& stats) {
  size_t width = 5;
  for (const auto& st : stats) width = std::max(width, st->SourceName().size());
  width = std::min<size_t>(width, 60);
  std::string out = fmt::format("{:<{}}  {:<16} {:>12} {:>9} {:>10} {:>8}\n", "Table", width,
                                "State", "Rows", "Seconds", "Rows/s", "Warnings");
  int64_t total_rows = 0;
  size_t completed = 0;
  std::string errors;
  for (const auto& st_ptr : stats) {
    TableStats& st = *st_ptr;
    MutexLock lock(st.mu);
    const int64_t rows = st.full_load_rows.load();
    const double secs = Seconds(st);
    int64_t warnings = 0;
    for (const auto& [_, n] : st.warnings) warnings += n;
    total_rows += rows;
    if (st.state == kStateCompleted) ++completed;
    out += fmt::format("{:<{}}  {:<16} {:>12} {:>9.2f} {:>10} {:>8}\n", st.SourceName(), width,
                       st.state, rows, secs, secs > 0 ? HumanCount(rows / secs) : "-", warnings);
    for (const auto& [what, n] : st.warnings) {
      errors += fmt::format("  warning: {}: {} ({} rows)\n", st.SourceName(), what, n);
    }
    if (!st.error.empty()) errors += fmt::format("  error: {}: {}\n", st.SourceName(), st.error);
    if (!st.validation_state.empty()) {
      errors += fmt::format("  validation: {}: {} (source rows {}, target rows {}, failed {}, "
                            "pending {}, suspended {}){}{}\n",
                            st.SourceName(), st.validation_state, st.validation_source_rows,
                            st.validation_target_rows, st.validation_failed_records,
                            st.validation_pending_records, st.validation_suspended_records,
                            st.validation_message.empty() ? "" : ": ", st.validation_message);
    }
  }
  out += fmt::format("{} of {} tables completed, {} rows\n", completed, stats.size(), total_rows);
  // Change processing, when the task had any: DMS's per-table CDC counters.
  bool cdc = false;
  for (const auto& st : stats) {
    cdc |= st->cdc_inserts + st->cdc_updates + st->cdc_deletes + st->cdc_ddls > 0;
  }
  if (cdc) {
    out += fmt::format("\n{:<{}}  {:>9} {:>9} {:>9} {:>6} {:>9} {:>9} {:>9} {:>7}\n", "Changes",
                       width, "Inserts", "Updates", "Deletes", "Ddls", "Applied I", "Applied U",
                       "Applied D", "Errors");
    for (const auto& st : stats) {
      out += fmt::format("{:<{}}  {:>9} {:>9} {:>9} {:>6} {:>9} {:>9} {:>9} {:>7}\n",
                         st->SourceName(), width, st->cdc_inserts.load(), st->cdc_updates.load(),
                         st->cdc_deletes.load(), st->cdc_ddls.load(), st->applied_inserts.load(),
                         st->applied_updates.load(), st->applied_deletes.load(),
                         st->cdc_apply_errors.load());
    }
  }
  return out + errors;
}

nlohmann::json SummaryJson(const std::vector<std::unique_ptr<TableStats>>& stats) {
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& st_ptr : stats) {
    TableStats& st = *st_ptr;
    MutexLock lock(st.mu);
    nlohmann::json t = {
        {"SchemaName", st.source_schema},
        {"TableName", st.source_table},
        {"TargetSchemaName", st.target_schema},
        {"TargetTableName", st.target_table},
        {"Inserts", st.cdc_inserts.load()},
        {"Deletes", st.cdc_deletes.load()},
        {"Updates", st.cdc_updates.load()},
        {"Ddls", st.cdc_ddls.load()},
        {"AppliedInserts", st.applied_inserts.load()},
        {"AppliedDeletes", st.applied_deletes.load()},
        {"AppliedUpdates", st.applied_updates.load()},
        {"AppliedDdls", st.applied_ddls.load()},
        {"FullLoadRows", st.full_load_rows.load()},
        {"FullLoadErrorRows", st.full_load_error_rows.load()},
        {"FullLoadCondtnlChkFailedRows", 0},
        {"FullLoadReloaded", false},
        {"FullLoadStartTime", IsoTime(st.start_time)},
        {"FullLoadEndTime", IsoTime(st.end_time)},
        {"TableState", st.state},
        {"ValidationState", st.validation_state.empty() ? "Not enabled" : st.validation_state},
        {"ValidationPendingRecords", st.validation_pending_records},
        {"ValidationFailedRecords", st.validation_failed_records},
        {"ValidationSuspendedRecords", st.validation_suspended_records},
    };
    if (!st.validation_state.empty() && !st.validation_message.empty()) {
      t["ValidationMessage"] = st.validation_message;
    }
    nlohmann::json warnings = nlohmann::json::object();
    for (const auto& [what, n] : st.warnings) warnings[what] = n;
    if (!st.warnings.empty()) t["Warnings"] = warnings;
    if (!st.error.empty()) t["Error"] = st.error;
    tables.push_back(std::move(t));
  }
  return {{"TableStatistics", tables}};
}

}  // namespace ferry
