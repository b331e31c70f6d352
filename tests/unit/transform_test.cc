// RowTransformer: add-column expressions evaluated by SQLite, change-data-type conversions,
// LOB limits, refusals with their messages, and what the sink sees.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "connectors/connector.h"
#include "test_types.h"
#include "transform/row_transform.h"
#include "types/value_codec.h"

namespace ferry {
namespace {

using ::ferry::testing::T;

// id INT4, first STRING(20), last STRING(20), salary NUMERIC(10,2), born DATE,
// seen DATETIME(6), big UINT8, MixedCase INT4, data BLOB, score REAL8, notes NCLOB
TableDef Source() {
  TableDef t;
  t.schema = "hr";
  t.name = "employee";
  auto add = [&](const char* name, DmsType type) {
    ColumnDef c;
    c.name = name;
    c.type = type;
    t.columns.push_back(c);
  };
  add("id", T(DmsKind::kInt4));
  add("first", T(DmsKind::kString, 20));
  add("last", T(DmsKind::kString, 20));
  add("salary", T(DmsKind::kNumeric, 0, 10, 2));
  add("born", T(DmsKind::kDate));
  add("seen", T(DmsKind::kDatetime, 0, 6));
  add("big", T(DmsKind::kUint8));
  add("MixedCase", T(DmsKind::kInt4));
  add("data", T(DmsKind::kBlob));
  add("score", T(DmsKind::kReal8));
  add("notes", T(DmsKind::kNclob));
  t.primary_key = {"id"};
  return t;
}

// Row 0: full values; row 1: NULLs except id.
Batch Rows() {
  Batch b(11);
  b.AppendInt(1);
  b.AppendBytes("Ada");
  b.AppendBytes("Lovelace");
  b.AppendBytes("25000.5");
  b.AppendInt(*ParseDate("1815-12-10"));
  b.AppendInt(*ParseDatetime("2024-02-28 23:30:00.25"));
  b.AppendUint(UINT64_MAX);
  b.AppendInt(41);
  b.AppendBytes(std::string("\x01\xff", 2));
  b.AppendDouble(2.5);
  b.AppendBytes("aéé");
  b.AppendInt(2);
  for (int i = 1; i < 11; ++i) b.AppendNull();
  return b;
}

struct Sink : RowIssueSink {
  bool drop = true;
  struct Failure {
    size_t row;
    int column;
    RowProblem problem;
    std::string message;
  };
  std::vector<Failure> failures;
  std::vector<std::pair<int, std::string>> warnings;
  bool RowFailed(size_t in_row, int column, RowProblem problem,
                 const std::string& message) override {
    failures.push_back({in_row, column, problem, message});
    return drop;
  }
  void Warning(int column, std::string_view message) override {
    warnings.emplace_back(column, std::string(message));
  }
};

TransformColumn Expr(std::string expression, DmsType type, std::string name = "x") {
  TransformColumn c;
  c.expression = std::move(expression);
  c.type = type;
  c.name = std::move(name);
  c.rule_id = "7";
  return c;
}
TransformColumn Copy(int source, DmsType type, std::string name = "c") {
  TransformColumn c;
  c.source_index = source;
  c.type = type;
  c.name = std::move(name);
  return c;
}

// Canonical text of each row's single target value ("<null>" for NULL).
std::vector<std::string> Eval(const TransformColumn& column, Sink* sink = nullptr,
                              const HeaderValues& header = FullLoadHeader(0)) {
  TransformSpec spec;
  spec.source = Source();
  spec.columns = {column};
  auto t = RowTransformer::Create(spec);
  Batch out;
  Sink local;
  t->Apply(Rows(), header, &out, sink ? *sink : local);
  std::vector<std::string> values;
  for (size_t r = 0; r < out.rows(); ++r) {
    if (out.IsNull(r, 0)) {
      values.push_back("<null>");
      continue;
    }
    std::string s;
    AppendCanonical(out, r, 0, column.type, &s);
    values.push_back(s);
  }
  return values;
}
using V = std::vector<std::string>;

std::string CreateError(const TransformColumn& column) {
  TransformSpec spec;
  spec.source = Source();
  spec.columns = {column};
  try {
    RowTransformer::Create(spec);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    return e.what();
  }
  return "no error";
}

const DmsType kStr50 = T(DmsKind::kString, 50);

TEST(TransformExpression, ConcatenationAndArithmetic) {
  EXPECT_EQ(Eval(Expr("$first||'_'||$last", kStr50)), (V{"Ada_Lovelace", "<null>"}));
  EXPECT_EQ(Eval(Expr("$id * 2 + 1", T(DmsKind::kInt8))), (V{"3", "5"}));
  EXPECT_EQ(Eval(Expr("$salary * 2", T(DmsKind::kNumeric, 0, 12, 2))), (V{"50001", "<null>"}));
  EXPECT_EQ(Eval(Expr("$score / 2", T(DmsKind::kReal8))), (V{"1.25", "<null>"}));
  EXPECT_EQ(Eval(Expr("$id / 2.0", T(DmsKind::kNumeric, 0, 5, 1))), (V{"0.5", "1"}));
}

TEST(TransformExpression, CaseAndNumericComparisons) {
  // NUMERIC binds as a number, so comparisons with numbers work as a DBA expects.
  const char* e = " CASE WHEN round($salary)>=20000 THEN 'SENIOR' ELSE 'JUNIOR' END";
  EXPECT_EQ(Eval(Expr(e, kStr50)), (V{"SENIOR", "JUNIOR"}));
  EXPECT_EQ(Eval(Expr("CASE WHEN $salary > 25000 THEN 1 ELSE 0 END", T(DmsKind::kBoolean))),
            (V{"1", "0"}));
  EXPECT_EQ(Eval(Expr("CASE $id WHEN 1 THEN 'one' WHEN 2 THEN 'two' END", kStr50)),
            (V{"one", "two"}));
}

TEST(TransformExpression, StringFunctions) {
  EXPECT_EQ(Eval(Expr("upper($first)", kStr50)), (V{"ADA", "<null>"}));
  EXPECT_EQ(Eval(Expr("lower($last)", kStr50)), (V{"lovelace", "<null>"}));
  EXPECT_EQ(Eval(Expr("length($notes)", T(DmsKind::kInt4))), (V{"3", "<null>"}));
  EXPECT_EQ(Eval(Expr("substr($last, 1, 4)", kStr50)), (V{"Love", "<null>"}));
  EXPECT_EQ(Eval(Expr("replace($first, 'a', 'A')", kStr50)), (V{"AdA", "<null>"}));
  EXPECT_EQ(Eval(Expr("trim('  x  ') || ltrim('--y', '-')", kStr50)), (V{"xy", "xy"}));
  EXPECT_EQ(Eval(Expr("replaceChars($last, 'lv', 'LV')", kStr50)), (V{"LoVeLace", "<null>"}));
  EXPECT_EQ(Eval(Expr("hex($data)", kStr50)), (V{"01FF", ""}));  // SQLite: hex(NULL) = ''

  const DmsType hex64 = T(DmsKind::kString, 64);
  const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  EXPECT_EQ(Eval(Expr("hash_sha256('abc')", hex64)), (V{abc, abc}));
  const std::string two_blocks =
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
  EXPECT_EQ(Eval(Expr("hash_sha256('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')",
                      hex64)),
            (V{two_blocks, two_blocks}));
  EXPECT_EQ(Eval(Expr("hash_sha256($first)", hex64))[1], "<null>");
}

TEST(TransformExpression, NullHandling) {
  EXPECT_EQ(Eval(Expr("coalesce($first, 'none')", kStr50)), (V{"Ada", "none"}));
  EXPECT_EQ(Eval(Expr("ifnull($salary, 0)", T(DmsKind::kNumeric, 0, 10, 2))),
            (V{"25000.5", "0"}));
  EXPECT_EQ(Eval(Expr("$first IS NULL", T(DmsKind::kBoolean))), (V{"0", "1"}));
  EXPECT_EQ(Eval(Expr("NULL", kStr50)), (V{"<null>", "<null>"}));
  EXPECT_EQ(Eval(Expr("", kStr50)), (V{"<null>", "<null>"}));  // "" = NULL
}

TEST(TransformExpression, DatesAndTimes) {
  EXPECT_EQ(Eval(Expr("date($seen)", T(DmsKind::kDate))), (V{"2024-02-28", "<null>"}));
  EXPECT_EQ(Eval(Expr("datetime($seen, '+1 hour')", T(DmsKind::kDatetime, 0, 0))),
            (V{"2024-02-29 00:30:00", "<null>"}));
  EXPECT_EQ(Eval(Expr("strftime('%Y', $born)", T(DmsKind::kInt4))), (V{"1815", "<null>"}));
  EXPECT_EQ(Eval(Expr("strftime('%Y-%m-%d %H:%M:%f', $seen)", kStr50)),
            (V{"2024-02-28 23:30:00.250", "<null>"}));
  EXPECT_EQ(Eval(Expr("datetime($born, '+1 day')", T(DmsKind::kDatetime, 0, 6))),
            (V{"1815-12-11 00:00:00", "<null>"}));
  EXPECT_EQ(Eval(Expr("julianday($seen) - julianday($born) > 70000", T(DmsKind::kBoolean))),
            (V{"1", "<null>"}));
  // datetime() with no argument: the current time, every row.
  EXPECT_EQ(Eval(Expr("datetime() IS NOT NULL", T(DmsKind::kBoolean))), (V{"1", "1"}));
}

TEST(TransformExpression, HeaderColumns) {
  EXPECT_EQ(Eval(Expr("$AR_H_OPERATION", kStr50)), (V{"INSERT", "INSERT"}));
  EXPECT_EQ(Eval(Expr("operation_indicator('D', 'U', 'I')", kStr50)), (V{"I", "I"}));
  EXPECT_EQ(Eval(Expr("$AR_H_TIMESTAMP", T(DmsKind::kDatetime, 0, 6))),
            (V{"1970-01-01 00:00:00", "1970-01-01 00:00:00"}));
  EXPECT_EQ(Eval(Expr("$AR_H_STREAM_POSITION", kStr50)), (V{"", ""}));
  EXPECT_EQ(Eval(Expr("$AR_H_CHANGE_SEQ", kStr50)), (V{"<null>", "<null>"}));
  HeaderValues cdc = FullLoadHeader(0);
  cdc.operation = "DELETE";
  EXPECT_EQ(Eval(Expr("operation_indicator('D', 'U', 'I')", kStr50), nullptr, cdc),
            (V{"D", "D"}));
  const HeaderValues now = FullLoadHeader();
  ASSERT_TRUE(now.timestamp);
  EXPECT_TRUE(ParseDatetime(*now.timestamp)) << *now.timestamp;
  EXPECT_EQ(now.timestamp->size(), 26u);  // YYYY-MM-DD HH:MM:SS.ffffff
}

TEST(TransformExpression, UnsignedMaxAndMixedCaseNames) {
  EXPECT_EQ(Eval(Expr("$big", T(DmsKind::kString, 30))), (V{"18446744073709551615", "<null>"}));
  EXPECT_EQ(Eval(Expr("$big", T(DmsKind::kUint8))), (V{"18446744073709551615", "<null>"}));
  EXPECT_EQ(Eval(Expr("$MixedCase + 1", T(DmsKind::kInt4))), (V{"42", "<null>"}));
  EXPECT_EQ(Eval(Expr("$mixedcase + 1", T(DmsKind::kInt4))), (V{"42", "<null>"}));
}

TEST(TransformExpression, ConstantEvaluatesPerRow) {
  EXPECT_EQ(Eval(Expr("1 + 1", T(DmsKind::kInt2))), (V{"2", "2"}));
  EXPECT_EQ(Eval(Expr("'x' -- a comment", kStr50)), (V{"x", "x"}));
}

TEST(TransformExpression, ResultConversionFailuresGoToTheSink) {
  Sink sink;
  EXPECT_EQ(Eval(Expr("$first || $last", T(DmsKind::kString, 5), "full_name"), &sink),
            (V{"<null>"}));  // row 0 dropped, row 1 is NULL
  ASSERT_EQ(sink.failures.size(), 1u);
  EXPECT_EQ(sink.failures[0].row, 0u);
  EXPECT_EQ(sink.failures[0].column, 0);
  EXPECT_EQ(sink.failures[0].problem, RowProblem::kTruncation);
  EXPECT_EQ(sink.failures[0].message,
            "target column full_name (STRING(5), rule-id 7): the expression's result: value of "
            "11 characters does not fit STRING(5): 'AdaLovelace'");
  Sink sink2;
  EXPECT_EQ(Eval(Expr("$first", T(DmsKind::kInt4), "n"), &sink2), (V{"<null>"}));
  ASSERT_EQ(sink2.failures.size(), 1u);
  EXPECT_EQ(sink2.failures[0].problem, RowProblem::kData);
  EXPECT_EQ(sink2.failures[0].message,
            "target column n (INT4, rule-id 7): the expression's result: value 'Ada' is not a "
            "number");
  Sink sink3;
  Eval(Expr("abs(-9223372036854775807 - 1) + $id", T(DmsKind::kInt8), "n"), &sink3);
  ASSERT_EQ(sink3.failures.size(), 2u);
  EXPECT_EQ(sink3.failures[0].problem, RowProblem::kData);
  EXPECT_EQ(sink3.failures[0].message,
            "target column n (INT8, rule-id 7): the expression failed: integer overflow");
}

TEST(TransformExpression, StopRaisesRowErrorWithKey) {
  Sink sink;
  sink.drop = false;
  try {
    Eval(Expr("$first", T(DmsKind::kInt4), "n"), &sink);
    FAIL() << "expected RowError";
  } catch (const RowError& e) {
    EXPECT_EQ(e.column, 0);
    EXPECT_EQ(e.batch_row, 0);
    EXPECT_EQ(e.row_key, "(id=1)");
    EXPECT_NE(std::string(e.what()).find("value 'Ada' is not a number"), std::string::npos);
  }
}

TEST(TransformExpression, Refusals) {
  std::string m = CreateError(Expr("1); SELECT (2", kStr50, "x"));
  EXPECT_EQ(m, "rule-id 7 (add-column x on hr.employee): expression '1); SELECT (2' is more than "
               "one statement; give a single expression");
  m = CreateError(Expr("1; SELECT 2", kStr50));
  EXPECT_NE(m.find("rule-id 7"), std::string::npos) << m;
  EXPECT_NE(m.find("does not compile"), std::string::npos) << m;
  m = CreateError(Expr("1); ATTACH DATABASE '/tmp/x.db' AS x; SELECT (1", kStr50));
  EXPECT_NE(m.find("more than one statement"), std::string::npos) << m;
  m = CreateError(Expr("(SELECT name FROM sqlite_schema)", kStr50));
  EXPECT_NE(m.find("is not allowed: it uses a table read"), std::string::npos) << m;
  m = CreateError(Expr("(SELECT count(*) FROM pragma_table_info('x'))", kStr50));
  EXPECT_NE(m.find("is not allowed: it uses a table-valued function"), std::string::npos) << m;
  m = CreateError(Expr("(SELECT value FROM json_each('[1,2]'))", kStr50));
  EXPECT_NE(m.find("is not allowed: it uses a table-valued function"), std::string::npos) << m;
  m = CreateError(Expr("(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "
                       "SELECT max(x) FROM c)",
                       kStr50));
  EXPECT_NE(m.find("is not allowed: it uses a recursive query"), std::string::npos) << m;
  m = CreateError(Expr("load_extension('/tmp/evil')", kStr50));
  EXPECT_NE(m.find("is not allowed: it uses the function load_extension()"), std::string::npos)
      << m;
  m = CreateError(Expr("(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "
                       "SELECT max(x) FROM c)",
                       kStr50));
  EXPECT_NE(m.find("is not allowed"), std::string::npos) << m;
  m = CreateError(Expr("1), (2", kStr50));
  EXPECT_NE(m.find("gives more than one value"), std::string::npos) << m;
  m = CreateError(Expr("$nope + 1", kStr50, "y"));
  EXPECT_EQ(m, "rule-id 7 (add-column y on hr.employee): expression '$nope + 1' names $nope, "
               "which table hr.employee does not have (its columns: id, first, last, salary, "
               "born, seen, big, MixedCase, data, score, notes; header columns: "
               "$AR_H_OPERATION, $AR_H_TIMESTAMP, ...)");
  m = CreateError(Expr("1 +", kStr50));
  EXPECT_EQ(m, "rule-id 7 (add-column x on hr.employee): expression '1 +' does not compile: "
               "near \")\": syntax error");
  m = CreateError(Expr("nosuchfunction($id)", kStr50));
  EXPECT_EQ(m, "rule-id 7 (add-column x on hr.employee): expression 'nosuchfunction($id)' does "
               "not compile: no such function: nosuchfunction");
  m = CreateError(Expr(":id + 1", kStr50));
  EXPECT_NE(m.find("uses the parameter ':id'; refer to a column as $name"), std::string::npos)
      << m;
  m = CreateError(Expr("? + 1", kStr50));
  EXPECT_NE(m.find("uses the parameter '?'"), std::string::npos) << m;
}

TEST(TransformConvertColumns, ChangeDataTypeAndRefusals) {
  EXPECT_EQ(Eval(Copy(0, T(DmsKind::kString, 10))), (V{"1", "2"}));
  EXPECT_EQ(Eval(Copy(3, T(DmsKind::kReal8))), (V{"25000.5", "<null>"}));
  EXPECT_EQ(Eval(Copy(5, T(DmsKind::kDate))), (V{"2024-02-28", "<null>"}));
  Sink sink;
  EXPECT_EQ(Eval(Copy(3, T(DmsKind::kInt2))), (V{"25001", "<null>"}));
  EXPECT_EQ(Eval(Copy(3, T(DmsKind::kInt1), "salary"), &sink), (V{"<null>"}));
  ASSERT_EQ(sink.failures.size(), 1u);
  EXPECT_EQ(sink.failures[0].message,
            "target column salary (INT1): value '25000.5' is out of range for INT1");
  TransformColumn bad = Copy(8, T(DmsKind::kInt4), "data");
  bad.rule_id = "12";
  EXPECT_EQ(CreateError(bad),
            "table hr.employee: target column data (INT4, rule-id 12) from source column data: "
            "a BLOB value cannot be converted to INT4");
  EXPECT_NE(CreateError(Copy(99, T(DmsKind::kInt4))).find("refers to source column 99"),
            std::string::npos);
}

TEST(TransformRows, IdentityAndMixedSpec) {
  TransformSpec spec;
  spec.source = Source();
  for (size_t i = 0; i < spec.source.columns.size(); ++i) {
    spec.columns.push_back(Copy(static_cast<int>(i), spec.source.columns[i].type,
                                spec.source.columns[i].name));
  }
  EXPECT_TRUE(RowTransformer::Create(spec)->identity());
  spec.lob_max_bytes = 1024;
  EXPECT_FALSE(RowTransformer::Create(spec)->identity());  // LOB columns are cut
  spec.lob_max_bytes = 0;
  std::swap(spec.columns[0], spec.columns[1]);
  EXPECT_FALSE(RowTransformer::Create(spec)->identity());

  // A renamed/reordered/converted/added mix.
  spec.columns = {Copy(2, T(DmsKind::kString, 20)), Copy(0, T(DmsKind::kInt8)),
                  Expr("upper($first)", T(DmsKind::kString, 10)), Copy(9, T(DmsKind::kReal4))};
  auto t = RowTransformer::Create(spec);
  EXPECT_FALSE(t->identity());
  Batch out;
  Sink sink;
  t->Apply(Rows(), FullLoadHeader(0), &out, sink);
  ASSERT_EQ(out.rows(), 2u);
  ASSERT_EQ(out.columns(), 4);
  EXPECT_EQ(out.Bytes(0, 0), "Lovelace");
  EXPECT_EQ(out.at(0, 1).i, 1);
  EXPECT_EQ(out.Bytes(0, 2), "ADA");
  EXPECT_EQ(out.at(0, 3).d, 2.5);
  EXPECT_TRUE(out.IsNull(1, 0));
  EXPECT_EQ(out.at(1, 1).i, 2);
  EXPECT_TRUE(out.IsNull(1, 2));
  EXPECT_TRUE(sink.failures.empty());
}

TEST(TransformRows, DroppedRowLeavesNoTrace) {
  TransformSpec spec;
  spec.source = Source();
  spec.columns = {Copy(1, T(DmsKind::kString, 20)), Copy(2, T(DmsKind::kString, 3))};
  auto t = RowTransformer::Create(spec);
  Batch out;
  Sink sink;
  t->Apply(Rows(), FullLoadHeader(0), &out, sink);
  ASSERT_EQ(out.rows(), 1u);  // row 0 ('Lovelace' into STRING(3)) dropped
  EXPECT_TRUE(out.IsNull(0, 0));
  EXPECT_EQ(out.cell_count(), 2u);
  ASSERT_EQ(sink.failures.size(), 1u);
  EXPECT_EQ(sink.failures[0].column, 1);
  EXPECT_EQ(sink.failures[0].problem, RowProblem::kTruncation);
}

TEST(TransformRows, LobLimitCutsOnCharacterBoundaries) {
  TransformSpec spec;
  spec.source = Source();
  spec.lob_max_bytes = 4;
  spec.columns = {Copy(10, T(DmsKind::kNclob), "notes"), Copy(8, T(DmsKind::kBlob), "data"),
                  Expr("$notes || 'x'", T(DmsKind::kClob), "more"),
                  Expr("zeroblob(10)", T(DmsKind::kBlob), "z"),
                  Copy(1, T(DmsKind::kString, 20), "first")};
  auto t = RowTransformer::Create(spec);
  Batch out;
  Sink sink;
  t->Apply(Rows(), FullLoadHeader(0), &out, sink);
  ASSERT_EQ(out.rows(), 2u);
  EXPECT_EQ(out.Bytes(0, 0), "aé");                      // "aéé" is 5 bytes: cut to 3
  EXPECT_EQ(out.Bytes(0, 1), std::string("\x01\xff", 2));  // 2 bytes: whole
  EXPECT_EQ(out.Bytes(0, 2), "aé");
  EXPECT_EQ(out.Bytes(0, 3), std::string(4, '\0'));
  EXPECT_EQ(out.Bytes(0, 4), "Ada");  // not a LOB: never cut
  EXPECT_EQ(out.Bytes(1, 3), std::string(4, '\0'));
  ASSERT_EQ(sink.warnings.size(), 4u);
  EXPECT_EQ(sink.warnings[0], (std::pair<int, std::string>(0, "LOB truncated to 4 bytes")));
  EXPECT_EQ(sink.warnings[1].first, 2);
  EXPECT_EQ(sink.warnings[2].first, 3);
  EXPECT_EQ(sink.warnings[3].first, 3);

  spec.lob_max_bytes = 32 * 1024;
  spec.columns = {Expr("zeroblob(40000)", T(DmsKind::kBlob), "z")};
  t = RowTransformer::Create(spec);
  Sink sink2;
  t->Apply(Rows(), FullLoadHeader(0), &out, sink2);
  EXPECT_EQ(out.Bytes(0, 0).size(), 32u * 1024);
  ASSERT_EQ(sink2.warnings.size(), 2u);
  EXPECT_EQ(sink2.warnings[0].second, "LOB truncated to 32 KB");
}

TEST(TransformRows, ReusesTheOutputBatchAndChecksTheInputShape) {
  TransformSpec spec;
  spec.source = Source();
  spec.columns = {Expr("$id + 100", T(DmsKind::kInt4))};
  auto t = RowTransformer::Create(spec);
  Batch out;
  Sink sink;
  t->Apply(Rows(), FullLoadHeader(0), &out, sink);
  t->Apply(Rows(), FullLoadHeader(0), &out, sink);  // replaces, does not append
  ASSERT_EQ(out.rows(), 2u);
  EXPECT_EQ(out.at(1, 0).i, 102);
  Batch wrong(3);
  try {
    t->Apply(wrong, FullLoadHeader(0), &out, sink);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
    EXPECT_STREQ(e.what(), "table hr.employee: the row transform expects batches of 11 columns, "
                           "got 3");
  }
}

// Throughput over 1M rows (run by hand: --gtest_also_run_disabled_tests).
TEST(TransformRows, DISABLED_Throughput) {
  TransformSpec spec;
  spec.source = Source();
  const Batch rows = Rows();
  Batch in(11);
  for (int i = 0; i < 5000; ++i) {
    Batch one = rows;  // alternate full and NULL rows
    for (size_t r = 0; r < 2; ++r) {
      for (int c = 0; c < 11; ++c) {
        const Cell& cell = one.at(r, c);
        if (cell.null) {
          in.AppendNull();
        } else if (StorageOf(spec.source.columns[c].type.kind) == Storage::kBytes) {
          in.AppendBytes(one.Bytes(r, c));
        } else {
          in.AppendInt(cell.i);
        }
      }
    }
  }
  auto run = [&](const std::vector<TransformColumn>& columns, const char* what) {
    spec.columns = columns;
    auto t = RowTransformer::Create(spec);
    Batch out;
    Sink sink;
    const auto start = std::chrono::steady_clock::now();
    size_t n = 0;
    while (n < 1'000'000) {
      t->Apply(in, FullLoadHeader(0), &out, sink);
      n += in.rows();
    }
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-40s %10.0f rows/s\n", what, n / s);
  };
  std::vector<TransformColumn> copy;
  for (size_t i = 0; i < spec.source.columns.size(); ++i) {
    copy.push_back(Copy(static_cast<int>(i), spec.source.columns[i].type));
  }
  run(copy, "copy 11 columns");
  auto conv = copy;
  conv[0] = Copy(0, T(DmsKind::kString, 10));
  conv[3] = Copy(3, T(DmsKind::kReal8));
  run(conv, "copy 9 + convert 2");
  auto expr = copy;
  expr.push_back(Expr("$first||'_'||$last", kStr50));
  run(expr, "copy 11 + 1 expression");
  expr.push_back(Expr("CASE WHEN $salary >= 20000 THEN 'S' ELSE 'J' END", kStr50));
  expr.push_back(Expr("date($seen)", T(DmsKind::kDate)));
  run(expr, "copy 11 + 3 expressions");
}

}  // namespace
}  // namespace ferry
