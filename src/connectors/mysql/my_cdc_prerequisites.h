// What change data capture from a MySQL/MariaDB binlog needs of the source server, checked
// before anything starts: the facts are read in one pass (ReadBinlogFacts), then turned into
// problems that stop the task, each naming the variable or grant to change and how
// (DescribeBinlogProblems), and notes worth a warning (DescribeBinlogNotes). The split keeps
// every message testable without a misconfigured server.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "catalog/table_def.h"
#include "connectors/mysql/my_connection.h"

namespace ferry::mysql {

// DMS's advice for binlog retention on a CDC source: at least a day, so a task stopped for a
// while can still resume where it was.
inline constexpr int64_t kRecommendedBinlogRetentionSeconds = int64_t{24} * 3600;

struct MyCdcFacts {
  bool mariadb = true;
  std::string version;  // VERSION(), e.g. "10.11.6-MariaDB-0+deb12u1"
  std::string log_bin = "ON";
  std::string binlog_format = "ROW";
  std::string binlog_row_image = "FULL";
  uint64_t server_id = 1;          // the source's own @@server_id
  uint64_t replica_server_id = 0;  // the id Ferry registers with as a replica
  // Server ids of the replicas connected now (SHOW SLAVE HOSTS / SHOW REPLICAS), with the
  // host each reports; empty when the user may not list them.
  std::vector<std::pair<uint64_t, std::string>> replicas;
  // How long binlogs are kept: binlog_expire_logs_seconds, else expire_logs_days in seconds;
  // 0 = never purged by age.
  int64_t retention_seconds = 0;
  std::string user;                // CURRENT_USER(), e.g. "ferry@%"
  bool grants_known = true;        // false: granted through a role, so the privileges below
                                   // are not known from SHOW GRANTS alone (nothing is refused)
  bool replication_slave = true;   // REPLICATION SLAVE (REPLICA) on *.*, or ALL PRIVILEGES
  bool replication_client = true;  // REPLICATION CLIENT / BINLOG MONITOR / SUPER, or ALL
  // Selected tables whose updates and deletes are matched on the target by every column (no
  // primary key), as SQL spells them (`db`.`t`).
  std::vector<std::string> tables_without_key;
};

// Reads the facts of the server `c` is connected to, for capturing `tables` as a replica with
// server id `replica_server_id`. Throws Error for a failed query (the variables are readable by
// every user; the replica list and grants are read where allowed).
MyCdcFacts ReadBinlogFacts(MyConnection& c, const std::vector<TableDef>& tables,
                           uint64_t replica_server_id);

// Every problem in `facts` that stops binlog capture, one per line ("- ..."), each naming the
// variable or grant and what to change; empty when capture can run.
std::string DescribeBinlogProblems(const MyCdcFacts& facts);

// Warnings: binlog retention shorter than `min_retention_seconds` (a longer stop loses the
// position), and how tables without a primary key are matched.
std::vector<std::string> DescribeBinlogNotes(const MyCdcFacts& facts,
                                             int64_t min_retention_seconds);

// Whether the SHOW GRANTS lines of a user give REPLICATION SLAVE and REPLICATION CLIENT (or
// their MariaDB 10.5+ names) on *.*; sets the three grant fields of `facts`.
void ReadGrants(const std::vector<std::string>& show_grants, MyCdcFacts* facts);

}  // namespace ferry::mysql
