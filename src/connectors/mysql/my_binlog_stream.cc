#include "connectors/mysql/my_binlog_stream.h"

#include <errmsg.h>
#include <fmt/format.h>
#include <mysql.h>
#include <sys/socket.h>

// After mysql.h, whose types it uses without including it.
#include <mariadb_rpl.h>

#include <atomic>
#include <exception>
#include <optional>
#include <thread>

#include "common/bounded_queue.h"
#include "common/error.h"
#include "connectors/mysql/my_connection.h"
#include "connectors/mysql/my_types.h"

namespace ferry::mysql {

namespace {

constexpr unsigned kFatalReadingBinlog = 1236;  // ER_MASTER_FATAL_ERROR_READING_BINLOG

struct StreamItem {
  std::string bytes;
  std::exception_ptr error;  // set on the last item: why the stream ended
};

class ReplicaStream : public BinlogStream {
 public:
  ReplicaStream(const EndpointUri& uri, const ReplicaStreamOptions& options)
      : options_(options), queue_(options.queue_events) {
    const std::string no_database;
    conn_ = std::make_unique<MyConnection>(uri, &no_database);
    where_ = conn_->Where();
    const std::string what = fmt::format("starting to read the binlog of {} at {}", where_,
                                         FormatBinlogPoint(options.start));
    // The checksum the server writes comes with every event (the decoder checks it); MariaDB's
    // GTID capability makes it send GTID and annotate events as written; the heartbeat period
    // (nanoseconds) keeps an idle stream talking.
    const int64_t heartbeat_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(options.heartbeat).count();
    conn_->Execute(fmt::format("SET @master_binlog_checksum = @@global.binlog_checksum, "
                               "@mariadb_slave_capability = 4, @master_heartbeat_period = {}",
                               heartbeat_ns),
                   what);
    if (options.start.file.empty()) {
      // A MariaDB GTID position without a file: the server starts after those transactions
      // (COM_BINLOG_DUMP with no file name reads @slave_connect_state).
      conn_->Execute(fmt::format("SET @slave_connect_state = {}, @slave_gtid_strict_mode = 0, "
                                 "@slave_gtid_ignore_duplicates = 0",
                                 QuoteLiteral(options.start.gtid)),
                     what);
    }
    rpl_ = mariadb_rpl_init_ex(conn_->get(), MARIADB_RPL_VERSION);
    if (!rpl_) conn_->ThrowLastError(what);
    const std::string& file = options.start.file;
    const unsigned long start = options.start.offset < 4 ? 4 : options.start.offset;
    const unsigned int server_id = options.server_id;
    const unsigned int flags = 0;
    if (mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FILENAME, file.c_str(), file.size()) != 0 ||
        mariadb_rpl_optionsv(rpl_, MARIADB_RPL_START, start) != 0 ||
        mariadb_rpl_optionsv(rpl_, MARIADB_RPL_SERVER_ID, server_id) != 0 ||
        mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FLAGS, flags) != 0) {
      ThrowRplError(what);
    }
    if (mariadb_rpl_open(rpl_) != 0) ThrowRplError(what);
    socket_ = static_cast<int>(mysql_get_socket(conn_->get()));
    thread_ = std::thread([this] { ReadLoop(); });
  }

  ~ReplicaStream() override {
    stopping_ = true;
    queue_.Close();
    // Wakes the read blocked on the socket; the connection is closed below.
    if (socket_ >= 0) ::shutdown(socket_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    if (rpl_) mariadb_rpl_close(rpl_);
  }

  bool Next(std::string* event, std::chrono::milliseconds wait) override {
    if (ended_) std::rethrow_exception(ended_);
    std::optional<StreamItem> item = queue_.PopFor(wait);
    if (!item) return false;
    buffered_ -= item->bytes.size();
    if (item->error) {
      ended_ = item->error;
      std::rethrow_exception(ended_);
    }
    *event = std::move(item->bytes);
    return true;
  }

  size_t buffered_bytes() const override { return buffered_.load(); }

 private:
  [[noreturn]] void ThrowRplError(std::string_view what) const {
    const unsigned code =
        mariadb_rpl_errno(rpl_) != 0 ? mariadb_rpl_errno(rpl_) : mysql_errno(conn_->get());
    std::string text = mariadb_rpl_error(rpl_) && *mariadb_rpl_error(rpl_)
                           ? mariadb_rpl_error(rpl_)
                           : mysql_error(conn_->get());
    throw MakeError(code, text, what);
  }

  Error MakeError(unsigned code, const std::string& text, std::string_view what) const {
    ErrorKind kind = KindForMysqlError(code);
    if (code == kFatalReadingBinlog) {
      // "Could not find first log file name in binary log index file": purged, or never was.
      kind = text.find("find first log file") != std::string::npos ||
                     text.find("purged") != std::string::npos
                 ? ErrorKind::kNotFound
                 : ErrorKind::kInvalidArgument;
    } else if (kind == ErrorKind::kData || kind == ErrorKind::kSchema) {
      kind = ErrorKind::kInvalidArgument;
    }
    return Error(kind, fmt::format("{}: {} (MySQL error {})", what, text, code));
  }

  void ReadLoop() {
    MARIADB_RPL_EVENT* event = nullptr;
    const std::string what = fmt::format("reading the binlog of {}", where_);
    while (!stopping_) {
      // Reuses `event`'s memory; on failure the library has freed it.
      event = mariadb_rpl_fetch(rpl_, event);
      if (!event) {
        if (stopping_) return;
        unsigned code = mariadb_rpl_errno(rpl_);
        std::string text = mariadb_rpl_error(rpl_) ? mariadb_rpl_error(rpl_) : "";
        if (code == 0) {
          code = mysql_errno(conn_->get());
          text = mysql_error(conn_->get());
        }
        if (code == 0) {
          code = CR_SERVER_LOST;
          text = "the server ended the binlog stream";
        }
        StreamItem end;
        end.error = std::make_exception_ptr(MakeError(code, text, what));
        queue_.Push(std::move(end));
        return;
      }
      const size_t ofs = event->raw_data_ofs;
      if (ofs > event->raw_data_size) continue;
      StreamItem item;
      item.bytes.assign(reinterpret_cast<const char*>(event->raw_data) + ofs,
                        event->raw_data_size - ofs);
      buffered_ += item.bytes.size();
      if (!queue_.Push(std::move(item))) break;
    }
    if (event) mariadb_free_rpl_event(event);
  }

  ReplicaStreamOptions options_;
  std::unique_ptr<MyConnection> conn_;
  std::string where_;
  MARIADB_RPL* rpl_ = nullptr;
  int socket_ = -1;
  BoundedQueue<StreamItem> queue_;
  std::atomic<size_t> buffered_{0};
  std::atomic<bool> stopping_{false};
  std::exception_ptr ended_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<BinlogStream> OpenReplicaStream(const EndpointUri& uri,
                                                const ReplicaStreamOptions& options) {
  return std::make_unique<ReplicaStream>(uri, options);
}

}  // namespace ferry::mysql
