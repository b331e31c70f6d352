#include "cdc/transaction_buffer.h"

#include <fmt/format.h>

#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "cdc/change_spool.h"
#include "common/error.h"

namespace ferry::cdc {

namespace detail {

struct BufferAccounting {
  std::atomic<int64_t> memory_bytes{0};
  std::atomic<int64_t> spilled_bytes_now{0};
  std::atomic<int64_t> spill_files_now{0};
  std::atomic<int64_t> spilled_transactions_total{0};
  std::atomic<int64_t> open_transactions{0};
};

struct TxnData {
  TxnData(std::shared_ptr<BufferAccounting> a, uint32_t x, uint64_t s,
          std::chrono::steady_clock::time_point b)
      : acct(std::move(a)), xid(x), seq(s), began(b) {}
  TxnData(const TxnData&) = delete;
  TxnData& operator=(const TxnData&) = delete;

  ~TxnData() {
    if (writer) {
      try {
        writer->Close();
      } catch (const Error&) {  // NOLINT(bugprone-empty-catch): the file is deleted below
      }
      writer.reset();
    }
    acct->memory_bytes -= static_cast<int64_t>(accounted);
    if (spilled) {
      std::error_code ec;
      std::filesystem::remove(file, ec);  // best effort: a leftover is deleted at next start
      acct->spilled_bytes_now -= static_cast<int64_t>(file_bytes);
      acct->spill_files_now -= 1;
    }
  }

  // Brings the shared accounting up to date with what this transaction holds now.
  void Sync() {
    const size_t now = chunk_capacity + (writer ? writer->buffer_capacity() : 0) + reader_capacity;
    acct->memory_bytes += static_cast<int64_t>(now) - static_cast<int64_t>(accounted);
    accounted = now;
    if (writer) {
      const uint64_t fb = writer->bytes();
      acct->spilled_bytes_now += static_cast<int64_t>(fb) - static_cast<int64_t>(file_bytes);
      file_bytes = fb;
    }
  }

  // Appends one framed record to the in-memory chunks. A chunk grows up to kFrameChunkBytes
  // (never beyond: doubling past it would leave full chunks half empty); a record larger than
  // a chunk gets a chunk of its own, exactly its size.
  void AppendMemory(std::string_view record) {
    const uint64_t frame = uint64_t{4} + record.size();
    if (record.size() > UINT32_MAX) {
      throw Error(ErrorKind::kData,
                  fmt::format("change record of {} bytes in transaction {} is too large (at most "
                              "4 GiB - 1)", record.size(), xid));
    }
    if (chunks.empty() || chunks.back().size() + frame > kFrameChunkBytes) chunks.emplace_back();
    std::string& c = chunks.back();
    const size_t need = c.size() + static_cast<size_t>(frame);
    const size_t before = c.capacity();
    if (need > before) {
      size_t grow = before * 2 > need ? before * 2 : need;
      if (grow > kFrameChunkBytes && need <= kFrameChunkBytes) grow = kFrameChunkBytes;
      c.reserve(grow);
    }
    chunk_capacity += c.capacity() - before;
    char len[4];
    const auto n = static_cast<uint32_t>(record.size());
    std::memcpy(len, &n, 4);
    c.append(len, 4);
    c.append(record);
  }

  // Framed bytes held so far, in memory chunks or in the spill file.
  uint64_t FramedBytes() const {
    if (writer) return writer->bytes();
    uint64_t n = 0;
    for (const std::string& c : chunks) n += c.size();
    return n;
  }

  // Drops every frame from byte `at` on (a whole number of frames).
  void TruncateFrames(uint64_t at) {
    if (writer) {
      writer->Truncate(at);
    } else {
      uint64_t seen = 0;
      size_t keep = 0;
      for (; keep < chunks.size() && seen + chunks[keep].size() <= at; ++keep) {
        seen += chunks[keep].size();
      }
      if (keep < chunks.size() && at > seen) chunks[keep++].resize(at - seen);
      while (chunks.size() > keep) {
        chunk_capacity -= chunks.back().capacity();
        chunks.pop_back();
      }
    }
    Sync();
  }

  void DropChunks() {
    std::vector<std::string>().swap(chunks);
    chunk_capacity = 0;
  }

  std::shared_ptr<BufferAccounting> acct;
  uint32_t xid;
  uint64_t seq;  // order of Begin, for "oldest"
  std::chrono::steady_clock::time_point began;
  std::vector<std::string> chunks;  // framed records while in memory
  size_t chunk_capacity = 0;
  int64_t changes = 0;
  size_t bytes = 0;
  bool spilled = false;
  std::filesystem::path file;
  std::unique_ptr<FrameWriter> writer;  // open while the transaction is, once spilled
  uint64_t file_bytes = 0;              // accounted in spilled_bytes_now
  size_t reader_capacity = 0;           // a CommittedTransaction's read buffer
  size_t accounted = 0;                 // accounted in memory_bytes
  // Where each subtransaction's first record starts, in arrival order (streamed transactions).
  struct Subtransaction {
    uint32_t xid;
    uint64_t framed_at;  // FramedBytes() before its first record
    int64_t changes_at;
    size_t bytes_at;
  };
  std::vector<Subtransaction> subtransactions;
};

}  // namespace detail

using detail::TxnData;

// ---------------------------------------------------------------------------------------------
// CommittedTransaction

CommittedTransaction::CommittedTransaction(TransactionInfo info, std::unique_ptr<TxnData> data)
    : info_(info), data_(std::move(data)) {}
CommittedTransaction::CommittedTransaction(CommittedTransaction&&) noexcept = default;
CommittedTransaction& CommittedTransaction::operator=(CommittedTransaction&&) noexcept = default;

CommittedTransaction::~CommittedTransaction() {
  file_.reset();
  if (data_) {
    data_->reader_capacity = 0;
    data_->Sync();
  }
}

int64_t CommittedTransaction::changes() const { return data_ ? data_->changes : 0; }
size_t CommittedTransaction::bytes() const { return data_ ? data_->bytes : 0; }
bool CommittedTransaction::spilled() const { return data_ && data_->spilled; }

void CommittedTransaction::SyncReaderMemory() {
  const size_t cap = file_ ? file_->buffer_capacity() : 0;
  if (cap != data_->reader_capacity) {
    data_->reader_capacity = cap;
    data_->Sync();
  }
}

bool CommittedTransaction::Next(ChangeView* out) {
  if (!data_) return false;
  if (data_->spilled) {
    if (!file_) file_ = std::make_unique<FrameReader>(data_->file, data_->file_bytes);
    std::string_view payload;
    const bool more = file_->Next(&payload);
    SyncReaderMemory();
    if (!more) return false;
    if (where_.empty()) {
      where_ = fmt::format("transaction {} in spill file '{}'", info_.xid, file_->name());
    }
    DecodeOneRecord(payload, where_, file_->frame_offset(), &record_, out);
    return true;
  }
  const std::vector<std::string>& chunks = data_->chunks;
  while (chunk_ < chunks.size() && chunk_offset_ >= chunks[chunk_].size()) {
    ++chunk_;
    chunk_offset_ = 0;
  }
  if (chunk_ == chunks.size()) return false;
  const std::string& c = chunks[chunk_];
  uint32_t len = 0;
  if (c.size() - chunk_offset_ >= 4) std::memcpy(&len, c.data() + chunk_offset_, 4);
  if (c.size() - chunk_offset_ < 4 || len > c.size() - chunk_offset_ - 4) {
    throw Error(ErrorKind::kInternal,
                fmt::format("transaction {} in memory: frame at byte {} is cut", info_.xid,
                            frame_offset_));
  }
  const std::string_view record(c.data() + chunk_offset_ + 4, len);
  const uint64_t at = frame_offset_;
  chunk_offset_ += 4 + size_t{len};
  frame_offset_ += 4 + uint64_t{len};
  if (where_.empty()) where_ = fmt::format("transaction {} in memory", info_.xid);
  DecodeOneRecord(record, where_, at, &record_, out);
  return true;
}

void CommittedTransaction::Rewind() {
  chunk_ = 0;
  chunk_offset_ = 0;
  frame_offset_ = 0;
  if (file_) file_->Rewind();
}

// ---------------------------------------------------------------------------------------------
// TransactionBuffer

TransactionBuffer::TransactionBuffer(BufferLimits limits)
    : limits_(std::move(limits)), accounting_(std::make_shared<detail::BufferAccounting>()) {
  if (limits_.spill_dir.empty()) return;
  std::error_code ec;
  if (!std::filesystem::is_directory(limits_.spill_dir, ec)) return;
  std::vector<std::filesystem::path> leftovers;
  for (const auto& entry : std::filesystem::directory_iterator(limits_.spill_dir, ec)) {
    if (entry.path().extension() == ".spill") leftovers.push_back(entry.path());
  }
  for (const auto& p : leftovers) {
    std::filesystem::remove(p, ec);
    if (ec) {
      throw Error(ErrorKind::kIo, fmt::format("cannot delete leftover spill file '{}': {}",
                                              p.string(), ec.message()));
    }
  }
}

TransactionBuffer::~TransactionBuffer() { Clear(); }

std::chrono::steady_clock::time_point TransactionBuffer::Now() const {
  return limits_.clock ? limits_.clock() : std::chrono::steady_clock::now();
}

TxnData& TransactionBuffer::Open(uint32_t xid) {
  auto it = open_.find(xid);
  if (it != open_.end()) return *it->second;
  auto data = std::make_unique<TxnData>(accounting_, xid, next_seq_++, Now());
  TxnData& ref = *data;
  open_.emplace(xid, std::move(data));
  accounting_->open_transactions = static_cast<int64_t>(open_.size());
  return ref;
}

void TransactionBuffer::Begin(uint32_t xid) {
  if (open_.count(xid) != 0) {
    throw Error(ErrorKind::kInternal,
                fmt::format("transaction {} begins a second time without a commit", xid));
  }
  Open(xid);
}

void TransactionBuffer::Add(uint32_t xid, std::string_view record, uint32_t subxid) {
  TxnData& t = Open(xid);
  if (subxid != 0 && subxid != xid) {
    bool known = false;
    for (const detail::TxnData::Subtransaction& s : t.subtransactions) known |= s.xid == subxid;
    if (!known) t.subtransactions.push_back({subxid, t.FramedBytes(), t.changes, t.bytes});
  }
  if (t.spilled) {
    t.writer->Append(record);
  } else {
    t.AppendMemory(record);
  }
  ++t.changes;
  t.bytes += record.size();
  t.Sync();
  EnforceLimits(t);
}

void TransactionBuffer::Spill(TxnData& t) {
  if (limits_.spill_dir.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("transaction {} must spill to disk (memory limit {} bytes, keep time "
                            "{} s) but no spill directory is set", t.xid,
                            limits_.memory_limit_bytes, limits_.keep_time.count()));
  }
  std::error_code ec;
  std::filesystem::create_directories(limits_.spill_dir, ec);
  if (ec) {
    throw Error(ErrorKind::kIo, fmt::format("cannot create spill directory '{}': {}",
                                            limits_.spill_dir.string(), ec.message()));
  }
  std::filesystem::path path = limits_.spill_dir / fmt::format("txn-{}-{}.spill", t.xid, t.seq);
  auto writer = std::make_unique<FrameWriter>(path);
  try {
    for (const std::string& c : t.chunks) writer->AppendFramed(c);
  } catch (...) {
    writer.reset();
    std::filesystem::remove(path, ec);
    throw;
  }
  t.DropChunks();
  t.writer = std::move(writer);
  t.file = std::move(path);
  t.spilled = true;
  accounting_->spill_files_now += 1;
  accounting_->spilled_transactions_total += 1;
  t.Sync();
}

void TransactionBuffer::EnforceLimits(TxnData& added) {
  const auto now = Now();
  const auto keep = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      limits_.keep_time);
  if (!added.spilled && added.chunk_capacity > 0 && now - added.began >= keep) Spill(added);
  if (now >= next_sweep_) {  // transactions that stopped growing age too
    next_sweep_ = now + std::chrono::seconds(1);
    for (auto& [xid, t] : open_) {
      if (!t->spilled && t->chunk_capacity > 0 && now - t->began >= keep) Spill(*t);
    }
  }
  while (accounting_->memory_bytes.load() > static_cast<int64_t>(limits_.memory_limit_bytes)) {
    TxnData* victim = nullptr;
    for (auto& [xid, t] : open_) {
      if (t->spilled || t->chunk_capacity == 0) continue;
      if (victim == nullptr || t->accounted > victim->accounted ||
          (t->accounted == victim->accounted && t->seq < victim->seq)) {
        victim = t.get();
      }
    }
    if (victim != nullptr) {
      Spill(*victim);
      continue;
    }
    // Only spilled transactions (and committed ones the apply side holds) are left: free the
    // write buffers of the others; the one being added to keeps its buffer (one chunk).
    for (auto& [xid, t] : open_) {
      if (t.get() == &added || !t->writer || t->writer->buffer_capacity() == 0) continue;
      if (victim == nullptr ||
          t->writer->buffer_capacity() > victim->writer->buffer_capacity()) {
        victim = t.get();
      }
    }
    if (victim == nullptr) break;
    victim->writer->ReleaseBuffer();
    victim->Sync();
  }
}

std::unique_ptr<CommittedTransaction> TransactionBuffer::Commit(const TransactionInfo& info) {
  std::unique_ptr<TxnData> data;
  auto it = open_.find(info.xid);
  if (it == open_.end()) {
    data = std::make_unique<TxnData>(accounting_, info.xid, next_seq_++, Now());
  } else {
    data = std::move(it->second);
    open_.erase(it);
    accounting_->open_transactions = static_cast<int64_t>(open_.size());
  }
  if (data->writer) {
    data->writer->Close();
    data->Sync();
    data->writer.reset();
    data->Sync();
  }
  return std::make_unique<CommittedTransaction>(info, std::move(data));
}

void TransactionBuffer::Abort(uint32_t xid, uint32_t subxid) {
  if (subxid != xid) {
    auto it = open_.find(xid);
    if (it == open_.end()) return;
    TxnData& t = *it->second;
    // Subtransactions nest: everything since the aborted one's first record is its own or its
    // children's, so the transaction is cut back to there.
    for (size_t i = 0; i < t.subtransactions.size(); ++i) {
      if (t.subtransactions[i].xid != subxid) continue;
      const detail::TxnData::Subtransaction s = t.subtransactions[i];
      t.TruncateFrames(s.framed_at);
      t.changes = s.changes_at;
      t.bytes = s.bytes_at;
      t.subtransactions.resize(i);
      return;
    }
    return;  // it wrote nothing we hold
  }
  open_.erase(xid);
  accounting_->open_transactions = static_cast<int64_t>(open_.size());
}

void TransactionBuffer::Clear() {
  open_.clear();
  accounting_->open_transactions = 0;
}

BufferStats TransactionBuffer::stats() const {
  BufferStats s;
  const int64_t mem = accounting_->memory_bytes.load();
  s.memory_bytes = mem > 0 ? static_cast<size_t>(mem) : 0;
  s.spilled_bytes_now = accounting_->spilled_bytes_now.load();
  s.spill_files_now = accounting_->spill_files_now.load();
  s.spilled_transactions_total = accounting_->spilled_transactions_total.load();
  s.open_transactions = static_cast<size_t>(accounting_->open_transactions.load());
  return s;
}

}  // namespace ferry::cdc
