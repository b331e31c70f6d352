// What binlog capture needs of a MySQL/MariaDB source (connectors/mysql/
// my_cdc_prerequisites.h): every problem message word for word from facts (no misconfigured
// server needed), the notes, and reading privileges from SHOW GRANTS lines as MariaDB and
// MySQL print them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "connectors/mysql/my_cdc_prerequisites.h"

namespace ferry::mysql {
namespace {

TEST(MysqlCdcPrerequisites, AReadyServerHasNoProblems) {
  MyCdcFacts f;
  f.replica_server_id = 4242;
  f.replicas = {{2, "replica-1"}};
  EXPECT_EQ(DescribeBinlogProblems(f), "");
  EXPECT_TRUE(DescribeBinlogNotes(f, kRecommendedBinlogRetentionSeconds).empty());
}

TEST(MysqlCdcPrerequisites, EveryProblemSaysWhatToChange) {
  MyCdcFacts f;
  f.mariadb = true;
  f.log_bin = "OFF";
  f.binlog_format = "MIXED";
  f.binlog_row_image = "MINIMAL";
  f.server_id = 0;
  f.user = "ferry@%";
  f.replication_slave = false;
  f.replication_client = false;
  EXPECT_EQ(
      DescribeBinlogProblems(f),
      "- log_bin is OFF: binary logging is off; add log_bin = mysql-bin to the [mariadb] section "
      "of the server's configuration and restart the server (it cannot be turned on while it "
      "runs)\n"
      "- binlog_format is MIXED: change data capture reads row events; set binlog_format = ROW "
      "in the [mariadb] section of the server's configuration and run SET GLOBAL binlog_format "
      "= 'ROW' (sessions already connected keep their format until they reconnect)\n"
      "- binlog_row_image is MINIMAL: updates and deletes must carry every column of the row "
      "before and after the change; set binlog_row_image = FULL in the [mariadb] section of the "
      "server's configuration and run SET GLOBAL binlog_row_image = 'FULL'\n"
      "- server_id is 0, and a server with server_id 0 refuses replicas: set server_id to a "
      "unique non-zero number in the [mariadb] section of the server's configuration (SET "
      "GLOBAL server_id = 1 until the next restart)\n"
      "- user ferry@% lacks REPLICATION SLAVE, BINLOG MONITOR to read the binlog: run GRANT "
      "REPLICATION SLAVE, BINLOG MONITOR ON *.* TO ferry@%");
}

TEST(MysqlCdcPrerequisites, MysqlNamesItsConfigAndGrant) {
  MyCdcFacts f;
  f.mariadb = false;
  f.binlog_format = "STATEMENT";
  f.user = "cdc@10.0.0.%";
  f.replication_client = false;
  EXPECT_EQ(DescribeBinlogProblems(f),
            "- binlog_format is STATEMENT: change data capture reads row events; set "
            "binlog_format = ROW in the [mysqld] section of my.cnf and run SET GLOBAL "
            "binlog_format = 'ROW' (sessions already connected keep their format until they "
            "reconnect)\n"
            "- user cdc@10.0.0.% lacks REPLICATION CLIENT to read the binlog: run GRANT "
            "REPLICATION CLIENT ON *.* TO cdc@10.0.0.%");
}

TEST(MysqlCdcPrerequisites, ReplicaServerIdMustBeFree) {
  MyCdcFacts f;
  f.server_id = 7;
  f.replica_server_id = 7;
  EXPECT_EQ(DescribeBinlogProblems(f),
            "- the task's replica server id 7 is the source's own server_id: give the task "
            "another (source URI parameter server_id=N)");
  f.replica_server_id = 9;
  f.replicas = {{3, "a"}, {9, "db-replica-2"}};
  EXPECT_EQ(DescribeBinlogProblems(f),
            "- the task's replica server id 9 is used by a replica connected from db-replica-2: "
            "two replicas with one id disconnect each other; give the task another (source URI "
            "parameter server_id=N)");
}

TEST(MysqlCdcPrerequisites, GrantsThroughARoleAreNotRefused) {
  MyCdcFacts f;
  ReadGrants({"GRANT USAGE ON *.* TO `ferry`@`%`", "GRANT `cdc_role` TO `ferry`@`%`"}, &f);
  EXPECT_FALSE(f.grants_known);
  EXPECT_EQ(DescribeBinlogProblems(f), "");
}

TEST(MysqlCdcPrerequisites, ReadsGrantsAsServersPrintThem) {
  struct Case {
    std::vector<std::string> lines;
    bool slave, client;
  };
  const std::vector<Case> cases = {
      {{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"}, true, true},
      {{"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'ferry'@'%'"}, true, true},
      {{"GRANT SELECT, RELOAD, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO `ferry`@`%` "
        "IDENTIFIED BY PASSWORD '*A4B6157319038724E3560894F7F932C8886EBFCF'"},
       true,
       true},
      {{"GRANT REPLICATION REPLICA ON *.* TO `u`@`%`", "GRANT SUPER ON *.* TO `u`@`%`"},
       true,
       true},
      {{"GRANT SELECT ON *.* TO `u`@`%`", "GRANT ALL PRIVILEGES ON `shop`.* TO `u`@`%`"},
       false,
       false},
      {{"GRANT REPLICATION SLAVE ON *.* TO `u`@`%`"}, true, false},
      {{"grant replication client on *.* to u@localhost"}, false, true},
  };
  for (const Case& c : cases) {
    MyCdcFacts f;
    ReadGrants(c.lines, &f);
    EXPECT_TRUE(f.grants_known) << c.lines[0];
    EXPECT_EQ(f.replication_slave, c.slave) << c.lines[0];
    EXPECT_EQ(f.replication_client, c.client) << c.lines[0];
  }
}

TEST(MysqlCdcPrerequisites, NotesShortRetentionAndKeylessTables) {
  MyCdcFacts f;
  f.mariadb = false;
  f.retention_seconds = int64_t{2} * 3600;
  f.tables_without_key = {"`shop`.`log`"};
  const std::vector<std::string> notes = DescribeBinlogNotes(f, kRecommendedBinlogRetentionSeconds);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0],
            "binlogs are kept for 2 hours (binlog_expire_logs_seconds): a task stopped for "
            "longer cannot resume and its tables must be reloaded; keep them at least 1 day (SET "
            "GLOBAL binlog_expire_logs_seconds = 86400, and the same in the server's "
            "configuration)");
  EXPECT_EQ(notes[1],
            "table `shop`.`log` has no primary key: its updates and deletes are matched on the "
            "target by every column of the row before the change, one row at a time (a row with "
            "an exact duplicate changes one of the two)");
  f.retention_seconds = 0;  // never purged by age
  f.tables_without_key.clear();
  EXPECT_TRUE(DescribeBinlogNotes(f, kRecommendedBinlogRetentionSeconds).empty());
}

}  // namespace
}  // namespace ferry::mysql
