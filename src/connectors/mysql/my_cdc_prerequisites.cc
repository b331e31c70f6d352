#include "connectors/mysql/my_cdc_prerequisites.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "common/error.h"
#include "common/text.h"
#include "connectors/mysql/my_types.h"

namespace ferry::mysql {
namespace {

uint64_t ToUnsigned(const std::string& text) {
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return 0;
  }
}

// A retention of `seconds` in words: "2 hours", "1 day", "90 seconds".
std::string Duration(int64_t seconds) {
  if (seconds % 86400 == 0)
    return fmt::format("{} day{}", seconds / 86400, seconds == 86400 ? "" : "s");
  if (seconds % 3600 == 0)
    return fmt::format("{} hour{}", seconds / 3600, seconds == 3600 ? "" : "s");
  return fmt::format("{} seconds", seconds);
}

}  // namespace

void ReadGrants(const std::vector<std::string>& show_grants, MyCdcFacts* facts) {
  facts->grants_known = true;
  facts->replication_slave = false;
  facts->replication_client = false;
  for (const std::string& line : show_grants) {
    const std::string g = AsciiUpper(line);
    // "GRANT <privileges> ON <what> TO ..." or a role: "GRANT `role` TO `user`@`host`".
    const size_t on = g.find(" ON ");
    if (g.rfind("GRANT ", 0) != 0) continue;
    if (on == std::string::npos) {
      if (g.find(" TO ") != std::string::npos) facts->grants_known = false;  // a role
      continue;
    }
    const std::string_view what = std::string_view(g).substr(on + 4);
    if (what.rfind("*.*", 0) != 0) continue;  // only global privileges count
    const std::string_view privileges = std::string_view(g).substr(6, on - 6);
    if (Contains(privileges, "ALL PRIVILEGES")) {
      facts->replication_slave = facts->replication_client = true;
      continue;
    }
    if (Contains(privileges, "REPLICATION SLAVE") || Contains(privileges, "REPLICATION REPLICA")) {
      facts->replication_slave = true;
    }
    if (Contains(privileges, "REPLICATION CLIENT") || Contains(privileges, "BINLOG MONITOR") ||
        Contains(privileges, "SUPER")) {
      facts->replication_client = true;
    }
  }
}

MyCdcFacts ReadBinlogFacts(MyConnection& c, const std::vector<TableDef>& tables,
                           uint64_t replica_server_id) {
  MyCdcFacts f;
  f.replica_server_id = replica_server_id;
  const char* what = "reading the binlog settings for change data capture";
  std::map<std::string, std::string> vars;
  for (const TextRow& row : c.Query("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', "
                                    "'binlog_format', 'binlog_row_image', 'server_id', "
                                    "'expire_logs_days', 'binlog_expire_logs_seconds', "
                                    "'version')",
                                    what)) {
    if (row.size() >= 2 && row[0]) vars[*row[0]] = row[1].value_or("");
  }
  auto var = [&](const char* name, const char* absent) {
    auto it = vars.find(name);
    return it == vars.end() ? std::string(absent) : it->second;
  };
  f.version = var("version", "");
  f.mariadb = Contains(AsciiUpper(f.version), "MARIADB");
  f.log_bin = AsciiUpper(var("log_bin", "OFF"));
  f.binlog_format = AsciiUpper(var("binlog_format", ""));
  // Before binlog_row_image existed (MySQL 5.5), every row event carried whole rows.
  f.binlog_row_image = AsciiUpper(var("binlog_row_image", "FULL"));
  f.server_id = ToUnsigned(var("server_id", "0"));
  const int64_t seconds = static_cast<int64_t>(ToUnsigned(var("binlog_expire_logs_seconds", "0")));
  double days = 0;
  try {
    days = std::stod(var("expire_logs_days", "0"));
  } catch (const std::exception&) {
  }
  f.retention_seconds = seconds > 0 ? seconds : static_cast<int64_t>(days * 86400);

  const std::vector<TextRow> user = c.Query("SELECT CURRENT_USER()", what);
  if (!user.empty() && !user[0].empty() && user[0][0]) f.user = *user[0][0];
  std::vector<std::string> grants;
  try {
    for (const TextRow& row : c.Query("SHOW GRANTS FOR CURRENT_USER()", what)) {
      if (!row.empty() && row[0]) grants.push_back(*row[0]);
    }
    ReadGrants(grants, &f);
  } catch (const Error&) {
    f.grants_known = false;  // the server refused to show them: nothing to refuse on
  }
  try {
    // Server_id, Host, Port, Master_id (MariaDB and MySQL before 8.0.22 alike).
    for (const TextRow& row : c.Query("SHOW SLAVE HOSTS", what)) {
      if (row.size() >= 2 && row[0])
        f.replicas.emplace_back(ToUnsigned(*row[0]), row[1].value_or(""));
    }
  } catch (const Error&) {
    // Listing replicas needs REPLICATION MASTER ADMIN (MariaDB 10.5+) or REPLICATION SLAVE.
  }
  for (const TableDef& t : tables) {
    if (t.primary_key.empty())
      f.tables_without_key.push_back(QuoteIdent(t.schema) + "." + QuoteIdent(t.name));
  }
  return f;
}

std::string DescribeBinlogProblems(const MyCdcFacts& f) {
  std::vector<std::string> p;
  const char* config = f.mariadb ? "the [mariadb] section of the server's configuration"
                                 : "the [mysqld] section of my.cnf";
  if (f.log_bin != "ON" && f.log_bin != "1") {
    p.push_back(
        fmt::format("log_bin is {}: binary logging is off; add log_bin = mysql-bin to {} "
                    "and restart the server (it cannot be turned on while it runs)",
                    f.log_bin, config));
  }
  if (f.binlog_format != "ROW") {
    p.push_back(fmt::format(
        "binlog_format is {}: change data capture reads row events; set binlog_format = ROW in "
        "{} and run SET GLOBAL binlog_format = 'ROW' (sessions already connected keep their "
        "format until they reconnect)",
        f.binlog_format.empty() ? "not set" : f.binlog_format, config));
  }
  if (f.binlog_row_image != "FULL") {
    p.push_back(fmt::format(
        "binlog_row_image is {}: updates and deletes must carry every column of the row before "
        "and after the change; set binlog_row_image = FULL in {} and run SET GLOBAL "
        "binlog_row_image = 'FULL'",
        f.binlog_row_image, config));
  }
  if (f.server_id == 0) {
    p.push_back(
        fmt::format("server_id is 0, and a server with server_id 0 refuses replicas: set "
                    "server_id to a unique non-zero number in {} (SET GLOBAL server_id = "
                    "1 until the next restart)",
                    config));
  } else if (f.replica_server_id == f.server_id) {
    p.push_back(
        fmt::format("the task's replica server id {} is the source's own server_id: give "
                    "the task another (source URI parameter server_id=N)",
                    f.replica_server_id));
  }
  for (const auto& [id, host] : f.replicas) {
    if (id == f.replica_server_id && id != f.server_id) {
      p.push_back(
          fmt::format("the task's replica server id {} is used by a replica connected "
                      "from {}: two replicas with one id disconnect each other; give the "
                      "task another (source URI parameter server_id=N)",
                      id, host.empty() ? "another host" : host));
    }
  }
  if (f.grants_known && (!f.replication_slave || !f.replication_client)) {
    std::vector<std::string> missing;
    if (!f.replication_slave) missing.emplace_back("REPLICATION SLAVE");
    if (!f.replication_client) {
      missing.emplace_back(f.mariadb ? "BINLOG MONITOR" : "REPLICATION CLIENT");
    }
    std::string list;
    for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
    p.push_back(fmt::format("user {} lacks {} to read the binlog: run GRANT {} ON *.* TO {}",
                            f.user.empty() ? "(unknown)" : f.user, list, list,
                            f.user.empty() ? "<user>" : f.user));
  }
  std::string out;
  for (const std::string& line : p) out += (out.empty() ? "" : "\n") + std::string("- ") + line;
  return out;
}

std::vector<std::string> DescribeBinlogNotes(const MyCdcFacts& f, int64_t min_retention_seconds) {
  std::vector<std::string> notes;
  if (f.retention_seconds > 0 && f.retention_seconds < min_retention_seconds) {
    notes.push_back(fmt::format(
        "binlogs are kept for {} ({}): a task stopped for longer cannot resume and its tables "
        "must be reloaded; keep them at least {} (SET GLOBAL binlog_expire_logs_seconds = {}, "
        "and the same in the server's configuration)",
        Duration(f.retention_seconds),
        f.mariadb ? "expire_logs_days / binlog_expire_logs_seconds" : "binlog_expire_logs_seconds",
        Duration(min_retention_seconds), min_retention_seconds));
  }
  for (const std::string& t : f.tables_without_key) {
    notes.push_back(fmt::format(
        "table {} has no primary key: its updates and deletes are matched on the target by every "
        "column of the row before the change, one row at a time (a row with an exact duplicate "
        "changes one of the two)",
        t));
  }
  return notes;
}

}  // namespace ferry::mysql
