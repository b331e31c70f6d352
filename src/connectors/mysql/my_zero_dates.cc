#include "connectors/mysql/my_zero_dates.h"

#include <fmt/format.h>

#include "common/error.h"
#include "types/value_codec.h"

namespace ferry::mysql {

ZeroDates ParseZeroDates(const std::string& text) {
  ZeroDates out;
  out.text = text.empty() ? "null" : text;
  if (text.empty() || text == "null") return out;
  if (text == "refuse") {
    out.mode = ZeroDates::Mode::kRefuse;
    return out;
  }
  if (auto days = ParseDate(text); days && text.size() == 10) {
    out.mode = ZeroDates::Mode::kReplace;
    out.days = *days;
    return out;
  }
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("MySQL URI parameter zero_dates='{}': expected null, refuse or a date "
                          "YYYY-MM-DD to read zero dates as (e.g. 0001-01-01)",
                          text));
}

}  // namespace ferry::mysql
