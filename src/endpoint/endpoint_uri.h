// Endpoint URIs as users type them:
//   postgresql://user:password@host:5432/db?schema=x&sslmode=require   (also postgres://)
//   mysql://user:password@host:3306/db                                   (also mariadb://)
//   sqlite:///absolute/path.db   sqlite:relative/path.db
// User and password are percent-decoded. The password never appears in Describe() or errors.
// Query parameters are checked against the engine's list (KnownParameters): an unknown one
// (a typo such as ?sslmod=require) is refused rather than ignored. ?password= is the
// password, as libpq also takes it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/table_def.h"
#include "common/error.h"

namespace ferry {

struct EndpointUri {
  Engine engine = Engine::kSqlite;
  std::string scheme;  // as typed: "postgresql", "postgres", "mysql", "mariadb", "sqlite"
  std::string host;
  int port = 0;        // 0 = engine default
  std::string user;
  std::string password;
  std::string database;  // PostgreSQL/MySQL database; SQLite: the file path
  std::map<std::string, std::string> params;

  // The URI with the password replaced by "***" (or omitted when there is none), and every
  // parameter whose name holds "password" shown as "***".
  std::string Describe() const;
  // params["schema"] or "" when absent.
  std::string Param(const std::string& key) const {
    auto it = params.find(key);
    return it == params.end() ? std::string() : it->second;
  }
  int PortOrDefault() const;
};

// Parses `uri`. Errors are kInvalidArgument and quote the URI without its password.
Result<EndpointUri> ParseEndpointUri(std::string_view uri);

// The query parameters an endpoint of `engine` takes, sorted. PostgreSQL: schema,
// application_name, connect_timeout, password and libpq's sslmode, sslrootcert, sslcert, sslkey,
// sslcrl; MySQL/MariaDB: schema, password and the mariadb client's ssl-mode, ssl-ca, ssl-cert,
// ssl-key; SQLite: schema, datetime_numbers.
const std::vector<std::string>& KnownParameters(Engine engine);

// `message` with `password` replaced by "***" where it stands as a password: a URI's
// ":<password>@" or a "password=<password>" setting. Never elsewhere, so a password that is
// also a word ("ferry") does not turn a slot name "ferry_tw" into "***_tw".
std::string ScrubPassword(std::string message, const std::string& password);

// Where the password of a URI typed on a command line sits in `arg` (byte offset and length;
// length 0 when there is none): the part after the first ':' of the credentials, which end at
// the last '@', and any password= query parameter's value. Used to blank them out of the
// process's argument list.
std::vector<std::pair<size_t, size_t>> PasswordSpans(std::string_view arg);

// `text` (a URI as typed, even one that does not parse) with each PasswordSpans span shown as
// "***".
std::string RedactPasswords(std::string_view text);

}  // namespace ferry
