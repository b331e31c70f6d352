#include "engine/lob_policy.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(LobPolicy, TaskSettingsDecideWithoutTableSettings) {
  TargetMetadata task;  // DMS defaults: SupportLobs, LimitedSizeLobMode, LobMaxSize 32
  LobLimit limit = TableLobLimit(task, std::nullopt);
  EXPECT_FALSE(limit.drop_lob_columns);
  EXPECT_EQ(limit.max_bytes, 32 * 1024);
  task.full_lob_mode = true;
  task.limited_size_lob_mode = false;
  EXPECT_EQ(TableLobLimit(task, std::nullopt).max_bytes, 0);
  task.support_lobs = false;
  EXPECT_TRUE(TableLobLimit(task, std::nullopt).drop_lob_columns);
  EXPECT_EQ(WholeLobs().max_bytes, 0);
}

TEST(LobPolicy, TableSettingsWin) {
  TargetMetadata task;
  task.support_lobs = false;
  LobSettings limited{LobMode::kLimited, 100};
  EXPECT_EQ(TableLobLimit(task, limited).max_bytes, 100 * 1024);
  EXPECT_FALSE(TableLobLimit(task, limited).drop_lob_columns);
  EXPECT_EQ(TableLobLimit(task, LobSettings{LobMode::kUnlimited, 0}).max_bytes, 0);
  // none: the task's settings apply.
  EXPECT_TRUE(TableLobLimit(task, LobSettings{LobMode::kNone, std::nullopt}).drop_lob_columns);
}

TEST(LobPolicy, SupportLobsFalseDropsLobColumnsButKeyColumns) {
  TablePlan plan;
  auto col = [](const char* name, DmsKind kind) {
    ColumnDef c;
    c.name = name;
    c.type.kind = kind;
    return c;
  };
  plan.source.columns = {col("id", DmsKind::kInt4), col("body", DmsKind::kNclob),
                         col("pic", DmsKind::kBlob), col("doc", DmsKind::kClob)};
  plan.target.columns = plan.source.columns;
  plan.target.unique_indexes.push_back(IndexDef{"u", {"doc"}});
  std::vector<std::string> dropped;
  LobLimit drop;
  drop.drop_lob_columns = true;
  std::vector<std::string> kept = ApplyLobLimit(&plan, drop, &dropped);
  EXPECT_EQ(dropped, (std::vector<std::string>{"body", "pic"}));
  EXPECT_EQ(kept, (std::vector<std::string>{"doc"}));
  ASSERT_EQ(plan.source.columns.size(), 2u);
  EXPECT_EQ(plan.target.columns[1].name, "doc");
  EXPECT_FALSE(plan.transform);
}

TEST(LobPolicy, ByteLimitAddsAnIdentityTransform) {
  TablePlan plan;
  ColumnDef id, body;
  id.name = "id";
  id.type.kind = DmsKind::kInt4;
  body.name = "body";
  body.type.kind = DmsKind::kNclob;
  plan.source.columns = {id, body};
  plan.target.columns = plan.source.columns;
  plan.target.columns[1].name = "BODY";
  ApplyLobLimit(&plan, LobLimit{false, 1024, ""}, nullptr);
  ASSERT_TRUE(plan.transform);
  EXPECT_EQ(plan.transform->lob_max_bytes, 1024);
  ASSERT_EQ(plan.transform->columns.size(), 2u);
  EXPECT_EQ(plan.transform->columns[1].source_index, 1);
  EXPECT_EQ(plan.transform->columns[1].name, "BODY");
  // A table without LOB columns needs no transform.
  TablePlan plain;
  plain.source.columns = {id};
  plain.target.columns = {id};
  ApplyLobLimit(&plain, LobLimit{false, 1024, ""}, nullptr);
  EXPECT_FALSE(plain.transform);
}

}  // namespace
}  // namespace ferry
