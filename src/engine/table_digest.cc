#include "engine/table_digest.h"

#include <fmt/format.h>

#include <algorithm>

#include "types/value_codec.h"

namespace ferry {

std::string TableDigest::HashHex() const { return fmt::format("{:016x}", hash); }

namespace {

class DigestSink : public BatchSink {
 public:
  DigestSink(const TableDef& table, bool keep_rows, TableDigest* out)
      : table_(table), keep_rows_(keep_rows), out_(out) {
    for (const ColumnDef& c : table.columns) types_.push_back(c.type);
  }

  bool Push(Batch&& batch) override {
    for (size_t r = 0; r < batch.rows(); ++r) {
      const uint64_t h = CanonicalRowHash(batch, r, types_.data());
      out_->hash += h;
      ++out_->rows;
      if (keep_rows_) {
        out_->row_texts.push_back(RowText(batch, r));
        out_->row_hashes.push_back(h);
      }
    }
    return true;
  }
  void Warning(int, std::string_view) override {}

 private:
  std::string RowText(const Batch& batch, size_t row) {
    std::string line;
    for (int c = 0; c < batch.columns(); ++c) {
      if (c) line += '|';
      line += table_.columns[c].name;
      line += '=';
      if (batch.IsNull(row, c)) {
        line += "NULL";
        continue;
      }
      std::string v;
      AppendCanonical(batch, row, c, types_[c], &v);
      if (IsBinary(types_[c].kind)) {
        std::string hex;
        for (unsigned char ch : v) hex += fmt::format("{:02x}", ch);
        v = "\\x" + hex;
      }
      if (v.size() > 200) v = fmt::format("{}...({} bytes)", v.substr(0, 200), v.size());
      line += "'" + v + "'";
    }
    return line;
  }

  const TableDef& table_;
  bool keep_rows_;
  TableDigest* out_;
  std::vector<DmsType> types_;
};

}  // namespace

TableDigest DigestTable(TableReader& reader, const TableDef& table, bool keep_rows) {
  TableDigest digest;
  DigestSink sink(table, keep_rows, &digest);
  reader.Scan(table, ScanOptions{}, sink);
  std::sort(digest.row_texts.begin(), digest.row_texts.end());
  std::sort(digest.row_hashes.begin(), digest.row_hashes.end());
  return digest;
}

}  // namespace ferry
