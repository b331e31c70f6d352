// Shared helpers for integration tests against the real servers started by
// scripts/servers.sh. Tests call RequirePostgres()/RequireMysql() first: they skip with a
// message naming the variable when the server is not configured.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "endpoint/endpoint_uri.h"
#include "engine/full_load.h"
#include "engine/plan.h"
#include "engine/table_digest.h"

namespace ferry::testing {

inline std::string EnvOr(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

// The base URI of the test PostgreSQL server, e.g. postgresql://ferry:ferry@127.0.0.1:55432/ferry
inline std::string PostgresUri() { return EnvOr("FERRY_TEST_PG_URI"); }
inline std::string MysqlUri() { return EnvOr("FERRY_TEST_MYSQL_URI"); }

#define FERRY_REQUIRE_POSTGRES()                                                        \
  do {                                                                                  \
    if (::ferry::testing::PostgresUri().empty())                                        \
      GTEST_SKIP() << "FERRY_TEST_PG_URI is not set: start servers with "               \
                      "scripts/servers.sh start && eval \"$(scripts/servers.sh env)\""; \
  } while (0)
#define FERRY_REQUIRE_MYSQL()                                                           \
  do {                                                                                  \
    if (::ferry::testing::MysqlUri().empty())                                           \
      GTEST_SKIP() << "FERRY_TEST_MYSQL_URI is not set: start servers with "            \
                      "scripts/servers.sh start && eval \"$(scripts/servers.sh env)\""; \
  } while (0)

// The same server URI pointed at another database name.
inline std::string WithDatabase(const std::string& uri, const std::string& database) {
  size_t slash = uri.find('/', uri.find("://") + 3);
  size_t q = uri.find('?', slash);
  return uri.substr(0, slash + 1) + database + (q == std::string::npos ? "" : uri.substr(q));
}

inline std::unique_ptr<Connector> Open(const std::string& uri) {
  return OpenConnector(std::move(ParseEndpointUri(uri)).ValueOrThrow());
}

// Plans and runs a full load of every table of `source_schema` into `target` (DROP_AND_CREATE),
// like `ferry migrate`, and returns the finished load for its statistics.
inline std::unique_ptr<FullLoad> RunFullLoad(Connector& source, const std::string& source_schema,
                                             Connector& target, const std::string& target_schema,
                                             const std::vector<std::string>& tables = {}) {
  std::vector<TableDef> defs = source.OpenCatalog()->ListTables(source_schema);
  std::vector<TablePlan> plans =
      PlanTables(defs, source.engine(), target, target_schema, tables);
  FullLoadOptions options;
  options.prep_mode = TablePrepMode::kDropAndCreate;
  auto load = std::make_unique<FullLoad>(source, target, std::move(plans), options);
  load->Run();
  return load;
}

// Every table of the load must have completed; returns the failures as text otherwise.
inline std::string LoadFailures(const FullLoad& load) {
  std::string out;
  for (const auto& st : load.stats()) {
    std::lock_guard lock(st->mu);
    if (st->state != kStateCompleted) {
      out += st->SourceName() + ": " + st->state + ": " + st->error + "\n";
    }
  }
  return out;
}

// Digest of every table in `schema`, keyed by table name.
inline std::map<std::string, TableDigest> DigestAll(Connector& c, const std::string& schema,
                                                    bool keep_rows = false) {
  std::map<std::string, TableDigest> out;
  auto reader = c.OpenReader();
  for (const TableDef& t : c.OpenCatalog()->ListTables(schema)) {
    out[t.name] = DigestTable(*reader, t, keep_rows);
  }
  return out;
}

// The result of running the ferry binary.
struct CliRun {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// `s` as one single-quoted shell word.
inline std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs the ferry binary (FERRY_BINARY) with `args`, each passed as one word; stdout and stderr
// captured separately.
inline CliRun RunFerry(const std::vector<std::string>& args) {
  static int n = 0;
  const std::filesystem::path err_file =
      std::filesystem::temp_directory_path() / fmt::format("ferry-cli-{}-{}.err", ::getpid(), n++);
  std::string cmd = FERRY_BINARY;
  for (const std::string& a : args) cmd += " " + ShellQuote(a);
  cmd += " 2>" + err_file.string();
  CliRun run;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) run.out.append(buf, got);
  int status = ::pclose(p);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  FILE* e = fopen(err_file.c_str(), "r");
  while (e && (got = fread(buf, 1, sizeof buf, e)) > 0) run.err.append(buf, got);
  if (e) fclose(e);
  std::filesystem::remove(err_file);
  return run;
}

}  // namespace ferry::testing
