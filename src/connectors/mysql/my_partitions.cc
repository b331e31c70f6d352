#include "connectors/mysql/my_partitions.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <map>

#include "connectors/mysql/my_types.h"

namespace ferry::mysql {

namespace {

class MySnapshot : public SourceSnapshot {
 public:
  MySnapshot(std::unique_ptr<MyConnection> conn, std::string id, std::string table)
      : conn_(std::move(conn)), id_(std::move(id)), table_(std::move(table)) {}
  const std::string& id() const override { return id_; }
  void ReadersJoined() override {
    if (!conn_) return;
    conn_->Execute("UNLOCK TABLES", "unlocking " + table_ + " after its segment readers joined");
    conn_.reset();
  }

 private:
  std::unique_ptr<MyConnection> conn_;  // closing it also releases the lock
  std::string id_;
  std::string table_;
};

std::atomic<bool> g_warned_no_lock{false};
std::atomic<int64_t> g_next_snapshot{1};

}  // namespace

std::vector<PartitionInfo> ListMyPartitions(MyConnection& conn, const TableDef& table,
                                            bool subpartitions) {
  const std::string what = "listing the partitions of MySQL table " + table.QualifiedName();
  auto rows = conn.Query(
      "SELECT PARTITION_NAME, SUBPARTITION_NAME, TABLE_ROWS FROM information_schema.PARTITIONS "
      "WHERE TABLE_SCHEMA = " +
          QuoteLiteral(table.schema) + " AND TABLE_NAME = " + QuoteLiteral(table.name) +
          " AND PARTITION_NAME IS NOT NULL "
          "ORDER BY PARTITION_ORDINAL_POSITION, SUBPARTITION_ORDINAL_POSITION",
      what);
  std::vector<PartitionInfo> out;
  std::map<std::string, size_t> seen;  // partition -> index in out (without subpartitions)
  for (auto& r : rows) {
    const std::string partition = r[0].value_or("");
    const int64_t estimate = r[2] ? std::stoll(*r[2]) : -1;
    if (subpartitions && r[1]) {
      out.push_back(PartitionInfo{table.schema, *r[1], partition, estimate});
      continue;
    }
    auto [it, inserted] = seen.emplace(partition, out.size());
    if (inserted) {
      out.push_back(PartitionInfo{table.schema, partition, "", estimate});
    } else if (estimate >= 0) {
      int64_t& sum = out[it->second].estimated_rows;
      sum = sum < 0 ? estimate : sum + estimate;
    }
  }
  return out;
}

std::unique_ptr<SourceSnapshot> OpenMySnapshot(const EndpointUri& uri, const TableDef& table) {
  auto conn = std::make_unique<MyConnection>(uri);
  const std::string name = QuoteIdent(table.schema) + "." + QuoteIdent(table.name);
  try {
    conn->Execute("LOCK TABLES " + name + " READ",
                  "locking " + table.QualifiedName() + " while its segment readers start");
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kConnection) throw;
    if (!g_warned_no_lock.exchange(true)) {
      spdlog::warn("MySQL source: cannot lock {} while its segment readers start ({}); "
                   "parallel segments read at slightly different moments",
                   table.QualifiedName(), e.what());
    }
    return nullptr;
  }
  return std::make_unique<MySnapshot>(std::move(conn), fmt::format("mysql-{}", g_next_snapshot++),
                                      table.QualifiedName());
}

}  // namespace ferry::mysql
