#include "replication/replication_task.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "control/control_tables.h"
#include "logging/log.h"
#include "validation/validator.h"

namespace ferry {

namespace {

spdlog::logger& Log() { return logging::For(LogComponentId::kTaskManager); }

// Sets the fields FullLoadTaskOptions and CdcTaskOptions both take from the task's definition
// as they are: the task's name, its data directory, resume, the full load's options, and what
// the task store keeps for `ferry status`.
template <typename TaskOptions>
void SetSharedOptions(const ReplicationTaskDefinition& definition, TaskOptions& o) {
  o.task = definition.name;
  o.data_dir = definition.data_dir;
  o.resume = definition.resume;
  o.full_load = definition.full_load;
  o.source_uri = definition.source_uri;
  o.target_uri = definition.target_uri;
  o.table_mappings_json = definition.table_mappings_json;
  o.task_settings_json = definition.task_settings_json;
}

}  // namespace

int ReplicationTaskOutcome::ExitCode() const {
  const bool ok = stop_reason.empty() && all_tables_completed && tables_not_applied.empty() &&
                  !schema_objects.AnyFailed() && !validation_failed && rows_differing == 0;
  return ok ? 0 : 1;
}

ReplicationTask::ReplicationTask(SqlConnector& source, Connector& target,
                                 std::vector<TablePlan> plans, ReplicationTaskDefinition definition)
    : source_(source),
      target_(target),
      plans_(std::move(plans)),
      definition_(std::move(definition)) {}

ReplicationTask::~ReplicationTask() = default;

const std::vector<std::unique_ptr<TableStats>>& ReplicationTask::stats() const {
  return cdc_ ? cdc_->stats() : full_load_->stats();
}

std::string ReplicationTask::StatusLine() const { return cdc_ ? cdc_->StatusLine() : ""; }

ReplicationTaskOutcome ReplicationTask::Run(const std::stop_token& stop,
                                            const std::function<void()>& on_running) {
  return changes() ? RunCdc(stop, on_running) : RunFullLoad(stop, on_running);
}

ReplicationTaskOutcome ReplicationTask::RunFullLoad(const std::stop_token& stop,
                                                    const std::function<void()>& on_running) {
  FullLoadTaskOptions o;
  SetSharedOptions(definition_, o);
  if (definition_.settings) {
    // Segment marks go next to the other control tables.
    o.full_load.control_schema = definition_.settings->control_tables_settings.control_schema;
  }
  const std::vector<TablePlan> planned = plans_;  // the task takes its own
  full_load_ = std::make_unique<FullLoadTask>(source_, target_, plans_, std::move(o));
  std::stop_callback on_stop(stop, [this] {
    Log().warn(
        "stopping: starting no new table; each table in progress is rolled back to how "
        "it was before its load (its summary line says if any rows stay); run again "
        "with --resume to load what is left");
    full_load_->Stop();
  });
  full_load_->Run(on_running);
  FullLoad& load = full_load_->load();

  ReplicationTaskOutcome outcome;
  // Ferry extension: indexes, foreign keys and defaults after the load. A statement the target
  // refuses (or an object whose table did not complete) fails the task; objects that cannot be
  // converted between the engines are only reported.
  const schema::SchemaObjectOptions& objects = definition_.schema_objects;
  outcome.schema_objects.options = objects;
  if (objects.Any() && !load.cancelled()) {
    outcome.schema_objects = schema::CreateSchemaObjects(
        RequireSql(target_, "creating indexes, foreign keys or defaults"), planned,
        source_.engine(), objects, load.stats());
  }
  // DMS control tables (with task settings only: a plain migration leaves the target holding
  // nothing but the data) and validation (ValidationSettings.EnableValidation).
  if (definition_.settings && !load.cancelled()) {
    RecordControlTables(load);
    if (definition_.settings->validation_settings.enable_validation) {
      std::unique_ptr<ControlTables> control = OpenControlTables(
          target_, definition_.settings->control_tables_settings, definition_.name);
      Validator validator(source_,
                          RequireSql(target_, "validation (ValidationSettings.EnableValidation)"),
                          definition_.settings->validation_settings, control.get());
      std::vector<TableStats*> stats;
      for (const auto& st : load.stats()) stats.push_back(st.get());
      for (const TableValidation& v : validator.Run(planned, stats)) {
        if (v.state != kValidationValidated) outcome.validation_failed = true;
      }
    }
  }
  outcome.stop_reason = load.stop_reason();
  outcome.all_tables_completed = load.AllCompleted();
  if (!outcome.stop_reason.empty()) Log().error("task stopped: {}", outcome.stop_reason);
  return outcome;
}

void ReplicationTask::RecordControlTables(const FullLoad& load) {
  const TaskSettings& settings = *definition_.settings;
  try {
    std::unique_ptr<ControlTables> tables =
        OpenControlTables(target_, settings.control_tables_settings, definition_.name);
    if (!tables) return;
    ControlTables& control = *tables;
    control.EnsureEnabled();
    const ControlTablesSettings& c = settings.control_tables_settings;
    if (c.status_table_enabled) {
      TaskStatusRow status;
      status.task_status = "FULL LOAD";
      control.UpdateStatus(status);
    }
    int64_t rows = 0, bytes = 0;
    for (const auto& st : load.stats()) {
      rows += st->full_load_rows.load();
      bytes += st->bytes_read.load();
      MutexLock lock(st->mu);
      if (c.suspended_tables_table_enabled && st->state == kStateError) {
        control.RecordSuspendedTable(st->target_schema, st->target_table, st->error);
      }
    }
    if (c.history_table_enabled) {
      HistoryRow history;
      history.timeslot_type = "FULL LOAD";
      history.timeslot = WallClock::now();
      history.timeslot_duration = c.history_timeslot_in_minutes;
      history.timeslot_records = rows;
      history.timeslot_volume = bytes >> 20;
      control.RecordHistory(history);
    }
    Log().debug("control tables updated for {} table(s)", load.stats().size());
  } catch (const Error& e) {
    // The data is loaded; failing to write the bookkeeping must not hide that.
    Log().error("control tables in {}: {}", target_.uri().Describe(), e.what());
  }
}

ReplicationTaskOutcome ReplicationTask::RunCdc(const std::stop_token& stop,
                                               const std::function<void()>& on_running) {
  CdcTaskOptions o;
  SetSharedOptions(definition_, o);
  o.type = definition_.type;
  o.start_position = definition_.cdc_start_position;
  o.stop_position = definition_.cdc_stop_position;
  if (definition_.settings) {
    o.settings = *definition_.settings;
  } else {
    // Without task settings, DMS's defaults; a bad value during the load still fails its
    // table, as in a plain full load.
    o.settings.error_behavior.data_error_policy = ErrorPolicy::kSuspendTable;
    o.settings.error_behavior.data_truncation_error_policy = ErrorPolicy::kSuspendTable;
  }
  o.full_load.error_behavior = o.settings.error_behavior;
  o.slot = definition_.slot;
  o.publication = definition_.publication;
  o.heartbeat = definition_.heartbeat;
  o.replan = definition_.replan;
  if (o.settings.validation_settings.validation_only) {
    o.validation_only = true;
    o.settings.validation_settings.enable_validation = true;
    Log().info(
        "ValidationOnly: validating the source's changes on the target, applying "
        "nothing");
  }
  Log().info("task '{}' ({}): {} table(s) from {} to {}, state in {}", o.task,
             MigrationTypeName(o.type), plans_.size(), source_.uri().Describe(),
             target_.uri().Describe(), o.data_dir.string());
  cdc_ = std::make_unique<CdcTask>(source_, target_, plans_, o);
  cdc_->on_running = on_running;
  std::stop_callback on_stop(stop, [this] {
    Log().warn(
        "stopping: committing what is applied, then exiting (run again with --resume "
        "to continue)");
    cdc_->Stop();
  });
  cdc_->Run();

  ReplicationTaskOutcome outcome;
  if (cdc_->failed()) {
    outcome.stop_reason = cdc_->stop_reason();
    Log().error("task '{}' stopped: {}", o.task, outcome.stop_reason);
    return outcome;
  }
  // Validation: rows that differ are not a normal end either (as with a full load); a table
  // that is no longer applied (suspended, or its load failed) neither.
  for (const auto& st : cdc_->stats()) {
    MutexLock lock(st->mu);
    outcome.rows_differing += st->validation_failed_records;
    if (st->state == "Suspended" || st->state == kStateError) {
      outcome.tables_not_applied.push_back(
          fmt::format("{} ({}): {}", st->SourceName(), st->state, st->error));
    }
  }
  if (outcome.rows_differing > 0) {
    Log().error("task '{}': validation found {} row(s) that differ (see {})", o.task,
                outcome.rows_differing, kValidationFailuresTable);
  }
  if (!outcome.tables_not_applied.empty()) {
    Log().error("task '{}': {} table(s) not applied: {}", o.task, outcome.tables_not_applied.size(),
                fmt::join(outcome.tables_not_applied, "; "));
  }
  return outcome;
}

}  // namespace ferry
