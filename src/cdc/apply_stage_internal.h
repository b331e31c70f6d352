// What the parts of ApplyStage share (apply_stage.cc: routing transactions and changes;
// apply_group.cc: committing groups, apply issues, retries, batch apply; apply_tables.cc:
// tables loading, reloading and going live with their cached changes; apply_ddl.cc: source
// table changes followed on the target). Private to them: include nowhere else.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "cdc/apply_stage.h"
#include "change/change.h"
#include "logging/log.h"

namespace ferry::cdc {

inline spdlog::logger& ApplyLog() { return logging::For(LogComponentId::kTargetApply); }

class ApplyStage::CommittedSource : public ApplyStage::TxnSource {
 public:
  explicit CommittedSource(std::unique_ptr<CommittedTransaction> txn) : txn_(std::move(txn)) {}
  const TransactionInfo& info() const override { return txn_->info(); }
  bool Next(ChangeView* out) override { return txn_->Next(out); }
  void Rewind() override { txn_->Rewind(); }

 private:
  std::unique_ptr<CommittedTransaction> txn_;
};

// A run of cached changes of one table, re-encoded in memory, replayed as one group entry.
class ApplyStage::CachedSource : public ApplyStage::TxnSource {
 public:
  explicit CachedSource(TransactionInfo info) : info_(std::move(info)), reader_(bytes_) {}
  const TransactionInfo& info() const override { return info_; }
  bool Next(ChangeView* out) override { return reader_.Next(out); }
  void Rewind() override { reader_ = ChangeReader(bytes_); }
  std::string& bytes() { return bytes_; }
  void set_info(const TransactionInfo& info) { info_ = info; }

 private:
  TransactionInfo info_;
  std::string bytes_;
  ChangeReader reader_;
};

}  // namespace ferry::cdc
