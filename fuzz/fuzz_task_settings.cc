// Fuzzes ParseTaskSettings (task settings JSON comes from users' files and the DMS API).
// The input is the document itself, no selector bytes. Invariants checked:
//  - a failure is ErrorKind::kInvalidArgument and its message starts with the source name;
//  - on success, NormalizeTaskSettings output parses again to an equal TaskSettings, and
//    normalising that gives byte-identical text (the normalised form is a fixed point).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "settings/task_settings.h"

namespace {

[[noreturn]] void Fail(const char* what, std::string_view input, std::string_view detail) {
  std::fprintf(stderr, "fuzz_task_settings: %s\n  input: '%.*s'\n  detail: '%.*s'\n", what,
               static_cast<int>(input.size()), input.data(), static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto r = ferry::ParseTaskSettings(input, "fuzz.json");
  if (!r.ok()) {
    if (r.error().kind() != ferry::ErrorKind::kInvalidArgument) {
      Fail("error kind is not kInvalidArgument", input, r.error().what());
    }
    if (std::string_view(r.error().what()).substr(0, 11) != "fuzz.json: ") {
      Fail("error message does not name the source", input, r.error().what());
    }
    return 0;
  }
  const std::string text =
      ferry::NormalizeTaskSettings(r.value())
          .dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  auto again = ferry::ParseTaskSettings(text, "normalized.json");
  if (!again.ok()) Fail("normalised output does not parse", input, again.error().what());
  if (!(again.value() == r.value())) Fail("round trip changed the settings", input, text);
  const std::string text2 =
      ferry::NormalizeTaskSettings(again.value())
          .dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  if (text2 != text) Fail("normalised output is not a fixed point", input, text2);
  return 0;
}
