#include "task/task_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <atomic>
#include <fstream>
#include <thread>

#include "common/error.h"
#include "task/data_dir.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the test temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::path(testing::TempDir()) / "ferry-store-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TaskRecord FullTask(const std::string& name) {
  TaskRecord t;
  t.name = name;
  t.migration_type = "full-load-and-cdc";
  t.source_endpoint = "postgresql://ferry@127.0.0.1:55432/src";
  t.target_endpoint = "mysql://app@127.0.0.1:53306/dst";
  t.table_mappings_json = R"({"rules":[]})";
  t.task_settings_json = R"({"TargetMetadata":{}})";
  t.status = "running";
  t.stop_reason = "Stop Reason NORMAL";
  t.last_failure_message = "it's 'quoted'";
  t.slot = "ferry_slot";
  t.publication = "ferry_pub";
  t.cdc_start_position = "0/16B3748";
  t.recovery_checkpoint = "0/16B4000";
  t.created_at_us = 1'700'000'000'000'001;
  t.started_at_us = 1'700'000'000'000'002;
  t.stopped_at_us = 1'700'000'000'000'003;
  t.updated_at_us = 1'700'000'000'000'004;
  t.cdc_latency_source_s = 5;
  t.cdc_latency_target_s = 6;
  t.source_position = "0/16B5000";
  t.applied_position = "0/16B4800";
  t.memory_bytes = 1 << 20;
  t.spilled_bytes = int64_t{5} << 32;
  t.pending_changes = 42;
  return t;
}

TableRecord FullTable(int index) {
  TableRecord t;
  t.index = index;
  t.source_schema = "public";
  t.source_table = "t" + std::to_string(index);
  t.target_schema = "dst";
  t.target_table = "T" + std::to_string(index);
  t.state = "Full load";
  t.cdc_live = true;
  t.load_position = "0/1000";
  t.full_load_rows = 100 + index;
  t.inserts = 1;
  t.updates = 2;
  t.deletes = 3;
  t.ddls = 4;
  t.applied_inserts = 5;
  t.applied_updates = 6;
  t.applied_deletes = 7;
  t.applied_ddls = 8;
  t.apply_errors = 9;
  t.load_start_us = 1'700'000'000'000'010;
  t.load_end_us = 1'700'000'000'000'020;
  t.updated_at_us = 1'700'000'000'000'030;
  t.last_error = "duplicate key";
  t.validation_state = "Mismatched records";
  t.validation_pending = 10;
  t.validation_failed = 11;
  t.validation_suspended = 12;
  return t;
}

void ExpectSameTask(const TaskRecord& a, const TaskRecord& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.migration_type, b.migration_type);
  EXPECT_EQ(a.source_endpoint, b.source_endpoint);
  EXPECT_EQ(a.target_endpoint, b.target_endpoint);
  EXPECT_EQ(a.table_mappings_json, b.table_mappings_json);
  EXPECT_EQ(a.task_settings_json, b.task_settings_json);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.stop_reason, b.stop_reason);
  EXPECT_EQ(a.last_failure_message, b.last_failure_message);
  EXPECT_EQ(a.slot, b.slot);
  EXPECT_EQ(a.publication, b.publication);
  EXPECT_EQ(a.cdc_start_position, b.cdc_start_position);
  EXPECT_EQ(a.recovery_checkpoint, b.recovery_checkpoint);
  EXPECT_EQ(a.created_at_us, b.created_at_us);
  EXPECT_EQ(a.started_at_us, b.started_at_us);
  EXPECT_EQ(a.stopped_at_us, b.stopped_at_us);
  EXPECT_EQ(a.updated_at_us, b.updated_at_us);
  EXPECT_EQ(a.cdc_latency_source_s, b.cdc_latency_source_s);
  EXPECT_EQ(a.cdc_latency_target_s, b.cdc_latency_target_s);
  EXPECT_EQ(a.source_position, b.source_position);
  EXPECT_EQ(a.applied_position, b.applied_position);
  EXPECT_EQ(a.memory_bytes, b.memory_bytes);
  EXPECT_EQ(a.spilled_bytes, b.spilled_bytes);
  EXPECT_EQ(a.pending_changes, b.pending_changes);
}

void ExpectSameTable(const TableRecord& a, const TableRecord& b) {
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.source_schema, b.source_schema);
  EXPECT_EQ(a.source_table, b.source_table);
  EXPECT_EQ(a.target_schema, b.target_schema);
  EXPECT_EQ(a.target_table, b.target_table);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.cdc_live, b.cdc_live);
  EXPECT_EQ(a.load_position, b.load_position);
  EXPECT_EQ(a.full_load_rows, b.full_load_rows);
  EXPECT_EQ(a.inserts, b.inserts);
  EXPECT_EQ(a.updates, b.updates);
  EXPECT_EQ(a.deletes, b.deletes);
  EXPECT_EQ(a.ddls, b.ddls);
  EXPECT_EQ(a.applied_inserts, b.applied_inserts);
  EXPECT_EQ(a.applied_updates, b.applied_updates);
  EXPECT_EQ(a.applied_deletes, b.applied_deletes);
  EXPECT_EQ(a.applied_ddls, b.applied_ddls);
  EXPECT_EQ(a.apply_errors, b.apply_errors);
  EXPECT_EQ(a.load_start_us, b.load_start_us);
  EXPECT_EQ(a.load_end_us, b.load_end_us);
  EXPECT_EQ(a.updated_at_us, b.updated_at_us);
  EXPECT_EQ(a.last_error, b.last_error);
  EXPECT_EQ(a.validation_state, b.validation_state);
  EXPECT_EQ(a.validation_pending, b.validation_pending);
  EXPECT_EQ(a.validation_failed, b.validation_failed);
  EXPECT_EQ(a.validation_suspended, b.validation_suspended);
}

TEST(TaskStore, TaskRoundTripsEveryField) {
  TempDir dir;
  auto store = TaskStore::Open(dir.path());
  EXPECT_EQ(store->path(), dir.path() / "ferry.db");
  EXPECT_FALSE(store->GetTask("store-a").has_value());
  const TaskRecord in = FullTask("store-a");
  store->PutTask(in);
  auto out = store->GetTask("store-a");
  ASSERT_TRUE(out.has_value());
  ExpectSameTask(in, *out);

  // Reopened: the values are on disk.
  store.reset();
  store = TaskStore::Open(dir.path());
  out = store->GetTask("store-a");
  ASSERT_TRUE(out.has_value());
  ExpectSameTask(in, *out);

  // Replace, and the store stamps updated_at_us when it is 0.
  TaskRecord changed = in;
  changed.status = "stopped";
  changed.updated_at_us = 0;
  store->PutTask(changed);
  out = store->GetTask("store-a");
  EXPECT_EQ(out->status, "stopped");
  EXPECT_GT(out->updated_at_us, 1'700'000'000'000'004);
}

TEST(TaskStore, EndpointPasswordsAreNeverStored) {
  TempDir dir;
  auto store = TaskStore::Open(dir.path());
  TaskRecord t = FullTask("store-pw");
  t.source_endpoint = "postgresql://ferry:s3cret@127.0.0.1:55432/src?sslmode=require";
  t.target_endpoint = "mysql://app:hunter2@db/dst?password=also";
  store->PutTask(t);
  auto out = store->GetTask("store-pw");
  EXPECT_EQ(out->source_endpoint,
            "postgresql://ferry:***@127.0.0.1:55432/src?sslmode=require");
  EXPECT_EQ(out->target_endpoint.find("hunter2"), std::string::npos) << out->target_endpoint;
  EXPECT_EQ(out->target_endpoint.find("also"), std::string::npos) << out->target_endpoint;
  store.reset();
  // Not in the file either.
  std::ifstream f(dir.path() / "ferry.db", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.find("s3cret"), std::string::npos);
  EXPECT_EQ(bytes.find("hunter2"), std::string::npos);

  EXPECT_EQ(RedactEndpointUri("weird://u:p@ss@host:1:2:3"), "weird://u:***@host:1:2:3");
  EXPECT_EQ(RedactEndpointUri(""), "");
}

TEST(TaskStore, ListTasksByName) {
  TempDir dir;
  auto store = TaskStore::Open(dir.path());
  store->PutTask(FullTask("store-b"));
  store->PutTask(FullTask("store-a"));
  auto all = store->ListTasks();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "store-a");
  EXPECT_EQ(all[1].name, "store-b");
  ExpectSameTask(all[1], FullTask("store-b"));
}

TEST(TaskStore, PutTablesThenPutTable) {
  TempDir dir;
  auto store = TaskStore::Open(dir.path());
  store->PutTask(FullTask("store-t"));
  std::vector<TableRecord> tables = {FullTable(2), FullTable(0), FullTable(1)};
  tables[1].cdc_live = false;
  store->PutTables("store-t", tables);
  auto out = store->GetTables("store-t");
  ASSERT_EQ(out.size(), 3u);
  ExpectSameTable(out[0], tables[1]);  // index order
  ExpectSameTable(out[1], tables[2]);
  ExpectSameTable(out[2], tables[0]);

  // One table replaced, one added; the others kept.
  TableRecord one = FullTable(1);
  one.state = "Table completed";
  one.full_load_rows = 999;
  store->PutTable("store-t", one);
  store->PutTable("store-t", FullTable(7));
  out = store->GetTables("store-t");
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[1].state, "Table completed");
  EXPECT_EQ(out[1].full_load_rows, 999);
  EXPECT_EQ(out[3].index, 7);

  // PutTables replaces all.
  store->PutTables("store-t", {FullTable(5)});
  out = store->GetTables("store-t");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].index, 5);

  // Another task's tables are separate.
  EXPECT_TRUE(store->GetTables("store-other").empty());
}

TEST(TaskStore, TablesNeedTheirTask) {
  TempDir dir;
  auto store = TaskStore::Open(dir.path());
  try {
    store->PutTable("store-none", FullTable(0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("task 'store-none' does not exist"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(store->PutTables("store-none", {FullTable(0)}), Error);
  store->PutTask(FullTask("store-dup"));
  try {
    store->PutTables("store-dup", {FullTable(1), FullTable(1)});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("index 1"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(store->GetTables("store-dup").empty());
}

TEST(TaskStore, SaveProgressWritesLiveFiguresAndTables) {
  TempDir dir;
  auto store = TaskStore::Open(dir.path());
  TaskRecord task = FullTask("store-p");
  store->PutTask(task);
  store->PutTables("store-p", {FullTable(0), FullTable(1)});

  TaskRecord live = task;
  live.status = "should-not-be-written";
  live.migration_type = "cdc";
  live.recovery_checkpoint = "0/2000000";
  live.source_position = "0/2000100";
  live.applied_position = "0/2000000";
  live.cdc_latency_source_s = 11;
  live.cdc_latency_target_s = 12;
  live.memory_bytes = 13;
  live.spilled_bytes = 14;
  live.pending_changes = 15;
  live.updated_at_us = 0;
  TableRecord t1 = FullTable(1);
  t1.inserts = 1000;
  t1.applied_inserts = 990;
  t1.state = "Table completed";
  store->SaveProgress(live, {t1});

  auto out = store->GetTask("store-p");
  EXPECT_EQ(out->status, "running");
  EXPECT_EQ(out->migration_type, "full-load-and-cdc");
  EXPECT_EQ(out->recovery_checkpoint, "0/2000000");
  EXPECT_EQ(out->source_position, "0/2000100");
  EXPECT_EQ(out->applied_position, "0/2000000");
  EXPECT_EQ(out->cdc_latency_source_s, 11);
  EXPECT_EQ(out->cdc_latency_target_s, 12);
  EXPECT_EQ(out->memory_bytes, 13);
  EXPECT_EQ(out->spilled_bytes, 14);
  EXPECT_EQ(out->pending_changes, 15);
  EXPECT_GT(out->updated_at_us, task.updated_at_us);
  auto tables = store->GetTables("store-p");
  ASSERT_EQ(tables.size(), 2u);
  ExpectSameTable(tables[0], FullTable(0));
  ExpectSameTable(tables[1], t1);

  // Unknown task: nothing written, kNotFound.
  TaskRecord ghost = live;
  ghost.name = "store-ghost";
  EXPECT_THROW(store->SaveProgress(ghost, {FullTable(3)}), Error);
  EXPECT_TRUE(store->GetTables("store-ghost").empty());
  // The store is still usable after the failed transaction.
  store->SaveProgress(live, {});
}

TEST(TaskStore, DeleteTaskDeletesItsTables) {
  TempDir dir;
  auto store = TaskStore::Open(dir.path());
  store->PutTask(FullTask("store-d1"));
  store->PutTask(FullTask("store-d2"));
  store->PutTables("store-d1", {FullTable(0), FullTable(1)});
  store->PutTables("store-d2", {FullTable(0)});
  store->DeleteTask("store-d1");
  EXPECT_FALSE(store->GetTask("store-d1").has_value());
  EXPECT_TRUE(store->GetTables("store-d1").empty());
  EXPECT_TRUE(store->GetTask("store-d2").has_value());
  EXPECT_EQ(store->GetTables("store-d2").size(), 1u);
  store->DeleteTask("store-d1");  // no-op
  // A new task of the same name starts with no tables.
  store->PutTask(FullTask("store-d1"));
  EXPECT_TRUE(store->GetTables("store-d1").empty());
}

// Shape histories: one "initial" entry per ResetShape, entries appended in order with their
// own sequence, confirmed in place; deleting the task deletes them.
TEST(TaskStore, TableShapeHistory) {
  TempDir dir;
  auto store = TaskStore::Open(dir.path());
  store->PutTask(FullTask("shapes"));
  store->ResetShape("shapes", 1, "0/10", "{\"t\":1}");
  store->ResetShape("shapes", 0, "0/10", "{\"t\":0}");
  TableShapeRecord r;
  r.table_index = 1;
  r.kind = "ddl";
  r.pending = true;
  r.position = "0/20";
  r.definition = "{\"t\":11}";
  EXPECT_EQ(store->AppendShape("shapes", r), 1);
  r.kind = "rebind";
  r.pending = false;
  r.definition = "{\"t\":12}";
  EXPECT_EQ(store->AppendShape("shapes", r), 2);
  store->ConfirmShape("shapes", 1, 1);
  std::vector<TableShapeRecord> all = store->GetShapes("shapes");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].table_index, 0);
  EXPECT_EQ(all[0].kind, "initial");
  EXPECT_EQ(all[1].table_index, 1);
  EXPECT_EQ(all[1].seq, 0);
  EXPECT_EQ(all[2].seq, 1);
  EXPECT_EQ(all[2].kind, "ddl");
  EXPECT_FALSE(all[2].pending);
  EXPECT_EQ(all[2].position, "0/20");
  EXPECT_EQ(all[3].definition, "{\"t\":12}");
  // An in-transaction entry whose transaction rolled back is removed; the next takes its seq.
  r.kind = "txn";
  r.pending = true;
  EXPECT_EQ(store->AppendShape("shapes", r), 3);
  store->DeleteShape("shapes", 1, 3);
  EXPECT_EQ(store->GetShapes("shapes").size(), 4u);
  EXPECT_EQ(store->AppendShape("shapes", r), 3);
  EXPECT_EQ(store->GetShapes("shapes").back().kind, "txn");
  store->DeleteShape("shapes", 1, 3);
  // A table starting again keeps only its new initial shape.
  store->ResetShape("shapes", 1, "0/30", "{\"t\":2}");
  all = store->GetShapes("shapes");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].definition, "{\"t\":2}");
  EXPECT_EQ(all[1].seq, 0);
  store->DeleteTask("shapes");
  EXPECT_TRUE(store->GetShapes("shapes").empty());
}

// A version-2 store (no shape history, no validation figures) is upgraded in place.
TEST(TaskStore, Version2StoreIsUpgraded) {
  TempDir dir;
  {
    auto store = TaskStore::Open(dir.path());
    store->PutTask(FullTask("old"));
    TableRecord t = FullTable(0);
    store->PutTables("old", {t});
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir.path() / kStoreFileName).c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DROP TABLE table_shapes; DROP TABLE reload_requests; "
                           "ALTER TABLE task_tables DROP COLUMN "
                           "validation_state; ALTER TABLE task_tables DROP COLUMN "
                           "validation_pending; ALTER TABLE task_tables DROP COLUMN "
                           "validation_failed; ALTER TABLE task_tables DROP COLUMN "
                           "validation_suspended; UPDATE ferry_schema SET version = 2",
                           nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  // Read-only first: refused until opened writable once.
  EXPECT_THROW(TaskStore::Open(dir.path(), /*read_only=*/true), Error);
  auto store = TaskStore::Open(dir.path());
  std::vector<TableRecord> tables = store->GetTables("old");
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_EQ(tables[0].last_error, "duplicate key");
  EXPECT_EQ(tables[0].validation_state, "");
  store->ResetShape("old", 0, "0/1", "{}");
  EXPECT_EQ(store->GetShapes("old").size(), 1u);
  store->PutTables("old", {FullTable(0)});
  EXPECT_EQ(store->GetTables("old")[0].validation_failed, 11);
  store->RequestReload("old", {0}, false);
  EXPECT_EQ(store->GetReloadRequests("old").size(), 1u);
}

// Reload requests (ferry reload-tables): one per table, the newest wins; acting on a request
// clears it and only it, so a table asked again meanwhile is reloaded again; deleting the task
// deletes them.
TEST(TaskStore, ReloadRequests) {
  TempDir dir;
  auto store = TaskStore::Open(dir.path());
  EXPECT_THROW(store->RequestReload("nobody", {0}, false), Error);
  store->PutTask(FullTask("reload"));
  store->PutTask(FullTask("other"));
  store->RequestReload("reload", {2, 0}, false);
  store->RequestReload("other", {1}, true);
  std::vector<ReloadRequest> asked = store->GetReloadRequests("reload");
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[0].table_index, 0);
  EXPECT_EQ(asked[1].table_index, 2);
  EXPECT_FALSE(asked[0].validate_only);
  EXPECT_EQ(asked[0].requested_at_us, asked[1].requested_at_us);  // one request
  // Table 2 asked again (validate only) while the first request is being acted on.
  store->RequestReload("reload", {2}, true);
  store->ClearReloadRequest("reload", asked[0]);
  store->ClearReloadRequest("reload", asked[1]);  // an older request of table 2: kept
  std::vector<ReloadRequest> left = store->GetReloadRequests("reload");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].table_index, 2);
  EXPECT_TRUE(left[0].validate_only);
  EXPECT_GT(left[0].requested_at_us, asked[1].requested_at_us);
  store->DeleteTask("reload");
  EXPECT_TRUE(store->GetReloadRequests("reload").empty());
  EXPECT_EQ(store->GetReloadRequests("other").size(), 1u);
}

TEST(TaskStore, WriterAndReadOnlyReaderAtOnce) {
  TempDir dir;
  auto writer = TaskStore::Open(dir.path());
  writer->PutTask(FullTask("store-w"));
  auto reader = TaskStore::Open(dir.path(), /*read_only=*/true);
  EXPECT_TRUE(reader->GetTask("store-w").has_value());

  TaskRecord live = FullTask("store-w");
  for (int i = 1; i <= 20; ++i) {
    live.pending_changes = i;
    TableRecord t = FullTable(0);
    t.inserts = i;
    writer->SaveProgress(live, {t});
    // The reader sees each commit without reopening.
    EXPECT_EQ(reader->GetTask("store-w")->pending_changes, i);
    auto tables = reader->GetTables("store-w");
    ASSERT_EQ(tables.size(), 1u);
    EXPECT_EQ(tables[0].inserts, i);
  }
  // A read-only handle refuses to write.
  EXPECT_THROW(reader->PutTask(FullTask("store-x")), Error);

  // A reader opened while the writer is closed (no -wal/-shm left behind) works too.
  writer.reset();
  reader.reset();
  auto late = TaskStore::Open(dir.path(), /*read_only=*/true);
  EXPECT_EQ(late->GetTask("store-w")->pending_changes, 20);
  // And a writer opened beside that reader.
  auto writer2 = TaskStore::Open(dir.path());
  live.pending_changes = 21;
  writer2->SaveProgress(live, {});
  EXPECT_EQ(late->GetTask("store-w")->pending_changes, 21);
}

// The engine's progress thread writes while `ferry status` reads from its own handle, and two
// threads share one writable handle (its mutex).
TEST(TaskStore, ConcurrentWritersAndReader) {
  TempDir dir;
  auto writer = TaskStore::Open(dir.path());
  TaskRecord first = FullTask("store-c");
  first.pending_changes = 0;
  writer->PutTask(first);
  std::atomic<bool> stop{false};
  std::thread progress([&] {
    TaskRecord live = FullTask("store-c");
    for (int i = 1; i <= 100; ++i) {
      live.pending_changes = i;
      TableRecord t = FullTable(0);
      t.inserts = i;
      writer->SaveProgress(live, {t});
    }
  });
  std::thread control([&] {
    for (int i = 1; i <= 50; ++i) writer->PutTable("store-c", FullTable(1));
  });
  std::thread status([&] {
    auto reader = TaskStore::Open(dir.path(), /*read_only=*/true);
    int64_t last = 0;
    while (!stop) {
      int64_t now = reader->GetTask("store-c")->pending_changes;
      EXPECT_GE(now, last);
      last = now;
      reader->GetTables("store-c");
    }
  });
  progress.join();
  control.join();
  stop = true;
  status.join();
  EXPECT_EQ(writer->GetTask("store-c")->pending_changes, 100);
  EXPECT_EQ(writer->GetTables("store-c").size(), 2u);
}

TEST(TaskStore, NotAFerryStore) {
  TempDir dir;
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir.path() / "ferry.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE customers (id INTEGER)", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  for (bool read_only : {false, true}) {
    try {
      TaskStore::Open(dir.path(), read_only);
      FAIL() << "expected an error";
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(msg.find("ferry.db' is not a Ferry task store"), std::string::npos) << msg;
      EXPECT_NE(msg.find("--data-dir"), std::string::npos) << msg;
    }
  }
}

TEST(TaskStore, NotASqliteFile) {
  TempDir dir;
  std::ofstream(dir.path() / "ferry.db") << "this is not a database, just some text long enough "
                                            "to fill a header of one hundred bytes..........."
                                            "....................................";
  try {
    TaskStore::Open(dir.path(), true);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(msg.find("ferry.db"), std::string::npos) << msg;
    EXPECT_NE(msg.find("not a SQLite database"), std::string::npos) << msg;
  }
}

TEST(TaskStore, NewerSchemaIsRefused) {
  TempDir dir;
  TaskStore::Open(dir.path());
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir.path() / "ferry.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE ferry_schema SET version = 99", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  try {
    TaskStore::Open(dir.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(msg.find("schema version 99, written by a newer Ferry"), std::string::npos) << msg;
  }
}

TEST(TaskStore, MissingDirectory) {
  TempDir dir;
  const fs::path missing = dir.path() / "nope";
  try {
    TaskStore::Open(missing, /*read_only=*/true);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(msg.find("data directory '" + missing.string() + "' does not exist"),
              std::string::npos)
        << msg;
  }
  // An existing directory without a store.
  try {
    TaskStore::Open(dir.path(), /*read_only=*/true);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("has no task store"), std::string::npos) << e.what();
  }
  // Writable: created, with its parents.
  auto store = TaskStore::Open(missing / "deeper");
  EXPECT_TRUE(fs::exists(missing / "deeper" / "ferry.db"));
  // A file where the directory should be.
  std::ofstream(dir.path() / "file") << "x";
  EXPECT_THROW(TaskStore::Open(dir.path() / "file"), Error);
}

TEST(DataDir, CheckTaskName) {
  EXPECT_EQ(CheckTaskName("a"), "");
  EXPECT_EQ(CheckTaskName("my-task-1"), "");
  EXPECT_EQ(CheckTaskName("Orders2024"), "");
  EXPECT_EQ(CheckTaskName(std::string(255, 'x')), "");
  EXPECT_NE(CheckTaskName("").find("empty"), std::string::npos);
  EXPECT_NE(CheckTaskName(std::string(256, 'x')).find("256 characters"), std::string::npos);
  EXPECT_NE(CheckTaskName("1task").find("does not start with a letter"), std::string::npos);
  EXPECT_NE(CheckTaskName("-task").find("does not start with a letter"), std::string::npos);
  EXPECT_NE(CheckTaskName("my_task").find("character '_' at position 3"), std::string::npos);
  EXPECT_NE(CheckTaskName("a/../b").find("character '/'"), std::string::npos);
  EXPECT_NE(CheckTaskName("a.b").find("character '.'"), std::string::npos);
  EXPECT_NE(CheckTaskName("my--task").find("two consecutive hyphens"), std::string::npos);
  EXPECT_NE(CheckTaskName("task-").find("ends with a hyphen"), std::string::npos);
  // Every message states the rule.
  EXPECT_NE(CheckTaskName("task-").find("starts with a letter"), std::string::npos);
}

TEST(DataDir, PathsForCreatesTheTaskFolders) {
  TempDir dir;
  TaskPaths p = PathsFor(dir.path() / "data", "store-paths");
  EXPECT_EQ(p.root, dir.path() / "data");
  EXPECT_EQ(p.store, dir.path() / "data" / "ferry.db");
  EXPECT_EQ(p.task_dir, dir.path() / "data" / "tasks" / "store-paths");
  EXPECT_EQ(p.spill_dir, p.task_dir / "spill");
  EXPECT_EQ(p.cache_dir, p.task_dir / "cache");
  EXPECT_EQ(p.log_file, p.task_dir / "ferry.log");
  EXPECT_TRUE(fs::is_directory(p.spill_dir));
  EXPECT_TRUE(fs::is_directory(p.cache_dir));
  EXPECT_FALSE(fs::exists(p.log_file));
  PathsFor(dir.path() / "data", "store-paths");  // again: fine
  EXPECT_THROW(PathsFor(dir.path(), "../escape"), Error);
}

TEST(DataDir, DefaultDataDir) {
  const char* saved[3] = {getenv("FERRY_DATA_DIR"), getenv("XDG_STATE_HOME"), getenv("HOME")};
  std::string keep[3];
  for (int i = 0; i < 3; ++i) keep[i] = saved[i] ? saved[i] : "";
  setenv("FERRY_DATA_DIR", "/d/ferry", 1);
  setenv("XDG_STATE_HOME", "/x", 1);
  setenv("HOME", "/h", 1);
  EXPECT_EQ(DefaultDataDir(), fs::path("/d/ferry"));
  setenv("FERRY_DATA_DIR", "", 1);
  EXPECT_EQ(DefaultDataDir(), fs::path("/x/ferry"));
  unsetenv("XDG_STATE_HOME");
  EXPECT_EQ(DefaultDataDir(), fs::path("/h/.local/state/ferry"));
  const char* names[3] = {"FERRY_DATA_DIR", "XDG_STATE_HOME", "HOME"};
  for (int i = 0; i < 3; ++i) {
    if (saved[i]) {
      setenv(names[i], keep[i].c_str(), 1);
    } else {
      unsetenv(names[i]);
    }
  }
}

}  // namespace
}  // namespace ferry
