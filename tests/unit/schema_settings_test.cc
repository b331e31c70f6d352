// Ferry extension section "FerrySettings" of the task settings (settings/task_settings.h).
#include <gtest/gtest.h>

#include "settings/task_settings.h"

namespace ferry {
namespace {

TEST(SchemaSettings, OffByDefaultAndAbsentFromNormalisedDmsDocuments) {
  auto s = ParseTaskSettings("{}", "task.json");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().ferry_settings, FerrySettings{});
  EXPECT_FALSE(NormalizeTaskSettings(s.value()).contains("FerrySettings"));
}

TEST(SchemaSettings, ParsedNormalisedAndRoundTripped) {
  auto s = ParseTaskSettings(
      R"({"FerrySettings": {"CreateSecondaryIndexes": true, "CreateColumnDefaults": true}})",
      "task.json");
  ASSERT_TRUE(s.ok()) << s.error().what();
  EXPECT_TRUE(s.value().ferry_settings.create_secondary_indexes);
  EXPECT_FALSE(s.value().ferry_settings.create_foreign_keys);
  EXPECT_TRUE(s.value().ferry_settings.create_column_defaults);
  const auto normal = NormalizeTaskSettings(s.value());
  ASSERT_TRUE(normal.contains("FerrySettings"));
  EXPECT_EQ(normal["FerrySettings"].dump(),
            R"({"CreateSecondaryIndexes":true,"CreateForeignKeys":false,)"
            R"("CreateColumnDefaults":true})");
  EXPECT_EQ(normal.back().dump(), normal["FerrySettings"].dump());  // the last section
  auto again = ParseTaskSettings(normal.dump(), "normalized.json");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value(), s.value());
  EXPECT_TRUE(ParseTaskSettings(R"({"FerrySettings": null})", "t.json").ok());
}

TEST(SchemaSettings, ErrorsNameThePath) {
  auto unknown = ParseTaskSettings(R"({"FerrySettings": {"CreateTriggers": true}})", "t.json");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(std::string(unknown.error().what()).find("FerrySettings.CreateTriggers"),
            std::string::npos)
      << unknown.error().what();
  auto type = ParseTaskSettings(R"({"FerrySettings": {"CreateForeignKeys": 1}})", "t.json");
  ASSERT_FALSE(type.ok());
  EXPECT_EQ(std::string(type.error().what()),
            "t.json: FerrySettings.CreateForeignKeys: expected a boolean (true or false), "
            "found integer 1");
  auto shape = ParseTaskSettings(R"({"FerrySettings": true})", "t.json");
  ASSERT_FALSE(shape.ok());
  EXPECT_NE(std::string(shape.error().what()).find("FerrySettings: expected an object"),
            std::string::npos);
}

}  // namespace
}  // namespace ferry
