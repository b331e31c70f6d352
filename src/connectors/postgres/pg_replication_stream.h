// The raw logical replication stream under PostgreSQL change capture: the seam between the
// capture's decoding (pg_change_stream.h) and where the bytes come from.
//
// After START_REPLICATION the server sends CopyData messages (XLogData 'w' carrying one
// pgoutput message, primary keepalive 'k') and the client answers with standby status
// updates ('r'). A ReplicationStream hands over the former one at a time and takes the
// latter; it does not look inside the messages. Two implementations:
//   LibpqReplicationStream  a replication connection in COPY BOTH mode (production)
//   FileReplicationStream   a recorded stream file, replayed without a server (tests, fuzzing);
//                           it keeps the status updates sent to it for assertions
// RecordingReplicationStream wraps either and writes every message it hands over to a stream
// file (PgChangeCapture::set_stream_recording), which is how tests/fixtures/pgoutput/ was made.
//
// Stream file format (version 1), all integers big-endian as in the protocol:
//   header, 32 bytes:
//     8  magic "FERRYPGS"
//     u16 format version (1)
//     u8  pgoutput proto_version the stream was started with (1..4)
//     u8  flags: bit 0 binary tuple values ('binary' option), bit 1 streaming 'on'
//     u32 reserved, 0
//     u64 the position START_REPLICATION asked for
//     u64 the server's WAL end when the stream started (IDENTIFY_SYSTEM's xlogpos; 0 unknown)
//   then per message, to the end of the file:
//     u32 length (1 .. kMaxStreamFileMessage)
//     the CopyData payload exactly as the server sent it ('w' ... or 'k' ...)
// A reader refuses another magic or version, a frame longer than what is left, and a length
// of 0 or over the limit, with Error(kData) naming the byte offset.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "connectors/postgres/pg_position.h"

namespace ferry::postgres {

// A standby status update: what the client has written, flushed and applied. Ferry reports
// the position the engine confirmed in all three (pg_capture.h).
struct StandbyStatus {
  Lsn write = 0;
  Lsn flush = 0;
  Lsn apply = 0;
  int64_t client_time = 0;       // microseconds since 2000-01-01 UTC (PostgreSQL's epoch)
  bool reply_requested = false;  // ask the server for a keepalive back (Ferry never does)
  bool operator==(const StandbyStatus&) const = default;
};

// The 34-byte CopyData payload of `status`: 'r', write, flush, apply, time, reply flag.
std::string EncodeStandbyStatus(const StandbyStatus& status);
// The status EncodeStandbyStatus wrote into `bytes`; nullopt when `bytes` is not one.
std::optional<StandbyStatus> DecodeStandbyStatus(std::string_view bytes);

class ReplicationStream {
 public:
  enum class Read {
    kMessage,  // *message holds the next CopyData payload
    kNone,     // nothing arrived within the wait
    kEnd,      // the stream ended cleanly: nothing more will come (a replayed file's end)
  };

  virtual ~ReplicationStream() = default;

  // Waits at most `wait` for the next CopyData message (wait <= 0: only what has already
  // arrived). On kMessage, *message is the payload, never empty, valid until the next call of
  // Next or the stream's destruction. Message types are the caller's business: a stream hands
  // over whatever the server sent. A server stream never ends cleanly: it throws
  // Error(kConnection) when the connection is lost or the server ends the stream, and
  // Error(kInvalidArgument) when the server refuses to go on (it would refuse again). A
  // recorded stream throws Error(kData) for a malformed file.
  virtual Read Next(std::chrono::milliseconds wait, std::string_view* message) = 0;

  // Sends `status` at once (flushed). Throws Error(kConnection) when it cannot.
  virtual void SendStatus(const StandbyStatus& status) = 0;
};

// A replication=database connection after START_REPLICATION (PQresultStatus PGRES_COPY_BOTH).
// Does not own `conn`, which must outlive the stream. `slot`, `where` (the server, for
// messages) and `password` (scrubbed from every message) only shape errors.
class LibpqReplicationStream : public ReplicationStream {
 public:
  LibpqReplicationStream(PGconn* conn, std::string slot, std::string where, std::string password);
  ~LibpqReplicationStream() override;
  LibpqReplicationStream(const LibpqReplicationStream&) = delete;
  LibpqReplicationStream& operator=(const LibpqReplicationStream&) = delete;

  Read Next(std::chrono::milliseconds wait, std::string_view* message) override;
  void SendStatus(const StandbyStatus& status) override;

 private:
  [[noreturn]] void ThrowEnded();
  std::string Scrub(std::string message) const;
  PGconn* conn_;
  std::string slot_;
  std::string where_;
  std::string password_;
  char* buffer_ = nullptr;  // the last message (PQfreemem)
};

// --- stream files ---

struct StreamFileHeader {
  int proto_version = 1;
  bool binary = false;
  bool streaming = false;
  Lsn start = 0;
  Lsn server_end = 0;
};

inline constexpr std::string_view kStreamFileMagic = "FERRYPGS";
inline constexpr uint16_t kStreamFileVersion = 1;
inline constexpr size_t kStreamFileHeaderSize = 32;
// The largest message a stream file frames: pgoutput sends a row in one message, and a row
// is at most about 1 GB.
inline constexpr uint32_t kMaxStreamFileMessage = uint32_t{1} << 30;

std::string EncodeStreamFileHeader(const StreamFileHeader& header);
// Appends one frame (length, then `message`) to `out`.
void AppendStreamFileMessage(std::string_view message, std::string* out);

// Reads a stream file from memory. Bounds-checked: never reads past `bytes`, which must
// outlive the reader and the messages it returns.
class StreamFileReader {
 public:
  // The header; Error(kData) when `bytes` is not a stream file of a version this build reads.
  static Result<StreamFileReader> Open(std::string_view bytes);
  const StreamFileHeader& header() const { return header_; }
  // The next message into *message; false at the end. Error(kData) naming the byte offset for
  // a frame that is cut short or has a bad length (the reader then stays at that frame).
  Result<bool> Next(std::string_view* message);
  size_t offset() const { return pos_; }

 private:
  StreamFileReader(std::string_view bytes, StreamFileHeader header)
      : bytes_(bytes), header_(header), pos_(kStreamFileHeaderSize) {}
  std::string_view bytes_;
  StreamFileHeader header_;
  size_t pos_;
};

// Replays a stream file: every message once, in order, without waiting (kEnd after the last;
// messages past available() read as kNone, as from a server with nothing to send yet).
// Status updates are kept, not sent anywhere. Not thread-safe.
class FileReplicationStream : public ReplicationStream {
 public:
  // A status update as it was sent, and how many messages had been handed over before it.
  struct SentStatus {
    StandbyStatus status;
    size_t after_messages = 0;
  };

  // The stream in `bytes` (a whole stream file); `name` names it in errors. Throws
  // Error(kData) for a bad header.
  FileReplicationStream(std::string bytes, std::string name);
  // Reads the file at `path`. Throws Error(kNotFound) when it cannot be read, kData as above.
  static std::unique_ptr<FileReplicationStream> Open(const std::string& path);
  FileReplicationStream(const FileReplicationStream&) = delete;  // reader_ points into bytes_
  FileReplicationStream& operator=(const FileReplicationStream&) = delete;

  const StreamFileHeader& header() const { return reader_.header(); }
  Read Next(std::chrono::milliseconds wait, std::string_view* message) override;
  void SendStatus(const StandbyStatus& status) override;

  // Holds back every message after the first `count` handed over (Next gives kNone) until
  // raised again; unlimited by default.
  void set_available(size_t count) { available_ = count; }
  size_t messages_read() const { return read_; }
  const std::vector<SentStatus>& sent() const { return sent_; }

 private:
  std::string bytes_;
  std::string name_;
  StreamFileReader reader_;
  size_t read_ = 0;
  size_t available_ = SIZE_MAX;
  std::vector<SentStatus> sent_;
};

// Passes everything through to `inner`, and appends each message Next hands over to the
// stream file at `path` (created or replaced, the header written at once, each frame flushed
// as it is written so what a crash leaves behind is readable up to its last whole frame).
// Throws Error(kInvalidArgument) when the file cannot be written.
class RecordingReplicationStream : public ReplicationStream {
 public:
  RecordingReplicationStream(std::unique_ptr<ReplicationStream> inner, const std::string& path,
                             const StreamFileHeader& header);
  ~RecordingReplicationStream() override;
  RecordingReplicationStream(const RecordingReplicationStream&) = delete;
  RecordingReplicationStream& operator=(const RecordingReplicationStream&) = delete;

  Read Next(std::chrono::milliseconds wait, std::string_view* message) override;
  void SendStatus(const StandbyStatus& status) override { inner_->SendStatus(status); }

 private:
  void Write(std::string_view bytes);
  std::unique_ptr<ReplicationStream> inner_;
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace ferry::postgres
