// Maps a captured change onto the target table of its plan. The capture encodes every change
// with the source table's full column list (as the catalog reports it); the plan may read fewer
// columns, in another order (remove-column, renames) and may build target columns through the
// row transform (add-column, change-data-type, LOB limits). The mapper applies the same to
// each row image, so a change lands exactly as the full load would have written the row.
//
// Unchanged values (Cell::unchanged: PostgreSQL TOAST the update did not touch) stay unchanged
// in a target column copied or converted from that source column; a target column computed by
// an expression from an unchanged input is computed from NULL (logged once per table).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "catalog/table_def.h"
#include "change/change.h"
#include "task_model/plan.h"
#include "transform/expression.h"
#include "transform/row_transform.h"

namespace ferry::cdc {

class ChangeMapper {
 public:
  // `captured`: the source table as the capture encodes it; `plan`: the table's plan. Throws
  // Error(kSchema) naming the column when a column the plan reads is not in `captured`.
  ChangeMapper(const TableDef& captured, const TablePlan& plan);
  ~ChangeMapper();

  // A mapper for a table whose columns changed since its plan was made (ALTER TABLE carried
  // through cdc::PlanTableChange): the plan may keep reading a column that is gone (an
  // add-column expression over a dropped column), which reads as NULL, as after Rebind.
  static std::unique_ptr<ChangeMapper> AfterTableChange(const TableDef& captured,
                                                        const TablePlan& plan);

  // The capture's columns changed (ALTER TABLE): records from now on follow `captured`.
  // Columns the plan reads that are gone become NULL. Throws like the constructor only for
  // internal inconsistencies.
  void Rebind(const TableDef& captured);

  // `in` (captured columns) as a change of the target table: rows owned by the mapper, valid
  // until the next call. Truncate passes through. Throws RowError (column = target column) when
  // the transform cannot build a value.
  ChangeView Map(const ChangeView& in, const HeaderValues& header);
  // Whether Map reads `header` (the plan transforms rows): callers build it only then (it
  // formats times and positions, per change).
  bool needs_header() const { return transformer_ != nullptr; }

  const TablePlan& plan() const { return plan_; }

 private:
  ChangeMapper(const TableDef& captured, const TablePlan& plan, bool gone_is_null);
  void Pick(const Batch& in, int row);
  TablePlan plan_;
  std::vector<std::string> input_names_;  // the columns the plan reads, in its order
  std::vector<int> from_captured_;        // per input column: captured index, -1 = absent
  std::unique_ptr<RowTransformer> transformer_;
  Batch input_;
  Batch output_;
  Batch one_;   // one-row scratch for the transform
  Batch out1_;  // its output
  bool warned_expression_unchanged_ = false;
};

}  // namespace ferry::cdc
