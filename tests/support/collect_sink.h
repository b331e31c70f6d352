// A BatchSink that keeps every batch a reader pushes and every warning it reports, for tests
// that compare what a reader produced.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/connector.h"
#include "types/batch.h"

namespace ferry::testing {

class CollectSink : public BatchSink {
 public:
  bool Push(Batch&& batch) override {
    batches.push_back(std::move(batch));
    return true;
  }
  void Warning(int column, std::string_view message) override {
    warnings.emplace_back(column, std::string(message));
  }
  // Rows over every batch.
  size_t Rows() const {
    size_t n = 0;
    for (const Batch& b : batches) n += b.rows();
    return n;
  }

  std::vector<Batch> batches;
  std::vector<std::pair<int, std::string>> warnings;  // (column, message), in order
};

}  // namespace ferry::testing
