#include "transform/row_transform.h"

#include <fmt/format.h>

#include "common/error.h"
#include "connectors/connector.h"
#include "transform/value_convert.h"
#include "types/utf8.h"

namespace ferry {

namespace {

constexpr DmsType kInt8Type{DmsKind::kInt8};
constexpr DmsType kReal8Type{DmsKind::kReal8};
constexpr DmsType kTextType{DmsKind::kNclob};
constexpr DmsType kBlobType{DmsKind::kBlob};

std::string DescribeColumn(const TransformColumn& c) {
  std::string s = fmt::format("target column {} ({}", c.name, DescribeDmsType(c.type));
  if (!c.rule_id.empty()) s += ", rule-id " + c.rule_id;
  s += ")";
  return s;
}

}  // namespace

RowTransformer::RowTransformer(const TransformSpec& spec) : spec_(spec) {}
RowTransformer::~RowTransformer() = default;

std::unique_ptr<RowTransformer> RowTransformer::Create(const TransformSpec& spec) {
  std::unique_ptr<RowTransformer> t(new RowTransformer(spec));
  const TableDef& source = t->spec_.source;
  const int nsource = static_cast<int>(source.columns.size());
  bool identity = spec.columns.size() == source.columns.size();
  for (size_t j = 0; j < spec.columns.size(); ++j) {
    const TransformColumn& c = spec.columns[j];
    Plan p;
    p.lob_limit = spec.lob_max_bytes > 0 && IsLob(c.type.kind);
    if (c.source_index >= 0) {
      if (c.source_index >= nsource) {
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("table {}: {} refers to source column {}, but the table has {} "
                                "columns",
                                source.QualifiedName(), DescribeColumn(c), c.source_index,
                                nsource));
      }
      const ColumnDef& from = source.columns[static_cast<size_t>(c.source_index)];
      std::string why;
      if (!CanConvert(from.type, c.type, &why)) {
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("table {}: {} from source column {}: {}", source.QualifiedName(),
                                DescribeColumn(c), from.name, why));
      }
      p.source = c.source_index;
      if (IsLosslessCopy(from.type, c.type)) {
        p.path = Path::kCopy;
        p.bytes = StorageOf(from.type.kind) == Storage::kBytes;
      } else {
        p.path = Path::kConvert;
      }
      if (p.path != Path::kCopy || p.source != static_cast<int>(j) || p.lob_limit) {
        identity = false;
      }
    } else {
      identity = false;
      if (c.expression.empty()) {
        p.path = Path::kNull;
      } else {
        if (!t->expressions_) {
          t->expressions_ =
              std::make_unique<ExpressionSet>(source, spec.expression_max_value_bytes);
        }
        p.path = Path::kExpression;
        p.expression = t->expressions_->Add(c.expression, c.rule_id, c.name);
      }
    }
    t->plans_.push_back(p);
  }
  t->identity_ = identity;
  if (spec.lob_max_bytes > 0) {
    t->lob_warning_ = spec.lob_max_bytes % 1024 == 0
                          ? fmt::format("LOB truncated to {} KB", spec.lob_max_bytes / 1024)
                          : fmt::format("LOB truncated to {} bytes", spec.lob_max_bytes);
  }
  return t;
}

void RowTransformer::AppendLimitedLob(std::string_view v, int col, Batch* out) {
  const size_t limit = static_cast<size_t>(spec_.lob_max_bytes);
  if (v.size() <= limit) {
    out->AppendBytes(v);
    return;
  }
  cut_.push_back(col);
  const DmsKind kind = spec_.columns[static_cast<size_t>(col)].type.kind;
  out->AppendBytes(kind == DmsKind::kBlob ? v.substr(0, limit) : Utf8PrefixBytes(v, limit));
}

bool RowTransformer::AppendColumn(const Batch& in, size_t row, int col,
                                  const HeaderValues& header, Batch* out, RowProblem* problem) {
  const Plan& p = plans_[static_cast<size_t>(col)];
  const TransformColumn& target = spec_.columns[static_cast<size_t>(col)];
  if (p.path == Path::kCopy) {
    const Cell& c = in.at(row, p.source);
    if (c.null) {
      out->AppendNull();
    } else if (!p.bytes) {
      out->AppendInt(c.i);  // the 8 bytes of whichever member the kind uses
    } else if (p.lob_limit) {
      AppendLimitedLob(in.Bytes(row, p.source), col, out);
    } else {
      out->AppendBytes(in.Bytes(row, p.source));
    }
    return true;
  }
  if (p.path == Path::kNull) {
    out->AppendNull();
    return true;
  }
  Batch* dest = p.lob_limit ? &lob_scratch_ : out;
  if (p.lob_limit) lob_scratch_.Clear();
  ConvertStatus status = ConvertStatus::kOk;
  if (p.path == Path::kConvert) {
    const DmsType& from = spec_.source.columns[static_cast<size_t>(p.source)].type;
    status = ConvertCell(in, row, p.source, from, target.type, dest, &message_, &scratch_);
  } else {
    ExpressionValue v;
    std::string error;
    if (!expressions_->Evaluate(p.expression, in, row, header, &v, &error)) {
      message_ = std::move(error);
      status = ConvertStatus::kDataError;
    } else {
      Cell c;
      c.u = 0;
      c.null = false;
      c.unchanged = false;
      switch (v.type) {
        case ExpressionValue::Type::kNull:
          dest->AppendNull();
          break;
        case ExpressionValue::Type::kInteger:
          c.i = v.i;
          status = ConvertValue(kInt8Type, c, {}, target.type, dest, &message_, &scratch_);
          break;
        case ExpressionValue::Type::kReal:
          c.d = v.d;
          status = ConvertValue(kReal8Type, c, {}, target.type, dest, &message_, &scratch_);
          break;
        case ExpressionValue::Type::kText:
          status =
              ConvertValue(kTextType, c, v.bytes, target.type, dest, &message_, &scratch_);
          break;
        case ExpressionValue::Type::kBlob:
          status =
              ConvertValue(kBlobType, c, v.bytes, target.type, dest, &message_, &scratch_);
          break;
      }
      if (status != ConvertStatus::kOk) {
        message_ = fmt::format("the expression's result: {}", message_);
      }
    }
  }
  if (status != ConvertStatus::kOk) {
    *problem = status == ConvertStatus::kTruncation ? RowProblem::kTruncation : RowProblem::kData;
    return false;
  }
  if (p.lob_limit) {
    if (lob_scratch_.IsNull(0, 0)) {
      out->AppendNull();
    } else {
      AppendLimitedLob(lob_scratch_.Bytes(0, 0), col, out);
    }
  }
  return true;
}

void RowTransformer::Apply(const Batch& in, const HeaderValues& header, Batch* out,
                           RowIssueSink& sink) {
  const int ncols = static_cast<int>(plans_.size());
  if (in.columns() != static_cast<int>(spec_.source.columns.size())) {
    throw Error(ErrorKind::kInternal,
                fmt::format("table {}: the row transform expects batches of {} columns, got {}",
                            spec_.source.QualifiedName(), spec_.source.columns.size(),
                            in.columns()));
  }
  if (out->columns() == ncols) {
    out->Clear();  // keeps the capacity of the last batch
  } else {
    *out = Batch(ncols);
  }
  out->Reserve(in.rows(), in.ByteSize() / 2);
  cut_.clear();
  for (size_t row = 0; row < in.rows(); ++row) {
    const size_t rows_before = out->rows();
    const size_t arena_before = out->arena().size();
    for (int col = 0; col < ncols; ++col) {
      RowProblem problem = RowProblem::kData;
      if (AppendColumn(in, row, col, header, out, &problem)) continue;
      out->TruncateToRows(rows_before);
      out->arena().resize(arena_before);
      const std::string message =
          fmt::format("{}: {}", DescribeColumn(spec_.columns[static_cast<size_t>(col)]),
                      message_);
      if (!sink.RowFailed(row, col, problem, message)) {
        throw RowError(col, static_cast<int64_t>(row), message,
                       DescribeRowKey(in, row, spec_.source));
      }
      break;
    }
    if (cut_.empty()) continue;
    // Warnings only for rows that were kept.
    if (out->rows() != rows_before) {
      for (int col : cut_) sink.Warning(col, lob_warning_);
    }
    cut_.clear();
  }
}

}  // namespace ferry
