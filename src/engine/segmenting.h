// Parallel segments chosen by Ferry rather than written by hand: one segment per source
// partition (DMS parallel-load partitions-auto / partitions-list) and automatic segments of a
// big table without a parallel-load rule (Ferry's own): PostgreSQL ctid page ranges (a TID
// range scan from PostgreSQL 14), MySQL/MariaDB and SQLite ranges of a single-column integer
// primary key. Every function here returns segments that cover every row exactly once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/connector.h"
#include "mapping/mapping_apply.h"
#include "mapping/table_mappings.h"
#include "task_model/plan.h"

namespace ferry {

// When a table splits itself. A table is split when its row estimate reaches `min_rows` or its
// size estimate reaches `min_bytes` (whichever is known), into at most `max_segments` parts.
struct AutoSegmentPolicy {
  int max_segments = 0;  // < 2 = never split
  int64_t min_rows = 1000000;
  int64_t min_bytes = int64_t{256} << 20;
};

// How many segments a table estimated at `rows` rows and `bytes` bytes (-1 = unknown) gets:
// policy.max_segments when either estimate reaches its threshold, else 0 (one stream).
int AutoSegmentCount(int64_t rows, int64_t bytes, const AutoSegmentPolicy& policy);

// The n-1 inner boundaries that split pages [0, pages) into n nearly equal ranges, strictly
// increasing, each in (0, pages); fewer when there are fewer pages than parts.
std::vector<int64_t> SplitPages(int64_t pages, int n);

// The n-1 inner boundaries that split the integers [min, max] into n nearly equal ranges, as
// decimal text, strictly increasing, each in (min, max]; fewer when the range is narrower than
// n. `min` and `max` are decimal integers within the signed/unsigned 64-bit range; throws
// Error(kInvalidArgument) otherwise or when min > max.
std::vector<std::string> SplitIntegerRange(std::string_view min, std::string_view max, int n);

// Segments over the page boundaries of SplitPages, each read with the source dialect's
// PageRangePredicate (PostgreSQL: `ctid < '(b1,0)'::tid`, then `ctid >= '(b1,0)'::tid AND
// ctid < '(b2,0)'::tid`, ...): the first starts at page 0, the last is open-ended (pages added
// after the measurement are read too). No boundaries = one segment without a predicate.
std::vector<Segment> PageRangeSegments(const Dialect& dialect,
                                       const std::vector<int64_t>& page_boundaries);

// Key-range segments over `quoted_column` (already quoted for the source) and the boundaries
// of SplitIntegerRange: `k < b1`, `k >= b1 AND k < b2`, ..., `k >= bn OR k IS NULL` (SQLite
// lets a non-INTEGER primary key column hold NULL; text and blobs sort after numbers there,
// so they land in the last segment too).
std::vector<Segment> KeySegments(const std::string& quoted_column,
                                 const std::vector<std::string>& boundaries);

// The automatic segments of `plan` on `source` under `policy`, measured on the source now:
// empty (one stream) when the table is below the thresholds, has nothing to split by (a view;
// no single-column integer primary key on MySQL/SQLite; not a plain heap table on PostgreSQL,
// except a partitioned parent, which splits by its leaf partitions), or the measurement fails
// (logged as a warning). Logs one info line per split table.
std::vector<Segment> PlanAutoSegments(SqlConnector& source, const TablePlan& plan,
                                      const AutoSegmentPolicy& policy);

// The segments of a DMS parallel-load partitions-auto or partitions-list rule for `table`:
// one per partition listed by `catalog` (PostgreSQL leaf partitions, MySQL partitions or, with
// `subpartitions`, subpartitions). partitions-auto of a table without partitions, and any
// partitions rule on SQLite, give no segments (one stream, with an info line).
// partitions-list throws Error(kInvalidArgument) naming `rule_id`, the table, the unknown
// partition and the partitions that exist; a listed MySQL partition that has subpartitions
// stands for all of them.
std::vector<Segment> PartitionSegments(CatalogReader& catalog, const TableDef& table,
                                       const ParallelLoad& load, const std::string& rule_id,
                                       bool subpartitions = true);

// Fills TablePlan::segments of every plan whose mapped table carries a partitions-auto or
// partitions-list parallel-load rule (PartitionSegments, subpartitions as DMS defaults: on).
// `plans` are PlanFromMappings(mapped, ...); the rule-id is found among `mappings`'
// table-settings rules. Throws what PartitionSegments throws.
void ResolvePartitionSegments(const std::vector<MappedTable>& mapped, const TableMappings& mappings,
                              SqlConnector& source, std::vector<TablePlan>* plans);

}  // namespace ferry
