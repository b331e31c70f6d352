#include "change/change.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <random>

#include "change/change_capture.h"
#include "common/error.h"

namespace ferry::cdc {

namespace {

enum Tag : uint8_t { kNull = 0, kUnchanged = 1, kI64 = 2, kU64 = 3, kF64 = 4, kBytesTag = 5 };

void PutU16(uint16_t v, std::string* out) { out->append(reinterpret_cast<const char*>(&v), 2); }
void PutU32(uint32_t v, std::string* out) { out->append(reinterpret_cast<const char*>(&v), 4); }
void PutU64(uint64_t v, std::string* out) { out->append(reinterpret_cast<const char*>(&v), 8); }

void EncodeImage(const Batch& rows, int row, const std::vector<Storage>& storage,
                 std::string* out) {
  for (int c = 0; c < rows.columns(); ++c) {
    const Cell& cell = rows.at(row, c);
    if (cell.null) {
      out->push_back(static_cast<char>(cell.unchanged ? kUnchanged : kNull));
      continue;
    }
    switch (storage[c]) {
      case Storage::kInt:
        out->push_back(static_cast<char>(kI64));
        PutU64(static_cast<uint64_t>(cell.i), out);
        break;
      case Storage::kUint:
        out->push_back(static_cast<char>(kU64));
        PutU64(cell.u, out);
        break;
      case Storage::kDouble: {
        out->push_back(static_cast<char>(kF64));
        uint64_t bits;
        std::memcpy(&bits, &cell.d, 8);
        PutU64(bits, out);
        break;
      }
      case Storage::kBytes: {
        const std::string_view v = rows.Bytes(row, c);
        out->push_back(static_cast<char>(kBytesTag));
        PutU32(static_cast<uint32_t>(v.size()), out);
        out->append(v);
        break;
      }
    }
  }
}

}  // namespace

std::string CheckpointKey(const std::string& task, const std::string& task_id) {
  if (task_id.empty()) return task;
  const std::string suffix = "#" + task_id;
  return task.substr(0, 128 - suffix.size()) + suffix;
}

std::string CaptureObjectName(const std::string& task, const std::string& task_id) {
  std::string out = "ferry_";
  for (char c : task) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out.push_back((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_');
  }
  const size_t room = task_id.empty() ? 63 : 63 - task_id.size() - 1;
  if (out.size() > room) out.resize(room);
  if (!task_id.empty()) out += "_" + task_id;
  return out;
}

std::string CaptureOwner::ToText() const {
  nlohmann::json j = {{"ferry_task", task}, {"task_id", task_id},   {"slot", slot},
                      {"publication", publication}, {"host", host}, {"data_dir", data_dir}};
  return j.dump();
}

std::optional<CaptureOwner> CaptureOwner::Parse(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("ferry_task") || !j["ferry_task"].is_string()) {
    return std::nullopt;
  }
  auto get = [&](const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  CaptureOwner o;
  o.task = get("ferry_task");
  o.task_id = get("task_id");
  o.slot = get("slot");
  o.publication = get("publication");
  o.host = get("host");
  o.data_dir = get("data_dir");
  return o;
}

std::string CaptureOwner::Describe() const {
  return fmt::format("task '{}' (id {}, data directory {} on host {})", task,
                     task_id.empty() ? "?" : task_id, data_dir.empty() ? "?" : data_dir,
                     host.empty() ? "?" : host);
}

std::string NewTaskId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                      static_cast<uint64_t>(
                          std::chrono::steady_clock::now().time_since_epoch().count()));
  return fmt::format("{:08x}", static_cast<uint32_t>(gen()));
}

const char* ChangeOpName(ChangeOp op) {
  switch (op) {
    case ChangeOp::kInsert: return "INSERT";
    case ChangeOp::kUpdate: return "UPDATE";
    case ChangeOp::kDelete: return "DELETE";
    case ChangeOp::kTruncate: return "TRUNCATE";
    case ChangeOp::kShape: return "ALTER TABLE";
  }
  return "?";
}

std::vector<Storage> StorageOfColumns(const std::vector<DmsType>& types) {
  std::vector<Storage> out;
  out.reserve(types.size());
  for (const DmsType& t : types) out.push_back(StorageOf(t.kind));
  return out;
}

void EncodeChange(const ChangeView& change, const std::vector<Storage>& storage,
                  std::string* out) {
  const int columns = change.rows ? change.rows->columns() : 0;
  out->push_back(static_cast<char>(change.op));
  PutU32(change.table, out);
  const bool has_old = change.old_kind != OldImage::kNone && change.old_row >= 0;
  out->push_back(static_cast<char>(has_old ? change.old_kind : OldImage::kNone));
  PutU16(static_cast<uint16_t>(columns), out);
  if (has_old) EncodeImage(*change.rows, change.old_row, storage, out);
  if (change.op == ChangeOp::kInsert || change.op == ChangeOp::kUpdate) {
    EncodeImage(*change.rows, change.new_row, storage, out);
  }
}

void EncodeShapeChange(uint32_t table, std::string_view definition, std::string* out) {
  out->push_back(static_cast<char>(ChangeOp::kShape));
  PutU32(table, out);
  out->push_back(static_cast<char>(OldImage::kNone));
  PutU16(0, out);
  PutU32(static_cast<uint32_t>(definition.size()), out);
  out->append(definition);
}

bool ChangeReader::Next(ChangeView* out) {
  if (pos_ >= bytes_.size()) return false;
  const size_t start = pos_;
  if (bytes_.size() - pos_ < 8) {
    throw Error(ErrorKind::kData,
                fmt::format("change record at byte {} is truncated: {} bytes left of an 8-byte "
                            "header", start, bytes_.size() - pos_));
  }
  const char* p = bytes_.data() + pos_;
  const auto op = static_cast<ChangeOp>(p[0]);
  if (op != ChangeOp::kInsert && op != ChangeOp::kUpdate && op != ChangeOp::kDelete &&
      op != ChangeOp::kTruncate && op != ChangeOp::kShape) {
    throw Error(ErrorKind::kData, fmt::format("change record at byte {} has unknown operation "
                                              "byte 0x{:02x}", start, static_cast<uint8_t>(p[0])));
  }
  uint32_t table;
  std::memcpy(&table, p + 1, 4);
  const auto old_kind = static_cast<OldImage>(p[5]);
  if (old_kind != OldImage::kNone && old_kind != OldImage::kKey && old_kind != OldImage::kFull) {
    throw Error(ErrorKind::kData, fmt::format("change record at byte {} has unknown old-image "
                                              "kind 0x{:02x}", start, static_cast<uint8_t>(p[5])));
  }
  uint16_t columns;
  std::memcpy(&columns, p + 6, 2);
  pos_ += 8;
  if (batch_.columns() != columns) batch_ = Batch(columns);
  batch_.Clear();
  out->op = op;
  out->table = table;
  out->old_kind = old_kind;
  out->rows = &batch_;
  out->old_row = -1;
  out->new_row = -1;
  out->shape = {};
  if (op == ChangeOp::kShape) {
    if (old_kind != OldImage::kNone || columns != 0 || bytes_.size() - pos_ < 4) {
      throw Error(ErrorKind::kData,
                  fmt::format("shape record at byte {} is malformed (old-image kind 0x{:02x}, "
                              "{} columns, {} bytes left)",
                              start, static_cast<uint8_t>(p[5]), columns, bytes_.size() - pos_));
    }
    uint32_t length;
    std::memcpy(&length, bytes_.data() + pos_, 4);
    pos_ += 4;
    if (bytes_.size() - pos_ < length) {
      throw Error(ErrorKind::kData,
                  fmt::format("shape record at byte {} is truncated: {} bytes of definition, "
                              "{} left",
                              start, length, bytes_.size() - pos_));
    }
    out->shape = bytes_.substr(pos_, length);
    pos_ += length;
    return true;
  }
  int row = 0;
  if (old_kind != OldImage::kNone) {
    ReadImage(columns, start);
    out->old_row = row++;
  }
  if (op == ChangeOp::kInsert || op == ChangeOp::kUpdate) {
    ReadImage(columns, start);
    out->new_row = row++;
  }
  if (op == ChangeOp::kDelete && old_kind == OldImage::kNone) {
    throw Error(ErrorKind::kData,
                fmt::format("change record at byte {}: a DELETE without an old image", start));
  }
  return true;
}

void ChangeReader::ReadImage(int columns, size_t start) {
  auto need = [&](size_t n, int column) {
    if (bytes_.size() - pos_ < n) {
      throw Error(ErrorKind::kData,
                  fmt::format("change record at byte {} is truncated in column {} (byte {})",
                              start, column, pos_));
    }
  };
  for (int c = 0; c < columns; ++c) {
    need(1, c);
    const auto tag = static_cast<uint8_t>(bytes_[pos_++]);
    uint64_t v;
    switch (tag) {
      case kNull:
        batch_.AppendNull();
        break;
      case kUnchanged:
        batch_.AppendUnchanged();
        break;
      case kI64:
        need(8, c);
        std::memcpy(&v, bytes_.data() + pos_, 8);
        pos_ += 8;
        batch_.AppendInt(static_cast<int64_t>(v));
        break;
      case kU64:
        need(8, c);
        std::memcpy(&v, bytes_.data() + pos_, 8);
        pos_ += 8;
        batch_.AppendUint(v);
        break;
      case kF64: {
        need(8, c);
        std::memcpy(&v, bytes_.data() + pos_, 8);
        pos_ += 8;
        double d;
        std::memcpy(&d, &v, 8);
        batch_.AppendDouble(d);
        break;
      }
      case kBytesTag: {
        need(4, c);
        uint32_t len;
        std::memcpy(&len, bytes_.data() + pos_, 4);
        pos_ += 4;
        need(len, c);
        batch_.AppendBytes(bytes_.substr(pos_, len));
        pos_ += len;
        break;
      }
      default:
        throw Error(ErrorKind::kData,
                    fmt::format("change record at byte {} has unknown value tag {} in column {}",
                                start, tag, c));
    }
  }
}

}  // namespace ferry::cdc
