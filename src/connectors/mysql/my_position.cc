#include "connectors/mysql/my_position.h"

#include <fmt/format.h>

#include <cctype>
#include <set>
#include <vector>

#include "common/error.h"

namespace ferry::mysql {
namespace {

constexpr size_t kFixedBytes = 16;  // file sequence number, offset

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// A decimal number of 1 to 20 digits that fits `max`.
bool ParseDecimal(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// Splits `text` at every `sep` (empty pieces kept).
std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == sep) {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

std::string WithoutSpace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (!IsSpace(c)) out.push_back(c);
  }
  return out;
}

// The sequence number of a binlog file name "<base>.<digits>"; nullopt for any other name.
std::optional<uint64_t> FileSequence(std::string_view file) {
  const size_t dot = file.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  for (char c : file.substr(0, dot)) {
    if (c == ':' || c == '#' || c == '\0' || IsSpace(c)) return std::nullopt;
  }
  uint64_t seq = 0;
  if (!ParseDecimal(file.substr(dot + 1), UINT64_MAX, &seq)) return std::nullopt;
  return seq;
}

void PutBigEndian(uint64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t GetBigEndian(std::string_view b) {
  uint64_t v = 0;
  for (char c : b.substr(0, 8)) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

bool IsGtidState(std::string_view text) {
  return IsMariadbGtidPosition(text) || IsMysqlGtidSet(text);
}

}  // namespace

bool IsMariadbGtidPosition(std::string_view text) {
  if (text.empty()) return false;
  std::set<uint64_t> domains;
  for (std::string_view gtid : Split(text, ',')) {
    const std::vector<std::string_view> parts = Split(gtid, '-');
    uint64_t domain = 0, server = 0, seq = 0;
    if (parts.size() != 3 || !ParseDecimal(parts[0], UINT32_MAX, &domain) ||
        !ParseDecimal(parts[1], UINT32_MAX, &server) || !ParseDecimal(parts[2], UINT64_MAX, &seq)) {
      return false;
    }
    if (!domains.insert(domain).second) return false;  // one entry per domain
  }
  return true;
}

bool IsMysqlGtidSet(std::string_view text) {
  const std::string compact = WithoutSpace(text);
  if (compact.empty()) return false;
  for (std::string_view member : Split(compact, ',')) {
    const std::vector<std::string_view> parts = Split(member, ':');
    if (parts.size() < 2 || !IsUuid(parts[0])) return false;
    for (size_t i = 1; i < parts.size(); ++i) {
      const std::vector<std::string_view> ends = Split(parts[i], '-');
      uint64_t from = 0, to = 0;
      if (ends.size() > 2 || !ParseDecimal(ends[0], INT64_MAX, &from) || from == 0) return false;
      if (ends.size() == 2 && (!ParseDecimal(ends[1], INT64_MAX, &to) || to < from)) return false;
    }
  }
  return true;
}

cdc::Position BinlogPosition(const BinlogPoint& point) {
  const std::string gtid = WithoutSpace(point.gtid);
  if (point.file.empty() && gtid.empty()) return cdc::Position();
  uint64_t seq = 0;
  if (!point.file.empty()) {
    const std::optional<uint64_t> s = FileSequence(point.file);
    if (!s) {
      throw Error(ErrorKind::kData,
                  fmt::format("'{}' is not a binlog file name (<name>.<number>)", point.file));
    }
    seq = *s;
  } else if (point.offset != 0) {
    throw Error(ErrorKind::kInternal, "a binlog offset without its file");
  }
  std::string bytes;
  bytes.reserve(kFixedBytes + point.file.size() + 1 + gtid.size());
  PutBigEndian(seq, &bytes);
  PutBigEndian(point.offset, &bytes);
  bytes += point.file;
  bytes.push_back('\0');
  bytes += gtid;
  return cdc::Position(std::move(bytes));
}

BinlogPoint PositionBinlogPoint(const cdc::Position& position) {
  const std::string& b = position.bytes();
  if (b.empty()) return {};
  auto foreign = [&] {
    return Error(ErrorKind::kData,
                 fmt::format("a MySQL source was given a position of {} bytes that is not a "
                             "binlog position: it belongs to another engine's stream",
                             b.size()));
  };
  if (b.size() <= kFixedBytes) throw foreign();
  const size_t nul = b.find('\0', kFixedBytes);
  if (nul == std::string::npos) throw foreign();
  BinlogPoint point;
  point.file = b.substr(kFixedBytes, nul - kFixedBytes);
  point.offset = GetBigEndian(std::string_view(b).substr(8));
  point.gtid = b.substr(nul + 1);
  const uint64_t seq = GetBigEndian(b);
  if (point.file.empty()) {
    if (seq != 0 || point.offset != 0 || point.gtid.empty()) throw foreign();
  } else if (FileSequence(point.file) != seq) {
    throw foreign();
  }
  // BinlogPosition stores a GTID state without whitespace.
  if (!point.gtid.empty() && (point.gtid != WithoutSpace(point.gtid) || !IsGtidState(point.gtid))) {
    throw foreign();
  }
  return point;
}

std::string FormatBinlogPoint(const BinlogPoint& point) {
  std::string gtid = WithoutSpace(point.gtid);
  if (point.file.empty()) return gtid;
  std::string out = fmt::format("{}:{}", point.file, point.offset);
  if (!gtid.empty()) out.append("#").append(gtid);
  return out;
}

std::optional<BinlogPoint> ParseBinlogPoint(std::string_view text) {
  BinlogPoint point;
  if (text.empty()) return point;
  std::string_view coordinate = text;
  const size_t hash = text.find('#');
  if (hash != std::string_view::npos) {
    coordinate = text.substr(0, hash);
    point.gtid = WithoutSpace(text.substr(hash + 1));
    if (!IsGtidState(point.gtid)) return std::nullopt;
  } else if (IsGtidState(text)) {
    point.gtid = WithoutSpace(text);
    return point;
  }
  const size_t colon = coordinate.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view file = coordinate.substr(0, colon);
  if (!FileSequence(file)) return std::nullopt;
  if (!ParseDecimal(coordinate.substr(colon + 1), UINT64_MAX, &point.offset)) return std::nullopt;
  point.file = std::string(file);
  return point;
}

namespace {

class BinlogPositionCodec final : public cdc::PositionCodec {
 public:
  std::string Format(const cdc::Position& position) const override {
    return FormatBinlogPoint(PositionBinlogPoint(position));
  }
  std::optional<cdc::Position> Parse(std::string_view text) const override {
    const std::optional<BinlogPoint> point = ParseBinlogPoint(text);
    if (!point) return std::nullopt;
    return BinlogPosition(*point);
  }
  std::string Describe() const override {
    return "a binlog file and offset such as mysql-bin.000024:373, a MariaDB GTID position "
           "such as 0-1-1234, or a MySQL GTID set such as "
           "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5";
  }
};

}  // namespace

const cdc::PositionCodec& BinlogCodec() {
  static const BinlogPositionCodec codec;
  return codec;
}

}  // namespace ferry::mysql
