// The pure comparison logic of data validation, with no database in sight (unit-testable on
// in-memory batches): how one value is made comparable across engines, how a row becomes a
// key and a hash, how rows fall into partitions and how a partition is summarised without
// depending on row order, and how the rows of a differing partition are compared by key.
//
// Comparable text: each column is rendered with AppendCanonical (types/value_codec.h) using
// the side's own DmsType, with these cross-engine adjustments decided by the pair of types
// (both sides apply the same rule, so equal values give equal text):
//  - REAL4 on one side and REAL8 on the other: a double that is exactly a float prints as the
//    float would ("0.1" for 0.1f read back as a double), so a float4 -> double round trip
//    compares equal; any other double prints in full and differs.
//  - a floating kind against NUMERIC or an integer kind: the double is printed as a canonical
//    decimal (NormalizeDecimal), so 2.5 equals NUMERIC 2.5 and 3.0 equals INT 3.
//  - LOB kinds (either side): SkipLobColumns leaves the column out of the comparison;
//    ValidationPartialLobSize (KB, > 0) compares only that many leading bytes.
// Nothing depends on row order or on collations: partitions are chosen by a hash of the key's
// comparable text and summarised by order-independent sums.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/table_def.h"
#include "settings/task_settings.h"
#include "types/batch.h"
#include "types/dms_type.h"

namespace ferry {

enum class ValueRule : uint8_t {
  kPlain,          // AppendCanonical as is
  kFloatIfExact,   // doubles that are exact floats print as floats (REAL4 vs REAL8)
  kDecimal,        // doubles print as canonical decimals (floating vs NUMERIC/integer)
};

// How the columns of one table pair are compared. Column i is source column i and target
// column i (the plan's order).
struct CompareSpec {
  std::vector<std::string> names;       // target column names, for messages and details
  std::vector<DmsType> source_types;
  std::vector<DmsType> target_types;
  std::vector<ValueRule> rules;
  std::vector<bool> compared;           // false: left out (SkipLobColumns)
  std::vector<bool> lob;                // LOB on either side (partial LOB size applies)
  std::vector<int> key_columns;         // indexes of the row-key columns, in key order
  int64_t lob_prefix_bytes = 0;         // 0 = whole LOBs
};

// Builds the spec. `key_names` are target column names (TableDef::RowKey of the plan's
// target); throws Error(kInvalidArgument) when the type vectors differ in size or a key name is
// not a column.
CompareSpec MakeCompareSpec(const std::vector<std::string>& names,
                            const std::vector<DmsType>& source_types,
                            const std::vector<DmsType>& target_types,
                            const std::vector<std::string>& key_names,
                            const ValidationSettings& settings);

enum class Side : uint8_t { kSource, kTarget };

// The comparable text of one value (NULL leaves `out` empty; check the cell's null flag).
void AppendComparable(const Batch& batch, size_t row, int col, const CompareSpec& spec,
                      Side side, std::string* out);

// One row reduced for comparison.
struct RowImage {
  std::string key;            // unambiguous encoding of the key columns' comparable text
  std::vector<std::optional<std::string>> key_values;  // key columns' text (nullopt = NULL)
  uint64_t key_hash = 0;
  uint64_t row_hash = 0;      // over every compared column (key included)
};

// Fills `out` for `row`. With `column_hashes`, also one hash per column (0 for a column left
// out) and with `display`, each column's printable value (binary as \x hex, NULL as null,
// cut at `display_limit` bytes with "...").
void MakeRowImage(const Batch& batch, size_t row, const CompareSpec& spec, Side side,
                  RowImage* out, std::vector<uint64_t>* column_hashes = nullptr,
                  std::vector<std::optional<std::string>>* display = nullptr,
                  size_t display_limit = 100);

// Number of partitions for a table: ceil(estimated_rows / partition_size), at least 1.
int64_t PartitionCount(int64_t estimated_rows, int64_t partition_size);
// The partition of a key, in [0, partitions).
uint64_t PartitionOf(uint64_t key_hash, int64_t partitions);
// A second, independent split of one partition into `ways` parts (pass 2 of a big partition).
uint64_t SubPartitionOf(uint64_t key_hash, uint64_t ways);

// Order-independent summary of a set of rows: equal multisets of (key, row) give equal
// summaries; any single changed, missing or extra row changes it.
struct PartitionSummary {
  uint64_t sum = 0;
  uint64_t xor_mix = 0;
  int64_t count = 0;
  void Add(uint64_t key_hash, uint64_t row_hash);
  void Merge(const PartitionSummary& other);
  bool operator==(const PartitionSummary&) const = default;
};

enum class FailureType : uint8_t { kRecordDiff, kMissingSource, kMissingTarget };
const char* FailureTypeName(FailureType type);  // "RECORD_DIFF", "MISSING_SOURCE", ...

struct RowDifference {
  FailureType type;
  std::string key_json;  // {"key": ["42", "a"]} as DMS shows KEY
  std::string details;   // RECORD_DIFF: [[{"col": "source value"}], [{"col": "target value"}]]
  std::vector<std::string> columns;  // RECORD_DIFF: names of the differing columns
};

// The key as DMS writes KEY in awsdms_validation_failures_v1.
std::string KeyJson(const std::vector<std::optional<std::string>>& key_values);

// Pass 2 for a set of rows (the rows of the partitions that differ): the source rows are
// added first and held by key; each target row is then matched against them; Finish reports
// the source rows no target row matched. Memory: one entry per source row added.
class KeyedComparer {
 public:
  using Report = std::function<void(RowDifference&&)>;
  explicit KeyedComparer(const CompareSpec& spec) : spec_(spec) {}

  void AddSource(const Batch& batch, size_t row);
  // Compares one target row; reports RECORD_DIFF or MISSING_SOURCE (also for a second target
  // row with the same key).
  void CompareTarget(const Batch& batch, size_t row, const Report& report);
  // Reports MISSING_TARGET for every source row not matched, and forgets them.
  void Finish(const Report& report);
  size_t held() const { return rows_.size(); }
  int64_t matched() const { return matched_; }

 private:
  struct Held {
    uint64_t row_hash;
    std::vector<std::optional<std::string>> key_values;
    std::vector<uint64_t> column_hashes;
    std::vector<std::optional<std::string>> display;
    bool matched = false;
  };
  const CompareSpec& spec_;
  std::unordered_map<std::string, Held> rows_;
  int64_t matched_ = 0;
};

}  // namespace ferry
