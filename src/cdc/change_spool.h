// Change records on local disk: the framed file format shared by transaction spill files
// (transaction_buffer.h) and the cached changes of a table that is still being fully loaded
// (ChangeSpool below).
//
// Framed file: a sequence of frames, each a u32 little-endian payload length followed by the
// payload. Frames let a file be streamed back in chunks with bounded memory (a chunk plus the
// largest single frame); a payload may be larger than a chunk (records over 16 MB are fine, up
// to 4 GiB - 1). Files are not fsync'ed: after a crash the task restarts from its checkpoint
// and nothing on disk is needed.
//
// Threading: none of these classes is thread-safe; each is used by one thread at a time.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "change/change.h"

namespace ferry::cdc {

// Size of write buffers and read chunks of framed files.
inline constexpr size_t kFrameChunkBytes = size_t{1} << 20;

// Appends frames to a file, buffered. Throws Error(kIo) naming the file on any failure.
class FrameWriter {
 public:
  // Creates or truncates `path` (its parent directory must exist).
  explicit FrameWriter(std::filesystem::path path, size_t buffer_bytes = kFrameChunkBytes);
  ~FrameWriter();  // closes the file (flushing first; errors are swallowed here, call Close())
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;

  // Appends one frame whose payload is `head` followed by `tail`. Throws Error(kData) when the
  // payload is 4 GiB or more.
  void Append(std::string_view head, std::string_view tail = {});
  // Writes bytes that already are whole frames (a transaction's in-memory chunk) as they are.
  void AppendFramed(std::string_view frames);
  // Writes the buffer out (the data reaches the OS, not necessarily the disk).
  void Flush();
  // Flushes and frees the write buffer; the next Append allocates it again.
  void ReleaseBuffer();
  // Flushes and closes; further calls are errors. Idempotent.
  void Close();
  // Drops everything from byte `size` on (size <= bytes(); a whole number of frames), so the
  // next frame is written there.
  void Truncate(uint64_t size);

  // Bytes of the file including the buffered ones (what a reader will find after Flush()).
  uint64_t bytes() const { return bytes_; }
  // Memory held by the write buffer.
  size_t buffer_capacity() const { return buffer_.capacity(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  void Write(std::string_view bytes);
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  size_t buffer_bytes_;
  std::string buffer_;
  uint64_t bytes_ = 0;
};

// Streams the frames of a file back in chunks. Throws Error(kData) naming the file (`name`) and
// the byte offset for a truncated frame, Error(kIo) for a read failure.
class FrameReader {
 public:
  // Takes ownership of `file` (positioned at its start) and reads its first `end` bytes.
  FrameReader(std::FILE* file, uint64_t end, std::string name,
              size_t chunk_bytes = kFrameChunkBytes);
  // Opens `path` and reads its first `end` bytes. Throws Error(kIo) when it cannot be opened.
  FrameReader(const std::filesystem::path& path, uint64_t end);
  ~FrameReader();
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  // The next frame's payload into `payload` (valid until the next call); false at the end.
  bool Next(std::string_view* payload);
  // File offset of the frame Next() returned last.
  uint64_t frame_offset() const { return frame_offset_; }
  // Starts again from the first frame.
  void Rewind();
  // Memory held by the read buffer (a chunk, or the largest frame read so far plus 4).
  size_t buffer_capacity() const { return buffer_.size(); }
  const std::string& name() const { return name_; }

 private:
  bool Fill(size_t n);  // makes n bytes available at begin_; false at the end of the data
  std::FILE* file_;
  uint64_t end_;
  std::string name_;
  size_t chunk_bytes_;
  std::string buffer_;   // buffer_.size() is the capacity in use
  size_t begin_ = 0;     // first unread byte in buffer_
  size_t valid_ = 0;     // bytes of buffer_ holding file data
  uint64_t read_ = 0;    // bytes read from the file so far
  uint64_t frame_offset_ = 0;
};

// Decodes a payload that must hold exactly one change record. Keeps the ChangeReader in
// `reader` (the view points into it and into `record`). `where` and `offset` name the frame for
// errors: throws Error(kData) "<where>, frame at byte <offset>: <reader's message>", also when
// bytes follow the record.
void DecodeOneRecord(std::string_view record, std::string_view where, uint64_t offset,
                     std::optional<ChangeReader>* reader, ChangeView* out);

// The changes captured for one table while it is still being fully loaded, cached on disk and
// replayed, in order, right after its load. Frame payload: the TransactionInfo (u32 xid,
// i64 commit_time_us, u16 commit position length, u16 end position length, little-endian;
// then the two positions' bytes) then the record.
class ChangeSpool {
 public:
  // Creates or truncates `file`, creating its parent directories. Throws Error(kIo).
  explicit ChangeSpool(std::filesystem::path file);
  // Closes the file; does not delete it (Remove() does).
  ~ChangeSpool();
  ChangeSpool(const ChangeSpool&) = delete;
  ChangeSpool& operator=(const ChangeSpool&) = delete;

  // Appends one record (EncodeChange's output) with the transaction it came from. Buffered
  // (kFrameChunkBytes); throws Error(kIo).
  void Append(const TransactionInfo& txn, std::string_view record);
  int64_t changes() const { return changes_; }
  // Bytes of the file, framing included.
  int64_t bytes() const;
  const std::filesystem::path& file() const { return file_; }

  // Replays the records appended before Read() in append order. Records appended later are not
  // seen by this reader (they are, by the next Read()). Bounded memory: a chunk plus the
  // largest record. Views are valid until the next call.
  class Reader {
   public:
    Reader(Reader&&) noexcept;
    Reader& operator=(Reader&&) noexcept;
    ~Reader();
    // The next record and its transaction; false at the end. Throws Error(kData) naming the
    // file and byte offset for malformed bytes, Error(kIo) for read failures.
    bool Next(TransactionInfo* txn, ChangeView* change);

   private:
    friend class ChangeSpool;
    explicit Reader(std::unique_ptr<FrameReader> frames);
    std::unique_ptr<FrameReader> frames_;
    std::optional<ChangeReader> records_;
  };
  // Flushes pending writes, then opens a reader. Throws Error(kIo).
  Reader Read();
  // Closes and deletes the file; further Append/Read calls throw Error(kInternal).
  void Remove();

 private:
  std::filesystem::path file_;
  std::unique_ptr<FrameWriter> writer_;
  int64_t changes_ = 0;
  std::string head_;  // scratch: the transaction header of the change being appended
};

}  // namespace ferry::cdc
