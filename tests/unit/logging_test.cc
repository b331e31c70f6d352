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

// Each component's lines carry its own name (loggers must not share a formatter).
TEST(Logging, EveryLineNamesItsComponent) {
  logging::Init(false);
  ::testing::internal::CaptureStderr();
  logging::For(LogComponentId::kSourceCapture).warn("from capture");
  logging::For(LogComponentId::kTargetApply).warn("from apply");
  spdlog::warn("from the default logger");
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("[SOURCE_CAPTURE  ] warning from capture"), std::string::npos) << err;
  EXPECT_NE(err.find("[TARGET_APPLY    ] warning from apply"), std::string::npos) << err;
  EXPECT_NE(err.find("[TASK_MANAGER    ] warning from the default logger"), std::string::npos)
      << err;
}

}  // namespace
}  // namespace ferry
