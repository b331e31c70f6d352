#include "cdc/change_mapper.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"

namespace ferry::cdc {

namespace {

// Rows the transform may not drop: any problem becomes a RowError for the apply stage, which
// applies the task's error policies to the change as a whole.
class StrictSink : public RowIssueSink {
 public:
  bool RowFailed(size_t, int, RowProblem, const std::string&) override { return false; }
  void Warning(int, std::string_view message) override {
    spdlog::debug("change transform: {}", message);
  }
};

}  // namespace

ChangeMapper::ChangeMapper(const TableDef& captured, const TablePlan& plan)
    : ChangeMapper(captured, plan, false) {}

std::unique_ptr<ChangeMapper> ChangeMapper::AfterTableChange(const TableDef& captured,
                                                             const TablePlan& plan) {
  return std::unique_ptr<ChangeMapper>(new ChangeMapper(captured, plan, true));
}

ChangeMapper::ChangeMapper(const TableDef& captured, const TablePlan& plan, bool gone_is_null)
    : plan_(plan) {
  const TableDef& input = plan_.transform ? plan_.transform->source : plan_.source;
  for (const ColumnDef& c : input.columns) input_names_.push_back(c.name);
  if (plan_.transform) {
    transformer_ = RowTransformer::Create(*plan_.transform);
    if (transformer_->identity()) transformer_.reset();
  }
  Rebind(captured);
  for (size_t i = 0; i < input_names_.size() && !gone_is_null; ++i) {
    if (from_captured_[i] < 0) {
      std::vector<std::string> names;
      for (const ColumnDef& c : captured.columns) names.push_back(c.name);
      throw Error(ErrorKind::kSchema,
                  fmt::format("table {}: column {} is not in the captured table (columns: {})",
                              captured.QualifiedName(), input_names_[i],
                              fmt::join(names, ", ")));
    }
  }
}

ChangeMapper::~ChangeMapper() = default;

void ChangeMapper::Rebind(const TableDef& captured) {
  from_captured_.assign(input_names_.size(), -1);
  for (size_t i = 0; i < input_names_.size(); ++i) {
    from_captured_[i] = captured.ColumnIndex(input_names_[i]);
  }
}

void ChangeMapper::Pick(const Batch& in, int row) {
  const TableDef& input = plan_.transform ? plan_.transform->source : plan_.source;
  for (size_t i = 0; i < from_captured_.size(); ++i) {
    const int c = from_captured_[i];
    if (c < 0 || c >= in.columns()) {
      input_.AppendNull();
      continue;
    }
    input_.AppendCellFrom(in, row, c, StorageOf(input.columns[i].type.kind) == Storage::kBytes);
  }
}

ChangeView ChangeMapper::Map(const ChangeView& in, const HeaderValues& header) {
  ChangeView out = in;
  if (in.op == ChangeOp::kTruncate || in.rows == nullptr) {
    out.rows = nullptr;
    return out;
  }
  const int ncols = static_cast<int>(input_names_.size());
  if (input_.columns() != ncols) input_ = Batch(ncols);
  input_.Clear();
  int row = 0;
  if (in.old_row >= 0) {
    Pick(*in.rows, in.old_row);
    out.old_row = row++;
  }
  if (in.new_row >= 0) {
    Pick(*in.rows, in.new_row);
    out.new_row = row++;
  }
  if (!transformer_) {
    out.rows = &input_;
    return out;
  }
  // Transform row by row, so a failing image is known and no row is dropped.
  const TransformSpec& spec = plan_.transform.value();
  const int tcols = static_cast<int>(spec.columns.size());
  if (output_.columns() != tcols) output_ = Batch(tcols);
  output_.Clear();
  StrictSink sink;
  for (int r = 0; r < row; ++r) {
    if (one_.columns() != ncols) one_ = Batch(ncols);
    one_.Clear();
    for (int c = 0; c < ncols; ++c) {
      one_.AppendCellFrom(input_, r, c,
                          StorageOf(spec.source.columns[c].type.kind) == Storage::kBytes);
    }
    transformer_->Apply(one_, header, &out1_, sink);
    for (int c = 0; c < tcols; ++c) {
      const int s = spec.columns[c].source_index;
      const bool unchanged = s >= 0 ? input_.at(r, s).unchanged : false;
      output_.AppendCellFrom(out1_, 0, c, StorageOf(spec.columns[c].type.kind) == Storage::kBytes);
      if (unchanged) output_.MarkUnchanged(r, c);
    }
    if (!warned_expression_unchanged_) {
      bool any_unchanged = false;
      for (int c = 0; c < ncols; ++c) any_unchanged |= input_.at(r, c).unchanged;
      if (any_unchanged) {
        for (const TransformColumn& tc : spec.columns) {
          if (tc.source_index < 0 && !tc.expression.empty()) {
            warned_expression_unchanged_ = true;
            spdlog::warn("table {}: an update left a large value unchanged (not sent by the "
                         "source); add-column expressions of that row see it as NULL",
                         plan_.source.QualifiedName());
            break;
          }
        }
      }
    }
  }
  out.rows = &output_;
  return out;
}

}  // namespace ferry::cdc
