#include "cli/task_plan.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/error.h"
#include "endpoint/endpoint_uri.h"
#include "engine/target_names.h"

namespace ferry {

std::vector<std::string> SplitList(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const std::string& item : items) {
    size_t start = 0;
    while (start <= item.size()) {
      size_t comma = item.find(',', start);
      std::string part =
          item.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!part.empty()) out.push_back(part);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

std::string ReadFile(const std::string& path, const char* what) {
  // JSON inputs are small: a directory, a device or a pipe, or a file past this, is refused
  // before anything is read.
  constexpr uintmax_t kMaxBytes = uintmax_t{16} << 20;
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    throw Error(ErrorKind::kNotFound, fmt::format("cannot read {} file '{}': {}", what, path,
                                                  ec ? ec.message() : "no such file"));
  }
  if (std::filesystem::is_directory(st)) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{} '{}' is a directory; give the file itself", what, path));
  }
  if (!std::filesystem::is_regular_file(st)) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{} '{}' is not a regular file (a device, pipe or socket); give the "
                            "file itself",
                            what, path));
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxBytes) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{} file '{}' is {} bytes; Ferry reads such files up to {} MB",
                            what, path, size, kMaxBytes >> 20));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorKind::kNotFound, fmt::format("cannot read {} file '{}'", what, path));
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TaskSettings LoadTaskSettings(const std::string& path) {
  Result<TaskSettings> settings = ParseTaskSettings(ReadFile(path, "task settings"), path);
  if (!settings.ok()) throw settings.error();
  for (const std::string& note : SettingsNotActedOn(*settings)) {
    spdlog::warn("{}: {}", path, note);
  }
  return std::move(settings).ValueOrThrow();
}

std::unique_ptr<Connector> Connect(const std::string& text, const char* role, bool as_target,
                                   const std::string& password_file) {
  Result<EndpointUri> parsed = ParseEndpointUri(text);
  if (!parsed.ok()) throw parsed.error();
  EndpointUri uri = *parsed;
  if (!password_file.empty()) {
    const std::string what = fmt::format("{} password", role);
    if (!uri.password.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("the {} URI {} has a password and a password file '{}' is given "
                              "too: give one",
                              role, uri.Describe(), password_file));
    }
    std::string password = ReadFile(password_file, what.c_str());
    password = password.substr(0, password.find('\n'));
    if (!password.empty() && password.back() == '\r') password.pop_back();
    if (password.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("{} file '{}' is empty; its first line is the password", what,
                              password_file));
    }
    std::error_code ec;
    const auto perms = std::filesystem::status(password_file, ec).permissions();
    using std::filesystem::perms;
    if (!ec && (perms & (perms::group_all | perms::others_all)) != perms::none) {
      spdlog::warn("{} file '{}' can be read by other users; chmod 600 it", what, password_file);
    }
    uri.password = std::move(password);
  }
  std::unique_ptr<Connector> connector = OpenConnector(uri);
  try {
    connector->TestConnection();
    if (as_target) connector->TestWritable();
  } catch (const Error& e) {
    if (as_target && e.kind() == ErrorKind::kNotFound && connector->CreatesMissingDatabase()) {
      spdlog::info("target database '{}' does not exist yet; it will be created", uri.database);
      return connector;
    }
    throw Error(e.kind(), fmt::format("cannot use {} {}: {}", role, uri.Describe(), e.what()));
  }
  return connector;
}

std::unique_ptr<SqlConnector> ConnectDatabase(const std::string& text, const char* role,
                                              bool as_target, const std::string& password_file) {
  std::unique_ptr<Connector> connector = Connect(text, role, as_target, password_file);
  if (connector->sql() == nullptr) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{} {} is a {} endpoint, not a database: it can only be a target", role,
                            connector->uri().Describe(), connector->types().DisplayName()));
  }
  return std::unique_ptr<SqlConnector>(static_cast<SqlConnector*>(connector.release()));
}

std::optional<TableMappings> LoadTableMappings(const std::string& path,
                                               const std::vector<std::string>& tables) {
  if (path.empty()) return std::nullopt;
  if (!tables.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "--tables and --table-mappings both select tables: use one of them");
  }
  Result<TableMappings> parsed = ParseTableMappings(ReadFile(path, "table mappings"), path);
  if (!parsed.ok()) throw parsed.error();
  return std::move(parsed).ValueOrThrow();
}

namespace {

// One past the largest numeric rule-id of `mappings` (1 without): the id of the first rule a
// message suggests adding.
int NextRuleId(const std::optional<TableMappings>& mappings) {
  long long next = 1;
  auto see = [&](const std::string& id) {
    if (id.empty() || id.size() > 9 || id.find_first_not_of("0123456789") != std::string::npos) {
      return;
    }
    next = std::max(next, std::stoll(id) + 1);
  };
  if (mappings) {
    for (const SelectionRule& r : mappings->selections) see(r.rule_id);
    for (const TransformationRule& r : mappings->transformations) see(r.rule_id);
    for (const TableSettingsRule& r : mappings->table_settings) see(r.rule_id);
  }
  return static_cast<int>(next);
}

}  // namespace

TaskTables PlanTaskTables(Connector& source, Connector& target, const std::string& schema,
                          const std::string& target_schema,
                          const std::optional<TableMappings>& mappings,
                          const std::string& mappings_path, const std::vector<std::string>& tables,
                          const char* verb, const std::vector<TableDef>& as_of) {
  std::vector<TableDef> source_tables =
      TablesAsOf(source.OpenCatalog()->ListTables(schema), as_of);
  // Views only when a selection rule asks for them (table-type view or all).
  if (mappings && std::any_of(mappings->selections.begin(), mappings->selections.end(),
                              [](const SelectionRule& r) {
                                return r.locator.table_type != TableType::kTable;
                              })) {
    for (TableDef& v : source.OpenCatalog()->ListViews(schema)) {
      source_tables.push_back(std::move(v));
    }
  }
  std::string schema_on_target = target.uri().Param("schema");
  if (!target_schema.empty()) schema_on_target = target_schema;
  TaskTables out;
  if (mappings) {
    Result<std::vector<MappedTable>> mapped =
        ApplyTableMappings(*mappings, source_tables, mappings_path,
                           ApplyOptions{[](const TableDef& t) { return t.is_view; }});
    if (!mapped.ok()) throw mapped.error();
    out.mapped = std::move(mapped).ValueOrThrow();
    out.plans = PlanFromMappings(*out.mapped, source, target, schema_on_target);
  } else {
    const std::vector<std::string> patterns = SplitList(tables);
    // --tables selects tables only: a view named there gets said so, with what selects it.
    std::optional<std::vector<TableDef>> views;
    for (const std::string& pattern : patterns) {
      if (std::any_of(source_tables.begin(), source_tables.end(),
                      [&](const TableDef& t) { return TableSelected(t, {pattern}); })) {
        continue;
      }
      if (!views) views = source.OpenCatalog()->ListViews(schema);
      for (const TableDef& v : *views) {
        if (!TableSelected(v, {pattern})) continue;
        throw Error(ErrorKind::kNotFound,
                    fmt::format("'{}' is a view ({}): --tables selects tables only; a "
                                "--table-mappings selection rule with \"table-type\": \"view\" "
                                "(or \"all\") loads views, in full-load tasks",
                                pattern, v.QualifiedName()));
      }
    }
    out.plans = PlanTables(source_tables, source.engine(), target, schema_on_target, patterns);
  }
  if (!out.plans.empty()) {
    // Without a mappings file the suggested rules need a selection rule beside them (rule-id 1).
    std::string hint;
    if (!mappings) {
      hint = fmt::format(
          "Table-mapping rules go in a --table-mappings file, beside a selection rule such as "
          "{{\"rule-type\":\"selection\",\"rule-id\":\"1\",\"rule-name\":\"1\",\"object-locator\":"
          "{{\"schema-name\":\"{}\",\"table-name\":\"%\"}},\"rule-action\":\"include\"}}",
          schema.empty() ? "%" : schema);
    }
    CheckTargetNames(out.plans, *target.TargetNameRules(), mappings ? NextRuleId(mappings) : 2,
                     hint);
  } else {
    // Say what selected nothing, and what there is to select.
    std::vector<TableDef> all = source_tables;
    if (!schema.empty()) all = source.OpenCatalog()->ListTables("");
    std::vector<std::string> names;
    for (const TableDef& t : all) {
      if (names.size() < 20) names.push_back(t.QualifiedName());
    }
    const std::string there =
        all.empty() ? "it has no user tables"
                    : fmt::format("it has {} table(s): {}{}", all.size(), fmt::join(names, ", "),
                                  all.size() > names.size()
                                      ? fmt::format(" and {} more", all.size() - names.size())
                                      : "");
    std::string what;
    if (!schema.empty() && source_tables.empty()) {
      what = fmt::format("--schema '{}' has no user tables", schema);
    } else if (mappings) {
      what = fmt::format("the selection rules of '{}' matched none of the {} table(s) in scope",
                         mappings_path, source_tables.size());
    } else if (!tables.empty()) {
      what = "--tables matched none of the tables in scope";
    } else {
      what = "nothing to select";
    }
    throw Error(ErrorKind::kNotFound,
                fmt::format("no tables to {} from source {}: {}; {}", verb,
                            source.uri().Describe(), what, there));
  }
  return out;
}

std::vector<std::string> LeaveOutViews(TaskTables* tables) {
  std::vector<std::string> views;
  TaskTables kept;
  if (tables->mapped) kept.mapped.emplace();
  for (size_t i = 0; i < tables->plans.size(); ++i) {
    TablePlan& plan = tables->plans[i];
    if (plan.source.is_view) {
      views.push_back(plan.source.QualifiedName());
      continue;
    }
    kept.plans.push_back(std::move(plan));
    if (tables->mapped) kept.mapped->push_back(std::move((*tables->mapped)[i]));
  }
  if (kept.plans.empty() && !views.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("the selection rules select only views ({}); change data capture "
                            "does not follow views (AWS DMS loads views only in full-load "
                            "tasks): load them with --migration-type full-load",
                            fmt::join(views, ", ")));
  }
  *tables = std::move(kept);
  return views;
}

}  // namespace ferry
