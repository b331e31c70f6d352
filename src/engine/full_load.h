// The full-load phase: every planned table is read from the source and bulk-loaded into the
// target, several tables at once. Per table, one reader thread fills batches and hands them
// over a bounded queue to the writer, so memory stays flat whatever the table size.
//
// A table that fails (a value the target cannot hold, a lost connection) ends in
// "Table error" with a message naming table, column, row key and value; the other tables go on.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "engine/plan.h"
#include "engine/table_stats.h"

namespace ferry {

struct FullLoadOptions {
  TablePrepMode prep_mode = TablePrepMode::kDoNothing;
  int parallel = 0;           // tables loaded at once; 0 = one per core, at least 2, at most 8
  size_t queue_batches = 4;   // batches in flight per table between reader and writer
  ScanOptions scan;
  size_t max_warnings_logged = 10;  // per table, then only counted
};

// Default for FullLoadOptions::parallel on this machine.
int DefaultParallelism();

class FullLoad {
 public:
  // `source` and `target` must outlive this object.
  FullLoad(Connector& source, Connector& target, std::vector<TablePlan> plans,
           FullLoadOptions options);

  // Loads every table; blocks until all are done or cancelled. Never throws for a table's
  // failure (see stats()); throws only for failures that stop everything.
  void Run();
  // Asks the running load to stop soon: tables not started stay "Before load", running ones end
  // "Table cancelled". Safe from any thread.
  void Cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

  // One entry per planned table, in plan order; live while Run() executes.
  const std::vector<std::unique_ptr<TableStats>>& stats() const { return stats_; }
  // True when every table ended "Table completed".
  bool AllCompleted() const;

 private:
  void Worker();
  void LoadTable(size_t index, std::unique_ptr<TableReader>& reader,
                 std::unique_ptr<TableWriter>& writer);
  void EnsureSchemaOnce(TableWriter& writer, const std::string& schema);

  Connector& source_;
  Connector& target_;
  std::vector<TablePlan> plans_;
  FullLoadOptions options_;
  std::vector<std::unique_ptr<TableStats>> stats_;
  std::atomic<size_t> next_{0};
  std::vector<size_t> order_;  // plan indexes, largest table first
  std::atomic<bool> cancelled_{false};
  std::mutex schema_mu_;
  std::set<std::string> schemas_done_;  // GUARDED_BY(schema_mu_)
};

}  // namespace ferry
