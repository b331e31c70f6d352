// Planning a full load: which source tables move, and what each becomes on the target.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "catalog/table_def.h"
#include "connectors/connector.h"
#include "mapping/mapping_apply.h"
#include "transform/row_transform.h"

namespace ferry {

// One parallel-load segment of a table: rows matching `predicate` (in the source's SQL; ""
// = every row) read from `partition` (ScanOptions::partition; "" = the whole table).
struct Segment {
  std::string predicate;
  std::string partition;
  std::string partition_schema;  // PostgreSQL leaf partitions: their schema
  bool operator==(const Segment&) const = default;
};

// Segments as JSON ([{"predicate": ..., "partition": ..., "partition_schema": ...}], "" for
// none), as the task store keeps them; SegmentsFromJson throws Error(kInvalidArgument) for
// text SegmentsToJson did not write.
std::string SegmentsToJson(const std::vector<Segment>& segments);
std::vector<Segment> SegmentsFromJson(const std::string& json);

struct TablePlan {
  TableDef source;  // the columns to read, in target column order
  TableDef target;  // columns carry the source DmsTypes and the target's native types
  std::string where;   // source filter predicate in the source's SQL; "" = every row
  // The same filters as rules, on source column names: change data capture evaluates them on
  // each change's row images (cdc/row_filter.h). Empty = every row.
  std::vector<SourceFilter> filters;
  int load_order = 0;  // higher loads first (DMS load-order)
  // Parallel-load segments: each a predicate in the source's SQL (ANDed with `where`) and/or a
  // partition, read by its own reader at once; together they cover every row exactly once.
  // Empty = one stream (or automatic segments, FullLoadOptions::auto_segments).
  std::vector<Segment> segments;
  // The row-transform stage (add-column expressions, change-data-type, LOB limits). When set,
  // `source` holds every column of the source table, in source order, and each target column
  // is built by transform->columns; when empty, source column i feeds target column i as is.
  std::optional<TransformSpec> transform;
};

// The segments of a DMS parallel-load "ranges" setting: N boundaries give N+1 segments
// (<= the first, between consecutive ones, > the last). Rows whose range columns hold a NULL
// belong to no range; DMS loses them, Ferry puts them in the last segment. `quote` quotes
// source identifiers; values become string literals for `engine`.
std::vector<std::string> RangeSegments(const std::vector<std::string>& columns,
                                       const std::vector<std::vector<std::string>>& boundaries,
                                       Engine engine, const QuoteIdentifierFn& quote);

// `plan` restricted to what validation can compare: without a transform, the plan itself;
// with one, only the target columns copied unchanged from a source column (same DMS type, no
// LOB limit on them), each paired with its source column, and no transform.
TablePlan ComparablePlan(const TablePlan& plan);

// Selects tables by name: each pattern is "table" or "schema.table", with '*' and '%' matching
// any run of characters; an empty list selects every table.
bool TableSelected(const TableDef& table, const std::vector<std::string>& patterns);

// The target definition of `source` on `target` (see Dialect::MapColumn): target schema is
// `target_schema` when set, else the connector's default for the source schema. Keeps the
// primary key; keeps unique indexes only when there is no primary key (the DMS minimum).
TableDef MapTable(const TableDef& source, Engine source_engine, const Connector& target,
                  const std::string& target_schema);

// `listed` (a catalog's tables) with the tables in `as_of` as given instead: replaced by schema
// and name, appended when not listed. A resumed CDC task plans its live tables as they were
// when it started (CdcTaskOptions::replan).
std::vector<TableDef> TablesAsOf(std::vector<TableDef> listed, const std::vector<TableDef>& as_of);

// Plans every selected table. Throws Error(kInvalidArgument) when two source tables would land
// on the same target table, and Error(kNotFound) when a pattern without wildcards matches
// nothing.
std::vector<TablePlan> PlanTables(const std::vector<TableDef>& source_tables, Engine source_engine,
                                  const Connector& target, const std::string& target_schema,
                                  const std::vector<std::string>& patterns);

// Plans from AWS DMS table mappings already applied to the source catalog
// (mapping/mapping_apply.h): renamed schemas, tables and columns, removed columns, defined
// primary keys, source filters, load order, parallel-load ranges, and the row transform for
// add-column expressions and change-data-type (compiled here, so a bad expression throws
// Error(kInvalidArgument) naming the rule-id before anything is touched). A table whose schema
// no rule renamed lands where it would without mappings (`target_schema`, else the connector's
// default). Throws Error(kInvalidArgument) when two tables would land on one target.
std::vector<TablePlan> PlanFromMappings(const std::vector<MappedTable>& mapped,
                                        const Connector& source, const Connector& target,
                                        const std::string& target_schema);

}  // namespace ferry
