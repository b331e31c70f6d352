// ferry: the command line. Subcommands:
//   ferry migrate --source URI --target URI [options]   one full-load task in the foreground
//   ferry catalog URI                                    tables, columns, types and keys
//   ferry hash URI                                       canonical row count and hash per table
//   ferry version
// Exit codes: 0 success; 1 some table did not complete; 2 bad input or cannot connect.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <optional>
#include <iostream>
#include <thread>

#include "connectors/connector.h"
#include "endpoint/endpoint_uri.h"
#include "engine/full_load.h"
#include "engine/plan.h"
#include "engine/progress.h"
#include "engine/report.h"
#include "engine/table_digest.h"
#include "mapping/mapping_apply.h"
#include "mapping/table_mappings.h"
#include "settings/task_settings.h"

namespace ferry {
namespace {

std::atomic<int> g_signals{0};
extern "C" void OnSignal(int) { g_signals.fetch_add(1); }

std::vector<std::string> SplitList(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const std::string& item : items) {
    size_t start = 0;
    while (start <= item.size()) {
      size_t comma = item.find(',', start);
      std::string part = item.substr(start, comma == std::string::npos ? std::string::npos
                                                                        : comma - start);
      if (!part.empty()) out.push_back(part);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

// `as_target`: a MySQL database that does not exist yet is fine for a target (the load
// creates it, as it creates a missing PostgreSQL schema).
std::unique_ptr<Connector> Connect(const std::string& text, const char* role,
                                   bool as_target = false) {
  Result<EndpointUri> uri = ParseEndpointUri(text);
  if (!uri.ok()) throw uri.error();
  std::unique_ptr<Connector> connector = OpenConnector(*uri);
  try {
    connector->TestConnection();
  } catch (const Error& e) {
    if (as_target && e.kind() == ErrorKind::kNotFound && uri->engine == Engine::kMysql) {
      spdlog::info("target database '{}' does not exist yet; it will be created",
                   uri->database);
      return connector;
    }
    throw Error(e.kind(), fmt::format("cannot use {} {}: {}", role, uri->Describe(), e.what()));
  }
  return connector;
}

struct MigrateArgs {
  std::string source, target;
  std::vector<std::string> tables;
  std::string schema;
  std::string target_schema;
  std::string prep_mode = "DO_NOTHING";
  int parallel = 0;
  std::string task_settings;  // path of a DMS ReplicationTaskSettings JSON file
  std::string table_mappings;  // path of a DMS table-mappings JSON file
  bool prep_mode_given = false, parallel_given = false, target_schema_given = false;
  bool json = false;
  bool no_progress = false;
  size_t batch_rows = 10000;
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

std::string ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorKind::kNotFound, fmt::format("cannot read {} file '{}'", what, path));
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TaskSettings LoadTaskSettings(const std::string& path) {
  Result<TaskSettings> settings = ParseTaskSettings(ReadFile(path, "task settings"), path);
  if (!settings.ok()) throw settings.error();
  return std::move(settings).ValueOrThrow();
}

TablePrepMode FromSettings(TargetTablePrepMode m) {
  switch (m) {
    case TargetTablePrepMode::kDoNothing: return TablePrepMode::kDoNothing;
    case TargetTablePrepMode::kDropAndCreate: return TablePrepMode::kDropAndCreate;
    case TargetTablePrepMode::kTruncateBeforeLoad: return TablePrepMode::kTruncateBeforeLoad;
  }
  return TablePrepMode::kDoNothing;
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
  }
  std::optional<TableMappings> mappings;
  if (!args.table_mappings.empty()) {
    if (!args.tables.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--tables and --table-mappings both select tables: use one of them");
    }
    Result<TableMappings> parsed =
        ParseTableMappings(ReadFile(args.table_mappings, "table mappings"), args.table_mappings);
    if (!parsed.ok()) throw parsed.error();
    mappings = std::move(parsed).ValueOrThrow();
  }
  const TablePrepMode mode = ParsePrepMode(args.prep_mode);
  std::unique_ptr<Connector> source = Connect(args.source, "source");
  std::unique_ptr<Connector> target = Connect(args.target, "target", /*as_target=*/true);

  std::vector<TableDef> tables = source->OpenCatalog()->ListTables(args.schema);
  std::string target_schema = target->uri().Param("schema");
  if (!args.target_schema.empty()) target_schema = args.target_schema;
  std::vector<TablePlan> plans;
  if (mappings) {
    Result<std::vector<MappedTable>> mapped =
        ApplyTableMappings(*mappings, tables, args.table_mappings);
    if (!mapped.ok()) throw mapped.error();
    for (const MappedTable& m : *mapped) {
      // Parsed and validated, but not acted on yet: say so rather than ignore them.
      if (m.parallel_load && m.parallel_load->type != ParallelLoadType::kNone &&
          m.parallel_load->type != ParallelLoadType::kRanges) {
        spdlog::warn("table {}: table-settings parallel-load {} is not honoured yet; the table "
                     "loads as one stream",
                     m.source.QualifiedName(), ParallelLoadTypeName(m.parallel_load->type));
      }
      if (m.lob_settings) {
        spdlog::warn("table {}: table-settings lob-settings are not honoured yet; LOBs are "
                     "copied whole",
                     m.source.QualifiedName());
      }
    }
    plans = PlanFromMappings(*mapped, *source, *target, target_schema);
  } else {
    plans = PlanTables(tables, source->engine(), *target, target_schema, SplitList(args.tables));
  }
  if (plans.empty()) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("no tables to migrate: the source {} has no user tables{}",
                            source->uri().Describe(),
                            args.tables.empty() ? "" : " matching --tables"));
  }
  FullLoadOptions options;
  options.prep_mode = mode;
  options.parallel = args.parallel;
  options.scan.batch_rows = args.batch_rows;
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

  if (args.json) {
    std::cout << SummaryJson(load.stats()).dump(2) << std::endl;
  } else {
    std::cout << FormatSummary(load.stats()) << std::flush;
  }
  return load.AllCompleted() ? 0 : 1;
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
  auto logger = spdlog::stderr_color_mt("ferry");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");

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
  migrate->add_option("--table-mappings", m.table_mappings, "AWS DMS table mappings JSON file: selection rules (wildcards, filters, load-order) and transformation rules (rename, case, prefixes/suffixes, remove-column, define-primary-key)");
  migrate->add_option("--task-settings", m.task_settings, "AWS DMS task settings JSON file (TargetMetadata.TargetSchema, FullLoadSettings.TargetTablePrepMode and MaxFullLoadSubTasks are honoured; flags given here win)");
  migrate->add_option("--batch-rows", m.batch_rows, "Rows per batch between reader and writer")->capture_default_str();
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

  CLI11_PARSE(app, argc, argv);
  if (verbose) spdlog::set_level(spdlog::level::debug);
  try {
    if (*migrate) {
      m.prep_mode_given = prep_mode_opt->count() > 0;
      m.parallel_given = parallel_opt->count() > 0;
      m.target_schema_given = target_schema_opt->count() > 0;
      return RunMigrate(m);
    }
    if (*settings_cmd) {
      TaskSettings settings = settings_file.empty() ? TaskSettings{} : LoadTaskSettings(settings_file);
      std::cout << NormalizeTaskSettings(settings).dump(2) << std::endl;
      return 0;
    }
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
