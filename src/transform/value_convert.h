// Converting one value from one DMS type to another (DMS change-data-type, and add-column
// expression results), through the value's canonical text (value_codec.h).
//
// Two kinds of failure are kept apart because DMS has a policy for each
// (ErrorBehavior.DataErrorPolicy and DataTruncationErrorPolicy):
//  - data error: the value has no meaning in the target type: not a number, out of the
//    target's range (INT2, NUMERIC(p,s) integer digits, REAL4), an invalid date, binary that is
//    not UTF-8 text;
//  - truncation: the value would have to be cut: text longer than STRING(n)/WSTRING(n)
//    characters, binary longer than BYTES(n) bytes.
// Rounding is not an error, as in SQL CAST: NUMERIC fractional digits beyond the target scale
// and REAL/NUMERIC -> integer round half away from zero; DATETIME -> DATE drops the time of
// day; DATETIME -> TIME keeps it.
#pragma once

#include <string>
#include <string_view>

#include "types/batch.h"
#include "types/dms_type.h"

namespace ferry {

enum class ConvertStatus { kOk, kDataError, kTruncation };

// True when every value of `from` can be converted to `to` at least for some values; false
// (with `why` set) for pairs that never work: binary -> numbers, dates or booleans; dates
// and times <-> numbers and booleans; TIME -> DATE/DATETIME.
bool CanConvert(const DmsType& from, const DmsType& to, std::string* why);

// True when every value of `from` is already a valid value of `to` in the same Batch
// encoding, so a cell can be copied unchanged (same kind, or a wider one of the same family).
bool IsLosslessCopy(const DmsType& from, const DmsType& to);

// Converts the non-NULL value `cell` (its bytes in `bytes` for byte-stored kinds) of type
// `from` to `to` and appends it to `out` (a NULL is never passed in). On failure nothing is
// appended and `message` says what was wrong with the value, e.g. "value 'abc' is not a
// number" or "value of 12 characters does not fit STRING(10)". `scratch` is working memory
// kept between calls to avoid allocations. Never throws.
ConvertStatus ConvertValue(const DmsType& from, const Cell& cell, std::string_view bytes,
                           const DmsType& to, Batch* out, std::string* message,
                           std::string* scratch);

// The same for a cell of a Batch (appends NULL for NULL).
ConvertStatus ConvertCell(const Batch& in, size_t row, int col, const DmsType& from,
                          const DmsType& to, Batch* out, std::string* message,
                          std::string* scratch);

// Parses `text` as a value of `to` and appends it to `out` (the text -> cell parser for every
// kind; binary kinds take the bytes as they are). Accepts: BOOLEAN 1/0/true/false/t/f/yes/no/
// on/off (any case) or any integer (non-zero = true); integers as decimal or number text
// (rounded); NUMERIC/REAL as decimal, exponent, NaN and Infinity text; DATE, TIME, DATETIME as
// ParseDate/ParseTime/ParseDatetime accept them, a DATE also from datetime text, a TIME also
// from datetime text (its time of day). Leading and trailing spaces are ignored except for
// text and binary kinds.
ConvertStatus AppendFromText(std::string_view text, const DmsType& to, Batch* out,
                             std::string* message);

}  // namespace ferry
