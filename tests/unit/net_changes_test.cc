// NetChanges: the net change per row of a batch of changes (batch apply).
#include "cdc/net_changes.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "common/error.h"

namespace ferry::cdc {
namespace {

// t (id int4 key, v text, big text)
ColumnDef Column(const std::string& name, DmsKind kind) {
  ColumnDef c;
  c.name = name;
  c.native_type = kind == DmsKind::kInt4 ? "integer" : "text";
  c.type.kind = kind;
  return c;
}

TableDef Table() {
  TableDef t;
  t.schema = "s";
  t.name = "t";
  t.columns.push_back(Column("id", DmsKind::kInt4));
  t.columns.push_back(Column("v", DmsKind::kNclob));
  t.columns.push_back(Column("big", DmsKind::kNclob));
  t.primary_key = {"id"};
  return t;
}

// A value of `v` / `big`: nullopt = NULL, "?" = unchanged.
void AppendRow(Batch& b, int64_t id, const std::optional<std::string>& v,
               const std::optional<std::string>& big) {
  b.AppendInt(id);
  for (const auto& x : {v, big}) {
    if (!x) {
      b.AppendNull();
    } else if (*x == "?") {
      b.AppendUnchanged();
    } else {
      b.AppendBytes(*x);
    }
  }
}

class NetChangesTest : public ::testing::Test {
 protected:
  NetChanges net_{Table()};
  Batch b_{3};

  bool Insert(int64_t id, std::optional<std::string> v, std::optional<std::string> big = "B") {
    b_.Clear();
    AppendRow(b_, id, v, big);
    ChangeView c{ChangeOp::kInsert, 0, OldImage::kNone, &b_, -1, 0, {}};
    return net_.Add(c);
  }
  // old_id < 0: no old image (the key did not change).
  bool Update(int64_t old_id, int64_t id, std::optional<std::string> v,
              std::optional<std::string> big = "?") {
    b_.Clear();
    if (old_id >= 0) AppendRow(b_, old_id, std::nullopt, std::nullopt);
    AppendRow(b_, id, v, big);
    ChangeView c{ChangeOp::kUpdate, 0, old_id >= 0 ? OldImage::kKey : OldImage::kNone, &b_,
                 old_id >= 0 ? 0 : -1, old_id >= 0 ? 1 : 0, {}};
    return net_.Add(c);
  }
  bool Delete(int64_t id) {
    b_.Clear();
    AppendRow(b_, id, std::nullopt, std::nullopt);
    ChangeView c{ChangeOp::kDelete, 0, OldImage::kKey, &b_, 0, -1, {}};
    return net_.Add(c);
  }
  // The removed keys, in order.
  std::vector<int64_t> Keys() {
    std::vector<int64_t> out;
    const Batch& k = net_.RemoveKeys();
    EXPECT_EQ(k.columns(), 1);
    for (size_t r = 0; r < k.rows(); ++r) out.push_back(k.at(r, 0).i);
    return out;
  }
  // id -> "v|big" of the rows to insert (NULL as "-").
  std::map<int64_t, std::string> Rows() {
    std::map<int64_t, std::string> out;
    const Batch rows = net_.Rows();
    EXPECT_EQ(rows.columns(), 3);
    for (size_t r = 0; r < rows.rows(); ++r) {
      std::string s;
      for (int c = 1; c < 3; ++c) {
        EXPECT_FALSE(rows.at(r, c).unchanged);
        if (c > 1) s += "|";
        s += rows.IsNull(r, c) ? std::string("-") : std::string(rows.Bytes(r, c));
      }
      EXPECT_EQ(out.count(rows.at(r, 0).i), 0u) << "key twice";
      out[rows.at(r, 0).i] = s;
    }
    return out;
  }
};

TEST_F(NetChangesTest, InsertUpdateDeleteOfOneRowNetsToItsDeletion) {
  EXPECT_TRUE(Insert(1, "a"));
  EXPECT_TRUE(Update(-1, 1, "b"));
  EXPECT_TRUE(Delete(1));
  EXPECT_EQ(Keys(), std::vector<int64_t>({1}));
  EXPECT_TRUE(Rows().empty());
  EXPECT_EQ(net_.changes(), 3);
}

TEST_F(NetChangesTest, InsertThenUpdatesKeepTheLastImageFilledFromTheFirst) {
  EXPECT_TRUE(Insert(1, "a", "BIG"));
  EXPECT_TRUE(Update(-1, 1, "b"));  // big unchanged: filled from the insert
  EXPECT_TRUE(Update(-1, 1, std::nullopt));
  EXPECT_TRUE(Insert(2, "x", std::nullopt));
  EXPECT_EQ(Keys(), std::vector<int64_t>({1, 2}));
  EXPECT_EQ(Rows(), (std::map<int64_t, std::string>{{1, "-|BIG"}, {2, "x|-"}}));
}

TEST_F(NetChangesTest, DeleteThenInsertIsTheNewRow) {
  EXPECT_TRUE(Delete(5));
  EXPECT_TRUE(Insert(5, "again"));
  EXPECT_EQ(Keys(), std::vector<int64_t>({5}));
  EXPECT_EQ(Rows(), (std::map<int64_t, std::string>{{5, "again|B"}}));
}

TEST_F(NetChangesTest, UpdateOfTheKeyRemovesTheOldKey) {
  EXPECT_TRUE(Insert(1, "a", "BIG"));
  EXPECT_TRUE(Update(1, 10, "moved"));  // big unchanged: from the row of key 1
  EXPECT_EQ(Keys(), std::vector<int64_t>({1, 10}));
  EXPECT_EQ(Rows(), (std::map<int64_t, std::string>{{10, "moved|BIG"}}));
  // And back: 10 -> 1.
  EXPECT_TRUE(Update(10, 1, "back", "full"));
  EXPECT_EQ(Rows(), (std::map<int64_t, std::string>{{1, "back|full"}}));
}

TEST_F(NetChangesTest, UpdateWithAFullImageOfAKeyNotInTheBatchIsAnUpsert) {
  EXPECT_TRUE(Update(-1, 7, "v", "all"));
  EXPECT_TRUE(Update(3, 4, "w", std::nullopt));
  EXPECT_EQ(Keys(), std::vector<int64_t>({7, 3, 4}));
  EXPECT_EQ(Rows(), (std::map<int64_t, std::string>{{7, "v|all"}, {4, "w|-"}}));
}

TEST_F(NetChangesTest, UpdateWithUnchangedCellsAndNoEarlierImageIsNotNetted) {
  EXPECT_TRUE(Insert(1, "a"));
  EXPECT_FALSE(Update(-1, 2, "b"));   // no image of 2
  EXPECT_FALSE(Update(3, 4, "b"));    // no image of 3
  EXPECT_TRUE(Delete(1));
  EXPECT_FALSE(Update(-1, 1, "c"));   // 1 is gone
  EXPECT_EQ(net_.changes(), 2);
  EXPECT_EQ(Keys(), std::vector<int64_t>({1}));
  EXPECT_TRUE(Rows().empty());
}

TEST_F(NetChangesTest, TruncateAndInsertWithUnchangedCellsAreNotNetted) {
  b_.Clear();
  ChangeView t{ChangeOp::kTruncate, 0, OldImage::kNone, &b_, -1, -1, {}};
  EXPECT_FALSE(net_.Add(t));
  EXPECT_FALSE(Insert(1, "a", "?"));
  EXPECT_TRUE(net_.empty());
  EXPECT_EQ(net_.changes(), 0);
}

TEST_F(NetChangesTest, ClearStartsAfresh) {
  EXPECT_TRUE(Insert(1, "a"));
  EXPECT_GT(net_.ByteSize(), 0u);
  net_.Clear();
  EXPECT_TRUE(net_.empty());
  EXPECT_TRUE(Keys().empty());
  EXPECT_FALSE(Update(-1, 1, "b"));  // the image of 1 is gone with the clear
}

TEST_F(NetChangesTest, ManyUpdatesOfFewRowsNetToFewRows) {
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(Insert(i, "x" + std::to_string(i), "big"));
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(Update(-1, i, "r" + std::to_string(round)));
  }
  EXPECT_EQ(net_.keys(), 100u);
  const auto rows = Rows();
  ASSERT_EQ(rows.size(), 100u);
  EXPECT_EQ(rows.at(42), "r49|big");
}

TEST(NetChanges, NeedsAPrimaryKey) {
  TableDef t = Table();
  t.primary_key.clear();
  EXPECT_THROW(NetChanges{t}, Error);
}

}  // namespace
}  // namespace ferry::cdc
