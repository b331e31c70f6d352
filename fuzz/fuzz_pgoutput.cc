// Fuzzes the pgoutput decoder (connectors/postgres/pgoutput.h): the bytes come from the
// PostgreSQL server over the replication connection. The first input byte picks the protocol
// version (1..4) and parallel streaming; the rest is split at every 0xFE 0xFD pair into
// messages fed through one Decoder, so the stream state (Stream Start/Stop) is exercised too.
// Invariants: no crash or read out of bounds (ASan), an error is kData or kUnsupported, and
// every decoded string or value lies inside its message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "connectors/postgres/pgoutput.h"

namespace {

using namespace ferry::pgoutput;

void CheckInside(std::string_view part, std::string_view message) {
  if (part.empty()) return;
  if (part.data() < message.data() || part.data() + part.size() > message.data() + message.size()) {
    std::fprintf(stderr, "fuzz_pgoutput: a decoded view lies outside its message\n");
    std::abort();
  }
}

void CheckTuple(const Tuple& t, std::string_view message) {
  for (const TupleValue& v : t) CheckInside(v.data, message);
}

void Check(const Message& m, std::string_view message) {
  if (const auto* r = std::get_if<Relation>(&m)) {
    CheckInside(r->schema, message);
    CheckInside(r->name, message);
    for (const RelationColumn& c : r->columns) CheckInside(c.name, message);
  } else if (const auto* i = std::get_if<Insert>(&m)) {
    CheckTuple(i->new_tuple, message);
  } else if (const auto* u = std::get_if<Update>(&m)) {
    CheckTuple(u->old_tuple, message);
    CheckTuple(u->new_tuple, message);
  } else if (const auto* d = std::get_if<Delete>(&m)) {
    CheckTuple(d->old_tuple, message);
  } else if (const auto* l = std::get_if<LogicalMessage>(&m)) {
    CheckInside(l->prefix, message);
    CheckInside(l->content, message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Decoder decoder(1 + (data[0] & 3), (data[0] & 4) != 0);
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (true) {
    const size_t cut = rest.find("\xfe\xfd");
    const std::string_view message = rest.substr(0, cut);
    ferry::Result<Message> r = decoder.Decode(message);
    if (r.ok()) {
      Check(r.value(), message);
    } else if (r.error().kind() != ferry::ErrorKind::kData &&
               r.error().kind() != ferry::ErrorKind::kUnsupported) {
      std::fprintf(stderr, "fuzz_pgoutput: unexpected error kind: %s\n", r.error().what());
      std::abort();
    }
    if (cut == std::string_view::npos) break;
    rest.remove_prefix(cut + 2);
  }
  return 0;
}
