#include "connectors/postgres/pg_position.h"

#include <fmt/format.h>

#include "common/error.h"

namespace ferry::postgres {

std::string FormatLsn(Lsn lsn) {
  return fmt::format("{:X}/{:X}", static_cast<uint32_t>(lsn >> 32), static_cast<uint32_t>(lsn));
}

std::optional<Lsn> ParseLsn(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) {
    return std::nullopt;
  }
  auto hex = [](std::string_view s, uint64_t* v) {
    if (s.size() > 8) return false;
    *v = 0;
    for (char ch : s) {
      int d;
      if (ch >= '0' && ch <= '9')
        d = ch - '0';
      else if (ch >= 'a' && ch <= 'f')
        d = ch - 'a' + 10;
      else if (ch >= 'A' && ch <= 'F')
        d = ch - 'A' + 10;
      else
        return false;
      *v = *v * 16 + static_cast<uint64_t>(d);
    }
    return true;
  };
  uint64_t hi, lo;
  if (!hex(text.substr(0, slash), &hi) || !hex(text.substr(slash + 1), &lo)) return std::nullopt;
  return (hi << 32) | lo;
}

cdc::Position LsnPosition(Lsn lsn) {
  if (lsn == 0) return cdc::Position();
  std::string bytes(8, '\0');
  for (int i = 7; i >= 0; --i, lsn >>= 8) bytes[i] = static_cast<char>(lsn & 0xff);
  return cdc::Position(std::move(bytes));
}

Lsn PositionLsn(const cdc::Position& position) {
  const std::string& b = position.bytes();
  if (b.empty()) return 0;
  if (b.size() != 8) {
    throw Error(ErrorKind::kData,
                fmt::format("a PostgreSQL source was given a position of {} bytes, not an LSN: "
                            "it belongs to another engine's stream",
                            b.size()));
  }
  Lsn lsn = 0;
  for (char c : b) lsn = (lsn << 8) | static_cast<unsigned char>(c);
  return lsn;
}

namespace {

class LsnPositionCodec final : public cdc::PositionCodec {
 public:
  std::string Format(const cdc::Position& position) const override {
    return FormatLsn(PositionLsn(position));
  }
  std::optional<cdc::Position> Parse(std::string_view text) const override {
    const std::optional<Lsn> lsn = ParseLsn(text);
    if (!lsn) return std::nullopt;
    return LsnPosition(*lsn);
  }
  std::string Describe() const override { return "a PostgreSQL LSN such as 16/B374D848"; }
};

}  // namespace

const cdc::PositionCodec& LsnCodec() {
  static const LsnPositionCodec codec;
  return codec;
}

}  // namespace ferry::postgres
