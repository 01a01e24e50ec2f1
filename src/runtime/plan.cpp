// Plan execution: per-node kernel choice (oneDNN or reference), layout tracking between oneDNN kernels,
// and reorders to plain tensors where needed. See plan.h.
#include "runtime/plan.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <unordered_map>

#include "kernels/onednn/onednn_kernel.h"
#include "ops/op_table.h"
#include "runtime/session.h"

namespace lowbit {

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::kRef:
      return "ref";
    case Backend::kOneDnn:
      return "onednn";
    case Backend::kAuto:
      return "auto";
  }
  return "?";
}

bool parse_backend(const std::string& name, Backend* out) {
  if (name == "ref")
    *out = Backend::kRef;
  else if (name == "onednn")
    *out = Backend::kOneDnn;
  else if (name == "auto")
    *out = Backend::kAuto;
  else
    return false;
  return true;
}

namespace {

using dnnl::memory;

// A runtime value: a plain tensor, a oneDNN memory (possibly blocked), or both (the plain one made on demand).
struct Value {
  Tensor tensor;  // plain row-major; undefined until needed when the producer was a oneDNN kernel
  memory mem;     // the oneDNN view: wraps `tensor`, or a pooled plan buffer
  void* pooled = nullptr;   // the pool buffer `mem` was written into (returned when the value dies)
  int64_t plain_bytes = 0;  // bytes of `tensor` when the plan allocated it (reference output or reorder copy)
};

// oneDNN output buffers, recycled by liveness: a buffer goes back to the pool when its value's last consumer
// has run, and the next oneDNN output of at most its size reuses it (best fit). The same graph and shapes
// request the same sizes in the same order every run, so after the first run nothing is allocated.
class BufferPool {
 public:
  BufferPool() = default;
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  ~BufferPool() {
    for (auto& [ptr, size] : sizes_) std::free(ptr);
  }
  void* acquire(size_t bytes) {
    auto it = free_.lower_bound(bytes);
    if (it != free_.end()) {
      void* p = it->second;
      free_.erase(it);
      return p;
    }
    const size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;  // oneDNN likes 64-byte alignment
    void* p = std::aligned_alloc(64, rounded);
    if (!p) throw std::bad_alloc();
    sizes_[p] = rounded;
    held_ += int64_t(rounded);
    return p;
  }
  void release(void* p) { free_.emplace(sizes_.at(p), p); }
  int64_t held_bytes() const { return held_; }

 private:
  std::multimap<size_t, void*> free_;
  std::unordered_map<void*, size_t> sizes_;
  int64_t held_ = 0;
};

// One node's compiled state.
struct Step {
  const OpSpec* op = nullptr;
  bool candidate = false;  // an op with a oneDNN kernel family, all float32
  std::unique_ptr<onednn::Kernel> kernel;
  bool plain_inputs = false;            // kernel was built for plain copies of blocked inputs
  std::vector<memory::desc> tried_for;  // input layouts the last build attempt saw
  bool tried = false;
  // Value slots (see Plan::Impl::slot_of), resolved once so a run looks up no names.
  std::vector<int> in_slots, out_slots;  // -1: omitted
  std::vector<int> release_slots;        // values whose last reader is this node
  std::vector<char> baked;               // input i is a constant the kernel may bake in
  std::vector<char> sole_last_read;      // input i dies here and no other operand of this node reads it
  // The kernel's output memories, made on its first run and pointed at this run's buffers after that (creating
  // oneDNN memory objects per run was most of the plan's own time on small models).
  std::vector<memory> out_mems;
};

// Element types oneDNN kernels exchange: float32, and int8/uint8 codes between the integer kernels.
bool activation_dtype_ok(DType t) { return t == DType::kFloat32 || t == DType::kInt8 || t == DType::kUint8; }

bool is_onednn_candidate(const Node& node) {
  static const std::set<std::string> ops = {
      "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Add",  "Mul",       "Sub",
      "Div",  "Max",     "Min",         "Softmax",           "Gemm",          "Relu", "LeakyRelu", "Sigmoid",
      "Tanh", "Elu",     "Clip",        "HardSigmoid",       "HardSwish", "MatMul",
      "ConvTranspose", "Resize", "Upsample", "Concat", "LayerNormalization", "InstanceNormalization",
      "QLinearConv", "QuantizeLinear", "DequantizeLinear", "Gather", "QLinearAdd", "QLinearMul",
      "QLinearGlobalAveragePool", "DepthToSpace", "MatMulIntegerToFloat", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
      "QLinearMatMul"};
  return node.domain.empty() && ops.count(node.op_type);
}

}  // namespace

struct Plan::Impl {
  const Graph& graph;
  PlanOptions options;
  dnnl::stream stream{onednn::cpu_engine()};
  std::vector<Step> steps;
  // Every value name the graph mentions has a slot; a run keeps its values in `slots` (live[s] says which are
  // set) and finds model constants through `constant_slots`.
  std::unordered_map<std::string, int> slot_of;
  std::vector<Value> slots;
  std::vector<char> live;
  std::set<std::string> overridable;
  int onednn_nodes = 0;
  BufferPool buffers;
  int64_t live_plain_bytes = 0, peak_plain_bytes = 0;  // plan-allocated plain tensors, this run
  // The model's constants as values, built once: a run's own map holds only inputs and computed values (mobilenet_v2
  // int8 has ~300 constants; rebuilding their map cost each run a few percent of its 1.8 ms).
  std::unordered_map<std::string, Value> constants;
  std::vector<Value*> constant_slots;  // per slot: its entry in `constants`, or null
  bool constants_ready = false;

  Impl(const Graph& g, PlanOptions o) : graph(g), options(o) {}

  // A model constant the kernels may bake in (overridable initializers can change per run: not those).
  const Tensor* baked_constant(const std::string& name) const {
    if (name.empty() || overridable.count(name)) return nullptr;
    return graph.constant(name);
  }

  static memory::desc desc_of(const Value& v) {
    return v.mem ? v.mem.get_desc() : onednn::plain_desc(v.tensor.shape(), onednn::dnnl_dtype(v.tensor.dtype()));
  }

  // The plain tensor of a value, reordering a blocked oneDNN buffer into a fresh tensor on first use.
  Expected<Tensor*> plain(Value& v) {
    if (v.tensor.defined()) return &v.tensor;
    memory::desc src = v.mem.get_desc();
    LB_ASSIGN_OR_RETURN(Tensor t, Tensor::create(onednn::desc_dtype(src), onednn::desc_shape(src), options.max_tensor_bytes));
    memory dst(onednn::plain_desc(t.shape(), src.data_type()), onednn::cpu_engine(), t.raw());
    dnnl::reorder(v.mem, dst).execute(stream, v.mem, dst);
    stream.wait();
    v.tensor = std::move(t);
    v.plain_bytes = v.tensor.nbytes();
    add_plain(v.plain_bytes);
    if (onednn::is_plain(src)) v.mem = dst;  // later oneDNN consumers may as well read the copy
    return &v.tensor;
  }

  void add_plain(int64_t bytes) {
    live_plain_bytes += bytes;
    peak_plain_bytes = std::max(peak_plain_bytes, live_plain_bytes);
  }

  // A value leaves the environment: its pooled buffer and its share of the live bytes go back.
  void drop(Value& v) {
    if (v.pooled) buffers.release(v.pooled);
    live_plain_bytes -= v.plain_bytes;
    v.pooled = nullptr;
    v.plain_bytes = 0;
  }

  memory& as_memory(Value& v) {
    if (!v.mem) v.mem = memory(desc_of(v), onednn::cpu_engine(), v.tensor.raw());
    return v.mem;
  }

  // Tries to build the oneDNN kernel of node `ni` for the given input values' layouts.
  Status build(size_t ni, std::vector<Value*>& ins) {
    const Node& node = graph.nodes[ni];
    Step& step = steps[ni];
    step.kernel.reset();
    step.out_mems.clear();
    step.plain_inputs = false;
    // Output shapes from the op's own inference, on concrete input types (once per layout).
    std::vector<ValueType> in_types(ins.size());
    InferContext ictx{node, graph.opset, {}, {}, {}, options.max_tensor_bytes};
    for (size_t i = 0; i < ins.size(); ++i) {
      const Tensor* constant = baked_constant(node.inputs[i]);
      if (ins[i]) {
        Shape s = ins[i]->tensor.defined() ? ins[i]->tensor.shape() : onednn::desc_shape(ins[i]->mem.get_desc());
        in_types[i] = ValueType(ins[i]->tensor.defined() ? ins[i]->tensor.dtype() : onednn::desc_dtype(ins[i]->mem.get_desc()),
                                std::vector<Dim>(s.begin(), s.end()));
        // Activations must be float32, or int8/uint8 for the integer kernels; baked constants (Resize sizes,
        // Clip bounds, scales) are the kernel's business.
        if (!constant && !activation_dtype_ok(in_types[i].dtype)) return Status::Ok();
      }
      ictx.input_types.push_back(ins[i] ? &in_types[i] : nullptr);
      ictx.input_values.push_back(constant ? constant
                                           : (ins[i] && ins[i]->tensor.defined() ? &ins[i]->tensor : nullptr));
    }
    ictx.output_types.resize(node.outputs.size());
    if (!step.op->infer(ictx).ok()) return Status::Ok();  // the reference path reports the error
    std::vector<Shape> out_shapes;
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const ValueType& vt = ictx.output_types[i];
      if (node.outputs[i].empty()) {
        out_shapes.emplace_back();
        continue;
      }
      if (!vt.fully_known() || !activation_dtype_ok(vt.dtype)) return Status::Ok();
      out_shapes.push_back(vt.concrete());
    }
    auto make = [&](bool plain_only) {
      std::vector<onednn::KernelInput> kin(ins.size());
      for (size_t i = 0; i < ins.size(); ++i) {
        if (!ins[i]) continue;
        kin[i].constant = baked_constant(node.inputs[i]);
        memory::desc d = desc_of(*ins[i]);
        kin[i].desc = plain_only || kin[i].constant ? onednn::plain_desc(onednn::desc_shape(d), d.data_type()) : d;
      }
      return onednn::create_kernel(node, graph.opset, kin, out_shapes);
    };
    step.kernel = make(false);
    if (step.kernel) step.kernel->pool = options.pool;
    if (!step.kernel) {
      bool any_blocked = false;
      for (auto* v : ins) any_blocked |= v && !onednn::is_plain(desc_of(*v));
      if (any_blocked) {
        step.kernel = make(true);
        step.plain_inputs = step.kernel != nullptr;
        if (step.kernel) step.kernel->pool = options.pool;
      }
    }
    return Status::Ok();
  }

  // The slot of output i of node ni, reset for a new value.
  Value& output_slot(size_t ni, size_t i) {
    const int s = steps[ni].out_slots[i];
    Value& v = slots[size_t(s)];
    if (live[size_t(s)]) drop(v);
    live[size_t(s)] = 1;
    return v;
  }

  Status run_reference(size_t ni, std::vector<Value*>& ins) {
    const Node& node = graph.nodes[ni];
    std::vector<ValueType> in_types(ins.size());
    InferContext ictx{node, graph.opset, {}, {}, {}, options.max_tensor_bytes};
    KernelContext kctx{node, graph.opset, {}, {}, options.pool};
    for (size_t i = 0; i < ins.size(); ++i) {
      const Tensor* t = nullptr;
      if (ins[i]) {
        LB_ASSIGN_OR_RETURN(t, plain(*ins[i]));
        in_types[i] = ValueType::of(*t);
      }
      ictx.input_types.push_back(t ? &in_types[i] : nullptr);
      ictx.input_values.push_back(t);
      kctx.inputs.push_back(t);
    }
    ictx.output_types.resize(node.outputs.size());
    Status s = step_op(ni)->infer(ictx);
    if (!s.ok()) return s.with_context("at run time");
    std::vector<Tensor> outs(node.outputs.size());
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i].empty()) {
        kctx.outputs.push_back(nullptr);
        continue;
      }
      const ValueType& vt = ictx.output_types[i];
      if (!vt.fully_known())
        return error(StatusCode::kInternal, node.describe(), ": output '", node.outputs[i],
                     "' has no concrete shape at run time (", vt.to_string(), ")");
      auto t = Tensor::create(vt.dtype, vt.concrete(), options.max_tensor_bytes);
      if (!t) return t.status().with_context(str_cat(node.describe(), ": output '", node.outputs[i], "'"));
      outs[i] = std::move(*t);
      kctx.outputs.push_back(&outs[i]);
    }
    LB_RETURN_IF_ERROR(step_op(ni)->ref(kctx));
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i].empty()) continue;
      const int64_t bytes = outs[i].nbytes();
      Value& v = output_slot(ni, i);
      v = Value{std::move(outs[i]), memory(), nullptr, bytes};
      add_plain(bytes);
    }
    return Status::Ok();
  }

  const OpSpec* step_op(size_t ni) const { return steps[ni].op; }

  Status run_onednn(size_t ni, std::vector<Value*>& ins) {
    const Node& node = graph.nodes[ni];
    Step& step = steps[ni];
    std::vector<memory> mems(ins.size());
    for (size_t i = 0; i < ins.size(); ++i) {
      if (!ins[i] || step.kernel->input_descs[i].data.ndims == 0) continue;  // omitted, or a baked constant
      if (step.plain_inputs) {
        // The value's own memory may still be the blocked buffer (plain() keeps it for blocked consumers):
        // hand the kernel the plain copy it was built for.
        LB_ASSIGN_OR_RETURN(Tensor * t, plain(*ins[i]));
        mems[i] = memory(onednn::plain_desc(t->shape(), onednn::dnnl_dtype(t->dtype())), onednn::cpu_engine(), t->raw());
      } else {
        mems[i] = as_memory(*ins[i]);
      }
    }
    std::vector<memory> outs;
    std::vector<void*> held;
    if (step.kernel->output_descs.size() != node.outputs.size())
      return error(StatusCode::kInternal, node.describe(), ": oneDNN kernel has the wrong number of outputs");
    for (size_t i = 0; i < node.outputs.size(); ++i)  // the same cap the reference path applies per tensor
      if (int64_t(step.kernel->output_descs[i].get_size()) > options.max_tensor_bytes)
        return error(StatusCode::kResourceExhausted, node.describe(), ": output '", node.outputs[i], "' (",
                     shape_to_string(onednn::desc_shape(step.kernel->output_descs[i])), ") would need ",
                     step.kernel->output_descs[i].get_size(), " bytes, more than the ", options.max_tensor_bytes,
                     "-byte tensor cap");
    // In place: output 0 takes over a dying input's pooled buffer (see Kernel::in_place_input).
    void* reuse = nullptr;
    const int ip = step.kernel->in_place_input;
    if (ip >= 0 && size_t(ip) < ins.size() && ins[size_t(ip)] && ins[size_t(ip)]->pooled && !step.plain_inputs &&
        ins[size_t(ip)]->mem.get_desc() == step.kernel->in_place_desc &&
        step.kernel->in_place_desc.get_size() == step.kernel->output_descs[0].get_size() &&
        step.sole_last_read[size_t(ip)]) {
      reuse = ins[size_t(ip)]->pooled;
      ins[size_t(ip)]->pooled = nullptr;  // the output owns the buffer now
    }
    try {
      const bool made = step.out_mems.size() == step.kernel->output_descs.size();
      for (size_t i = 0; i < step.kernel->output_descs.size(); ++i) {
        const memory::desc& d = step.kernel->output_descs[i];
        held.push_back(reuse && held.empty() ? reuse : buffers.acquire(d.get_size()));
        if (made) {
          step.out_mems[i].set_data_handle(held.back());
          outs.push_back(step.out_mems[i]);
        } else {
          outs.emplace_back(d, onednn::cpu_engine(), held.back());
        }
      }
      if (!made) step.out_mems = outs;
      step.kernel->execute(stream, mems, outs);
    } catch (const std::exception& e) {
      for (void* p : held) buffers.release(p);
      return error(StatusCode::kInternal, node.describe(), ": oneDNN failed: ", e.what());
    }
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i].empty()) {
        buffers.release(held[i]);  // an output nobody asked for: scratch only
        continue;
      }
      Value& v = output_slot(ni, i);
      v = Value{Tensor(), outs[i], held[i], 0};
    }
    return Status::Ok();
  }

  // The layouts the node's runtime inputs arrive in now (zero desc for omitted and baked-constant inputs).
  std::vector<memory::desc> current_descs(size_t ni, std::vector<Value*>& ins) {
    std::vector<memory::desc> d(ins.size());
    for (size_t i = 0; i < ins.size(); ++i)
      if (ins[i] && !steps[ni].baked[i]) d[i] = desc_of(*ins[i]);
    return d;
  }

  // True when the kernel was built for exactly these input layouts.
  bool kernel_fits(const Step& step, const std::vector<memory::desc>& now) const {
    if (!step.kernel) return false;
    if (step.plain_inputs) return step.tried_for == now;
    for (size_t i = 0; i < now.size(); ++i)
      if (step.kernel->input_descs[i].data.ndims != 0 && !(step.kernel->input_descs[i] == now[i])) return false;
    return true;
  }
};

Plan::Plan(const Graph& graph, PlanOptions options) : impl_(std::make_unique<Impl>(graph, options)) {
  Impl& p = *impl_;
  p.overridable.insert(graph.overridable_initializers.begin(), graph.overridable_initializers.end());
  p.steps.resize(graph.nodes.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    p.steps[i].op = find_op(graph.nodes[i].domain, graph.nodes[i].op_type);
    p.steps[i].candidate = options.use_onednn && is_onednn_candidate(graph.nodes[i]);
  }
  auto slot = [&](const std::string& name) {
    if (name.empty()) return -1;
    auto [it, added] = p.slot_of.emplace(name, int(p.slot_of.size()));
    return it->second;
  };
  for (auto& name : graph.inputs) slot(name);
  std::unordered_map<std::string, size_t> last_use;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    Step& step = p.steps[i];
    for (auto& in : node.inputs) {
      step.in_slots.push_back(slot(in));
      step.baked.push_back(p.baked_constant(in) != nullptr);
      if (!in.empty()) last_use[in] = i;
    }
    for (auto& out : node.outputs) step.out_slots.push_back(slot(out));
  }
  for (auto& name : graph.outputs) slot(name);
  std::set<std::string> keep(graph.outputs.begin(), graph.outputs.end());
  for (auto& [name, i] : last_use)
    if (!keep.count(name) && !graph.constant(name)) p.steps[i].release_slots.push_back(p.slot_of.at(name));
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    Step& step = p.steps[i];
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      const int s = step.in_slots[j];
      const bool dies = s >= 0 && std::count(step.release_slots.begin(), step.release_slots.end(), s) > 0;
      step.sole_last_read.push_back(dies && std::count(step.in_slots.begin(), step.in_slots.end(), s) == 1);
    }
  }
  p.slots.resize(p.slot_of.size());
  p.live.assign(p.slot_of.size(), 0);
}

Plan::~Plan() = default;

int Plan::onednn_node_count() const { return impl_->onednn_nodes; }

int64_t Plan::onednn_buffer_bytes() const { return impl_->buffers.held_bytes(); }

int64_t Plan::peak_activation_bytes() const { return impl_->buffers.held_bytes() + impl_->peak_plain_bytes; }

Expected<std::map<std::string, Tensor>> Plan::run(const std::map<std::string, Tensor>& inputs,
                                                  const std::function<void(const Node&, const char*, double)>& observer,
                                                  const ValueObserver* value_observer) {
  Impl& p = *impl_;
  const Graph& graph = p.graph;
  onednn::set_num_threads(p.options.threads);
  if (!p.constants_ready) {
    for (auto& [name, v] : graph.values)
      if (v.constant) p.constants[name] = Value{*v.constant, memory()};
    p.constant_slots.assign(p.slots.size(), nullptr);
    for (auto& [name, s] : p.slot_of) {
      auto c = p.constants.find(name);
      if (c != p.constants.end()) p.constant_slots[size_t(s)] = &c->second;
    }
    p.constants_ready = true;
  }
  // Inputs (they override initializers) and computed values live in the slots; constants are found by slot too.
  for (auto& [name, t] : inputs) {
    auto it = p.slot_of.find(name);
    if (it == p.slot_of.end()) continue;  // read by nothing
    p.slots[size_t(it->second)] = Value{t, memory()};
    p.live[size_t(it->second)] = 1;
  }
  auto find_slot = [&](int s) -> Value* {
    if (s < 0) return nullptr;
    if (p.live[size_t(s)]) return &p.slots[size_t(s)];
    return p.constant_slots[size_t(s)];
  };
  p.onednn_nodes = 0;
  p.live_plain_bytes = p.peak_plain_bytes = 0;
  // Every exit (errors included) hands the pooled buffers of the values still alive back and empties the slots.
  struct ReturnBuffers {
    Impl& p;
    ~ReturnBuffers() {
      for (size_t s = 0; s < p.slots.size(); ++s)
        if (p.live[s]) {
          p.drop(p.slots[s]);
          p.slots[s] = Value{};
          p.live[s] = 0;
        }
    }
  } return_buffers{p};

  std::vector<Value*> ins;
  for (size_t ni = 0; ni < graph.nodes.size(); ++ni) {
    const Node& node = graph.nodes[ni];
    Step& step = p.steps[ni];
    auto start = std::chrono::steady_clock::now();
    ins.assign(node.inputs.size(), nullptr);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i].empty()) continue;
      ins[i] = find_slot(step.in_slots[i]);
      if (!ins[i]) return error(StatusCode::kInternal, node.describe(), ": input '", node.inputs[i], "' was not computed");
    }
    bool on_onednn = false;
    if (step.candidate) {
      std::vector<memory::desc> now = p.current_descs(ni, ins);
      if (!p.kernel_fits(step, now) && !(step.tried && step.tried_for == now)) {
        LB_RETURN_IF_ERROR(p.build(ni, ins));
        step.tried = true;
        step.tried_for = now;
      }
      on_onednn = p.kernel_fits(step, now);
    }
    if (on_onednn) {
      LB_RETURN_IF_ERROR(p.run_onednn(ni, ins));
      ++p.onednn_nodes;
    } else {
      LB_RETURN_IF_ERROR(p.run_reference(ni, ins));
    }
    if (value_observer && *value_observer)
      for (size_t i = 0; i < node.outputs.size(); ++i) {
        const std::string& out = node.outputs[i];
        if (out.empty() || !value_observer->wants(out)) continue;
        Value* v = find_slot(step.out_slots[i]);
        if (!v) continue;
        if (v->tensor.defined() ? v->tensor.dtype() != DType::kFloat32 : false) continue;
        LB_ASSIGN_OR_RETURN(Tensor * t, p.plain(*v));
        if (t->dtype() == DType::kFloat32) value_observer->observe(out, *t);
      }
    for (int dead : step.release_slots) {
      if (!p.live[size_t(dead)]) continue;
      p.drop(p.slots[size_t(dead)]);
      p.slots[size_t(dead)] = Value{};
      p.live[size_t(dead)] = 0;
    }
    if (observer)
      observer(node, on_onednn ? "onednn" : "ref", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  p.stream.wait();
  const int64_t peak_before_outputs = p.peak_plain_bytes;  // the copies handed back are the caller's
  std::map<std::string, Tensor> result;
  for (auto& name : graph.outputs) {
    auto it = p.slot_of.find(name);
    Value* found = it == p.slot_of.end() ? nullptr : find_slot(it->second);
    if (!found) return error(StatusCode::kInternal, "graph output '", name, "' was not computed");
    Value& v = *found;
    LB_ASSIGN_OR_RETURN(Tensor * t, p.plain(v));  // a fresh copy when a plan-owned buffer holds it
    result[name] = *t;
  }
  p.peak_plain_bytes = peak_before_outputs;
  return result;
}

}  // namespace lowbit
