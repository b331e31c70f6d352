// Binlog capture prerequisites read from the real MariaDB test server (connectors/mysql/
// my_cdc_prerequisites.h): the test server is set up for CDC (scripts/servers.sh: log_bin, ROW,
// FULL, server_id 1), so nothing stops capture; a user without replication grants is told
// which to grant; keyless selected tables get their note. No global variable is changed here
// (other tests share the server).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "catalog/table_def.h"
#include "common/text.h"
#include "connectors/mysql/my_cdc_prerequisites.h"
#include "test_env.h"

namespace ferry::mysql {
namespace {

using ferry::testing::MysqlUri;
using ferry::testing::Open;

TEST(MysqlCdcPrerequisitesServer, TheTestServerIsReadyForCapture) {
  FERRY_REQUIRE_MYSQL();
  MyConnection c(ParseEndpointUri(MysqlUri()).ValueOrThrow());
  TableDef keyed;
  keyed.schema = "shop";
  keyed.name = "orders";
  keyed.primary_key = {"id"};
  TableDef keyless = keyed;
  keyless.name = "audit log";
  keyless.primary_key.clear();
  const MyCdcFacts f = ReadBinlogFacts(c, {keyed, keyless}, /*replica_server_id=*/4242);
  EXPECT_TRUE(f.mariadb) << f.version;
  EXPECT_EQ(f.log_bin, "ON");
  EXPECT_EQ(f.binlog_format, "ROW");
  EXPECT_EQ(f.binlog_row_image, "FULL");
  EXPECT_EQ(f.server_id, 1u);
  EXPECT_FALSE(f.user.empty());
  EXPECT_EQ(DescribeBinlogProblems(f), "");
  ASSERT_EQ(f.tables_without_key, std::vector<std::string>{"`shop`.`audit log`"});
  bool keyless_note = false;
  for (const std::string& note : DescribeBinlogNotes(f, kRecommendedBinlogRetentionSeconds)) {
    keyless_note = keyless_note || Contains(note, "`shop`.`audit log` has no primary key");
  }
  EXPECT_TRUE(keyless_note);

  const MyCdcFacts same_id = ReadBinlogFacts(c, {}, /*replica_server_id=*/1);
  EXPECT_NE(DescribeBinlogProblems(same_id).find("is the source's own server_id"),
            std::string::npos);
}

TEST(MysqlCdcPrerequisitesServer, AUserWithoutReplicationGrantsIsToldWhichToGrant) {
  FERRY_REQUIRE_MYSQL();
  auto admin = Open(MysqlUri())->OpenSession();
  admin->Execute("DROP USER IF EXISTS 'ferry_nogrants'@'%'");
  admin->Execute("CREATE USER 'ferry_nogrants'@'%' IDENTIFIED BY 'nogrants-pw'");
  admin->Execute("GRANT SELECT ON *.* TO 'ferry_nogrants'@'%'");
  EndpointUri uri = ParseEndpointUri(MysqlUri()).ValueOrThrow();
  uri.user = "ferry_nogrants";
  uri.password = "nogrants-pw";
  std::string problems;
  {
    MyConnection c(uri);
    problems = DescribeBinlogProblems(ReadBinlogFacts(c, {}, 4242));
  }
  admin->Execute("DROP USER IF EXISTS 'ferry_nogrants'@'%'");
  EXPECT_EQ(problems,
            "- user ferry_nogrants@% lacks REPLICATION SLAVE, BINLOG MONITOR to read the binlog: "
            "run GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO ferry_nogrants@%");
  EXPECT_EQ(problems.find("nogrants-pw"), std::string::npos);
}

}  // namespace
}  // namespace ferry::mysql
