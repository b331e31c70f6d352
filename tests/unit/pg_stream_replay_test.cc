// PostgreSQL change capture without a server: the replication streams recorded from
// PostgreSQL 15 in tests/fixtures/pgoutput/ (README there) replayed through PgChangeStream,
// the core PgChangeCapture runs on the live stream, from a FileReplicationStream. Asserts what
// the sink receives (changes, transaction boundaries, commit positions, table changes,
// streamed transactions and aborts, idle positions) and the standby status updates sent back.
// Also the stream file format and the status message itself.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "catalog/table_def_json.h"
#include "change/change.h"
#include "connectors/postgres/pg_change_stream.h"
#include "connectors/postgres/pg_copy_binary.h"
#include "connectors/postgres/pg_replication_stream.h"
#include "connectors/postgres/pgoutput.h"
#include "support/recorded_types.h"
#include "types/value_codec.h"

namespace ferry::postgres {
namespace {

std::string FixturePath(const std::string& file) {
  return std::string(FERRY_SOURCE_DIR) + "/tests/fixtures/pgoutput/" + file;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

using test_support::RecordedTypes;

// Records what the capture delivers; each change rendered as text with the table's columns
// in force at it (following table changes and shape records).
class Sink : public cdc::CaptureSink {
 public:
  explicit Sink(std::vector<TableDef> tables) : defs(std::move(tables)) {}

  void OnBegin(uint32_t xid) override {
    begins.push_back(xid);
    log.push_back("begin");
  }
  void OnChange(uint32_t xid, std::string_view record) override {
    ++changes;
    if (begins.empty() || xid != begins.back()) ++foreign_xid;
    log.push_back(Render(record));
  }
  void OnStreamedChange(uint32_t xid, uint32_t subxid, std::string_view record) override {
    ++streamed;
    ++changes;
    if (begins.empty() || xid != begins.back()) ++foreign_xid;
    streamed_log.push_back(Render(record));
    streamed_subxids.push_back(subxid);
  }
  void OnCommit(const cdc::TransactionInfo& txn) override {
    commits.push_back(txn);
    if (begins.empty() || txn.xid != begins.back()) ++foreign_xid;
    log.push_back("commit");
  }
  void OnAbort(uint32_t xid, uint32_t subxid) override {
    aborts.emplace_back(xid, subxid);
    log.push_back(fmt::format("abort {} {}", xid, subxid == xid ? "all" : "sub"));
  }
  void OnTableChanged(uint32_t table, const TableDef& def, const cdc::Position& commit) override {
    defs.at(table) = def;
    table_commits.push_back(commit);
    std::string cols;
    for (const ColumnDef& c : def.columns) cols += (cols.empty() ? "" : ",") + c.name;
    log.push_back(fmt::format("table {} ({})", def.name, cols));
  }
  void OnTableChangedInTransaction(uint32_t table, const TableDef& def, uint32_t) override {
    defs.at(table) = def;
    log.push_back(fmt::format("table-in-txn {}", def.name));
  }
  void OnIdle(const cdc::Position& position) override { idle.push_back(PositionLsn(position)); }

  std::string Render(std::string_view record) {
    cdc::ChangeReader reader(record);
    cdc::ChangeView v;
    EXPECT_TRUE(reader.Next(&v));
    if (v.op == cdc::ChangeOp::kShape) {
      defs.at(v.table) = TableDefFromJson(v.shape, "a shape record");
      std::string cols;
      for (const ColumnDef& c : defs[v.table].columns) cols += (cols.empty() ? "" : ",") + c.name;
      return fmt::format("shape {} ({})", defs[v.table].name, cols);
    }
    const TableDef& def = defs.at(v.table);
    std::string out = fmt::format("{} {}", static_cast<char>(v.op), def.name);
    auto image = [&](int row) {
      std::string s;
      for (int c = 0; c < v.rows->columns(); ++c) {
        const Cell& cell = v.rows->at(static_cast<size_t>(row), c);
        if (c > 0) s += "|";
        if (cell.unchanged) {
          s += "<unchanged>";
        } else if (cell.null) {
          s += "<null>";
        } else if (IsBinary(def.columns[c].type.kind)) {
          s += "\\x";
          for (unsigned char b : v.rows->Bytes(static_cast<size_t>(row), c)) {
            s += fmt::format("{:02x}", b);
          }
        } else {
          std::string text;
          AppendCanonical(*v.rows, static_cast<size_t>(row), c, def.columns[c].type, &text);
          s += text.size() > 24 ? fmt::format("<{} bytes>", text.size()) : text;
        }
      }
      return s;
    };
    if (v.old_row >= 0) {
      out += fmt::format(" old{}({})", v.old_kind == cdc::OldImage::kFull ? "-full" : "-key",
                         image(v.old_row));
    }
    if (v.new_row >= 0) out += fmt::format(" new({})", image(v.new_row));
    return out;
  }

  std::vector<TableDef> defs;
  std::vector<uint32_t> begins;
  size_t foreign_xid = 0;  // changes and commits not of the transaction begun last
  std::vector<std::string> log;
  std::vector<cdc::TransactionInfo> commits;
  std::vector<cdc::Position> table_commits;
  std::vector<std::pair<uint32_t, uint32_t>> aborts;
  std::vector<Lsn> idle;
  std::vector<std::string> streamed_log;   // per OnStreamedChange: the change
  std::vector<uint32_t> streamed_subxids;  // and the (sub)transaction that wrote it
  size_t changes = 0, streamed = 0;
};

// What a stream file says when read message by message without the capture: the Commit
// (and Stream Commit) messages' positions, the keepalives asking for a reply, the highest
// WAL end the server reported.
struct FileFacts {
  std::string kinds;                         // per message: 'k' or the pgoutput message type
  std::vector<std::pair<Lsn, Lsn>> commits;  // commit LSN, end LSN
  std::vector<size_t> reply_requests;        // message numbers (1-based) of such keepalives
  Lsn wal_end = 0;
  size_t messages = 0;
};

FileFacts ReadFacts(const std::string& path) {
  FileFacts f;
  const std::string bytes = ReadFile(path);
  StreamFileReader reader = StreamFileReader::Open(bytes).ValueOrThrow();
  pgoutput::Decoder decoder(reader.header().proto_version);
  std::string_view m;
  while (reader.Next(&m).ValueOrThrow()) {
    ++f.messages;
    f.kinds.push_back(m[0] == 'k' ? 'k' : m[25]);
    if (m[0] == 'k') {
      f.wal_end = std::max(f.wal_end, LoadU64(m.data() + 1));
      if (m[17] != 0) f.reply_requests.push_back(f.messages);
      continue;
    }
    f.wal_end = std::max(f.wal_end, LoadU64(m.data() + 9));
    pgoutput::Message msg = decoder.Decode(m.substr(25)).ValueOrThrow();
    if (const auto* c = std::get_if<pgoutput::Commit>(&msg)) {
      f.commits.emplace_back(c->commit_lsn, c->end_lsn);
    } else if (const auto* sc = std::get_if<pgoutput::StreamCommit>(&msg)) {
      f.commits.emplace_back(sc->commit_lsn, sc->end_lsn);
    }
  }
  return f;
}

// A recorded fixture opened for replay: its tables, its recorded types, the file stream
// (kept by the core; `file` stays valid while `core` lives).
struct Replay {
  explicit Replay(const std::string& name)
      : path(FixturePath(name + ".pgstream")), types(LoadTypes(name)), sink(LoadTables(name)) {
    auto stream = FileReplicationStream::Open(path);
    file = stream.get();
    header = stream->header();
    core = std::make_unique<PgChangeStream>(
        PgChangeStream::Names{"fixture_slot", "fixture_pub", "fixture"}, sink.defs, types);
    core->Start(std::move(stream), header.start, header.proto_version, header.server_end);
  }
  static TableDef LoadTypes(const std::string& name) {
    return TableDefFromJson(ReadFile(FixturePath(name + ".types.json")), name + ".types.json");
  }
  static std::vector<TableDef> LoadTables(const std::string& name) {
    std::vector<TableDef> out;
    std::istringstream lines(ReadFile(FixturePath(name + ".tables.json")));
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty()) out.push_back(TableDefFromJson(line, name + ".tables.json"));
    }
    return out;
  }

  std::string path;
  RecordedTypes types;
  Sink sink;
  StreamFileHeader header;
  FileReplicationStream* file = nullptr;
  std::unique_ptr<PgChangeStream> core;
};

// Builders for hand-made streams.
std::string XLogData(Lsn lsn, Lsn wal_end, std::string_view payload) {
  std::string m = "w";
  PutU64(lsn, &m);
  PutU64(wal_end, &m);
  PutU64(0, &m);  // send time
  m.append(payload);
  return m;
}

std::string Keepalive(Lsn wal_end, bool reply) {
  std::string m = "k";
  PutU64(wal_end, &m);
  PutU64(0, &m);
  m.push_back(reply ? 1 : 0);
  return m;
}

std::string StreamFile(const std::vector<std::string>& messages, Lsn start = 0x100) {
  StreamFileHeader h;
  h.proto_version = 3;
  h.streaming = true;
  h.start = start;
  h.server_end = 0x200;
  std::string out = EncodeStreamFileHeader(h);
  for (const std::string& m : messages) AppendStreamFileMessage(m, &out);
  return out;
}

class NoTypes : public PgChangeStream::Source {
 public:
  uint32_t BaseType(uint32_t oid) override { return oid; }
  ColumnDef ColumnOfType(const std::string&, uint32_t oid, int32_t) override {
    throw Error(ErrorKind::kNotFound, fmt::format("type {}", oid));
  }
};

TEST(StandbyStatusTest, EncodesTheProtocolsLayout) {
  StandbyStatus s;
  s.write = 0x0102030405060708;
  s.flush = 0x1112131415161718;
  s.apply = 0x2122232425262728;
  s.client_time = -2;
  const std::string m = EncodeStandbyStatus(s);
  ASSERT_EQ(m.size(), 34u);
  EXPECT_EQ(m[0], 'r');
  EXPECT_EQ(m.substr(1, 8), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(m.substr(9, 8), std::string("\x11\x12\x13\x14\x15\x16\x17\x18", 8));
  EXPECT_EQ(m.substr(25, 8), std::string(7, '\xff') + "\xfe");
  EXPECT_EQ(m[33], 0);
  EXPECT_EQ(DecodeStandbyStatus(m), s);
  s.reply_requested = true;
  EXPECT_EQ(DecodeStandbyStatus(EncodeStandbyStatus(s)), s);
  EXPECT_FALSE(DecodeStandbyStatus(m.substr(0, 33)).has_value());
  EXPECT_FALSE(DecodeStandbyStatus("k" + m.substr(1)).has_value());
}

TEST(StreamFileTest, HeaderAndFramesRoundTrip) {
  const std::string bytes = StreamFile({Keepalive(0x300, false), XLogData(1, 2, "B")});
  ASSERT_EQ(bytes.substr(0, 8), "FERRYPGS");
  Result<StreamFileReader> r = StreamFileReader::Open(bytes);
  ASSERT_TRUE(r.ok()) << r.error().what();
  StreamFileReader reader = std::move(r).value();
  EXPECT_EQ(reader.header().proto_version, 3);
  EXPECT_FALSE(reader.header().binary);
  EXPECT_TRUE(reader.header().streaming);
  EXPECT_EQ(reader.header().start, 0x100u);
  EXPECT_EQ(reader.header().server_end, 0x200u);
  std::string_view m;
  ASSERT_TRUE(reader.Next(&m).ValueOrThrow());
  EXPECT_EQ(m, Keepalive(0x300, false));
  ASSERT_TRUE(reader.Next(&m).ValueOrThrow());
  EXPECT_EQ(m, XLogData(1, 2, "B"));
  EXPECT_FALSE(reader.Next(&m).ValueOrThrow());
  EXPECT_EQ(reader.offset(), bytes.size());
}

TEST(StreamFileTest, EveryCutIsAnErrorOrAWholeFrame) {
  const std::string bytes = StreamFile({Keepalive(0x300, true), XLogData(1, 2, "C")});
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    const std::string part = bytes.substr(0, cut);
    Result<StreamFileReader> r = StreamFileReader::Open(part);
    if (cut < kStreamFileHeaderSize) {
      ASSERT_FALSE(r.ok()) << cut;
      EXPECT_EQ(r.error().kind(), ErrorKind::kData);
      continue;
    }
    StreamFileReader reader = std::move(r).value();
    std::string_view m;
    size_t whole = 0;
    for (;;) {
      Result<bool> next = reader.Next(&m);
      if (!next.ok()) {
        EXPECT_EQ(next.error().kind(), ErrorKind::kData);
        EXPECT_NE(std::string(next.error().what()).find("byte"), std::string::npos);
        break;
      }
      if (!next.value()) break;
      ++whole;
    }
    const size_t first_end = kStreamFileHeaderSize + 4 + 18;
    EXPECT_EQ(whole, cut >= first_end ? 1u : 0u) << cut;
  }
}

TEST(StreamFileTest, RefusesWhatIsNotOne) {
  std::string bytes = StreamFile({Keepalive(1, false)});
  std::string bad = bytes;
  bad[0] = 'X';
  EXPECT_FALSE(StreamFileReader::Open(bad).ok());
  bad = bytes;
  bad[9] = 2;  // version 2
  ASSERT_FALSE(StreamFileReader::Open(bad).ok());
  EXPECT_NE(std::string(StreamFileReader::Open(bad).error().what()).find("version 2"),
            std::string::npos);
  bad = bytes;
  bad[10] = 9;  // proto_version 9
  EXPECT_FALSE(StreamFileReader::Open(bad).ok());
  std::string_view m;
  bad = bytes.substr(0, kStreamFileHeaderSize) + std::string(4, '\0');  // a frame of 0 bytes
  EXPECT_FALSE(StreamFileReader::Open(bad).ValueOrThrow().Next(&m).ok());
  bad = bytes.substr(0, kStreamFileHeaderSize) + "\x7f\xff\xff\xff" + "k";  // over the limit
  EXPECT_FALSE(StreamFileReader::Open(bad).ValueOrThrow().Next(&m).ok());
  EXPECT_THROW(FileReplicationStream("nothing", "x"), Error);
  EXPECT_THROW(FileReplicationStream::Open("/nonexistent/ferry.pgstream"), Error);
}

TEST(FileReplicationStreamTest, HoldsBackAndKeepsStatusUpdates) {
  FileReplicationStream f(StreamFile({Keepalive(1, false), Keepalive(2, false)}), "test");
  std::string_view m;
  f.set_available(1);
  EXPECT_EQ(f.Next(std::chrono::milliseconds(5), &m), ReplicationStream::Read::kMessage);
  EXPECT_EQ(f.Next(std::chrono::milliseconds(5), &m), ReplicationStream::Read::kNone);
  StandbyStatus s;
  s.flush = 7;
  f.SendStatus(s);
  f.set_available(SIZE_MAX);
  EXPECT_EQ(f.Next(std::chrono::milliseconds(5), &m), ReplicationStream::Read::kMessage);
  EXPECT_EQ(m, Keepalive(2, false));
  EXPECT_EQ(f.Next(std::chrono::milliseconds(5), &m), ReplicationStream::Read::kEnd);
  EXPECT_EQ(f.Next(std::chrono::milliseconds(5), &m), ReplicationStream::Read::kEnd);
  ASSERT_EQ(f.sent().size(), 1u);
  EXPECT_EQ(f.sent()[0].status.flush, 7u);
  EXPECT_EQ(f.sent()[0].after_messages, 1u);
  EXPECT_EQ(f.messages_read(), 2u);
}

// The core on hand-made streams: keepalives, positions, status updates, malformed messages.
class StreamCoreTest : public ::testing::Test {
 protected:
  void Run(const std::vector<std::string>& messages, Lsn start = 0x100) {
    auto stream = std::make_unique<FileReplicationStream>(StreamFile(messages, start), "test");
    file_ = stream.get();
    core_ = std::make_unique<PgChangeStream>(PgChangeStream::Names{"s", "p", "t"},
                                             std::vector<TableDef>{}, types_);
    core_->Start(std::move(stream), start, 3, 0x200);
  }
  NoTypes types_;
  Sink sink_{{}};
  FileReplicationStream* file_ = nullptr;
  std::unique_ptr<PgChangeStream> core_;
};

TEST_F(StreamCoreTest, KeepalivesMovePositionsAndGetTheirReply) {
  Run({Keepalive(0x150, false), Keepalive(0x180, true), Keepalive(0x170, false)});
  EXPECT_EQ(core_->server_end(), 0x200u);
  EXPECT_EQ(core_->streamed_end(), 0u);
  core_->Poll(sink_, std::chrono::seconds(10));
  EXPECT_EQ(file_->messages_read(), 3u);
  EXPECT_EQ(core_->server_end(), 0x200u);    // IDENTIFY_SYSTEM's was further
  EXPECT_EQ(core_->streamed_end(), 0x180u);  // never backwards
  // One at Start, one in reply to the keepalive that asked, right after it.
  ASSERT_EQ(file_->sent().size(), 2u);
  EXPECT_EQ(file_->sent()[0].after_messages, 0u);
  EXPECT_EQ(file_->sent()[1].after_messages, 2u);
  for (const auto& s : file_->sent()) {
    EXPECT_EQ(s.status.write, 0x100u);
    EXPECT_EQ(s.status.flush, 0x100u);
    EXPECT_EQ(s.status.apply, 0x100u);
    EXPECT_FALSE(s.status.reply_requested);
  }
  // Nothing of a table arrived: idle at what the server streamed.
  EXPECT_EQ(sink_.idle, std::vector<Lsn>{0x180});
  // Confirm sends at once, only forwards.
  core_->Confirm(0x160);
  core_->Confirm(0x120);
  ASSERT_EQ(file_->sent().size(), 3u);
  EXPECT_EQ(file_->sent()[2].status.flush, 0x160u);
  EXPECT_EQ(core_->confirmed(), 0x160u);
  core_->Stop();
  EXPECT_FALSE(core_->streaming());
  core_->Confirm(0x170);  // no stream: nothing sent, nothing thrown
  EXPECT_THROW(core_->Poll(sink_, std::chrono::milliseconds(0)), Error);
}

TEST_F(StreamCoreTest, MalformedMessagesAreDataErrorsNamingTheSlot) {
  const std::vector<std::vector<std::string>> bad = {
      {"x"},                                                            // unknown type
      {Keepalive(1, false).substr(0, 17)},                              // keepalive cut short
      {XLogData(1, 1, "").substr(0, 24)},                               // XLogData header cut short
      {XLogData(1, 1, "Z")},                                            // unknown pgoutput message
      {XLogData(0x150, 0x150, std::string("I\0\0\0\x07N\0\x01n", 9))},  // no Relation first
      // A Relation message naming its table in bytes that are not UTF-8.
      {XLogData(0x150, 0x150, std::string("R\0\0\0\x07s\0\xe9\0d\0\0", 12))},
  };
  for (const auto& messages : bad) {
    Run(messages);
    try {
      core_->Poll(sink_, std::chrono::seconds(10));
      ADD_FAILURE() << "no error for " << messages[0].size() << " bytes";
    } catch (const Error& e) {
      EXPECT_TRUE(e.kind() == ErrorKind::kData || e.kind() == ErrorKind::kUnsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find("slot s"), std::string::npos) << e.what();
    }
  }
}

// The pgoutput fixtures: what each delivers, read against the file itself for positions.
class PgStreamReplay : public ::testing::TestWithParam<const char*> {};

const std::vector<std::string> kDmlLog = {
    "begin",
    "I items new(1|one|1|1.5|1|2024-02-29 10:00:00|\\x00ff|<2100 bytes>)",
    "I items new(2|<null>|<null>|<null>|<null>|<null>|<null>|<null>)",
    "commit",
    "begin",
    // The TOAST value the update left alone is not sent: unchanged, not NULL.
    "U items new(1|uno|5|1.5|1|2024-02-29 10:00:00|\\x00ff|<unchanged>)",
    "commit",
    "begin",
    // The key changed: the old key comes along.
    std::string("U items old-key(2|<null>|<null>|<null>|<null>|<null>|<null>|<null>) ") +
        "new(3|<null>|<null>|<null>|<null>|<null>|<null>|<null>)",
    "commit",
    "begin",
    "I notes new(a|1)",
    "I notes new(b|<null>)",
    // REPLICA IDENTITY FULL: the whole old row.
    "U notes old-full(a|1) new(a|2)",
    "D notes old-full(b|<null>)",
    "commit",
    "begin",
    "D items old-key(1|<null>|<null>|<null>|<null>|<null>|<null>|<null>)",
    "commit",
};

// Text and binary tuples of the same changes decode to the same cells.
TEST_P(PgStreamReplay, DmlDeliversEveryChangeInItsTransaction) {
  Replay r(GetParam());
  EXPECT_EQ(r.header.binary, std::string(GetParam()) == "dml_binary");
  EXPECT_TRUE(r.header.streaming);
  EXPECT_EQ(r.header.proto_version, 3);
  const FileFacts facts = ReadFacts(r.path);
  r.core->Poll(r.sink, std::chrono::seconds(10));
  EXPECT_EQ(r.file->messages_read(), facts.messages);
  EXPECT_EQ(r.sink.log, kDmlLog);
  EXPECT_EQ(r.sink.foreign_xid, 0u);
  EXPECT_EQ(r.sink.streamed, 0u);
  EXPECT_TRUE(r.sink.table_commits.empty());
  EXPECT_GT(r.types.between_calls, 0);
  // Transaction boundaries and positions: each commit as the Commit message has it, in order.
  ASSERT_EQ(r.sink.commits.size(), 5u);
  ASSERT_EQ(facts.commits.size(), 5u);
  std::set<uint32_t> xids(r.sink.begins.begin(), r.sink.begins.end());
  EXPECT_EQ(xids.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    const cdc::TransactionInfo& c = r.sink.commits[i];
    EXPECT_EQ(c.xid, r.sink.begins[i]);
    EXPECT_EQ(c.commit_position, LsnPosition(facts.commits[i].first));
    EXPECT_EQ(c.end_position, LsnPosition(facts.commits[i].second));
    EXPECT_GT(PositionLsn(c.commit_position), r.header.start);
    EXPECT_GT(c.end_position, c.commit_position);
    if (i > 0) {
      EXPECT_GT(c.commit_position, r.sink.commits[i - 1].end_position);
    }
    EXPECT_GT(c.commit_time_us, int64_t{1'700'000'000} * 1'000'000);  // after 2023
  }
  EXPECT_FALSE(r.core->in_txn());
  // Status updates: one at Start, one right after each keepalive that asked for it; all report
  // the start position, as nothing was confirmed.
  ASSERT_FALSE(facts.reply_requests.empty()) << "the recording has no keepalive asking for a reply";
  ASSERT_EQ(r.file->sent().size(), 1 + facts.reply_requests.size());
  EXPECT_EQ(r.file->sent()[0].after_messages, 0u);
  for (size_t i = 0; i < facts.reply_requests.size(); ++i) {
    EXPECT_EQ(r.file->sent()[1 + i].after_messages, facts.reply_requests[i]);
  }
  for (const auto& s : r.file->sent()) {
    EXPECT_EQ(s.status.write, r.header.start);
    EXPECT_EQ(s.status.flush, r.header.start);
    EXPECT_EQ(s.status.apply, r.header.start);
  }
  // The stream is over and nothing of a table came since: idle at what the server streamed.
  EXPECT_TRUE(r.sink.idle.empty());
  r.core->Poll(r.sink, std::chrono::seconds(10));
  EXPECT_EQ(r.sink.idle, std::vector<Lsn>{facts.wal_end});
  EXPECT_EQ(r.core->streamed_end(), facts.wal_end);
  // Confirming a transaction's end reports it at once.
  r.core->Confirm(PositionLsn(r.sink.commits[2].end_position));
  EXPECT_EQ(r.file->sent().back().status.flush, PositionLsn(r.sink.commits[2].end_position));
  EXPECT_EQ(r.file->sent().back().after_messages, facts.messages);
}

INSTANTIATE_TEST_SUITE_P(TextAndBinary, PgStreamReplay,
                         ::testing::Values("dml_text", "dml_binary"));

// A stream that has not sent everything yet: nothing is idle inside a transaction, and what
// the engine confirms in between goes out at once.
TEST(PgStreamReplayTest, ConfirmAndIdleBetweenMessages) {
  Replay r("dml_text");
  const FileFacts facts = ReadFacts(r.path);
  const size_t second_begin = facts.kinds.find('B', facts.kinds.find('C')) + 1;  // 1-based
  r.file->set_available(second_begin);
  r.core->Poll(r.sink, std::chrono::milliseconds(20));
  r.core->Poll(r.sink, std::chrono::milliseconds(20));
  EXPECT_EQ(r.file->messages_read(), second_begin);
  ASSERT_EQ(r.sink.commits.size(), 1u);
  EXPECT_TRUE(r.core->in_txn());
  EXPECT_TRUE(r.sink.idle.empty()) << "idle reported inside a transaction";
  r.core->Confirm(PositionLsn(r.sink.commits[0].end_position));
  ASSERT_EQ(r.file->sent().size(), 2u);
  EXPECT_EQ(r.file->sent()[1].status.flush, PositionLsn(r.sink.commits[0].end_position));
  EXPECT_EQ(r.file->sent()[1].after_messages, second_begin);
  r.file->set_available(SIZE_MAX);
  r.core->Poll(r.sink, std::chrono::seconds(10));
  EXPECT_EQ(r.sink.log, kDmlLog);
  EXPECT_EQ(r.file->sent().back().status.flush, PositionLsn(r.sink.commits[0].end_position));
}

// Columns added before and inside a transaction, one dropped between a transaction's own
// changes, a TRUNCATE.
TEST(PgStreamReplayTest, RelationChangesAndTruncate) {
  Replay r("ddl_truncate");
  const FileFacts facts = ReadFacts(r.path);
  r.core->Poll(r.sink, std::chrono::seconds(10));
  const std::vector<std::string> expected = {
      "begin",
      "I evolve new(1|a)",
      "commit",
      "begin",
      // ADD COLUMN in a transaction of its own: the next change brings the new columns.
      "table evolve (id,a,b)",
      "I evolve new(2|b|20)",
      "commit",
      "begin",
      "I evolve new(3|c|30)",
      // Appended inside the transaction: the earlier change reads the same under the new
      // columns, so the table changes before the change that needs it.
      "table evolve (id,a,b,c)",
      "I evolve new(4|d|40|dd)",
      "commit",
      "begin",
      "U evolve new(1|z|<null>|<null>)",
      // Dropped between the transaction's own changes: a shape record right there.
      "shape evolve (id,a,c)",
      "U evolve new(2|y|<null>)",
      "commit",
      "begin",
      "T evolve",
      "commit",
  };
  EXPECT_EQ(r.sink.log, expected);
  EXPECT_EQ(r.sink.foreign_xid, 0u);
  ASSERT_EQ(facts.commits.size(), 5u);
  ASSERT_EQ(r.sink.commits.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r.sink.commits[i].end_position, LsnPosition(facts.commits[i].second)) << i;
  }
  // Each table change names the commit of the transaction it belongs to.
  ASSERT_EQ(r.sink.table_commits.size(), 2u);
  EXPECT_EQ(r.sink.table_commits[0], LsnPosition(facts.commits[1].first));
  EXPECT_EQ(r.sink.table_commits[1], LsnPosition(facts.commits[2].first));
  // The columns as the Relation messages typed them; the key kept.
  const TableDef& def = r.core->table_def(0);
  ASSERT_EQ(def.columns.size(), 3u);
  EXPECT_EQ(def.columns[2].name, "c");
  EXPECT_EQ(def.columns[2].native_type, "text");
  EXPECT_EQ(def.primary_key, std::vector<std::string>{"id"});
  EXPECT_EQ(TableDefToJson(r.sink.defs[0]), TableDefToJson(def));
}

// A transaction streamed before its commit, with a savepoint rolled back after its rows were
// streamed too.
TEST(PgStreamReplayTest, StreamedTransactionWithRolledBackSavepoint) {
  Replay r("streamed");
  const FileFacts facts = ReadFacts(r.path);
  ASSERT_NE(facts.kinds.find('A'), std::string::npos) << "the recording has no Stream Abort";
  // Up to the end of the first stream block: open, not idle, nothing committed.
  const size_t first_stop = facts.kinds.find('E') + 1;
  r.file->set_available(first_stop);
  r.core->Poll(r.sink, std::chrono::milliseconds(20));
  r.core->Poll(r.sink, std::chrono::milliseconds(20));
  EXPECT_EQ(r.file->messages_read(), first_stop);
  EXPECT_TRUE(r.core->stream_open());
  EXPECT_FALSE(r.core->in_txn());
  EXPECT_TRUE(r.sink.commits.empty());
  EXPECT_TRUE(r.sink.idle.empty()) << "idle reported while a streamed transaction is open";
  r.file->set_available(SIZE_MAX);
  r.core->Poll(r.sink, std::chrono::seconds(10));
  EXPECT_FALSE(r.core->stream_open());

  ASSERT_EQ(r.sink.begins.size(), 1u);
  const uint32_t xid = r.sink.begins[0];
  ASSERT_EQ(r.sink.aborts.size(), 1u);
  const uint32_t rolled_back = r.sink.aborts[0].second;
  EXPECT_EQ(r.sink.aborts[0].first, xid);
  EXPECT_NE(rolled_back, xid);
  EXPECT_EQ(r.sink.log,
            (std::vector<std::string>{"begin", fmt::format("abort {} sub", xid), "commit"}));
  EXPECT_EQ(r.sink.foreign_xid, 0u);
  // The rows before the savepoint (the transaction's own), then the savepoint's, as far as
  // they were streamed before the rollback, named by the subtransaction rolled back, then the
  // rows after it: ROLLBACK TO keeps the savepoint, so a new subtransaction wrote them.
  const std::vector<std::string>& s = r.sink.streamed_log;
  const std::vector<uint32_t>& sub = r.sink.streamed_subxids;
  ASSERT_GT(s.size(), 452u);
  size_t i = 0;
  for (int id = 1; id <= 450; ++id, ++i) {
    ASSERT_EQ(s[i], fmt::format("I big new({})", id));
    ASSERT_EQ(sub[i], xid);
  }
  const size_t savepoint_rows = s.size() - 452;
  for (size_t k = 0; k < savepoint_rows; ++k, ++i) {
    ASSERT_EQ(s[i], fmt::format("I big new({})", 1001 + k));
    ASSERT_EQ(sub[i], rolled_back);
  }
  EXPECT_EQ(s[i], "I big new(2001)");
  EXPECT_EQ(s[i + 1], "I big new(2002)");
  EXPECT_NE(sub[i], xid);
  EXPECT_NE(sub[i], rolled_back);
  EXPECT_EQ(sub[i + 1], sub[i]);
  ASSERT_EQ(r.sink.commits.size(), 1u);
  EXPECT_EQ(r.sink.commits[0].xid, xid);
  ASSERT_EQ(facts.commits.size(), 1u);
  EXPECT_EQ(r.sink.commits[0].commit_position, LsnPosition(facts.commits[0].first));
  EXPECT_EQ(r.sink.commits[0].end_position, LsnPosition(facts.commits[0].second));
  r.core->Poll(r.sink, std::chrono::seconds(10));
  EXPECT_EQ(r.sink.idle, std::vector<Lsn>{facts.wal_end});
}

// A whole transaction drops a column between its own changes of a table while another
// transaction is streamed open. The streamed one changed that table only in a savepoint it
// rolled back (which released its lock and let the ALTER in; the server discarded those
// changes unstreamed): it holds no change of the table, so the whole transaction carries a
// shape record between its changes, as it would with no stream open, and the table is not
// suspended. (The capture used to count the whole
// transaction's own changes and every streamed change, rolled back or not, as "held by an
// open stream", and suspended the table whenever any transaction was streamed open meanwhile:
// the server streams every large transaction of the database, published tables or not.)
TEST(PgStreamReplayTest, AlterWhileAStreamedTransactionRolledBackItsChangesOfTheTable) {
  Replay r("streamed_concurrent_alter");
  r.core->Poll(r.sink, std::chrono::seconds(10));
  ASSERT_EQ(r.sink.begins.size(), 2u);
  const uint32_t streamed = r.sink.begins[0];
  ASSERT_EQ(r.sink.aborts.size(), 1u);
  const uint32_t rolled_back = r.sink.aborts[0].second;
  EXPECT_NE(rolled_back, streamed);
  EXPECT_EQ(r.sink.log, (std::vector<std::string>{
                            "begin",
                            fmt::format("abort {} sub", streamed),
                            "begin",
                            "U evolve new(1|z|10)",
                            "shape evolve (id,a)",
                            "U evolve new(2|y)",
                            "commit",
                            "commit",
                        }));
  // The streamed transaction holds changes of `big` only when the other alters `evolve`.
  ASSERT_FALSE(r.sink.streamed_log.empty());
  for (const std::string& change : r.sink.streamed_log) {
    ASSERT_EQ(change.rfind("I big ", 0), 0u) << change;
  }
  ASSERT_EQ(r.sink.commits.size(), 2u);
  EXPECT_EQ(r.sink.commits[1].xid, streamed);
}

// The stream file is all a replay needs: a message the recording cut short is a data error
// naming the file, not a crash.
TEST(PgStreamReplayTest, ATruncatedRecordingIsADataError) {
  const std::string bytes = ReadFile(FixturePath("ddl_truncate.pgstream"));
  auto stream =
      std::make_unique<FileReplicationStream>(bytes.substr(0, bytes.size() - 3), "cut.pgstream");
  RecordedTypes types(Replay::LoadTypes("ddl_truncate"));
  PgChangeStream core({"s", "p", "t"}, Replay::LoadTables("ddl_truncate"), types);
  const StreamFileHeader h = stream->header();
  core.Start(std::move(stream), h.start, h.proto_version, h.server_end);
  Sink sink(Replay::LoadTables("ddl_truncate"));
  try {
    core.Poll(sink, std::chrono::seconds(10));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("cut.pgstream"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(core.streaming());
  EXPECT_EQ(sink.commits.size(), 5u);  // everything before the cut arrived
}

}  // namespace
}  // namespace ferry::postgres
