// Fuzzes the PostgreSQL change decoder (connectors/postgres/pg_change_decode.h): the tuple
// values of pgoutput messages, from the server over the replication connection, become cells
// and change records.
//
// Input layout: the first byte selects the mode and the pgoutput protocol version
// (bits 0-1: version 1..4, bit 2: parallel streaming, bit 3: mode); the rest is split at every
// 0xFE 0xFD pair into pieces.
//  - mode 0: each piece is one pgoutput message, decoded by one Decoder (stream state kept);
//    Insert, Update and Delete messages are encoded by a TableChangeEncoder for a fixed table
//    with a column of every PgWire kind (plus money, inet, interval, arrays read as text), whose
//    relation maps the message's columns in order (a Relation message remaps them by name).
//    The piece's values arrive in text or binary as the message says.
//  - mode 1: each piece is the text form of a value, given to AppendTextValue for every column
//    of the same table.
// Invariants: no crash, no sanitizer report; errors are ferry::Error of kind kData (or
// kUnsupported from the message decoder); an encoded record reads back with cdc::ChangeReader
// as exactly one change of the same operation, table and column count (none for truncate), whose
// cells give a canonical text; AppendTextValue appends exactly one cell on success and none on
// failure.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "change/change.h"
#include "connectors/postgres/pg_change_decode.h"
#include "connectors/postgres/pg_types.h"
#include "connectors/postgres/pgoutput.h"
#include "types/value_codec.h"

namespace {

using namespace ferry;
using namespace ferry::postgres;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz_pg_change: %s\n", what);
  std::abort();
}

ColumnDef Col(const std::string& name, const std::string& formatted, uint32_t oid,
              char category = 'U') {
  PgTypeInfo info;
  info.formatted = formatted;
  info.oid = oid;
  info.category = category;
  ColumnDef c;
  c.name = name;
  c.native_type = formatted;
  c.native_id = oid;
  c.type = MapPgType(info).type;
  return c;
}

const TableDef& Table() {
  static const TableDef* def = [] {
    auto* t = new TableDef;
    t->engine = Engine::kPostgres;
    t->schema = "s";
    t->name = "t";
    t->columns = {
        Col("c_bool", "boolean", kOidBool),
        Col("c_int2", "smallint", kOidInt2),
        Col("c_int4", "integer", kOidInt4),
        Col("c_int8", "bigint", kOidInt8),
        Col("c_float4", "real", kOidFloat4),
        Col("c_float8", "double precision", kOidFloat8),
        Col("c_numeric", "numeric", kOidNumeric),
        Col("c_numeric_10_2", "numeric(10,2)", kOidNumeric),
        Col("c_date", "date", kOidDate),
        Col("c_time", "time without time zone", kOidTime),
        Col("c_timestamp", "timestamp without time zone", kOidTimestamp),
        Col("c_timestamptz", "timestamp with time zone", kOidTimestamptz),
        Col("c_bytea", "bytea", kOidBytea),
        Col("c_text", "text", kOidText),
        Col("c_varchar", "character varying(10)", kOidVarchar),
        Col("c_bpchar", "character(3)", kOidBpchar),
        Col("c_json", "json", kOidJson),
        Col("c_jsonb", "jsonb", kOidJsonb),
        Col("c_uuid", "uuid", kOidUuid),
        Col("c_money", "money", kOidMoney),
        Col("c_inet", "inet", 869),
        Col("c_interval", "interval", kOidInterval),
        Col("c_timetz", "time with time zone", kOidTimetz),
        Col("c_int4_array", "integer[]", 1007, 'A'),
    };
    t->primary_key = {"c_int4"};
    return t;
  }();
  return *def;
}

// The relation of Table() as PostgreSQL would announce it.
pgoutput::Relation TableRelation() {
  pgoutput::Relation rel;
  rel.relation_id = 16400;
  rel.schema = "s";
  rel.name = "t";
  for (const ColumnDef& c : Table().columns) {
    rel.columns.push_back({c.name == "c_int4", c.name, c.native_id, -1});
  }
  return rel;
}

void CheckErrorKind(const Error& e, bool unsupported_ok) {
  if (e.kind() == ErrorKind::kData) return;
  if (unsupported_ok && e.kind() == ErrorKind::kUnsupported) return;
  std::fprintf(stderr, "fuzz_pg_change: unexpected error kind: %s\n", e.what());
  std::abort();
}

// The record in `records` reads back as one change of `op` with the table's shape.
void CheckRecord(const std::string& records, cdc::ChangeOp op) {
  const TableDef& t = Table();
  cdc::ChangeReader reader(records);
  cdc::ChangeView v;
  if (!reader.Next(&v)) Fail("an encoded change reads back as nothing");
  if (v.op != op) Fail("an encoded change reads back as another operation");
  if (v.table != 3) Fail("an encoded change reads back for another table");
  // A truncate carries no image (no columns).
  const int columns = op == cdc::ChangeOp::kTruncate ? 0 : static_cast<int>(t.columns.size());
  if (v.rows->columns() != columns) {
    Fail("an encoded change reads back with another column count");
  }
  std::string text;
  for (int row : {v.old_row, v.new_row}) {
    if (row < 0) continue;
    if (static_cast<size_t>(row) >= v.rows->rows()) Fail("a change row index is out of range");
    for (int c = 0; c < v.rows->columns(); ++c) {
      if (v.rows->IsNull(row, c) || v.rows->at(row, c).unchanged) continue;
      text.clear();
      AppendCanonical(*v.rows, row, c, t.columns[c].type, &text);
    }
  }
  if (reader.Next(&v)) Fail("one encoded change reads back as two");
}

void DecodeMessages(uint8_t selector, std::string_view rest) {
  pgoutput::Decoder decoder(1 + (selector & 3), (selector & 4) != 0);
  TableChangeEncoder encoder(3, Table());
  encoder.SetRelation(TableRelation());
  std::string records;
  while (true) {
    const size_t cut = rest.find("\xfe\xfd");
    const std::string_view message = rest.substr(0, cut);
    ferry::Result<pgoutput::Message> r = decoder.Decode(message);
    if (!r.ok()) {
      CheckErrorKind(r.error(), true);
    } else {
      const pgoutput::Message& m = r.value();
      records.clear();
      try {
        if (const auto* rel = std::get_if<pgoutput::Relation>(&m)) {
          encoder.SetRelation(*rel);
        } else if (const auto* ins = std::get_if<pgoutput::Insert>(&m)) {
          encoder.EncodeInsert(*ins, 0x1000, &records);
          CheckRecord(records, cdc::ChangeOp::kInsert);
        } else if (const auto* upd = std::get_if<pgoutput::Update>(&m)) {
          encoder.EncodeUpdate(*upd, 0x1000, &records);
          CheckRecord(records, cdc::ChangeOp::kUpdate);
        } else if (const auto* del = std::get_if<pgoutput::Delete>(&m)) {
          encoder.EncodeDelete(*del, 0x1000, &records);
          CheckRecord(records, cdc::ChangeOp::kDelete);
        } else if (std::holds_alternative<pgoutput::Truncate>(m)) {
          encoder.EncodeTruncate(&records);
          CheckRecord(records, cdc::ChangeOp::kTruncate);
        }
      } catch (const Error& e) {
        CheckErrorKind(e, false);
      }
    }
    if (cut == std::string_view::npos) break;
    rest.remove_prefix(cut + 2);
  }
}

void DecodeTexts(std::string_view rest) {
  static const std::vector<ChangeColumn>* columns = [] {
    auto* v = new std::vector<ChangeColumn>;
    for (const ColumnDef& c : Table().columns) v->push_back(ChangeColumnFor(c));
    return v;
  }();
  const TableDef& t = Table();
  std::string text;
  while (true) {
    const size_t cut = rest.find("\xfe\xfd");
    const std::string_view value = rest.substr(0, cut);
    for (size_t c = 0; c < columns->size(); ++c) {
      Batch batch(1);
      std::string problem;
      try {
        problem = AppendTextValue((*columns)[c], value, batch);
      } catch (const Error& e) {
        CheckErrorKind(e, false);
        continue;
      }
      if (problem.empty()) {
        if (batch.rows() != 1) Fail("AppendTextValue succeeded without appending one cell");
        if (!batch.IsNull(0, 0)) {
          text.clear();
          AppendCanonical(batch, 0, 0, t.columns[c].type, &text);
        }
      } else if (batch.rows() != 0) {
        Fail("AppendTextValue failed but appended a cell");
      }
    }
    if (cut == std::string_view::npos) break;
    rest.remove_prefix(cut + 2);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 8) {
    DecodeTexts(rest);
  } else {
    DecodeMessages(data[0], rest);
  }
  return 0;
}
