#include "cdc/txn_state.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <ctime>

#include "common/host.h"
#include "control/control_tables.h"
#include "mapping/mapping_apply.h"

namespace ferry::cdc {

namespace {

std::string QuoteId(Engine engine, const std::string& name) {
  const char q = engine == Engine::kMysql ? '`' : '"';
  std::string out(1, q);
  for (char c : name) {
    if (c == q) out.push_back(q);
    out.push_back(c);
  }
  out.push_back(q);
  return out;
}

}  // namespace

TxnStateSql::TxnStateSql(Engine engine, const std::string& control_schema)
    : engine_(engine), schema_(ControlSchemaFor(engine, control_schema)) {
  table_ = QuoteId(engine_, schema_) + "." + QuoteId(engine_, kTxnStateTable);
  server_ = HostName();
}

std::string TxnStateSql::Col(const char* upper) const {
  std::string name = upper;
  if (engine_ == Engine::kPostgres) {
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return QuoteId(engine_, name);
}

std::string TxnStateSql::Lit(const std::string& value) const {
  return SqlStringLiteral(value, engine_);
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
  std::string name, text, time;
  switch (engine_) {
    case Engine::kPostgres:
      out.push_back("CREATE SCHEMA IF NOT EXISTS " + QuoteId(engine_, schema_));
      name = "varchar(128)";
      text = "text";
      time = "timestamp(6)";
      break;
    case Engine::kMysql:
      out.push_back("CREATE DATABASE IF NOT EXISTS " + QuoteId(engine_, schema_));
      name = "varchar(128)";
      text = "varchar(1024)";
      time = "datetime(6)";
      break;
    case Engine::kSqlite:
      name = "VARCHAR(128)";
      text = "TEXT";
      time = "DATETIME";
      break;
  }
  out.push_back(fmt::format(
      "CREATE TABLE IF NOT EXISTS {} ({} {}, {} {} NOT NULL PRIMARY KEY, {} {} NOT NULL, {} {}, "
      "{} {})",
      table_, Col("SERVER_NAME"), name, Col("TASK_NAME"), name, Col("CHECKPOINT"), text,
      Col("CHECKPOINT_TIME"), time, Col("UPDATED_AT"), time));
  return out;
}

std::string TxnStateSql::Select(const std::string& task) const {
  std::string micros;
  switch (engine_) {
    case Engine::kPostgres:
      micros = fmt::format("CAST(EXTRACT(EPOCH FROM {}) * 1000000 AS bigint)",
                           Col("CHECKPOINT_TIME"));
      break;
    case Engine::kMysql:
      micros = fmt::format("TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {})",
                           Col("CHECKPOINT_TIME"));
      break;
    case Engine::kSqlite:
      // SQLite's date functions keep milliseconds only: seconds from strftime, then the six
      // fraction digits of the text Upsert wrote ('YYYY-MM-DD HH:MM:SS.ffffff').
      micros = fmt::format("CAST(strftime('%s', {0}) AS INTEGER) * 1000000 + "
                           "CAST(substr({0}, 21, 6) AS INTEGER)",
                           Col("CHECKPOINT_TIME"));
      break;
  }
  return fmt::format("SELECT {}, {} FROM {} WHERE {} = {}", Col("CHECKPOINT"), micros, table_,
                     Col("TASK_NAME"), Lit(task));
}

std::string TxnStateSql::Delete(const std::string& task) const {
  return fmt::format("DELETE FROM {} WHERE {} = {}", table_, Col("TASK_NAME"), Lit(task));
}

std::string TxnStateSql::Upsert(const std::string& task, const Checkpoint& cp) const {
  const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::string values =
      fmt::format("({}, {}, {}, {}, {})", Lit(server_), Lit(task), Lit(cp.position),
                  TimeLit(cp.commit_time_us), TimeLit(now));
  const std::string cols =
      fmt::format("({}, {}, {}, {}, {})", Col("SERVER_NAME"), Col("TASK_NAME"), Col("CHECKPOINT"),
                  Col("CHECKPOINT_TIME"), Col("UPDATED_AT"));
  switch (engine_) {
    case Engine::kPostgres:
      return fmt::format(
          "INSERT INTO {} {} VALUES {} ON CONFLICT ({}) DO UPDATE SET {} = EXCLUDED.{}, {} = "
          "EXCLUDED.{}, {} = EXCLUDED.{}, {} = EXCLUDED.{}",
          table_, cols, values, Col("TASK_NAME"), Col("SERVER_NAME"), Col("SERVER_NAME"),
          Col("CHECKPOINT"), Col("CHECKPOINT"), Col("CHECKPOINT_TIME"), Col("CHECKPOINT_TIME"),
          Col("UPDATED_AT"), Col("UPDATED_AT"));
    case Engine::kMysql:
    case Engine::kSqlite:
      return fmt::format("REPLACE INTO {} {} VALUES {}", table_, cols, values);
  }
  return {};
}

}  // namespace ferry::cdc
