#include "task_model/plan.h"

#include <gtest/gtest.h>

#include "common/bounded_queue.h"
#include "engine/progress.h"

namespace ferry {
namespace {

TableDef T(std::string schema, std::string name) {
  TableDef t;
  t.schema = std::move(schema);
  t.name = std::move(name);
  return t;
}

TEST(TableSelection, PatternsWithAndWithoutSchema) {
  EXPECT_TRUE(TableSelected(T("public", "film"), {}));
  EXPECT_TRUE(TableSelected(T("public", "film"), {"film"}));
  EXPECT_TRUE(TableSelected(T("public", "film"), {"public.film"}));
  EXPECT_FALSE(TableSelected(T("public", "film"), {"other.film"}));
  EXPECT_TRUE(TableSelected(T("public", "film_actor"), {"film*"}));
  EXPECT_TRUE(TableSelected(T("public", "film_actor"), {"pub%.%actor"}));
  EXPECT_FALSE(TableSelected(T("public", "actor"), {"film*", "x"}));
  EXPECT_TRUE(TableSelected(T("public", "actor"), {"film*", "actor"}));
  EXPECT_TRUE(TableSelected(T("s", ""), {"*"}));
}

TEST(BoundedQueue, CloseDrainsThenEnds) {
  BoundedQueue<int> q(2);
  EXPECT_TRUE(q.Push(1));
  EXPECT_TRUE(q.Push(2));
  q.Close();
  EXPECT_FALSE(q.Push(3));
  EXPECT_EQ(*q.Pop(), 1);
  EXPECT_EQ(*q.Pop(), 2);
  EXPECT_FALSE(q.Pop().has_value());
}

TEST(BoundedQueue, CloseAndClearReleasesABlockedProducer) {
  BoundedQueue<int> q(1);
  ASSERT_TRUE(q.Push(1));
  std::thread producer([&] { EXPECT_FALSE(q.Push(2)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q.CloseAndClear();
  producer.join();
  EXPECT_FALSE(q.Pop().has_value());
}

TEST(Progress, HumanUnits) {
  EXPECT_EQ(HumanCount(950), "950");
  EXPECT_EQ(HumanCount(12500), "12.5k");
  EXPECT_EQ(HumanCount(1.25e6), "1.2M");
  EXPECT_EQ(HumanDuration(12), "12s");
  EXPECT_EQ(HumanDuration(185), "3m05s");
  EXPECT_EQ(HumanDuration(3720), "1h02m");
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

std::string Dq(std::string_view s) { return "\"" + std::string(s) + "\""; }

TEST(RangeSegments, NBoundariesGiveNPlusOneSegmentsAndNullsGoLast) {
  auto segs = RangeSegments({"k"}, {{"10"}, {"20"}}, Engine::kPostgres, Dq);
  ASSERT_EQ(segs.size(), 3u);
  EXPECT_EQ(segs[0], "\"k\" IS NOT NULL AND \"k\" <= '10'");
  EXPECT_EQ(segs[1], "\"k\" IS NOT NULL AND \"k\" > '10' AND \"k\" <= '20'");
  EXPECT_EQ(segs[2], "(\"k\" IS NOT NULL AND \"k\" > '20') OR \"k\" IS NULL");
  auto two = RangeSegments({"a", "b"}, {{"1", "x'y"}}, Engine::kSqlite, Dq);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0], "\"a\" IS NOT NULL AND \"b\" IS NOT NULL AND (\"a\", \"b\") <= ('1', 'x''y')");
  EXPECT_EQ(two[1],
            "(\"a\" IS NOT NULL AND \"b\" IS NOT NULL AND (\"a\", \"b\") > ('1', 'x''y')) OR "
            "\"a\" IS NULL OR \"b\" IS NULL");
}

}  // namespace
}  // namespace ferry
