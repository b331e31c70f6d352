#include "connectors/postgres/pg_change_stream.h"

#include <fmt/format.h>

#include <algorithm>

#include "catalog/table_def_json.h"
#include "connectors/postgres/pg_capture.h"  // SqlName
#include "connectors/postgres/pg_copy_binary.h"
#include "logging/log.h"
#include "types/utf8.h"

namespace ferry::postgres {

namespace {

constexpr auto kStatusInterval = std::chrono::seconds(10);

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

PgChangeStream::PgChangeStream(Names names, const std::vector<TableDef>& tables, Source& source)
    : names_(std::move(names)), source_(source) {
  encoders_.reserve(tables.size());
  for (size_t i = 0; i < tables.size(); ++i) {
    encoders_.emplace_back(static_cast<uint32_t>(i), tables[i]);
  }
}

PgChangeStream::~PgChangeStream() = default;

void PgChangeStream::Start(std::unique_ptr<ReplicationStream> stream, Lsn from, int proto_version,
                           Lsn server_end) {
  stream_ = std::move(stream);
  decoder_ = std::make_unique<pgoutput::Decoder>(proto_version);
  server_end_ = server_end;
  streamed_end_ = 0;
  relations_.clear();
  in_txn_ = false;
  in_stream_ = false;
  open_streams_.clear();
  touched_.clear();
  txn_touched_.clear();
  stream_touched_.clear();
  confirmed_ = from;
  reported_ = 0;
  streaming_ = true;
  last_txn_ = Clock::now();
  SendStatus();
}

void PgChangeStream::Stop() {
  streaming_ = false;
  stream_.reset();
}

void PgChangeStream::SendStatus() {
  StandbyStatus status;
  status.write = status.flush = status.apply = confirmed_;
  status.client_time = NowPgMicros();
  try {
    stream_->SendStatus(status);
  } catch (const Error&) {
    streaming_ = false;
    throw;
  }
  reported_ = confirmed_;
  last_status_ = Clock::now();
}

void PgChangeStream::Confirm(Lsn applied) {
  if (applied <= confirmed_) return;
  confirmed_ = applied;
  if (streaming()) SendStatus();
}

ReplicationStream::Read PgChangeStream::NextMessage(std::chrono::milliseconds wait,
                                                    std::string_view* message) {
  try {
    return stream_->Next(wait, message);
  } catch (const Error&) {
    streaming_ = false;
    throw;
  }
}

void PgChangeStream::Poll(cdc::CaptureSink& sink, std::chrono::milliseconds wait) {
  if (!streaming()) {
    throw Error(ErrorKind::kInternal, fmt::format("Poll on slot {} before Start", names_.slot));
  }
  const auto deadline = Clock::now() + wait;
  bool table_data = false;
  for (;;) {
    const auto now = Clock::now();
    if (confirmed_ != reported_ || now - last_status_ >= kStatusInterval) SendStatus();
    source_.BetweenMessages(sink, now);
    // Wait for a message until the deadline, or until the next status update is due.
    std::chrono::milliseconds room(0);
    if (now < deadline) {
      const auto until = std::min(deadline, last_status_ + kStatusInterval);
      room = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(until - now),
                      std::chrono::milliseconds(1));
    }
    std::string_view message;
    const ReplicationStream::Read got = NextMessage(room, &message);
    if (got == ReplicationStream::Read::kMessage) {
      HandleMessage(message, sink, &table_data);
      if (Clock::now() >= deadline) break;
      continue;
    }
    if (got == ReplicationStream::Read::kEnd || Clock::now() >= deadline) break;
  }
  // Not idle while a streamed transaction is open: its start must not be confirmed past.
  if (!table_data && !in_txn_ && open_streams_.empty() && streamed_end_ != 0) {
    sink.OnIdle(LsnPosition(streamed_end_));
  }
}

bool PgChangeStream::StreamsHold(uint32_t table) const {
  for (const auto& [xid, writers] : stream_touched_) {
    for (const auto& [subxid, tables] : writers) {
      if (tables.count(table)) return true;
    }
  }
  return false;
}

void PgChangeStream::Deliver(cdc::CaptureSink& sink, uint32_t message_xid, uint32_t table) {
  touched_.insert(table);
  if (in_stream_) {
    stream_touched_[stream_xid_][message_xid != 0 ? message_xid : stream_xid_].insert(table);
  } else {
    txn_touched_.insert(table);
  }
  if (in_stream_) {
    // Inside a stream block each change names the (sub)transaction that wrote it.
    sink.OnStreamedChange(stream_xid_, message_xid, record_);
  } else {
    sink.OnChange(begin_.xid, record_);
  }
}

void PgChangeStream::HandleRelation(const pgoutput::Relation& rel, cdc::CaptureSink& sink,
                                    Lsn lsn) {
  // The server sends names in the client encoding (UTF8 on this connection); anything else
  // is a broken stream, and would break every table definition built from it (JSON, SQL).
  bool utf8 = IsValidUtf8(rel.schema) && IsValidUtf8(rel.name);
  for (const pgoutput::RelationColumn& c : rel.columns) utf8 = utf8 && IsValidUtf8(c.name);
  if (!utf8) {
    throw Error(ErrorKind::kData,
                fmt::format("replication slot {} at LSN {}: Relation message for relation OID "
                            "{} with a name that is not UTF-8",
                            names_.slot, FormatLsn(lsn), rel.relation_id));
  }
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
    for (size_t i = 0; i < table_oids_.size() && i < encoders_.size(); ++i) {
      if (table_oids_[i] != 0 && table_oids_[i] == rel.relation_id) {
        id = static_cast<uint32_t>(i);
        if (renamed_warned_.insert(id).second) {
          logging::For(LogComponentId::kSourceCapture)
              .warn(
                  "table {} was renamed on the source to {}: its changes keep going to the "
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
    throw Error(ErrorKind::kData,
                fmt::format("replication slot {} at LSN {} sent changes of table {}, which is "
                            "not one of task '{}''s tables: publication {} publishes it; remove "
                            "it from the publication",
                            names_.slot, FormatLsn(lsn), SqlName(schema, name), names_.task,
                            names_.publication));
  }
  TableChangeEncoder& enc = encoders_[id];
  std::vector<uint32_t> oids;
  oids.reserve(rel.columns.size());
  for (const pgoutput::RelationColumn& c : rel.columns)
    oids.push_back(source_.BaseType(c.type_oid));
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
      // A whole transaction while others are streamed open: what matters is whether it
      // changed the table itself, or a streamed one still holds changes of it (a change in a
      // subtransaction rolled back to its savepoint is gone, and so is the lock that kept the
      // ALTER out).
      const bool between_own_changes = in_stream_ || open_streams_.empty()
                                           ? touched_.count(id) > 0
                                           : txn_touched_.count(id) > 0 || StreamsHold(id);
      if (!appended && (in_txn_ || !open_streams_.empty()) && between_own_changes) {
        if (in_stream_ || (in_txn_ && !StreamsHold(id))) {
          // A shape record between the transaction's changes, so the apply alters the target
          // right there, inside the same target transaction. In a transaction streamed before
          // its commit it belongs to the subtransaction that ran the ALTER (the Relation
          // message's xid): rolled back to a savepoint, it goes with that subtransaction's
          // changes, and the server describes the table again (its old columns) with the
          // next change, which writes another shape record.
          shape_record_.clear();
          cdc::EncodeShapeChange(id, TableDefToJson(enc.def()), &shape_record_);
          if (in_stream_) {
            sink.OnStreamedChange(stream_xid_, rel.xid != 0 ? rel.xid : stream_xid_, shape_record_);
          } else {
            sink.OnChange(begin_.xid, shape_record_);
          }
        } else {
          // A whole transaction while another is streamed open holding changes of the table
          // in its old shape (the server's locks make this rare): no place between them.
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

TableDef PgChangeStream::ShapeFromRelation(const pgoutput::Relation& rel,
                                           const std::vector<uint32_t>& base_oids,
                                           const TableDef& known) {
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
      ColumnDef now = source_.ColumnOfType(name, rc.type_oid, rc.type_modifier);
      if (was.native_id == base_oids[i] && was.native_type == now.native_type) {
        shaped.columns.push_back(was);
        continue;
      }
      shaped.columns.push_back(std::move(now));
      continue;
    }
    ColumnDef added = source_.ColumnOfType(name, rc.type_oid, rc.type_modifier);
    added.default_expression = source_.ColumnDefault(rel.relation_id, name);
    shaped.columns.push_back(std::move(added));
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

TableChangeEncoder& PgChangeStream::EncoderFor(uint32_t relation_id, Lsn lsn, const char* message) {
  auto it = relations_.find(relation_id);
  if (it == relations_.end()) {
    throw Error(ErrorKind::kData,
                fmt::format("replication slot {} at LSN {}: {} for relation OID {} without a "
                            "Relation message before it",
                            names_.slot, FormatLsn(lsn), message, relation_id));
  }
  return encoders_[it->second];
}

void PgChangeStream::HandleMessage(std::string_view message, cdc::CaptureSink& sink,
                                   bool* table_data) {
  const char* data = message.data();
  const size_t size = message.size();
  if (size < 1) return;
  if (data[0] == 'k') {
    if (size < 18) {
      throw Error(ErrorKind::kData, fmt::format("replication slot {}: keepalive message of {} "
                                                "bytes",
                                                names_.slot, size));
    }
    const Lsn end = LoadU64(data + 1);
    if (end > server_end_) server_end_ = end;
    if (end > streamed_end_) streamed_end_ = end;
    if (data[17] != 0) SendStatus();
    return;
  }
  if (data[0] != 'w') {
    throw Error(ErrorKind::kData, fmt::format("replication slot {}: unknown message type 0x{:02x}",
                                              names_.slot, static_cast<uint8_t>(data[0])));
  }
  if (size < 25) {
    throw Error(ErrorKind::kData, fmt::format("replication slot {}: XLogData message of {} bytes",
                                              names_.slot, size));
  }
  const Lsn lsn = LoadU64(data + 1);
  const Lsn wal_end = LoadU64(data + 9);
  if (wal_end > server_end_) server_end_ = wal_end;
  if (wal_end > streamed_end_) streamed_end_ = wal_end;
  Result<pgoutput::Message> decoded = decoder_->Decode(message.substr(25));
  if (!decoded.ok()) {
    const Error& e = decoded.error();
    throw Error(e.kind(), fmt::format("replication slot {} at LSN {}: {}", names_.slot,
                                      FormatLsn(lsn), e.what()));
  }
  pgoutput::Message& m = decoded.value();
  if (auto* b = std::get_if<pgoutput::Begin>(&m)) {
    begin_ = *b;
    in_txn_ = true;
    if (open_streams_.empty()) touched_.clear();
    txn_touched_.clear();
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
    txn_touched_.clear();
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
                              names_.slot, FormatLsn(lsn), ss->xid));
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
    stream_touched_.erase(sc->xid);
    if (open_streams_.empty() && !in_txn_) touched_.clear();
    *table_data = true;
    last_txn_ = Clock::now();
    sink.OnCommit(info);
  } else if (auto* sa = std::get_if<pgoutput::StreamAbort>(&m)) {
    if (sa->subxid == sa->xid) {
      open_streams_.erase(sa->xid);
      stream_touched_.erase(sa->xid);
      if (open_streams_.empty() && !in_txn_) touched_.clear();
    } else if (auto it = stream_touched_.find(sa->xid); it != stream_touched_.end()) {
      it->second.erase(sa->subxid);
    }
    *table_data = true;
    sink.OnAbort(sa->xid, sa->subxid);
  }
  // Origin, Type and logical messages carry nothing Ferry applies.
}

}  // namespace ferry::postgres
