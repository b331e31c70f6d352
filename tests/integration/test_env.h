// Shared helpers for integration tests against the real servers started by
// scripts/servers.sh. Tests call RequirePostgres()/RequireMysql() first: they skip with a
// message naming the variable when the server is not configured.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "change/change_applier.h"
#include "connectors/connector.h"
#include "endpoint/endpoint_uri.h"
#include "engine/full_load.h"
#include "engine/table_digest.h"
#include "task_model/plan.h"
#include "types/value_codec.h"

namespace ferry::testing {

inline std::string EnvOr(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

// The base URI of the test PostgreSQL server, e.g. postgresql://ferry:ferry@127.0.0.1:55432/ferry
inline std::string PostgresUri() { return EnvOr("FERRY_TEST_PG_URI"); }
inline std::string MysqlUri() { return EnvOr("FERRY_TEST_MYSQL_URI"); }

// Why a test over `engines` cannot run here (a server it needs is not configured), or "" when
// it can: for GTEST_SKIP in tests parameterized by engine.
inline std::string MissingServerFor(std::initializer_list<Engine> engines) {
  for (Engine e : engines) {
    if (e == Engine::kPostgres && PostgresUri().empty()) {
      return "FERRY_TEST_PG_URI is not set: start servers with scripts/servers.sh";
    }
    if (e == Engine::kMysql && MysqlUri().empty()) {
      return "FERRY_TEST_MYSQL_URI is not set: start servers with scripts/servers.sh";
    }
  }
  return "";
}

// A short tag for test and object names: "pg", "my", "lite".
inline const char* EngineTag(Engine e) {
  switch (e) {
    case Engine::kPostgres: return "pg";
    case Engine::kMysql: return "my";
    case Engine::kSqlite: return "lite";
  }
  return "?";
}

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

inline std::unique_ptr<SqlConnector> Open(const std::string& uri) {
  return OpenSqlConnector(std::move(ParseEndpointUri(uri)).ValueOrThrow());
}

// A test over an ordered pair of engines (source, target) whose namespaces live on the test
// servers or, for SQLite, as files in tmp_.
class EnginePairTest : public ::testing::TestWithParam<std::tuple<Engine, Engine>> {
 protected:
  Engine src() const { return std::get<0>(GetParam()); }
  Engine dst() const { return std::get<1>(GetParam()); }
  // Skips the test when a server of the pair is not configured; else makes tmp_ a fresh
  // directory named after `name` and the pair. Callers return when IsSkipped().
  void PrepareDirectory(const std::string& name) {
    if (const std::string why = MissingServerFor({src(), dst()}); !why.empty()) {
      GTEST_SKIP() << why;
    }
    tmp_ = std::filesystem::temp_directory_path() /
           fmt::format("ferry-it-{}-{}-{}-{}", name, EngineTag(src()), EngineTag(dst()),
                       ::getpid());
    std::filesystem::remove_all(tmp_);
    std::filesystem::create_directories(tmp_);
  }
  void TearDown() override {
    if (!tmp_.empty()) std::filesystem::remove_all(tmp_);
  }
  // The URI of namespace `ns` on `e`: PostgreSQL the server (ns is a schema), MySQL the
  // database `ns`, SQLite the file tmp_/<ns>.db.
  std::string UriFor(Engine e, const std::string& ns) const {
    switch (e) {
      case Engine::kPostgres: return PostgresUri();
      case Engine::kMysql: return WithDatabase(MysqlUri(), ns);
      case Engine::kSqlite: return "sqlite://" + (tmp_ / (ns + ".db")).string();
    }
    return "";
  }
  // Drops namespace `ns` on `e` when it is there (SQLite files go with tmp_).
  static void DropNamespace(Engine e, const std::string& ns) {
    if (e == Engine::kPostgres) {
      Open(PostgresUri())->OpenSession()->Execute("DROP SCHEMA IF EXISTS " + ns + " CASCADE");
    } else if (e == Engine::kMysql) {
      Open(MysqlUri())->OpenSession()->Execute("DROP DATABASE IF EXISTS " + ns);
    }
  }

  std::filesystem::path tmp_;
};

// Plans and runs a full load of every table of `source_schema` into `target` (DROP_AND_CREATE),
// like `ferry migrate`, and returns the finished load for its statistics.
inline std::unique_ptr<FullLoad> RunFullLoad(SqlConnector& source, const std::string& source_schema,
                                             SqlConnector& target, const std::string& target_schema,
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
    MutexLock lock(st->mu);
    if (st->state != kStateCompleted) {
      out += st->SourceName() + ": " + st->state + ": " + st->error + "\n";
    }
  }
  return out;
}

// Digest of every table in `schema`, keyed by table name.
inline std::map<std::string, TableDigest> DigestAll(SqlConnector& c, const std::string& schema,
                                                    bool keep_rows = false) {
  std::map<std::string, TableDigest> out;
  auto reader = c.OpenReader();
  for (const TableDef& t : c.OpenCatalog()->ListTables(schema)) {
    out[t.name] = DigestTable(*reader, t, keep_rows);
  }
  return out;
}

// A row as canonical text per column (nullopt for NULL).
using CanonicalRow = std::vector<std::optional<std::string>>;

// Every row of `batches` (read from `table`) as canonical text, in order.
inline std::vector<CanonicalRow> CanonicalRows(const std::vector<Batch>& batches,
                                               const TableDef& table) {
  std::vector<CanonicalRow> out;
  for (const Batch& b : batches) {
    for (size_t r = 0; r < b.rows(); ++r) {
      CanonicalRow row;
      for (int c = 0; c < b.columns(); ++c) {
        if (b.IsNull(r, c)) {
          row.emplace_back(std::nullopt);
          continue;
        }
        std::string v;
        AppendCanonical(b, r, c, table.columns[c].type, &v);
        row.emplace_back(std::move(v));
      }
      out.push_back(std::move(row));
    }
  }
  return out;
}

// Scans every row of `table` through `c`'s reader, as canonical text, in scan order.
inline std::vector<CanonicalRow> ScanCanonical(SqlConnector& c, const TableDef& table) {
  struct Sink : BatchSink {
    bool Push(Batch&& b) override {
      batches.push_back(std::move(b));
      return true;
    }
    void Warning(int, std::string_view) override {}
    std::vector<Batch> batches;
  } sink;
  c.OpenReader()->Scan(table, ScanOptions{}, sink);
  return CanonicalRows(sink.batches, table);
}

// Apply issues (change/change_applier.h) as "tag outcome" text, e.g. "2 duplicate, 4 no row".
inline std::string IssuesText(const std::vector<cdc::ApplyIssue>& issues) {
  std::string out;
  for (const cdc::ApplyIssue& i : issues) {
    if (!out.empty()) out += ", ";
    out += std::to_string(i.tag);
    out += i.outcome == cdc::ApplyOutcome::kDuplicate ? " duplicate"
           : i.outcome == cdc::ApplyOutcome::kNoRow   ? " no row"
                                                      : " applied";
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

// The ferry binary the tests run: FERRY_TEST_BINARY when set (e.g. a copy kept for a long soak
// while the tree is rebuilt), else the one built with the tests (FERRY_BINARY).
inline std::string FerryBinary() {
  const char* env = std::getenv("FERRY_TEST_BINARY");
  return env && *env ? std::string(env) : std::string(FERRY_BINARY);
}

// Every task run by the tests lives in the task store of the data directory (full loads
// too): unless FERRY_DATA_DIR is set, each test process gets its own, so concurrent test
// processes (and the developer's own tasks) never share task names or locks.
inline void UseOwnDataDir() {
  const char* set = std::getenv("FERRY_DATA_DIR");
  if (set && *set) return;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("ferry-test-data-{}", ::getpid());
  ::setenv("FERRY_DATA_DIR", dir.c_str(), 1);
}

// Runs the ferry binary (FerryBinary()) with `args`, each passed as one word; stdout and stderr
// captured separately.
inline CliRun RunFerry(const std::vector<std::string>& args) {
  UseOwnDataDir();
  static int n = 0;
  const std::filesystem::path err_file =
      std::filesystem::temp_directory_path() / fmt::format("ferry-cli-{}-{}.err", ::getpid(), n++);
  std::string cmd = ShellQuote(FerryBinary());
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

// A ferry process started in the background by StartFerry; stdout and stderr go to files.
struct FerryProcess {
  pid_t pid = -1;
  int status = 0;      // wait status, once it has ended
  bool ended = false;  // reaped (by Running, WaitFerry or KillFerry)
  std::filesystem::path out_file, err_file;
};

// Starts the ferry binary (FerryBinary()) with `args`, each passed as one word, and returns at
// once: the caller can kill -9 it (KillFerry) or wait for it (WaitFerry).
inline FerryProcess StartFerry(const std::vector<std::string>& args) {
  UseOwnDataDir();
  static int n = 0;
  FerryProcess p;
  const std::filesystem::path tmp = std::filesystem::temp_directory_path();
  p.out_file = tmp / fmt::format("ferry-bg-{}-{}.out", ::getpid(), n);
  p.err_file = tmp / fmt::format("ferry-bg-{}-{}.err", ::getpid(), n++);
  std::vector<std::string> words{FerryBinary()};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(words.size() + 1);
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  const int out = ::open(p.out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err = ::open(p.err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  p.pid = ::fork();
  if (p.pid == 0) {  // the child: only async-signal-safe calls until exec
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no orphan holding a replication slot
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
  return p;
}

// True while `p` runs; reaps it (keeping its status) once it has ended.
inline bool Running(FerryProcess& p) {
  if (p.ended || p.pid <= 0) return false;
  if (::waitpid(p.pid, &p.status, WNOHANG) == p.pid) p.ended = true;
  return !p.ended;
}

// Waits for `p` to end and returns what it printed; exit_code is -1 when a signal ended it.
// Removes the output files.
inline CliRun WaitFerry(FerryProcess& p) {
  CliRun run;
  if (!p.ended && p.pid > 0) {
    while (::waitpid(p.pid, &p.status, 0) < 0 && errno == EINTR) {
    }
    p.ended = true;
  }
  run.exit_code = WIFEXITED(p.status) ? WEXITSTATUS(p.status) : -1;
  auto slurp = [](const std::filesystem::path& f) {
    std::string text;
    if (FILE* in = fopen(f.c_str(), "r")) {
      char buf[4096];
      size_t got;
      while ((got = fread(buf, 1, sizeof buf, in)) > 0) text.append(buf, got);
      fclose(in);
    }
    std::filesystem::remove(f);
    return text;
  };
  run.out = slurp(p.out_file);
  run.err = slurp(p.err_file);
  return run;
}

// kill -9: sends SIGKILL to `p` (when it still runs) and waits for it.
inline CliRun KillFerry(FerryProcess& p) {
  if (Running(p)) ::kill(p.pid, SIGKILL);
  return WaitFerry(p);
}

// Peak resident set size of a running process in KiB (VmHWM in /proc/<pid>/status); 0 when it
// cannot be read (the process has ended).
inline int64_t PeakRssKib(pid_t pid) {
  FILE* f = fopen(fmt::format("/proc/{}/status", pid).c_str(), "r");
  if (!f) return 0;
  char line[256];
  int64_t kib = 0;
  while (fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  }
  fclose(f);
  return kib;
}

}  // namespace ferry::testing
