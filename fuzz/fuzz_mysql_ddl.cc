// Fuzzes the DDL reader of binlog QUERY events (connectors/mysql/my_binlog_ddl.h): the text is
// whatever statement the source server logged. Invariants: it never throws or reads out of
// bounds; a statement it recognises names at least one table (a RENAME, pairs of them), each
// with a non-empty name.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "connectors/mysql/my_binlog_ddl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  using ferry::mysql::binlog::DdlStatement;
  const DdlStatement d = ferry::mysql::binlog::ParseDdlStatement(input, "db");
  if (d.kind == DdlStatement::kOther) return 0;
  bool ok = !d.tables.empty() && (d.kind != DdlStatement::kRename || d.tables.size() % 2 == 0);
  for (const auto& [schema, name] : d.tables) ok = ok && !name.empty();
  if (!ok) {
    std::fprintf(stderr, "fuzz_mysql_ddl: kind %d with %zu table(s)\n  input: '%.*s'\n",
                 static_cast<int>(d.kind), d.tables.size(), static_cast<int>(size), input.data());
    std::abort();
  }
  return 0;
}
