#include "cli/validate_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/task_plan.h"
#include "connectors/connector.h"
#include "control/control_tables.h"
#include "endpoint/endpoint_uri.h"
#include "mapping/mapping_apply.h"
#include "mapping/table_mappings.h"
#include "settings/task_settings.h"
#include "task_model/plan.h"
#include "validation/validator.h"

namespace ferry {

namespace {

nlohmann::json ResultJson(const TableValidation& r) {
  nlohmann::json failures = nlohmann::json::array();
  for (const RowDifference& d : r.differences) {
    failures.push_back({{"FailureType", FailureTypeName(d.type)},
                        {"KeyType", "Row"},
                        {"Key", d.key_json},
                        {"Details", d.details}});
  }
  const size_t dot = r.source_name.find('.');
  nlohmann::json t = {
      {"SchemaName", dot == std::string::npos ? "" : r.source_name.substr(0, dot)},
      {"TableName", dot == std::string::npos ? r.source_name : r.source_name.substr(dot + 1)},
      {"TargetSchemaName", r.target_schema},
      {"TargetTableName", r.target_table},
      {"ValidationState", r.state},
      {"ValidationPendingRecords", r.pending},
      {"ValidationFailedRecords", r.failed},
      {"ValidationSuspendedRecords", r.suspended},
      {"SourceRows", r.source_rows},
      {"TargetRows", r.target_rows},
      {"RecordDiff", r.record_diff},
      {"MissingTarget", r.missing_target},
      {"MissingSource", r.missing_source},
      {"Failures", failures},
  };
  if (!r.message.empty()) t["ValidationMessage"] = r.message;
  return t;
}

}  // namespace

CLI::App* AddValidateCommand(CLI::App& app, ValidateArgs* a) {
  CLI::App* cmd = app.add_subcommand(
      "validate", "Compare source and target row by row (AWS DMS data validation)");
  cmd->add_option("--source", a->source, "Source URI")->required();
  cmd->add_option("--target", a->target, "Target URI")->required();
  cmd->add_option("--source-password-file", a->source_password_file, "File whose first line is the source password");
  cmd->add_option("--target-password-file", a->target_password_file, "File whose first line is the target password");
  cmd->add_option("--tables", a->tables,
                  "Tables to validate: name or schema.name, '*' and '%' wildcards, "
                  "comma-separated (default: all)");
  cmd->add_option("--schema", a->schema, "Source schema (PostgreSQL) or database (MySQL)");
  cmd->add_option("--target-schema", a->target_schema,
                  "Target schema (overrides the URI's schema= and the default)")
      ->each([a](const std::string&) { a->target_schema_given = true; });
  cmd->add_option("--table-mappings", a->table_mappings,
                  "AWS DMS table mappings JSON file (the same one the load used)");
  cmd->add_option("--task-settings", a->task_settings,
                  "AWS DMS task settings JSON file: ValidationSettings (ThreadCount, "
                  "PartitionSize, FailureMaxCount, TableFailureMaxCount, SkipLobColumns, "
                  "ValidationPartialLobSize), ControlTablesSettings.ControlSchema, "
                  "TargetMetadata.TargetSchema");
  cmd->add_option("--task-name", a->task_name,
                  "TASK_NAME written to awsdms_validation_failures_v1")
      ->capture_default_str();
  cmd->add_flag("--no-control-tables", a->no_control_tables,
                "Write nothing to the target (no awsdms_validation_failures_v1)");
  cmd->add_flag("--json", a->json, "Print the table statistics and failures as JSON");
  return cmd;
}

int RunValidate(ValidateArgs args) {
  TaskSettings settings;
  if (!args.task_settings.empty()) {
    settings = LoadTaskSettings(args.task_settings);
    if (!args.target_schema_given) args.target_schema = settings.target_metadata.target_schema;
  }
  const std::optional<TableMappings> mappings = LoadTableMappings(args.table_mappings, args.tables);
  std::unique_ptr<SqlConnector> source =
      ConnectDatabase(args.source, "source", /*as_target=*/false, args.source_password_file);
  std::unique_ptr<SqlConnector> target =
      ConnectDatabase(args.target, "target", /*as_target=*/false, args.target_password_file);

  std::vector<TablePlan> plans =
      PlanTaskTables(*source, *target, args.schema, args.target_schema, mappings,
                     args.table_mappings, args.tables, "validate")
          .plans;

  std::unique_ptr<ControlTables> control;
  if (!args.no_control_tables) {
    control = std::make_unique<ControlTables>(*target, settings.control_tables_settings,
                                              args.task_name);
  }
  spdlog::info("validating {} table(s) from {} against {} ({} at a time)", plans.size(),
               source->uri().Describe(), target->uri().Describe(),
               settings.validation_settings.thread_count);
  ValidatorOptions options;
  options.task_name = args.task_name;
  Validator validator(*source, *target, settings.validation_settings, control.get(), options);
  std::vector<TableValidation> results = validator.Run(plans);

  bool all_validated = true;
  for (const TableValidation& r : results) {
    if (r.state != kValidationValidated) all_validated = false;
  }
  if (args.json) {
    nlohmann::json tables_json = nlohmann::json::array();
    for (const TableValidation& r : results) tables_json.push_back(ResultJson(r));
    std::cout << nlohmann::json{{"TableStatistics", tables_json}}.dump(
                     2, ' ', false, nlohmann::json::error_handler_t::replace)
              << std::endl;
    return all_validated ? 0 : 1;
  }
  size_t width = 5;
  for (const TableValidation& r : results) width = std::max(width, r.source_name.size());
  width = std::min<size_t>(width, 60);
  std::string out = fmt::format("{:<{}}  {:<20} {:>12} {:>12} {:>8} {:>8}\n", "Table", width,
                                "ValidationState", "SourceRows", "TargetRows", "Failed",
                                "Pending");
  size_t validated = 0;
  std::string notes;
  for (const TableValidation& r : results) {
    if (r.state == kValidationValidated) ++validated;
    out += fmt::format("{:<{}}  {:<20} {:>12} {:>12} {:>8} {:>8}\n", r.source_name, width,
                       r.state, r.source_rows, r.target_rows, r.failed, r.pending);
    if (!r.message.empty()) notes += fmt::format("  {}: {}\n", r.source_name, r.message);
    size_t shown = 0;
    for (const RowDifference& d : r.differences) {
      if (shown++ >= args.max_failures_shown) {
        notes += fmt::format("    ... {} more (see {})\n", r.differences.size() - (shown - 1),
                             control ? control->QualifiedName(kValidationFailuresTable)
                                     : std::string("--json"));
        break;
      }
      notes += fmt::format("    {} {}{}{}\n", FailureTypeName(d.type), d.key_json,
                           d.type == FailureType::kRecordDiff ? " " : "",
                           d.type == FailureType::kRecordDiff ? d.details : "");
    }
  }
  out += fmt::format("{} of {} tables validated\n", validated, results.size());
  std::cout << out << notes << std::flush;
  return all_validated ? 0 : 1;
}

}  // namespace ferry
