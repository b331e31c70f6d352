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
#include "test_env.h"

namespace ferry {
namespace {

using testing::DigestAll;
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

std::map<std::string, TableDigest> Digests(Connector& c, const std::string& schema) {
  std::map<std::string, TableDigest> all = DigestAll(c, schema);
  for (auto it = all.begin(); it != all.end();) {
    it = it->first.rfind("awsdms_", 0) == 0 ? all.erase(it) : std::next(it);
  }
  return all;
}

std::string Diff(const std::map<std::string, TableDigest>& a,
                 const std::map<std::string, TableDigest>& b) {
  std::string out;
  for (const auto& [name, d] : a) {
    auto it = b.find(name);
    if (it == b.end()) {
      out += name + ": missing on the target\n";
    } else if (it->second.rows != d.rows || it->second.hash != d.hash) {
      out += fmt::format("{}: source {} rows {}, target {} rows {}\n", name, d.rows, d.HashHex(),
                         it->second.rows, it->second.HashHex());
    }
  }
  if (a.size() != b.size()) out += "table count differs\n";
  return out;
}

class CdcBigTest : public ::testing::TestWithParam<BigCase> {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    if (GetParam().engine == Engine::kMysql) FERRY_REQUIRE_MYSQL();
    source_ = Open(PostgresUri());
    admin_ = source_->OpenSession();
    task_ = fmt::format("big-cdc-{}", GetParam().name);
    for (char& c : task_) c = c == '_' ? '-' : c;  // task names take hyphens only
    slot_ = "ferry_big_cdc_" + std::string(GetParam().name);
    data_dir_ = std::filesystem::temp_directory_path() /
                fmt::format("ferry-big-cdc-{}-{}", ::getpid(), GetParam().name);
    std::filesystem::remove_all(data_dir_);
    DropSlot();
    admin_->Execute(std::string("DROP SCHEMA IF EXISTS ") + kSrc + " CASCADE; CREATE SCHEMA " +
                    kSrc);
    admin_->Execute(
        "CREATE TABLE big_src.blobs (id integer PRIMARY KEY, n integer, t text, "
        "b bytea)");
    admin_->Execute("INSERT INTO big_src.blobs VALUES (1, 1, 'small', '\\x00ff')");
    mysql::MyChangeApplier::SetStatementLimitForTesting(GetParam().statement_limit);
    switch (GetParam().engine) {
      case Engine::kPostgres:
        target_ = Open(PostgresUri());
        target_schema_ = "big_dst";
        target_->OpenSession()->Execute("DROP SCHEMA IF EXISTS big_dst CASCADE");
        break;
      case Engine::kMysql:
        target_ = Open(testing::MysqlUri());
        target_schema_ = std::string("big_dst_") + GetParam().name;
        target_->OpenSession()->Execute("DROP DATABASE IF EXISTS " + target_schema_);
        break;
      case Engine::kSqlite:
        sqlite_file_ = data_dir_.string() + ".db";
        std::filesystem::remove(sqlite_file_);
        target_ = Open("sqlite://" + sqlite_file_);
        target_schema_ = "main";
        break;
    }
  }
  void TearDown() override {
    mysql::MyChangeApplier::SetStatementLimitForTesting(0);
    if (admin_) {
      try {
        DropSlot();
        admin_->Execute(std::string("DROP SCHEMA IF EXISTS ") + kSrc + " CASCADE");
      } catch (const std::exception&) {
      }
    }
    std::filesystem::remove_all(data_dir_);
    if (!sqlite_file_.empty()) std::filesystem::remove(sqlite_file_);
  }
  void DropSlot() {
    admin_->Execute(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
        "WHERE slot_name = '" +
        slot_ + "' AND NOT active");
    admin_->Execute("DROP PUBLICATION IF EXISTS " + slot_);
  }
  CdcTaskOptions Options() const {
    CdcTaskOptions o;
    o.task = task_;
    o.slot = slot_;
    o.publication = "";
    o.type = MigrationType::kFullLoadAndCdc;
    o.data_dir = data_dir_;
    o.full_load.prep_mode = TablePrepMode::kDropAndCreate;
    o.settings.change_processing_tuning.commit_timeout = 1;
    o.heartbeat = std::chrono::seconds(1);
    return o;
  }
  std::vector<TablePlan> Plans() {
    std::vector<TableDef> defs = source_->OpenCatalog()->ListTables(kSrc);
    return PlanTables(defs, Engine::kPostgres, *target_, target_schema_, {});
  }
  // Waits until the target equals the source (or the timeout), returns the last difference.
  std::string Converge(std::chrono::seconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::string diff;
    while (std::chrono::steady_clock::now() < until) {
      try {
        diff = Diff(Digests(*source_, kSrc), Digests(*target_, target_schema_));
      } catch (const Error& e) {  // the target schema may not exist yet
        diff = e.what();
      }
      if (diff.empty()) return diff;
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    return diff;
  }

  std::unique_ptr<Connector> source_, target_;
  std::unique_ptr<SqlSession> admin_;
  std::filesystem::path data_dir_;
  std::string sqlite_file_, task_, slot_, target_schema_;
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
    std::lock_guard lock(st->mu);
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
