#include "compare/model_compare.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "quant/qdq_inspect.h"
#include "quant/quant_math.h"
#include "runtime/session.h"

namespace lowbit::compare {
namespace {

using Consumers = std::unordered_map<std::string, std::vector<std::pair<size_t, size_t>>>;  // value -> (node, input)

Consumers consumers_of(const Graph& g) {
  Consumers c;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (size_t k = 0; k < g.nodes[i].inputs.size(); ++k)
      if (!g.nodes[i].inputs[k].empty()) c[g.nodes[i].inputs[k]].push_back({i, k});
  return c;
}

bool is_op(const Node& n, const char* op) { return n.domain.empty() && n.op_type == op; }

// Scale / zero point of a QuantizeLinear or DequantizeLinear node (int8/uint8, constants), as `lowbit inspect` reads them.
QuantInfo quant_info(const Graph& g, const Node& n) {
  QuantInfo q;
  auto p = quant::qdq_node_params(g, n);
  if (!p || (p->dtype != DType::kInt8 && p->dtype != DType::kUint8)) return q;
  q.quantized = true;
  q.dtype = dtype_name(p->dtype);
  q.scale = p->scales[0];
  q.zero_point = p->zero_points[0];
  q.per_axis = p->scales.size() > 1;
  q.lo = p->real_lo;
  q.hi = p->real_hi;
  return q;
}

// T -> QuantizeLinear -> DequantizeLinear(s): the nodes, when T's only consumer is a QuantizeLinear whose
// output only DequantizeLinear nodes read.
struct QdqChain {
  int q = -1;
  std::vector<int> dqs;
};
QdqChain qdq_chain(const Graph& g, const Consumers& c, const std::string& t) {
  QdqChain chain;
  auto it = c.find(t);
  if (it == c.end() || it->second.size() != 1) return chain;
  const size_t qi = it->second[0].first;
  const Node& q = g.nodes[qi];
  if (!is_op(q, "QuantizeLinear") || it->second[0].second != 0 || q.outputs.empty()) return chain;
  auto jt = c.find(q.outputs[0]);
  if (jt == c.end()) return chain;
  for (auto [di, k] : jt->second)
    if (!is_op(g.nodes[di], "DequantizeLinear") || k != 0) return chain;
  chain.q = int(qi);
  for (auto [di, k] : jt->second) chain.dqs.push_back(int(di));
  return chain;
}

std::string fresh_name(const Graph& g, const std::string& base) {
  std::string name = base;
  for (int i = 2; g.values.count(name); ++i) name = base + "_" + std::to_string(i);
  return name;
}

// A float tensor for the comparison: float32 as is, int8/uint8 dequantized with `q`.
Expected<Tensor> as_float(const Tensor& t, const QuantInfo* q, const std::string& what) {
  if (t.dtype() == DType::kFloat32) return t;
  if (!q || !q->quantized || (t.dtype() != DType::kInt8 && t.dtype() != DType::kUint8))
    return error(StatusCode::kInvalidArgument, what, " is ", dtype_name(t.dtype()), ": only float32 tensors, or int8/uint8 "
                 "tensors with a constant per-tensor scale, can be compared");
  Tensor f(DType::kFloat32, t.shape());
  const float scale = float(q->scale);
  const int32_t zp = int32_t(q->zero_point);
  float* dst = f.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    dst[i] = t.dtype() == DType::kInt8 ? quant::dequantize_value(t.data<int8_t>()[i], scale, zp)
                                       : quant::dequantize_value(t.data<uint8_t>()[i], scale, zp);
  return f;
}

// The model's QuantizeLinear on a float input (the shared rounding of quant_math.h).
Tensor quantize(const Tensor& x, const QuantInfo& q) {
  const bool s8 = q.dtype == "int8";
  Tensor out(s8 ? DType::kInt8 : DType::kUint8, x.shape());
  const float scale = float(q.scale);
  const int32_t zp = int32_t(q.zero_point);
  const float* src = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (s8) out.data<int8_t>()[i] = quant::quantize_value<int8_t>(src[i], scale, zp);
    else out.data<uint8_t>()[i] = quant::quantize_value<uint8_t>(src[i], scale, zp);
  }
  return out;
}

// How the quantized model's inputs and outputs relate to the FP32 model's (shared by both classes).
struct IoMap {
  std::map<std::string, QuantInfo> int_inputs;  // quantized-model input -> params to quantize the FP32 input with
  std::vector<std::pair<std::string, std::string>> outputs;  // (FP32 name, quantized name)
  std::map<std::string, QuantInfo> int_outputs;              // quantized-model output -> params to dequantize with
};

Expected<IoMap> map_io(const Graph& fp32, const Graph& quant, std::vector<std::string>* notes) {
  IoMap m;
  const Consumers c = consumers_of(quant);
  std::set<std::string> fp32_inputs(fp32.inputs.begin(), fp32.inputs.end());
  for (auto& name : quant.inputs) {
    if (!fp32_inputs.count(name))
      return error(StatusCode::kInvalidArgument, "input '", name, "' of the quantized model '", quant.path,
                   "' is not an input of the FP32 model '", fp32.path, "'");
    const DType qt = quant.find(name)->type.dtype, ft = fp32.find(name)->type.dtype;
    if (qt == ft) continue;
    QuantInfo q;
    auto it = c.find(name);
    if (it != c.end())
      for (auto [ni, k] : it->second)
        if (is_op(quant.nodes[ni], "DequantizeLinear") && k == 0) q = quant_info(quant, quant.nodes[ni]);
    if (ft != DType::kFloat32 || !q.quantized || q.per_axis)
      return error(StatusCode::kInvalidArgument, "input '", name, "' is ", dtype_name(ft), " in '", fp32.path, "' but ",
                   dtype_name(qt), " in '", quant.path, "', and no per-tensor DequantizeLinear of it says how to convert");
    m.int_inputs[name] = q;
  }
  std::set<std::string> fp32_outputs(fp32.outputs.begin(), fp32.outputs.end());
  bool by_name = false;
  for (auto& o : quant.outputs) by_name = by_name || fp32_outputs.count(o);
  if (!by_name && fp32.outputs.size() != quant.outputs.size())
    return error(StatusCode::kInvalidArgument, "no output of '", quant.path, "' has the name of an output of '", fp32.path,
                 "', and their output counts differ: nothing to compare");
  for (size_t i = 0; i < quant.outputs.size(); ++i) {
    const std::string& qn = quant.outputs[i];
    std::string fn = by_name ? (fp32_outputs.count(qn) ? qn : "") : fp32.outputs[i];
    if (fn.empty()) {
      notes->push_back("output '" + qn + "' of the quantized model has no FP32 counterpart: not compared");
      continue;
    }
    if (!by_name && fn != qn) notes->push_back("outputs matched by position: '" + fn + "' <-> '" + qn + "'");
    const ValueInfo* qv = quant.find(qn);
    if (qv && qv->type.dtype != DType::kFloat32) {
      const ValueInfo* p = qv;
      QuantInfo q;
      if (p->producer >= 0 && is_op(quant.nodes[size_t(p->producer)], "QuantizeLinear"))
        q = quant_info(quant, quant.nodes[size_t(p->producer)]);
      if (!q.quantized || q.per_axis) {
        notes->push_back("output '" + qn + "' is " + std::string(dtype_name(qv->type.dtype)) +
                         " without a per-tensor QuantizeLinear producer: not compared");
        continue;
      }
      m.int_outputs[qn] = q;
    }
    m.outputs.emplace_back(fn, qn);
  }
  return m;
}

Expected<std::map<std::string, Tensor>> quant_inputs(const IoMap& io, const std::map<std::string, Tensor>& fp32_inputs) {
  std::map<std::string, Tensor> q = fp32_inputs;
  for (auto& [name, info] : io.int_inputs) {
    auto it = q.find(name);
    if (it == q.end()) continue;
    if (it->second.dtype() != DType::kFloat32)
      return error(StatusCode::kInvalidArgument, "input '", name, "' must be float32 to be quantized for the quantized model");
    it->second = quantize(it->second, info);
  }
  return q;
}

// Output metrics shared by both classes.
Status score_outputs(const IoMap& io, const std::map<std::string, Tensor>& fp32_out, const std::map<std::string, Tensor>& quant_out,
                     std::vector<OutputComparison>& outputs, double threshold) {
  if (outputs.empty())
    for (auto& [fn, qn] : io.outputs) {
      OutputComparison o;
      o.fp32_name = fn;
      o.quant_name = qn;
      o.iou = IouAccumulator(threshold);
      outputs.push_back(std::move(o));
    }
  for (auto& o : outputs) {
    auto f = fp32_out.find(o.fp32_name);
    auto q = quant_out.find(o.quant_name);
    if (f == fp32_out.end() || q == quant_out.end()) continue;
    auto qi = io.int_outputs.find(o.quant_name);
    LB_ASSIGN_OR_RETURN(Tensor ff, as_float(f->second, nullptr, "FP32 output '" + o.fp32_name + "'"));
    LB_ASSIGN_OR_RETURN(Tensor qf, as_float(q->second, qi == io.int_outputs.end() ? nullptr : &qi->second,
                                            "quantized output '" + o.quant_name + "'"));
    if (ff.shape() != qf.shape())
      return error(StatusCode::kInvalidArgument, "output '", o.fp32_name, "' has shape ", shape_to_string(ff.shape()),
                   " in the FP32 model but ", shape_to_string(qf.shape()), " in the quantized model");
    if (o.shape.empty()) {
      o.shape = ff.shape();
      o.task = task_kind_for_shape(o.shape);
    }
    o.accumulated.add(ff.data<float>(), qf.data<float>(), ff.numel());
    if (o.task == "classifier") o.top1.add(ff.data<float>(), qf.data<float>(), ff.shape());
    if (o.task == "map") o.iou.add(ff.data<float>(), qf.data<float>(), ff.numel());
  }
  return Status();
}

SessionOptions session_options(const CompareOptions& o) {
  SessionOptions s;
  s.threads = o.threads;
  s.backend = o.backend;
  s.max_tensor_bytes = o.max_tensor_bytes;
  return s;
}

}  // namespace

struct ModelComparer::Impl {
  CompareOptions options;
  IoMap io;
  std::unique_ptr<Session> fp32, quant, local;
  std::vector<LayerComparison> layers;
  std::map<std::string, size_t> by_compared;     // quantized-model value compared -> layer
  std::map<std::string, size_t> by_local;        // local-graph value compared -> layer
  std::map<std::string, std::string> local_feeds;  // local-graph input -> FP32 tensor it carries
  std::set<std::string> fp32_wanted;
  std::map<std::string, Tensor> last_fp32_outputs;
  std::vector<OutputComparison> outputs;
  std::vector<std::string> notes;
  int64_t samples = 0;
};

ModelComparer::ModelComparer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ModelComparer::~ModelComparer() = default;

Expected<std::unique_ptr<ModelComparer>> ModelComparer::create(const Graph& fp32, const Graph& quant,
                                                              const CompareOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  LB_ASSIGN_OR_RETURN(impl->io, map_io(fp32, quant, &impl->notes));
  const Consumers c = consumers_of(quant);
  Graph local = quant;
  std::set<std::string> outputs(quant.outputs.begin(), quant.outputs.end());
  int skipped_shape = 0;
  // Candidates in topological order: graph inputs (their own Q/DQ error), then every node output.
  std::vector<std::pair<int, std::string>> candidates;  // (producer node or -1, tensor)
  for (auto& in : quant.inputs) candidates.emplace_back(-1, in);
  for (size_t ni = 0; ni < quant.nodes.size(); ++ni) {
    const Node& n = quant.nodes[ni];
    if (is_op(n, "QuantizeLinear") || is_op(n, "DequantizeLinear")) continue;
    for (auto& t : n.outputs)
      if (!t.empty()) candidates.emplace_back(int(ni), t);
  }
  for (auto& [ni, t] : candidates) {
    if (!options.layers) break;
    const ValueInfo* fv = fp32.find(t);
    const ValueInfo* qv = quant.find(t);
    if (!fv || fv->type.dtype != DType::kFloat32 || !qv || qv->type.dtype != DType::kFloat32) continue;
    if ((ni < 0) != (fv->producer < 0) || fv->constant) continue;  // an input in one model, computed in the other
    if (fv->type.has_shape && qv->type.has_shape && fv->type.rank() != qv->type.rank()) {
      ++skipped_shape;
      continue;
    }
    const QdqChain chain = qdq_chain(quant, c, t);
    if (ni < 0 && chain.q < 0) continue;  // a float graph input: nothing to compare
    LayerComparison L;
    L.index = int(impl->layers.size());
    L.tensor = t;
    L.node = ni >= 0 ? quant.nodes[size_t(ni)].name : "";
    L.op_type = ni >= 0 ? quant.nodes[size_t(ni)].op_type : "(input)";
    L.is_output = outputs.count(t) != 0;
    L.histogram = Histogram(options.histogram_bins);
    L.compared_value = chain.q >= 0 ? quant.nodes[size_t(chain.dqs[0])].outputs[0] : t;
    if (chain.q >= 0) L.quant = quant_info(quant, quant.nodes[size_t(chain.q)]);
    impl->by_compared[L.compared_value] = impl->layers.size();
    impl->by_local[options.local_mode == LocalMode::kLayerAlone ? L.compared_value : t] = impl->layers.size();
    impl->fp32_wanted.insert(t);
    impl->layers.push_back(std::move(L));

    // Local graph: whatever reads this tensor (its dequantized value when quantized) reads the FP32 value instead
    // (kLayerAlone), or that value quantized by a copy of the tensor's own Q/DQ pair (kNodeInputs).
    std::vector<std::pair<size_t, size_t>> readers;
    if (chain.q < 0) {
      if (c.count(t)) readers = c.at(t);
    } else {
      for (int di : chain.dqs) {
        auto it = c.find(quant.nodes[size_t(di)].outputs[0]);
        if (it != c.end()) readers.insert(readers.end(), it->second.begin(), it->second.end());
      }
    }
    if (!options.local || readers.empty()) continue;
    const std::string feed = fresh_name(local, t + "#fp32");
    ValueInfo fi = *qv;
    fi.name = feed;
    fi.producer = -1;
    fi.constant.reset();
    fi.initializer = false;
    local.values[feed] = fi;
    local.inputs.push_back(feed);
    impl->local_feeds[feed] = t;
    std::string read = feed;
    if (options.local_mode == LocalMode::kNodeInputs && chain.q >= 0) {
      Node q = quant.nodes[size_t(chain.q)], dq = quant.nodes[size_t(chain.dqs[0])];
      q.name = fresh_name(local, q.name + "#fp32");
      dq.name = fresh_name(local, dq.name + "#fp32");
      q.inputs[0] = feed;
      const std::string q_out = fresh_name(local, q.outputs[0] + "#fp32");
      local.values[q_out] = *quant.find(q.outputs[0]);
      local.values[q_out].name = q_out;
      q.outputs = {q_out};
      dq.inputs[0] = q_out;
      read = fresh_name(local, dq.outputs[0] + "#fp32");
      local.values[read] = *quant.find(dq.outputs[0]);
      local.values[read].name = read;
      dq.outputs = {read};
      local.nodes.push_back(std::move(q));
      local.nodes.push_back(std::move(dq));
    }
    for (auto [ri, k] : readers) local.nodes[ri].inputs[k] = read;
  }
  if (skipped_shape)
    impl->notes.push_back(str_cat(skipped_shape, " tensor(s) share a name with an FP32 tensor of another rank: not compared"));
  if (options.layers && impl->layers.empty())
    impl->notes.push_back("no tensor of the quantized model has the name of an FP32 tensor: only outputs are compared");

  const SessionOptions so = session_options(options);
  LB_ASSIGN_OR_RETURN(impl->fp32, Session::create(fp32, so));
  LB_ASSIGN_OR_RETURN(impl->quant, Session::create(quant, so));
  if (options.local && !impl->local_feeds.empty()) {
    LB_RETURN_IF_ERROR(topological_sort(local).with_context("building the layer-local copy of '" + quant.path + "'"));
    local.index_producers();
    LB_ASSIGN_OR_RETURN(impl->local, Session::create(std::move(local), so));
  }
  return std::unique_ptr<ModelComparer>(new ModelComparer(std::move(impl)));
}

Status ModelComparer::add_sample(const std::map<std::string, Tensor>& inputs) {
  Impl& m = *impl_;
  // 1. FP32 model: keep every matched tensor of this sample (the local run needs them as inputs).
  std::map<std::string, Tensor> fp32_values;
  ValueObserver keep;
  keep.wants = [&](const std::string& name) { return m.fp32_wanted.count(name) != 0; };
  keep.observe = [&](const std::string& name, const Tensor& t) { fp32_values[name] = t.clone(); };
  LB_ASSIGN_OR_RETURN(m.last_fp32_outputs, m.fp32->run(inputs, nullptr, keep));
  for (auto& [name, t] : m.last_fp32_outputs)
    if (m.fp32_wanted.count(name) && !fp32_values.count(name)) fp32_values[name] = t;
  for (auto& [name, t] : inputs)
    if (m.fp32_wanted.count(name) && t.dtype() == DType::kFloat32) fp32_values[name] = t;

  // 2. The quantized model end to end.
  LB_ASSIGN_OR_RETURN(auto q_inputs, quant_inputs(m.io, inputs));
  auto compare = [&](bool local) {
    ValueObserver obs;
    const std::map<std::string, size_t>& by = local ? m.by_local : m.by_compared;
    obs.wants = [&by](const std::string& name) { return by.count(name) != 0; };
    obs.observe = [&m, &fp32_values, &by, local](const std::string& name, const Tensor& t) {  // `local` by value
      LayerComparison& L = m.layers[by.at(name)];
      auto f = fp32_values.find(L.tensor);
      if (f == fp32_values.end() || f->second.shape() != t.shape()) return;
      (local ? L.local : L.accumulated).add(f->second.data<float>(), t.data<float>(), t.numel());
      L.has_local = L.has_local || local;
    };
    return obs;
  };
  LB_ASSIGN_OR_RETURN(auto q_out, m.quant->run(q_inputs, nullptr, compare(false)));
  LB_RETURN_IF_ERROR(score_outputs(m.io, m.last_fp32_outputs, q_out, m.outputs, m.options.map_threshold));

  // 3. Each layer on FP32 inputs.
  if (m.local) {
    std::map<std::string, Tensor> feeds = q_inputs;
    for (auto& [feed, t] : m.local_feeds) {
      auto f = fp32_values.find(t);
      if (f == fp32_values.end())
        return error(StatusCode::kInternal, "the FP32 model did not produce '", t, "' (needed for the layer-local run)");
      feeds[feed] = f->second;
    }
    LB_ASSIGN_OR_RETURN(auto unused, m.local->run(feeds, nullptr, compare(true)));
    (void)unused;
  }

  // Ranges, clipping and histograms of the FP32 values.
  for (auto& L : m.layers) {
    auto f = fp32_values.find(L.tensor);
    if (f == fp32_values.end()) continue;
    const Tensor& t = f->second;
    if (L.shape.empty()) L.shape = t.shape();
    const float* v = t.data<float>();
    double lo = L.elements ? L.fp32_min : INFINITY, hi = L.elements ? L.fp32_max : -INFINITY;
    int64_t clipped = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (!std::isfinite(v[i])) continue;
      lo = std::min(lo, double(v[i]));
      hi = std::max(hi, double(v[i]));
      if (L.quant.quantized && (v[i] < L.quant.lo || v[i] > L.quant.hi)) ++clipped;
    }
    L.fp32_min = lo;
    L.fp32_max = hi;
    L.clipped += clipped;
    L.elements += t.numel();
    L.histogram.add(v, t.numel(), L.quant.quantized ? L.quant.lo : NAN, L.quant.quantized ? L.quant.hi : NAN);
  }
  ++m.samples;
  return Status();
}

const std::map<std::string, Tensor>& ModelComparer::last_fp32_outputs() const { return impl_->last_fp32_outputs; }

CompareResult ModelComparer::result() const {
  CompareResult r;
  r.layers = impl_->layers;
  r.outputs = impl_->outputs;
  r.samples = impl_->samples;
  r.notes = impl_->notes;
  // Worst layers: lowest local SQNR (the error a layer adds itself), else lowest accumulated.
  std::vector<std::pair<double, std::string>> ranked;
  for (auto& L : r.layers) {
    const ErrorMetrics m = (L.has_local ? L.local : L.accumulated).result();
    if (m.count == 0 || m.exact) continue;
    ranked.emplace_back(m.sqnr_db ? *m.sqnr_db : -kExactSqnrDb, L.tensor);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < ranked.size() && int(i) < impl_->options.worst; ++i) r.worst.push_back(ranked[i].second);
  return r;
}

struct OutputScorer::Impl {
  CompareOptions options;
  IoMap io;
  std::unique_ptr<Session> quant;
  std::vector<OutputComparison> outputs;
  std::vector<std::string> notes;
  int64_t samples = 0;
};

OutputScorer::OutputScorer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OutputScorer::~OutputScorer() = default;

Expected<std::unique_ptr<OutputScorer>> OutputScorer::create(const Graph& fp32, const Graph& quant, const CompareOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  LB_ASSIGN_OR_RETURN(impl->io, map_io(fp32, quant, &impl->notes));
  LB_ASSIGN_OR_RETURN(impl->quant, Session::create(quant, session_options(options)));
  return std::unique_ptr<OutputScorer>(new OutputScorer(std::move(impl)));
}

Status OutputScorer::add_sample(const std::map<std::string, Tensor>& fp32_inputs, const std::map<std::string, Tensor>& fp32_outputs) {
  LB_ASSIGN_OR_RETURN(auto q_inputs, quant_inputs(impl_->io, fp32_inputs));
  LB_ASSIGN_OR_RETURN(auto q_out, impl_->quant->run(q_inputs));
  LB_RETURN_IF_ERROR(score_outputs(impl_->io, fp32_outputs, q_out, impl_->outputs, impl_->options.map_threshold));
  ++impl_->samples;
  return Status();
}

CompareResult OutputScorer::result() const {
  CompareResult r;
  r.outputs = impl_->outputs;
  r.samples = impl_->samples;
  r.notes = impl_->notes;
  return r;
}

}  // namespace lowbit::compare
