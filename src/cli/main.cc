// ferry: the command line. Subcommands:
//   ferry migrate --source URI --target URI [options]   one task in the foreground: a full
//                                                       load, or with CDC (cli/migrate_command.h)
//   ferry status [--data-dir DIR]                        CDC tasks in a data directory
//   ferry delete-task --task-name N --source URI         drop a CDC task's slot and state
//   ferry cleanup --source URI [--drop]                  Ferry's source objects and their tasks
//   ferry catalog URI                                    tables, columns, types and keys
//   ferry hash URI                                       canonical row count and hash per table
//   ferry validate --source URI --target URI [options]  row-level validation (cli/validate_command.h)
//   ferry version
// Exit codes: 0 success; 1 some table did not complete (or a task stopped on an error); 2 bad
// input or cannot connect.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <thread>

#include "cli/migrate_command.h"
#include "cli/reload_tables_command.h"
#include "cli/status_command.h"
#include "cli/task_objects_command.h"
#include "cli/task_plan.h"
#include "cli/validate_command.h"
#include "connectors/connector.h"
#include "control/control_tables.h"
#include "endpoint/endpoint_uri.h"
#include "engine/full_load.h"
#include "engine/lob_policy.h"
#include "engine/progress.h"
#include "engine/report.h"
#include "engine/segmenting.h"
#include "engine/table_digest.h"
#include "logging/log.h"
#include "mapping/mapping_apply.h"
#include "mapping/table_mappings.h"
#include "schema/post_load.h"
#include "settings/task_settings.h"
#include "task/data_dir.h"
#include "task_model/plan.h"
#include "validation/validator.h"

namespace ferry {
namespace {

int RunCatalog(const std::string& uri_text, const std::string& password_file,
               const std::string& schema, bool json) {
  std::unique_ptr<SqlConnector> connector =
      ConnectDatabase(uri_text, "endpoint", false, password_file);
  auto catalog = connector->OpenCatalog();
  std::vector<TableDef> tables = catalog->ListTables(schema);
  // Views follow the tables: a selection rule with table-type view or all loads them.
  for (TableDef& v : catalog->ListViews(schema)) tables.push_back(std::move(v));
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
      if (t.is_view) out.back()["view"] = true;
    }
    std::cout << out.dump(2) << std::endl;
    return 0;
  }
  std::cout << fmt::format("{} ({})\n", connector->uri().Describe(), catalog->ServerVersion());
  for (const TableDef& t : tables) {
    if (t.is_view) {
      std::cout << fmt::format("\n{}  (view: loaded by selection rules with table-type view "
                               "or all)\n",
                               t.QualifiedName());
    } else {
      std::cout << fmt::format("\n{}  (~{} rows)\n", t.QualifiedName(),
                               t.estimated_rows < 0 ? std::string("?")
                                                    : std::to_string(t.estimated_rows));
    }
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

int RunHash(const std::string& uri_text, const std::string& password_file,
            const std::string& schema, const std::vector<std::string>& patterns, bool json,
            bool rows) {
  std::unique_ptr<SqlConnector> connector =
      ConnectDatabase(uri_text, "endpoint", false, password_file);
  std::vector<TableDef> tables = connector->OpenCatalog()->ListTables(schema);
  auto reader = connector->OpenReader();
  nlohmann::json out = nlohmann::json::array();
  int failed = 0;
  for (const TableDef& t : tables) {
    if (!TableSelected(t, patterns)) continue;
    TableDigest d;
    try {
      d = DigestTable(*reader, t, rows);
    } catch (const RowError& e) {
      // A value the reader cannot read: this table has no hash; the others still do.
      ++failed;
      const std::string column =
          e.column >= 0 && e.column < static_cast<int>(t.columns.size())
              ? t.columns[static_cast<size_t>(e.column)].name
              : "?";
      const std::string message =
          fmt::format("table {}: column {}, row {}: {}", t.QualifiedName(), column,
                      e.row_key.empty() ? "?" : e.row_key, e.what());
      spdlog::error("{}", message);
      if (json) {
        out.push_back({{"schema", t.schema}, {"table", t.name}, {"error", message}});
      } else {
        std::cout << fmt::format("{:<50} {:>12} {}\n", t.QualifiedName(), "-", "ERROR");
      }
      reader = connector->OpenReader();  // the failed scan may have left its connection mid-read
      continue;
    }
    if (json) {
      out.push_back({{"schema", t.schema}, {"table", t.name}, {"rows", d.rows},
                     {"hash", d.HashHex()}});
    } else {
      std::cout << fmt::format("{:<50} {:>12} {}\n", t.QualifiedName(), d.rows, d.HashHex());
      for (const std::string& r : d.row_texts) std::cout << "  " << r << "\n";
    }
  }
  if (json) std::cout << out.dump(2) << std::endl;
  if (failed > 0) {
    spdlog::error("{} table(s) could not be hashed (see above); the others were", failed);
    return 1;
  }
  return 0;
}

// The command line: parses it, runs the subcommand, returns the exit code.
int Main(int argc, char** argv) {
  logging::Init(/*verbose=*/false);

  CLI::App app{"Ferry: database migration (full load) between PostgreSQL, MySQL/MariaDB and SQLite"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Debug logging");

  MigrateArgs m;
  CLI::App* migrate = AddMigrateCommand(app, &m);

  std::string uri, schema, password_file;
  bool json = false, rows = false;
  std::vector<std::string> tables;
  CLI::App* catalog = app.add_subcommand("catalog", "Print tables, columns, native and DMS types, keys");
  catalog->add_option("uri", uri, "Endpoint URI")->required();
  catalog->add_option("--schema", schema, "Only this schema/database");
  catalog->add_option("--password-file", password_file, "File whose first line is the password");
  catalog->add_flag("--json", json, "JSON output");

  CLI::App* hash = app.add_subcommand("hash", "Row count and canonical content hash per table (engine-independent)");
  hash->add_option("uri", uri, "Endpoint URI")->required();
  hash->add_option("--schema", schema, "Only this schema/database");
  hash->add_option("--password-file", password_file, "File whose first line is the password");
  hash->add_option("--tables", tables, "Tables (as for migrate)");
  hash->add_flag("--json", json, "JSON output");
  hash->add_flag("--rows", rows, "Also print every row's canonical values (small tables)");

  std::string settings_file;
  bool normalize = false;
  CLI::App* settings_cmd = app.add_subcommand("settings", "Validate AWS DMS task settings JSON and print it normalised");
  settings_cmd->add_option("file", settings_file, "Task settings JSON file (omit for the defaults)");
  settings_cmd->add_flag("--normalize", normalize, "Print every section and key with defaults filled in, in a stable order (the default action)");

  DeleteTaskArgs delete_args;
  CLI::App* delete_cmd = AddDeleteTaskCommand(app, &delete_args);
  CleanupArgs cleanup_args;
  CLI::App* cleanup_cmd = AddCleanupCommand(app, &cleanup_args);

  ReloadTablesArgs reload_args;
  CLI::App* reload_cmd = AddReloadTablesCommand(app, &reload_args);

  StatusOptions status_options;
  std::string status_dir;
  CLI::App* status_cmd = app.add_subcommand("status", "Show CDC tasks from their data directory (state, positions, latency, table statistics); works while the task runs");
  status_cmd->add_option("--data-dir", status_dir, "The task's data directory (default as for migrate)");
  status_cmd->add_option("--task-name", status_options.task, "Only this task (default: every task)");
  status_cmd->add_flag("--json", status_options.json, "JSON shaped like DescribeReplicationTasks and DescribeTableStatistics");

  app.add_subcommand("version", "Print the version");

  ValidateArgs validate_args;
  CLI::App* validate_cmd = AddValidateCommand(app, &validate_args);

  CLI11_PARSE(app, argc, argv);
  // CLI11 holds its own copies now: blank the passwords of URIs in the process's arguments, so
  // ps and /proc/<pid>/cmdline no longer show them (a CDC task runs for days).
  for (int i = 1; i < argc; ++i) {
    for (const auto& [at, length] : PasswordSpans(argv[i])) std::memset(argv[i] + at, 'x', length);
  }
  if (verbose) logging::Configure(Logging{}, verbose);
  m.verbose = verbose;
  try {
    if (*migrate) {
      return RunMigrate(m);
    }
    if (*settings_cmd) {
      TaskSettings settings = settings_file.empty() ? TaskSettings{} : LoadTaskSettings(settings_file);
      std::cout << NormalizeTaskSettings(settings).dump(2) << std::endl;
      // Which of these keys Ferry acts on, on stderr so the JSON stays clean for IaC diffs.
      const SettingsKeys keys = SettingsKeyReport();
      std::cerr << fmt::format("Honoured by Ferry ({}): {}\n\nAccepted and checked, not acted on "
                               "({}): {}\n",
                               keys.honoured.size(), fmt::join(keys.honoured, ", "),
                               keys.not_acted_on.size(), fmt::join(keys.not_acted_on, ", "));
      return 0;
    }
    if (*validate_cmd) return RunValidate(validate_args);
    if (*delete_cmd) return RunDeleteTask(delete_args);
    if (*cleanup_cmd) return RunCleanup(cleanup_args);
    if (*reload_cmd) return RunReloadTables(reload_args, std::cout);
    if (*status_cmd) {
      status_options.data_dir = status_dir.empty() ? DefaultDataDir() : std::filesystem::path(status_dir);
      return RunStatusCommand(status_options, std::cout, std::cerr);
    }
    if (*catalog) return RunCatalog(uri, password_file, schema, json);
    if (*hash) return RunHash(uri, password_file, schema, SplitList(tables), json, rows);
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

}  // namespace
}  // namespace ferry

int main(int argc, char** argv) {
  // Main reports every error of a command itself; this only keeps an exception from setting up
  // the command line (before any command runs) from ending the process without a word.
  try {
    return ferry::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferry: %s\n", e.what());
  } catch (...) {
    std::fputs("ferry: unexpected error\n", stderr);
  }
  return 2;
}
