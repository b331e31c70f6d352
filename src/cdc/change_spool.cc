#include "cdc/change_spool.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <utility>

#include "common/error.h"

namespace ferry::cdc {

namespace {

// The fixed part of a cached change's transaction header: xid, commit time, and the two
// position lengths (the positions follow, then the record).
constexpr size_t kSpoolHeaderBytes = 4 + 8 + 2 + 2;

Error IoError(const std::string& what, const std::filesystem::path& path, int err) {
  return Error(ErrorKind::kIo, fmt::format("{} '{}': {}", what, path.string(), std::strerror(err)));
}

void PutU32(uint32_t v, char* out) { std::memcpy(out, &v, 4); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// FrameWriter

FrameWriter::FrameWriter(std::filesystem::path path, size_t buffer_bytes)
    : path_(std::move(path)), buffer_bytes_(buffer_bytes) {
  file_ = std::fopen(path_.c_str(), "wb");
  if (file_ == nullptr) throw IoError("cannot create change file", path_, errno);
  std::setvbuf(file_, nullptr, _IONBF, 0);  // our own buffer is enough
}

FrameWriter::~FrameWriter() {
  try {
    Close();
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; Close() reports
  }
}

void FrameWriter::Write(std::string_view bytes) {
  if (bytes.empty()) return;
  if (file_ == nullptr) {
    throw Error(ErrorKind::kInternal,
                fmt::format("change file '{}' written after it was closed", path_.string()));
  }
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    throw IoError("cannot write change file", path_, errno);
  }
}

void FrameWriter::Append(std::string_view head, std::string_view tail) {
  const uint64_t n = uint64_t{head.size()} + tail.size();
  if (n > UINT32_MAX) {
    throw Error(ErrorKind::kData,
                fmt::format("change record of {} bytes is too large for change file '{}' (at most "
                            "4 GiB - 1)", n, path_.string()));
  }
  char len[4];
  PutU32(static_cast<uint32_t>(n), len);
  if (buffer_.size() + 4 + n > buffer_bytes_) {
    Flush();
    if (4 + n > buffer_bytes_) {  // larger than the buffer: straight to the file
      Write(std::string_view(len, 4));
      Write(head);
      Write(tail);
      bytes_ += 4 + n;
      return;
    }
  }
  if (buffer_.capacity() < buffer_bytes_) buffer_.reserve(buffer_bytes_);
  buffer_.append(len, 4);
  buffer_.append(head);
  buffer_.append(tail);
  bytes_ += 4 + n;
}

void FrameWriter::AppendFramed(std::string_view frames) {
  Flush();
  Write(frames);
  bytes_ += frames.size();
}

void FrameWriter::Flush() {
  Write(buffer_);
  buffer_.clear();
}

void FrameWriter::Truncate(uint64_t size) {
  if (size > bytes_) {
    throw Error(ErrorKind::kInternal,
                fmt::format("truncating '{}' to {} bytes, beyond its {} bytes", path_.string(),
                            size, bytes_));
  }
  Flush();
  if (std::fflush(file_) != 0 || ::ftruncate(::fileno(file_), static_cast<off_t>(size)) != 0 ||
      std::fseek(file_, static_cast<long>(size), SEEK_SET) != 0) {
    throw Error(ErrorKind::kIo, fmt::format("cannot truncate '{}' to {} bytes: {}",
                                            path_.string(), size, std::strerror(errno)));
  }
  bytes_ = size;
}

void FrameWriter::ReleaseBuffer() {
  Flush();
  std::string().swap(buffer_);
}

void FrameWriter::Close() {
  if (file_ == nullptr) return;
  std::string pending;
  pending.swap(buffer_);
  std::FILE* f = file_;
  if (!pending.empty() && std::fwrite(pending.data(), 1, pending.size(), f) != pending.size()) {
    const int err = errno;
    std::fclose(f);
    file_ = nullptr;
    throw IoError("cannot write change file", path_, err);
  }
  file_ = nullptr;
  if (std::fclose(f) != 0) throw IoError("cannot close change file", path_, errno);
}

// ---------------------------------------------------------------------------------------------
// FrameReader

FrameReader::FrameReader(std::FILE* file, uint64_t end, std::string name, size_t chunk_bytes)
    : file_(file), end_(end), name_(std::move(name)), chunk_bytes_(chunk_bytes < 8 ? 8 : chunk_bytes) {}

namespace {
std::FILE* OpenForReading(const std::filesystem::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw IoError("cannot open change file", path, errno);
  std::setvbuf(f, nullptr, _IONBF, 0);
  return f;
}
}  // namespace

FrameReader::FrameReader(const std::filesystem::path& path, uint64_t end)
    : FrameReader(OpenForReading(path), end, path.string()) {}

FrameReader::~FrameReader() {
  if (file_ != nullptr) std::fclose(file_);
}

bool FrameReader::Fill(size_t n) {
  if (valid_ - begin_ >= n) return true;
  const uint64_t left_in_file = end_ - read_;
  if (valid_ - begin_ + left_in_file < n) return false;
  // Move the unread tail to the front, grow to hold n bytes, then read a chunk's worth.
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, valid_ - begin_);
    valid_ -= begin_;
    begin_ = 0;
  }
  const size_t want = n > chunk_bytes_ ? n : chunk_bytes_;
  if (buffer_.size() < want) buffer_.resize(want);
  while (valid_ < n) {
    size_t room = buffer_.size() - valid_;
    const uint64_t remaining = end_ - read_;
    if (room > remaining) room = static_cast<size_t>(remaining);
    const size_t got = std::fread(buffer_.data() + valid_, 1, room, file_);
    if (got == 0) {
      if (std::ferror(file_)) throw IoError("cannot read change file", name_, errno);
      throw Error(ErrorKind::kData,
                  fmt::format("change file '{}' ends at byte {}, before its expected end at byte "
                              "{}", name_, read_, end_));
    }
    valid_ += got;
    read_ += got;
  }
  return true;
}

bool FrameReader::Next(std::string_view* payload) {
  const uint64_t offset = read_ - (valid_ - begin_);
  if (offset >= end_) return false;
  if (!Fill(4)) {
    throw Error(ErrorKind::kData,
                fmt::format("change file '{}' is truncated: frame at byte {} has {} of the 4 "
                            "bytes of its length", name_, offset, end_ - offset));
  }
  uint32_t len;
  std::memcpy(&len, buffer_.data() + begin_, 4);
  if (uint64_t{len} > end_ - offset - 4) {
    throw Error(ErrorKind::kData,
                fmt::format("change file '{}' is truncated: frame at byte {} declares {} bytes, "
                            "{} remain", name_, offset, len, end_ - offset - 4));
  }
  Fill(4 + size_t{len});
  *payload = std::string_view(buffer_.data() + begin_ + 4, len);
  begin_ += 4 + size_t{len};
  frame_offset_ = offset;
  return true;
}

void FrameReader::Rewind() {
  if (std::fseek(file_, 0, SEEK_SET) != 0) throw IoError("cannot rewind change file", name_, errno);
  begin_ = 0;
  valid_ = 0;
  read_ = 0;
  frame_offset_ = 0;
}

// ---------------------------------------------------------------------------------------------

void DecodeOneRecord(std::string_view record, std::string_view where, uint64_t offset,
                     std::optional<ChangeReader>* reader, ChangeView* out) {
  reader->emplace(record);
  try {
    if (!(*reader)->Next(out)) {
      throw Error(ErrorKind::kData, "the frame holds no change record (0 bytes)");
    }
  } catch (const Error& e) {
    throw Error(ErrorKind::kData,
                fmt::format("{}, frame at byte {}: {}", where, offset, e.what()));
  }
  if ((*reader)->offset() != record.size()) {
    throw Error(ErrorKind::kData,
                fmt::format("{}, frame at byte {}: {} bytes follow the change record of {} bytes",
                            where, offset, record.size() - (*reader)->offset(),
                            (*reader)->offset()));
  }
}

// ---------------------------------------------------------------------------------------------
// ChangeSpool

ChangeSpool::ChangeSpool(std::filesystem::path file) : file_(std::move(file)) {
  if (file_.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(file_.parent_path(), ec);
    if (ec) {
      throw Error(ErrorKind::kIo, fmt::format("cannot create directory '{}': {}",
                                              file_.parent_path().string(), ec.message()));
    }
  }
  writer_ = std::make_unique<FrameWriter>(file_);
}

ChangeSpool::~ChangeSpool() = default;

int64_t ChangeSpool::bytes() const {
  return writer_ ? static_cast<int64_t>(writer_->bytes()) : 0;
}

void ChangeSpool::Append(const TransactionInfo& txn, std::string_view record) {
  if (!writer_) {
    throw Error(ErrorKind::kInternal,
                fmt::format("change cache '{}' appended to after Remove()", file_.string()));
  }
  const std::string& commit = txn.commit_position.bytes();
  const std::string& end = txn.end_position.bytes();
  if (commit.size() > UINT16_MAX || end.size() > UINT16_MAX) {
    throw Error(ErrorKind::kInternal,
                fmt::format("change cache '{}': a source position of {} bytes", file_.string(),
                            std::max(commit.size(), end.size())));
  }
  head_.resize(kSpoolHeaderBytes);
  const uint16_t commit_size = static_cast<uint16_t>(commit.size());
  const uint16_t end_size = static_cast<uint16_t>(end.size());
  std::memcpy(head_.data(), &txn.xid, 4);
  std::memcpy(head_.data() + 4, &txn.commit_time_us, 8);
  std::memcpy(head_.data() + 12, &commit_size, 2);
  std::memcpy(head_.data() + 14, &end_size, 2);
  head_ += commit;
  head_ += end;
  writer_->Append(head_, record);
  ++changes_;
}

ChangeSpool::Reader ChangeSpool::Read() {
  if (!writer_) {
    throw Error(ErrorKind::kInternal,
                fmt::format("change cache '{}' read after Remove()", file_.string()));
  }
  writer_->Flush();
  return Reader(std::make_unique<FrameReader>(file_, writer_->bytes()));
}

void ChangeSpool::Remove() {
  if (writer_) {
    std::unique_ptr<FrameWriter> w = std::move(writer_);
    try {
      w->Close();
    } catch (const Error&) {  // NOLINT(bugprone-empty-catch): the file is deleted anyway
    }
  }
  std::error_code ec;
  std::filesystem::remove(file_, ec);
  if (ec) {
    throw Error(ErrorKind::kIo,
                fmt::format("cannot delete change cache '{}': {}", file_.string(), ec.message()));
  }
}

ChangeSpool::Reader::Reader(std::unique_ptr<FrameReader> frames) : frames_(std::move(frames)) {}
ChangeSpool::Reader::Reader(Reader&&) noexcept = default;
ChangeSpool::Reader& ChangeSpool::Reader::operator=(Reader&&) noexcept = default;
ChangeSpool::Reader::~Reader() = default;

bool ChangeSpool::Reader::Next(TransactionInfo* txn, ChangeView* change) {
  std::string_view payload;
  if (!frames_->Next(&payload)) return false;
  if (payload.size() < kSpoolHeaderBytes) {
    throw Error(ErrorKind::kData,
                fmt::format("change cache '{}', frame at byte {}: {} bytes, shorter than the "
                            "{}-byte transaction header", frames_->name(), frames_->frame_offset(),
                            payload.size(), kSpoolHeaderBytes));
  }
  uint16_t commit_size, end_size;
  std::memcpy(&txn->xid, payload.data(), 4);
  std::memcpy(&txn->commit_time_us, payload.data() + 4, 8);
  std::memcpy(&commit_size, payload.data() + 12, 2);
  std::memcpy(&end_size, payload.data() + 14, 2);
  const size_t header = kSpoolHeaderBytes + commit_size + end_size;
  if (payload.size() < header) {
    throw Error(ErrorKind::kData,
                fmt::format("change cache '{}', frame at byte {}: {} bytes, shorter than its "
                            "{}-byte transaction header",
                            frames_->name(), frames_->frame_offset(), payload.size(), header));
  }
  txn->commit_position = Position(std::string(payload.substr(kSpoolHeaderBytes, commit_size)));
  txn->end_position =
      Position(std::string(payload.substr(kSpoolHeaderBytes + commit_size, end_size)));
  DecodeOneRecord(payload.substr(header), "change cache '" + frames_->name() + "'",
                  frames_->frame_offset(), &records_, change);
  return true;
}

}  // namespace ferry::cdc
