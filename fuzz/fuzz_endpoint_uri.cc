// Fuzzes ParseEndpointUri (endpoint URIs come from users, config files and the command line).
// Invariants checked on success:
//  - the port is within 0..65535;
//  - Describe() never shows the password: it does not change when only the password does,
//    and a password of 4+ bytes that occurs nowhere else in the URI is not in its text;
//  - error messages never contain such a password either.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "endpoint/endpoint_uri.h"

namespace {

[[noreturn]] void Fail(const char* what, std::string_view input, std::string_view detail) {
  std::fprintf(stderr, "fuzz_endpoint_uri: %s\n  input: '%.*s'\n  detail: '%.*s'\n", what,
               static_cast<int>(input.size()), input.data(), static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// Occurrences of `needle` in `hay`, overlapping ones included.
size_t Count(std::string_view hay, std::string_view needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string_view::npos; p = hay.find(needle, p + 1)) {
    ++n;
  }
  return n;
}

// The raw password of a URI shaped scheme://user:password@host..., when its user part is
// plain: the text between the first ':' after "://" and the last '@' of the URI. Empty when
// the URI does not have that shape. This is what a user means as the password even when the
// parser cannot make sense of the rest (a '/' or '?' typed unencoded in the password).
std::string_view IntendedPassword(std::string_view uri) {
  const size_t scheme_end = uri.find(':');
  if (scheme_end == std::string_view::npos || uri.substr(scheme_end, 3) != "://") return {};
  const size_t user_begin = scheme_end + 3;
  const size_t colon = uri.find(':', user_begin);
  const size_t at = uri.rfind('@');
  if (colon == std::string_view::npos || at == std::string_view::npos || at <= colon + 1) {
    return {};
  }
  const std::string_view user = uri.substr(user_begin, colon - user_begin);
  if (user.empty() || user.find_first_of("/?@[]%") != std::string_view::npos) return {};
  return uri.substr(colon + 1, at - colon - 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto r = ferry::ParseEndpointUri(input);
  if (!r.ok()) {
    const std::string_view message = r.error().what();
    const std::string_view pw = IntendedPassword(input);
    if (pw.size() >= 4 && pw.find('%') == std::string_view::npos &&
        Count(input, pw) == 1 && message.find(pw) != std::string_view::npos) {
      // The message may hold the same letters for another reason ("heme" in "scheme"): it is a
      // leak only when the same URI with another password gives fewer of them.
      std::string masked(input);
      masked.replace(static_cast<size_t>(pw.data() - input.data()), pw.size(), pw.size(), 'Q');
      auto r2 = ferry::ParseEndpointUri(masked);
      const size_t baseline = r2.ok() ? 0 : Count(r2.error().what(), pw);
      if (Count(message, pw) > baseline) Fail("error message shows the password", input, message);
    }
    return 0;
  }
  const ferry::EndpointUri& uri = r.value();
  if (uri.port < 0 || uri.port > 65535) Fail("port out of range", input, std::to_string(uri.port));
  const int default_port = uri.PortOrDefault();
  if (default_port < 0 || default_port > 65535) Fail("default port out of range", input, "");

  const std::string described = uri.Describe();
  if (!uri.password.empty()) {
    ferry::EndpointUri other = uri;
    // Another password of the same length (assigning a literal trips GCC 12's -Wrestrict).
    other.password.back() = other.password.back() == 'x' ? 'y' : 'x';
    const std::string other_described = other.Describe();
    // The password must not appear, unless it is part of another field anyway (only then can
    // the text hold it without showing it).
    const std::string& pw = uri.password;
    bool elsewhere = Count(input, pw) != 1 || other_described.find(pw) != std::string::npos;
    for (const auto& [k, v] : uri.params) {
      elsewhere |= k.find(pw) != std::string::npos || v.find(pw) != std::string::npos;
    }
    if (pw.size() >= 4 && !elsewhere && described.find(pw) != std::string::npos) {
      Fail("Describe() shows the password", input, described);
    }
    // Stronger, and free of coincidences: Describe must not depend on the password's value.
    if (other_described != described) Fail("Describe() depends on the password", input, described);
  }
  // The fields the parser filled must be usable: a network engine has a host and database.
  if (uri.engine != ferry::Engine::kSqlite && (uri.host.empty() || uri.database.empty())) {
    Fail("parsed a network URI without host or database", input, described);
  }
  if (uri.engine == ferry::Engine::kSqlite && uri.database.empty()) {
    Fail("parsed a SQLite URI without a path", input, described);
  }
  return 0;
}
