// The source filters of a table's selection rules (DMS `filters`), evaluated on the row images
// of captured changes, so change data capture keeps the target holding exactly the source rows
// that satisfy them, as the full load's WHERE clause did.
//
// Values compare by the column's DMS kind: integers, decimals and floats as numbers; dates,
// times and timestamps as points in time (a date literal against a timestamp column means its
// midnight); booleans as true/false; text and binary byte by byte (the C collation: a source
// column under another collation may order text differently for lte/gte/between, so the
// task logs a warning for such filters). NULL satisfies only `null` (and fails `notnull`), as
// in SQL.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "catalog/table_def.h"
#include "mapping/table_mappings.h"
#include "types/batch.h"

namespace ferry::cdc {

class RowFilter {
 public:
  // `filters` on `table`'s columns (source names). Throws Error(kInvalidArgument) naming the
  // rule, column and value when a column is missing or a literal does not fit its column.
  RowFilter(const std::vector<SourceFilter>& filters, const TableDef& table);

  // Whether row `row` of `rows` (columns of the table given at construction) satisfies every
  // filter; nullopt when a filtered column's value is not in the image (Cell::unchanged).
  std::optional<bool> Matches(const Batch& rows, int row) const;

  // The table's columns changed (ALTER TABLE). Throws like the constructor when a filtered
  // column is gone.
  void Rebind(const TableDef& table);

  // "lte/gte/between on text column c (rule 1)" for each ordering filter on a text column;
  // empty when none (see the header comment).
  const std::vector<std::string>& text_orderings() const { return text_orderings_; }

 private:
  struct Condition {
    FilterOperator op;
    // The literals in the column's comparable form: a number (decimal text or double), an
    // integer (dates, times, booleans), or bytes.
    std::string text_a, text_b;
    double d_a = 0, d_b = 0;
    int64_t i_a = 0, i_b = 0;
  };
  struct Filter {
    std::string column, rule_id;
    int index = -1;
    DmsType type;
    std::vector<Condition> conditions;
  };
  void Bind(const TableDef& table);
  bool Test(const Filter& f, const Condition& c, const Batch& rows, int row) const;

  std::vector<SourceFilter> source_;
  std::vector<Filter> filters_;
  std::vector<std::string> text_orderings_;
};

// Compares two canonical decimals (NormalizeDecimal): <0, 0, >0.
int CompareDecimal(std::string_view a, std::string_view b);

}  // namespace ferry::cdc
