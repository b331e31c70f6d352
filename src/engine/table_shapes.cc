#include "engine/table_shapes.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "catalog/table_def_json.h"
#include "cdc/ddl_sync.h"
#include "common/error.h"
#include "logging/log.h"

namespace ferry {

namespace {

spdlog::logger& Log() { return logging::For(LogComponentId::kTaskManager); }

std::vector<std::string> ColumnNames(const TableDef& def) {
  std::vector<std::string> names;
  for (const ColumnDef& c : def.columns) {
    std::string n = c.name;
    // Column names compare case-insensitively (MySQL's are; a PostgreSQL or SQLite target's
    // columns come from one plan, so case never tells two of them apart).
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char ch) {
      return static_cast<char>(std::tolower(ch));
    });
    names.push_back(std::move(n));
  }
  return names;
}

}  // namespace

int64_t StoreShapeJournal::Record(size_t table, const TableDef& def, Kind kind,
                                  const cdc::Position& txn_end) {
  TableShapeRecord r;
  r.table_index = static_cast<int>(table);
  r.kind = kind == Kind::kRebind ? "rebind" : kind == Kind::kDdl ? "ddl" : "txn";
  r.pending = kind != Kind::kRebind;
  r.position = positions_.Format(kind == Kind::kInTransaction ? txn_end : position_());
  r.definition = TableDefToJson(def);
  return store_.AppendShape(task_, r);
}

void StoreShapeJournal::Confirm(size_t table, int64_t seq) {
  store_.ConfirmShape(task_, static_cast<int>(table), seq);
}

void StoreShapeJournal::Discard(size_t table, int64_t seq) {
  store_.DeleteShape(task_, static_cast<int>(table), seq);
}

std::vector<ShapeHistory> ReadShapeHistories(TaskStore& store, const std::string& task,
                                             size_t tables) {
  std::vector<ShapeHistory> out(tables);
  for (TableShapeRecord& r : store.GetShapes(task)) {
    if (r.table_index < 0 || static_cast<size_t>(r.table_index) >= tables) continue;
    ShapeHistory& h = out[static_cast<size_t>(r.table_index)];
    h.defs.push_back(TableDefFromJson(
        r.definition, fmt::format("task store '{}': task '{}' table {} shape {}",
                                  store.path().string(), task, r.table_index, r.seq)));
    h.entries.push_back(std::move(r));
  }
  return out;
}

RestoredTable ReplayShapeHistory(const TablePlan& initial_plan, const ShapeHistory& history,
                                 SqlConnector& target, bool handle_altered,
                                 const ShapeSettlement& settle) {
  RestoredTable out;
  out.plan = initial_plan;
  out.captured = history.defs.front();
  for (size_t k = 1; k < history.defs.size(); ++k) {
    const TableShapeRecord& e = history.entries[k];
    const TableDef& def = history.defs[k];
    if (e.kind != "ddl" && e.kind != "txn") {
      out.captured = def;
      continue;
    }
    if (e.kind == "txn" && e.pending) {
      // Altered inside the target transaction of the source transaction ending at
      // e.position: committed with that transaction's checkpoint, or not at all.
      const std::optional<cdc::Position> end = settle.positions->Parse(e.position);
      if (!end || *end > settle.checkpoint()) {
        // Rolled back: the stream restarts before that transaction and brings the change again.
        Log().info("table {}: the task stopped inside a source transaction that altered it "
                   "(ending at {}); that transaction is applied again",
                   out.plan.target.QualifiedName(), e.position);
        settle.discard(e.seq);
        continue;
      }
      settle.confirm(e.seq);
    }
    cdc::TableChangePlan next = cdc::PlanTableChange(out.plan, out.captured, def, target,
                                                     out.captured.engine, handle_altered);
    if (e.pending && e.kind == "ddl") {
      // The task stopped between recording this change and confirming the target's ALTER.
      const std::vector<std::string> before = ColumnNames(out.plan.target);
      const std::vector<std::string> after = ColumnNames(next.new_plan.target);
      std::vector<std::string> have;
      bool exists = true;
      try {
        have = ColumnNames(
            target.OpenCatalog()->GetTable(out.plan.target.schema, out.plan.target.name));
      } catch (const Error& err) {
        if (err.kind() != ErrorKind::kNotFound) throw;
        exists = false;
      }
      const std::string table = out.plan.target.QualifiedName();
      if (!exists) {
        out.suspend_reason = fmt::format(
            "the target table {} is gone; the task stopped while altering it to follow the "
            "source table {}",
            table, out.plan.source.QualifiedName());
        return out;
      }
      if (have == after && have != before) {
        Log().info("table {}: the target's ALTER for the source table's last change had run "
                   "before the task stopped",
                   table);
      } else if (have == before && !next.statements.empty()) {
        // Not run yet (or, when only types changed, run or not: these statements give the same
        // table either way).
        std::unique_ptr<SqlSession> session = target.OpenSession();
        const bool atomic = target.dialect().TransactionalDdl() && next.statements.size() > 1;
        if (atomic) session->Execute("BEGIN");
        for (const std::string& sql : next.statements) {
          Log().info("table {}: completing the source table's change the task stopped in, "
                     "running on the target: {}",
                     table, sql);
          session->Execute(sql);
        }
        if (atomic) session->Execute("COMMIT");
      } else if (have != before) {
        out.suspend_reason = fmt::format(
            "the task stopped while altering the target table {} to follow the source table "
            "{}: the target has columns ({}), neither the ones before the change ({}) nor "
            "after it ({}); reload the table (run the task again without --resume)",
            table, out.plan.source.QualifiedName(), fmt::join(have, ", "),
            fmt::join(before, ", "), fmt::join(after, ", "));
        return out;
      }
      settle.confirm(e.seq);
    }
    out.plan = std::move(next.new_plan);
    out.captured = def;
  }
  return out;
}

}  // namespace ferry
