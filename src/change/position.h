// A point in a source's change stream, and the text form its connector gives it.
//
// The engine, the apply stage, the task store, the checkpoint on the target and the command
// line carry positions without knowing the engine they come from:
//   - in memory a position is opaque bytes (Position), made only by the source's connector;
//   - the connector encodes its native position so that the bytes order positions as the
//     stream does (unsigned, byte by byte, a shorter prefix first), so the core compares them
//     directly: an earlier transaction's end is a smaller Position;
//   - on disk and on screen a position is the engine's own spelling (PostgreSQL "16/B374D848"),
//     produced and read back by the source's PositionCodec (Connector::positions()).
// The empty Position sorts first and means "none yet" (no transaction applied, no start point).
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ferry::cdc {

class Position {
 public:
  Position() = default;
  // Only a connector's codec calls this: the bytes must follow the ordering contract above.
  explicit Position(std::string bytes) : bytes_(std::move(bytes)) {}

  const std::string& bytes() const { return bytes_; }
  bool empty() const { return bytes_.empty(); }

  // std::string compares with char_traits<char>, which orders bytes as unsigned char.
  friend std::strong_ordering operator<=>(const Position& a, const Position& b) {
    const int c = a.bytes_.compare(b.bytes_);
    return c < 0   ? std::strong_ordering::less
           : c > 0 ? std::strong_ordering::greater
                   : std::strong_ordering::equal;
  }
  friend bool operator==(const Position& a, const Position& b) = default;

 private:
  std::string bytes_;
};

// The text form of one engine's positions. Implementations are stateless and thread-safe.
class PositionCodec {
 public:
  virtual ~PositionCodec() = default;
  // The engine's own spelling of `position`; the empty position has one too (PostgreSQL "0/0").
  virtual std::string Format(const Position& position) const = 0;
  // Reads Format's text (and the engine's other usual spellings) back; nullopt when `text` is
  // not a position of this engine. Parse(Format(p)) == p for every p.
  virtual std::optional<Position> Parse(std::string_view text) const = 0;
  // What a valid text looks like, for messages: "a PostgreSQL LSN such as 16/B374D848".
  virtual std::string Describe() const = 0;
};

}  // namespace ferry::cdc
