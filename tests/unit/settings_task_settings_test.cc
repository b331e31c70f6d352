// Tests for src/settings/task_settings: defaults, the DMS user guide's documents, type, range and
// unknown-key errors with their messages, the normalised order, round trips.
#include "settings/task_settings.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry {
namespace {

// The document the DMS service returns for a saved task (user guide, "Saving task settings").
constexpr const char* kServiceSavedDocument = R"json({
    "TargetMetadata": {
        "TargetSchema": "",
        "SupportLobs": true,
        "FullLobMode": false,
        "LobChunkSize": 0,
        "LimitedSizeLobMode": true,
        "LobMaxSize": 32,
        "InlineLobMaxSize": 0,
        "LoadMaxFileSize": 0,
        "ParallelLoadThreads": 0,
        "ParallelLoadBufferSize": 0,
        "BatchApplyEnabled": false,
        "TaskRecoveryTableEnabled": false,
        "ParallelLoadQueuesPerThread": 0,
        "ParallelApplyThreads": 0,
        "ParallelApplyBufferSize": 0,
        "ParallelApplyQueuesPerThread": 0
    },
    "FullLoadSettings": {
        "TargetTablePrepMode": "DO_NOTHING",
        "CreatePkAfterFullLoad": false,
        "StopTaskCachedChangesApplied": false,
        "StopTaskCachedChangesNotApplied": false,
        "MaxFullLoadSubTasks": 8,
        "TransactionConsistencyTimeout": 600,
        "CommitRate": 10000
    },
    "Logging": {
        "EnableLogging": true,
        "LogComponents": [
            {"Id": "TRANSFORMATION", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "SOURCE_UNLOAD", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "IO", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "TARGET_LOAD", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "PERFORMANCE", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "SOURCE_CAPTURE", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "SORTER", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "REST_SERVER", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "VALIDATOR_EXT", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "TARGET_APPLY", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "TASK_MANAGER", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "TABLES_MANAGER", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "METADATA_MANAGER", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "FILE_FACTORY", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "COMMON", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "ADDONS", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "DATA_STRUCTURE", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "COMMUNICATION", "Severity": "LOGGER_SEVERITY_DEFAULT"},
            {"Id": "FILE_TRANSFER", "Severity": "LOGGER_SEVERITY_DEFAULT"}
        ]
    },
    "ControlTablesSettings": {
        "historyTimeslotInMinutes": 5,
        "ControlSchema": "",
        "HistoryTimeslotInMinutes": 5,
        "HistoryTableEnabled": false,
        "SuspendedTablesTableEnabled": false,
        "StatusTableEnabled": false,
        "FullLoadExceptionTableEnabled": false
    },
    "StreamBufferSettings": {
        "StreamBufferCount": 3,
        "StreamBufferSizeInMB": 8,
        "CtrlStreamBufferSizeInMB": 5
    },
    "ChangeProcessingDdlHandlingPolicy": {
        "HandleSourceTableDropped": true,
        "HandleSourceTableTruncated": true,
        "HandleSourceTableAltered": true
    },
    "ErrorBehavior": {
        "DataErrorPolicy": "LOG_ERROR",
        "DataTruncationErrorPolicy": "LOG_ERROR",
        "DataErrorEscalationPolicy": "SUSPEND_TABLE",
        "DataErrorEscalationCount": 0,
        "TableErrorPolicy": "SUSPEND_TABLE",
        "TableErrorEscalationPolicy": "STOP_TASK",
        "TableErrorEscalationCount": 0,
        "RecoverableErrorCount": -1,
        "RecoverableErrorInterval": 5,
        "RecoverableErrorThrottling": true,
        "RecoverableErrorThrottlingMax": 1800,
        "RecoverableErrorStopRetryAfterThrottlingMax": true,
        "ApplyErrorDeletePolicy": "IGNORE_RECORD",
        "ApplyErrorInsertPolicy": "LOG_ERROR",
        "ApplyErrorUpdatePolicy": "LOG_ERROR",
        "ApplyErrorEscalationPolicy": "LOG_ERROR",
        "ApplyErrorEscalationCount": 0,
        "ApplyErrorFailOnTruncationDdl": false,
        "FullLoadIgnoreConflicts": true,
        "FailOnTransactionConsistencyBreached": false,
        "FailOnNoTablesCaptured": true
    },
    "ChangeProcessingTuning": {
        "BatchApplyPreserveTransaction": true,
        "BatchApplyTimeoutMin": 1,
        "BatchApplyTimeoutMax": 30,
        "BatchApplyMemoryLimit": 500,
        "BatchSplitSize": 0,
        "MinTransactionSize": 1000,
        "CommitTimeout": 1,
        "MemoryLimitTotal": 1024,
        "MemoryKeepTime": 60,
        "StatementCacheSize": 50
    },
    "PostProcessingRules": null,
    "CharacterSetSettings": null,
    "LoopbackPreventionSettings": null,
    "BeforeImageSettings": null,
    "FailTaskWhenCleanTaskResourceFailed": false
})json";

// The lower-level shape of a failed parse: its message, or "" when it parsed.
std::string ErrorOf(const std::string& json) {
  auto r = ParseTaskSettings(json, "task.json");
  if (r.ok()) return "";
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
  return r.error().what();
}

TaskSettings ParseOk(const std::string& json) {
  auto r = ParseTaskSettings(json, "task.json");
  EXPECT_TRUE(r.ok()) << r.error().what();
  return r.ok() ? r.value() : TaskSettings{};
}

TEST(SettingsDefaults, EmptyDocumentIsAllDefaults) {
  EXPECT_EQ(ParseOk("{}"), TaskSettings{});
  EXPECT_EQ(ParseOk(" { } \n"), TaskSettings{});
}

TEST(SettingsDefaults, NullSectionsAreDefaults) {
  EXPECT_EQ(ParseOk(R"({"TargetMetadata":null,"Logging":null,"CharacterSetSettings":null,
                       "BeforeImageSettings":null,"LoopbackPreventionSettings":null,
                       "PostProcessingRules":null})"),
            TaskSettings{});
}

TEST(SettingsDefaults, EachSection) {
  const TaskSettings s = ParseOk("{}");
  const TargetMetadata& tm = s.target_metadata;
  EXPECT_EQ(tm.target_schema, "");
  EXPECT_TRUE(tm.support_lobs);
  EXPECT_FALSE(tm.full_lob_mode);
  EXPECT_TRUE(tm.limited_size_lob_mode);
  EXPECT_EQ(tm.lob_max_size, 32);
  EXPECT_EQ(tm.lob_chunk_size, 64);
  EXPECT_EQ(tm.inline_lob_max_size, 0);
  EXPECT_FALSE(tm.batch_apply_enabled);
  EXPECT_EQ(tm.parallel_load_threads, 0);
  EXPECT_EQ(tm.parallel_load_buffer_size, 0);
  EXPECT_FALSE(tm.task_recovery_table_enabled);

  const FullLoadSettings& fl = s.full_load_settings;
  EXPECT_EQ(fl.target_table_prep_mode, TargetTablePrepMode::kDoNothing);
  EXPECT_FALSE(fl.create_pk_after_full_load);
  EXPECT_FALSE(fl.stop_task_cached_changes_applied);
  EXPECT_FALSE(fl.stop_task_cached_changes_not_applied);
  EXPECT_EQ(fl.max_full_load_sub_tasks, 8);
  EXPECT_EQ(fl.transaction_consistency_timeout, 600);
  EXPECT_EQ(fl.commit_rate, 10000);

  const ChangeProcessingTuning& t = s.change_processing_tuning;
  EXPECT_TRUE(t.batch_apply_preserve_transaction);
  EXPECT_EQ(t.batch_apply_timeout_min, 1);
  EXPECT_EQ(t.batch_apply_timeout_max, 30);
  EXPECT_EQ(t.batch_apply_memory_limit, 500);
  EXPECT_EQ(t.batch_split_size, 0);
  EXPECT_EQ(t.min_transaction_size, 1000);
  EXPECT_EQ(t.commit_timeout, 1);
  EXPECT_EQ(t.memory_limit_total, 1024);
  EXPECT_EQ(t.memory_keep_time, 60);
  EXPECT_EQ(t.statement_cache_size, 50);

  const ChangeProcessingDdlHandlingPolicy& d = s.change_processing_ddl_handling_policy;
  EXPECT_TRUE(d.handle_source_table_dropped);
  EXPECT_TRUE(d.handle_source_table_truncated);
  EXPECT_TRUE(d.handle_source_table_altered);

  const ErrorBehavior& e = s.error_behavior;
  EXPECT_EQ(e.data_error_policy, ErrorPolicy::kLogError);
  EXPECT_EQ(e.data_truncation_error_policy, ErrorPolicy::kLogError);
  EXPECT_EQ(e.data_error_escalation_policy, ErrorPolicy::kSuspendTable);
  EXPECT_EQ(e.data_error_escalation_count, 0);
  EXPECT_EQ(e.table_error_policy, ErrorPolicy::kSuspendTable);
  EXPECT_EQ(e.table_error_escalation_policy, ErrorPolicy::kStopTask);
  EXPECT_EQ(e.recoverable_error_count, -1);
  EXPECT_EQ(e.recoverable_error_interval, 5);
  EXPECT_TRUE(e.recoverable_error_throttling);
  EXPECT_EQ(e.recoverable_error_throttling_max, 1800);
  EXPECT_EQ(e.apply_error_delete_policy, ErrorPolicy::kIgnoreRecord);
  EXPECT_EQ(e.apply_error_insert_policy, ErrorPolicy::kLogError);
  EXPECT_EQ(e.apply_error_update_policy, ErrorPolicy::kLogError);
  EXPECT_TRUE(e.full_load_ignore_conflicts);

  const ValidationSettings& v = s.validation_settings;
  EXPECT_FALSE(v.enable_validation);
  EXPECT_EQ(v.thread_count, 5);
  EXPECT_EQ(v.partition_size, 10000);
  EXPECT_EQ(v.failure_max_count, 10000);
  EXPECT_EQ(v.table_failure_max_count, 1000);
  EXPECT_FALSE(v.validation_only);
  EXPECT_FALSE(v.handle_collation_diff);
  EXPECT_FALSE(v.skip_lob_columns);

  const ControlTablesSettings& c = s.control_tables_settings;
  EXPECT_EQ(c.control_schema, "");
  EXPECT_FALSE(c.status_table_enabled);
  EXPECT_FALSE(c.suspended_tables_table_enabled);
  EXPECT_FALSE(c.history_table_enabled);
  EXPECT_EQ(c.history_timeslot_in_minutes, 5);

  EXPECT_FALSE(s.logging.enable_logging);
  ASSERT_EQ(s.logging.log_components.size(), static_cast<size_t>(kLogComponentCount));
  for (const LogComponent& lc : s.logging.log_components) {
    EXPECT_EQ(lc.severity, LoggerSeverity::kDefault);
  }
  EXPECT_EQ(s.stream_buffer_settings.stream_buffer_count, 3);
  EXPECT_EQ(s.stream_buffer_settings.stream_buffer_size_in_mb, 8);
  EXPECT_FALSE(s.loopback_prevention_settings.enable_loopback_prevention);
  EXPECT_TRUE(s.character_set_settings.character_replacements.empty());
  EXPECT_FALSE(s.before_image_settings.enable_before_image);
  EXPECT_EQ(s.before_image_settings.column_filter, BeforeImageColumnFilter::kPkOnly);
}

TEST(SettingsParse, ServiceSavedDocumentFromUserGuide) {
  const TaskSettings s = ParseOk(kServiceSavedDocument);
  EXPECT_TRUE(s.logging.enable_logging);
  EXPECT_EQ(s.target_metadata.lob_chunk_size, 0);
  EXPECT_EQ(s.error_behavior.recoverable_error_count, -1);
  EXPECT_TRUE(s.error_behavior.fail_on_no_tables_captured);
  EXPECT_EQ(s.stream_buffer_settings.ctrl_stream_buffer_size_in_mb, 5);
  EXPECT_EQ(s.logging.SeverityOf(LogComponentId::kFileTransfer), LoggerSeverity::kDefault);
}

TEST(SettingsParse, GuideExampleSections) {
  // The user guide's "Task settings example", with its unquoted pk-only fixed and its
  // TTSettings (Time Travel, not in Ferry) left out.
  const TaskSettings s = ParseOk(R"({
    "TargetMetadata": {"TargetSchema": "", "SupportLobs": true, "FullLobMode": false,
      "LobChunkSize": 64, "LimitedSizeLobMode": true, "LobMaxSize": 32, "InlineLobMaxSize": 0,
      "LoadMaxFileSize": 0, "ParallelLoadThreads": 0, "ParallelLoadBufferSize":0,
      "ParallelLoadQueuesPerThread": 1, "ParallelApplyThreads": 0,
      "ParallelApplyBufferSize": 100, "ParallelApplyQueuesPerThread": 1,
      "BatchApplyEnabled": false, "TaskRecoveryTableEnabled": false},
    "LoopbackPreventionSettings": {"EnableLoopbackPrevention": true,
      "SourceSchema": "LOOP-DATA", "TargetSchema": "loop-data"},
    "CharacterSetSettings": {
      "CharacterReplacements": [ {"SourceCharacterCodePoint": 35, "TargetCharacterCodePoint": 52},
        {"SourceCharacterCodePoint": 37, "TargetCharacterCodePoint": 103}],
      "CharacterSetSupport": {"CharacterSet": "UTF16_PlatformEndian",
        "ReplaceWithCharacterCodePoint": 0}},
    "BeforeImageSettings": {"EnableBeforeImage": false, "FieldName": "", "ColumnFilter": "pk-only"},
    "ValidationSettings": {"EnableValidation": false, "ValidationMode": "ROW_LEVEL",
      "ThreadCount": 5, "PartitionSize": 10000, "FailureMaxCount": 1000,
      "RecordFailureDelayInMinutes": 5, "RecordSuspendDelayInMinutes": 30,
      "MaxKeyColumnSize": 8096, "TableFailureMaxCount": 10000, "ValidationOnly": false,
      "HandleCollationDiff": false, "RecordFailureDelayLimitInMinutes": 1,
      "SkipLobColumns": false, "ValidationPartialLobSize": 0,
      "ValidationQueryCdcDelaySeconds": 0},
    "ErrorBehavior": {"DataErrorEscalationCount": 50, "TableErrorEscalationCount": 50,
      "RecoverableErrorCount": 0}
  })");
  EXPECT_EQ(s.target_metadata.parallel_apply_buffer_size, 100);
  EXPECT_TRUE(s.loopback_prevention_settings.enable_loopback_prevention);
  EXPECT_EQ(s.loopback_prevention_settings.source_schema, "LOOP-DATA");
  ASSERT_EQ(s.character_set_settings.character_replacements.size(), 2u);
  EXPECT_EQ(s.character_set_settings.character_replacements[1].target_character_code_point, 103);
  EXPECT_EQ(s.character_set_settings.character_set, "UTF16_PlatformEndian");
  EXPECT_EQ(s.validation_settings.record_failure_delay_limit_in_minutes, 1);
  EXPECT_EQ(s.error_behavior.data_error_escalation_count, 50);
  EXPECT_EQ(s.error_behavior.recoverable_error_count, 0);
}

TEST(SettingsParse, EnumsAndPolicySubsets) {
  const TaskSettings s = ParseOk(R"({
    "FullLoadSettings": {"TargetTablePrepMode": "TRUNCATE_BEFORE_LOAD"},
    "ErrorBehavior": {"ApplyErrorInsertPolicy": "INSERT_RECORD",
                      "ApplyErrorUpdatePolicy": "UPDATE_RECORD",
                      "DataErrorPolicy": "STOP_TASK", "TableErrorPolicy": "STOP_TASK"},
    "Logging": {"EnableLogging": true, "LogComponents": [
      {"Id": "TARGET_LOAD", "Severity": "LOGGER_SEVERITY_DETAILED_DEBUG"},
      {"Id": "SOURCE_UNLOAD", "Severity": "LOGGER_SEVERITY_ERROR"}]},
    "BeforeImageSettings": {"EnableBeforeImage": true, "FieldName": "bi", "ColumnFilter": "all"}
  })");
  EXPECT_EQ(s.full_load_settings.target_table_prep_mode, TargetTablePrepMode::kTruncateBeforeLoad);
  EXPECT_EQ(s.error_behavior.apply_error_insert_policy, ErrorPolicy::kInsertRecord);
  EXPECT_EQ(s.error_behavior.apply_error_update_policy, ErrorPolicy::kUpdateRecord);
  EXPECT_EQ(s.error_behavior.data_error_policy, ErrorPolicy::kStopTask);
  EXPECT_EQ(s.logging.SeverityOf(LogComponentId::kTargetLoad), LoggerSeverity::kDetailedDebug);
  EXPECT_EQ(s.logging.SeverityOf(LogComponentId::kSourceUnload), LoggerSeverity::kError);
  EXPECT_EQ(s.logging.SeverityOf(LogComponentId::kTaskManager), LoggerSeverity::kDefault);
  // Stored in canonical order whatever the input order.
  EXPECT_EQ(s.logging.log_components[1].id, LogComponentId::kSourceUnload);
  EXPECT_EQ(s.before_image_settings.column_filter, BeforeImageColumnFilter::kAll);

  EXPECT_EQ(ErrorOf(R"({"ErrorBehavior":{"ApplyErrorDeletePolicy":"INSERT_RECORD"}})"),
            "task.json: ErrorBehavior.ApplyErrorDeletePolicy: expected one of IGNORE_RECORD, "
            "LOG_ERROR, SUSPEND_TABLE, STOP_TASK, found string \"INSERT_RECORD\"");
  EXPECT_EQ(ErrorOf(R"({"ErrorBehavior":{"ApplyErrorInsertPolicy":"UPDATE_RECORD"}})"),
            "task.json: ErrorBehavior.ApplyErrorInsertPolicy: expected one of IGNORE_RECORD, "
            "LOG_ERROR, SUSPEND_TABLE, STOP_TASK, INSERT_RECORD, found string \"UPDATE_RECORD\"");
  EXPECT_EQ(ErrorOf(R"({"ErrorBehavior":{"TableErrorPolicy":"LOG_ERROR"}})"),
            "task.json: ErrorBehavior.TableErrorPolicy: expected one of SUSPEND_TABLE, "
            "STOP_TASK, found string \"LOG_ERROR\"");
  EXPECT_EQ(ErrorOf(R"({"FullLoadSettings":{"TargetTablePrepMode":"do_nothing"}})"),
            "task.json: FullLoadSettings.TargetTablePrepMode: expected one of DO_NOTHING, "
            "DROP_AND_CREATE, TRUNCATE_BEFORE_LOAD, found string \"do_nothing\"");
  EXPECT_EQ(ErrorOf(R"({"BeforeImageSettings":{"ColumnFilter":"pk"}})"),
            "task.json: BeforeImageSettings.ColumnFilter: expected one of pk-only, non-lob, all, "
            "found string \"pk\"");
}

TEST(SettingsErrors, WrongTypesAtEveryLevel) {
  EXPECT_EQ(ErrorOf("[]"), "task.json: (top level): expected an object, found an array");
  EXPECT_EQ(ErrorOf("42"), "task.json: (top level): expected an object, found integer 42");
  EXPECT_EQ(ErrorOf(R"({"TargetMetadata": []})"),
            "task.json: TargetMetadata: expected an object or null, found an array");
  EXPECT_EQ(ErrorOf(R"({"TargetMetadata": {"SupportLobs": "true"}})"),
            "task.json: TargetMetadata.SupportLobs: expected a boolean (true or false), found "
            "string \"true\"");
  EXPECT_EQ(ErrorOf(R"({"TargetMetadata": {"TargetSchema": 5}})"),
            "task.json: TargetMetadata.TargetSchema: expected a string, found integer 5");
  EXPECT_EQ(ErrorOf(R"({"FullLoadSettings": {"CommitRate": "10000"}})"),
            "task.json: FullLoadSettings.CommitRate: expected an integer in 1..50000, found "
            "string \"10000\"");
  EXPECT_EQ(ErrorOf(R"({"FullLoadSettings": {"CommitRate": 100.5}})"),
            "task.json: FullLoadSettings.CommitRate: expected an integer in 1..50000, found "
            "number 100.5");
  EXPECT_EQ(ErrorOf(R"({"FullLoadSettings": {"TargetTablePrepMode": null}})"),
            "task.json: FullLoadSettings.TargetTablePrepMode: expected one of DO_NOTHING, "
            "DROP_AND_CREATE, TRUNCATE_BEFORE_LOAD, found null");
  EXPECT_EQ(ErrorOf(R"({"Logging": {"LogComponents": {"Id": "IO"}}})"),
            "task.json: Logging.LogComponents: expected an array or null, found an object");
  EXPECT_EQ(ErrorOf(R"({"Logging": {"LogComponents": [{"Id": "IO", "Severity":
                       "LOGGER_SEVERITY_INFO"}, "IO"]}})"),
            "task.json: Logging.LogComponents[1]: expected an object, found string \"IO\"");
  EXPECT_EQ(ErrorOf(R"({"Logging": {"LogComponents": [{"Id": "IO", "Severity": 3}]}})"),
            "task.json: Logging.LogComponents[0].Severity: expected one of LOGGER_SEVERITY_ERROR, "
            "LOGGER_SEVERITY_WARNING, LOGGER_SEVERITY_INFO, LOGGER_SEVERITY_DEFAULT, "
            "LOGGER_SEVERITY_DEBUG, LOGGER_SEVERITY_DETAILED_DEBUG, found integer 3");
  EXPECT_NE(ErrorOf(R"({"Logging": {"LogComponents": [{"Id": "NOPE"}]}})")
                .find("task.json: Logging.LogComponents[0].Id: expected one of TRANSFORMATION, "),
            std::string::npos);
  EXPECT_EQ(ErrorOf(R"({"Logging": {"CloudWatchLogGroup": 1}})"),
            "task.json: Logging.CloudWatchLogGroup: expected a string or null, found integer 1");
  EXPECT_EQ(ErrorOf(R"({"CharacterSetSettings": {"CharacterSetSupport": {"CharacterSet": []}}})"),
            "task.json: CharacterSetSettings.CharacterSetSupport.CharacterSet: expected a string, "
            "found an array");
  EXPECT_EQ(ErrorOf(R"({"CharacterSetSettings": {"CharacterReplacements": [
                       {"SourceCharacterCodePoint": 35, "TargetCharacterCodePoint": true}]}})"),
            "task.json: CharacterSetSettings.CharacterReplacements[0].TargetCharacterCodePoint: "
            "expected an integer in 0..1114111, found boolean true");
  EXPECT_EQ(ErrorOf(R"({"PostProcessingRules": {}})"),
            "task.json: PostProcessingRules: expected null (Ferry does not implement "
            "PostProcessingRules), found an object");
  EXPECT_EQ(ErrorOf(R"({"FailTaskWhenCleanTaskResourceFailed": 0})"),
            "task.json: FailTaskWhenCleanTaskResourceFailed: expected a boolean (true or false), "
            "found integer 0");
}

TEST(SettingsErrors, MalformedJson) {
  const std::string e = ErrorOf(R"({"BeforeImageSettings": {"ColumnFilter": pk-only}})");
  EXPECT_EQ(e.rfind("task.json: not valid JSON: parse error at line 1, column ", 0), 0u) << e;
  EXPECT_NE(ErrorOf("").find("task.json: not valid JSON"), std::string::npos);
  // Found by fuzz_task_settings: nlohmann reports a number beyond double as out_of_range.
  EXPECT_EQ(ErrorOf(R"({"FullLoadSettings": {"CommitRate": 1E400}})"),
            "task.json: not valid JSON: number overflow parsing '1E400'");
  EXPECT_NE(ErrorOf("{\"a\":1,}").find("task.json: not valid JSON"), std::string::npos);
}

// DMS's own examples: the user guide's Time Travel section and EventErrorPolicy are accepted;
// what Ferry does not act on is said, by key.
TEST(SettingsParse, TimeTravelAndEventErrorPolicyFromTheUserGuide) {
  TaskSettings s = ParseOk(R"({
    "ErrorBehavior": {"EventErrorPolicy": "STOP_TASK"},
    "TTSettings" : {
      "EnableTT" : true,
      "TTS3Settings": {
        "EncryptionMode": "SSE_KMS",
        "ServerSideEncryptionKmsKeyId": "arn:aws:kms:us-west-2:112233445566:key/myKMSKey",
        "ServiceAccessRoleArn": "arn:aws:iam::112233445566:role/dms-tt-s3-access-role",
        "BucketName": "myttbucket",
        "BucketFolder": "myttfolder",
        "EnableDeletingFromS3OnTaskDelete": false
      },
      "TTRecordSettings": {
        "EnableRawData" : true,
        "OperationsToLog": "DELETE,UPDATE",
        "MaxRecordSize": 64
      }
    }})");
  EXPECT_TRUE(s.tt_settings.enable_tt);
  EXPECT_EQ(s.tt_settings.encryption_mode, TtEncryptionMode::kSseKms);
  EXPECT_EQ(s.tt_settings.operations_to_log, "DELETE,UPDATE");
  EXPECT_EQ(s.error_behavior.event_error_policy, EventErrorPolicy::kStopTask);
  const std::vector<std::string> notes = SettingsNotActedOn(s);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].rfind("TTSettings.EnableTT: ", 0), 0u) << notes[0];
  EXPECT_EQ(notes[1].rfind("ErrorBehavior.EventErrorPolicy STOP_TASK: ", 0), 0u) << notes[1];
  EXPECT_TRUE(SettingsNotActedOn(TaskSettings{}).empty());
  EXPECT_EQ(ParseOk(NormalizeTaskSettings(s).dump()), s) << "round trip";
}

TEST(SettingsErrors, UnknownKeys) {
  EXPECT_EQ(ErrorOf(R"({"TimeTravel": {}})").rfind(
                "task.json: TimeTravel: unknown key (expected one of: TargetMetadata, "
                "FullLoadSettings, Logging, ",
                0),
            0u);
  const std::string e = ErrorOf(R"({"FullLoadSettings": {"MaxFullLoadSubtasks": 8}})");
  EXPECT_EQ(e, "task.json: FullLoadSettings.MaxFullLoadSubtasks: unknown key (expected one of: "
               "TargetTablePrepMode, CreatePkAfterFullLoad, StopTaskCachedChangesApplied, "
               "StopTaskCachedChangesNotApplied, MaxFullLoadSubTasks, "
               "TransactionConsistencyTimeout, CommitRate); did you mean MaxFullLoadSubTasks?");
  EXPECT_NE(ErrorOf(R"({"Logging": {"LogComponents": [{"Id": "IO", "Level": "x"}]}})")
                .find("task.json: Logging.LogComponents[0].Level: unknown key (expected one of: "
                      "Id, Severity)"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"CharacterSetSettings": {"CharacterSetSupport": {"Charset": "x"}}})")
                .find("task.json: CharacterSetSettings.CharacterSetSupport.Charset: unknown key"),
            std::string::npos);
}

TEST(SettingsErrors, Ranges) {
  EXPECT_EQ(ErrorOf(R"({"FullLoadSettings": {"MaxFullLoadSubTasks": 50}})"),
            "task.json: FullLoadSettings.MaxFullLoadSubTasks: expected an integer in 1..49, "
            "found integer 50");
  EXPECT_EQ(ErrorOf(R"({"FullLoadSettings": {"MaxFullLoadSubTasks": 0}})"),
            "task.json: FullLoadSettings.MaxFullLoadSubTasks: expected an integer in 1..49, "
            "found integer 0");
  EXPECT_EQ(ParseOk(R"({"FullLoadSettings": {"MaxFullLoadSubTasks": 49, "CommitRate": 50000}})")
                .full_load_settings.commit_rate,
            50000);
  EXPECT_EQ(ErrorOf(R"({"FullLoadSettings": {"CommitRate": 50001}})"),
            "task.json: FullLoadSettings.CommitRate: expected an integer in 1..50000, found "
            "integer 50001");
  EXPECT_EQ(ErrorOf(R"({"ErrorBehavior": {"RecoverableErrorCount": -2}})"),
            "task.json: ErrorBehavior.RecoverableErrorCount: expected an integer >= -1, found "
            "integer -2");
  EXPECT_EQ(ErrorOf(R"({"ValidationSettings": {"ThreadCount": 0}})"),
            "task.json: ValidationSettings.ThreadCount: expected an integer >= 1, found integer 0");
  EXPECT_EQ(ErrorOf(R"({"TargetMetadata": {"LobMaxSize": 18446744073709551615}})"),
            "task.json: TargetMetadata.LobMaxSize: expected an integer >= 0, found integer "
            "18446744073709551615");
  EXPECT_EQ(ErrorOf(R"({"TargetMetadata": {"InlineLobMaxSize": 102401}})"),
            "task.json: TargetMetadata.InlineLobMaxSize: expected an integer in 0..102400, found "
            "integer 102401");
}

TEST(SettingsErrors, CrossFieldChecks) {
  EXPECT_EQ(ErrorOf(R"({"BeforeImageSettings": {"EnableBeforeImage": true}})"),
            "task.json: BeforeImageSettings.FieldName: expected a non-empty string when "
            "EnableBeforeImage is true, found no FieldName");
  EXPECT_EQ(ErrorOf(R"({"Logging": {"LogComponents": [
                       {"Id": "IO", "Severity": "LOGGER_SEVERITY_INFO"},
                       {"Id": "IO", "Severity": "LOGGER_SEVERITY_DEBUG"}]}})"),
            "task.json: Logging.LogComponents[1].Id: expected each component once, found IO "
            "again (first at [0])");
  EXPECT_EQ(ErrorOf(R"({"ChangeProcessingTuning": {"BatchApplyTimeoutMin": 40}})"),
            "task.json: ChangeProcessingTuning.BatchApplyTimeoutMin: expected at most "
            "BatchApplyTimeoutMax (30), found 40");
  EXPECT_EQ(ErrorOf(R"({"ControlTablesSettings": {"HistoryTimeslotInMinutes": 5,
                       "historyTimeslotInMinutes": 6}})"),
            "task.json: ControlTablesSettings.historyTimeslotInMinutes: expected the same value "
            "as ControlTablesSettings.HistoryTimeslotInMinutes (5), found 6");
  EXPECT_EQ(ParseOk(R"({"ControlTablesSettings": {"historyTimeslotInMinutes": 7}})")
                .control_tables_settings.history_timeslot_in_minutes,
            7);
}

TEST(SettingsNormalize, GoldenForEmptyDocument) {
  const std::string got = NormalizeTaskSettings(ParseOk("{}")).dump(2);
  const std::string golden = R"json({
  "TargetMetadata": {
    "TargetSchema": "",
    "SupportLobs": true,
    "FullLobMode": false,
    "LobChunkSize": 64,
    "LimitedSizeLobMode": true,
    "LobMaxSize": 32,
    "InlineLobMaxSize": 0,
    "LoadMaxFileSize": 0,
    "ParallelLoadThreads": 0,
    "ParallelLoadBufferSize": 0,
    "BatchApplyEnabled": false,
    "TaskRecoveryTableEnabled": false,
    "ParallelLoadQueuesPerThread": 0,
    "ParallelApplyThreads": 0,
    "ParallelApplyBufferSize": 0,
    "ParallelApplyQueuesPerThread": 0
  },
  "FullLoadSettings": {
    "TargetTablePrepMode": "DO_NOTHING",
    "CreatePkAfterFullLoad": false,
    "StopTaskCachedChangesApplied": false,
    "StopTaskCachedChangesNotApplied": false,
    "MaxFullLoadSubTasks": 8,
    "TransactionConsistencyTimeout": 600,
    "CommitRate": 10000
  },
  "Logging": {
    "EnableLogging": false,
    "EnableLogContext": false,
    "LogComponents": [
      {
        "Id": "TRANSFORMATION",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "SOURCE_UNLOAD",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "IO",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "TARGET_LOAD",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "PERFORMANCE",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "SOURCE_CAPTURE",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "SORTER",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "REST_SERVER",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "VALIDATOR_EXT",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "TARGET_APPLY",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "TASK_MANAGER",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "TABLES_MANAGER",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "METADATA_MANAGER",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "FILE_FACTORY",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "COMMON",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "ADDONS",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "DATA_STRUCTURE",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "COMMUNICATION",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      },
      {
        "Id": "FILE_TRANSFER",
        "Severity": "LOGGER_SEVERITY_DEFAULT"
      }
    ],
    "CloudWatchLogGroup": null,
    "CloudWatchLogStream": null
  },
  "ControlTablesSettings": {
    "ControlSchema": "",
    "HistoryTimeslotInMinutes": 5,
    "HistoryTableEnabled": false,
    "SuspendedTablesTableEnabled": false,
    "StatusTableEnabled": false,
    "FullLoadExceptionTableEnabled": false
  },
  "StreamBufferSettings": {
    "StreamBufferCount": 3,
    "StreamBufferSizeInMB": 8,
    "CtrlStreamBufferSizeInMB": 5
  },
  "ChangeProcessingDdlHandlingPolicy": {
    "HandleSourceTableDropped": true,
    "HandleSourceTableTruncated": true,
    "HandleSourceTableAltered": true
  },
  "ErrorBehavior": {
    "DataErrorPolicy": "LOG_ERROR",
    "DataTruncationErrorPolicy": "LOG_ERROR",
    "DataErrorEscalationPolicy": "SUSPEND_TABLE",
    "DataErrorEscalationCount": 0,
    "TableErrorPolicy": "SUSPEND_TABLE",
    "TableErrorEscalationPolicy": "STOP_TASK",
    "TableErrorEscalationCount": 0,
    "RecoverableErrorCount": -1,
    "RecoverableErrorInterval": 5,
    "RecoverableErrorThrottling": true,
    "RecoverableErrorThrottlingMax": 1800,
    "RecoverableErrorStopRetryAfterThrottlingMax": true,
    "ApplyErrorDeletePolicy": "IGNORE_RECORD",
    "ApplyErrorInsertPolicy": "LOG_ERROR",
    "ApplyErrorUpdatePolicy": "LOG_ERROR",
    "ApplyErrorEscalationPolicy": "LOG_ERROR",
    "ApplyErrorEscalationCount": 0,
    "ApplyErrorFailOnTruncationDdl": false,
    "FullLoadIgnoreConflicts": true,
    "EventErrorPolicy": "IGNORE",
    "FailOnTransactionConsistencyBreached": false,
    "FailOnNoTablesCaptured": true
  },
  "ChangeProcessingTuning": {
    "BatchApplyPreserveTransaction": true,
    "BatchApplyTimeoutMin": 1,
    "BatchApplyTimeoutMax": 30,
    "BatchApplyMemoryLimit": 500,
    "BatchSplitSize": 0,
    "MinTransactionSize": 1000,
    "CommitTimeout": 1,
    "MemoryLimitTotal": 1024,
    "MemoryKeepTime": 60,
    "StatementCacheSize": 50
  },
  "ValidationSettings": {
    "EnableValidation": false,
    "ValidationMode": "ROW_LEVEL",
    "ThreadCount": 5,
    "PartitionSize": 10000,
    "FailureMaxCount": 10000,
    "RecordFailureDelayInMinutes": 5,
    "RecordSuspendDelayInMinutes": 30,
    "MaxKeyColumnSize": 8096,
    "TableFailureMaxCount": 1000,
    "ValidationOnly": false,
    "HandleCollationDiff": false,
    "RecordFailureDelayLimitInMinutes": 0,
    "SkipLobColumns": false,
    "ValidationPartialLobSize": 0,
    "ValidationQueryCdcDelaySeconds": 0
  },
  "PostProcessingRules": null,
  "CharacterSetSettings": {
    "CharacterReplacements": [],
    "CharacterSetSupport": {
      "CharacterSet": "",
      "ReplaceWithCharacterCodePoint": 0
    }
  },
  "LoopbackPreventionSettings": {
    "EnableLoopbackPrevention": false,
    "SourceSchema": "",
    "TargetSchema": ""
  },
  "BeforeImageSettings": {
    "EnableBeforeImage": false,
    "FieldName": "",
    "ColumnFilter": "pk-only"
  },
  "TTSettings": {
    "EnableTT": false,
    "TTS3Settings": {
      "EncryptionMode": "SSE_S3",
      "ServerSideEncryptionKmsKeyId": "",
      "ServiceAccessRoleArn": "",
      "BucketName": "",
      "BucketFolder": "",
      "EnableDeletingFromS3OnTaskDelete": false
    },
    "TTRecordSettings": {
      "EnableRawData": false,
      "OperationsToLog": "ALL",
      "MaxRecordSize": 64
    }
  },
  "FailTaskWhenCleanTaskResourceFailed": false
})json";
  EXPECT_EQ(got, golden);
}

TEST(SettingsNormalize, StableOrderIndependentOfInput) {
  const std::string a = NormalizeTaskSettings(ParseOk(
      R"({"FullLoadSettings":{"CommitRate":5,"MaxFullLoadSubTasks":2},"Logging":{"EnableLogging":true}})"))
                            .dump();
  const std::string b = NormalizeTaskSettings(ParseOk(
      R"({"Logging":{"EnableLogging":true},"FullLoadSettings":{"MaxFullLoadSubTasks":2,"CommitRate":5}})"))
                            .dump();
  EXPECT_EQ(a, b);
  EXPECT_LT(a.find("\"MaxFullLoadSubTasks\""), a.find("\"CommitRate\""));
  EXPECT_LT(a.find("\"FullLoadSettings\""), a.find("\"Logging\""));
}

TEST(SettingsNormalize, RoundTrip) {
  const char* docs[] = {
      "{}",
      kServiceSavedDocument,
      R"({"TargetMetadata":{"TargetSchema":"dst","FullLobMode":true,"LobChunkSize":128},
          "FullLoadSettings":{"TargetTablePrepMode":"DROP_AND_CREATE","CommitRate":1},
          "Logging":{"EnableLogging":true,"CloudWatchLogGroup":"g","LogComponents":[
            {"Id":"TASK_MANAGER","Severity":"LOGGER_SEVERITY_WARNING"}]},
          "ErrorBehavior":{"ApplyErrorUpdatePolicy":"UPDATE_RECORD","RecoverableErrorCount":3},
          "ValidationSettings":{"EnableValidation":true,"PartitionSize":7},
          "CharacterSetSettings":{"CharacterReplacements":[
            {"SourceCharacterCodePoint":1,"TargetCharacterCodePoint":1114111}]},
          "LoopbackPreventionSettings":{"EnableLoopbackPrevention":true,"SourceSchema":"a"},
          "BeforeImageSettings":{"EnableBeforeImage":true,"FieldName":"bi"},
          "FailTaskWhenCleanTaskResourceFailed":true})",
  };
  for (const char* doc : docs) {
    const TaskSettings x = ParseOk(doc);
    const std::string text = NormalizeTaskSettings(x).dump(2);
    auto again = ParseTaskSettings(text, "normalized.json");
    ASSERT_TRUE(again.ok()) << again.error().what();
    EXPECT_EQ(again.value(), x) << doc;
    EXPECT_EQ(NormalizeTaskSettings(again.value()).dump(2), text);
  }
}

TEST(SettingsNormalize, EnumNames) {
  EXPECT_STREQ(TargetTablePrepModeName(TargetTablePrepMode::kDropAndCreate), "DROP_AND_CREATE");
  EXPECT_STREQ(ErrorPolicyName(ErrorPolicy::kInsertRecord), "INSERT_RECORD");
  EXPECT_STREQ(LoggerSeverityName(LoggerSeverity::kDetailedDebug),
               "LOGGER_SEVERITY_DETAILED_DEBUG");
  EXPECT_STREQ(LogComponentIdName(LogComponentId::kFileTransfer), "FILE_TRANSFER");
  EXPECT_STREQ(ValidationModeName(ValidationMode::kRowLevel), "ROW_LEVEL");
  EXPECT_STREQ(BeforeImageColumnFilterName(BeforeImageColumnFilter::kNonLob), "non-lob");
}

}  // namespace
}  // namespace ferry
