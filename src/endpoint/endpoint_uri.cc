#include "endpoint/endpoint_uri.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace ferry {

namespace {

Error Bad(std::string_view uri, std::string_view why) {
  return Error(ErrorKind::kInvalidArgument,
               fmt::format("invalid endpoint URI '{}': {}", RedactPasswords(uri), why));
}

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      if (i + 2 >= in.size()) return false;
      int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(in[i]);
    }
  }
  return true;
}

}  // namespace

int EndpointUri::PortOrDefault() const {
  if (port != 0) return port;
  switch (engine) {
    case Engine::kPostgres: return 5432;
    case Engine::kMysql: return 3306;
    case Engine::kSqlite: return 0;
  }
  return 0;
}

std::string EndpointUri::Describe() const {
  if (engine == Engine::kSqlite) return "sqlite://" + (database.rfind('/', 0) == 0 ? database : "/" + database);
  std::string out = scheme + "://";
  if (!user.empty()) {
    out += user;
    if (!password.empty()) out += ":***";
    out += "@";
  }
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != 0) out += fmt::format(":{}", port);
  out += "/" + database;
  char sep = '?';
  for (const auto& [k, v] : params) {
    out += sep;
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out += k + "=" + (lower.find("password") != std::string::npos ? "***" : v);
    sep = '&';
  }
  return out;
}

std::string ScrubPassword(std::string message, const std::string& password) {
  if (password.empty()) return message;
  for (const std::string& prefix : {std::string(":"), std::string("password="),
                                    std::string("password = "), std::string("password='")}) {
    const std::string needle = prefix + password;
    for (size_t p = message.find(needle); p != std::string::npos;
         p = message.find(needle, p + prefix.size() + 3)) {
      const size_t end = p + needle.size();
      // ":<password>" only counts before the '@' of a URI's credentials.
      if (prefix == ":" && (end >= message.size() || message[end] != '@')) continue;
      message.replace(p + prefix.size(), password.size(), "***");
    }
  }
  return message;
}

const std::vector<std::string>& KnownParameters(Engine engine) {
  static const std::vector<std::string> postgres = {
      "application_name", "connect_timeout", "password", "schema",     "sslcert",
      "sslcrl",           "sslkey",          "sslmode",  "sslrootcert"};
  static const std::vector<std::string> mysql = {"password", "schema",   "ssl-ca",    "ssl-cert",
                                                 "ssl-key",  "ssl-mode", "zero_dates"};
  static const std::vector<std::string> sqlite = {"datetime_numbers", "schema"};
  switch (engine) {
    case Engine::kPostgres:
      return postgres;
    case Engine::kMysql:
      return mysql;
    case Engine::kSqlite:
      return sqlite;
  }
  return sqlite;
}

std::string RedactPasswords(std::string_view text) {
  std::string out(text);
  const auto spans = PasswordSpans(text);
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    out.replace(it->first, it->second, "***");
  }
  return out;
}

std::vector<std::pair<size_t, size_t>> PasswordSpans(std::string_view arg) {
  std::vector<std::pair<size_t, size_t>> spans;
  const size_t scheme_end = arg.find("://");
  if (scheme_end == std::string_view::npos) return spans;
  const size_t auth_start = scheme_end + 3;
  const size_t at = arg.rfind('@');
  if (at != std::string_view::npos && at >= auth_start) {
    const size_t colon = arg.find(':', auth_start);
    if (colon != std::string_view::npos && colon < at) spans.emplace_back(colon + 1, at - colon - 1);
  }
  const size_t query = arg.find('?', at == std::string_view::npos ? auth_start : at);
  for (size_t p = query; p != std::string_view::npos && p < arg.size();) {
    const size_t start = p + 1;
    const size_t end = std::min(arg.find('&', start), arg.size());
    const std::string_view pair = arg.substr(start, end - start);
    std::string key(pair.substr(0, pair.find('=')));
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (key.find("password") != std::string::npos && pair.find('=') != std::string_view::npos) {
      const size_t value = start + pair.find('=') + 1;
      spans.emplace_back(value, end - value);
    }
    p = end < arg.size() ? end : std::string_view::npos;
  }
  return spans;
}

Result<EndpointUri> ParseEndpointUri(std::string_view uri) {
  EndpointUri out;
  size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Bad(uri, "expected scheme://..., e.g. postgresql://user:pass@host:5432/db, "
                    "mysql://user:pass@host:3306/db or sqlite:///path/to/file.db");
  }
  std::string scheme(uri.substr(0, colon));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  out.scheme = scheme;
  if (scheme == "postgresql" || scheme == "postgres") {
    out.engine = Engine::kPostgres;
  } else if (scheme == "mysql" || scheme == "mariadb") {
    out.engine = Engine::kMysql;
  } else if (scheme == "sqlite" || scheme == "sqlite3") {
    out.engine = Engine::kSqlite;
  } else {
    return Bad(uri, fmt::format("unknown scheme '{}' (expected postgresql, postgres, mysql, "
                                "mariadb or sqlite)",
                                scheme));
  }
  std::string_view rest = uri.substr(colon + 1);

  // Credentials first: they end at the last '@' (see Redact), so a '/', '?' or '@' typed
  // unencoded in a password is taken as part of it rather than as host, path or query.
  std::string_view userinfo;
  bool has_userinfo = false;
  if (out.engine != Engine::kSqlite && rest.substr(0, 2) == "//") {
    if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
      userinfo = rest.substr(2, at - 2);
      rest = rest.substr(at + 1);  // host onwards
      has_userinfo = true;
    }
  }

  // Query parameters are common to all schemes.
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Bad(uri, fmt::format("query parameter '{}' is not key=value", pair));
    }
    std::string key, value;
    if (!PercentDecode(pair.substr(0, eq), &key) || !PercentDecode(pair.substr(eq + 1), &value)) {
      return Bad(uri, "bad percent-encoding in query parameters");
    }
    out.params[key] = value;
  }
  const std::vector<std::string>& known = KnownParameters(out.engine);
  for (const auto& [key, value] : out.params) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      return Bad(uri, fmt::format("unknown parameter '{}' for a {} endpoint (the parameters are: "
                                  "{})",
                                  key, EngineName(out.engine), list));
    }
  }

  if (out.engine == Engine::kSqlite) {
    std::string path;
    if (rest.substr(0, 2) == "//") {
      rest.remove_prefix(2);
      // sqlite:///abs/path -> "/abs/path"; sqlite://rel/path is ambiguous: refuse it.
      if (rest.empty() || rest.front() != '/') {
        return Bad(uri, "a SQLite URI is sqlite:///absolute/path.db (three slashes) or "
                        "sqlite:relative/path.db");
      }
    }
    if (!PercentDecode(rest, &path)) return Bad(uri, "bad percent-encoding in path");
    if (path.empty()) return Bad(uri, "missing database file path");
    out.database = path;
    return out;
  }

  if (!has_userinfo) {  // with credentials, the "//" was consumed with them
    if (rest.substr(0, 2) != "//") return Bad(uri, "expected '//' after the scheme");
    rest.remove_prefix(2);
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);

  if (has_userinfo) {
    size_t c = userinfo.find(':');
    if (!PercentDecode(userinfo.substr(0, c), &out.user)) {
      return Bad(uri, "bad percent-encoding in user name");
    }
    if (c != std::string_view::npos && !PercentDecode(userinfo.substr(c + 1), &out.password)) {
      return Bad(uri, "bad percent-encoding in password");
    }
  }
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return Bad(uri, "unterminated IPv6 address");
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port.empty()) {
      if (port.front() != ':') return Bad(uri, "expected ':' after IPv6 address");
      port.remove_prefix(1);
    }
  } else if (size_t c = host.rfind(':'); c != std::string_view::npos) {
    port = host.substr(c + 1);
    host = host.substr(0, c);
  }
  if (host.empty()) return Bad(uri, "missing host name");
  out.host = std::string(host);
  if (!port.empty()) {
    int p = 0;
    for (char ch : port) {
      if (ch < '0' || ch > '9' || p > 65535) return Bad(uri, fmt::format("bad port '{}'", port));
      p = p * 10 + (ch - '0');
    }
    if (p <= 0 || p > 65535) return Bad(uri, fmt::format("port {} is out of range 1-65535", p));
    out.port = p;
  }
  if (auto it = out.params.find("password"); it != out.params.end()) {
    if (!out.password.empty()) {
      return Bad(uri, "the password is given twice (user:password@ and ?password=)");
    }
    out.password = it->second;
    out.params.erase(it);
  }
  if (!PercentDecode(path, &out.database)) return Bad(uri, "bad percent-encoding in database");
  if (out.database.empty()) {
    return Bad(uri, "missing database name after the host (…/dbname)");
  }
  if (out.database.find('/') != std::string::npos) {
    return Bad(uri, fmt::format("database name '{}' contains '/'", out.database));
  }
  return out;
}

}  // namespace ferry
