#include "connectors/postgres/pg_capture.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "catalog/table_def_json.h"
#include "common/host.h"
#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_types.h"
#include "logging/log.h"

#include "connectors/postgres/pg_capture_internal.h"

namespace ferry::postgres {

using namespace capture_internal;

namespace {

constexpr auto kStatusInterval = std::chrono::seconds(10);
constexpr auto kWalCheckInterval = std::chrono::seconds(60);
// How often the selected tables are looked for (at most; the heartbeat, when shorter, wins).
constexpr auto kDropCheckInterval = std::chrono::seconds(10);

int64_t NowPgMicros() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(now).count() - kPgEpochMicros;
}

bool SameColumns(const TableDef& a, const TableDef& b) {
  if (a.columns.size() != b.columns.size()) return false;
  for (size_t i = 0; i < a.columns.size(); ++i) {
    const ColumnDef& x = a.columns[i];
    const ColumnDef& y = b.columns[i];
    if (x.name != y.name || x.native_type != y.native_type || x.native_id != y.native_id ||
        !(x.type == y.type) || x.nullable != y.nullable) {
      return false;
    }
  }
  return true;
}

}  // namespace

// --- PgChangeCapture ---

PgChangeCapture::PgChangeCapture(EndpointUri uri, cdc::CaptureOptions options)
    : uri_(std::move(uri)), options_(std::move(options)) {
  slot_ = options_.slot.empty() ? cdc::CaptureObjectName(options_.task, options_.task_id)
                                : options_.slot;
  publication_ = options_.publication.empty()
                     ? cdc::CaptureObjectName(options_.task, options_.task_id)
                     : options_.publication;
  for (size_t i = 0; i < options_.tables.size(); ++i) {
    encoders_.emplace_back(static_cast<uint32_t>(i), options_.tables[i]);
  }
}

PgChangeCapture::~PgChangeCapture() = default;

void PgChangeCapture::Start(const cdc::Position& from_position) {
  const Lsn from = PositionLsn(from_position);
  Sql();
  if (!repl_) repl_ = Replication::Connect(uri_);
  const std::string what = fmt::format("starting replication from slot {}", slot_);
  PgResult id = repl_->Exec("IDENTIFY_SYSTEM", what);
  server_end_ = ParseLsn(GetText(id.get(), 0, 2).value_or("")).value_or(0);
  streamed_end_ = 0;

  bool all_binary = true;
  std::string text_column;
  for (const TableChangeEncoder& e : encoders_) {
    for (const ColumnDef& col : e.def().columns) {
      if (!ChangeColumnFor(col).binary_ok) {
        if (all_binary) text_column = col.name + " of " + e.def().QualifiedName();
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
  std::string pubs = "\"";
  for (char ch : publication_) pubs += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  pubs += "\"";
  std::string sql =
      fmt::format("START_REPLICATION SLOT {} LOGICAL {} (proto_version '{}', publication_names {}",
                  QuoteIdent(slot_), FormatLsn(from), proto, ReplicationCommandLiteral(pubs));
  if (server_version_ >= 140000) {
    sql += fmt::format(", binary '{}', messages 'false'", binary_ ? "true" : "false");
    // Transactions larger than the server's logical_decoding_work_mem arrive while they run
    // (their changes spill on Ferry's side, not in the server's pg_replslot).
    if (proto >= 2 && options_.stream_in_progress) sql += ", streaming 'on'";
  }
  sql += ")";
  PgResult r(PQexec(repl_->get(), sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_BOTH) throw repl_->MakeError(what, r.get());
  decoder_ = std::make_unique<pgoutput::Decoder>(proto);
  relations_.clear();
  in_txn_ = false;
  in_stream_ = false;
  open_streams_.clear();
  touched_.clear();
  confirmed_ = from;
  reported_ = 0;
  streaming_ = true;
  const auto now = Clock::now();
  last_txn_ = now;
  last_wal_check_ = now - kWalCheckInterval;  // check once at the first poll
  last_drop_check_ = now;
  pending_drops_.clear();
  if (table_oids_.size() != encoders_.size()) {
    table_oids_.assign(encoders_.size(), 0);
    dropped_.assign(encoders_.size(), false);
    for (size_t i = 0; i < encoders_.size(); ++i) {
      const TableDef& t = encoders_[i].def();
      PgResult r = Sql().ExecParams("SELECT to_regclass(format('%I.%I', $1::text, $2::text))::oid",
                                    {t.schema, t.name}, "resolving the OID of a captured table");
      const std::optional<std::string> oid = GetText(r.get(), 0, 0);
      if (oid) table_oids_[i] = static_cast<uint32_t>(std::stoul(*oid));
    }
  }
  SendStatus();
}

void PgChangeCapture::Deliver(cdc::CaptureSink& sink, uint32_t message_xid, uint32_t table) {
  touched_.insert(table);
  if (in_stream_) {
    // Inside a stream block each change names the (sub)transaction that wrote it.
    sink.OnStreamedChange(stream_xid_, message_xid, record_);
  } else {
    sink.OnChange(begin_.xid, record_);
  }
}

void PgChangeCapture::CheckDroppedTables(cdc::CaptureSink& sink, Clock::time_point now) {
  // Reported in stream order: once every transaction before the drop has been delivered.
  for (auto it = pending_drops_.begin(); it != pending_drops_.end();) {
    if (in_txn_ || streamed_end_ < it->at) {
      ++it;
      continue;
    }
    logging::For(LogComponentId::kSourceCapture)
        .warn("table {} was dropped on the source", encoders_[it->table].def().QualifiedName());
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
    const Lsn at = ParseLsn(*GetText(r.get(), row, 1)).value_or(server_end_);
    for (size_t i = 0; i < table_oids_.size(); ++i) {
      if (table_oids_[i] == oid) pending_drops_.push_back({static_cast<uint32_t>(i), at});
    }
  }
}

void PgChangeCapture::SendStatus() {
  char msg[34];
  msg[0] = 'r';
  const uint64_t pos = confirmed_;
  const uint64_t be = __builtin_bswap64(pos);
  std::memcpy(msg + 1, &be, 8);
  std::memcpy(msg + 9, &be, 8);
  std::memcpy(msg + 17, &be, 8);
  const uint64_t t = __builtin_bswap64(static_cast<uint64_t>(NowPgMicros()));
  std::memcpy(msg + 25, &t, 8);
  msg[33] = 0;
  if (PQputCopyData(repl_->get(), msg, sizeof msg) != 1 || PQflush(repl_->get()) != 0) {
    streaming_ = false;
    throw repl_->MakeError(fmt::format("sending a standby status update for slot {}", slot_),
                           nullptr);
  }
  reported_ = confirmed_;
  last_status_ = Clock::now();
}

void PgChangeCapture::Confirm(const cdc::Position& applied_position) {
  const Lsn applied = PositionLsn(applied_position);
  if (applied <= confirmed_) return;
  confirmed_ = applied;
  if (streaming_) SendStatus();
}

uint32_t PgChangeCapture::BaseOid(uint32_t oid) {
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

void PgChangeCapture::HandleRelation(const pgoutput::Relation& rel, cdc::CaptureSink& sink,
                                     Lsn lsn) {
  const std::string schema = rel.schema.empty() ? "pg_catalog" : std::string(rel.schema);
  const std::string name(rel.name);
  uint32_t id = UINT32_MAX;
  for (size_t i = 0; i < encoders_.size(); ++i) {
    if (encoders_[i].def().schema == schema && encoders_[i].def().name == name) {
      id = static_cast<uint32_t>(i);
      break;
    }
  }
  if (id == UINT32_MAX) {
    // A task table renamed on the source keeps its OID: its changes keep going to its target
    // table (the task's plan names the table as it was).
    for (size_t i = 0; i < table_oids_.size(); ++i) {
      if (table_oids_[i] != 0 && table_oids_[i] == rel.relation_id) {
        id = static_cast<uint32_t>(i);
        if (renamed_warned_.insert(id).second) {
          logging::For(LogComponentId::kSourceCapture)
              .warn("table {} was renamed on the source to {}: its changes keep going to the "
                       "same target table (a --resume will plan the tables under their names "
                       "then)",
                       SqlName(encoders_[i].def().schema, encoders_[i].def().name),
                       SqlName(schema, name));
        }
        break;
      }
    }
  }
  if (id == UINT32_MAX) {
    throw Error(
        ErrorKind::kData,
        fmt::format("replication slot {} at LSN {} sent changes of table {}, which is "
                    "not one of task '{}''s tables: publication {} publishes it; remove "
                    "it from the publication",
                    slot_, FormatLsn(lsn), SqlName(schema, name), options_.task, publication_));
  }
  TableChangeEncoder& enc = encoders_[id];
  std::vector<uint32_t> oids;
  oids.reserve(rel.columns.size());
  for (const pgoutput::RelationColumn& c : rel.columns) oids.push_back(BaseOid(c.type_oid));
  if (!enc.Matches(rel, oids)) {
    // The table's shape at this point of the WAL is the Relation message's, not the catalog's
    // now (later ALTERs may have renamed or retyped columns since): build it from the message,
    // so every change decodes with the columns in force at its own position and each ALTER
    // reaches the target between the changes it separates.
    TableDef shaped = ShapeFromRelation(rel, oids, enc.def());
    if (!SameColumns(shaped, enc.def())) {
      // Columns only appended: the transaction's earlier changes of the table read the same
      // way under the new columns (the new ones absent, as they were). Anything else between
      // its own changes cannot be applied in one order right for both shapes.
      bool appended = shaped.columns.size() >= enc.def().columns.size();
      for (size_t i = 0; appended && i < enc.def().columns.size(); ++i) {
        const ColumnDef& a = enc.def().columns[i];
        const ColumnDef& b = shaped.columns[i];
        appended = a.name == b.name && a.native_type == b.native_type && a.type == b.type;
      }
      enc.SetDef(std::move(shaped));
      if (!appended && (in_txn_ || !open_streams_.empty()) && touched_.count(id)) {
        if (in_stream_ || (in_txn_ && open_streams_.empty())) {
          // A shape record between the transaction's changes, so the apply alters the target
          // right there, inside the same target transaction. In a transaction streamed before
          // its commit it belongs to the subtransaction that ran the ALTER (the Relation
          // message's xid): rolled back to a savepoint, it goes with that subtransaction's
          // changes, and the server describes the table again (its old columns) with the
          // next change, which writes another shape record.
          shape_record_.clear();
          cdc::EncodeShapeChange(id, TableDefToJson(enc.def()), &shape_record_);
          if (in_stream_) {
            sink.OnStreamedChange(stream_xid_, rel.xid != 0 ? rel.xid : stream_xid_,
                                  shape_record_);
          } else {
            sink.OnChange(begin_.xid, shape_record_);
          }
        } else {
          // A whole transaction while another is streamed open with changes of the table in
          // its old shape (the server's locks make this rare): no place between them.
          sink.OnTableChangedInTransaction(id, enc.def(), begin_.xid);
        }
      } else {
        // A transaction streamed before its commit does not know its commit position yet.
        sink.OnTableChanged(id, enc.def(), LsnPosition(in_stream_ ? Lsn{0} : begin_.final_lsn));
      }
    }
  }
  enc.SetRelation(rel);
  relations_[rel.relation_id] = id;
}

TableDef PgChangeCapture::ShapeFromRelation(const pgoutput::Relation& rel,
                                            const std::vector<uint32_t>& base_oids,
                                            const TableDef& known) {
  if (!catalog_) catalog_ = std::make_unique<PgCatalogReader>(PgConnection::Connect(uri_));
  TableDef shaped = known;
  shaped.columns.clear();
  std::vector<std::string> keys;
  for (size_t i = 0; i < rel.columns.size(); ++i) {
    const pgoutput::RelationColumn& rc = rel.columns[i];
    const std::string name(rc.name);
    if (rc.key) keys.push_back(name);
    // A column as it was (same name, same type and modifier) keeps everything known of it.
    const int k = known.ColumnIndex(name);
    if (k >= 0) {
      const ColumnDef& was = known.columns[static_cast<size_t>(k)];
      ColumnDef now = catalog_->ColumnOfType(name, rc.type_oid, rc.type_modifier);
      if (was.native_id == base_oids[i] && was.native_type == now.native_type) {
        shaped.columns.push_back(was);
        continue;
      }
      shaped.columns.push_back(std::move(now));
      continue;
    }
    shaped.columns.push_back(catalog_->ColumnOfType(name, rc.type_oid, rc.type_modifier));
  }
  // The key: the replica identity's columns when it is the key or an index; with REPLICA
  // IDENTITY FULL (every column flagged) the known key, as far as its columns remain.
  if (rel.replica_identity == 'd' || rel.replica_identity == 'i') {
    shaped.primary_key = keys;
  } else {
    std::vector<std::string> kept;
    for (const std::string& k : known.primary_key) {
      if (shaped.ColumnIndex(k) >= 0) kept.push_back(k);
    }
    if (kept.size() != known.primary_key.size()) kept.clear();
    shaped.primary_key = kept;
  }
  return shaped;
}

TableChangeEncoder& PgChangeCapture::EncoderFor(uint32_t relation_id, Lsn lsn,
                                                const char* message) {
  auto it = relations_.find(relation_id);
  if (it == relations_.end()) {
    throw Error(ErrorKind::kData,
                fmt::format("replication slot {} at LSN {}: {} for relation OID {} without a "
                            "Relation message before it",
                            slot_, FormatLsn(lsn), message, relation_id));
  }
  return encoders_[it->second];
}

void PgChangeCapture::HandleMessage(const char* data, size_t size, cdc::CaptureSink& sink,
                                    bool* table_data) {
  if (size < 1) return;
  if (data[0] == 'k') {
    if (size < 18) {
      throw Error(ErrorKind::kData,
                  fmt::format("replication slot {}: keepalive message of {} bytes", slot_, size));
    }
    const Lsn end = LoadU64(data + 1);
    if (end > server_end_) server_end_ = end;
    if (end > streamed_end_) streamed_end_ = end;
    if (data[17] != 0) SendStatus();
    return;
  }
  if (data[0] != 'w') {
    throw Error(ErrorKind::kData, fmt::format("replication slot {}: unknown message type 0x{:02x}",
                                              slot_, static_cast<uint8_t>(data[0])));
  }
  if (size < 25) {
    throw Error(ErrorKind::kData,
                fmt::format("replication slot {}: XLogData message of {} bytes", slot_, size));
  }
  const Lsn lsn = LoadU64(data + 1);
  const Lsn wal_end = LoadU64(data + 9);
  if (wal_end > server_end_) server_end_ = wal_end;
  if (wal_end > streamed_end_) streamed_end_ = wal_end;
  Result<pgoutput::Message> decoded = decoder_->Decode(std::string_view(data + 25, size - 25));
  if (!decoded.ok()) {
    const Error& e = decoded.error();
    throw Error(e.kind(),
                fmt::format("replication slot {} at LSN {}: {}", slot_, FormatLsn(lsn), e.what()));
  }
  pgoutput::Message& m = decoded.value();
  if (auto* b = std::get_if<pgoutput::Begin>(&m)) {
    begin_ = *b;
    in_txn_ = true;
    if (open_streams_.empty()) touched_.clear();
    *table_data = true;
    sink.OnBegin(b->xid);
  } else if (auto* c = std::get_if<pgoutput::Commit>(&m)) {
    cdc::TransactionInfo info;
    info.xid = begin_.xid;
    info.commit_position = LsnPosition(c->commit_lsn);
    info.end_position = LsnPosition(c->end_lsn);
    info.commit_time_us = c->commit_time + kPgEpochMicros;
    in_txn_ = false;
    if (open_streams_.empty()) touched_.clear();
    *table_data = true;
    last_txn_ = Clock::now();
    sink.OnCommit(info);
  } else if (auto* rel = std::get_if<pgoutput::Relation>(&m)) {
    // A Relation message has no WAL position of its own (0): name its transaction's commit.
    HandleRelation(*rel, sink, lsn != 0 ? lsn : begin_.final_lsn);
  } else if (auto* ins = std::get_if<pgoutput::Insert>(&m)) {
    record_.clear();
    TableChangeEncoder& enc = EncoderFor(ins->relation_id, lsn, "Insert");
    enc.EncodeInsert(*ins, lsn, &record_);
    *table_data = true;
    Deliver(sink, ins->xid, enc.table_id());
  } else if (auto* up = std::get_if<pgoutput::Update>(&m)) {
    record_.clear();
    TableChangeEncoder& enc = EncoderFor(up->relation_id, lsn, "Update");
    enc.EncodeUpdate(*up, lsn, &record_);
    *table_data = true;
    Deliver(sink, up->xid, enc.table_id());
  } else if (auto* del = std::get_if<pgoutput::Delete>(&m)) {
    record_.clear();
    TableChangeEncoder& enc = EncoderFor(del->relation_id, lsn, "Delete");
    enc.EncodeDelete(*del, lsn, &record_);
    *table_data = true;
    Deliver(sink, del->xid, enc.table_id());
  } else if (auto* tr = std::get_if<pgoutput::Truncate>(&m)) {
    *table_data = true;
    for (uint32_t rid : tr->relation_ids) {
      record_.clear();
      TableChangeEncoder& enc = EncoderFor(rid, lsn, "Truncate");
      enc.EncodeTruncate(&record_);
      Deliver(sink, tr->xid, enc.table_id());
    }
  } else if (auto* ss = std::get_if<pgoutput::StreamStart>(&m)) {
    // A block of an in-progress transaction; others may commit between blocks.
    in_stream_ = true;
    stream_xid_ = ss->xid;
    *table_data = true;
    if (ss->first_segment) {
      open_streams_.insert(ss->xid);
      sink.OnBegin(ss->xid);
    } else if (open_streams_.count(ss->xid) == 0) {
      throw Error(ErrorKind::kData,
                  fmt::format("replication slot {} at LSN {}: streamed transaction {} goes on, "
                              "but its first part was never received",
                              slot_, FormatLsn(lsn), ss->xid));
    }
  } else if (std::holds_alternative<pgoutput::StreamStop>(m)) {
    in_stream_ = false;
  } else if (auto* sc = std::get_if<pgoutput::StreamCommit>(&m)) {
    cdc::TransactionInfo info;
    info.xid = sc->xid;
    info.commit_position = LsnPosition(sc->commit_lsn);
    info.end_position = LsnPosition(sc->end_lsn);
    info.commit_time_us = sc->commit_time + kPgEpochMicros;
    open_streams_.erase(sc->xid);
    if (open_streams_.empty() && !in_txn_) touched_.clear();
    *table_data = true;
    last_txn_ = Clock::now();
    sink.OnCommit(info);
  } else if (auto* sa = std::get_if<pgoutput::StreamAbort>(&m)) {
    if (sa->subxid == sa->xid) open_streams_.erase(sa->xid);
    *table_data = true;
    sink.OnAbort(sa->xid, sa->subxid);
  }
  // Origin, Type and logical messages carry nothing Ferry applies.
}

void PgChangeCapture::Housekeeping(Clock::time_point now) {
  if (confirmed_ != reported_ || now - last_status_ >= kStatusInterval) SendStatus();
  if (options_.heartbeat.count() > 0 && !in_txn_ && now - last_txn_ >= options_.heartbeat) {
    Sql().Exec("SELECT pg_logical_emit_message(false, 'ferry_heartbeat', '')",
               "writing the CDC heartbeat");
    last_txn_ = now;
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
  if (!streaming_) {
    throw Error(ErrorKind::kInternal,
                fmt::format("Poll on slot {} before Start", slot_));
  }
  const auto deadline = Clock::now() + wait;
  bool table_data = false;
  PGconn* conn = repl_->get();
  for (;;) {
    auto now = Clock::now();
    Housekeeping(now);
    CheckDroppedTables(sink, now);
    char* buf = nullptr;
    const int n = PQgetCopyData(conn, &buf, 1);
    if (n > 0) {
      std::unique_ptr<char, decltype(&PQfreemem)> holder(buf, &PQfreemem);
      HandleMessage(buf, static_cast<size_t>(n), sink, &table_data);
      if (Clock::now() >= deadline) break;
      continue;
    }
    if (n == 0) {
      now = Clock::now();
      if (now >= deadline) break;
      auto until = std::min(deadline, last_status_ + kStatusInterval);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
      pollfd pfd{PQsocket(conn), POLLIN, 0};
      const int pr = ::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(ms, 1)));
      if (pr < 0 && errno != EINTR) {
        streaming_ = false;
        throw Error(ErrorKind::kConnection,
                    fmt::format("waiting on the replication stream of slot {} from {}: {}",
                                slot_, repl_->where(), std::strerror(errno)));
      }
      if (PQconsumeInput(conn) == 0) {
        streaming_ = false;
        throw Error(ErrorKind::kConnection,
                    fmt::format("the replication stream of slot {} from {} was lost: {}", slot_,
                                repl_->where(), repl_->Scrub(Trim(PQerrorMessage(conn)))));
      }
      continue;
    }
    streaming_ = false;
    if (n == -1) {
      PgResult r(PQgetResult(conn));
      std::string msg = r ? Trim(PQresultErrorMessage(r.get())) : "";
      if (msg.empty()) msg = Trim(PQerrorMessage(conn));
      // A server shutting down ends the stream without a word.
      if (msg.empty()) msg = "no reason given (the server may be shutting down)";
      // The walsender refusing what it decodes (a publication missing at that point of the
      // WAL, an object gone) fails the same way again: not worth a retry.
      const char* st = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
      const std::string state = st ? st : "";
      if (state.size() == 5 && (state.rfind("42", 0) == 0 || state == "55000")) {
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("the server refused to stream slot {} from {}: {}{}", slot_,
                                repl_->where(), repl_->Scrub(msg),
                                state == "42704" && Contains(msg, "publication")
                                    ? " (a slot decodes with the catalog as of each change: the "
                                      "publication must have existed when the slot's position "
                                      "was written; create it before the slot)"
                                    : ""));
      }
      throw Error(ErrorKind::kConnection,
                  fmt::format("the server ended the replication stream of slot {} from {}: {}",
                              slot_, repl_->where(), repl_->Scrub(msg)));
    }
    throw Error(ErrorKind::kConnection,
                fmt::format("the replication stream of slot {} from {} was lost: {}", slot_,
                            repl_->where(), repl_->Scrub(Trim(PQerrorMessage(conn)))));
  }
  // Not idle while a streamed transaction is open: its start must not be confirmed past.
  if (!table_data && !in_txn_ && open_streams_.empty() && streamed_end_ != 0) {
    sink.OnIdle(LsnPosition(streamed_end_));
  }
}

}  // namespace ferry::postgres
