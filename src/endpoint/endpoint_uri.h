// Endpoint URIs as users type them:
//   postgresql://user:password@host:5432/db?schema=x&sslmode=require   (also postgres://)
//   mysql://user:password@host:3306/db                                   (also mariadb://)
//   sqlite:///absolute/path.db   sqlite:relative/path.db
// User and password are percent-decoded. The password never appears in Describe() or errors.
#pragma once

#include <map>
#include <string>
#include <string_view>

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

  // The URI with the password replaced by "***" (or omitted when there is none).
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

}  // namespace ferry
