#include "cli/status_command.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "task/task_store.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;

class StatusCommandTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(testing::TempDir()) / "ferry-status-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // 2023-11-14T22:13:20Z plus `s` seconds, in microseconds.
  static int64_t At(int64_t s) { return (1'700'000'000 + s) * 1'000'000; }

  void BuildStore() {
    auto store = TaskStore::Open(dir_);
    TaskRecord t;
    t.name = "store-cdc";
    t.migration_type = "full-load-and-cdc";
    t.source_endpoint = "postgresql://ferry:secret@127.0.0.1:55432/ferry";
    t.target_endpoint = "sqlite:///tmp/out.db";
    t.table_mappings_json = R"({"rules":[]})";
    t.status = "running";
    t.slot = "ferry_store_slot";
    t.publication = "ferry_store_pub";
    t.cdc_start_position = "0/16B3748";
    t.recovery_checkpoint = "0/16B9000";
    t.source_position = "0/16BA000";
    t.applied_position = "0/16B9000";
    t.created_at_us = At(0);
    t.started_at_us = At(10);
    t.updated_at_us = At(70);
    t.cdc_latency_source_s = 2;
    t.cdc_latency_target_s = 3;
    t.memory_bytes = 3 * 1024 * 1024 / 2;
    t.spilled_bytes = 0;
    t.pending_changes = 12;
    store->PutTask(t);

    TableRecord a;
    a.index = 0;
    a.source_schema = "public";
    a.source_table = "orders";
    a.target_schema = "main";
    a.target_table = "orders";
    a.state = "Table completed";
    a.cdc_live = true;
    a.load_position = "0/16B4000";
    a.full_load_rows = 1000;
    a.inserts = 10;
    a.updates = 20;
    a.deletes = 30;
    a.ddls = 1;
    a.applied_inserts = 9;
    a.applied_updates = 19;
    a.applied_deletes = 29;
    a.applied_ddls = 1;
    a.load_start_us = At(11);
    a.load_end_us = At(15);
    a.updated_at_us = At(70);
    a.validation_state = "Mismatched records";
    a.validation_pending = 4;
    a.validation_failed = 2;
    TableRecord b;
    b.index = 1;
    b.source_schema = "public";
    b.source_table = "items";
    b.target_schema = "main";
    b.target_table = "items";
    b.state = "Table error";
    b.apply_errors = 2;
    b.last_error = "value too long for column name";
    b.load_start_us = At(12);
    b.updated_at_us = At(70);
    TableRecord c;
    c.index = 2;
    c.source_schema = "public";
    c.source_table = "later";
    c.target_schema = "main";
    c.target_table = "later";
    c.state = "Before load";
    store->PutTables("store-cdc", {a, b, c});

    TaskRecord done;
    done.name = "store-done";
    done.migration_type = "full-load";
    done.status = "stopped";
    done.stop_reason = "Stop Reason FULL_LOAD_ONLY_FINISHED";
    done.started_at_us = At(0);
    done.stopped_at_us = At(5);
    store->PutTask(done);
    TableRecord whole;
    whole.index = 0;
    whole.source_schema = "public";
    whole.source_table = "orders";
    whole.target_schema = "main";
    whole.target_table = "orders";
    whole.state = "Table completed";
    whole.full_load_rows = 1200;
    TableRecord cut = whole;
    cut.index = 1;
    cut.source_table = cut.target_table = "events";
    cut.state = "Table cancelled";
    cut.full_load_rows = 500;
    cut.segments = R"([{"predicate":"a"},{"predicate":"b"},{"predicate":"c"}])";
    cut.segments_done = "0:250,2:250";
    store->PutTables("store-done", {whole, cut});
  }

  static StatusOptions Opts(const std::string& task = "", bool json = false,
                            const fs::path& data_dir = {}) {
    StatusOptions o;
    o.task = task;
    o.json = json;
    o.data_dir = data_dir;
    return o;
  }

  int Run(StatusOptions o, std::string* out, std::string* err) {
    std::ostringstream os, es;
    if (o.data_dir.empty()) o.data_dir = dir_;
    o.now_us = At(100);
    int rc = RunStatusCommand(o, os, es);
    *out = os.str();
    *err = es.str();
    return rc;
  }

  fs::path dir_;
};

TEST_F(StatusCommandTest, Text) {
  BuildStore();
  std::string out, err;
  ASSERT_EQ(Run(Opts("store-cdc"), &out, &err), 0) << err;
  EXPECT_EQ(err, "");
  EXPECT_NE(out.find("Task store-cdc (full-load-and-cdc): running\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  Source               postgresql://ferry:***@127.0.0.1:55432/ferry\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("secret"), std::string::npos) << out;
  EXPECT_NE(out.find("  Started              2023-11-14T22:13:30.000Z\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("  Elapsed              90.0 s\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  Replication slot     ferry_store_slot\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  CDC start position   0/16B3748\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  Read position        0/16BA000\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  Applied position     0/16B9000\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  CDC latency          source 2 s, target 3 s\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("  Memory               1.5 MiB in use, 0 B spilled, 12 changes pending\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("  Tables               3: 1 loaded, 0 loading, 1 queued, 1 errored\n"),
            std::string::npos)
      << out;
  // The table of tables: header, then one row per table in index order.
  std::istringstream lines(out);
  std::string line;
  std::vector<std::string> table_lines;
  bool in_table = false;
  while (std::getline(lines, line)) {
    if (line.find("  #  Source table") == 0) in_table = true;
    if (in_table && !line.empty()) table_lines.push_back(line);
  }
  ASSERT_GE(table_lines.size(), 4u) << out;
  EXPECT_NE(table_lines[0].find("State            CDC   Full load rows  Inserts  Updates"),
            std::string::npos)
      << out;
  EXPECT_NE(table_lines[0].find("Applied ins  Applied upd  Applied del  Applied DDLs  Errors"),
            std::string::npos)
      << out;
  EXPECT_NE(table_lines[1].find("0  public.orders  main.orders   Table completed  live"),
            std::string::npos)
      << out;
  EXPECT_NE(table_lines[1].find("1000       10       20       30     1            9"),
            std::string::npos)
      << table_lines[1];
  EXPECT_NE(table_lines[2].find("1  public.items   main.items    Table error      -"),
            std::string::npos)
      << out;
  EXPECT_NE(table_lines[3].find("2  public.later   main.later    Before load"), std::string::npos)
      << out;
  EXPECT_NE(out.find("  Validation:\n    public.orders: Mismatched records (4 pending, 2 failed, 0 "
                     "suspended)\n  Table errors:\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("  Table errors:\n    public.items: value too long for column name\n"),
            std::string::npos)
      << out;
}

TEST_F(StatusCommandTest, TextAllTasks) {
  BuildStore();
  std::string out, err;
  ASSERT_EQ(Run(Opts(), &out, &err), 0) << err;
  size_t cdc = out.find("Task store-cdc (full-load-and-cdc): running");
  size_t done = out.find("Task store-done (full-load): stopped\n"
                         "  Stop reason          Stop Reason FULL_LOAD_ONLY_FINISHED\n");
  ASSERT_NE(cdc, std::string::npos) << out;
  ASSERT_NE(done, std::string::npos) << out;
  EXPECT_LT(cdc, done);
  // A full-load task has no CDC lines, and its elapsed time ends when it stopped.
  EXPECT_EQ(out.find("CDC latency", done), std::string::npos) << out;
  EXPECT_NE(out.find("  Elapsed              5.0 s\n", done), std::string::npos) << out;
  // Its tables show the load's figures, not change counters: the segments a resume keeps.
  EXPECT_EQ(out.find("Applied ins", done), std::string::npos) << out;
  EXPECT_NE(out.find("Segments done", done), std::string::npos) << out;
  const size_t events = out.find("public.events", done);
  ASSERT_NE(events, std::string::npos) << out;
  const std::string row = out.substr(events, out.find('\n', events) - events);
  EXPECT_NE(row.find("Table cancelled"), std::string::npos) << row;
  EXPECT_NE(row.find("500"), std::string::npos) << row;
  EXPECT_NE(row.find("2/3"), std::string::npos) << row;
}

TEST_F(StatusCommandTest, Json) {
  BuildStore();
  std::string out, err;
  ASSERT_EQ(Run(Opts("", true), &out, &err), 0) << err;
  nlohmann::json j = nlohmann::json::parse(out);
  ASSERT_EQ(j["ReplicationTasks"].size(), 2u);
  const nlohmann::json& t = j["ReplicationTasks"][0];
  EXPECT_EQ(t["ReplicationTaskIdentifier"], "store-cdc");
  EXPECT_EQ(t["MigrationType"], "full-load-and-cdc");
  EXPECT_EQ(t["Status"], "running");
  EXPECT_FALSE(t.contains("StopReason"));
  EXPECT_EQ(t["TableMappings"], R"({"rules":[]})");
  EXPECT_EQ(t["CdcStartPosition"], "0/16B3748");
  EXPECT_EQ(t["RecoveryCheckpoint"], "0/16B9000");
  EXPECT_EQ(t["ReplicationTaskCreationDate"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(t["ReplicationTaskStartDate"], "2023-11-14T22:13:30.000Z");
  const nlohmann::json& s = t["ReplicationTaskStats"];
  EXPECT_EQ(s["TablesLoaded"], 1);
  EXPECT_EQ(s["TablesLoading"], 0);
  EXPECT_EQ(s["TablesQueued"], 1);
  EXPECT_EQ(s["TablesErrored"], 1);
  EXPECT_EQ(s["FullLoadProgressPercent"], 33);
  EXPECT_EQ(s["ElapsedTimeMillis"], 90'000);
  EXPECT_EQ(s["FullLoadStartDate"], "2023-11-14T22:13:31.000Z");
  EXPECT_FALSE(s.contains("FullLoadFinishDate"));
  const nlohmann::json& f = t["Ferry"];
  EXPECT_EQ(f["SourceEndpoint"], "postgresql://ferry:***@127.0.0.1:55432/ferry");
  EXPECT_EQ(f["TargetEndpoint"], "sqlite:///tmp/out.db");
  EXPECT_EQ(f["SlotName"], "ferry_store_slot");
  EXPECT_EQ(f["PublicationName"], "ferry_store_pub");
  EXPECT_EQ(f["SourcePosition"], "0/16BA000");
  EXPECT_EQ(f["AppliedPosition"], "0/16B9000");
  EXPECT_EQ(f["CDCLatencySource"], 2);
  EXPECT_EQ(f["CDCLatencyTarget"], 3);
  EXPECT_EQ(f["MemoryBytes"], 3 * 1024 * 1024 / 2);
  EXPECT_EQ(f["SpilledBytes"], 0);
  EXPECT_EQ(f["PendingChanges"], 12);
  EXPECT_EQ(out.find("secret"), std::string::npos);

  const nlohmann::json& ts = t["TableStatistics"];
  ASSERT_EQ(ts.size(), 3u);
  EXPECT_EQ(ts[0]["SchemaName"], "public");
  EXPECT_EQ(ts[0]["TableName"], "orders");
  EXPECT_EQ(ts[0]["TargetSchemaName"], "main");
  EXPECT_EQ(ts[0]["TargetTableName"], "orders");
  EXPECT_EQ(ts[0]["TableState"], "Table completed");
  EXPECT_EQ(ts[0]["FullLoadRows"], 1000);
  EXPECT_EQ(ts[0]["Inserts"], 10);
  EXPECT_EQ(ts[0]["Updates"], 20);
  EXPECT_EQ(ts[0]["Deletes"], 30);
  EXPECT_EQ(ts[0]["Ddls"], 1);
  EXPECT_EQ(ts[0]["AppliedInserts"], 9);
  EXPECT_EQ(ts[0]["AppliedUpdates"], 19);
  EXPECT_EQ(ts[0]["AppliedDeletes"], 29);
  EXPECT_EQ(ts[0]["AppliedDdls"], 1);
  EXPECT_EQ(ts[0]["CdcLive"], true);
  EXPECT_EQ(ts[0]["LoadPosition"], "0/16B4000");
  EXPECT_EQ(ts[0]["FullLoadStartTime"], "2023-11-14T22:13:31.000Z");
  EXPECT_EQ(ts[0]["FullLoadEndTime"], "2023-11-14T22:13:35.000Z");
  EXPECT_EQ(ts[0]["LastUpdateTime"], "2023-11-14T22:14:30.000Z");
  EXPECT_FALSE(ts[0].contains("Error"));
  EXPECT_EQ(ts[0]["ValidationState"], "Mismatched records");
  EXPECT_EQ(ts[0]["ValidationPendingRecords"], 4);
  EXPECT_EQ(ts[0]["ValidationFailedRecords"], 2);
  EXPECT_EQ(ts[0]["ValidationSuspendedRecords"], 0);
  EXPECT_FALSE(ts[1].contains("ValidationState"));  // validation not enabled
  EXPECT_EQ(ts[1]["TableState"], "Table error");
  EXPECT_EQ(ts[1]["ApplyErrors"], 2);
  EXPECT_EQ(ts[1]["Error"], "value too long for column name");
  EXPECT_FALSE(ts[1].contains("FullLoadEndTime"));

  const nlohmann::json& d = j["ReplicationTasks"][1];
  EXPECT_EQ(d["ReplicationTaskIdentifier"], "store-done");
  EXPECT_EQ(d["StopReason"], "Stop Reason FULL_LOAD_ONLY_FINISHED");
  EXPECT_EQ(d["ReplicationTaskStats"]["ElapsedTimeMillis"], 5000);
  EXPECT_EQ(d["ReplicationTaskStats"]["StopDate"], "2023-11-14T22:13:25.000Z");
  ASSERT_EQ(d["TableStatistics"].size(), 2u);
  EXPECT_EQ(d["TableStatistics"][1]["TableState"], "Table cancelled");
  EXPECT_EQ(d["TableStatistics"][1]["FullLoadRows"], 500);

  // One task only.
  ASSERT_EQ(Run(Opts("store-done", true), &out, &err), 0) << err;
  j = nlohmann::json::parse(out);
  ASSERT_EQ(j["ReplicationTasks"].size(), 1u);
  EXPECT_EQ(j["ReplicationTasks"][0]["ReplicationTaskIdentifier"], "store-done");
}

TEST_F(StatusCommandTest, UnknownTaskNamesTheOthers) {
  BuildStore();
  std::string out, err;
  EXPECT_EQ(Run(Opts("store-nope"), &out, &err), 1);
  EXPECT_EQ(out, "");
  EXPECT_NE(err.find("no task 'store-nope' in task store '" + (dir_ / "ferry.db").string() +
                     "'; its tasks are: store-cdc, store-done"),
            std::string::npos)
      << err;
}

TEST_F(StatusCommandTest, EmptyStore) {
  TaskStore::Open(dir_);
  std::string out, err;
  EXPECT_EQ(Run(Opts(), &out, &err), 0) << err;
  EXPECT_NE(out.find("No tasks in task store"), std::string::npos) << out;
  EXPECT_EQ(Run(Opts("", true), &out, &err), 0) << err;
  EXPECT_TRUE(nlohmann::json::parse(out)["ReplicationTasks"].empty());
  EXPECT_EQ(Run(Opts("store-x"), &out, &err), 1);
  EXPECT_NE(err.find("it has no tasks"), std::string::npos) << err;
}

TEST_F(StatusCommandTest, NoStore) {
  std::string out, err;
  EXPECT_EQ(Run(Opts(), &out, &err), 1);
  EXPECT_EQ(out, "");
  EXPECT_NE(err.find("ferry status: data directory '" + dir_.string() + "' has no task store"),
            std::string::npos)
      << err;
  EXPECT_FALSE(fs::exists(dir_ / "ferry.db"));  // status creates nothing
  EXPECT_EQ(Run(Opts("", false, dir_ / "missing"), &out, &err), 1);
  EXPECT_NE(err.find("does not exist"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir_ / "missing"));
}

}  // namespace
}  // namespace ferry
