// A table's content fingerprint, independent of engine and row order: the row count and the
// wrapping sum of CanonicalRowHash over every row (types/value_codec.h). Two tables with the
// same digest hold the same multiset of canonical rows. Used by tests, benchmarks and
// `ferry hash`; the validation issue builds partitioned comparisons on the same encoding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "connectors/connector.h"

namespace ferry {

struct TableDigest {
  int64_t rows = 0;
  uint64_t hash = 0;
  // With keep_rows: one readable line per row ("col=value|col=NULL|..."), sorted, so tests can
  // show exactly which values differ.
  std::vector<std::string> row_texts;
  // With keep_rows: every row's hash, sorted (compare tables whose column names differ).
  std::vector<uint64_t> row_hashes;

  std::string HashHex() const;
};

// Reads every row of `table` through `reader`. Binary values are shown as hex in row_texts.
TableDigest DigestTable(TableReader& reader, const TableDef& table, bool keep_rows = false);

}  // namespace ferry
