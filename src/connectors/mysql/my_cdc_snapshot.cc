#include "connectors/mysql/my_cdc_snapshot.h"

#include <fmt/format.h>

#include <atomic>

#include "catalog/table_def.h"
#include "common/error.h"
#include "connectors/mysql/my_connection.h"
#include "connectors/mysql/my_types.h"
#include "logging/log.h"

namespace ferry::mysql {

namespace {

std::atomic<int64_t> g_next_id{1};

constexpr const char* kStartSnapshot =
    "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; "
    "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";

class MyTaskSnapshot : public SourceSnapshot {
 public:
  explicit MyTaskSnapshot(EndpointUri uri)
      : uri_(std::move(uri)), id_(fmt::format("mysql-cdc-{}", g_next_id++)) {
    // Whether the server gives each consistent snapshot its binlog point (MariaDB).
    const std::string none;
    MyConnection conn(uri_, &none);
    conn.Execute(kStartSnapshot, "starting a consistent snapshot");
    mariadb_points_ = SnapshotBinlogPoint(conn).has_value();
    conn.Execute("COMMIT", "ending a consistent snapshot");
  }
  const std::string& id() const override { return id_; }
  std::unique_ptr<SourceSnapshot> ForTable(const TableDef& table) override {
    return std::make_unique<MyTableSnapshot>(
        uri_, fmt::format("{}-{}", id_, g_next_id++),
        QuoteIdent(table.schema) + "." + QuoteIdent(table.name), table.QualifiedName(),
        /*lock_first=*/!mariadb_points_);
  }

 private:
  EndpointUri uri_;
  std::string id_;
  bool mariadb_points_ = false;
};

}  // namespace

std::optional<BinlogPoint> SnapshotBinlogPoint(MyConnection& conn) {
  std::string file;
  std::optional<uint64_t> offset;
  for (const auto& row : conn.Query("SHOW STATUS LIKE 'binlog_snapshot_%'",
                                    "reading the binlog point of a snapshot")) {
    if (row.size() < 2 || !row[0] || !row[1]) continue;
    if (*row[0] == "Binlog_snapshot_file") file = *row[1];
    if (*row[0] == "Binlog_snapshot_position") offset = std::stoull(*row[1]);
  }
  if (file.empty() || !offset) return std::nullopt;
  BinlogPoint p;
  p.file = file;
  p.offset = *offset;
  return p;
}

BinlogPoint CurrentBinlogPoint(MyConnection& conn) {
  const auto rows = conn.Query("SHOW MASTER STATUS", "reading the binlog position");
  if (rows.empty() || rows[0].size() < 2 || !rows[0][0] || !rows[0][1]) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{} has binary logging off (SHOW MASTER STATUS is empty): set log_bin "
                            "in the server's configuration and restart it",
                            conn.Where()));
  }
  BinlogPoint p;
  p.file = *rows[0][0];
  p.offset = std::stoull(*rows[0][1]);
  // MariaDB's GTID position, or MySQL's executed set (the fifth column).
  const auto gtid = conn.Query("SELECT @@global.gtid_binlog_pos", "reading the GTID position");
  if (!gtid.empty() && !gtid[0].empty() && gtid[0][0]) p.gtid = *gtid[0][0];
  return p;
}

MyTableSnapshot::MyTableSnapshot(EndpointUri uri, std::string id, std::string table_sql,
                                 std::string table_name, bool lock_first)
    : uri_(std::move(uri)),
      id_(std::move(id)),
      table_sql_(std::move(table_sql)),
      table_name_(std::move(table_name)) {
  if (lock_first) {
    const std::string none;
    lock_ = std::make_unique<MyConnection>(uri_, &none);
    lock_->Execute("LOCK TABLES " + table_sql_ + " READ",
                   "locking " + table_name_ + " while its readers start their snapshot");
  }
}

MyTableSnapshot::~MyTableSnapshot() = default;

void MyTableSnapshot::Joined(MyConnection& reader) const {
  std::optional<BinlogPoint> point;
  if (!lock_) point = SnapshotBinlogPoint(reader);
  std::lock_guard lock(mu_);
  readers_.push_back(&reader);
  points_.push_back(std::move(point));
}

void MyTableSnapshot::ReadersJoined() {
  std::lock_guard guard(mu_);
  if (lock_) {
    // MySQL: the readers started under the lock; the server's position now is theirs.
    point_ = CurrentBinlogPoint(*lock_);
    lock_->Execute("UNLOCK TABLES", "unlocking " + table_name_ + " after its readers started");
    lock_.reset();
    known_ = true;
    return;
  }
  bool same = !points_.empty() && points_[0].has_value();
  for (const auto& p : points_) {
    same = same && p && p->file == points_[0]->file && p->offset == points_[0]->offset;
  }
  if (same) {
    point_ = *points_[0];
    known_ = true;
    return;
  }
  // Commits came between the readers' starts: start them again while the table is locked.
  const std::string none;
  MyConnection locker(uri_, &none);
  const auto t0 = std::chrono::steady_clock::now();
  locker.Execute("LOCK TABLES " + table_sql_ + " READ",
                 "locking " + table_name_ + " while its segment readers start their snapshot");
  std::optional<BinlogPoint> first;
  for (MyConnection* r : readers_) {
    r->Execute("COMMIT", "restarting a snapshot of " + table_name_);
    r->Execute(kStartSnapshot, "restarting a snapshot of " + table_name_);
    std::optional<BinlogPoint> p = SnapshotBinlogPoint(*r);
    if (!first) first = p;
  }
  locker.Execute("UNLOCK TABLES", "unlocking " + table_name_);
  if (!first) {
    throw Error(ErrorKind::kInternal,
                fmt::format("the readers of {} have no binlog snapshot point", table_name_));
  }
  logging::For(LogComponentId::kSourceUnload)
      .debug("table {}: {} segment readers started again under a table lock held {} ms",
             table_name_, readers_.size(),
             std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - t0)
                 .count());
  point_ = *first;
  known_ = true;
}

cdc::Position MyTableSnapshot::position() const {
  return known_ ? BinlogPosition(point_) : cdc::Position();
}

void JoinMyTableSnapshot(const SourceSnapshot& snapshot, MyConnection& reader) {
  if (const auto* s = dynamic_cast<const MyTableSnapshot*>(&snapshot)) s->Joined(reader);
}

std::shared_ptr<SourceSnapshot> MakeMyTaskSnapshot(const EndpointUri& uri) {
  return std::make_shared<MyTaskSnapshot>(uri);
}

}  // namespace ferry::mysql
