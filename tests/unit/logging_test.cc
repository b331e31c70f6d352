#include "logging/log.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(Logging, SeveritiesMapOntoLevels) {
  EXPECT_EQ(logging::LevelOf(LoggerSeverity::kError), spdlog::level::err);
  EXPECT_EQ(logging::LevelOf(LoggerSeverity::kWarning), spdlog::level::warn);
  EXPECT_EQ(logging::LevelOf(LoggerSeverity::kInfo), spdlog::level::info);
  EXPECT_EQ(logging::LevelOf(LoggerSeverity::kDefault), spdlog::level::info);
  EXPECT_EQ(logging::LevelOf(LoggerSeverity::kDebug), spdlog::level::debug);
  EXPECT_EQ(logging::LevelOf(LoggerSeverity::kDetailedDebug), spdlog::level::trace);
}

TEST(Logging, ComponentsTakeTheirSeverity) {
  Logging settings;
  for (LogComponent& c : settings.log_components) {
    if (c.id == LogComponentId::kTargetLoad) c.severity = LoggerSeverity::kError;
    if (c.id == LogComponentId::kSourceUnload) c.severity = LoggerSeverity::kDetailedDebug;
  }
  logging::Configure(settings, /*verbose=*/false);
  EXPECT_EQ(logging::For(LogComponentId::kTargetLoad).level(), spdlog::level::err);
  EXPECT_EQ(logging::For(LogComponentId::kSourceUnload).level(), spdlog::level::trace);
  EXPECT_EQ(logging::For(LogComponentId::kTaskManager).level(), spdlog::level::info);
  EXPECT_EQ(logging::For(LogComponentId::kTargetLoad).name(), "TARGET_LOAD");
  // -v lifts everything to at least debug, and never lowers a more verbose component.
  logging::Configure(settings, /*verbose=*/true);
  EXPECT_EQ(logging::For(LogComponentId::kTargetLoad).level(), spdlog::level::debug);
  EXPECT_EQ(logging::For(LogComponentId::kSourceUnload).level(), spdlog::level::trace);
  logging::Configure(Logging{}, false);
}

}  // namespace
}  // namespace ferry
