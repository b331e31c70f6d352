#include "transform/expression.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <charconv>
#include <chrono>
#include <cmath>

#include "common/error.h"
#include "types/utf8.h"
#include "types/value_codec.h"

namespace ferry {

namespace {

// Header ids, in the order of HeaderColumnNames().
enum HeaderId {
  kOperation,
  kTimestamp,
  kCommitTimestamp,
  kDbCommitTimestamp,
  kStreamPosition,
  kChangeSeq,
  kTransactionId,
  kUser,
  kHeaderCount
};

const std::optional<std::string>& HeaderField(const HeaderValues& h, int id) {
  switch (id) {
    case kOperation:
      return h.operation;
    case kTimestamp:
      return h.timestamp;
    case kCommitTimestamp:
      return h.commit_timestamp;
    case kDbCommitTimestamp:
      return h.db_commit_timestamp;
    case kStreamPosition:
      return h.stream_position;
    case kChangeSeq:
      return h.change_seq;
    case kTransactionId:
      return h.transaction_id;
    default:
      return h.user;
  }
}

// Steps of about 1,000 VM instructions one evaluation may take (about 10 million
// instructions: far beyond any per-row expression, a guard against runaway ones).
constexpr int kProgressInterval = 1000;
constexpr int64_t kProgressBudget = 10'000;

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Length of the UTF-8 character starting at s[i] (1 for invalid bytes).
size_t CharLength(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  return i + n <= s.size() ? n : 1;
}

std::vector<std::string_view> SplitChars(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < s.size();) {
    const size_t n = CharLength(s, i);
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

// replaceChars(X, Y, Z) as the DMS guide defines it.
void ReplaceChars(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (argc != 3) return;
  for (int i = 0; i < 3; ++i) {
    if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
      sqlite3_result_null(ctx);
      return;
    }
  }
  auto text = [&](int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(argv[i]));
    return std::string_view(p ? p : "", static_cast<size_t>(sqlite3_value_bytes(argv[i])));
  };
  const std::string_view x = text(0);
  const std::vector<std::string_view> from = SplitChars(text(1));
  const std::vector<std::string_view> to = SplitChars(text(2));
  std::string out;
  out.reserve(x.size());
  for (size_t i = 0; i < x.size();) {
    const size_t n = CharLength(x, i);
    const std::string_view ch = x.substr(i, n);
    size_t k = 0;
    while (k < from.size() && from[k] != ch) ++k;
    if (k == from.size() || to.empty()) {
      out.append(ch);
    } else {
      out.append(k < to.size() ? to[k] : to[0]);
    }
    i += n;
  }
  sqlite3_result_text(ctx, out.data(), static_cast<int>(out.size()), SQLITE_TRANSIENT);
}

// SHA-256 (FIPS 180-4) of `data`, for hash_sha256().
void Sha256(std::string_view data, uint8_t digest[32]) {
  static constexpr uint32_t kK[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  std::string msg(data);
  const uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back('\0');
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<char>((bits >> (i * 8)) & 0xff));
  for (size_t block = 0; block < msg.size(); block += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(msg.data() + block + i * 4);
      w[i] = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    }
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const uint32_t ch = (e & f) ^ (~e & g);
      const uint32_t t1 = hh + s1 + ch + kK[i] + w[i];
      const uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      const uint32_t t2 = s0 + maj;
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 4; ++j) digest[i * 4 + j] = static_cast<uint8_t>(h[i] >> (24 - j * 8));
  }
}

// hash_sha256(x): the lowercase hex SHA-256 of x's text (or blob) bytes; NULL for NULL.
void HashSha256(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (argc != 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  const void* p = sqlite3_value_type(argv[0]) == SQLITE_BLOB ? sqlite3_value_blob(argv[0])
                                                              : sqlite3_value_text(argv[0]);
  const std::string_view data(static_cast<const char*>(p ? p : ""),
                              static_cast<size_t>(sqlite3_value_bytes(argv[0])));
  uint8_t digest[32];
  Sha256(data, digest);
  static constexpr char kHex[] = "0123456789abcdef";
  char hex[64];
  for (int i = 0; i < 32; ++i) {
    hex[i * 2] = kHex[digest[i] >> 4];
    hex[i * 2 + 1] = kHex[digest[i] & 15];
  }
  sqlite3_result_text(ctx, hex, 64, SQLITE_TRANSIENT);
}

const char* ActionName(int action) {
  switch (action) {
    case SQLITE_ATTACH:
      return "ATTACH";
    case SQLITE_DETACH:
      return "DETACH";
    case SQLITE_PRAGMA:
      return "PRAGMA";
    case SQLITE_READ:
      return "a table read";
    case SQLITE_RECURSIVE:
      return "a recursive query";
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
      return "a data change";
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
      return "a transaction";
    default:
      return nullptr;
  }
}

}  // namespace

struct ExpressionSet::State {
  std::string denied;            // what the authorizer refused while compiling
  int64_t progress_calls = 0;    // progress callbacks during the current evaluation
  const std::optional<std::string>* operation = nullptr;  // $AR_H_OPERATION for the row
};

namespace {

int Authorizer(void* user, int action, const char* a3, const char* a4, const char*,
               const char*) {
  auto* state = static_cast<ExpressionSet::State*>(user);
  if (action == SQLITE_SELECT) return SQLITE_OK;
  if (action == SQLITE_FUNCTION) {
    const std::string_view name = a4 ? a4 : "";
    if (EqualsNoCase(name, "load_extension") || EqualsNoCase(name, "fts3_tokenizer") ||
        EqualsNoCase(name, "readfile") || EqualsNoCase(name, "writefile")) {
      if (state->denied.empty()) state->denied = fmt::format("the function {}()", name);
      return SQLITE_DENY;
    }
    return SQLITE_OK;
  }
  if (state->denied.empty()) {
    const char* what = ActionName(action);
    state->denied = what ? what : fmt::format("action {} (not a plain SELECT)", action);
    // SQLite registers an eponymous virtual table (json_each, pragma_*) by updating its schema.
    if (action == SQLITE_UPDATE && a3 && std::string_view(a3) == "sqlite_master") {
      state->denied = "a table-valued function";
    }
    if (action == SQLITE_READ && a3) state->denied += fmt::format(" (of {})", a3);
    if (action == SQLITE_PRAGMA && a3) state->denied += fmt::format(" {}", a3);
  }
  return SQLITE_DENY;
}

int Progress(void* user) {
  auto* state = static_cast<ExpressionSet::State*>(user);
  return ++state->progress_calls > kProgressBudget ? 1 : 0;
}

void OperationIndicator(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (argc != 3) return;
  auto* state = static_cast<ExpressionSet::State*>(sqlite3_user_data(ctx));
  const std::optional<std::string>* op = state->operation;
  int pick = 2;  // INSERT (and a full load)
  if (op && *op) {
    if (EqualsNoCase(**op, "DELETE")) pick = 0;
    if (EqualsNoCase(**op, "UPDATE")) pick = 1;
  }
  sqlite3_result_value(ctx, argv[pick]);
}

std::string ShortExpression(std::string_view e) {
  constexpr size_t kMax = 200;
  if (e.size() <= kMax) return std::string(e);
  size_t n = kMax;
  while (n > 0 && (static_cast<unsigned char>(e[n]) & 0xC0) == 0x80) --n;
  return std::string(e.substr(0, n)) + "...";
}

}  // namespace

HeaderValues FullLoadHeader(int64_t now_micros) {
  HeaderValues h;
  h.operation = "INSERT";
  std::string ts = FormatDatetime(now_micros);
  if (ts.find('.') == std::string::npos) ts += ".000000";
  while (ts.size() - ts.find('.') < 7) ts.push_back('0');
  h.timestamp = ts;
  h.commit_timestamp = ts;
  h.stream_position = std::string();
  return h;
}

HeaderValues FullLoadHeader() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return FullLoadHeader(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
}

const std::vector<std::string>& HeaderColumnNames() {
  static const std::vector<std::string> kNames = {
      "$AR_H_OPERATION",     "$AR_H_TIMESTAMP",  "$AR_H_COMMIT_TIMESTAMP",
      "$AR_H_DB_COMMIT_TIMESTAMP", "$AR_H_STREAM_POSITION", "$AR_H_CHANGE_SEQ",
      "$AR_H_TRANSACTION_ID", "$AR_H_USER"};
  return kNames;
}

ExpressionSet::ExpressionSet(TableDef source, int64_t max_value_bytes)
    : source_(std::move(source)), state_(std::make_unique<State>()) {
  const int rc = sqlite3_open_v2(":memory:", &db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                     SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(ErrorKind::kInternal,
                fmt::format("cannot open an SQLite memory database for expressions: {}", msg));
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_limit(db_, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(db_, SQLITE_LIMIT_SQL_LENGTH, 1'000'000);
  if (max_value_bytes > 0) {
    sqlite3_limit(db_, SQLITE_LIMIT_LENGTH,
                  static_cast<int>(std::min<int64_t>(max_value_bytes, 1'000'000'000)));
  }
  sqlite3_create_function_v2(db_, "operation_indicator", 3, SQLITE_UTF8, state_.get(),
                             OperationIndicator, nullptr, nullptr, nullptr);
  sqlite3_create_function_v2(db_, "replaceChars", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                             nullptr, ReplaceChars, nullptr, nullptr, nullptr);
  sqlite3_create_function_v2(db_, "hash_sha256", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                             nullptr, HashSha256, nullptr, nullptr, nullptr);
  sqlite3_set_authorizer(db_, Authorizer, state_.get());
  sqlite3_progress_handler(db_, kProgressInterval, Progress, state_.get());
}

ExpressionSet::~ExpressionSet() {
  for (Compiled& c : compiled_) sqlite3_finalize(c.stmt);
  sqlite3_close(db_);
}

int ExpressionSet::Add(std::string_view expression, const std::string& rule_id,
                       const std::string& column) {
  const std::string where =
      fmt::format("rule-id {} (add-column {} on {}): expression '{}'", rule_id, column,
                  source_.QualifiedName(), ShortExpression(expression));
  if (expression.find('\0') != std::string_view::npos) {
    throw Error(ErrorKind::kInvalidArgument, where + " holds a NUL byte");
  }
  if (!IsValidUtf8(expression)) {
    throw Error(ErrorKind::kInvalidArgument, where + " is not valid UTF-8");
  }
  // The newline ends a trailing "--" comment before our closing parenthesis.
  const std::string sql = fmt::format("SELECT ({}\n)", expression);
  state_->denied.clear();
  state_->progress_calls = 0;
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK || stmt == nullptr) {
    sqlite3_finalize(stmt);
    if (!state_->denied.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("{} is not allowed: it uses {}; an expression may only compute "
                              "a value from $columns and functions",
                              where, state_->denied));
    }
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{} does not compile: {}", where,
                            rc == SQLITE_OK ? "empty" : sqlite3_errmsg(db_)));
  }
  Compiled c;
  c.stmt = stmt;
  c.rule_id = rule_id;
  c.column = column;
  auto fail = [&](const std::string& why) {
    sqlite3_finalize(stmt);
    throw Error(ErrorKind::kInvalidArgument, where + " " + why);
  };
  std::string_view rest(tail ? tail : "");
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) {
    rest.remove_prefix(1);
  }
  if (!rest.empty()) fail("is more than one statement; give a single expression");
  if (sqlite3_column_count(stmt) != 1) fail("gives more than one value; give one expression");
  if (!sqlite3_stmt_readonly(stmt)) fail("changes data; an expression may only compute a value");
  const int params = sqlite3_bind_parameter_count(stmt);
  const std::vector<std::string>& headers = HeaderColumnNames();
  for (int p = 1; p <= params; ++p) {
    const char* raw = sqlite3_bind_parameter_name(stmt, p);
    const std::string_view name = raw ? raw : "?";
    if (name.empty() || name.front() != '$') {
      fail(fmt::format("uses the parameter '{}'; refer to a column as $name", name));
    }
    const std::string bare(name.substr(1));
    int col = source_.ColumnIndex(bare);
    if (col < 0) {
      int found = -1, matches = 0;
      for (size_t i = 0; i < source_.columns.size(); ++i) {
        if (EqualsNoCase(source_.columns[i].name, bare)) {
          found = static_cast<int>(i);
          ++matches;
        }
      }
      if (matches == 1) col = found;
    }
    if (col < 0) {
      int header = -1;
      for (size_t h = 0; h < headers.size(); ++h) {
        if (EqualsNoCase(headers[h], name)) header = static_cast<int>(h);
      }
      col = -1 - header;  // bindings hold -1 - header id for header columns
      if (header < 0) {
        std::string columns;
        for (const ColumnDef& cd : source_.columns) {
          if (!columns.empty()) columns += ", ";
          columns += cd.name;
        }
        fail(fmt::format("names {}, which table {} does not have (its columns: {}; header "
                         "columns: $AR_H_OPERATION, $AR_H_TIMESTAMP, ...)",
                         name, source_.QualifiedName(), columns.empty() ? "none" : columns));
      }
    }
    c.bindings.push_back({p, col});
  }
  compiled_.push_back(std::move(c));
  return static_cast<int>(compiled_.size()) - 1;
}

bool ExpressionSet::Evaluate(int index, const Batch& in, size_t row, const HeaderValues& header,
                             ExpressionValue* value, std::string* error) {
  Compiled& c = compiled_[static_cast<size_t>(index)];
  sqlite3_stmt* stmt = c.stmt;
  sqlite3_reset(stmt);
  for (const Binding& b : c.bindings) {
    if (b.column < 0) {
      const std::optional<std::string>& v = HeaderField(header, -1 - b.column);
      if (v) {
        sqlite3_bind_text(stmt, b.parameter, v->data(), static_cast<int>(v->size()),
                          SQLITE_STATIC);
      } else {
        sqlite3_bind_null(stmt, b.parameter);
      }
      continue;
    }
    const Cell& cell = in.at(row, b.column);
    if (cell.null) {
      sqlite3_bind_null(stmt, b.parameter);
      continue;
    }
    const DmsType& type = source_.columns[static_cast<size_t>(b.column)].type;
    switch (type.kind) {
      case DmsKind::kDate:
      case DmsKind::kTime:
      case DmsKind::kDatetime: {
        scratch_.clear();
        if (type.kind == DmsKind::kDate) AppendDate(cell.i, &scratch_);
        if (type.kind == DmsKind::kTime) AppendTime(cell.i, &scratch_);
        if (type.kind == DmsKind::kDatetime) AppendDatetime(cell.i, &scratch_);
        sqlite3_bind_text(stmt, b.parameter, scratch_.data(), static_cast<int>(scratch_.size()),
                          SQLITE_TRANSIENT);
        continue;
      }
      case DmsKind::kNumeric: {
        // Exact integers bind as integers and short decimals as doubles, so that comparisons
        // and arithmetic behave as numbers (SQLite orders any text after any number); values
        // a double cannot hold exactly bind as their decimal text.
        const std::string_view text = in.Bytes(row, b.column);
        int64_t i = 0;
        auto r = std::from_chars(text.data(), text.data() + text.size(), i);
        if (r.ec == std::errc() && r.ptr == text.data() + text.size()) {
          sqlite3_bind_int64(stmt, b.parameter, i);
          continue;
        }
        int digits = 0;
        for (char ch : text) digits += ch >= '0' && ch <= '9';
        if (digits <= 15 && text.find('.') != std::string_view::npos) {
          auto d = ParseDouble(text);
          if (d && std::fabs(*d) >= 1e-4) {
            sqlite3_bind_double(stmt, b.parameter, *d);
            continue;
          }
        }
        sqlite3_bind_text(stmt, b.parameter, text.data(), static_cast<int>(text.size()),
                          SQLITE_STATIC);
        continue;
      }
      default:
        break;
    }
    switch (StorageOf(type.kind)) {
      case Storage::kInt:
        sqlite3_bind_int64(stmt, b.parameter, cell.i);
        break;
      case Storage::kUint:
        if (cell.u <= static_cast<uint64_t>(INT64_MAX)) {
          sqlite3_bind_int64(stmt, b.parameter, static_cast<int64_t>(cell.u));
        } else {
          char buf[24];
          auto r = std::to_chars(buf, buf + sizeof(buf), cell.u);
          sqlite3_bind_text(stmt, b.parameter, buf, static_cast<int>(r.ptr - buf),
                            SQLITE_TRANSIENT);
        }
        break;
      case Storage::kDouble:
        sqlite3_bind_double(stmt, b.parameter, cell.d);
        break;
      case Storage::kBytes: {
        const std::string_view bytes = in.Bytes(row, b.column);
        if (IsBinary(type.kind)) {
          sqlite3_bind_blob64(stmt, b.parameter, bytes.data(), bytes.size(), SQLITE_STATIC);
        } else {
          sqlite3_bind_text64(stmt, b.parameter, bytes.data(), bytes.size(), SQLITE_STATIC,
                              SQLITE_UTF8);
        }
        break;
      }
    }
  }
  state_->progress_calls = 0;
  state_->operation = &header.operation;
  const int rc = sqlite3_step(stmt);
  state_->operation = nullptr;
  if (rc == SQLITE_DONE) {
    *value = ExpressionValue{};
    return true;
  }
  if (rc != SQLITE_ROW) {
    const bool interrupted = (rc & 0xff) == SQLITE_INTERRUPT;
    *error = fmt::format("the expression failed: {}",
                         interrupted ? "it ran too long (step budget exhausted)"
                                     : sqlite3_errmsg(db_));
    sqlite3_reset(stmt);
    return false;
  }
  ExpressionValue v;
  switch (sqlite3_column_type(stmt, 0)) {
    case SQLITE_INTEGER:
      v.type = ExpressionValue::Type::kInteger;
      v.i = sqlite3_column_int64(stmt, 0);
      break;
    case SQLITE_FLOAT:
      v.type = ExpressionValue::Type::kReal;
      v.d = sqlite3_column_double(stmt, 0);
      break;
    case SQLITE_TEXT: {
      v.type = ExpressionValue::Type::kText;
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      v.bytes = std::string_view(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(stmt, 0)));
      break;
    }
    case SQLITE_BLOB: {
      v.type = ExpressionValue::Type::kBlob;
      const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, 0));
      v.bytes = std::string_view(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(stmt, 0)));
      break;
    }
    default:
      break;
  }
  *value = v;
  return true;
}

}  // namespace ferry
