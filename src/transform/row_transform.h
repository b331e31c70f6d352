// The row-transform stage between a table's reader and its writer: per row, it builds the
// target row from the source row by copying or converting columns (DMS change-data-type),
// evaluating add-column expressions (expression.h), and cutting LOBs to the limited-size LOB
// mode's maximum (TargetMetadata.LimitedSizeLobMode / LobMaxSize, or a table's lob-settings).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/table_def.h"
#include "transform/expression.h"
#include "types/batch.h"
#include "types/dms_type.h"

namespace ferry {

// One target column, in target order.
struct TransformColumn {
  int source_index = -1;   // copy or convert this source column; -1 for an expression
  std::string expression;  // add-column expression when source_index == -1; "" = NULL
  std::string rule_id;     // the rule that added or changed the column, for messages
  DmsType type;            // the target type
  std::string name;        // the target name, for messages
};

struct TransformSpec {
  TableDef source;                       // the source table (its columns' names and types)
  std::vector<TransformColumn> columns;  // the target columns
  // Limited-size LOB mode: BLOB/CLOB/NCLOB target values longer than this many bytes are cut
  // (CLOB/NCLOB on a UTF-8 character boundary) with a warning. 0 = no limit.
  int64_t lob_max_bytes = 0;
  // Cap on any string or blob an expression builds (0 = SQLite's default of 1e9 bytes).
  int64_t expression_max_value_bytes = 0;
};

// Which DMS error policy a row failure falls under (ErrorBehavior.DataErrorPolicy or
// DataTruncationErrorPolicy).
enum class RowProblem { kData, kTruncation };

// Receives what happens to rows during Apply (called on the thread that calls Apply).
class RowIssueSink {
 public:
  virtual ~RowIssueSink() = default;
  // Row `in_row` of the input batch cannot be transformed because of target column `column`.
  // `message` names the target column, its type, the rule-id and what is wrong with the value
  // (not the row key: RowError carries that). Returns true to drop the row and go on, false
  // to stop (Apply then throws RowError).
  virtual bool RowFailed(size_t in_row, int column, RowProblem problem,
                         const std::string& message) = 0;
  // A value was changed by policy (a LOB truncated); `column` indexes target columns.
  virtual void Warning(int column, std::string_view message) = 0;
};

class RowTransformer {
 public:
  // Checks the spec and compiles its expressions. Throws Error(kInvalidArgument) naming the
  // rule-id and column for a bad expression (expression.h, ExpressionSet::Add), a source index
  // out of range, or a conversion that can never work (value_convert.h, CanConvert: binary ->
  // numbers/dates/booleans, dates and times <-> numbers/booleans, TIME -> DATE/DATETIME).
  static std::unique_ptr<RowTransformer> Create(const TransformSpec& spec);
  ~RowTransformer();

  // True when Apply would return every batch unchanged (the caller may skip the stage): the
  // target columns are the source columns in order, each a lossless copy, and no LOB limit
  // applies.
  bool identity() const { return identity_; }

  // Replaces `*out` with the transformed rows of `in` (a batch of the source table's columns,
  // in source order; Error(kInternal) otherwise). Rows the sink drops are left out, so
  // out->rows() <= in.rows(); `*out` may be the previous call's batch (its memory is reused).
  // Throws RowError (column = the target column, batch_row = the input row, row_key from the
  // source key) when the sink returns false.
  void Apply(const Batch& in, const HeaderValues& header, Batch* out, RowIssueSink& sink);

  const TransformSpec& spec() const { return spec_; }

 private:
  enum class Path { kCopy, kConvert, kExpression, kNull };
  struct Plan {
    Path path = Path::kCopy;
    int source = -1;
    int expression = -1;
    bool lob_limit = false;  // cut values longer than lob_max_bytes
    bool bytes = false;      // source (kCopy) is stored as arena bytes
  };

  explicit RowTransformer(const TransformSpec& spec);
  // Appends the value of target column `col` for input row `row`; on failure appends nothing
  // and sets `problem` and `message_`.
  bool AppendColumn(const Batch& in, size_t row, int col, const HeaderValues& header, Batch* out,
                    RowProblem* problem);
  // Appends `v` cut to lob_max_bytes, noting `col` in cut_ when it was cut.
  void AppendLimitedLob(std::string_view v, int col, Batch* out);

  TransformSpec spec_;
  std::vector<Plan> plans_;
  std::unique_ptr<ExpressionSet> expressions_;
  bool identity_ = false;
  std::string message_;
  std::string scratch_;
  Batch lob_scratch_{1};
  std::string lob_warning_;
  std::vector<int> cut_;  // target columns cut in the current row
};

}  // namespace ferry
