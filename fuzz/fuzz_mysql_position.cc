// Fuzzes the MySQL/MariaDB position codec (connectors/mysql/my_position.h): the text comes from
// --cdc-start-position and the task store, the bytes from the checkpoint on the target.
// Invariants:
//  - text: what Parse accepts formats back to text that parses to the same position;
//  - bytes: PositionBinlogPoint either throws ferry::Error or returns a point whose position
//    has exactly those bytes (nothing else is read as a binlog position).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/error.h"
#include "connectors/mysql/my_position.h"

namespace {

[[noreturn]] void Fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "fuzz_mysql_position: %s\n  input: '%.*s'\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const ferry::cdc::PositionCodec& codec = ferry::mysql::BinlogCodec();
  if (const std::optional<ferry::cdc::Position> p = codec.Parse(input)) {
    const std::string text = codec.Format(*p);
    const std::optional<ferry::cdc::Position> back = codec.Parse(text);
    if (!back || *back != *p) Fail("Format does not parse back to the same position", input);
  }
  try {
    const ferry::cdc::Position bytes{std::string(input)};
    const ferry::mysql::BinlogPoint point = ferry::mysql::PositionBinlogPoint(bytes);
    if (ferry::mysql::BinlogPosition(point) != bytes) Fail("bytes read as another point", input);
  } catch (const ferry::Error&) {
  }
  return 0;
}
