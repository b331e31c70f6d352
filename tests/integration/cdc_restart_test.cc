// Restarting the source and the target server in the middle of change processing (issue 4):
// Ferry retries with backoff (RecoverableError* settings) and converges. The servers are a
// private pair started by scripts/servers.sh in their own directory and ports, so that stopping
// them does not disturb the shared test servers. A writer keeps changing the source
// throughout (reconnecting itself when the source is down); a full-load-and-cdc task streams
// into MariaDB (source and target restarted one after the other) and into PostgreSQL (the same
// server: both restarted at once), and at the end every table equals the source by canonical
// row hash, with no apply error and the retries counted.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "cdc_test_env.h"

namespace ferry {
namespace {

using testing::Clock;

constexpr const char* kSrc = "restart_src";
constexpr const char* kDst = "restart_dst";

// scripts/servers.sh in a directory and on ports of its own.
class PrivateServers {
 public:
  PrivateServers()
      : dir_(std::filesystem::temp_directory_path() / fmt::format("ferry-restart-{}", ::getpid())),
        pg_port_(FreePort(20000 + ::getpid() % 5000)),
        my_port_(FreePort(pg_port_ + 1)) {}
  ~PrivateServers() {
    if (started_) Run("stop");
    std::filesystem::remove(dir_.string() + ".log");
    std::filesystem::remove(dir_.string() + ".lock");  // servers.sh's lock beside the base
  }
  // The first port from `from` that nothing listens on, below the kernel's ephemeral range
  // (32768-60999 on Linux): a port in that range can be taken at any moment as the local end
  // of some client connection, and a server restarted on it then fails with "Address already
  // in use" (MariaDB did, in CI, with the ports this test used before).
  static int FreePort(int from) {
    for (int port = from; port < 32000; ++port) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      ::close(fd);
      if (free) return port;
    }
    return from;
  }
  // Runs `servers.sh <command>`; false (with its output in `log()`) when it fails.
  bool Run(const std::string& command) {
    const std::string cmd = fmt::format(
        "FERRY_SERVERS_DIR={} FERRY_PG_PORT={} FERRY_MYSQL_PORT={} {}/scripts/servers.sh {} "
        ">{}.log 2>&1",
        dir_.string(), pg_port_, my_port_, FERRY_SOURCE_DIR, command, dir_.string());
    started_ |= command == "start";
    return std::system(cmd.c_str()) == 0;
  }
  std::string log() const { return testing::ReadText(dir_.string() + ".log"); }
  std::string pg_uri() const {
    return fmt::format("postgresql://ferry:ferry@127.0.0.1:{}/ferry", pg_port_);
  }
  std::string mysql_uri() const {
    return fmt::format("mysql://ferry:ferry@127.0.0.1:{}/ferry", my_port_);
  }

 private:
  std::filesystem::path dir_;
  int pg_port_, my_port_;
  bool started_ = false;
};

class CdcRestartTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    // The shared servers' variables say that this machine runs test servers.
    FERRY_REQUIRE_POSTGRES();
    if (GetParam() == Engine::kMysql) FERRY_REQUIRE_MYSQL();
    ASSERT_TRUE(servers_.Run("start")) << servers_.log();
    source_ = testing::Open(servers_.pg_uri());
    admin_ = source_->OpenSession();
    admin_->Execute(std::string("DROP SCHEMA IF EXISTS ") + kSrc + " CASCADE; CREATE SCHEMA " +
                    kSrc);
    admin_->Execute("CREATE TABLE restart_src.acc (id integer PRIMARY KEY, bal bigint NOT NULL, "
                    "note text)");
    admin_->Execute("INSERT INTO restart_src.acc SELECT g, g * 10, 'acc ' || g "
                    "FROM generate_series(1, 50000) g");
    admin_->Execute("CREATE TABLE restart_src.events (id bigserial PRIMARY KEY, acc integer, "
                    "delta integer, at timestamptz DEFAULT now())");
    target_ = testing::Open(GetParam() == Engine::kMysql ? servers_.mysql_uri()
                                                         : servers_.pg_uri());
    target_->OpenSession()->Execute(GetParam() == Engine::kMysql
                                        ? std::string("DROP DATABASE IF EXISTS ") + kDst
                                        : std::string("DROP SCHEMA IF EXISTS ") + kDst +
                                              " CASCADE");
    data_dir_ = std::filesystem::temp_directory_path() /
                fmt::format("ferry-restart-data-{}-{}", ::getpid(), EngineName(GetParam()));
    std::filesystem::remove_all(data_dir_);
  }
  void TearDown() override {
    StopWriter();
    std::filesystem::remove_all(data_dir_);
  }

  // Changes the source until StopWriter, reconnecting while the server is down.
  void StartWriter() {
    writer_ = std::thread([this] {
      std::unique_ptr<SqlConnector> c;
      std::unique_ptr<SqlSession> s;
      for (int round = 0; writing_; ++round) {
        try {
          if (!s) {
            c = testing::Open(servers_.pg_uri());
            s = c->OpenSession();
          }
          const int id = 1 + (round * 7919) % 50000;
          s->Execute(fmt::format(
              "BEGIN; UPDATE restart_src.acc SET bal = bal + 1, note = 'r{0}' WHERE id = {1}; "
              "INSERT INTO restart_src.events (acc, delta) VALUES ({1}, 1); COMMIT",
              round, id));
          if (round % 10 == 0) {
            s->Execute(fmt::format("DELETE FROM restart_src.events WHERE id = {}", round / 2));
          }
          ++written_;
        } catch (const std::exception&) {
          s.reset();
          c.reset();
          ++writer_errors_;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  void StopWriter() {
    writing_ = false;
    if (writer_.joinable()) writer_.join();
  }
  // Waits until the writer has committed `n` more transactions (false after 60 s).
  bool WaitWrites(int n) {
    const int64_t want = written_.load() + n;
    const auto until = Clock::now() + std::chrono::seconds(60);
    while (written_.load() < want && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return written_.load() >= want;
  }
  // Stops one server for `down`, then starts it again with its data.
  void Restart(const std::string& which, std::chrono::seconds down) {
    ASSERT_TRUE(servers_.Run("stop-" + which)) << servers_.log();
    std::this_thread::sleep_for(down);
    ASSERT_TRUE(servers_.Run("start")) << servers_.log();
  }

  PrivateServers servers_;
  std::unique_ptr<SqlConnector> source_, target_;
  std::unique_ptr<SqlSession> admin_;
  std::filesystem::path data_dir_;
  std::thread writer_;
  std::atomic<bool> writing_{true};
  std::atomic<int64_t> written_{0}, writer_errors_{0};
};

TEST_P(CdcRestartTest, ServerRestartsMidStreamConverge) {
  const bool mysql = GetParam() == Engine::kMysql;
  const std::string target_schema = kDst;
  std::vector<TableDef> defs = source_->OpenCatalog()->ListTables(kSrc);
  std::vector<TablePlan> plans =
      PlanTables(defs, Engine::kPostgres, *target_, target_schema, {});
  CdcTaskOptions o;
  o.task = fmt::format("restart-{}", EngineName(GetParam()));
  o.type = MigrationType::kFullLoadAndCdc;
  o.data_dir = data_dir_;
  o.full_load.prep_mode = TablePrepMode::kDropAndCreate;
  o.settings.change_processing_tuning.commit_timeout = 1;
  o.settings.error_behavior.recoverable_error_interval = 1;
  o.settings.error_behavior.recoverable_error_throttling_max = 4;
  o.settings.error_behavior.recoverable_error_stop_retry_after_throttling_max = false;
  o.heartbeat = std::chrono::seconds(1);
  auto task = std::make_unique<CdcTask>(*source_, *target_, std::move(plans), o);
  std::thread runner([&] { task->Run(); });
  StartWriter();

  const auto checks = [&] {
    // Streaming: the load is done and changes flow.
    ASSERT_TRUE(WaitWrites(200));
    const auto live_until = Clock::now() + std::chrono::seconds(60);
    while (task->progress().phase != "CHANGE PROCESSING" && Clock::now() < live_until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(WaitWrites(200));

    // The source goes away for 3 s (with the target too when it is the same server).
    Restart("pg", std::chrono::seconds(3));
    ASSERT_TRUE(WaitWrites(300)) << "the writer did not reconnect";
    if (mysql) {
      Restart("mysql", std::chrono::seconds(3));
      ASSERT_TRUE(WaitWrites(300));
    }
    StopWriter();
    // Fresh connectors for checking (the task keeps its own).
    auto source = testing::Open(servers_.pg_uri());
    auto target = testing::Open(mysql ? servers_.mysql_uri() : servers_.pg_uri());
    const std::string diff =
        testing::Converge(*source, kSrc, *target, target_schema, std::chrono::seconds(120));
    EXPECT_EQ(diff, "") << written_.load() << " writer transactions, " << writer_errors_.load()
                        << " writer errors";
    EXPECT_FALSE(task->failed()) << task->stop_reason();
    const CdcProgress p = task->progress();
    EXPECT_GE(p.source_retries, 1) << task->StatusLine();
    if (mysql) {
      EXPECT_GE(p.target_retries, 1) << task->StatusLine();
    }
    EXPECT_GT(writer_errors_.load(), 0) << "the source was never seen down";
  };
  try {
    checks();
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  StopWriter();
  task->Stop();
  runner.join();
  for (const auto& st : task->stats()) {
    MutexLock lock(st->mu);
    EXPECT_EQ(st->state, kStateCompleted) << st->SourceName() << ": " << st->error;
    EXPECT_EQ(st->cdc_apply_errors, 0) << st->SourceName();
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, CdcRestartTest,
                         ::testing::Values(Engine::kMysql, Engine::kPostgres),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

}  // namespace
}  // namespace ferry
