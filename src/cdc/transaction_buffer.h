// Holds each source transaction's change records from Begin until its commit, and hands the
// committed transaction to the apply thread, with memory bounded whatever the transaction size
// (ChangeProcessingTuning.MemoryLimitTotal and MemoryKeepTime).
//
// A transaction lives in memory as 1 MB chunks of framed records (change_spool.h: u32 length,
// then the record EncodeChange wrote). When the memory of all transactions (open ones and
// committed ones not yet destroyed) exceeds the limit, the largest open in-memory transaction
// (the oldest on a tie) spills: its chunks are written to <spill_dir>/txn-<xid>-<seq>.spill and
// its further records go straight to the file through a 1 MB write buffer. A transaction that
// has stayed open longer than the keep time spills too. A spilled transaction streams back from
// its file at apply time in chunks. Spill files are not fsync'ed: after a crash the task
// restarts from its checkpoint, so a new TransactionBuffer deletes leftover *.spill files.
//
// Memory accounting counts the capacity of chunks, write buffers and read buffers (not the
// allocator's overhead, nor the ChangeView's decoded batch, which is one record's worth).
//
// Threading: a TransactionBuffer is used by the capture thread only; a CommittedTransaction by
// one thread at a time (normally the apply thread). stats() may be called from any thread of
// the TransactionBuffer's owner; BufferStats values come from atomics (a snapshot, each value
// consistent on its own).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "change/change.h"

namespace ferry::cdc {

class FrameReader;

struct BufferLimits {
  size_t memory_limit_bytes = size_t{1024} << 20;  // MemoryLimitTotal (MB) * 2^20
  std::chrono::seconds keep_time{60};              // MemoryKeepTime
  std::filesystem::path spill_dir;  // created when the first transaction spills; must be set
                                    // for spilling (Error(kInvalidArgument) otherwise)
  // The clock for keep_time (tests pass a fake one); empty = std::chrono::steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

// Counters for the status display and awsdms_status.
struct BufferStats {
  size_t memory_bytes = 0;                 // chunks + write/read buffers, committed ones too
  int64_t spilled_bytes_now = 0;           // bytes in spill files that exist now
  int64_t spill_files_now = 0;             // spill files that exist now
  int64_t spilled_transactions_total = 0;  // transactions spilled since construction
  size_t open_transactions = 0;            // begun and neither committed nor aborted
};

namespace detail {
struct BufferAccounting;  // shared by a TransactionBuffer and its CommittedTransactions
struct TxnData;           // one transaction's records (memory chunks or spill file)
}  // namespace detail

// A committed transaction, handed from the capture thread to the apply thread. Movable. Its
// memory counts in its TransactionBuffer's stats until it is destroyed; destroying it removes
// its spill file. May outlive the TransactionBuffer.
class CommittedTransaction {
 public:
  CommittedTransaction(TransactionInfo info, std::unique_ptr<detail::TxnData> data);
  CommittedTransaction(CommittedTransaction&&) noexcept;
  CommittedTransaction& operator=(CommittedTransaction&&) noexcept;
  ~CommittedTransaction();  // removes its spill file, releases its memory in the accounting

  const TransactionInfo& info() const { return info_; }
  int64_t changes() const;  // records in it
  size_t bytes() const;     // sum of the records' encoded sizes (without the frame lengths)
  bool spilled() const;

  // The next record, in the order added, into `out` (valid until the next call); false after
  // the last. From memory, or streamed from the spill file in chunks (memory: a chunk plus the
  // largest single record). Throws Error(kIo) for a read failure, Error(kData) naming the file
  // and byte offset for malformed bytes.
  bool Next(ChangeView* out);
  // Iterates again from the first record (apply retries). Throws Error(kIo).
  void Rewind();

 private:
  void SyncReaderMemory();
  TransactionInfo info_;
  std::unique_ptr<detail::TxnData> data_;
  size_t chunk_ = 0;         // in-memory iteration: chunk index and offset within it
  size_t chunk_offset_ = 0;
  uint64_t frame_offset_ = 0;  // offset of the current record among all chunks (for errors)
  std::unique_ptr<FrameReader> file_;  // spilled: opened at the first Next()
  std::optional<ChangeReader> record_;
  std::string where_;  // names the records' home in error messages
};

class TransactionBuffer {
 public:
  // Deletes leftover *.spill files in limits.spill_dir (when it exists). Throws Error(kIo).
  explicit TransactionBuffer(BufferLimits limits);
  ~TransactionBuffer();  // drops every open transaction (and its spill file)
  TransactionBuffer(const TransactionBuffer&) = delete;
  TransactionBuffer& operator=(const TransactionBuffer&) = delete;

  // Opens transaction `xid`. Throws Error(kInternal) when it is already open.
  void Begin(uint32_t xid);
  // Appends one record (EncodeChange's output; not checked here) to transaction `xid`, opening
  // it when Begin was not called. Spills as the limits say. Throws Error(kIo) for a spill
  // failure, Error(kInvalidArgument) when a spill is due and no spill_dir is set, Error(kData)
  // for a record of 4 GiB or more.
  // `subxid`: the subtransaction that wrote it (streamed transactions; 0 or xid = the
  // transaction itself), remembered so that Abort(xid, subxid) can take its records back.
  void Add(uint32_t xid, std::string_view record, uint32_t subxid = 0);
  // Closes transaction info.xid and returns its records (an empty transaction when it was never
  // begun). Throws Error(kIo) when its spill file cannot be flushed.
  std::unique_ptr<CommittedTransaction> Commit(const TransactionInfo& info);
  // subxid == xid: drops transaction `xid` (nothing when it is not open). Else subtransaction
  // `subxid` rolled back (ROLLBACK TO SAVEPOINT in a streamed transaction): drops its records
  // and those of every subtransaction that began after it (they nest), nothing when it added
  // none.
  void Abort(uint32_t xid, uint32_t subxid);
  // Drops every open transaction (after a reconnect the source sends them again).
  void Clear();

  BufferStats stats() const;

 private:
  std::chrono::steady_clock::time_point Now() const;
  detail::TxnData& Open(uint32_t xid);
  void Spill(detail::TxnData& txn);
  void EnforceLimits(detail::TxnData& added);

  BufferLimits limits_;
  std::shared_ptr<detail::BufferAccounting> accounting_;
  std::unordered_map<uint32_t, std::unique_ptr<detail::TxnData>> open_;
  uint64_t next_seq_ = 0;
  std::chrono::steady_clock::time_point next_sweep_{};
};

}  // namespace ferry::cdc
