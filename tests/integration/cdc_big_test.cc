// Rows larger than 16 MB through change data capture, on the real servers: a PostgreSQL source
// row with a 17 MB text and a 17 MB bytea is inserted, updated in another column (its large
// values stay TOASTed and arrive unchanged), updated in the large columns themselves and
// deleted, while a full-load-and-cdc task streams into PostgreSQL, MariaDB and SQLite; the
// target must equal the source by canonical row hash. MariaDB runs twice: with the server's own
// max_allowed_packet, and with the applier's statement limit forced to 1 MB so that the changes
// too large for one statement go through its LOAD DATA path (my_applier.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "connectors/mysql/my_applier.h"
#include "engine/cdc_task.h"
#include "cdc_test_env.h"

namespace ferry {
namespace {

using testing::Open;
using testing::PostgresUri;

constexpr const char* kSrc = "big_src";

struct BigCase {
  Engine engine;
  size_t statement_limit;  // MySQL applier limit forced for the test; 0 = the server's
  const char* name;
};

// 17 MB of text (with multi-byte characters) and of bytes (every byte value).
constexpr const char* kBigText = "'é€' || repeat(md5(id::text) || 'ü', (17 * 1048576) / 34 + 1)";
constexpr const char* kBigBytes =
    "(SELECT string_agg(decode(lpad(to_hex(g % 256), 2, '0'), 'hex'), ''::bytea) "
    "FROM generate_series(0, 255) g) || decode(repeat(md5(id::text), (17 * 1048576) / 16), "
    "'hex')";

class CdcBigTest : public ::testing::TestWithParam<BigCase>, protected testing::CdcFixture {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    if (GetParam().engine == Engine::kMysql) FERRY_REQUIRE_MYSQL();
    std::string task = fmt::format("big-cdc-{}", GetParam().name);
    for (char& c : task) c = c == '_' ? '-' : c;  // task names take hyphens only
    SetUpCdc(GetParam().engine, task,
             GetParam().engine == Engine::kMysql ? fmt::format("big_dst_{}", GetParam().name)
                                                 : "big_dst");
    admin_->Execute(std::string("DROP SCHEMA IF EXISTS ") + kSrc + " CASCADE; CREATE SCHEMA " +
                    kSrc);
    admin_->Execute(
        "CREATE TABLE big_src.blobs (id integer PRIMARY KEY, n integer, t text, "
        "b bytea)");
    admin_->Execute("INSERT INTO big_src.blobs VALUES (1, 1, 'small', '\\x00ff')");
    mysql::MyChangeApplier::SetStatementLimitForTesting(GetParam().statement_limit);
  }
  void TearDown() override {
    mysql::MyChangeApplier::SetStatementLimitForTesting(0);
    if (admin_) {
      try {
        admin_->Execute(std::string("DROP SCHEMA IF EXISTS ") + kSrc + " CASCADE");
      } catch (const std::exception&) {
      }
    }
    TearDownCdc();
  }
  CdcTaskOptions Options() const { return BaseOptions(); }
  std::vector<TablePlan> Plans() { return PlansFor(kSrc); }
  std::string Converge(std::chrono::seconds timeout) { return ConvergeFrom(kSrc, timeout); }
};

TEST_P(CdcBigTest, SeventeenMegabyteValues) {
  auto task = std::make_unique<CdcTask>(*source_, *target_, Plans(), Options());
  std::thread runner([&] { task->Run(); });
  // The checks run in a lambda so that a failed ASSERT still stops and joins the task.
  const auto checks = [&] {
    std::string diff = Converge(std::chrono::seconds(60));
    ASSERT_EQ(diff, "") << "after the full load";

    // Insert two rows with large values; update one in a small column (the large values stay
    // unchanged TOAST), then in its large columns; delete the other.
    admin_->Execute(
        fmt::format("INSERT INTO big_src.blobs SELECT id, id, {}, {} "
                    "FROM (VALUES (2), (3)) v(id)",
                    kBigText, kBigBytes));
    admin_->Execute("UPDATE big_src.blobs SET n = n + 100 WHERE id = 2");
    diff = Converge(std::chrono::seconds(120));
    EXPECT_EQ(diff, "") << "after the insert and the update of a small column";
    admin_->Execute(
        "UPDATE big_src.blobs SET t = t || 'ß', b = b || '\\x00ff'::bytea, n = 7 "
        "WHERE id = 2");
    admin_->Execute("DELETE FROM big_src.blobs WHERE id = 3");
    diff = Converge(std::chrono::seconds(120));
    EXPECT_EQ(diff, "") << "after the update of the large columns and the delete";
    auto rows = admin_->Query(
        "SELECT octet_length(t), octet_length(b) FROM big_src.blobs "
        "WHERE id = 2");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_GT(std::stoll(*rows[0][0]), 17 * 1048576);
    EXPECT_GT(std::stoll(*rows[0][1]), 17 * 1048576);
  };
  try {
    checks();
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }

  task->Stop();
  runner.join();
  EXPECT_FALSE(task->failed()) << task->stop_reason();
  for (const auto& st : task->stats()) {
    MutexLock lock(st->mu);
    EXPECT_EQ(st->state, kStateCompleted) << st->SourceName() << ": " << st->error;
    EXPECT_EQ(st->applied_inserts, 2) << st->SourceName();
    EXPECT_EQ(st->applied_updates, 2) << st->SourceName();
    EXPECT_EQ(st->applied_deletes, 1) << st->SourceName();
  }
  task.reset();
  if (GetParam().engine == Engine::kMysql) {
    target_->OpenSession()->Execute("DROP DATABASE IF EXISTS " + target_schema_);
  } else if (GetParam().engine == Engine::kPostgres) {
    target_->OpenSession()->Execute("DROP SCHEMA IF EXISTS big_dst CASCADE");
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, CdcBigTest,
                         ::testing::Values(BigCase{Engine::kPostgres, 0, "postgres"},
                                           BigCase{Engine::kMysql, 0, "mysql"},
                                           BigCase{Engine::kMysql, 1u << 20, "mysql_1mb"},
                                           BigCase{Engine::kSqlite, 0, "sqlite"}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ferry
