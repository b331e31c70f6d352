#include "connectors/sqlite/sqlite_position.h"

#include <fmt/format.h>

#include <charconv>
#include <string>

#include "common/error.h"

namespace ferry::sqlite {

cdc::Position SeqPosition(int64_t seq) {
  if (seq <= 0) return cdc::Position();
  std::string bytes(8, '\0');
  auto v = static_cast<uint64_t>(seq);
  for (int i = 7; i >= 0; --i, v >>= 8) bytes[i] = static_cast<char>(v & 0xff);
  return cdc::Position(std::move(bytes));
}

int64_t PositionSeq(const cdc::Position& position) {
  const std::string& b = position.bytes();
  if (b.empty()) return 0;
  if (b.size() != 8 || (static_cast<unsigned char>(b[0]) & 0x80) != 0) {
    throw Error(ErrorKind::kData,
                fmt::format("a SQLite source was given a position of {} bytes that is not a "
                            "change table sequence number: it belongs to another engine's stream",
                            b.size()));
  }
  uint64_t v = 0;
  for (char c : b) v = (v << 8) | static_cast<unsigned char>(c);
  return static_cast<int64_t>(v);
}

namespace {

class SeqPositionCodec final : public cdc::PositionCodec {
 public:
  std::string Format(const cdc::Position& position) const override {
    return std::to_string(PositionSeq(position));
  }
  std::optional<cdc::Position> Parse(std::string_view text) const override {
    if (text.empty() || text.size() > 19) return std::nullopt;
    int64_t seq = 0;
    auto res = std::from_chars(text.data(), text.data() + text.size(), seq);
    if (res.ec != std::errc() || res.ptr != text.data() + text.size() || seq < 0) {
      return std::nullopt;
    }
    return SeqPosition(seq);
  }
  std::string Describe() const override {
    return "a SQLite change table sequence number such as 1234";
  }
};

}  // namespace

const cdc::PositionCodec& SeqCodec() {
  static const SeqPositionCodec codec;
  return codec;
}

}  // namespace ferry::sqlite
