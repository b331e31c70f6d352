// ferry: the command line. Subcommands:
//   ferry migrate --source URI --target URI [options]   one full-load task in the foreground
//   ferry catalog URI                                    tables, columns, types and keys
//   ferry hash URI                                       canonical row count and hash per table
//   ferry validate --source URI --target URI [options]  row-level validation (cli/validate_command.h)
//   ferry version
// Exit codes: 0 success; 1 some table did not complete; 2 bad input or cannot connect.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <iostream>
#include <optional>
#include <thread>

#include "cli/task_plan.h"
#include "cli/validate_command.h"
#include "connectors/connector.h"
#include "control/control_tables.h"
#include "endpoint/endpoint_uri.h"
#include "engine/full_load.h"
#include "engine/lob_policy.h"
#include "engine/plan.h"
#include "engine/progress.h"
#include "engine/report.h"
#include "engine/segmenting.h"
#include "engine/table_digest.h"
#include "logging/log.h"
#include "mapping/mapping_apply.h"
#include "mapping/table_mappings.h"
#include "schema/post_load.h"
#include "settings/task_settings.h"
#include "validation/validator.h"

namespace ferry {
namespace {

std::atomic<int> g_signals{0};
extern "C" void OnSignal(int) { g_signals.fetch_add(1); }

struct MigrateArgs {
  std::string source, target;
  std::vector<std::string> tables;
  std::string schema;
  std::string target_schema;
  std::string prep_mode = "DO_NOTHING";
  int parallel = 0;
  int auto_segments = -1;  // -1 = default (one per core, at most 4), 0 = off
  int64_t auto_segment_min_rows = 1000000;
  std::string task_settings;  // path of a DMS ReplicationTaskSettings JSON file
  std::string table_mappings;  // path of a DMS table-mappings JSON file
  bool prep_mode_given = false, parallel_given = false, target_schema_given = false;
  bool json = false;
  bool no_progress = false;
  size_t batch_rows = 10000;
  bool batch_rows_given = false;
  // From --task-settings: ErrorBehavior and FullLoadSettings.CreatePkAfterFullLoad.
  std::optional<ErrorBehavior> error_behavior;
  bool create_pk_after_load = false;
  bool verbose = false;
  std::optional<TaskSettings> settings;  // the --task-settings document, when given
  // Ferry extension (src/schema/): also create these after the load; FerrySettings in
  // --task-settings turns them on too.
  bool create_indexes = false, create_foreign_keys = false, create_defaults = false;
};

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

// The task name written into the control tables (the CLI runs one unnamed task).
constexpr const char* kTaskName = "ferry";

// awsdms_apply_exceptions always; awsdms_status, awsdms_suspended_tables and awsdms_history when
// ControlTablesSettings enables them, filled with the full load's outcome.
void RecordControlTables(const TaskSettings& settings, Connector& target, const FullLoad& load,
                         size_t tables) {
  try {
    ControlTables control(target, settings.control_tables_settings, kTaskName);
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
      std::lock_guard lock(st->mu);
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
    spdlog::debug("control tables updated for {} table(s)", tables);
  } catch (const Error& e) {
    // The data is loaded; failing to write the bookkeeping must not hide that.
    spdlog::error("control tables in {}: {}", target.uri().Describe(), e.what());
  }
}

int RunMigrate(MigrateArgs args) {
  // Settings first, so a bad file stops everything before any connection is made. Command-line
  // flags given explicitly win over the file.
  if (!args.task_settings.empty()) {
    TaskSettings settings = LoadTaskSettings(args.task_settings);
    if (!args.prep_mode_given) {
      args.prep_mode = TablePrepModeName(FromSettings(settings.full_load_settings.target_table_prep_mode));
    }
    if (!args.parallel_given) {
      args.parallel = static_cast<int>(settings.full_load_settings.max_full_load_sub_tasks);
    }
    if (!args.target_schema_given) args.target_schema = settings.target_metadata.target_schema;
    if (!args.batch_rows_given) {
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
  const std::optional<TableMappings> mappings = LoadTableMappings(args.table_mappings, args.tables);
  const TablePrepMode mode = ParsePrepMode(args.prep_mode);
  std::unique_ptr<Connector> source = Connect(args.source, "source");
  std::unique_ptr<Connector> target = Connect(args.target, "target", /*as_target=*/true);

  TaskTables planned_tables = PlanTaskTables(*source, *target, args.schema, args.target_schema,
                                             mappings, args.table_mappings, args.tables, "migrate");
  std::vector<TablePlan> plans = std::move(planned_tables.plans);
  if (planned_tables.mapped) {
    const std::vector<MappedTable>& mapped = *planned_tables.mapped;
    // One plan per mapped table, in order: each gets its table's LOB settings.
    for (size_t i = 0; i < plans.size(); ++i) {
      ApplyLobSettings(args.settings, mapped[i].lob_settings, &plans[i]);
    }
    // partitions-auto / partitions-list: one segment per source partition; an unknown
    // partition stops here, before anything is touched.
    ResolvePartitionSegments(mapped, *mappings, *source, &plans);
  } else {
    for (TablePlan& plan : plans) ApplyLobSettings(args.settings, std::nullopt, &plan);
  }
  schema::SchemaObjectOptions schema_options;
  schema_options.indexes = args.create_indexes;
  schema_options.foreign_keys = args.create_foreign_keys;
  schema_options.defaults = args.create_defaults;
  schema::PrepareCreateTimeObjects(plans, source->engine(), schema_options);
  const std::vector<TablePlan> planned = plans;  // FullLoad takes `plans`
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
                          : source->engine() == Engine::kMysql
                              ? std::min(DefaultParallelism(), 4)
                              : 0;
  options.auto_segment_min_rows = args.auto_segment_min_rows;
  options.scan.batch_rows = args.batch_rows;
  if (args.error_behavior) options.error_behavior = *args.error_behavior;
  options.create_pk_after_load = args.create_pk_after_load;
  spdlog::info("full load of {} table(s) from {} to {} ({}, {} at a time)", plans.size(),
               source->uri().Describe(), target->uri().Describe(), TablePrepModeName(mode),
               options.parallel > 0 ? options.parallel : DefaultParallelism());

  FullLoad load(*source, *target, std::move(plans), options);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    while (!finished) {
      if (g_signals.load() > 0 && !load.cancelled()) {
        spdlog::warn("stopping: finishing nothing new, rolling back tables in progress");
        load.Cancel();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  ProgressDisplay progress(load.stats(), !args.no_progress && isatty(STDERR_FILENO));
  if (!args.no_progress) progress.Start();
  try {
    load.Run();
  } catch (...) {
    finished = true;
    watcher.join();
    throw;
  }
  progress.Stop();
  finished = true;
  watcher.join();
  // Ferry extension: indexes, foreign keys and defaults after the load. A statement the target
  // refuses (or an object whose table did not complete) makes the exit code 1; objects that
  // cannot be converted between the engines are only reported.
  bool validation_failed = false;
  schema::SchemaObjectsReport schema_report;
  schema_report.options = schema_options;
  if (schema_options.Any() && !load.cancelled()) {
    schema_report = schema::CreateSchemaObjects(*target, planned, source->engine(),
                                                schema_options, load.stats());
  }

  // DMS control tables (with task settings only: a plain `ferry migrate` leaves the target
  // holding nothing but the data) and validation (ValidationSettings.EnableValidation).
  if (args.settings && !load.cancelled()) {
    RecordControlTables(*args.settings, *target, load, planned.size());
    if (args.settings->validation_settings.enable_validation) {
      ControlTables control(*target, args.settings->control_tables_settings, kTaskName);
      Validator validator(*source, *target, args.settings->validation_settings, &control);
      std::vector<TableStats*> stats;
      for (const auto& st : load.stats()) stats.push_back(st.get());
      for (const TableValidation& v : validator.Run(planned, stats)) {
        if (v.state != kValidationValidated) validation_failed = true;
      }
    }
  }

  if (args.json) {
    nlohmann::json summary = SummaryJson(load.stats());
    if (schema_options.Any()) summary["schemaObjects"] = schema_report.ToJson();
    std::cout << summary.dump(2) << std::endl;
  } else {
    std::cout << FormatSummary(load.stats()) << schema_report.FormatText() << std::flush;
  }
  // An ErrorBehavior policy said STOP_TASK: say why (stdout stays JSON with --json).
  if (const std::string why = load.stop_reason(); !why.empty()) {
    spdlog::error("task stopped: {}", why);
    if (!args.json) std::cout << "Task stopped: " << why << std::endl;
    return 1;
  }
  return load.AllCompleted() && !schema_report.AnyFailed() && !validation_failed ? 0 : 1;
}

int RunCatalog(const std::string& uri_text, const std::string& schema, bool json) {
  std::unique_ptr<Connector> connector = Connect(uri_text, "endpoint");
  auto catalog = connector->OpenCatalog();
  std::vector<TableDef> tables = catalog->ListTables(schema);
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const TableDef& t : tables) {
      nlohmann::json cols = nlohmann::json::array();
      for (const ColumnDef& c : t.columns) {
        cols.push_back({{"name", c.name},
                        {"nativeType", c.native_type},
                        {"dmsType", DescribeDmsType(c.type)},
                        {"nullable", c.nullable}});
      }
      nlohmann::json uniques = nlohmann::json::array();
      for (const IndexDef& i : t.unique_indexes) {
        uniques.push_back({{"name", i.name}, {"columns", i.columns}});
      }
      out.push_back({{"schema", t.schema},
                     {"table", t.name},
                     {"estimatedRows", t.estimated_rows},
                     {"columns", cols},
                     {"primaryKey", t.primary_key},
                     {"uniqueIndexes", uniques}});
    }
    std::cout << out.dump(2) << std::endl;
    return 0;
  }
  std::cout << fmt::format("{} ({})\n", connector->uri().Describe(), catalog->ServerVersion());
  for (const TableDef& t : tables) {
    std::cout << fmt::format("\n{}  (~{} rows)\n", t.QualifiedName(),
                             t.estimated_rows < 0 ? std::string("?")
                                                  : std::to_string(t.estimated_rows));
    for (const ColumnDef& c : t.columns) {
      std::cout << fmt::format("  {:<30} {:<32} {:<18}{}\n", c.name, c.native_type,
                               DescribeDmsType(c.type), c.nullable ? "" : " NOT NULL");
    }
    if (!t.primary_key.empty()) {
      std::cout << fmt::format("  PRIMARY KEY ({})\n", fmt::join(t.primary_key, ", "));
    }
    for (const IndexDef& i : t.unique_indexes) {
      std::cout << fmt::format("  UNIQUE {} ({})\n", i.name, fmt::join(i.columns, ", "));
    }
  }
  return 0;
}

int RunHash(const std::string& uri_text, const std::string& schema,
            const std::vector<std::string>& patterns, bool json, bool rows) {
  std::unique_ptr<Connector> connector = Connect(uri_text, "endpoint");
  std::vector<TableDef> tables = connector->OpenCatalog()->ListTables(schema);
  auto reader = connector->OpenReader();
  nlohmann::json out = nlohmann::json::array();
  for (const TableDef& t : tables) {
    if (!TableSelected(t, patterns)) continue;
    TableDigest d = DigestTable(*reader, t, rows);
    if (json) {
      out.push_back({{"schema", t.schema}, {"table", t.name}, {"rows", d.rows},
                     {"hash", d.HashHex()}});
    } else {
      std::cout << fmt::format("{:<50} {:>12} {}\n", t.QualifiedName(), d.rows, d.HashHex());
      for (const std::string& r : d.row_texts) std::cout << "  " << r << "\n";
    }
  }
  if (json) std::cout << out.dump(2) << std::endl;
  return 0;
}

}  // namespace
}  // namespace ferry

int main(int argc, char** argv) {
  using namespace ferry;
  logging::Init(/*verbose=*/false);

  CLI::App app{"Ferry: database migration (full load) between PostgreSQL, MySQL/MariaDB and SQLite"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Debug logging");

  MigrateArgs m;
  CLI::App* migrate = app.add_subcommand("migrate", "Copy tables, schema and data, source to target");
  migrate->add_option("--source", m.source, "Source URI: postgresql://, mysql://, mariadb://, sqlite:///path")->required();
  migrate->add_option("--target", m.target, "Target URI")->required();
  migrate->add_option("--tables", m.tables, "Tables to copy: name or schema.name, '*' and '%' wildcards, comma-separated (default: all)");
  migrate->add_option("--schema", m.schema, "Source schema (PostgreSQL) or database (MySQL) to read (default: all user schemas / the URI's database)");
  auto* target_schema_opt = migrate->add_option("--target-schema", m.target_schema, "Target schema (overrides the URI's schema= and the default)");
  auto* prep_mode_opt = migrate->add_option("--target-table-prep-mode", m.prep_mode, "DO_NOTHING (create missing tables), DROP_AND_CREATE or TRUNCATE_BEFORE_LOAD")->capture_default_str();
  auto* parallel_opt = migrate->add_option("--parallel", m.parallel, "Tables loaded at once (default: one per core, 2..8; MaxFullLoadSubTasks with --task-settings)");
  migrate->add_option("--auto-segments", m.auto_segments, "Readers per big table without a parallel-load rule (>= 1M rows or >= 256 MB; PostgreSQL ctid ranges, else integer primary key ranges, in one snapshot); 0 = off (default: MySQL/MariaDB sources one per core, at most 4; PostgreSQL and SQLite sources off)")->check(CLI::Range(0, 64));
  migrate->add_option("--auto-segment-min-rows", m.auto_segment_min_rows, "Row estimate from which --auto-segments splits a table (default 1000000; a table of 256 MB or more splits too)")->check(CLI::PositiveNumber);
  migrate->add_option("--table-mappings", m.table_mappings, "AWS DMS table mappings JSON file: selection rules (wildcards, filters, load-order) and transformation rules (rename, case, prefixes/suffixes, remove-column, add-column expressions, change-data-type, define-primary-key) and table-settings (parallel-load, lob-settings)");
  migrate->add_option("--task-settings", m.task_settings, "AWS DMS task settings JSON file (TargetMetadata, FullLoadSettings, ErrorBehavior, ControlTablesSettings, ValidationSettings, Logging and the FerrySettings extension are honoured; CDC settings are checked and stored; flags given here win)");
  auto* batch_rows_opt = migrate->add_option("--batch-rows", m.batch_rows, "Rows per batch between reader and writer")->capture_default_str();
  migrate->add_flag("--create-indexes", m.create_indexes, "Ferry extension: also create the source's secondary indexes after the load (converted per engine; a report lists what could not be)");
  migrate->add_flag("--create-foreign-keys", m.create_foreign_keys, "Ferry extension: also create foreign keys between migrated tables after the load");
  migrate->add_flag("--create-defaults", m.create_defaults, "Ferry extension: also create column defaults (literals, CURRENT_TIMESTAMP and the like; sequences are reported)");
  bool create_schema_objects = false;
  migrate->add_flag("--create-schema-objects", create_schema_objects, "Ferry extension: --create-indexes --create-foreign-keys --create-defaults at once");
  migrate->add_flag("--json", m.json, "Print the table statistics as JSON");
  migrate->add_flag("--no-progress", m.no_progress, "No live progress display or progress log lines");

  std::string uri, schema;
  bool json = false, rows = false;
  std::vector<std::string> tables;
  CLI::App* catalog = app.add_subcommand("catalog", "Print tables, columns, native and DMS types, keys");
  catalog->add_option("uri", uri, "Endpoint URI")->required();
  catalog->add_option("--schema", schema, "Only this schema/database");
  catalog->add_flag("--json", json, "JSON output");

  CLI::App* hash = app.add_subcommand("hash", "Row count and canonical content hash per table (engine-independent)");
  hash->add_option("uri", uri, "Endpoint URI")->required();
  hash->add_option("--schema", schema, "Only this schema/database");
  hash->add_option("--tables", tables, "Tables (as for migrate)");
  hash->add_flag("--json", json, "JSON output");
  hash->add_flag("--rows", rows, "Also print every row's canonical values (small tables)");

  std::string settings_file;
  bool normalize = false;
  CLI::App* settings_cmd = app.add_subcommand("settings", "Validate AWS DMS task settings JSON and print it normalised");
  settings_cmd->add_option("file", settings_file, "Task settings JSON file (omit for the defaults)");
  settings_cmd->add_flag("--normalize", normalize, "Print every section and key with defaults filled in, in a stable order (the default action)");

  app.add_subcommand("version", "Print the version");

  ValidateArgs validate_args;
  CLI::App* validate_cmd = AddValidateCommand(app, &validate_args);

  CLI11_PARSE(app, argc, argv);
  if (verbose) logging::Configure(Logging{}, verbose);
  m.verbose = verbose;
  try {
    if (*migrate) {
      m.prep_mode_given = prep_mode_opt->count() > 0;
      m.parallel_given = parallel_opt->count() > 0;
      m.target_schema_given = target_schema_opt->count() > 0;
      m.batch_rows_given = batch_rows_opt->count() > 0;
      if (create_schema_objects) {
        m.create_indexes = m.create_foreign_keys = m.create_defaults = true;
      }
      return RunMigrate(m);
    }
    if (*settings_cmd) {
      TaskSettings settings = settings_file.empty() ? TaskSettings{} : LoadTaskSettings(settings_file);
      std::cout << NormalizeTaskSettings(settings).dump(2) << std::endl;
      return 0;
    }
    if (*validate_cmd) return RunValidate(validate_args);
    if (*catalog) return RunCatalog(uri, schema, json);
    if (*hash) return RunHash(uri, schema, SplitList(tables), json, rows);
    std::cout << "ferry " << FERRY_VERSION << "\n";
    return 0;
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    return 2;
  }
}
