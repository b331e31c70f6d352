// A CDC task's table shape history (task_store.h TableShapeRecord): written as the change apply
// sees source tables change, replayed when the task resumes.
//
// Why: a resumed task restarts the stream at its checkpoint, where a table may still have the
// columns it had before ALTERs the source ran since (while the task was stopped, or between the
// checkpoint and a crash). The source catalog only says how the table is now. The history says
// how the task saw it: its shape when the task started, then each change in order, so the
// resumed task plans and decodes each table exactly as it was at the checkpoint, and the ALTERs
// after it reach the target again in order, between the changes they separate.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "catalog/table_def.h"
#include "cdc/apply_stage.h"
#include "connectors/connector.h"
#include "task/task_store.h"
#include "task_model/plan.h"

namespace ferry {

// Records shape changes in the task store (cdc::ShapeJournal). `position` says the task's
// checkpoint for the record (diagnostics only); `positions` spells positions (the source's).
class StoreShapeJournal : public cdc::ShapeJournal {
 public:
  StoreShapeJournal(TaskStore& store, std::string task, const cdc::PositionCodec& positions,
                    std::function<cdc::Position()> position)
      : store_(store),
        task_(std::move(task)),
        positions_(positions),
        position_(std::move(position)) {}
  int64_t Record(size_t table, const TableDef& def, Kind kind,
                 const cdc::Position& txn_end) override;
  void Confirm(size_t table, int64_t seq) override;
  void Discard(size_t table, int64_t seq) override;

 private:
  TaskStore& store_;
  std::string task_;
  const cdc::PositionCodec& positions_;
  std::function<cdc::Position()> position_;
};

// One table's shape history, read back: the definitions in order (entries[0] the "initial").
struct ShapeHistory {
  std::vector<TableShapeRecord> entries;
  std::vector<TableDef> defs;  // parsed entries[i].definition
};

// The histories of `task`'s tables, by table index (empty for a table without one, e.g. a task
// written by an older Ferry). Throws Error(kInvalidArgument) on a definition Ferry cannot read.
std::vector<ShapeHistory> ReadShapeHistories(TaskStore& store, const std::string& task,
                                             size_t tables);

// A live table at the task's checkpoint.
struct RestoredTable {
  TablePlan plan;     // the plan its changes are applied with
  TableDef captured;  // the source table as the stream encodes it at the checkpoint
  // Not empty: the table cannot continue (why, for the log and the table's state).
  std::string suspend_reason;
};

// How ReplayShapeHistory settles the pending entries it meets.
struct ShapeSettlement {
  std::function<cdc::Position()> checkpoint;      // the task's checkpoint on the target
  const cdc::PositionCodec* positions = nullptr;  // the source's, to read entries' positions
  std::function<void(int64_t seq)> confirm;  // entry `seq` is settled: its ALTER ran
  std::function<void(int64_t seq)> discard;  // entry `seq` is void (its transaction rolled back)
};

// Replays `history` from `initial_plan` (the table's plan made from history.defs[0]): each
// "ddl" and "txn" entry through cdc::PlanTableChange, as the apply did. A pending last "ddl"
// entry (the task stopped between recording it and confirming its ALTER) is settled against
// the target table: its columns as after the ALTER = it ran; as before = its statements run
// now; anything else = suspended (the ALTER ran in part). A pending "txn" entry ran when the
// checkpoint reached its transaction's end (confirmed), and else rolled back with it
// (discarded: the stream brings it again). Throws Error for a target that cannot be read or
// altered (connection errors included).
RestoredTable ReplayShapeHistory(const TablePlan& initial_plan, const ShapeHistory& history,
                                 SqlConnector& target, bool handle_altered,
                                 const ShapeSettlement& settle);

}  // namespace ferry
