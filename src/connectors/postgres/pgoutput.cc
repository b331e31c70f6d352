#include "connectors/postgres/pgoutput.h"

#include <fmt/format.h>

#include <cstring>

namespace ferry::pgoutput {
namespace {

// A bounds-checked big-endian reader over one message. The first failure is kept; every later
// read returns zeros, so decoding code can read a whole message and check ok() once.
class Reader {
 public:
  Reader(std::string_view bytes, const char* message) : bytes_(bytes), message_(message) {}

  uint8_t U8(const char* field) {
    if (!Need(1, field)) return 0;
    return static_cast<uint8_t>(bytes_[pos_++]);
  }
  uint16_t U16(const char* field) { return static_cast<uint16_t>(Big(2, field)); }
  uint32_t U32(const char* field) { return static_cast<uint32_t>(Big(4, field)); }
  uint64_t U64(const char* field) { return Big(8, field); }
  int64_t I64(const char* field) { return static_cast<int64_t>(Big(8, field)); }

  // A NUL-terminated string.
  std::string_view String(const char* field) {
    if (!ok()) return {};
    const void* nul = std::memchr(bytes_.data() + pos_, '\0', bytes_.size() - pos_);
    if (!nul) {
      Fail(fmt::format("{} is not NUL-terminated", field));
      return {};
    }
    const size_t end = static_cast<const char*>(nul) - bytes_.data();
    std::string_view s = bytes_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }

  std::string_view Bytes(size_t n, const char* field) {
    if (!Need(n, field)) return {};
    std::string_view s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }

  size_t remaining() const { return ok() ? bytes_.size() - pos_ : 0; }
  size_t pos() const { return pos_; }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  void Fail(const std::string& what) {
    if (ok()) error_ = fmt::format("pgoutput {} message: {} (at byte {})", message_, what, pos_);
  }

 private:
  bool Need(size_t n, const char* field) {
    if (!ok()) return false;
    if (bytes_.size() - pos_ < n) {
      Fail(fmt::format("truncated in {}: {} byte(s) needed, {} left", field, n,
                       bytes_.size() - pos_));
      return false;
    }
    return true;
  }
  uint64_t Big(size_t n, const char* field) {
    if (!Need(n, field)) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(bytes_[pos_ + i]);
    pos_ += n;
    return v;
  }

  std::string_view bytes_;
  const char* message_;
  size_t pos_ = 0;
  std::string error_;
};

// Whether `count` items of at least `min_bytes` each can still follow; a count beyond what is
// left is malformed (and must not size an allocation). `what` formats the count.
bool CountFits(Reader& r, uint64_t count, size_t min_bytes, const char* what) {
  if (!r.ok()) return false;
  if (count <= r.remaining() / min_bytes) return true;
  r.Fail(fmt::format("{}, {} byte(s) left", fmt::format(fmt::runtime(what), count),
                     r.remaining()));
  return false;
}

// The fields Commit and Stream Commit share, in protocol order.
template <typename CommitMessage>
void ReadCommitFields(Reader& r, CommitMessage* m) {
  m->flags = r.U8("flags");
  m->commit_lsn = r.U64("commit LSN");
  m->end_lsn = r.U64("end LSN");
  m->commit_time = r.I64("commit time");
}

// TupleData: Int16 column count, then per column 'n' | 'u' | 't' Int32 len bytes | 'b' ...
Tuple ReadTuple(Reader& r) {
  Tuple tuple;
  const uint16_t n = r.U16("tuple column count");
  if (!CountFits(r, n, 1, "tuple claims {} columns")) return tuple;
  tuple.reserve(n);
  for (uint16_t i = 0; i < n && r.ok(); ++i) {
    TupleValue v;
    const char kind = static_cast<char>(r.U8("tuple column kind"));
    switch (kind) {
      case 'n': v.kind = TupleValue::Kind::kNull; break;
      case 'u': v.kind = TupleValue::Kind::kUnchangedToast; break;
      case 't':
      case 'b': {
        v.kind = kind == 't' ? TupleValue::Kind::kText : TupleValue::Kind::kBinary;
        const uint32_t len = r.U32("tuple value length");
        v.data = r.Bytes(len, "tuple value");
        break;
      }
      default:
        if (r.ok()) {
          r.Fail(fmt::format("tuple column {} has kind byte 0x{:02x}, expected n, u, t or b", i,
                             static_cast<uint8_t>(kind)));
        }
    }
    tuple.push_back(v);
  }
  return tuple;
}

}  // namespace

const char* MessageName(char type) {
  switch (type) {
    case 'B': return "Begin";
    case 'C': return "Commit";
    case 'O': return "Origin";
    case 'R': return "Relation";
    case 'Y': return "Type";
    case 'I': return "Insert";
    case 'U': return "Update";
    case 'D': return "Delete";
    case 'T': return "Truncate";
    case 'M': return "Message";
    case 'S': return "Stream Start";
    case 'E': return "Stream Stop";
    case 'c': return "Stream Commit";
    case 'A': return "Stream Abort";
    case 'b': return "Begin Prepare";
    case 'P': return "Prepare";
    case 'K': return "Commit Prepared";
    case 'r': return "Rollback Prepared";
    case 'p': return "Stream Prepare";
    default: return "unknown";
  }
}

Result<Message> Decoder::Decode(std::string_view bytes) {
  if (bytes.empty()) return Error(ErrorKind::kData, "pgoutput: empty message");
  const char type = bytes[0];
  Reader r(bytes.substr(1), MessageName(type));
  // Inside a streamed transaction, data messages start with the transaction id.
  auto stream_xid = [&]() -> uint32_t { return in_stream_ ? r.U32("transaction id") : 0; };
  Message out;
  switch (type) {
    case 'B': {
      Begin m;
      m.final_lsn = r.U64("final LSN");
      m.commit_time = r.I64("commit time");
      m.xid = r.U32("transaction id");
      out = m;
      break;
    }
    case 'C': {
      Commit m;
      ReadCommitFields(r, &m);
      out = m;
      break;
    }
    case 'O': {
      Origin m;
      m.commit_lsn = r.U64("origin commit LSN");
      m.name = r.String("origin name");
      out = m;
      break;
    }
    case 'R': {
      Relation m;
      m.xid = stream_xid();
      m.relation_id = r.U32("relation id");
      m.schema = r.String("namespace");
      m.name = r.String("relation name");
      m.replica_identity = static_cast<char>(r.U8("replica identity"));
      const uint16_t n = r.U16("column count");
      if (CountFits(r, n, 1, "claims {} columns")) m.columns.reserve(n);
      for (uint16_t i = 0; i < n && r.ok(); ++i) {
        RelationColumn c;
        c.key = (r.U8("column flags") & 1) != 0;
        c.name = r.String("column name");
        c.type_oid = r.U32("column type");
        c.type_modifier = static_cast<int32_t>(r.U32("column type modifier"));
        m.columns.push_back(c);
      }
      out = std::move(m);
      break;
    }
    case 'Y': {
      Type m;
      m.xid = stream_xid();
      m.type_oid = r.U32("type id");
      m.schema = r.String("namespace");
      m.name = r.String("type name");
      out = m;
      break;
    }
    case 'I': {
      Insert m;
      m.xid = stream_xid();
      m.relation_id = r.U32("relation id");
      if (const char n = static_cast<char>(r.U8("tuple marker")); r.ok() && n != 'N') {
        r.Fail(fmt::format("expected 'N' before the new tuple, found 0x{:02x}",
                           static_cast<uint8_t>(n)));
      }
      m.new_tuple = ReadTuple(r);
      out = std::move(m);
      break;
    }
    case 'U': {
      Update m;
      m.xid = stream_xid();
      m.relation_id = r.U32("relation id");
      char marker = static_cast<char>(r.U8("tuple marker"));
      if (r.ok() && (marker == 'K' || marker == 'O')) {
        m.old_kind = marker;
        m.old_tuple = ReadTuple(r);
        marker = static_cast<char>(r.U8("tuple marker"));
      }
      if (r.ok() && marker != 'N') {
        r.Fail(fmt::format("expected 'K', 'O' or 'N', found 0x{:02x}",
                           static_cast<uint8_t>(marker)));
      }
      m.new_tuple = ReadTuple(r);
      out = std::move(m);
      break;
    }
    case 'D': {
      Delete m;
      m.xid = stream_xid();
      m.relation_id = r.U32("relation id");
      m.old_kind = static_cast<char>(r.U8("tuple marker"));
      if (r.ok() && m.old_kind != 'K' && m.old_kind != 'O') {
        r.Fail(fmt::format("expected 'K' or 'O' before the old tuple, found 0x{:02x}",
                           static_cast<uint8_t>(m.old_kind)));
      }
      m.old_tuple = ReadTuple(r);
      out = std::move(m);
      break;
    }
    case 'T': {
      Truncate m;
      m.xid = stream_xid();
      const uint32_t n = r.U32("relation count");
      const uint8_t options = r.U8("options");
      m.cascade = (options & 1) != 0;
      m.restart_identity = (options & 2) != 0;
      CountFits(r, n, 4, "claims {} relations");
      for (uint32_t i = 0; i < n && r.ok(); ++i) m.relation_ids.push_back(r.U32("relation id"));
      out = std::move(m);
      break;
    }
    case 'M': {
      LogicalMessage m;
      m.xid = stream_xid();
      m.transactional = (r.U8("flags") & 1) != 0;
      m.lsn = r.U64("message LSN");
      m.prefix = r.String("prefix");
      const uint32_t len = r.U32("content length");
      m.content = r.Bytes(len, "content");
      out = m;
      break;
    }
    case 'S': {
      StreamStart m;
      m.xid = r.U32("transaction id");
      m.first_segment = r.U8("first segment") == 1;
      if (r.ok() && in_stream_) r.Fail("Stream Start inside a stream (no Stream Stop before it)");
      if (r.ok()) in_stream_ = true;
      out = m;
      break;
    }
    case 'E':
      if (!in_stream_) r.Fail("Stream Stop outside a stream");
      in_stream_ = false;
      out = StreamStop{};
      break;
    case 'c': {
      StreamCommit m;
      m.xid = r.U32("transaction id");
      ReadCommitFields(r, &m);
      out = m;
      break;
    }
    case 'A': {
      StreamAbort m;
      m.xid = r.U32("transaction id");
      m.subxid = r.U32("subtransaction id");
      if (version_ >= 4 && parallel_) {
        m.abort_lsn = r.U64("abort LSN");
        m.abort_time = r.I64("abort time");
      }
      out = m;
      break;
    }
    case 'b':
    case 'P':
    case 'K':
    case 'r':
    case 'p':
      return Error(ErrorKind::kUnsupported,
                   fmt::format("pgoutput: two-phase message {} received, but Ferry does not ask "
                               "for two_phase",
                               MessageName(type)));
    default:
      return Error(ErrorKind::kUnsupported,
                   fmt::format("pgoutput: unknown message type 0x{:02x}",
                               static_cast<uint8_t>(type)));
  }
  if (!r.ok()) return Error(ErrorKind::kData, r.error());
  if (r.remaining() != 0) {
    return Error(ErrorKind::kData,
                 fmt::format("pgoutput {} message: {} unexpected byte(s) after the message",
                             MessageName(type), r.remaining()));
  }
  return out;
}

}  // namespace ferry::pgoutput
