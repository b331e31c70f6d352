// The column types a recorded pgoutput stream's Relation messages name, as the server typed
// them when it was recorded (tests/fixtures/pgoutput/README.md: <name>.types.json), so a replay
// through PgChangeStream needs no catalog. Shared by the unit replay tests and the integration
// test that records the fixtures.
#pragma once

#include <fmt/format.h>

#include <string>

#include "catalog/table_def.h"
#include "common/error.h"
#include "connectors/postgres/pg_change_stream.h"

namespace ferry::test_support {

// `types` is one TableDef whose columns are named "<type OID>/<type modifier>", each with the
// base type's OID as native_id.
class RecordedTypes : public postgres::PgChangeStream::Source {
 public:
  explicit RecordedTypes(TableDef types) : types_(std::move(types)) {}
  uint32_t BaseType(uint32_t oid) override {
    for (const ColumnDef& c : types_.columns) {
      if (c.name.rfind(std::to_string(oid) + "/", 0) == 0) return c.native_id;
    }
    throw Error(ErrorKind::kNotFound, fmt::format("type OID {} was not recorded", oid));
  }
  ColumnDef ColumnOfType(const std::string& name, uint32_t oid, int32_t typmod) override {
    const int i = types_.ColumnIndex(fmt::format("{}/{}", oid, typmod));
    if (i < 0) {
      throw Error(ErrorKind::kNotFound, fmt::format("type {}/{} was not recorded", oid, typmod));
    }
    ColumnDef c = types_.columns[static_cast<size_t>(i)];
    c.name = name;
    return c;
  }
  // Calls of BetweenMessages (the capture's work between messages: heartbeats, table checks).
  int between_calls = 0;
  void BetweenMessages(cdc::CaptureSink&, postgres::PgChangeStream::Clock::time_point) override {
    ++between_calls;
  }

 private:
  TableDef types_;
};

}  // namespace ferry::test_support
