#include "connectors/mysql/my_capture.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <unordered_map>

#include "catalog/table_def_json.h"
#include "common/error.h"
#include "common/text.h"
#include "connectors/mysql/my_binlog_cells.h"
#include "connectors/mysql/my_binlog_ddl.h"
#include "connectors/mysql/my_binlog_event.h"
#include "connectors/mysql/my_binlog_rows.h"
#include "connectors/mysql/my_binlog_stream.h"
#include "connectors/mysql/my_catalog.h"
#include "connectors/mysql/my_cdc_prerequisites.h"
#include "connectors/mysql/my_cdc_snapshot.h"
#include "connectors/mysql/my_connection.h"
#include "connectors/mysql/my_position.h"
#include "connectors/mysql/my_zero_dates.h"
#include "logging/log.h"

namespace ferry::mysql {

namespace {

using namespace binlog;
using Clock = std::chrono::steady_clock;

spdlog::logger& Log() { return logging::For(LogComponentId::kSourceCapture); }

// The positions the capture hands out are binlog coordinates without the GTID state: a table
// snapshot's point (binlog_snapshot_file/position) has none, and the transaction that ends
// exactly there must compare equal to it, not after it (it is in the snapshot).
cdc::Position CoordinatePosition(BinlogPoint point) {
  point.gtid.clear();
  return BinlogPosition(point);
}

uint32_t Fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h;
}

// One TABLE_MAP seen, and how its rows are read (when it is a selected table).
struct MappedTable {
  TableMap map;
  int table = -1;  // index in the task's tables; -1: not selected
  std::unique_ptr<BinlogRowConverter> converter;
};

bool SameShape(const TableMap& a, const TableMap& b) {
  if (a.schema != b.schema || a.table != b.table || a.columns.size() != b.columns.size()) {
    return false;
  }
  for (size_t i = 0; i < a.columns.size(); ++i) {
    const TableMapColumn& x = a.columns[i];
    const TableMapColumn& y = b.columns[i];
    if (x.type != y.type || x.real_type != y.real_type || x.meta != y.meta || x.name != y.name ||
        x.is_unsigned != y.is_unsigned || x.collation != y.collation || x.nullable != y.nullable) {
      return false;
    }
  }
  return true;
}

class MyChangeCapture : public cdc::ChangeCapture {
 public:
  MyChangeCapture(EndpointUri uri, cdc::CaptureOptions options)
      : uri_(std::move(uri)),
        options_(std::move(options)),
        server_id_(ReplicaServerId(uri_, options_)),
        zero_dates_(ParseZeroDates(uri_.Param("zero_dates"))) {
    for (size_t i = 0; i < options_.tables.size(); ++i) {
      const TableDef& t = options_.tables[i];
      by_name_[{t.schema, t.name}] = static_cast<int>(i);
      by_folded_name_[{AsciiUpper(t.schema), AsciiUpper(t.name)}] = static_cast<int>(i);
      storage_.push_back(StorageOf(t));
    }
    dropped_.assign(options_.tables.size(), false);
  }

  void CheckPrerequisites() override {
    MyConnection& c = Sql();
    const MyCdcFacts facts = ReadBinlogFacts(c, options_.tables, server_id_);
    const std::string problems = DescribeBinlogProblems(facts);
    if (!problems.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("task '{}': {} cannot be captured from:\n{}", options_.task,
                              c.Where(), problems));
    }
    for (const std::string& note : DescribeBinlogNotes(facts, kRecommendedBinlogRetentionSeconds)) {
      Log().warn("task '{}': {}", options_.task, note);
    }
  }

  bool SlotExists() override { return true; }

  cdc::PrepareResult Prepare() override {
    cdc::PrepareResult r;
    r.slot_created = options_.new_slot;
    r.any_retained_start = true;
    if (!options_.new_slot) return r;  // a resume: its checkpoint says where to start
    r.start = CoordinatePosition(CurrentBinlogPoint(Sql()));
    if (options_.export_snapshot) r.snapshot = MakeMyTaskSnapshot(uri_);
    return r;
  }

  cdc::PrepareResult ExportSnapshot() override {
    cdc::PrepareResult r;
    r.start = CoordinatePosition(CurrentBinlogPoint(Sql()));
    r.snapshot = MakeMyTaskSnapshot(uri_);
    return r;
  }

  void Start(const cdc::Position& from) override {
    stream_.reset();
    BinlogPoint point = PositionBinlogPoint(from);
    if (point.file.empty() && !IsMariadbGtidPosition(point.gtid)) {
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("task '{}': starting binlog capture at MySQL GTID set {} is not "
                              "supported yet; give the start as file:offset (SHOW BINARY LOGS "
                              "lists the files)",
                              options_.task, point.gtid));
    }
    // A MariaDB GTID position alone: the server finds where it is (and says when it no
    // longer has it); the first ROTATE names the file.
    if (!point.file.empty()) CheckFileRetained(point);
    ReplicaStreamOptions so;
    so.start = point;
    so.server_id = server_id_;
    stream_ = OpenReplicaStream(uri_, so);
    decoder_ = EventDecoder();
    decoder_.set_file_name(point.file);
    // The artificial ROTATE before the first FORMAT_DESCRIPTION already carries the checksum
    // the replica connection announced (@master_binlog_checksum).
    const auto alg = Sql().Query("SELECT @@global.binlog_checksum", "reading binlog_checksum");
    decoder_.set_checksum(!alg.empty() && !alg[0].empty() && alg[0][0] &&
                                  AsciiUpper(*alg[0][0]) == "CRC32"
                              ? Checksum::kCrc32
                              : Checksum::kOff);
    file_ = point.file;
    gtid_state_ = ParseGtidState(point.gtid);
    end_ = point;
    maps_.clear();
    in_group_ = false;
    began_ = false;
    Log().info("task '{}': reading the binlog of {} from {} as replica server_id {}", options_.task,
               Sql().Where(), FormatBinlogPoint(point), server_id_);
  }

  void Poll(cdc::CaptureSink& sink, std::chrono::milliseconds wait) override {
    if (!stream_) throw Error(ErrorKind::kInternal, "MySQL capture polled before Start");
    const auto deadline = Clock::now() + wait;
    std::string bytes;
    bool idle_due = false;
    for (;;) {
      const auto now = Clock::now();
      const auto left = deadline > now
                            ? std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now)
                            : std::chrono::milliseconds(0);
      if (!stream_->Next(&bytes, left)) break;
      idle_due |= Handle(bytes, sink);
      if (Clock::now() >= deadline) break;
    }
    if (idle_due && !in_group_) sink.OnIdle(CoordinatePosition(end_));
  }

  void Confirm(const cdc::Position& applied) override { confirmed_ = applied; }

  cdc::Position ServerPosition() const override {
    return server_.file.empty() ? cdc::Position() : BinlogPosition(server_);
  }

  bool KeepsSourceObjects() const override { return false; }
  cdc::DropResult DropObjects() override { return {}; }
  std::vector<cdc::CaptureObject> ListObjects() override { return {}; }

 private:
  static std::vector<Storage> StorageOf(const TableDef& t) {
    std::vector<DmsType> types;
    types.reserve(t.columns.size());
    for (const ColumnDef& c : t.columns) types.push_back(c.type);
    return cdc::StorageOfColumns(types);
  }

  MyConnection& Sql() {
    if (!sql_) {
      const std::string none;
      sql_ = std::make_unique<MyConnection>(uri_, &none);
    }
    return *sql_;
  }

  void CheckFileRetained(const BinlogPoint& point) {
    std::vector<std::string> files;
    for (const auto& row : Sql().Query("SHOW BINARY LOGS", "listing the binlog files")) {
      if (!row.empty() && row[0]) files.push_back(*row[0]);
    }
    if (std::find(files.begin(), files.end(), point.file) != files.end()) return;
    throw Error(
        ErrorKind::kNotFound,
        fmt::format("task '{}': binlog file {} of {} is gone (the server keeps {}): the changes "
                    "from {} on can no longer be read, and going on would be a silent gap. "
                    "Run the task again without --resume to reload the tables, and keep the "
                    "binlog longer (binlog_expire_logs_seconds) than the task may be stopped",
                    options_.task, point.file, Sql().Where(),
                    files.empty() ? std::string("no files") : files.front() + " .. " + files.back(),
                    FormatBinlogPoint(point)));
  }

  // "0-1-5,1-2-7" -> per domain.
  static std::map<uint32_t, MariaGtidTriple> ParseGtidState(const std::string& text) {
    std::map<uint32_t, MariaGtidTriple> out;
    if (!IsMariadbGtidPosition(text)) return out;
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find(',', start);
      if (end == std::string::npos) end = text.size();
      const std::string one = text.substr(start, end - start);
      MariaGtidTriple g;
      if (std::sscanf(one.c_str(), "%u-%u-%lu", &g.domain_id, &g.server_id,
                      reinterpret_cast<unsigned long*>(&g.seq_no)) == 3) {
        out[g.domain_id] = g;
      }
      start = end + 1;
    }
    return out;
  }

  std::string GtidText() const {
    std::string out;
    for (const auto& [domain, g] : gtid_state_) {
      if (!out.empty()) out += ',';
      out += FormatMariaGtid(g);
    }
    return out;
  }

  // One event. Returns true when a group ended that delivered nothing (the position moved).
  bool Handle(const std::string& bytes, cdc::CaptureSink& sink) {
    const EventHeader h = ParseEventHeader(bytes, 0);
    const uint64_t start = h.log_pos >= h.event_size ? h.log_pos - h.event_size : 0;
    Event e = decoder_.Decode(bytes, start);
    if (h.log_pos != 0 && !file_.empty()) {
      if (server_.file != file_) server_ = BinlogPoint{file_, 0, {}};
      server_.offset = std::max<uint64_t>(server_.offset, h.log_pos);
    }
    if (const auto* r = e.get<Rotate>()) {
      file_ = std::string(r->next_file);
      decoder_.set_file_name(file_);
      if (!in_group_) end_ = BinlogPoint{file_, r->position, GtidText()};
      server_ = BinlogPoint{file_, r->position, {}};
      return false;
    }
    if (const auto* hb = e.get<Heartbeat>()) {
      server_ = BinlogPoint{std::string(hb->log_file), h.log_pos, {}};
      return !in_group_;
    }
    if (e.get<FormatDescription>() || e.get<MariaGtidList>() || e.get<BinlogCheckpoint>() ||
        e.get<PreviousGtids>() || e.get<AnnotateRows>() || e.get<StopEvent>()) {
      return false;
    }
    if (const auto* g = e.get<MariaGtid>()) {
      BeginGroup(g->seq_no & 0xFFFFFFFFu);
      gtid_state_[g->domain_id] = MariaGtidTriple{g->domain_id, h.server_id, g->seq_no};
      standalone_ = (g->flags & MariaGtid::kFlStandalone) != 0;
      return false;
    }
    if (const auto* g = e.get<MysqlGtid>()) {
      BeginGroup(static_cast<uint32_t>(g->gno));
      standalone_ = false;
      return false;
    }
    if (const auto* tm = e.get<TableMap>()) {
      OnTableMap(*tm);
      return false;
    }
    if (e.get<RowsEvent>()) {
      OnRows(e, sink);
      return false;
    }
    if (e.get<TransactionPayload>()) {
      for (const Event& inner : decoder_.InnerEvents(e)) {
        if (inner.get<TableMap>()) OnTableMap(*inner.get<TableMap>());
        if (inner.get<RowsEvent>()) OnRows(inner, sink);
        if (inner.get<Xid>()) return EndGroup(h, sink);
      }
      return false;
    }
    if (e.get<Xid>()) return EndGroup(h, sink);
    if (const auto* q = e.get<Query>()) {
      const std::string_view sql = q->sql;
      if (sql == "BEGIN") {
        if (!in_group_) BeginGroup(next_xid_++);
        standalone_ = false;
        return false;
      }
      if (sql == "COMMIT" || sql == "ROLLBACK") return EndGroup(h, sink);
      OnDdl(*q, h, sink);
      if (!in_group_ || standalone_) return EndGroup(h, sink);
      return false;
    }
    return false;  // INTVAR, RAND, USER_VAR, ...: statement-based details, not rows
  }

  void BeginGroup(uint32_t xid) {
    in_group_ = true;
    began_ = false;
    xid_ = xid == 0 ? next_xid_++ : xid;
  }

  void EnsureBegun(cdc::CaptureSink& sink) {
    if (began_) return;
    if (!in_group_) BeginGroup(next_xid_++);
    sink.OnBegin(xid_);
    began_ = true;
  }

  // Ends the event group at event `h`: delivers the commit when it changed a selected table.
  bool EndGroup(const EventHeader& h, cdc::CaptureSink& sink) {
    const uint64_t start = h.log_pos >= h.event_size ? h.log_pos - h.event_size : 0;
    end_ = BinlogPoint{file_, h.log_pos, GtidText()};
    const bool delivered = began_;
    if (began_) {
      cdc::TransactionInfo info;
      info.xid = xid_;
      info.commit_position = BinlogPosition(BinlogPoint{file_, start, {}});
      info.end_position = CoordinatePosition(end_);
      info.commit_time_us = static_cast<int64_t>(h.timestamp) * 1'000'000;
      sink.OnCommit(info);
    }
    in_group_ = false;
    began_ = false;
    standalone_ = false;
    return !delivered;
  }

  int TableIndex(const std::string& schema, const std::string& name) const {
    auto it = by_name_.find({schema, name});
    if (it != by_name_.end()) return it->second;
    auto f = by_folded_name_.find({AsciiUpper(schema), AsciiUpper(name)});
    return f == by_folded_name_.end() ? -1 : f->second;
  }

  void OnTableMap(const TableMap& tm) {
    MappedTable& m = maps_[tm.table_id];
    if (m.converter && SameShape(m.map, tm)) return;
    m.map = tm;
    m.converter.reset();
    m.table = TableIndex(tm.schema, tm.table);
    if (m.table < 0 || dropped_[m.table]) {
      m.table = -1;
      return;
    }
    // Throws Error(kSchema) when the event's columns are not the table's.
    m.converter =
        std::make_unique<BinlogRowConverter>(options_.tables[m.table], m.map, zero_dates_);
  }

  void OnRows(const Event& e, cdc::CaptureSink& sink) {
    const RowsEvent& rows = *e.get<RowsEvent>();
    auto it = maps_.find(rows.table_id);
    if (it == maps_.end()) {
      throw Error(ErrorKind::kData,
                  fmt::format("binlog {} at {}: a rows event of table id {} without its "
                              "TABLE_MAP",
                              file_, e.position, rows.table_id));
    }
    MappedTable& m = it->second;
    if (m.table < 0) return;
    const uint32_t table = static_cast<uint32_t>(m.table);
    RowsCursor cursor(e, m.map);
    RowChange rc;
    while (cursor.Next(&rc)) {
      batch_ = Batch(m.converter->columns());
      warnings_.clear();
      cdc::ChangeView v;
      v.table = table;
      v.rows = &batch_;
      switch (rows.kind) {
        case RowsKind::kWrite:
          v.op = cdc::ChangeOp::kInsert;
          m.converter->AppendImage(rc.after, &batch_, &warnings_);
          v.new_row = 0;
          break;
        case RowsKind::kUpdate:
          v.op = cdc::ChangeOp::kUpdate;
          m.converter->AppendImage(rc.before, &batch_, &warnings_);
          m.converter->AppendImage(rc.after, &batch_, &warnings_);
          v.old_kind = cdc::OldImage::kFull;
          v.old_row = 0;
          v.new_row = 1;
          break;
        case RowsKind::kDelete:
          v.op = cdc::ChangeOp::kDelete;
          m.converter->AppendImage(rc.before, &batch_, &warnings_);
          v.old_kind = cdc::OldImage::kFull;
          v.old_row = 0;
          break;
      }
      for (const CellWarning& w : warnings_) {
        Log().warn("table {}, column {}: {}", options_.tables[table].QualifiedName(),
                   options_.tables[table].columns[w.column].name, w.message);
      }
      record_.clear();
      cdc::EncodeChange(v, storage_[table], &record_);
      EnsureBegun(sink);
      sink.OnChange(xid_, record_);
    }
  }

  void OnDdl(const Query& q, const EventHeader& h, cdc::CaptureSink& sink) {
    const DdlStatement ddl = ParseDdlStatement(q.sql, q.schema);
    if (ddl.kind == DdlStatement::kOther) return;
    const uint64_t start = h.log_pos >= h.event_size ? h.log_pos - h.event_size : 0;
    const cdc::Position at = BinlogPosition(BinlogPoint{file_, start, {}});
    auto selected = [&](size_t i) {
      const int t = TableIndex(ddl.tables[i].first, ddl.tables[i].second);
      return t >= 0 && !dropped_[t] ? t : -1;
    };
    switch (ddl.kind) {
      case DdlStatement::kAlter: {
        const int t = selected(0);
        if (t < 0) return;
        if (ddl.alter_renames) {
          Dropped(t, "renamed", q.sql, sink);
          return;
        }
        TableDef def = Catalog().GetTable(options_.tables[t].schema, options_.tables[t].name);
        // A column the task reads as the engine's own value (kEngineValue: MySQL -> MySQL
        // dates) stays so while its type is the same.
        for (ColumnDef& c : def.columns) {
          const int before = options_.tables[t].ColumnIndex(c.name);
          if (before < 0) continue;
          const ColumnDef& old = options_.tables[t].columns[before];
          if (old.type.kind == DmsKind::kEngineValue && old.native_type == c.native_type) {
            c.type = old.type;
          }
        }
        options_.tables[t] = def;
        storage_[t] = StorageOf(def);
        for (auto& [id, m] : maps_) {
          if (m.table == t) m.converter.reset();
        }
        Log().info("table {} changed on the source: {}", def.QualifiedName(), q.sql);
        sink.OnTableChanged(static_cast<uint32_t>(t), def, at);
        return;
      }
      case DdlStatement::kTruncate: {
        const int t = selected(0);
        if (t < 0) return;
        cdc::ChangeView v;
        v.op = cdc::ChangeOp::kTruncate;
        v.table = static_cast<uint32_t>(t);
        record_.clear();
        cdc::EncodeChange(v, storage_[t], &record_);
        EnsureBegun(sink);
        sink.OnChange(xid_, record_);
        return;
      }
      case DdlStatement::kDrop:
        for (size_t i = 0; i < ddl.tables.size(); ++i) {
          const int t = selected(i);
          if (t >= 0) Dropped(t, "dropped", q.sql, sink);
        }
        return;
      case DdlStatement::kRename:
        for (size_t i = 0; i + 1 < ddl.tables.size(); i += 2) {
          const int t = selected(i);
          if (t >= 0) Dropped(t, "renamed", q.sql, sink);
        }
        return;
      case DdlStatement::kCreate:
        if (TableIndex(ddl.tables[0].first, ddl.tables[0].second) < 0) {
          Log().info("table {}.{} created on the source: not captured by this task ({})",
                     ddl.tables[0].first, ddl.tables[0].second, q.sql);
        }
        return;
      case DdlStatement::kOther:
        return;
    }
  }

  void Dropped(int t, const char* how, std::string_view sql, cdc::CaptureSink& sink) {
    Log().warn("table {} was {} on the source: {}", options_.tables[t].QualifiedName(), how, sql);
    dropped_[t] = true;
    for (auto& [id, m] : maps_) {
      if (m.table == t) {
        m.table = -1;
        m.converter.reset();
      }
    }
    sink.OnTableDropped(static_cast<uint32_t>(t));
  }

  MyCatalogReader& Catalog() {
    if (!catalog_) catalog_ = std::make_unique<MyCatalogReader>(uri_);
    return *catalog_;
  }

  EndpointUri uri_;
  cdc::CaptureOptions options_;
  uint32_t server_id_;
  ZeroDates zero_dates_;
  std::map<std::pair<std::string, std::string>, int> by_name_;
  std::map<std::pair<std::string, std::string>, int> by_folded_name_;
  std::vector<std::vector<Storage>> storage_;
  std::vector<bool> dropped_;
  std::unique_ptr<MyConnection> sql_;
  std::unique_ptr<MyCatalogReader> catalog_;
  std::unique_ptr<BinlogStream> stream_;
  EventDecoder decoder_;
  std::string file_;
  std::map<uint32_t, MariaGtidTriple> gtid_state_;
  BinlogPoint end_;     // the end of the last whole event group: a resume starts there
  BinlogPoint server_;  // the server's last known end of its binlog
  cdc::Position confirmed_;
  std::unordered_map<uint64_t, MappedTable> maps_;
  bool in_group_ = false;
  bool began_ = false;  // OnBegin delivered for the group
  bool standalone_ = false;
  uint32_t xid_ = 0;
  uint32_t next_xid_ = 1;
  Batch batch_;
  std::vector<CellWarning> warnings_;
  std::string record_;
};

}  // namespace

uint32_t ReplicaServerId(const EndpointUri& uri, const cdc::CaptureOptions& options) {
  const std::string given = uri.Param("server_id");
  if (!given.empty()) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(given.c_str(), &end, 10);
    if (end == given.c_str() || *end != '\0' || v == 0 || v > 0xFFFFFFFFull) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("source URI parameter server_id={}: expected a number from 1 to "
                              "4294967295, unique among the server's replicas",
                              given));
    }
    return static_cast<uint32_t>(v);
  }
  const std::string seed = options.task_id.empty() ? options.task : options.task_id;
  return 0x40000000u | (Fnv1a(seed) & 0x3FFFFFFFu);
}

std::unique_ptr<cdc::ChangeCapture> OpenMyChangeCapture(const EndpointUri& uri,
                                                        const cdc::CaptureOptions& options) {
  return std::make_unique<MyChangeCapture>(uri, options);
}

}  // namespace ferry::mysql
