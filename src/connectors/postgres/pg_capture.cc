#include "connectors/postgres/pg_capture.h"

#include <fmt/format.h>

#include <algorithm>

#include "connectors/postgres/pg_capture_internal.h"
#include "connectors/postgres/pg_replication_stream.h"
#include "logging/log.h"

namespace ferry::postgres {

using namespace capture_internal;

namespace {

constexpr auto kWalCheckInterval = std::chrono::seconds(60);
// How often the selected tables are looked for (at most; the heartbeat, when shorter, wins).
constexpr auto kDropCheckInterval = std::chrono::seconds(10);

std::string SlotName(const cdc::CaptureOptions& o) {
  return o.slot.empty() ? cdc::CaptureObjectName(o.task, o.task_id) : o.slot;
}

std::string PublicationName(const cdc::CaptureOptions& o) {
  return o.publication.empty() ? cdc::CaptureObjectName(o.task, o.task_id) : o.publication;
}

}  // namespace

// --- PgChangeCapture ---

PgChangeCapture::PgChangeCapture(EndpointUri uri, cdc::CaptureOptions options)
    : uri_(std::move(uri)),
      options_(std::move(options)),
      slot_(SlotName(options_)),
      publication_(PublicationName(options_)),
      stream_({slot_, publication_, options_.task}, options_.tables, *this) {}

PgChangeCapture::~PgChangeCapture() = default;

void PgChangeCapture::Start(const cdc::Position& from_position) {
  const Lsn from = PositionLsn(from_position);
  Sql();
  if (!repl_) repl_ = Replication::Connect(uri_);
  const std::string what = fmt::format("starting replication from slot {}", slot_);
  PgResult id = repl_->Exec("IDENTIFY_SYSTEM", what);
  const Lsn server_end = ParseLsn(GetText(id.get(), 0, 2).value_or("")).value_or(0);

  bool all_binary = true;
  std::string text_column;
  for (uint32_t t = 0; t < stream_.table_count(); ++t) {
    const TableDef& def = stream_.table_def(t);
    for (const ColumnDef& col : def.columns) {
      if (!ChangeColumnFor(col).binary_ok) {
        if (all_binary) text_column = col.name + " of " + def.QualifiedName();
        all_binary = false;
      }
    }
  }
  if (value_format_ == ValueFormat::kBinary && (!all_binary || server_version_ < 140000)) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{}: binary values were asked for but {}", what,
                            server_version_ < 140000 ? "the server is older than 14"
                                                     : "column " + text_column +
                                                           " has no binary decoder"));
  }
  binary_ = value_format_ == ValueFormat::kBinary ||
            (value_format_ == ValueFormat::kAuto && all_binary && server_version_ >= 140000);
  const int proto = server_version_ >= 160000   ? 4
                    : server_version_ >= 150000 ? 3
                    : server_version_ >= 140000 ? 2
                                                : 1;
  const std::string pubs = DoubleQuoteIdent(publication_);
  std::string sql =
      fmt::format("START_REPLICATION SLOT {} LOGICAL {} (proto_version '{}', publication_names {}",
                  DoubleQuoteIdent(slot_), FormatLsn(from), proto, ReplicationCommandLiteral(pubs));
  bool streaming = false;
  if (server_version_ >= 140000) {
    sql += fmt::format(", binary '{}', messages 'false'", binary_ ? "true" : "false");
    // Transactions larger than the server's logical_decoding_work_mem arrive while they run
    // (their changes spill on Ferry's side, not in the server's pg_replslot).
    streaming = proto >= 2 && options_.stream_in_progress;
    if (streaming) sql += ", streaming 'on'";
  }
  sql += ")";
  PgResult r(PQexec(repl_->get(), sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_BOTH) throw repl_->MakeError(what, r.get());
  std::unique_ptr<ReplicationStream> stream =
      std::make_unique<LibpqReplicationStream>(repl_->get(), slot_, repl_->where(), uri_.password);
  if (!recording_path_.empty()) {
    StreamFileHeader header;
    header.proto_version = proto;
    header.binary = binary_;
    header.streaming = streaming;
    header.start = from;
    header.server_end = server_end;
    stream =
        std::make_unique<RecordingReplicationStream>(std::move(stream), recording_path_, header);
  }
  const auto now = Clock::now();
  last_heartbeat_ = now;
  last_wal_check_ = now - kWalCheckInterval;  // check once at the first poll
  last_drop_check_ = now;
  pending_drops_.clear();
  if (table_oids_.size() != stream_.table_count()) {
    table_oids_.assign(stream_.table_count(), 0);
    dropped_.assign(stream_.table_count(), false);
    for (uint32_t i = 0; i < stream_.table_count(); ++i) {
      const TableDef& t = stream_.table_def(i);
      PgResult o = Sql().ExecParams("SELECT to_regclass(format('%I.%I', $1::text, $2::text))::oid",
                                    {t.schema, t.name}, "resolving the OID of a captured table");
      const std::optional<std::string> oid = GetText(o.get(), 0, 0);
      if (oid) table_oids_[i] = static_cast<uint32_t>(std::stoul(*oid));
    }
    stream_.set_table_oids(table_oids_);
  }
  stream_.Start(std::move(stream), from, proto, server_end);
}

void PgChangeCapture::CheckDroppedTables(cdc::CaptureSink& sink, Clock::time_point now) {
  // Reported in stream order: once every transaction before the drop has been delivered.
  for (auto it = pending_drops_.begin(); it != pending_drops_.end();) {
    if (stream_.in_txn() || stream_.streamed_end() < it->at) {
      ++it;
      continue;
    }
    logging::For(LogComponentId::kSourceCapture)
        .warn("table {} was dropped on the source", stream_.table_def(it->table).QualifiedName());
    dropped_[it->table] = true;
    sink.OnTableDropped(it->table);
    it = pending_drops_.erase(it);
  }
  const auto interval =
      options_.heartbeat.count() > 0 ? std::min<Clock::duration>(options_.heartbeat, kDropCheckInterval)
                                     : Clock::duration(kDropCheckInterval);
  if (now - last_drop_check_ < interval) return;
  last_drop_check_ = now;
  std::string oids;
  for (size_t i = 0; i < table_oids_.size(); ++i) {
    if (table_oids_[i] == 0 || dropped_[i]) continue;
    bool pending = false;
    for (const PendingDrop& p : pending_drops_) pending |= p.table == i;
    if (!pending) oids += (oids.empty() ? "" : ",") + std::to_string(table_oids_[i]);
  }
  if (oids.empty()) return;
  PgResult r = Sql().ExecParams(
      "SELECT o::oid, pg_current_wal_lsn()::text FROM unnest($1::oid[]) o "
      "WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = o)",
      {"{" + oids + "}"}, "checking whether captured tables were dropped");
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    const uint32_t oid = static_cast<uint32_t>(std::stoul(*GetText(r.get(), row, 0)));
    const Lsn at = ParseLsn(*GetText(r.get(), row, 1)).value_or(stream_.server_end());
    for (size_t i = 0; i < table_oids_.size(); ++i) {
      if (table_oids_[i] == oid) pending_drops_.push_back({static_cast<uint32_t>(i), at});
    }
  }
}

void PgChangeCapture::Confirm(const cdc::Position& applied_position) {
  stream_.Confirm(PositionLsn(applied_position));
}

uint32_t PgChangeCapture::BaseType(uint32_t oid) {
  auto it = base_oids_.find(oid);
  if (it != base_oids_.end()) return it->second;
  uint32_t base = oid;
  for (int depth = 0; depth < 32; ++depth) {
    PgResult r = Sql().ExecParams(
        "SELECT typtype, typbasetype FROM pg_type WHERE oid = $1::oid",
        {std::to_string(base)}, "resolving a column type of the replication stream");
    if (PQntuples(r.get()) == 0 || *GetText(r.get(), 0, 0) != "d") break;
    base = static_cast<uint32_t>(std::stoul(*GetText(r.get(), 0, 1)));
  }
  base_oids_[oid] = base;
  return base;
}

ColumnDef PgChangeCapture::ColumnOfType(const std::string& name, uint32_t type_oid,
                                        int32_t typmod) {
  if (!catalog_) catalog_ = std::make_unique<PgCatalogReader>(PgConnection::Connect(uri_));
  return catalog_->ColumnOfType(name, type_oid, typmod);
}

std::string PgChangeCapture::ColumnDefault(uint32_t relation_oid, const std::string& column) {
  PgResult r = Sql().ExecParams(
      "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a JOIN pg_attrdef d "
      "ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
      "WHERE a.attrelid = $1::oid AND a.attname = $2 AND NOT a.attisdropped",
      {std::to_string(relation_oid), column}, "reading the default of an added column");
  return PQntuples(r.get()) > 0 ? GetText(r.get(), 0, 0).value_or("") : std::string();
}

void PgChangeCapture::BetweenMessages(cdc::CaptureSink& sink, Clock::time_point now) {
  Housekeeping(now);
  CheckDroppedTables(sink, now);
}

void PgChangeCapture::Housekeeping(Clock::time_point now) {
  if (options_.heartbeat.count() > 0 && !stream_.in_txn() &&
      now - std::max(stream_.last_txn(), last_heartbeat_) >= options_.heartbeat) {
    Sql().Exec("SELECT pg_logical_emit_message(false, 'ferry_heartbeat', '')",
               "writing the CDC heartbeat");
    last_heartbeat_ = now;
  }
  if (options_.retained_wal_warning_bytes > 0 && now - last_wal_check_ >= kWalCheckInterval) {
    last_wal_check_ = now;
    PgResult r = Sql().ExecParams(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
        "FROM pg_replication_slots WHERE slot_name = $1",
        {slot_}, "checking the WAL retained by the replication slot");
    if (PQntuples(r.get()) > 0) {
      const std::optional<std::string> v = GetText(r.get(), 0, 0);
      const int64_t retained = v ? std::stoll(*v) : 0;
      if (retained > options_.retained_wal_warning_bytes) {
        logging::For(LogComponentId::kSourceCapture)
            .warn("replication slot {} of task '{}' retains {} MB of WAL on {} (warning above "
                  "{} MB): the target is behind or the task is stopped; the source's disk fills "
                  "until it catches up or the slot is dropped",
                  slot_, options_.task, retained >> 20, Sql().where(),
                  options_.retained_wal_warning_bytes >> 20);
      }
    }
  }
}

void PgChangeCapture::Poll(cdc::CaptureSink& sink, std::chrono::milliseconds wait) {
  stream_.Poll(sink, wait);
}

}  // namespace ferry::postgres
