#include "quant/layer_moments.h"

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "passes/graph_rewrite.h"

namespace lowbit::quant {
namespace {

// splitmix64: a tiny generator with a fully specified output, so sampling is the same on every platform.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  int64_t below(int64_t n) { return int64_t(next() % uint64_t(n)); }
};

// `count` distinct positions of [0, total), ascending (all of them when count >= total).
std::vector<int64_t> sample_positions(int64_t total, int64_t count, Rng& rng) {
  std::vector<int64_t> idx(static_cast<size_t>(std::max<int64_t>(total, 0)));
  std::iota(idx.begin(), idx.end(), 0);
  if (count < total) {
    for (int64_t i = 0; i < count; ++i) std::swap(idx[size_t(i)], idx[size_t(i + rng.below(total - i))]);
    idx.resize(size_t(count));
    std::sort(idx.begin(), idx.end());
  }
  return idx;
}

class Collector {
 public:
  Collector(const std::vector<LinearLayer>& layers, const MomentOptions& o, int64_t batches)
      : layers_(layers),
        options_(o),
        batches_(std::max<int64_t>(batches, 1)),
        moments_(layers.size()),
        decided_(layers.size(), false) {
    for (size_t i = 0; i < layers.size(); ++i) {
      for (int64_t g = 0; g < layers[i].groups; ++g)
        for (auto [k0, k1] : column_blocks(layers[i], o.max_block)) moments_[i].blocks.push_back({g, k0, k1, {}, {}});
    }
  }

  Status observe(size_t li, const Tensor& x, int64_t batch) {
    const LinearLayer& l = layers_[li];
    const int64_t want = std::clamp(options_.rows_per_column * l.k, options_.min_rows, options_.max_rows);
    const int64_t quota = (want + batches_ - 1) / batches_;
    Rng rng{options_.seed ^ (uint64_t(li) * 0x9e3779b97f4a7c15ull) ^ (uint64_t(batch) * 0xd1b54a32d192ed03ull)};
    return l.spatial_rank ? observe_conv(li, x, quota, rng) : observe_rows(li, x, quota, rng);
  }

  std::vector<LayerMoments> finish() {
    for (auto& m : moments_)
      for (auto& b : m.blocks)
        if (m.n > 0)
          for (float& v : b.h) v /= float(m.n);
    return std::move(moments_);
  }

 private:
  // First batch: a block keeps its samples instead of H when it will see fewer than half its width of them.
  void decide(size_t li, int64_t positions, int64_t quota) {
    if (decided_[li]) return;
    decided_[li] = true;
    const int64_t expected = std::min(quota, positions) * batches_;
    for (auto& b : moments_[li].blocks) {
      const int64_t w = b.k1 - b.k0;
      if (2 * expected >= w) b.h.assign(size_t(w * w), 0.f);
    }
  }

  // Adds the rows x k samples of `group` (row-major, k = layer.k) to its blocks.
  void accumulate(size_t li, int64_t group, const float* xs, int64_t rows) {
    const int64_t k = layers_[li].k;
    for (auto& b : moments_[li].blocks) {
      if (b.group != group) continue;
      const int64_t w = b.k1 - b.k0;
      if (b.h.empty()) {
        for (int64_t r = 0; r < rows; ++r) b.x.insert(b.x.end(), xs + r * k + b.k0, xs + r * k + b.k1);
      } else if (rows * w * w >= (int64_t(1) << 16)) {
        dnnl_sgemm('T', 'N', w, w, rows, 1.f, xs + b.k0, k, xs + b.k0, k, 1.f, b.h.data(), w);
      } else {
        for (int64_t r = 0; r < rows; ++r) {
          const float* row = xs + r * k + b.k0;
          for (int64_t a = 0; a < w; ++a)
            if (row[a] != 0.f)
              for (int64_t c = 0; c < w; ++c) b.h[size_t(a * w + c)] += row[a] * row[c];
        }
      }
    }
  }

  Status observe_rows(size_t li, const Tensor& x, int64_t quota, Rng& rng) {
    const LinearLayer& l = layers_[li];
    if (x.rank() < 1 || x.dim(x.rank() - 1) != l.k)
      return error(StatusCode::kInternal, "input of '", l.node, "' does not end in ", l.k, " values");
    const int64_t positions = x.numel() / l.k;
    decide(li, positions, quota);
    std::vector<int64_t> pick = sample_positions(positions, quota, rng);
    buffer_.resize(pick.size() * size_t(l.k));
    for (size_t r = 0; r < pick.size(); ++r)
      std::copy_n(x.data<float>() + pick[r] * l.k, l.k, buffer_.data() + r * size_t(l.k));
    accumulate(li, 0, buffer_.data(), int64_t(pick.size()));
    moments_[li].n += int64_t(pick.size());
    return Status::Ok();
  }

  Status observe_conv(size_t li, const Tensor& x, int64_t quota, Rng& rng) {
    const LinearLayer& l = layers_[li];
    const int64_t cg = l.k / l.taps();
    if (x.rank() != size_t(2 + l.spatial_rank) || x.dim(1) != cg * l.groups)
      return error(StatusCode::kInternal, "input of '", l.node, "' does not have ", cg * l.groups, " channels");
    const int64_t batch = x.dim(0), ih = l.spatial_rank == 2 ? x.dim(2) : 1, iw = x.dim(x.rank() - 1);
    LB_ASSIGN_OR_RETURN(ConvAxis gy, conv_axis(l.conv, 0, ih));
    LB_ASSIGN_OR_RETURN(ConvAxis gx, conv_axis(l.conv, 1, iw));
    const int64_t oh = gy.out, ow = gx.out, pt = gy.pad_begin, pl = gx.pad_begin;
    const int64_t ky_n = l.conv.kernel[0], kx_n = l.conv.kernel[1], sy = l.conv.strides[0], sx = l.conv.strides[1];
    const int64_t dy = l.conv.dilations[0], dx = l.conv.dilations[1];
    const int64_t positions = batch * oh * ow;
    decide(li, positions, quota);
    std::vector<int64_t> pick = sample_positions(positions, quota, rng);
    const int64_t rows = int64_t(pick.size());
    buffer_.resize(size_t(rows * l.k));
    const float* src = x.data<float>();
    for (int64_t g = 0; g < l.groups; ++g) {
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t n = pick[size_t(r)] / (oh * ow), oy = pick[size_t(r)] / ow % oh, ox = pick[size_t(r)] % ow;
        float* row = buffer_.data() + r * l.k;
        for (int64_t c = 0; c < cg; ++c) {
          const float* plane = src + ((n * l.groups + g) * cg + c) * ih * iw;
          for (int64_t ky = 0; ky < ky_n; ++ky) {
            const int64_t iy = oy * sy - pt + ky * dy;
            for (int64_t kx = 0; kx < kx_n; ++kx) {
              const int64_t ix = ox * sx - pl + kx * dx;
              *row++ = (iy >= 0 && iy < ih && ix >= 0 && ix < iw) ? plane[iy * iw + ix] : 0.f;
            }
          }
        }
      }
      accumulate(li, g, buffer_.data(), rows);
    }
    moments_[li].n += rows;
    return Status::Ok();
  }

  const std::vector<LinearLayer>& layers_;
  MomentOptions options_;
  int64_t batches_;
  std::vector<LayerMoments> moments_;
  std::vector<bool> decided_;
  std::vector<float> buffer_;
};

}  // namespace

LayerSelection select_linear_layers(const Graph& g, const QuantPlan& plan) {
  LayerSelection sel;
  std::map<std::string, int64_t> weight_axis;
  for (auto& w : plan.weights) weight_axis[w.value] = w.axis;
  std::set<std::string> quantized(plan.quantized_nodes.begin(), plan.quantized_nodes.end());
  GraphUses uses(g);
  for (auto& n : g.nodes) {
    const std::string& op = n.op_type;
    if (!quantized.count(n.name) || (op != "Conv" && op != "Gemm" && op != "MatMul" && op != "ConvTranspose")) continue;
    auto skip = [&](const std::string& why) { sel.skipped.emplace_back(n.name, why); };
    const bool weight_in_1 = n.inputs.size() > 1 && weight_axis.count(n.inputs[1]);
    if (!weight_in_1) {
      if (n.inputs.size() > 0 && weight_axis.count(n.inputs[0])) skip("MatMul with a constant first operand");
      continue;  // MatMul of two activations: no weight to round
    }
    if (op == "ConvTranspose") {
      skip("ConvTranspose is not optimised");
      continue;
    }
    const Tensor* w = constant_value(g, n.inputs[1]);
    if (!w || w->dtype() != DType::kFloat32 || constant_value(g, n.inputs[0])) continue;
    if (uses.consumer_count(n.inputs[1]) != 1) {
      skip("weight shared with other nodes");
      continue;
    }
    LinearLayer l;
    l.node = n.name;
    l.op_type = op;
    l.weight = n.inputs[1];
    l.input = n.inputs[0];
    l.axis = weight_axis[n.inputs[1]];
    if (op == "Conv") {
      if (w->rank() != 3 && w->rank() != 4) {
        skip(str_cat(w->rank() - 2, "-D convolution"));
        continue;
      }
      const int sr = int(w->rank()) - 2;
      l.spatial_rank = sr;
      l.out_channels = w->dim(0);
      std::vector<int64_t> spatial(w->shape().begin() + 2, w->shape().end());
      auto attrs = parse_conv_attrs(n, size_t(sr), spatial, false);
      if (!attrs.ok()) {
        skip(attrs.status().message());
        continue;
      }
      l.conv = *attrs;
      if (sr == 1) {  // as a 2-D convolution of height 1
        l.conv.spatial = 2;
        l.conv.kernel.insert(l.conv.kernel.begin(), 1);
        l.conv.strides.insert(l.conv.strides.begin(), 1);
        l.conv.dilations.insert(l.conv.dilations.begin(), 1);
        l.conv.pads = {0, l.conv.pads[0], 0, l.conv.pads[1]};
        l.conv.output_padding.assign(2, 0);
      }
      l.groups = l.conv.group;
      if (l.out_channels % l.groups) {
        skip("group does not divide the output channels");
        continue;
      }
      l.k = w->numel() / std::max<int64_t>(1, l.out_channels);
    } else {
      if (w->rank() != 2) {
        skip("weight is not a matrix");
        continue;
      }
      l.weight_k_major = op == "MatMul" || n.attr_int("transB", 0) == 0;
      l.k = l.weight_k_major ? w->dim(0) : w->dim(1);
      l.out_channels = l.weight_k_major ? w->dim(1) : w->dim(0);
    }
    if (l.k <= 0 || l.out_channels <= 0) continue;
    sel.layers.push_back(std::move(l));
  }
  return sel;
}

std::vector<float> weight_matrix(const LinearLayer& l, const Tensor& w) {
  const float* src = w.data<float>();
  std::vector<float> m(static_cast<size_t>(l.out_channels * l.k));
  if (!l.weight_k_major) return std::vector<float>(src, src + m.size());
  for (int64_t i = 0; i < l.k; ++i)
    for (int64_t o = 0; o < l.out_channels; ++o) m[size_t(o * l.k + i)] = src[i * l.out_channels + o];
  return m;
}

void matrix_to_weight(const LinearLayer& l, const std::vector<int8_t>& m, Tensor& codes) {
  int8_t* dst = codes.data<int8_t>();
  if (!l.weight_k_major) {
    std::copy(m.begin(), m.end(), dst);
    return;
  }
  for (int64_t i = 0; i < l.k; ++i)
    for (int64_t o = 0; o < l.out_channels; ++o) dst[i * l.out_channels + o] = m[size_t(o * l.k + i)];
}

std::vector<std::pair<int64_t, int64_t>> column_blocks(const LinearLayer& l, int64_t max_block) {
  max_block = std::max<int64_t>(max_block, 1);
  const int64_t taps = l.taps();
  const int64_t unit = (taps <= max_block && l.k % taps == 0) ? taps : 1;  // whole input channels
  const int64_t units = l.k / unit;
  const int64_t blocks = (l.k + max_block - 1) / max_block;
  const int64_t per_block = (units + blocks - 1) / blocks;
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t u = 0; u < units; u += per_block) out.emplace_back(u * unit, std::min(units, u + per_block) * unit);
  return out;
}

Expected<std::vector<LayerMoments>> collect_layer_moments(Session& session, CalibrationData& data,
                                                          const std::vector<LinearLayer>& layers,
                                                          const MomentOptions& options) {
  std::map<std::string, std::vector<size_t>> readers;  // input tensor -> layers reading it
  for (size_t i = 0; i < layers.size(); ++i) readers[layers[i].input].push_back(i);
  const int64_t batches = options.batches >= 0 ? std::min(options.batches, data.num_batches()) : data.num_batches();
  Collector collector(layers, options, batches);
  Status failure = Status::Ok();
  int64_t batch = 0;
  auto observe = [&](const std::string& name, const Tensor& t) {
    auto it = readers.find(name);
    if (it == readers.end() || !failure.ok() || t.dtype() != DType::kFloat32) return;
    for (size_t li : it->second)
      if (Status s = collector.observe(li, t, batch); !s.ok() && failure.ok()) failure = s;
  };
  ValueObserver observer;
  observer.wants = [&](const std::string& name) { return readers.count(name) != 0; };
  observer.observe = observe;
  for (batch = 0; batch < batches; ++batch) {
    auto feeds = data.batch(batch);
    if (!feeds) return feeds.status();
    for (auto& [name, t] : *feeds) observe(name, t);  // graph inputs are not node outputs
    auto outputs = session.run(*feeds, nullptr, observer);
    if (!outputs) return outputs.status().with_context("calibration batch " + data.describe_batch(batch));
    if (!failure.ok()) return failure;
  }
  return collector.finish();
}

}  // namespace lowbit::quant
