#include "engine/full_load.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <thread>

#include "engine/bounded_queue.h"
#include "types/value_codec.h"

namespace ferry {

int DefaultParallelism() {
  unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n, 2u, 8u));
}

namespace {

// Hands reader batches to the writer's queue and records policy warnings. Used by every
// segment reader of a table at once: thread-safe.
class QueueSink : public BatchSink {
 public:
  QueueSink(BoundedQueue<Batch>& queue, TableStats& stats, const TableDef& table,
            const std::atomic<bool>& cancelled, size_t max_logged)
      : queue_(queue), stats_(stats), table_(table), cancelled_(cancelled),
        max_logged_(max_logged) {}

  bool Push(Batch&& batch) override {
    if (cancelled_) return false;
    stats_.rows_read += static_cast<int64_t>(batch.rows());
    stats_.bytes_read += static_cast<int64_t>(batch.ByteSize());
    return queue_.Push(std::move(batch));
  }

  void Warning(int column, std::string_view message) override {
    std::string key = fmt::format(
        "column {}: {}",
        column >= 0 && column < static_cast<int>(table_.columns.size()) ? table_.columns[column].name
                                                                        : "?",
        message);
    int64_t count;
    {
      std::lock_guard lock(stats_.mu);
      count = ++stats_.warnings[key];
    }
    const size_t logged = logged_++;  // parallel segments warn from several threads
    if (logged < max_logged_) {
      spdlog::warn("table {}: {}", table_.QualifiedName(), key);
    } else if (logged == max_logged_) {
      spdlog::warn("table {}: more warnings follow; counted in the summary only",
                   table_.QualifiedName());
    }
    (void)count;
  }

 private:
  BoundedQueue<Batch>& queue_;
  TableStats& stats_;
  const TableDef& table_;
  const std::atomic<bool>& cancelled_;
  size_t max_logged_;
  std::atomic<size_t> logged_{0};
};

std::string ColumnName(const TableDef& table, int column) {
  if (column < 0 || column >= static_cast<int>(table.columns.size())) return "?";
  return table.columns[column].name;
}

}  // namespace

FullLoad::FullLoad(Connector& source, Connector& target, std::vector<TablePlan> plans,
                   FullLoadOptions options)
    : source_(source), target_(target), plans_(std::move(plans)), options_(std::move(options)) {
  for (const TablePlan& plan : plans_) {
    auto st = std::make_unique<TableStats>();
    st->source_schema = plan.source.schema;
    st->source_table = plan.source.name;
    st->target_schema = plan.target.schema;
    st->target_table = plan.target.name;
    st->estimated_rows = plan.source.estimated_rows;
    stats_.push_back(std::move(st));
  }
  for (size_t i = 0; i < plans_.size(); ++i) order_.push_back(i);
  // Higher DMS load-order first; within one, largest first, so the longest table does not
  // start last and stretch the tail.
  std::stable_sort(order_.begin(), order_.end(), [&](size_t a, size_t b) {
    if (plans_[a].load_order != plans_[b].load_order) {
      return plans_[a].load_order > plans_[b].load_order;
    }
    auto size = [&](size_t i) {
      const TableDef& t = plans_[i].source;
      return t.estimated_bytes > 0 ? t.estimated_bytes : t.estimated_rows;
    };
    return size(a) > size(b);
  });
}

bool FullLoad::AllCompleted() const {
  return std::all_of(stats_.begin(), stats_.end(), [](const auto& st) {
    std::lock_guard lock(st->mu);
    return st->state == kStateCompleted;
  });
}

void FullLoad::Run() {
  int parallel = options_.parallel > 0 ? options_.parallel : DefaultParallelism();
  parallel = std::min<int>(parallel, static_cast<int>(std::max<size_t>(plans_.size(), 1)));
  std::vector<std::thread> workers;
  for (int i = 0; i < parallel; ++i) workers.emplace_back([this] { Worker(); });
  for (auto& w : workers) w.join();
}

void FullLoad::Worker() {
  std::unique_ptr<TableReader> reader;
  std::unique_ptr<TableWriter> writer;
  while (!cancelled_) {
    size_t slot = next_++;
    if (slot >= order_.size()) return;
    LoadTable(order_[slot], reader, writer);
  }
}

void FullLoad::EnsureSchemaOnce(TableWriter& writer, const std::string& schema) {
  std::lock_guard lock(schema_mu_);
  if (schemas_done_.count(schema)) return;
  writer.EnsureSchema(schema);
  schemas_done_.insert(schema);
}

void FullLoad::LoadTable(size_t index, std::unique_ptr<TableReader>& reader,
                         std::unique_ptr<TableWriter>& writer) {
  const TablePlan& plan = plans_[index];
  TableStats& st = *stats_[index];
  {
    std::lock_guard lock(st.mu);
    st.state = kStateFullLoad;
    st.start_time = WallClock::now();
  }
  st.running = true;
  const std::string table_name = plan.source.QualifiedName();

  auto fail = [&](const std::string& message) {
    st.running = false;
    spdlog::error("table {}: {}", table_name, message);
    std::lock_guard lock(st.mu);
    st.state = cancelled_ ? kStateCancelled : kStateError;
    st.error = message;
    st.end_time = WallClock::now();
  };

  bool load_open = false;
  BoundedQueue<Batch> queue(options_.queue_batches);
  std::thread read_thread;
  std::exception_ptr read_error;
  std::vector<std::unique_ptr<TableReader>> segment_readers;  // parallel-load segments 2..N
  // Lives outside the try block: the read thread uses it until abandon() joins it.
  QueueSink sink(queue, st, plan.source, cancelled_, options_.max_warnings_logged);
  // Stops the reader and rolls back, whatever went wrong on the writer side.
  auto abandon = [&] {
    queue.CloseAndClear();
    if (read_thread.joinable()) read_thread.join();
    if (load_open && writer) writer->AbortLoad();
    load_open = false;
  };

  try {
    if (!writer) writer = target_.OpenWriter();
    if (!reader) reader = source_.OpenReader();
    EnsureSchemaOnce(*writer, plan.target.schema);
    writer->PrepareTable(plan.target, options_.prep_mode);
    writer->BeginLoad(plan.target);
    load_open = true;

    // One reader, or one per parallel-load segment, all feeding the table's queue; the last
    // one to finish closes it. Extra segment readers get their own connections.
    const std::vector<std::string> predicates =
        plan.segments.empty() ? std::vector<std::string>{""} : plan.segments;
    for (size_t i = 1; i < predicates.size(); ++i) segment_readers.push_back(source_.OpenReader());
    read_thread = std::thread([&] {
      std::atomic<size_t> running{predicates.size()};
      std::mutex error_mu;
      auto scan_segment = [&](TableReader& r, const std::string& predicate) {
        try {
          ScanOptions scan = options_.scan;
          scan.where = plan.where;
          if (!predicate.empty()) {
            scan.where = plan.where.empty() ? predicate
                                            : "(" + plan.where + ") AND (" + predicate + ")";
          }
          r.Scan(plan.source, scan, sink);
        } catch (...) {
          std::lock_guard lock(error_mu);
          if (!read_error) read_error = std::current_exception();
          queue.CloseAndClear();  // a failed segment fails the table: stop the others
        }
        if (--running == 0) queue.Close();
      };
      std::vector<std::thread> others;
      for (size_t i = 1; i < predicates.size(); ++i) {
        others.emplace_back([&, i] { scan_segment(*segment_readers[i - 1], predicates[i]); });
      }
      scan_segment(*reader, predicates[0]);
      for (auto& t : others) t.join();
    });

    while (std::optional<Batch> batch = queue.Pop()) {
      try {
        writer->Write(*batch);
      } catch (const RowError& e) {
        std::string key = e.row_key.empty() && e.batch_row >= 0
                              ? DescribeRowKey(*batch, static_cast<size_t>(e.batch_row), plan.target)
                              : e.row_key;
        std::string message =
            fmt::format("column {}, row {}: {}", ColumnName(plan.target, e.column), key, e.what());
        abandon();
        ++st.full_load_error_rows;
        fail(message);
        return;
      }
      st.full_load_rows += static_cast<int64_t>(batch->rows());
    }
    read_thread.join();
    if (read_error) std::rethrow_exception(read_error);
    if (cancelled_) {
      abandon();
      fail("cancelled before the load finished");
      return;
    }
    writer->EndLoad();
    load_open = false;
  } catch (const RowError& e) {
    // A value the source reader could not represent.
    std::string key = !e.row_key.empty()
                          ? e.row_key
                          : fmt::format("#{} of the scan", st.rows_read.load() + e.batch_row + 1);
    abandon();
    ++st.full_load_error_rows;
    fail(fmt::format("column {}, row {}: {}", ColumnName(plan.source, e.column), key, e.what()));
    return;
  } catch (const Error& e) {
    abandon();
    // A broken connection cannot be trusted for the next table: reopen.
    if (e.kind() == ErrorKind::kConnection) {
      reader.reset();
      writer.reset();
    }
    fail(e.what());
    return;
  } catch (const std::exception& e) {
    abandon();
    reader.reset();
    writer.reset();
    fail(fmt::format("internal error: {}", e.what()));
    return;
  }
  st.running = false;
  std::lock_guard lock(st.mu);
  st.state = kStateCompleted;
  st.end_time = WallClock::now();
}

}  // namespace ferry
