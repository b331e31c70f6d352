#include "cli/migrate_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <stop_token>
#include <thread>

#include "change/change.h"
#include "change/change_applier.h"
#include "change/change_capture.h"
#include "cli/task_plan.h"
#include "cli/validate_command.h"
#include "connectors/connector.h"
#include "endpoint/endpoint_uri.h"
#include "engine/full_load.h"
#include "engine/lob_policy.h"
#include "engine/progress.h"
#include "engine/report.h"
#include "engine/segmenting.h"
#include "logging/log.h"
#include "mapping/mapping_apply.h"
#include "mapping/table_mappings.h"
#include "replication/replication_task.h"
#include "schema/post_load.h"
#include "settings/task_settings.h"
#include "task/data_dir.h"
#include "task/task_store.h"
#include "task_model/plan.h"
#include "types/value_codec.h"

namespace ferry {
namespace {

std::atomic<int> g_signals{0};
extern "C" void OnSignal(int) { g_signals.fetch_add(1); }


TablePrepMode ParsePrepMode(const std::string& s) {
  if (s == "DO_NOTHING" || s == "do_nothing") return TablePrepMode::kDoNothing;
  if (s == "DROP_AND_CREATE" || s == "drop_and_create") return TablePrepMode::kDropAndCreate;
  if (s == "TRUNCATE_BEFORE_LOAD" || s == "truncate_before_load") {
    return TablePrepMode::kTruncateBeforeLoad;
  }
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("--target-table-prep-mode '{}': expected DO_NOTHING, DROP_AND_CREATE or "
                          "TRUNCATE_BEFORE_LOAD",
                          s));
}

TablePrepMode FromSettings(TargetTablePrepMode m) {
  switch (m) {
    case TargetTablePrepMode::kDoNothing: return TablePrepMode::kDoNothing;
    case TargetTablePrepMode::kDropAndCreate: return TablePrepMode::kDropAndCreate;
    case TargetTablePrepMode::kTruncateBeforeLoad: return TablePrepMode::kTruncateBeforeLoad;
  }
  return TablePrepMode::kDoNothing;
}

// LOBs per DMS settings: without task settings every LOB travels whole (Ferry's default);
// with them, SupportLobs / FullLobMode / LimitedSizeLobMode + LobMaxSize and the table's
// lob-settings decide, as in DMS (the DMS defaults cut LOBs at 32 KB, with a counted warning).
void ApplyLobSettings(const std::optional<TaskSettings>& settings,
                      const std::optional<LobSettings>& table, TablePlan* plan) {
  const LobLimit limit =
      settings ? TableLobLimit(settings->target_metadata, table) : WholeLobs();
  std::vector<std::string> dropped;
  std::vector<std::string> kept = ApplyLobLimit(plan, limit, &dropped);
  if (!dropped.empty()) {
    spdlog::info("table {}: LOB columns not migrated ({}): {}", plan->source.QualifiedName(),
                 limit.reason, fmt::join(dropped, ", "));
  }
  if (!kept.empty()) {
    spdlog::warn("table {}: LOB columns {} are part of a key and are migrated despite {}",
                 plan->source.QualifiedName(), fmt::join(kept, ", "), limit.reason);
  }
  if (plan->transform && plan->transform->lob_max_bytes > 0) {
    spdlog::info("table {}: LOBs longer than {} bytes are truncated ({})",
                 plan->source.QualifiedName(), plan->transform->lob_max_bytes, limit.reason);
  }
}

// Parses a source position flag in the source engine's own form (its connector's codec);
// nullopt for "". A source URI that does not parse is left to the connection's own message.
std::optional<cdc::Position> PositionFlag(const std::string& flag, const std::string& text,
                                          const std::string& source_uri) {
  if (text.empty()) return std::nullopt;
  Result<EndpointUri> uri = ParseEndpointUri(source_uri);
  if (!uri.ok()) return std::nullopt;
  const cdc::PositionCodec* codec = OpenConnector(*uri)->positions();
  if (!codec) {
    throw Error(ErrorKind::kUnsupported,
                fmt::format("{}: change data capture from {} is not supported yet", flag,
                            EngineName(uri->engine)));
  }
  std::optional<cdc::Position> position = codec->Parse(text);
  if (!position) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{} '{}': expected {}", flag, text, codec->Describe()));
  }
  return position;
}

// --cdc-start-time as microseconds since 1970 UTC: seconds since 1970 (as the DMS API sends
// CdcStartTime) or a date and time, UTC unless it carries a zone; nullopt for "".
std::optional<int64_t> CdcStartTime(const std::string& text) {
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789") == std::string::npos && text.size() <= 12) {
    return std::stoll(text) * 1'000'000;
  }
  if (const std::optional<int64_t> micros = ParseDatetime(text)) return micros;
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("--cdc-start-time '{}': expected a date and time such as "
                          "2026-12-07T10:00:00Z (UTC unless it has a zone offset) or seconds "
                          "since 1970",
                          text));
}

// Runs the task in the foreground: Ctrl-C (SIGINT) or SIGTERM stops it cleanly (a full load
// rolls back the tables in progress, CDC commits what it applied); --resume continues it.
// Prints the summary; returns the exit code.
int RunTask(const MigrateArgs& args, SqlConnector& source, Connector& target,
            std::vector<TablePlan> plans, ReplicationTaskDefinition definition,
            const std::vector<std::string>& views_left_out) {
  ReplicationTask task(source, target, std::move(plans), std::move(definition));
  std::stop_source stop;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    while (!finished) {
      if (g_signals.load() > 0 && !stop.stop_requested()) stop.request_stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  // The live display (a terminal) or a log line per interval: full-load progress, then for CDC
  // the change-processing line and each table's DMS change counters.
  std::unique_ptr<ProgressDisplay> progress;
  auto on_running = [&] {
    if (args.no_progress) return;
    progress = std::make_unique<ProgressDisplay>(task.stats(), isatty(STDERR_FILENO) != 0);
    if (task.changes()) progress->SetChangeStatus([&task] { return task.StatusLine(); });
    progress->Start();
  };
  ReplicationTaskOutcome outcome;
  try {
    outcome = task.Run(stop.get_token(), on_running);
  } catch (...) {
    if (progress) progress->Stop();
    finished = true;
    watcher.join();
    throw;
  }
  if (progress) progress->Stop();
  finished = true;
  watcher.join();

  const auto& stats = task.stats();
  const bool objects = outcome.schema_objects.options.Any();
  if (args.json) {
    nlohmann::json summary = SummaryJson(stats);
    if (objects) summary["schemaObjects"] = outcome.schema_objects.ToJson();
    if (!views_left_out.empty()) summary["ViewsNotLoaded"] = views_left_out;
    std::cout << summary.dump(2) << std::endl;
  } else {
    std::cout << FormatSummary(stats) << outcome.schema_objects.FormatText() << std::flush;
    if (!views_left_out.empty()) {
      std::cout << fmt::format("Views not loaded (change data capture does not follow views; "
                               "load them with --migration-type full-load): {}\n",
                               fmt::join(views_left_out, ", "))
                << std::flush;
    }
    if (!outcome.stop_reason.empty()) {
      std::cout << "Task stopped: " << outcome.stop_reason << std::endl;
    } else {
      if (outcome.rows_differing > 0) {
        std::cout << fmt::format("Validation: {} row(s) differ between source and target\n",
                                 outcome.rows_differing);
      }
      if (!outcome.tables_not_applied.empty()) {
        std::cout << fmt::format(
            "{} table(s) are not applied (reload them: ferry "
            "reload-tables, or run the task again without --resume)\n",
            outcome.tables_not_applied.size());
      }
    }
  }
  return outcome.ExitCode();
}

}  // namespace

CLI::App* AddMigrateCommand(CLI::App& app, MigrateArgs* m) {
  CLI::App* migrate = app.add_subcommand("migrate", "Copy tables, schema and data, source to target");
  migrate->add_option("--source", m->source, "Source URI: postgresql://, mysql://, mariadb://, sqlite:///path")->required();
  migrate->add_option("--target", m->target, "Target URI")->required();
  migrate->add_option("--source-password-file", m->source_password_file, "File whose first line is the source password (instead of the URI, where ps shows it; PGPASSWORD, ~/.pgpass and MYSQL_PWD work too)");
  migrate->add_option("--target-password-file", m->target_password_file, "File whose first line is the target password");
  migrate->add_option("--tables", m->tables, "Tables to copy: name or schema.name, '*' and '%' wildcards, comma-separated (default: all)");
  migrate->add_option("--schema", m->schema, "Source schema (PostgreSQL) or database (MySQL) to read (default: all user schemas / the URI's database)");
  m->target_schema_opt = migrate->add_option("--target-schema", m->target_schema, "Target schema (overrides the URI's schema= and the default)");
  m->prep_mode_opt = migrate->add_option("--target-table-prep-mode", m->prep_mode, "DO_NOTHING (create missing tables), DROP_AND_CREATE or TRUNCATE_BEFORE_LOAD")->capture_default_str();
  m->parallel_opt = migrate->add_option("--parallel", m->parallel, "Tables loaded at once (default: one per core, 2..8; MaxFullLoadSubTasks with --task-settings)");
  migrate->add_option("--auto-segments", m->auto_segments, "Readers per big table without a parallel-load rule (>= 1M rows or >= 256 MB; PostgreSQL ctid ranges, else integer primary key ranges, in one snapshot); 0 = off (default: MySQL/MariaDB sources one per core, at most 4; PostgreSQL and SQLite sources off)")->check(CLI::Range(0, 64));
  migrate->add_option("--auto-segment-min-rows", m->auto_segment_min_rows, "Row estimate from which --auto-segments splits a table (default 1000000; a table of 256 MB or more splits too)")->check(CLI::PositiveNumber);
  migrate->add_option("--table-mappings", m->table_mappings, "AWS DMS table mappings JSON file: selection rules (wildcards, filters, load-order) and transformation rules (rename, case, prefixes/suffixes, remove-column, add-column expressions, change-data-type, define-primary-key) and table-settings (parallel-load, lob-settings)");
  migrate->add_option("--task-settings", m->task_settings, "AWS DMS task settings JSON file (TargetMetadata, FullLoadSettings, ErrorBehavior, ControlTablesSettings, ValidationSettings, Logging, the change-processing settings and the FerrySettings extension; the user guide lists what is honoured and what is accepted but not acted on; flags given here win)");
  m->batch_rows_opt = migrate->add_option("--batch-rows", m->batch_rows, "Rows per batch between reader and writer")->capture_default_str();
  migrate->add_flag("--create-indexes", m->create_indexes, "Ferry extension: also create the source's secondary indexes after the load (converted per engine; a report lists what could not be)");
  migrate->add_flag("--create-foreign-keys", m->create_foreign_keys, "Ferry extension: also create foreign keys between migrated tables after the load");
  migrate->add_flag("--create-defaults", m->create_defaults, "Ferry extension: also create column defaults (literals, CURRENT_TIMESTAMP and the like; sequences are reported)");
  migrate->add_flag("--create-schema-objects", m->create_schema_objects, "Ferry extension: --create-indexes --create-foreign-keys --create-defaults at once");
  migrate->add_flag("--json", m->json, "Print the table statistics as JSON");
  migrate->add_flag("--no-progress", m->no_progress, "No live progress display or progress log lines");

  migrate
      ->add_option("--migration-type", m->migration_type,
                   "full-load (default), cdc (replicate changes only) or full-load-and-cdc (copy, "
                   "then keep the target in step; PostgreSQL and MySQL/MariaDB sources)")
      ->check(CLI::IsMember({"full-load", "cdc", "full-load-and-cdc"}));
  migrate->add_option("--data-dir", m->data_dir, "Where tasks keep their state (task store ferry.db, spill files, cached changes); default $FERRY_DATA_DIR, else $XDG_STATE_HOME/ferry, else ~/.local/state/ferry");
  migrate->add_option("--task-name", m->task_name, "Task identifier (letters, digits, hyphens): names the task in the store, the replication slot and publication (ferry_<name>) and TASK_NAME in the control tables")->capture_default_str();
  migrate->add_flag("--resume", m->resume, "Continue the task named --task-name from its checkpoint (DMS resume-processing) instead of starting over");
  migrate->add_option(
      "--cdc-start-position", m->cdc_start_position,
      "cdc only: apply changes committed after this source position, in the source's own form "
      "(PostgreSQL: an LSN such as 0/16B3748; MySQL/MariaDB: binlog file:offset such as "
      "mysql-bin.000024:373); default: from when the task starts");
  migrate->add_option(
      "--cdc-start-time", m->cdc_start_time,
      "cdc only: apply changes committed at or after this time (DMS CdcStartTime): "
      "2026-12-07T10:00:00Z, a time with a zone offset, or seconds since 1970 (UTC); where the "
      "source can map a time to a position");
  migrate->add_option(
      "--cdc-stop-position", m->cdc_stop_position,
      "Stop once every change up to this source position (in the source's own form, as "
      "--cdc-start-position) is applied (DMS CdcStopPosition); default: run until Ctrl-C");
  migrate->add_option("--slot-name", m->slot_name, "PostgreSQL replication slot (default ferry_<task-name>)");
  migrate->add_option("--publication", m->publication, "PostgreSQL publication to use (default: Ferry creates ferry_<task-name> for the selected tables)");
  migrate->add_option("--heartbeat", m->heartbeat_seconds, "Seconds between heartbeats that keep the slot moving while the selected tables are idle (0 = off)")->capture_default_str();
  return migrate;
}

int RunMigrate(MigrateArgs args) {
  // Settings first, so a bad file stops everything before any connection is made. Command-line
  // flags given explicitly win over the file.
  if (args.create_schema_objects) {
    args.create_indexes = args.create_foreign_keys = args.create_defaults = true;
  }
  auto given = [](const CLI::Option* o) { return o != nullptr && o->count() > 0; };
  const std::optional<MigrationType> type = ParseMigrationType(args.migration_type);
  if (!type) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--migration-type '{}': expected full-load, cdc or full-load-and-cdc",
                            args.migration_type));
  }
  if (*type != MigrationType::kFullLoad) {
    if (const std::string why = CheckTaskName(args.task_name); !why.empty()) {
      throw Error(ErrorKind::kInvalidArgument, "--task-name: " + why);
    }
  }
  // Numbers in range, before anything connects.
  if (given(args.parallel_opt) && (args.parallel < 1 || args.parallel > 256)) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--parallel {}: expected the number of tables loaded at once, "
                            "1 to 256 (leave it out for one per core)",
                            args.parallel));
  }
  if (given(args.batch_rows_opt) && (args.batch_rows < 1 || args.batch_rows > 10'000'000)) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--batch-rows {}: expected rows per batch, 1 to 10000000",
                            args.batch_rows));
  }
  if (args.heartbeat_seconds < 0) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--heartbeat {}: expected seconds between heartbeats, 0 (off) or "
                            "more",
                            args.heartbeat_seconds));
  }
  // CDC flags are checked before anything connects.
  PositionFlag("--cdc-start-position", args.cdc_start_position, args.source);
  PositionFlag("--cdc-stop-position", args.cdc_stop_position, args.source);
  CdcStartTime(args.cdc_start_time);  // the form; whether the source can: when connected
  if (!args.cdc_start_time.empty() && !args.cdc_start_position.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "--cdc-start-time and --cdc-start-position both say where to start: give one");
  }
  if (!args.cdc_start_time.empty() && *type != MigrationType::kCdc) {
    throw Error(ErrorKind::kInvalidArgument,
                "--cdc-start-time applies to --migration-type cdc only (a full load starts "
                "change processing where its snapshot was taken)");
  }
  if (!args.cdc_start_position.empty() && *type != MigrationType::kCdc) {
    throw Error(ErrorKind::kInvalidArgument,
                "--cdc-start-position applies to --migration-type cdc only (a full load "
                "starts change processing where its snapshot was taken)");
  }
  if (*type == MigrationType::kFullLoad && !args.cdc_stop_position.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "--cdc-stop-position needs --migration-type cdc or full-load-and-cdc");
  }
  std::string task_settings_json;
  if (!args.task_settings.empty()) {
    task_settings_json = ReadFile(args.task_settings, "--task-settings");
    TaskSettings settings = LoadTaskSettings(args.task_settings);
    if (!given(args.prep_mode_opt)) {
      args.prep_mode = TablePrepModeName(FromSettings(settings.full_load_settings.target_table_prep_mode));
    }
    if (!given(args.parallel_opt)) {
      args.parallel = static_cast<int>(settings.full_load_settings.max_full_load_sub_tasks);
    }
    if (!given(args.target_schema_opt)) args.target_schema = settings.target_metadata.target_schema;
    if (!given(args.batch_rows_opt)) {
      args.batch_rows = static_cast<size_t>(settings.full_load_settings.commit_rate);
    }
    args.error_behavior = settings.error_behavior;
    args.create_pk_after_load = settings.full_load_settings.create_pk_after_full_load;
    args.create_indexes |= settings.ferry_settings.create_secondary_indexes;
    args.create_foreign_keys |= settings.ferry_settings.create_foreign_keys;
    args.create_defaults |= settings.ferry_settings.create_column_defaults;
    logging::Configure(settings.logging, args.verbose);
    args.settings = std::move(settings);
  }
  // ValidationSettings.ValidationOnly: compare, migrate nothing (DMS "validation only" task).
  // With a CDC migration type the task reads the source's changes and validates the rows they
  // touch on a target something else keeps up to date (CdcTaskOptions::validation_only).
  if (args.settings && args.settings->validation_settings.validation_only &&
      *type == MigrationType::kFullLoad) {
    spdlog::info("ValidationOnly: validating, migrating nothing");
    ValidateArgs v;
    v.source = args.source;
    v.target = args.target;
    v.tables = args.tables;
    v.schema = args.schema;
    v.target_schema = args.target_schema;
    v.target_schema_given = true;  // resolved above (flag, then the settings)
    v.table_mappings = args.table_mappings;
    v.task_settings = args.task_settings;
    v.task_name = args.task_name;
    v.json = args.json;
    return RunValidate(std::move(v));
  }
  const std::optional<TableMappings> mappings = LoadTableMappings(args.table_mappings, args.tables);
  const TablePrepMode mode = ParsePrepMode(args.prep_mode);
  std::unique_ptr<SqlConnector> source =
      ConnectDatabase(args.source, "source", /*as_target=*/false, args.source_password_file);
  std::unique_ptr<Connector> target =
      Connect(args.target, "target", /*as_target=*/true, args.target_password_file);

  schema::SchemaObjectOptions schema_options;
  schema_options.indexes = args.create_indexes;
  schema_options.foreign_keys = args.create_foreign_keys;
  schema_options.defaults = args.create_defaults;
  // Every table's plan, from the catalog now or (a resumed CDC task, CdcTaskOptions::replan)
  // with some tables as they were.
  // Views a CDC task leaves out (selected by table-type view/all): said in its summary.
  std::vector<std::string> views_left_out;
  auto plan_tables = [&](const std::vector<TableDef>& as_of) {
    TaskTables planned_tables =
        PlanTaskTables(*source, *target, args.schema, args.target_schema, mappings,
                       args.table_mappings, args.tables, "migrate", as_of);
    if (*type != MigrationType::kFullLoad) views_left_out = LeaveOutViews(&planned_tables);
    std::vector<TablePlan> out = std::move(planned_tables.plans);
    if (planned_tables.mapped) {
      const std::vector<MappedTable>& mapped = *planned_tables.mapped;
      // One plan per mapped table, in order: each gets its table's LOB settings.
      for (size_t i = 0; i < out.size(); ++i) {
        ApplyLobSettings(args.settings, mapped[i].lob_settings, &out[i]);
      }
      // partitions-auto / partitions-list: one segment per source partition; an unknown
      // partition stops here, before anything is touched.
      ResolvePartitionSegments(mapped, *mappings, *source, &out);
    } else {
      for (TablePlan& plan : out) ApplyLobSettings(args.settings, std::nullopt, &plan);
    }
    schema::PrepareCreateTimeObjects(out, source->engine(), schema_options);
    return out;
  };
  std::vector<TablePlan> plans = plan_tables({});
  FullLoadOptions options;
  options.prep_mode = mode;
  options.parallel = args.parallel;
  // Automatic segments: a big table without a parallel-load rule is read by this many readers
  // at once (engine/segmenting.h). By default on MySQL/MariaDB sources only, one reader per
  // core (at most 4): there one reader is the bottleneck, and two made a 5M-row table load
  // 1.29x faster into PostgreSQL on 2 cores (bench my-pg-5m-seg). A PostgreSQL single stream
  // already keeps both cores busy: ctid segments measured 0.82x (pg-pg-5m-seg), so they are
  // used only when asked for (--auto-segments N), e.g. on machines with more cores.
  options.auto_segments = args.auto_segments >= 0 ? args.auto_segments
                          : source->dialect().AutoSegmentsByDefault()
                              ? std::min(DefaultParallelism(), 4)
                              : 0;
  options.auto_segment_min_rows = args.auto_segment_min_rows;
  options.scan.batch_rows = args.batch_rows;
  if (args.error_behavior) options.error_behavior = *args.error_behavior;
  options.create_pk_after_load = args.create_pk_after_load;
  ReplicationTaskDefinition definition;
  definition.name = args.task_name;
  definition.type = *type;
  definition.data_dir =
      args.data_dir.empty() ? DefaultDataDir() : std::filesystem::path(args.data_dir);
  definition.resume = args.resume;
  definition.settings = args.settings;
  definition.full_load = options;
  definition.schema_objects = schema_options;
  definition.cdc_start_position =
      PositionFlag("--cdc-start-position", args.cdc_start_position, args.source);
  definition.cdc_stop_position =
      PositionFlag("--cdc-stop-position", args.cdc_stop_position, args.source);
  if (const std::optional<int64_t> at = CdcStartTime(args.cdc_start_time)) {
    definition.cdc_start_position = source->PositionAtTime(*at);
  }
  definition.slot = args.slot_name;
  definition.publication = args.publication;
  definition.heartbeat = std::chrono::seconds(args.heartbeat_seconds);
  definition.source_uri = args.source;
  definition.target_uri = args.target;
  if (!args.table_mappings.empty()) {
    definition.table_mappings_json = ReadFile(args.table_mappings, "--table-mappings");
  }
  definition.task_settings_json = task_settings_json;
  if (*type != MigrationType::kFullLoad) {
    for (const std::string& v : views_left_out) {
      spdlog::warn("view {} is not part of this task: change data capture does not follow "
                   "views (AWS DMS loads views only in full-load tasks); load it with "
                   "--migration-type full-load",
                   v);
    }
    definition.replan = plan_tables;
  } else {
    spdlog::info("full load of {} table(s) from {} to {} ({}, {} at a time)", plans.size(),
                 source->uri().Describe(), target->uri().Describe(), TablePrepModeName(mode),
                 options.parallel > 0 ? options.parallel : DefaultParallelism());
  }
  return RunTask(args, *source, *target, std::move(plans), std::move(definition), views_left_out);
}

}  // namespace ferry
