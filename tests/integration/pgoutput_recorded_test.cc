// The pgoutput decoder on bytes recorded from the real server: a logical slot with the
// pgoutput plugin, changes made by SQL, and the slot's binary changes decoded message by
// message (pg_logical_slot_get_binary_changes returns exactly what the replication protocol
// carries in XLogData).
#include <gtest/gtest.h>

#include "connectors/postgres/pgoutput.h"
#include "test_env.h"

namespace ferry::testing {
namespace {

using namespace ferry::pgoutput;

std::string FromHex(const std::string& text) {  // bytea output "\x4201..."
  std::string out;
  for (size_t i = 2; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16)));
  }
  return out;
}

class PgoutputRecorded : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_POSTGRES();
    s_ = Open(PostgresUri())->OpenSession();
    if (s_->Query("SHOW wal_level")[0][0].value_or("") != "logical") {
      GTEST_SKIP() << "wal_level is not logical on the test server";
    }
    Cleanup();
    s_->Execute(
        "CREATE SCHEMA pgo_rec; CREATE TABLE pgo_rec.t (id int PRIMARY KEY, name text, v numeric);"
        "CREATE PUBLICATION ferry_pgo_rec_pub FOR TABLE pgo_rec.t");
    s_->Query("SELECT pg_create_logical_replication_slot('ferry_pgo_rec_slot', 'pgoutput')");
  }
  void TearDown() override {
    if (s_) Cleanup();
  }
  void Cleanup() {
    s_->Execute(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
        "WHERE slot_name = 'ferry_pgo_rec_slot'");
    s_->Execute("DROP PUBLICATION IF EXISTS ferry_pgo_rec_pub; DROP SCHEMA IF EXISTS pgo_rec CASCADE");
  }
  std::unique_ptr<SqlSession> s_;
};

TEST_F(PgoutputRecorded, EveryChangeTypeDecodes) {
  s_->Execute("INSERT INTO pgo_rec.t VALUES (1, 'a', 1.50), (2, NULL, NULL)");
  s_->Execute("UPDATE pgo_rec.t SET name = 'b' WHERE id = 1");
  s_->Execute("UPDATE pgo_rec.t SET id = 3 WHERE id = 2");
  s_->Execute("DELETE FROM pgo_rec.t WHERE id = 3");
  s_->Execute("TRUNCATE pgo_rec.t");
  auto rows = s_->Query(
      "SELECT data FROM pg_logical_slot_get_binary_changes('ferry_pgo_rec_slot', NULL, NULL, "
      "'proto_version', '1', 'publication_names', 'ferry_pgo_rec_pub')");
  std::vector<std::string> messages;
  for (const auto& r : rows) messages.push_back(FromHex(r[0].value_or("")));
  Decoder d(1);
  std::string kinds;
  uint32_t relation_id = 0;
  std::vector<std::string> inserted;
  for (const std::string& m : messages) {
    Result<Message> r = d.Decode(m);
    ASSERT_TRUE(r.ok()) << r.error().what();
    kinds.push_back(m[0]);
    if (const auto* rel = std::get_if<Relation>(&r.value())) {
      relation_id = rel->relation_id;
      EXPECT_EQ(rel->schema, "pgo_rec");
      EXPECT_EQ(rel->name, "t");
      ASSERT_EQ(rel->columns.size(), 3u);
      EXPECT_TRUE(rel->columns[0].key);
      EXPECT_EQ(rel->columns[2].type_oid, 1700u);  // numeric
    } else if (const auto* ins = std::get_if<Insert>(&r.value())) {
      EXPECT_EQ(ins->relation_id, relation_id);
      for (const TupleValue& v : ins->new_tuple) {
        inserted.push_back(v.kind == TupleValue::Kind::kNull ? "NULL" : std::string(v.data));
      }
    } else if (const auto* up = std::get_if<Update>(&r.value())) {
      if (up->old_kind == 'K') {  // the key changed: the old key comes along
        EXPECT_EQ(up->old_tuple[0].data, "2");
        EXPECT_EQ(up->new_tuple[0].data, "3");
      } else {
        EXPECT_EQ(up->old_kind, 0);
        EXPECT_EQ(up->new_tuple[1].data, "b");
      }
    } else if (const auto* del = std::get_if<Delete>(&r.value())) {
      EXPECT_EQ(del->old_kind, 'K');
      EXPECT_EQ(del->old_tuple[0].data, "3");
    } else if (const auto* tr = std::get_if<Truncate>(&r.value())) {
      EXPECT_EQ(tr->relation_ids, (std::vector<uint32_t>{relation_id}));
    }
  }
  // The server sends the Relation again before a Truncate.
  EXPECT_EQ(kinds, "BRIICBUCBUCBDCBRTC");
  EXPECT_EQ(inserted, (std::vector<std::string>{"1", "a", "1.50", "2", "NULL", "NULL"}));
}

}  // namespace
}  // namespace ferry::testing
