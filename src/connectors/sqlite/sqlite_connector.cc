// The SQLite connector: one file is one database with the single schema "main".
//
// uri.database is the file path. As a source (catalog, reader) the file must exist and is
// opened read-only; as a target (writer, session) it is created when missing, in a directory
// that must exist. Every object opens its own connection (SQLITE_OPEN_NOMUTEX), so readers in
// parallel threads and writers of different tables work side by side (see sqlite_writer.h
// for how writers share the file's single write lock).
#include "connectors/sqlite/sqlite_connector.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "connectors/sqlite/sqlite_applier.h"
#include "connectors/sqlite/sqlite_capture.h"
#include "connectors/sqlite/sqlite_catalog.h"
#include "connectors/sqlite/sqlite_position.h"
#include "connectors/sqlite/sqlite_reader.h"
#include "connectors/sqlite/sqlite_types.h"
#include "connectors/sqlite/sqlite_writer.h"
#include "sqlite_api/sqlite_connection.h"

namespace ferry::sqlite {

namespace {

class SqliteSession : public SqlSession {
 public:
  explicit SqliteSession(const std::string& path)
      : conn_(path, Connection::Mode::kReadWrite) {}

  void Execute(const std::string& sql) override { conn_.Exec(sql); }

  std::vector<std::vector<std::optional<std::string>>> Query(const std::string& sql) override {
    Statement st(conn_, sql);
    std::vector<std::vector<std::optional<std::string>>> rows;
    const int n = sqlite3_column_count(st.get());
    while (st.Step()) {
      std::vector<std::optional<std::string>> row;
      row.reserve(n);
      for (int c = 0; c < n; ++c) {
        const int type = sqlite3_column_type(st.get(), c);
        if (type == SQLITE_NULL) {
          row.emplace_back(std::nullopt);
        } else if (type == SQLITE_BLOB) {
          const void* p = sqlite3_column_blob(st.get(), c);
          row.emplace_back(std::string(p ? static_cast<const char*>(p) : "",
                                       static_cast<size_t>(sqlite3_column_bytes(st.get(), c))));
        } else {
          row.emplace_back(std::string(st.ColumnText(c)));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

 private:
  Connection conn_;
};

// The directory of database file `path` ("." for a bare file name).
std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

class SqliteConnector : public SqlConnector {
 public:
  explicit SqliteConnector(const EndpointUri& uri) : uri_(uri) {
    if (uri_.database.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("SQLite endpoint {} names no database file", uri_.Describe()));
    }
    datetime_numbers_ = ParseDatetimeNumbers(uri_.Param("datetime_numbers"));
  }

  Engine engine() const override { return Engine::kSqlite; }
  const EndpointUri& uri() const override { return uri_; }

  // An existing file must be a readable SQLite database; a missing one is fine when its
  // directory exists (a target creates it), so nothing is created here.
  void TestConnection() override {
    struct stat st;
    if (stat(uri_.database.c_str(), &st) == 0) {
      Connection conn(uri_.database, Connection::Mode::kReadOnly);
      return;
    }
    const std::string& path = uri_.database;
    const std::string dir = DirectoryOf(path);
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      throw Error(ErrorKind::kNotFound,
                  fmt::format("directory '{}' of SQLite database file '{}' does not exist", dir,
                              path));
    }
  }

  // A probe file created and removed in the database's directory: a read-only directory or
  // file system (which even root cannot write) is refused before any table starts.
  void TestWritable() override {
    const std::string& path = uri_.database;
    const std::string dir = DirectoryOf(path);
    const std::string probe = fmt::format("{}/.ferry-write-probe-{}", dir, ::getpid());
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      const int err = errno;
      throw Error(ErrorKind::kAuth,
                  fmt::format("SQLite database file '{}' cannot be written: its directory '{}' "
                              "takes no new files ({}), and SQLite needs that for the database "
                              "and its journal",
                              path, dir, std::strerror(err)));
    }
    ::close(fd);
    ::unlink(probe.c_str());
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && ::access(path.c_str(), W_OK) != 0) {
      throw Error(ErrorKind::kAuth,
                  fmt::format("SQLite database file '{}' is read-only ({})", path,
                              std::strerror(errno)));
    }
  }

  // The file's absolute path, symbolic links resolved (the file may not exist yet).
  std::string Identity() override {
    std::error_code ec;
    std::filesystem::path p = std::filesystem::weakly_canonical(uri_.database, ec);
    if (ec) p = std::filesystem::absolute(uri_.database);
    return "sqlite file " + p.string();
  }

  std::unique_ptr<CatalogReader> OpenCatalog() override {
    return std::make_unique<SqliteCatalogReader>(uri_.database);
  }
  std::unique_ptr<TableReader> OpenReader() override {
    return std::make_unique<SqliteTableReader>(uri_.database, datetime_numbers_);
  }
  std::unique_ptr<TableWriter> OpenWriter() override {
    return std::make_unique<SqliteTableWriter>(uri_.database);
  }
  std::unique_ptr<SqlSession> OpenSession() override {
    return std::make_unique<SqliteSession>(uri_.database);
  }
  const Dialect& dialect() const override { return dialect_; }
  // SQLite compares every name ignoring ASCII letter case (only ASCII: "É" and "é" differ)
  // and keeps table names starting with sqlite_ for itself; names have no length limit.
  std::unique_ptr<NameRules> TargetNameRules() override {
    auto rules = std::make_unique<FixedNameRules>();
    rules->engine = "SQLite";
    rules->ascii_case_insensitive = true;
    rules->reserved_prefix = "sqlite_";
    return rules;
  }
  std::unique_ptr<cdc::ChangeCapture> OpenChangeCapture(
      const cdc::CaptureOptions& options) override {
    return OpenSqliteCapture(uri_.database, datetime_numbers_, options);
  }
  const cdc::PositionCodec* positions() const override { return &SeqCodec(); }
  std::unique_ptr<cdc::ChangeApplier> OpenChangeApplier() override {
    return std::make_unique<SqliteChangeApplier>(uri_.database);
  }
  std::string DefaultTargetSchema(const std::string& source_schema,
                                  Engine source_engine) const override {
    return "main";
  }

 private:
  EndpointUri uri_;
  DatetimeNumbers datetime_numbers_ = DatetimeNumbers::kAuto;
  const Dialect& dialect_ = EngineDialect();
};

}  // namespace

const Dialect& EngineDialect() {
  static const SqliteDialect dialect;
  return dialect;
}

std::unique_ptr<SqlConnector> OpenSqliteConnector(const EndpointUri& uri) {
  return std::make_unique<SqliteConnector>(uri);
}

}  // namespace ferry::sqlite
