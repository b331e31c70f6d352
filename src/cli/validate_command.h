// `ferry validate`: row-level validation between two endpoints, standalone (after a load made
// by ferry, DMS or anything else). Tables are planned exactly as `ferry migrate` plans them
// (task_model/plan.h PlanTables / PlanFromMappings), so the same --tables / --table-mappings /
// --schema / --target-schema give the same source -> target pairs.
//
// Exit codes (RunValidate's return): 0 every table "Validated"; 1 some table is not (differences
// found, no primary key, or an error while comparing); bad input or no connection throws
// ferry::Error, which main turns into 2.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace ferry {

struct ValidateArgs {
  std::string source, target;
  std::string source_password_file, target_password_file;
  std::vector<std::string> tables;  // patterns, as for migrate (comma-separated allowed)
  std::string schema;               // source schema / database
  std::string target_schema;
  bool target_schema_given = false;
  std::string table_mappings;  // DMS table-mappings JSON file
  std::string task_settings;   // DMS task settings JSON file (ValidationSettings, control schema)
  std::string task_name = "ferry";  // TASK_NAME in awsdms_validation_failures_v1
  bool no_control_tables = false;   // do not write awsdms_validation_failures_v1
  bool json = false;
  size_t max_failures_shown = 20;  // per table in the text output
};

// Adds the `validate` subcommand and its flags, bound to `args`. Returns the subcommand so the
// caller can test whether it was chosen. `args` must outlive the parse.
CLI::App* AddValidateCommand(CLI::App& app, ValidateArgs* args);

// Runs the validation and prints the result (text, or JSON with --json) to stdout. Returns 0
// or 1 (see above); throws ferry::Error for bad input and connection failures.
int RunValidate(ValidateArgs args);

}  // namespace ferry
