// The bounds-checked byte reader under the binlog decoders (my_binlog_event.cc,
// my_binlog_rows.cc, my_binlog_json.cc). Every read checks the bytes left, in release builds
// too; a short read throws Error(kData) naming the event, its position, the offset and what
// was being read. Internal to the binlog decoder; not thread-safe (one per event).
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace ferry::mysql::binlog {

// Names the event being decoded in error messages.
struct ErrorContext {
  std::string event;      // "TABLE_MAP_EVENT"
  std::string file;       // "" when unknown
  uint64_t position = 0;  // the event's start
};

[[noreturn]] inline void ThrowData(const ErrorContext& ctx, std::string_view what) {
  throw Error(ErrorKind::kData, fmt::format("binlog {} at {}{}{}: {}", ctx.event, ctx.file,
                                            ctx.file.empty() ? "" : ":", ctx.position, what));
}

class ByteReader {
 public:
  // `base` is the offset of data[0] inside the event, for messages.
  ByteReader(std::string_view data, const ErrorContext& ctx, size_t base = 0)
      : data_(data), ctx_(ctx), base_(base) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return pos_ >= data_.size(); }

  [[noreturn]] void Fail(std::string_view what) const {
    ThrowData(ctx_, fmt::format("{} (at byte {} of the event)", what, base_ + pos_));
  }

  void Need(size_t n, std::string_view what) const {
    if (n > remaining()) {
      Fail(fmt::format("truncated: expected {} byte(s) of {}, {} left", n, what, remaining()));
    }
  }
  std::string_view Bytes(size_t n, std::string_view what) {
    Need(n, what);
    std::string_view v = data_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  void Skip(size_t n, std::string_view what) { Bytes(n, what); }
  std::string_view Rest() {
    std::string_view v = data_.substr(pos_);
    pos_ = data_.size();
    return v;
  }
  // Little-endian unsigned integer of `n` bytes (1..8).
  uint64_t Le(size_t n, std::string_view what) {
    std::string_view b = Bytes(n, what);
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[i]);
    return v;
  }
  // Big-endian unsigned integer of `n` bytes (1..8).
  uint64_t Be(size_t n, std::string_view what) {
    std::string_view b = Bytes(n, what);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(b[i]);
    return v;
  }
  uint8_t U8(std::string_view what) { return static_cast<uint8_t>(Le(1, what)); }
  uint16_t U16(std::string_view what) { return static_cast<uint16_t>(Le(2, what)); }
  uint32_t U32(std::string_view what) { return static_cast<uint32_t>(Le(4, what)); }
  uint64_t U64(std::string_view what) { return Le(8, what); }

  // A length-encoded ("packed") integer: < 251 in one byte, 252 + 2 bytes, 253 + 3 bytes,
  // 254 + 8 bytes. 251 (SQL NULL in the client protocol) and 255 are malformed here.
  uint64_t Packed(std::string_view what) {
    const uint8_t first = U8(what);
    if (first < 251) return first;
    switch (first) {
      case 252:
        return Le(2, what);
      case 253:
        return Le(3, what);
      case 254:
        return Le(8, what);
      default:
        pos_ -= 1;
        Fail(fmt::format("bad length-encoded integer (first byte {}) for {}", first, what));
    }
  }
  // A packed length, then that many bytes.
  std::string_view PackedString(std::string_view what) {
    const uint64_t n = Packed(what);
    if (n > remaining()) {
      Fail(fmt::format("truncated: {} is {} byte(s) long, {} left", what, n, remaining()));
    }
    return Bytes(static_cast<size_t>(n), what);
  }

  const ErrorContext& context() const { return ctx_; }

 private:
  std::string_view data_;
  const ErrorContext& ctx_;
  size_t base_;
  size_t pos_ = 0;
};

}  // namespace ferry::mysql::binlog
