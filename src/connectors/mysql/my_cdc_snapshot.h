// The CDC handoff on a MySQL/MariaDB source: where each table's full-load rows stand in the
// binlog, so that the capture applies to it exactly the changes its rows do not hold.
//
// MySQL and MariaDB cannot share one transaction's snapshot between connections, so the task's
// snapshot (MyTaskSnapshot, returned by MyChangeCapture::Prepare) hands each table a snapshot
// of its own (SourceSnapshot::ForTable) when the full load starts the table:
//   - MariaDB, without any lock: each reader of the table runs START TRANSACTION WITH CONSISTENT
//     SNAPSHOT and reads binlog_snapshot_file / binlog_snapshot_position in that transaction,
//     the binlog point its snapshot matches exactly (the server takes both together, under its
//     commit ordering). One reader: that point is the table's. Several readers (segments) that
//     got the same point share it; when commits came between their starts, their points differ
//     and each reader's rows would stand at another point: the table is then locked (LOCK
//     TABLES ... READ, which waits for the table's open write transactions) just while every
//     reader starts its transaction again, so no change of the table commits between them;
//     any of their points is then exact for the table (the first is taken).
//   - MySQL (no binlog_snapshot_* status variables): the table is locked that way while its
//     readers start their transactions, and SHOW MASTER STATUS read under the lock is its point.
// The lock, where taken, is held for milliseconds: never during the load.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "change/source_snapshot.h"
#include "connectors/mysql/my_position.h"
#include "endpoint/endpoint_uri.h"

namespace ferry::mysql {

class MyConnection;

// The binlog point of the consistent snapshot `conn`'s open transaction started with (MariaDB:
// binlog_snapshot_file/position), or nullopt when the server has no such status (MySQL).
std::optional<BinlogPoint> SnapshotBinlogPoint(MyConnection& conn);
// SHOW MASTER STATUS (and the GTID state) of the server `conn` is connected to. Throws
// Error(kInvalidArgument) when binary logging is off.
BinlogPoint CurrentBinlogPoint(MyConnection& conn);

// A table's snapshot: its readers join it with JoinMyTableSnapshot after their START
// TRANSACTION WITH CONSISTENT SNAPSHOT.
class MyTableSnapshot : public SourceSnapshot {
 public:
  MyTableSnapshot(EndpointUri uri, std::string id, std::string table_sql, std::string table_name,
                  bool lock_first);
  ~MyTableSnapshot() override;
  const std::string& id() const override { return id_; }
  void ReadersJoined() override;
  cdc::Position position() const override;

  // Called by each reader (MyTableReader::JoinSnapshot) right after its transaction started.
  void Joined(MyConnection& reader) const;

 private:
  EndpointUri uri_;
  std::string id_;
  std::string table_sql_;               // `db`.`t`
  std::string table_name_;              // db.t, for messages
  std::unique_ptr<MyConnection> lock_;  // holds LOCK TABLES ... READ while readers start
  mutable std::mutex mu_;
  mutable std::vector<MyConnection*> readers_;
  mutable std::vector<std::optional<BinlogPoint>> points_;
  BinlogPoint point_;
  bool known_ = false;
};

// Reader side: `snapshot` is a MyTableSnapshot (else nothing to do).
void JoinMyTableSnapshot(const SourceSnapshot& snapshot, MyConnection& reader);

// The task's snapshot: one per table (ForTable). Its own id is never read in.
std::shared_ptr<SourceSnapshot> MakeMyTaskSnapshot(const EndpointUri& uri);

}  // namespace ferry::mysql
