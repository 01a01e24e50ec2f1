// Pass lower_qdq: a QDQ graph (QuantizeLinear / DequantizeLinear pairs around float ops, as lowbit quantize,
// ONNX Runtime's quantizer and TensorRT's toolkits write it) is turned into integer execution. Runs before
// constant folding, which would otherwise turn DequantizeLinear(int8 weights) back into float weights.
//
//  0. DQ(x) -> ConvTranspose (stride s, pads) -> [act] -> Q becomes a Conv with s*s phases + DepthToSpace [+ Slice
//     crop] (lower_qdq_conv_transpose.cpp), which steps 1 and 2 then make integer.
//  1. DQ(x), DQ(W int8 constant) [, DQ(B int32 constant) or float B] -> Conv -> [Relu | Clip | LeakyRelu ...]
//     -> Q   becomes one QLinearConv with the activation fused (src/ops/qlinear_requant.h).
//     Residual blocks, Conv -> [Q -> DQ] -> Add(., DQ(r)) -> [activation] -> Q, become a QLinearConv with
//     lowbit_residual = 1 and r as inputs 9-11; the Conv output's own rounding and saturation stay exact as
//     lowbit_conv_scale / lowbit_conv_range (src/ops/qlinear_requant.h), done inside the primitive.
//  2. DQ(x) -> MaxPool | Reshape | Flatten | Transpose | Squeeze | Unsqueeze | DepthToSpace | Resize(nearest) | Slice
//     -> Q with the same scale and zero point, and Split with one such Q per output: the op runs on the int8 codes (exact: these ops only move or select values,
//     and quantization preserves order). Concat likewise when every input has the output's parameters.
//  3. int8 activations whose zero point is -128 (one-sided, e.g. post-ReLU ranges) become uint8 with zero
//     point 0: the same real values, and u8 activations x s8 weights is the form VNNI kernels run without
//     zero-point compensation.
//  4. Elementwise float islands between an int8 tensor and a QuantizeLinear (hard-swish chains, activations,
//     requantization) become one 256-entry lookup table, Gather(table, codes).
//     Concat whose inputs' parameters differ from its output's: those inputs go through requantization tables.
//  5. DQ(a), DQ(b) -> Add | Mul -> [activation] -> Q becomes QLinearAdd / QLinearMul (src/ops/qlinear_binary.h).
//  6. DQ(x) -> GlobalAveragePool | AveragePool -> Q becomes QLinearGlobalAveragePool | QLinearAveragePool (exact
//     integer sums).
//  7. DQ(a) -> MatMul(., DQ(constant int8 B)) -> Q becomes QLinearMatMul.
//  8. DQ(a) -> Gemm | MatMul(., DQ(constant int8 B)) with a float output becomes MatMulIntegerToFloat.
// Nodes pinned by keep_nodes stay as they are (QDQ float simulation): that is the per-layer float switch.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "ops/qlinear_requant.h"
#include "quant/quant_math.h"
#include "passes/graph_rewrite.h"
#include "passes/pass.h"
#include "passes/qdq_match.h"

namespace lowbit {

namespace {

using namespace qdq;

struct WeightQ {
  std::string codes, scale, zero_point;
  std::vector<float> scales;  // one or one per output channel
  bool zero_offsets = true;
};

// `value` = DequantizeLinear(constant int8/uint8 weights), per tensor or per output channel (axis 0).
bool dequantized_weight(const Graph& g, const std::string& value, int64_t out_channels, WeightQ* w) {
  ConstantDq c;
  if (!constant_dequantize(g, value, &c)) return false;
  const Node& dq = *c.node;
  const Tensor *codes = c.codes, *scale = c.scale;
  if (codes->dtype() != DType::kInt8 && codes->dtype() != DType::kUint8) return false;
  if (scale->numel() != 1 && scale->numel() != out_channels) return false;
  if (scale->numel() != 1 && dq.attr_int("axis", 1) != 0) return false;
  w->codes = dq.inputs[0];
  w->scale = dq.inputs[1];
  w->scales.assign(scale->data<float>(), scale->data<float>() + scale->numel());
  for (float s : w->scales)
    if (!(s > 0) || !std::isfinite(s)) return false;
  w->zero_point.clear();
  if (const Tensor* z = c.zero_point) {
    if (z->dtype() != codes->dtype() || (z->numel() != 1 && z->numel() != scale->numel())) return false;
    w->zero_point = dq.inputs[2];
    for (int64_t i = 0; i < z->numel(); ++i) w->zero_offsets = w->zero_offsets && int_value(*z, i) == 0;
  }
  return true;
}

// The bias as int32 in accumulator units (scale x_scale * w_scale[m]): the DQ's int32 codes as they are when
// their scale is that product (what every QDQ quantizer writes), otherwise requantized from the real values.
bool int32_bias(Graph& g, const std::string& value, float x_scale, const WeightQ& w, int64_t out_channels,
                std::string* name) {
  const Tensor* real = constant_value(g, value);
  std::vector<double> b(static_cast<size_t>(out_channels));
  bool reuse = false;
  std::string codes_name;
  if (real) {
    if (real->dtype() != DType::kFloat32 || real->numel() != out_channels) return false;
    for (int64_t m = 0; m < out_channels; ++m) b[size_t(m)] = real->data<float>()[m];
  } else {
    ConstantDq c;
    if (!constant_dequantize(g, value, &c)) return false;
    const Tensor *codes = c.codes, *scale = c.scale, *zp = c.zero_point;
    if (codes->dtype() != DType::kInt32 || codes->numel() != out_channels ||
        (scale->numel() != 1 && scale->numel() != out_channels))
      return false;
    reuse = true;
    for (int64_t m = 0; m < out_channels; ++m) {
      const float bs = scale->data<float>()[scale->numel() == 1 ? 0 : m];
      const int32_t z = zp ? int_value(*zp, zp->numel() == 1 ? 0 : m) : 0;
      const float acc_scale = x_scale * w.scales[w.scales.size() == 1 ? 0 : size_t(m)];
      reuse = reuse && z == 0 && std::fabs(bs - acc_scale) <= 1e-6f * acc_scale;
      b[size_t(m)] = (double(codes->data<int32_t>()[m]) - z) * bs;
    }
    codes_name = c.node->inputs[0];
  }
  if (reuse) {
    *name = codes_name;
    return true;
  }
  Tensor t(DType::kInt32, {out_channels});
  for (int64_t m = 0; m < out_channels; ++m) {
    const double acc_scale = double(x_scale) * w.scales[w.scales.size() == 1 ? 0 : size_t(m)];
    const double q = std::nearbyint(b[size_t(m)] / acc_scale);
    if (!std::isfinite(q)) return false;  // a NaN/infinite bias has no int32 form: the Conv stays float
    t.data<int32_t>()[m] = int32_t(std::clamp(q, -2147483648.0, 2147483647.0));
  }
  *name = add_constant(g, value + "_int32", std::move(t));
  return true;
}

// Step 1: Conv chains into QLinearConv.
int fuse_conv_chains(Graph& g, PassContext& ctx, std::vector<bool>& removed) {
  GraphUses uses(g);
  int changes = 0;
  const size_t count = g.nodes.size();
  for (size_t ci = 0; ci < count; ++ci) {
    const Node& conv = g.nodes[ci];
    if (removed[ci] || !is_op(conv, "Conv") || conv.outputs.size() != 1 || ctx.pinned(conv) ||
        has_fused_attrs(conv) || conv.num_inputs() < 2)
      continue;
    TensorQ x;
    if (!dequantized_activation(g, conv.inputs[0], &x)) continue;
    const ValueInfo* wv = g.find(conv.inputs[1]);
    if (!wv || !wv->type.has_shape || wv->type.rank() < 3 || !wv->type.dims[0].known()) continue;
    const int64_t out_channels = wv->type.dims[0].value;
    WeightQ w;
    if (!dequantized_weight(g, conv.inputs[1], out_channels, &w)) continue;

    // Walk forward: [activation] | [Q -> DQ ->] Add(., DQ(r)) [activation], then the final Q.
    std::vector<size_t> absorbed;
    std::string t = conv.outputs[0];
    FusedActivation act;
    TensorQ residual;
    std::optional<TensorQ> rounding;  // the Conv output's own Q -> DQ before the Add
    bool has_residual = false;
    int next = sole_consumer(uses, t);
    auto take_activation = [&]() {
      if (next < 0 || removed[size_t(next)] || ctx.pinned(g.nodes[size_t(next)])) return;
      FusedActivation a = activation_of(g, g.nodes[size_t(next)]);
      if (!a.active()) return;
      act.kind = a.kind, act.alpha = a.alpha, act.beta = a.beta;
      absorbed.push_back(size_t(next));
      t = g.nodes[size_t(next)].outputs[0];
      next = sole_consumer(uses, t);
    };
    take_activation();
    if (!act.active() && next >= 0) {
      // Conv -> Q -> DQ -> Add: the intermediate pair is dropped when nothing else reads it.
      size_t add_at = size_t(next);
      std::vector<size_t> pair;
      TensorQ q1;
      if (quantize_node(g, size_t(next), &q1)) {
        const int dq1 = sole_consumer(uses, q1.codes);
        const int add = dq1 >= 0 && is_op(g.nodes[size_t(dq1)], "DequantizeLinear")
                            ? sole_consumer(uses, g.nodes[size_t(dq1)].outputs[0])
                            : -1;
        if (add >= 0 && same_params_dq(g, size_t(dq1), q1)) pair = {size_t(next), size_t(dq1)}, add_at = size_t(add);
      }
      const Node& add = g.nodes[add_at];
      if (is_op(add, "Add") && !removed[add_at] && add.num_inputs() == 2 && !ctx.pinned(add) &&
          add.inputs[0] != add.inputs[1] &&
          (pair.empty() ? true : !removed[pair[0]] && !removed[pair[1]])) {
        const std::string mine = pair.empty() ? t : g.nodes[pair[1]].outputs[0];
        const std::string other = add.inputs[0] == mine ? add.inputs[1] : add.inputs[0];
        const ValueInfo *ov = g.find(other), *cv = g.find(conv.outputs[0]);
        if (dequantized_activation(g, other, &residual) && ov && cv && same_shape(ov->type, cv->type)) {
          has_residual = true;
          if (!pair.empty()) rounding = q1;
          absorbed.insert(absorbed.end(), pair.begin(), pair.end());
          absorbed.push_back(add_at);
          t = add.outputs[0];
          next = sole_consumer(uses, t);
          take_activation();
        }
      }
    }
    TensorQ y;
    if (next < 0 || removed[size_t(next)] || !quantize_node(g, size_t(next), &y)) continue;
    bool clash = false;
    for (size_t a : absorbed) clash = clash || removed[a];
    if (clash) continue;

    std::string bias;
    if (conv.has_input(2) && !int32_bias(g, conv.inputs[2], x.s, w, out_channels, &bias)) continue;
    Node q;
    q.op_type = "QLinearConv";
    q.name = conv.name;
    q.attrs = conv.attrs;
    act.residual = has_residual;
    set_fused_activation(q, act);
    q.inputs = {x.codes, x.scale, zero_point_input(g, x), w.codes, w.scale, w.zero_point, y.scale,
                zero_point_input(g, y), bias};
    if (has_residual) {
      q.inputs.push_back(residual.codes);
      q.inputs.push_back(residual.scale);
      q.inputs.push_back(zero_point_input(g, residual));
    }
    q.outputs = {y.codes};
    if (rounding) {
      const int32_t qmin = rounding->dtype == DType::kInt8 ? -128 : 0, qmax = rounding->dtype == DType::kInt8 ? 127 : 255;
      q.attrs[kConvScaleAttr] = Attribute::of_float(rounding->s);
      q.attrs[kConvRangeAttr] = Attribute::of_ints({qmin - rounding->z, qmax - rounding->z});
    }
    ctx.note(str_cat("Conv '", conv.name, "'", act.active() || has_residual ? " + " : "",
                     describe_fused_activation(act), " -> QLinearConv (", dtype_name(x.dtype), " x ",
                     dtype_name(g.find(w.codes)->type.dtype), " -> ", dtype_name(y.dtype), ")"));
    removed[ci] = true;
    for (size_t a : absorbed) removed[a] = true;
    g.nodes[y.node] = std::move(q);  // takes the final Q's place: every input exists there
    ++changes;
  }
  return changes;
}

bool moves_values_only(const Graph& g, const Node& n) {
  if (!n.domain.empty()) return false;
  const std::string& op = n.op_type;
  if (op == "MaxPool") return n.outputs.size() == 1 || n.outputs[1].empty();
  if (op == "Resize") return n.attr_string("mode", "nearest") == "nearest";
  if (op == "Upsample") return n.attr_string("mode", "nearest") == "nearest";
  (void)g;
  return op == "Reshape" || op == "Flatten" || op == "Transpose" || op == "Squeeze" || op == "Unsqueeze" ||
         op == "Concat" || op == "Slice" || op == "GlobalMaxPool" || op == "DepthToSpace" || op == "Split";
}

// Step 2: data-movement ops between a DQ and a Q with the same parameters run on the codes.
int move_codes(Graph& g, PassContext& ctx, std::vector<bool>& removed) {
  GraphUses uses(g);
  int changes = 0;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    Node& n = g.nodes[ni];
    if (removed[ni] || ctx.pinned(n) || !moves_values_only(g, n) || n.outputs.empty()) continue;
    // Every output (Split has several) must go to its own Q, all with one scale and zero point.
    std::vector<int> qs;
    std::vector<TensorQ> ys;
    bool outputs_ok = true;
    for (const std::string& out : n.outputs) {
      if (out.empty()) continue;
      const int qi = sole_consumer(uses, out);
      TensorQ yo;
      outputs_ok = outputs_ok && qi >= 0 && !removed[size_t(qi)] && quantize_node(g, size_t(qi), &yo) &&
                   (ys.empty() || same_params(ys[0], yo));
      if (!outputs_ok) break;
      qs.push_back(qi);
      ys.push_back(yo);
    }
    if (!outputs_ok || ys.empty()) continue;
    const TensorQ& y = ys[0];
    // Data inputs: all of Concat's, input 0 of the others (the rest are shapes, axes, scales: constants).
    const size_t data_inputs = n.op_type == "Concat" ? n.inputs.size() : 1;
    std::vector<std::string> codes;
    bool ok = true;
    for (size_t i = 0; ok && i < data_inputs; ++i) {
      TensorQ x;
      ok = dequantized_activation(g, n.inputs[i], &x) && same_params(x, y);
      codes.push_back(x.codes);
    }
    for (size_t i = data_inputs; ok && i < n.inputs.size(); ++i)
      ok = n.inputs[i].empty() || constant_value(g, n.inputs[i]) != nullptr;
    if (!ok) continue;
    ctx.note(str_cat(n.describe(), " runs on ", dtype_name(y.dtype), " codes (no dequantize/quantize around it)"));
    for (size_t i = 0; i < data_inputs; ++i) n.inputs[i] = codes[i];
    for (size_t o = 0, k = 0; o < n.outputs.size(); ++o) {
      if (n.outputs[o].empty()) continue;
      n.outputs[o] = ys[k].codes;
      removed[size_t(qs[k++])] = true;
    }
    ++changes;
  }
  return changes;
}

// Step 3: int8 zero point -128 -> uint8 zero point 0, for zero points read only as zero points of activations.
int unsign_one_sided(Graph& g, PassContext& ctx) {
  GraphUses uses(g);
  std::set<std::string> inputs(g.inputs.begin(), g.inputs.end());
  int changes = 0;
  for (auto& [name, info] : g.values) {
    const Tensor* z = constant_value(g, name);
    if (!z || z->dtype() != DType::kInt8 || z->numel() != 1 || z->data<int8_t>()[0] != -128) continue;
    bool ok = !uses.of(name).empty() && !uses.is_graph_output(name);
    for (auto& u : uses.of(name)) {
      const Node& n = g.nodes[u.node];
      const bool qdq = (is_op(n, "QuantizeLinear") || is_op(n, "DequantizeLinear")) && u.input == 2;
      const bool qconv = is_op(n, "QLinearConv") && (u.input == 2 || u.input == 7 || u.input == 11);
      ok = ok && (qdq || qconv) && !ctx.pinned(n);
      // The codes this zero point describes must be internal: graph inputs/outputs keep their declared type.
      if (ok && is_op(n, "DequantizeLinear")) ok = !inputs.count(n.inputs[0]) && !uses.is_graph_output(n.inputs[0]);
      if (ok && is_op(n, "QuantizeLinear")) ok = !uses.is_graph_output(n.outputs[0]);
      if (ok && is_op(n, "QLinearConv") && u.input == 2) ok = !inputs.count(n.inputs[0]);
      if (ok && is_op(n, "QLinearConv") && u.input == 7) ok = !uses.is_graph_output(n.outputs[0]);
      if (ok && is_op(n, "QLinearConv") && u.input == 11) ok = !inputs.count(n.inputs[9]);
    }
    if (!ok) continue;
    Tensor u(DType::kUint8, z->shape());
    u.data<uint8_t>()[0] = 0;
    info.type = ValueType::of(u);
    info.constant = std::move(u);
    ++changes;
  }
  if (changes) ctx.note(str_cat(changes, " one-sided int8 activation(s) (zero point -128) now uint8, zero point 0"));
  return changes;
}

// Step 4 (after step 3): elementwise float islands. Everything computed from one int8 tensor by elementwise ops (with scalar
// constants) up to a QuantizeLinear is a function of the 8-bit code alone: a 256-entry table, evaluated once
// with the reference kernels, replaces the island (hard-swish chains, standalone activations, requantization).
// Written as Gather(table, codes): exact, bit for bit, against the QDQ graph's float simulation.
bool elementwise_op(const Node& n) {
  static const std::set<std::string> ops = {
      "Add", "Sub", "Mul", "Div", "Min", "Max", "Clip", "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish",
      "Tanh", "Exp", "Neg", "Abs", "Sqrt", "Pow", "Softplus", "Elu", "Erf", "QuantizeLinear", "DequantizeLinear"};
  return n.domain.empty() && n.outputs.size() == 1 && ops.count(n.op_type);
}

int lookup_tables(Graph& g, PassContext& ctx, std::vector<bool>& removed) {
  GraphUses uses(g);
  int changes = 0;
  for (size_t di = 0; di < g.nodes.size(); ++di) {
    TensorQ src;
    if (removed[di] || !is_op(g.nodes[di], "DequantizeLinear") ||
        !dequantized_activation(g, g.nodes[di].outputs[0], &src) || src.node != di)
      continue;
    // Grow the island: nodes whose every non-constant input is an island value (constants must be scalars).
    std::set<std::string> values = {g.nodes[di].outputs[0]};
    std::vector<size_t> island;
    std::set<size_t> in_island;
    for (bool grew = true; grew;) {
      grew = false;
      for (const std::string& v : std::vector<std::string>(values.begin(), values.end()))
        for (auto& u : uses.of(v)) {
          const Node& n = g.nodes[u.node];
          if (in_island.count(u.node) || removed[u.node] || !elementwise_op(n) || ctx.pinned(n)) continue;
          bool ok = true;
          for (auto& in : n.inputs) {
            if (in.empty() || values.count(in)) continue;
            const Tensor* c = constant_value(g, in);
            ok = ok && c && c->numel() == 1;
          }
          if (!ok) continue;
          in_island.insert(u.node);
          island.push_back(u.node);
          values.insert(n.outputs[0]);
          grew = true;
        }
    }
    // The table's exit: the QuantizeLinear of the island whose backward cone (within the island) is closed -
    // nothing outside reads a value inside it - and largest. Growing went on past it (e.g. into the DQ of a
    // later float op); those nodes simply stay.
    std::vector<size_t> order;
    size_t exit_node = 0;
    for (size_t qi : island) {
      TensorQ candidate;
      if (!quantize_node(g, qi, &candidate)) continue;
      std::set<size_t> cone = {qi};
      std::vector<size_t> stack = {qi};
      while (!stack.empty()) {
        const Node& n = g.nodes[stack.back()];
        stack.pop_back();
        for (auto& in : n.inputs) {
          const ValueInfo* v = in.empty() ? nullptr : g.find(in);
          if (v && v->producer >= 0 && in_island.count(size_t(v->producer)) && cone.insert(size_t(v->producer)).second)
            stack.push_back(size_t(v->producer));
        }
      }
      bool closed = true;
      for (size_t ni : cone) {
        if (ni == qi) continue;
        const std::string& out = g.nodes[ni].outputs[0];
        closed = closed && !uses.is_graph_output(out);
        for (auto& u : uses.of(out)) closed = closed && cone.count(u.node);
      }
      if (closed && cone.size() >= 2 && cone.size() > order.size()) {
        order.assign(cone.begin(), cone.end());  // std::set: ascending, i.e. graph (topological) order
        exit_node = qi;
      }
    }
    if (order.empty()) continue;
    const std::vector<std::string> exits = {g.nodes[exit_node].outputs[0]};
    const ValueInfo* exit_info = g.find(exits[0]);
    TensorQ y;
    quantize_node(g, exit_node, &y);
    // Evaluate the island on all 256 codes (index i holds code i; int8 codes -k sit at 256 - k).
    Tensor codes(src.dtype, {256});
    for (int i = 0; i < 256; ++i) static_cast<uint8_t*>(codes.raw())[i] = uint8_t(i);
    std::map<std::string, Tensor> env;
    env[src.codes] = codes;
    auto lookup = [&](const std::string& name) -> const Tensor* {
      auto it = env.find(name);
      return it == env.end() ? nullptr : &it->second;
    };
    bool ok = true;
    for (size_t ni : std::vector<size_t>{di}) {
      auto out = evaluate_node(g, g.nodes[ni], int64_t(1) << 20, lookup);
      ok = ok && out.size() == 1;
      if (ok) env[g.nodes[ni].outputs[0]] = std::move(out[0]);
    }
    for (size_t ni : order) {
      if (!ok) break;
      auto out = evaluate_node(g, g.nodes[ni], int64_t(1) << 20, lookup);
      ok = out.size() == 1 && out[0].numel() == 256;
      if (ok) env[g.nodes[ni].outputs[0]] = std::move(out[0]);
    }
    if (!ok || !env.count(exits[0]) || env[exits[0]].dtype() != y.dtype) continue;
    const std::string table = add_constant(g, exits[0] + "_table", env[exits[0]]);
    Node gather;
    gather.op_type = "Gather";
    gather.name = exits[0] + "_lookup";
    gather.inputs = {src.codes, table};
    std::swap(gather.inputs[0], gather.inputs[1]);  // Gather(data = table, indices = codes)
    gather.outputs = {exits[0]};
    std::string ops;
    for (size_t ni : order)
      if (!is_op(g.nodes[ni], "QuantizeLinear") && !is_op(g.nodes[ni], "DequantizeLinear"))
        ops += (ops.empty() ? "" : ", ") + g.nodes[ni].op_type;
    ctx.note(str_cat("lookup table: ", ops.empty() ? "requantization" : ops, " on '", src.codes, "' -> '", exits[0],
                     "' (", order.size(), " nodes, 256 entries)"));
    for (size_t ni : order) removed[ni] = true;
    g.nodes[size_t(exit_info->producer)] = std::move(gather);  // the exit Q's place
    removed[size_t(exit_info->producer)] = false;
    ++changes;
  }
  return changes;
}

// Step 4b (after step 3): Concat of dequantized inputs whose parameters differ from its QuantizeLinear's (an FPN
// joining upsampled maps): each such input is requantized to the output's parameters by a 256-entry table,
// Gather(table, codes) as in step 4 (exact: Q(DQ(x)) is a function of the code), and the Concat moves codes.
int concat_requantize(Graph& g, PassContext& ctx, std::vector<bool>& removed) {
  GraphUses uses(g);
  int changes = 0;
  const size_t count = g.nodes.size();
  for (size_t ni = 0; ni < count; ++ni) {
    if (removed[ni] || ctx.pinned(g.nodes[ni]) || !is_op(g.nodes[ni], "Concat") || g.nodes[ni].outputs.size() != 1)
      continue;
    const int qi = sole_consumer(uses, g.nodes[ni].outputs[0]);
    TensorQ y;
    if (qi < 0 || removed[size_t(qi)] || !quantize_node(g, size_t(qi), &y)) continue;
    std::vector<TensorQ> xs(g.nodes[ni].inputs.size());
    bool ok = !xs.empty();
    for (size_t i = 0; ok && i < xs.size(); ++i) ok = dequantized_activation(g, g.nodes[ni].inputs[i], &xs[i]);
    if (!ok) continue;
    std::vector<Node> tables;
    std::vector<std::string> codes;
    for (const TensorQ& x : xs) {
      if (same_params(x, y)) {
        codes.push_back(x.codes);
        continue;
      }
      Tensor table(y.dtype, {256});  // index i: the code whose byte is i (int8 codes -k sit at 256 - k)
      for (int i = 0; i < 256; ++i) {
        const float real = x.dtype == DType::kInt8 ? quant::dequantize_value<int8_t>(int8_t(i), x.s, x.z)
                                                   : quant::dequantize_value<uint8_t>(uint8_t(i), x.s, x.z);
        if (y.dtype == DType::kInt8) table.data<int8_t>()[i] = quant::quantize_value<int8_t>(real, y.s, y.z);
        else table.data<uint8_t>()[i] = quant::quantize_value<uint8_t>(real, y.s, y.z);
      }
      Node gather;
      gather.op_type = "Gather";
      gather.name = x.codes + "_requantized_lookup";
      gather.inputs = {add_constant(g, x.codes + "_requantize_table", std::move(table)), x.codes};
      gather.outputs = {add_value(g, x.codes + "_requantized")};
      codes.push_back(gather.outputs[0]);
      tables.push_back(std::move(gather));
    }
    Node& n = g.nodes[ni];
    ctx.note(str_cat(n.describe(), " runs on ", dtype_name(y.dtype), " codes; ", tables.size(), " of its ", xs.size(),
                     " inputs requantized to its scale by lookup tables"));
    n.inputs = codes;
    n.outputs[0] = y.codes;
    removed[size_t(qi)] = true;
    for (Node& t : tables) {
      g.nodes.push_back(std::move(t));
      removed.push_back(false);
    }
    ++changes;
  }
  return changes;
}

// Step 5: Add / Mul of two dequantized activations, [activation], QuantizeLinear -> QLinearAdd / QLinearMul.
int binary_ops(Graph& g, PassContext& ctx, std::vector<bool>& removed) {
  GraphUses uses(g);
  int changes = 0;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const Node& n = g.nodes[ni];
    if (removed[ni] || ctx.pinned(n) || !(is_op(n, "Add") || is_op(n, "Mul")) || n.num_inputs() != 2) continue;
    TensorQ a, b;
    if (!dequantized_activation(g, n.inputs[0], &a) || !dequantized_activation(g, n.inputs[1], &b)) continue;
    std::vector<size_t> absorbed = {ni};
    std::string t = n.outputs[0];
    int next = sole_consumer(uses, t);
    FusedActivation act;
    if (next >= 0 && !removed[size_t(next)] && !ctx.pinned(g.nodes[size_t(next)])) {
      act = activation_of(g, g.nodes[size_t(next)]);
      if (act.active()) {
        absorbed.push_back(size_t(next));
        next = sole_consumer(uses, g.nodes[size_t(next)].outputs[0]);
      }
    }
    TensorQ y;
    if (next < 0 || removed[size_t(next)] || !quantize_node(g, size_t(next), &y)) continue;
    Node q;
    q.op_type = is_op(n, "Add") ? "QLinearAdd" : "QLinearMul";
    q.name = n.name;
    set_fused_activation(q, act);
    q.inputs = {a.codes, a.scale, zero_point_input(g, a), b.codes, b.scale, zero_point_input(g, b), y.scale,
                zero_point_input(g, y)};
    q.outputs = {y.codes};
    ctx.note(str_cat(n.describe(), act.active() ? " + " : "", describe_fused_activation(act), " -> ", q.op_type));
    for (size_t i : absorbed) removed[i] = true;
    g.nodes[y.node] = std::move(q);
    ++changes;
  }
  return changes;
}

// Step 6: DQ(x) -> GlobalAveragePool -> Q -> QLinearGlobalAveragePool (squeeze-excitation blocks, classifier heads),
// and DQ(x) -> AveragePool -> Q -> QLinearAveragePool with the pooling attributes (not dilated ones: com.microsoft's
// op has none).
int average_pools(Graph& g, PassContext& ctx, std::vector<bool>& removed) {
  GraphUses uses(g);
  int changes = 0;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const Node& n = g.nodes[ni];
    const bool global = is_op(n, "GlobalAveragePool");
    if (removed[ni] || ctx.pinned(n) || !(global || is_op(n, "AveragePool")) || n.num_inputs() != 1) continue;
    if (!global && n.outputs.size() != 1) continue;
    if (!global && n.has_attr("dilations")) {
      bool plain = true;
      for (int64_t d : n.attr_ints("dilations")) plain = plain && d == 1;
      if (!plain) continue;
    }
    TensorQ x, y;
    const int qi = sole_consumer(uses, n.outputs[0]);
    if (!dequantized_activation(g, n.inputs[0], &x) || qi < 0 || removed[size_t(qi)] || !quantize_node(g, size_t(qi), &y))
      continue;
    Node q;
    q.op_type = global ? "QLinearGlobalAveragePool" : "QLinearAveragePool";
    q.name = n.name;
    q.inputs = {x.codes, x.scale, zero_point_input(g, x), y.scale, zero_point_input(g, y)};
    q.outputs = {y.codes};
    if (!global)
      for (const char* a : {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"})
        if (n.has_attr(a)) q.attrs[a] = n.attrs.at(a);
    ctx.note(str_cat(n.describe(), " -> ", q.op_type, " (", dtype_name(x.dtype), " -> ", dtype_name(y.dtype), ")"));
    removed[ni] = true;
    g.nodes[y.node] = std::move(q);
    ++changes;
  }
  return changes;
}

// Step 7: DQ(a) -> MatMul(., DQ(constant int8 B), per tensor or per column) -> Q -> QLinearMatMul.
int matmul_ops(Graph& g, PassContext& ctx, std::vector<bool>& removed) {
  GraphUses uses(g);
  int changes = 0;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const Node& n = g.nodes[ni];
    if (removed[ni] || ctx.pinned(n) || !is_op(n, "MatMul") || n.num_inputs() != 2) continue;
    TensorQ a, y;
    ConstantDq b;
    if (!dequantized_activation(g, n.inputs[0], &a) || !constant_dequantize(g, n.inputs[1], &b)) continue;
    const Tensor *codes = b.codes, *scale = b.scale;
    if (codes->rank() != 2 || (codes->dtype() != DType::kInt8 && codes->dtype() != DType::kUint8)) continue;
    if (scale->numel() != 1 && !(scale->numel() == codes->dim(1) && b.node->attr_int("axis", 1) == 1)) continue;
    if (b.zero_point && (b.zero_point->dtype() != codes->dtype() || b.zero_point->numel() != scale->numel())) continue;
    const int qi = sole_consumer(uses, n.outputs[0]);
    if (qi < 0 || removed[size_t(qi)] || !quantize_node(g, size_t(qi), &y)) continue;
    Node q;
    q.op_type = "QLinearMatMul";
    q.name = n.name;
    std::string b_zero = b.zero_point ? b.node->inputs[2] : "";
    if (b_zero.empty()) {
      Tensor z(codes->dtype(), scale->shape());
      b_zero = add_constant(g, b.node->inputs[0] + "_zero_point", std::move(z));
    }
    q.inputs = {a.codes, a.scale, zero_point_input(g, a), b.node->inputs[0], b.node->inputs[1], b_zero, y.scale,
                zero_point_input(g, y)};
    q.outputs = {y.codes};
    ctx.note(str_cat(n.describe(), " -> QLinearMatMul (", dtype_name(a.dtype), " x ", dtype_name(codes->dtype()), ")"));
    removed[ni] = true;
    g.nodes[y.node] = std::move(q);
    ++changes;
  }
  return changes;
}

// Step 8: DQ(a) -> Gemm | MatMul with DQ(constant int8 weights) whose output stays float (a classifier's logits)
// -> MatMulIntegerToFloat: the int8 matmul with a float output and the bias added after the scaling. Gemm needs
// alpha = beta = 1 and no transA; transB weights are stored transposed once. Weights per tensor or per column.
int float_matmuls(Graph& g, PassContext& ctx, std::vector<bool>& removed) {
  int changes = 0;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const Node& n = g.nodes[ni];
    const bool gemm = is_op(n, "Gemm");
    if (removed[ni] || ctx.pinned(n) || !(gemm || is_op(n, "MatMul")) || n.num_inputs() < 2 || n.outputs.size() != 1)
      continue;
    if (gemm && (n.attr_int("transA", 0) != 0 || n.attr_float("alpha", 1.f) != 1.f ||
                 (n.has_input(2) && n.attr_float("beta", 1.f) != 1.f)))
      continue;
    const bool trans_b = gemm && n.attr_int("transB", 0) != 0;
    TensorQ a;
    ConstantDq b;
    if (!dequantized_activation(g, n.inputs[0], &a) || !constant_dequantize(g, n.inputs[1], &b)) continue;
    const Tensor *codes = b.codes, *scale = b.scale;
    const ValueInfo* av = g.find(n.inputs[0]);
    if (codes->rank() != 2 || codes->dtype() != DType::kInt8 || !av || !av->type.has_shape ||
        av->type.rank() < 2 || (gemm && av->type.rank() != 2))
      continue;
    const int64_t k = codes->dim(trans_b ? 1 : 0), cols = codes->dim(trans_b ? 0 : 1);
    if (scale->numel() != 1 && !(scale->numel() == cols && b.node->attr_int("axis", 1) == (trans_b ? 0 : 1))) continue;
    bool zero_b = true;
    if (b.zero_point) {
      if (b.zero_point->numel() != scale->numel() || b.zero_point->dtype() != DType::kInt8) continue;
      for (int64_t i = 0; i < b.zero_point->numel(); ++i) zero_b = zero_b && int_value(*b.zero_point, i) == 0;
    }
    if (!zero_b) continue;
    // The bias as float values per column: a float constant, or DQ(int32) evaluated as the reference DQ does.
    std::vector<float> bias;
    if (gemm && n.has_input(2)) {
      const Tensor* c = constant_value(g, n.inputs[2]);
      ConstantDq cq;
      if (c && c->dtype() == DType::kFloat32 && (c->numel() == cols || c->numel() == 1) && c->rank() <= 2) {
        for (int64_t j = 0; j < cols; ++j) bias.push_back(c->data<float>()[c->numel() == 1 ? 0 : j]);
      } else if (!c && constant_dequantize(g, n.inputs[2], &cq) && cq.codes->dtype() == DType::kInt32 &&
                 cq.codes->numel() == cols && (cq.scale->numel() == 1 || cq.scale->numel() == cols) &&
                 (!cq.zero_point || cq.zero_point->numel() == cq.scale->numel())) {
        for (int64_t j = 0; j < cols; ++j) {
          const int64_t p = cq.scale->numel() == 1 ? 0 : j;
          bias.push_back(quant::dequantize_value<int32_t>(cq.codes->data<int32_t>()[j], cq.scale->data<float>()[p],
                                                          cq.zero_point ? int_value(*cq.zero_point, p) : 0));
        }
      } else {
        continue;
      }
    }
    std::string weights = b.node->inputs[0];
    if (trans_b) {  // K x N, once
      Tensor t(DType::kInt8, {k, cols});
      for (int64_t r = 0; r < k; ++r)
        for (int64_t j = 0; j < cols; ++j) t.data<int8_t>()[r * cols + j] = codes->data<int8_t>()[j * k + r];
      weights = add_constant(g, weights + "_KxN", std::move(t));
    }
    Node q;
    q.op_type = "MatMulIntegerToFloat";
    q.name = n.name;
    q.inputs = {a.codes, weights, a.scale, b.node->inputs[1], zero_point_input(g, a)};
    if (!bias.empty()) {
      Tensor t(DType::kFloat32, {cols});
      std::copy(bias.begin(), bias.end(), t.data<float>());
      q.inputs.push_back("");  // b_zero_point: 0
      q.inputs.push_back(add_constant(g, n.name + "_bias", std::move(t)));
    }
    q.outputs = n.outputs;
    ctx.note(str_cat(n.describe(), " -> MatMulIntegerToFloat (", dtype_name(a.dtype), " x int8 -> float32)"));
    g.nodes[ni] = std::move(q);
    ++changes;
  }
  return changes;
}

// Notes (not counted as changes) for the nodes of a QDQ graph that still run in float, and why.
// They go first: "which layers did not run in INT8, and why" is the question the report answers.
void report_float_nodes(const Graph& g, PassContext& ctx) {
  GraphUses uses(g);
  std::vector<std::string> floats;
  for (const Node& n : g.nodes) {
    if (is_op(n, "QuantizeLinear") || is_op(n, "DequantizeLinear")) continue;
    bool reads_dq = false, feeds_q = false;
    for (auto& in : n.inputs) {
      TensorQ q;
      reads_dq = reads_dq || (!in.empty() && dequantized_activation(g, in, &q));
    }
    for (auto& out : n.outputs)
      for (auto& u : uses.of(out)) feeds_q = feeds_q || is_op(g.nodes[u.node], "QuantizeLinear");
    if (!reads_dq && !feeds_q) continue;
    std::string why;
    if (ctx.pinned(n)) why = "kept as it is by --keep-node";
    else if (is_op(n, "Conv")) {
      TensorQ x;
      WeightQ w;
      const ValueInfo* wv = n.inputs.size() > 1 ? g.find(n.inputs[1]) : nullptr;
      const int64_t m = wv && wv->type.has_shape && wv->type.rank() > 0 ? wv->type.dims[0].value : -1;
      if (!dequantized_activation(g, n.inputs[0], &x)) why = "its input is not a per-tensor dequantized activation";
      else if (!dequantized_weight(g, n.inputs[1], m, &w)) why = "its weights are not int8 constants behind a DequantizeLinear";
      else why = "its output is not quantized by one QuantizeLinear (read in float elsewhere, or a graph output)";
    } else if (moves_values_only(g, n)) {
      why = "its input and output quantization differ (or its output is read in float)";
    } else {
      why = str_cat("no integer kernel for ", n.op_type, " yet: runs in float between DequantizeLinear and QuantizeLinear");
    }
    floats.push_back(str_cat("float: ", n.describe(), ": ", why));
  }
  ctx.report.notes.insert(ctx.report.notes.begin(), floats.begin(), floats.end());
}

}  // namespace

Status lower_qdq(Graph& g, PassContext& ctx) {
  std::vector<bool> removed(g.nodes.size(), false);
  if (conv_transpose_as_depth_to_space(g, ctx, removed) > 0)
    LB_RETURN_IF_ERROR(commit_rewrite(g, removed, ctx.report.pass));
  removed.assign(g.nodes.size(), false);
  if (fuse_conv_chains(g, ctx, removed) > 0) LB_RETURN_IF_ERROR(commit_rewrite(g, removed, ctx.report.pass));
  removed.assign(g.nodes.size(), false);
  if (move_codes(g, ctx, removed) > 0) LB_RETURN_IF_ERROR(commit_rewrite(g, removed, ctx.report.pass));
  removed.assign(g.nodes.size(), false);
  // Before the tables: they are evaluated for the codes' final types.
  removed.assign(g.nodes.size(), false);
  if (unsign_one_sided(g, ctx) > 0) LB_RETURN_IF_ERROR(commit_rewrite(g, removed, ctx.report.pass));
  removed.assign(g.nodes.size(), false);
  if (lookup_tables(g, ctx, removed) > 0) LB_RETURN_IF_ERROR(commit_rewrite(g, removed, ctx.report.pass));
  removed.assign(g.nodes.size(), false);
  if (concat_requantize(g, ctx, removed) > 0) LB_RETURN_IF_ERROR(commit_rewrite(g, removed, ctx.report.pass));
  removed.assign(g.nodes.size(), false);
  if (binary_ops(g, ctx, removed) > 0) LB_RETURN_IF_ERROR(commit_rewrite(g, removed, ctx.report.pass));
  removed.assign(g.nodes.size(), false);
  if (average_pools(g, ctx, removed) > 0) LB_RETURN_IF_ERROR(commit_rewrite(g, removed, ctx.report.pass));
  removed.assign(g.nodes.size(), false);
  if (matmul_ops(g, ctx, removed) > 0) LB_RETURN_IF_ERROR(commit_rewrite(g, removed, ctx.report.pass));
  removed.assign(g.nodes.size(), false);
  if (float_matmuls(g, ctx, removed) > 0) LB_RETURN_IF_ERROR(commit_rewrite(g, removed, ctx.report.pass));
  if (ctx.report.changes > 0) report_float_nodes(g, ctx);
  return Status::Ok();
}

}  // namespace lowbit
