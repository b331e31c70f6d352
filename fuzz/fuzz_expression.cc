// Fuzzes the row-transform stage (src/transform/): DMS add-column expressions come from
// users' table-mapping files, and change-data-type sends any source text into any DMS type.
// Input layout: byte 0 selects the mode (even: expression, odd: conversion); byte 1 selects
// the target DmsKind (modulo the number of kinds); the rest is the payload.
//  - expression: the payload is compiled against a fixed 5-column table and evaluated on two
//    fixed rows into the target kind. It must compile or fail with kInvalidArgument naming the
//    rule-id; evaluation may fail only through the sink (data or truncation) naming the rule.
//  - conversion: the payload is parsed as a value of the target kind (AppendFromText) and
//    converted from an NCLOB cell holding it (ConvertCell). Both must agree; a value accepted
//    for a non-text kind prints (canonical text) to text that parses back to the same cell.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "common/error.h"
#include "connectors/connector.h"
#include "transform/row_transform.h"
#include "transform/value_convert.h"
#include "types/value_codec.h"

namespace {

using ferry::DmsKind;
using ferry::DmsType;

[[noreturn]] void Fail(const char* what, std::string_view input, std::string_view detail) {
  std::fprintf(stderr, "fuzz_expression: %s\n  input: '%.*s'\n  detail: '%.*s'\n", what,
               static_cast<int>(input.size()), input.data(), static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

constexpr int kKinds = static_cast<int>(DmsKind::kNclob) + 1;

DmsType TargetType(uint8_t selector) {
  DmsType t;
  t.kind = static_cast<DmsKind>(selector % kKinds);
  // Exercise lengths and precisions on some inputs.
  if (selector / kKinds % 2 == 1) {
    t.length = 8;
    if (t.kind == DmsKind::kNumeric) {
      t.precision = 6;
      t.scale = 2;
    }
  }
  return t;
}

ferry::TableDef FixedTable() {
  ferry::TableDef t;
  t.schema = "s";
  t.name = "t";
  auto add = [&](const char* name, DmsType type) {
    ferry::ColumnDef c;
    c.name = name;
    c.type = type;
    t.columns.push_back(c);
  };
  add("id", DmsType{DmsKind::kInt4});
  add("Name", DmsType{DmsKind::kWstring, 20});
  add("amount", DmsType{DmsKind::kNumeric, 0, 10, 2});
  add("at", DmsType{DmsKind::kDatetime, 0, 6});
  add("raw", DmsType{DmsKind::kBlob});
  t.primary_key = {"id"};
  return t;
}

ferry::Batch FixedRows() {
  ferry::Batch b(5);
  b.AppendInt(1);
  b.AppendBytes("Zoë");
  b.AppendBytes("-12.5");
  b.AppendInt(1'700'000'000'000'000);
  b.AppendBytes(std::string("\0\x01\xff", 3));
  b.AppendInt(2);
  for (int i = 0; i < 4; ++i) b.AppendNull();
  return b;
}

struct Sink : ferry::RowIssueSink {
  std::string_view input;
  bool RowFailed(size_t, int column, ferry::RowProblem, const std::string& message) override {
    if (column != 0) Fail("failure names the wrong column", input, message);
    if (message.find("rule-id 9") == std::string::npos) {
      Fail("row failure without the rule-id", input, message);
    }
    return true;
  }
  void Warning(int, std::string_view) override {}
};

void FuzzExpression(std::string_view input, const DmsType& type, std::string_view expression) {
  ferry::TransformSpec spec;
  spec.source = FixedTable();
  ferry::TransformColumn c;
  c.expression = std::string(expression);
  c.rule_id = "9";
  c.name = "added";
  c.type = type;
  spec.columns = {c};
  spec.lob_max_bytes = 4096;
  spec.expression_max_value_bytes = 1 << 20;
  std::unique_ptr<ferry::RowTransformer> t;
  try {
    t = ferry::RowTransformer::Create(spec);
  } catch (const ferry::Error& e) {
    if (e.kind() != ferry::ErrorKind::kInvalidArgument) Fail("wrong error kind", input, e.what());
    if (!expression.empty() &&
        std::string_view(e.what()).find("rule-id 9") == std::string_view::npos) {
      Fail("compile error without the rule-id", input, e.what());
    }
    return;
  }
  ferry::Batch out;
  Sink sink;
  sink.input = input;
  const ferry::Batch rows = FixedRows();
  t->Apply(rows, ferry::FullLoadHeader(0), &out, sink);
  if (out.rows() > 2 || out.columns() != 1) Fail("wrong output shape", input, "");
  for (size_t r = 0; r < out.rows(); ++r) {
    if (out.IsNull(r, 0)) continue;
    if (ferry::StorageOf(type.kind) == ferry::Storage::kBytes) {
      const std::string_view v = out.Bytes(r, 0);
      if (ferry::IsLob(type.kind) && v.size() > 4096) Fail("LOB over the limit", input, v);
    }
  }
}

void FuzzConversion(std::string_view input, const DmsType& type, std::string_view text) {
  ferry::Batch a(1);
  std::string message;
  const ferry::ConvertStatus s1 = ferry::AppendFromText(text, type, &a, &message);
  ferry::Batch in(1);
  in.AppendBytes(text);
  ferry::Batch b(1);
  std::string message2, scratch;
  const ferry::ConvertStatus s2 = ferry::ConvertCell(in, 0, 0, DmsType{DmsKind::kNclob}, type,
                                                     &b, &message2, &scratch);
  if (s1 != s2 || message != message2) {
    Fail("AppendFromText and ConvertCell differ", input, message);
  }
  if (s1 != ferry::ConvertStatus::kOk) {
    if (message.empty()) Fail("failure without a message", input, "");
    if (a.cell_count() != 0) Fail("a failure appended a cell", input, message);
    return;
  }
  if (a.rows() != 1 || a.IsNull(0, 0)) Fail("success without one value", input, "");
  if (std::memcmp(&a.at(0, 0), &b.at(0, 0), 8) != 0 && !ferry::IsText(type.kind) &&
      !ferry::IsBinary(type.kind) && type.kind != DmsKind::kNumeric) {
    Fail("AppendFromText and ConvertCell give different cells", input, "");
  }
  if (ferry::IsText(type.kind) || ferry::IsBinary(type.kind)) return;
  std::string canonical;
  ferry::AppendCanonical(a, 0, 0, type, &canonical);
  ferry::Batch again(1);
  if (ferry::AppendFromText(canonical, type, &again, &message) != ferry::ConvertStatus::kOk) {
    Fail("canonical text does not parse back", input, canonical);
  }
  std::string canonical2;
  ferry::AppendCanonical(again, 0, 0, type, &canonical2);
  if (canonical != canonical2) Fail("canonical text does not round-trip", input, canonical2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const DmsType type = TargetType(data[1]);
  const std::string_view payload = input.substr(2);
  if (data[0] % 2 == 0) {
    if (payload.size() > 4096) return 0;
    FuzzExpression(input, type, payload);
  } else {
    FuzzConversion(input, type, payload);
  }
  return 0;
}
