// pgoutput decoder: every message type built byte by byte as the server sends it, streamed
// transactions, and malformed input (truncation at every byte, bad markers, huge counts).
#include "connectors/postgres/pgoutput.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>

namespace ferry::pgoutput {
namespace {

// Decoded messages point into their bytes: every message built here stays alive for the test.
std::deque<std::string> g_kept;

// Builds messages in the protocol's big-endian layout.
class Bytes {
 public:
  explicit Bytes(char type) { s_.push_back(type); }
  Bytes& U8(uint8_t v) { s_.push_back(static_cast<char>(v)); return *this; }
  Bytes& U16(uint16_t v) { return Big(v, 2); }
  Bytes& U32(uint32_t v) { return Big(v, 4); }
  Bytes& U64(uint64_t v) { return Big(v, 8); }
  Bytes& Str(std::string_view v) { s_.append(v); s_.push_back('\0'); return *this; }
  Bytes& Raw(std::string_view v) { s_.append(v); return *this; }
  Bytes& Text(std::string_view v) { U8('t'); U32(static_cast<uint32_t>(v.size())); return Raw(v); }
  std::string_view str() const { return g_kept.emplace_back(s_); }

 private:
  Bytes& Big(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) s_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  std::string s_;
};

template <typename T>
T As(const Result<Message>& r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().what());
  EXPECT_TRUE(std::holds_alternative<T>(r.value()));
  return std::get<T>(r.value());
}

TEST(Pgoutput, BeginAndCommit) {
  Decoder d;
  Begin b = As<Begin>(d.Decode(Bytes('B').U64(0x1A2B3C).U64(785000000000).U32(742).str()));
  EXPECT_EQ(b.final_lsn, 0x1A2B3Cu);
  EXPECT_EQ(b.commit_time, 785000000000);
  EXPECT_EQ(b.xid, 742u);
  Commit c = As<Commit>(d.Decode(Bytes('C').U8(0).U64(0x1A2B3C).U64(0x1A2B70).U64(5).str()));
  EXPECT_EQ(c.commit_lsn, 0x1A2B3Cu);
  EXPECT_EQ(c.end_lsn, 0x1A2B70u);
  EXPECT_EQ(c.commit_time, 5);
}

std::string_view RelationBytes() {
  return Bytes('R').U32(16384).Str("public").Str("emp").U8('d').U16(2)
      .U8(1).Str("id").U32(23).U32(0xFFFFFFFF)
      .U8(0).Str("name").U32(1043).U32(24).str();
}

TEST(Pgoutput, RelationAndType) {
  Decoder d;
  Relation r = As<Relation>(d.Decode(RelationBytes()));
  EXPECT_EQ(r.relation_id, 16384u);
  EXPECT_EQ(r.schema, "public");
  EXPECT_EQ(r.name, "emp");
  EXPECT_EQ(r.replica_identity, 'd');
  ASSERT_EQ(r.columns.size(), 2u);
  EXPECT_TRUE(r.columns[0].key);
  EXPECT_EQ(r.columns[0].type_modifier, -1);
  EXPECT_FALSE(r.columns[1].key);
  EXPECT_EQ(r.columns[1].name, "name");
  EXPECT_EQ(r.columns[1].type_oid, 1043u);
  Type t = As<Type>(d.Decode(Bytes('Y').U32(90001).Str("public").Str("mood").str()));
  EXPECT_EQ(t.type_oid, 90001u);
  EXPECT_EQ(t.name, "mood");
}

TEST(Pgoutput, InsertUpdateDeleteTuples) {
  Decoder d;
  Insert i = As<Insert>(d.Decode(
      Bytes('I').U32(16384).U8('N').U16(3).Text("42").U8('n').U8('b').U32(2).Raw(std::string_view("\x00\xff", 2)).str()));
  ASSERT_EQ(i.new_tuple.size(), 3u);
  EXPECT_EQ(i.new_tuple[0].kind, TupleValue::Kind::kText);
  EXPECT_EQ(i.new_tuple[0].data, "42");
  EXPECT_EQ(i.new_tuple[1].kind, TupleValue::Kind::kNull);
  EXPECT_EQ(i.new_tuple[2].kind, TupleValue::Kind::kBinary);
  EXPECT_EQ(i.new_tuple[2].data, std::string("\x00\xff", 2));

  // Without an old tuple, with the old key (the key changed), with the whole old row (FULL).
  Update u = As<Update>(d.Decode(Bytes('U').U32(1).U8('N').U16(1).U8('u').str()));
  EXPECT_EQ(u.old_kind, 0);
  EXPECT_EQ(u.new_tuple[0].kind, TupleValue::Kind::kUnchangedToast);
  u = As<Update>(d.Decode(Bytes('U').U32(1).U8('K').U16(1).Text("1").U8('N').U16(1).Text("2").str()));
  EXPECT_EQ(u.old_kind, 'K');
  EXPECT_EQ(u.old_tuple[0].data, "1");
  EXPECT_EQ(u.new_tuple[0].data, "2");
  u = As<Update>(d.Decode(Bytes('U').U32(1).U8('O').U16(1).Text("a").U8('N').U16(1).Text("b").str()));
  EXPECT_EQ(u.old_kind, 'O');

  Delete del = As<Delete>(d.Decode(Bytes('D').U32(7).U8('K').U16(1).Text("9").str()));
  EXPECT_EQ(del.relation_id, 7u);
  EXPECT_EQ(del.old_tuple[0].data, "9");
}

TEST(Pgoutput, TruncateOriginMessage) {
  Decoder d;
  Truncate t = As<Truncate>(d.Decode(Bytes('T').U32(2).U8(3).U32(10).U32(11).str()));
  EXPECT_TRUE(t.cascade);
  EXPECT_TRUE(t.restart_identity);
  EXPECT_EQ(t.relation_ids, (std::vector<uint32_t>{10, 11}));
  Origin o = As<Origin>(d.Decode(Bytes('O').U64(99).Str("node_a").str()));
  EXPECT_EQ(o.name, "node_a");
  LogicalMessage m =
      As<LogicalMessage>(d.Decode(Bytes('M').U8(1).U64(5).Str("ferry").U32(3).Raw("hey").str()));
  EXPECT_TRUE(m.transactional);
  EXPECT_EQ(m.prefix, "ferry");
  EXPECT_EQ(m.content, "hey");
}

TEST(Pgoutput, StreamedTransactionsCarryTheirXid) {
  Decoder d(2);
  StreamStart s = As<StreamStart>(d.Decode(Bytes('S').U32(900).U8(1).str()));
  EXPECT_TRUE(s.first_segment);
  EXPECT_TRUE(d.in_stream());
  Insert i = As<Insert>(d.Decode(Bytes('I').U32(900).U32(16384).U8('N').U16(1).Text("1").str()));
  EXPECT_EQ(i.xid, 900u);
  EXPECT_EQ(i.relation_id, 16384u);
  As<StreamStop>(d.Decode(Bytes('E').str()));
  EXPECT_FALSE(d.in_stream());
  StreamCommit c = As<StreamCommit>(d.Decode(Bytes('c').U32(900).U8(0).U64(1).U64(2).U64(3).str()));
  EXPECT_EQ(c.end_lsn, 2u);
  StreamAbort a = As<StreamAbort>(d.Decode(Bytes('A').U32(900).U32(901).str()));
  EXPECT_EQ(a.subxid, 901u);
  Decoder v4(4, /*parallel_streaming=*/true);
  a = As<StreamAbort>(v4.Decode(Bytes('A').U32(1).U32(2).U64(3).U64(4).str()));
  EXPECT_EQ(a.abort_lsn, 3u);
  EXPECT_EQ(a.abort_time, 4);
}

std::string ErrorOf(Decoder& d, std::string_view bytes) {
  Result<Message> r = d.Decode(bytes);
  return r.ok() ? "" : r.error().what();
}

TEST(Pgoutput, EveryTruncationIsAPreciseError) {
  const std::string_view full =
      Bytes('U').U32(1).U8('K').U16(1).Text("1").U8('N').U16(2).Text("22").U8('n').str();
  for (size_t n = 0; n < full.size(); ++n) {
    Decoder d;
    Result<Message> r = d.Decode(full.substr(0, n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().kind(), ErrorKind::kData) << n;
  }
  for (size_t n = 1; n < RelationBytes().size(); ++n) {
    Decoder d;
    EXPECT_FALSE(d.Decode(RelationBytes().substr(0, n)).ok()) << n;
  }
}

TEST(Pgoutput, MalformedInputMessages) {
  Decoder d;
  EXPECT_EQ(ErrorOf(d, Bytes('I').U32(1).U8('N').U16(1).Text("12").str().substr(0, 14)),
            "pgoutput Insert message: truncated in tuple value: 2 byte(s) needed, 1 left "
            "(at byte 12)");
  EXPECT_EQ(ErrorOf(d, Bytes('I').U32(1).U8('X').U16(0).str()),
            "pgoutput Insert message: expected 'N' before the new tuple, found 0x58 (at byte 5)");
  EXPECT_EQ(ErrorOf(d, Bytes('I').U32(1).U8('N').U16(1).U8('z').str()),
            "pgoutput Insert message: tuple column 0 has kind byte 0x7a, expected n, u, t or b "
            "(at byte 8)");
  EXPECT_EQ(ErrorOf(d, Bytes('I').U32(1).U8('N').U16(65535).str()),
            "pgoutput Insert message: tuple claims 65535 columns, 0 byte(s) left (at byte 7)");
  EXPECT_EQ(ErrorOf(d, Bytes('T').U32(0xFFFFFFFF).U8(0).str()),
            "pgoutput Truncate message: claims 4294967295 relations, 0 byte(s) left (at byte 5)");
  EXPECT_EQ(ErrorOf(d, Bytes('O').U64(1).Raw("no-nul").str()),
            "pgoutput Origin message: origin name is not NUL-terminated (at byte 8)");
  EXPECT_EQ(ErrorOf(d, Bytes('C').U8(0).U64(1).U64(2).U64(3).U8(0).str()),
            "pgoutput Commit message: 1 unexpected byte(s) after the message");
  EXPECT_EQ(ErrorOf(d, Bytes('E').str()), "pgoutput Stream Stop message: Stream Stop outside a stream (at byte 0)");
  EXPECT_EQ(ErrorOf(d, ""), "pgoutput: empty message");
  Result<Message> r = d.Decode(Bytes('P').str());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kUnsupported);
  EXPECT_EQ(ErrorOf(d, Bytes('Z').str()), "pgoutput: unknown message type 0x5a");
}

}  // namespace
}  // namespace ferry::pgoutput
