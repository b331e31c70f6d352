#include "connectors/postgres/pg_replication_stream.h"

#include <fmt/format.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/text.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/pg_copy_binary.h"
#include "endpoint/endpoint_uri.h"

namespace ferry::postgres {

namespace {

}  // namespace

// --- standby status ---

std::string EncodeStandbyStatus(const StandbyStatus& status) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  PutU64(status.write, &out);
  PutU64(status.flush, &out);
  PutU64(status.apply, &out);
  PutU64(static_cast<uint64_t>(status.client_time), &out);
  out.push_back(status.reply_requested ? 1 : 0);
  return out;
}

std::optional<StandbyStatus> DecodeStandbyStatus(std::string_view bytes) {
  if (bytes.size() != 34 || bytes[0] != 'r') return std::nullopt;
  StandbyStatus s;
  s.write = LoadU64(bytes.data() + 1);
  s.flush = LoadU64(bytes.data() + 9);
  s.apply = LoadU64(bytes.data() + 17);
  s.client_time = static_cast<int64_t>(LoadU64(bytes.data() + 25));
  s.reply_requested = bytes[33] != 0;
  return s;
}

// --- libpq ---

LibpqReplicationStream::LibpqReplicationStream(PGconn* conn, std::string slot, std::string where,
                                               std::string password)
    : conn_(conn),
      slot_(std::move(slot)),
      where_(std::move(where)),
      password_(std::move(password)) {}

LibpqReplicationStream::~LibpqReplicationStream() {
  if (buffer_ != nullptr) PQfreemem(buffer_);
}

std::string LibpqReplicationStream::Scrub(std::string message) const {
  return ScrubPassword(std::move(message), password_);
}

ReplicationStream::Read LibpqReplicationStream::Next(std::chrono::milliseconds wait,
                                                     std::string_view* message) {
  if (buffer_ != nullptr) {
    PQfreemem(buffer_);
    buffer_ = nullptr;
  }
  bool waited = false;
  for (;;) {
    const int n = PQgetCopyData(conn_, &buffer_, 1);
    if (n > 0) {
      *message = std::string_view(buffer_, static_cast<size_t>(n));
      return Read::kMessage;
    }
    if (n == 0) {
      if (waited || wait.count() <= 0) return Read::kNone;
      pollfd pfd{PQsocket(conn_), POLLIN, 0};
      const int pr = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(wait.count(), INT32_MAX)));
      if (pr < 0 && errno != EINTR) {
        throw Error(ErrorKind::kConnection,
                    fmt::format("waiting on the replication stream of slot {} from {}: {}", slot_,
                                where_, std::strerror(errno)));
      }
      if (PQconsumeInput(conn_) == 0) {
        throw Error(ErrorKind::kConnection,
                    fmt::format("the replication stream of slot {} from {} was lost: {}", slot_,
                                where_, Scrub(Trim(PQerrorMessage(conn_)))));
      }
      waited = true;
      continue;
    }
    if (n == -1) ThrowEnded();
    throw Error(ErrorKind::kConnection,
                fmt::format("the replication stream of slot {} from {} was lost: {}", slot_, where_,
                            Scrub(Trim(PQerrorMessage(conn_)))));
  }
}

void LibpqReplicationStream::ThrowEnded() {
  PgResult r(PQgetResult(conn_));
  std::string msg = r ? Trim(PQresultErrorMessage(r.get())) : "";
  if (msg.empty()) msg = Trim(PQerrorMessage(conn_));
  // A server shutting down ends the stream without a word.
  if (msg.empty()) msg = "no reason given (the server may be shutting down)";
  // The walsender refusing what it decodes (a publication missing at that point of the WAL,
  // an object gone) fails the same way again: not worth a retry.
  const char* st = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
  const std::string state = st ? st : "";
  if (state.size() == 5 && (state.rfind("42", 0) == 0 || state == "55000")) {
    throw Error(
        ErrorKind::kInvalidArgument,
        fmt::format("the server refused to stream slot {} from {}: {}{}", slot_, where_, Scrub(msg),
                    state == "42704" && Contains(msg, "publication")
                        ? " (a slot decodes with the catalog as of each change: the "
                          "publication must have existed when the slot's position "
                          "was written; create it before the slot)"
                        : ""));
  }
  throw Error(ErrorKind::kConnection,
              fmt::format("the server ended the replication stream of slot {} from {}: {}", slot_,
                          where_, Scrub(msg)));
}

void LibpqReplicationStream::SendStatus(const StandbyStatus& status) {
  const std::string msg = EncodeStandbyStatus(status);
  if (PQputCopyData(conn_, msg.data(), static_cast<int>(msg.size())) != 1 || PQflush(conn_) != 0) {
    std::string why = Trim(PQerrorMessage(conn_));
    throw Error(ErrorKind::kConnection,
                fmt::format("sending a standby status update for slot {} failed on {}: {}", slot_,
                            where_, Scrub(why.empty() ? "the connection is gone" : why)));
  }
}

// --- stream files ---

std::string EncodeStreamFileHeader(const StreamFileHeader& header) {
  std::string out(kStreamFileMagic);
  PutU16(kStreamFileVersion, &out);
  out.push_back(static_cast<char>(header.proto_version));
  out.push_back(static_cast<char>((header.binary ? 1 : 0) | (header.streaming ? 2 : 0)));
  PutU32(0, &out);
  PutU64(header.start, &out);
  PutU64(header.server_end, &out);
  return out;
}

void AppendStreamFileMessage(std::string_view message, std::string* out) {
  PutU32(static_cast<uint32_t>(message.size()), out);
  out->append(message);
}

Result<StreamFileReader> StreamFileReader::Open(std::string_view bytes) {
  if (bytes.size() < kStreamFileHeaderSize || bytes.substr(0, 8) != kStreamFileMagic) {
    return Error(ErrorKind::kData, fmt::format("not a Ferry pgoutput stream file (no {} header "
                                               "of {} bytes)",
                                               kStreamFileMagic, kStreamFileHeaderSize));
  }
  const uint16_t version = LoadU16(bytes.data() + 8);
  if (version != kStreamFileVersion) {
    return Error(ErrorKind::kData,
                 fmt::format("pgoutput stream file of format version {} (this build reads {})",
                             version, kStreamFileVersion));
  }
  StreamFileHeader h;
  h.proto_version = static_cast<uint8_t>(bytes[10]);
  const auto flags = static_cast<uint8_t>(bytes[11]);
  if (h.proto_version < 1 || h.proto_version > 4 || (flags & ~3u) != 0) {
    return Error(ErrorKind::kData,
                 fmt::format("pgoutput stream file header: proto_version {} flags 0x{:02x} at "
                             "byte 10",
                             h.proto_version, flags));
  }
  h.binary = (flags & 1) != 0;
  h.streaming = (flags & 2) != 0;
  h.start = LoadU64(bytes.data() + 16);
  h.server_end = LoadU64(bytes.data() + 24);
  return StreamFileReader(bytes, h);
}

Result<bool> StreamFileReader::Next(std::string_view* message) {
  if (pos_ == bytes_.size()) return false;
  const size_t left = bytes_.size() - pos_;
  if (left < 4) {
    return Error(ErrorKind::kData,
                 fmt::format("pgoutput stream file: a frame length cut short at byte {} ({} of 4 "
                             "bytes)",
                             pos_, left));
  }
  const uint32_t length = LoadU32(bytes_.data() + pos_);
  if (length == 0 || length > kMaxStreamFileMessage) {
    return Error(ErrorKind::kData,
                 fmt::format("pgoutput stream file: frame length {} at byte {} (1 to {})", length,
                             pos_, kMaxStreamFileMessage));
  }
  if (length > left - 4) {
    return Error(ErrorKind::kData,
                 fmt::format("pgoutput stream file: a frame of {} bytes at byte {} is cut short "
                             "({} left)",
                             length, pos_, left - 4));
  }
  *message = bytes_.substr(pos_ + 4, length);
  pos_ += 4 + length;
  return true;
}

namespace {

StreamFileReader OpenOrThrow(std::string_view bytes, const std::string& name) {
  Result<StreamFileReader> r = StreamFileReader::Open(bytes);
  if (!r.ok()) throw Error(ErrorKind::kData, fmt::format("{}: {}", name, r.error().what()));
  return std::move(r).value();
}

}  // namespace

FileReplicationStream::FileReplicationStream(std::string bytes, std::string name)
    : bytes_(std::move(bytes)), name_(std::move(name)), reader_(OpenOrThrow(bytes_, name_)) {}

std::unique_ptr<FileReplicationStream> FileReplicationStream::Open(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorKind::kNotFound,
                fmt::format("cannot read pgoutput stream file {}: {}", path, std::strerror(errno)));
  }
  std::ostringstream all;
  all << in.rdbuf();
  return std::make_unique<FileReplicationStream>(all.str(), path);
}

ReplicationStream::Read FileReplicationStream::Next(std::chrono::milliseconds /*wait*/,
                                                    std::string_view* message) {
  if (read_ >= available_) return Read::kNone;
  Result<bool> r = reader_.Next(message);
  if (!r.ok()) throw Error(ErrorKind::kData, fmt::format("{}: {}", name_, r.error().what()));
  if (!r.value()) return Read::kEnd;
  ++read_;
  return Read::kMessage;
}

void FileReplicationStream::SendStatus(const StandbyStatus& status) {
  sent_.push_back({status, read_});
}

// --- recording ---

RecordingReplicationStream::RecordingReplicationStream(std::unique_ptr<ReplicationStream> inner,
                                                       const std::string& path,
                                                       const StreamFileHeader& header)
    : inner_(std::move(inner)), path_(path), file_(std::fopen(path.c_str(), "wb")) {
  if (file_ == nullptr) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("cannot record the replication stream into {}: {}", path,
                            std::strerror(errno)));
  }
  Write(EncodeStreamFileHeader(header));
}

RecordingReplicationStream::~RecordingReplicationStream() {
  if (file_ != nullptr) std::fclose(file_);
}

void RecordingReplicationStream::Write(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size() ||
      std::fflush(file_) != 0) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("cannot record the replication stream into {}: {}", path_,
                            std::strerror(errno)));
  }
}

ReplicationStream::Read RecordingReplicationStream::Next(std::chrono::milliseconds wait,
                                                         std::string_view* message) {
  const Read r = inner_->Next(wait, message);
  if (r == Read::kMessage) {
    std::string frame;
    AppendStreamFileMessage(*message, &frame);
    Write(frame);
  }
  return r;
}

}  // namespace ferry::postgres
