#include "connectors/txn_state.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

#include "common/host.h"

namespace ferry::cdc {

TxnStateSql::TxnStateSql(Engine engine, const std::string& control_schema)
    : dialect_(&DialectFor(engine)), schema_(dialect_->ControlSchema(control_schema)) {
  table_ = dialect_->QuoteIdentifier(schema_) + "." + dialect_->QuoteIdentifier(kTxnStateTable);
  server_ = HostName();
}

std::string TxnStateSql::Col(const char* upper) const {
  return dialect_->QuoteIdentifier(dialect_->ControlColumnName(upper));
}

std::string TxnStateSql::Lit(const std::string& value) const {
  return dialect_->QuoteLiteral(value);
}

std::string TxnStateSql::TimeLit(int64_t micros) const {
  const int64_t secs = micros >= 0 ? micros / 1000000 : (micros - 999999) / 1000000;
  const int64_t frac = micros - secs * 1000000;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("'{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}'", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

std::vector<std::string> TxnStateSql::Create() const {
  std::vector<std::string> out;
  const std::string create_schema = dialect_->CreateSchemaSql(schema_);
  if (!create_schema.empty()) out.push_back(create_schema);
  const std::string name = dialect_->ControlColumnSql(ControlColumnType::kName);
  const std::string text = dialect_->ControlColumnSql(ControlColumnType::kPosition);
  const std::string time = dialect_->ControlColumnSql(ControlColumnType::kPreciseTime);
  out.push_back(fmt::format(
      "CREATE TABLE IF NOT EXISTS {} ({} {}, {} {} NOT NULL PRIMARY KEY, {} {} NOT NULL, {} {}, "
      "{} {})",
      table_, Col("SERVER_NAME"), name, Col("TASK_NAME"), name, Col("CHECKPOINT"), text,
      Col("CHECKPOINT_TIME"), time, Col("UPDATED_AT"), time));
  return out;
}

std::string TxnStateSql::Select(const std::string& task) const {
  return fmt::format("SELECT {}, {} FROM {} WHERE {} = {}", Col("CHECKPOINT"),
                     dialect_->TimestampMicrosSql(Col("CHECKPOINT_TIME")), table_, Col("TASK_NAME"),
                     Lit(task));
}

std::string TxnStateSql::Delete(const std::string& task) const {
  return fmt::format("DELETE FROM {} WHERE {} = {}", table_, Col("TASK_NAME"), Lit(task));
}

std::string TxnStateSql::Upsert(const std::string& task, const Checkpoint& cp) const {
  const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return dialect_->UpsertSql(
      table_,
      {Col("SERVER_NAME"), Col("TASK_NAME"), Col("CHECKPOINT"), Col("CHECKPOINT_TIME"),
       Col("UPDATED_AT")},
      {Lit(server_), Lit(task), Lit(cp.position), TimeLit(cp.commit_time_us), TimeLit(now)},
      Col("TASK_NAME"));
}

}  // namespace ferry::cdc
