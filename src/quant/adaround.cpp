#include "quant/adaround.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "kernels/onednn/onednn_kernel.h"
#include "passes/graph_rewrite.h"

namespace lowbit::quant {
namespace {

// Below this many multiply-adds per iteration a block runs single-threaded, many blocks at once (depthwise
// convolutions are hundreds of 1 x 9 problems); above it, one block at a time on every thread.
constexpr int64_t kSmallBlockWork = int64_t(1) << 17;
// Rows are independent problems: the optimiser's state (~10 floats per weight) is bounded by solving at most this
// many output channels at once (a 50k-word output projection would otherwise need gigabytes).
constexpr int64_t kMaxPieceRows = 4096;
// A layer whose input moments would need more than this is left at nearest rounding.
constexpr int64_t kMaxMomentBytes = int64_t(1) << 30;

struct Piece {
  const MomentBlock* block = nullptr;
  int64_t row0 = 0;
  std::vector<float> w, scales;
  RoundingProblem p;
  std::vector<int8_t> codes;
  double loss_nearest = 0, loss_adaround = 0;
  int64_t work() const { return p.rows * p.cols * (p.h ? p.cols : 2 * p.n); }
};

// Rows [row0, row0 + mg) of the weight matrix, columns of block b.
Piece make_piece(const LinearLayer& l, const MomentBlock& b, int64_t row0, int64_t mg, const std::vector<float>& wm,
                 const std::vector<float>& row_scale, float damping) {
  Piece pc;
  pc.block = &b;
  const int64_t width = b.k1 - b.k0;
  pc.row0 = row0;
  pc.w.resize(size_t(mg * width));
  for (int64_t r = 0; r < mg; ++r)
    std::copy_n(wm.begin() + (pc.row0 + r) * l.k + b.k0, width, pc.w.begin() + r * width);
  pc.scales.assign(row_scale.begin() + pc.row0, row_scale.begin() + pc.row0 + mg);
  RoundingProblem& p = pc.p;
  p.rows = mg;
  p.cols = width;
  p.weights = pc.w.data();
  p.scales = pc.scales.data();
  double diag = 0;
  if (!b.h.empty()) {
    p.h = b.h.data();
    for (int64_t i = 0; i < width; ++i) diag += b.h[size_t(i * width + i)];
  } else {
    p.x = b.x.data();
    p.n = int64_t(b.x.size()) / std::max<int64_t>(width, 1);
    for (float v : b.x) diag += double(v) * double(v);
    diag /= double(std::max<int64_t>(p.n, 1));
  }
  p.damping = float(double(damping) * diag / double(std::max<int64_t>(width, 1)));
  return pc;
}

void solve(Piece& pc, const AdaRoundParams& params, ThreadPool* pool, bool blas) {
  pc.codes = optimize_rounding(pc.p, params, pool, blas);
  RoundingProblem plain = pc.p;  // the report measures the error itself, without the damping term
  plain.damping = 0;
  const std::vector<int8_t> nearest = nearest_codes(plain);
  for (double l : rounding_loss(plain, nearest.data(), blas)) pc.loss_nearest += l;
  for (double l : rounding_loss(plain, pc.codes.data(), blas)) pc.loss_adaround += l;
}

}  // namespace

Expected<AdaRoundResult> adaround_weights(Session& session, CalibrationData& data, const Graph& g,
                                          const QuantPlan& plan, const AdaRoundOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  AdaRoundResult res;
  AdaRoundReport& rep = res.report;
  LayerSelection sel = select_linear_layers(g, plan);
  rep.skipped = sel.skipped;
  for (auto it = sel.layers.begin(); it != sel.layers.end();) {
    const int64_t bytes = it->groups * it->k * std::min(it->k, options.moments.max_block) * int64_t(sizeof(float));
    if (bytes <= kMaxMomentBytes) {
      ++it;
      continue;
    }
    rep.skipped.emplace_back(it->node, str_cat("its input moments would need ", bytes >> 20, " MiB"));
    it = sel.layers.erase(it);
  }
  rep.iterations = options.params.iterations;
  rep.ran = true;
  if (sel.layers.empty()) return res;

  if (options.progress)
    std::fprintf(stderr, "adaround: sampling the inputs of %zu layers (one more float pass over %lld batches)\n",
                 sel.layers.size(), (long long)(options.moments.batches >= 0 ? std::min(options.moments.batches, data.num_batches()) : data.num_batches()));
  LB_ASSIGN_OR_RETURN(std::vector<LayerMoments> moments,
                      collect_layer_moments(session, data, sel.layers, options.moments));
  if (options.progress) std::fprintf(stderr, "adaround: sampled in %.1f s\n", since(start));
  onednn::set_num_threads(options.threads);  // the big products run on oneDNN's sgemm
  ThreadPool pool(options.threads);
  for (size_t li = 0; li < sel.layers.size(); ++li) {
    const auto layer_start = std::chrono::steady_clock::now();
    const LinearLayer& l = sel.layers[li];
    LayerMoments& lm = moments[li];
    if (lm.n == 0) {
      rep.skipped.emplace_back(l.node, "its input was not seen on the calibration data");
      continue;
    }
    const Tensor* w = constant_value(g, l.weight);
    if (!w) return error(StatusCode::kInternal, "weight '", l.weight, "' of '", l.node, "' is not a constant");
    QuantizedWeight nearest = quantize_weight(*w, l.axis);
    const std::vector<float> wm = weight_matrix(l, *w);
    std::vector<float> row_scale(static_cast<size_t>(l.out_channels));
    for (int64_t r = 0; r < l.out_channels; ++r)
      row_scale[size_t(r)] = nearest.scales[nearest.scales.size() == 1 ? 0 : size_t(r)];

    std::vector<Piece> pieces;
    const int64_t mg = l.out_channels / l.groups;
    for (auto& b : lm.blocks)
      for (int64_t r = 0; r < mg; r += kMaxPieceRows)
        pieces.push_back(
            make_piece(l, b, b.group * mg + r, std::min(kMaxPieceRows, mg - r), wm, row_scale, options.damping));
    std::vector<size_t> small;
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (pieces[i].work() >= kSmallBlockWork)
        solve(pieces[i], options.params, &pool, /*blas=*/true);
      else
        small.push_back(i);
    }
    pool.parallel_for(int64_t(small.size()), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) solve(pieces[small[size_t(i)]], options.params, nullptr, /*blas=*/false);
    });

    AdaRoundLayerReport lr;
    lr.node = l.node;
    lr.op_type = l.op_type;
    lr.k = l.k;
    lr.out_channels = l.out_channels;
    lr.groups = l.groups;
    lr.samples = lm.n;
    lr.blocks = int64_t(lm.blocks.size()) / l.groups;
    std::vector<int8_t> matrix(static_cast<size_t>(l.out_channels * l.k));
    for (auto& pc : pieces) {
      const int64_t width = pc.p.cols;
      for (int64_t r = 0; r < pc.p.rows; ++r)
        std::copy_n(pc.codes.begin() + r * width, width, matrix.begin() + (pc.row0 + r) * l.k + pc.block->k0);
      lr.loss_nearest += pc.loss_nearest;
      lr.loss_adaround += pc.loss_adaround;
    }
    QuantizedWeight chosen{Tensor(DType::kInt8, w->shape()), nearest.scales};
    matrix_to_weight(l, matrix, chosen.values);
    lr.weights = w->numel();
    for (int64_t i = 0; i < lr.weights; ++i)
      lr.changed += chosen.values.data<int8_t>()[i] != nearest.values.data<int8_t>()[i];
    res.weights[l.weight] = std::move(chosen);
    lm.blocks.clear();
    lm.blocks.shrink_to_fit();
    lr.seconds = since(layer_start);
    if (options.progress) {
      const double ratio = lr.loss_nearest > 0 ? lr.loss_adaround / lr.loss_nearest : 1.0;
      std::fprintf(stderr,
                   "adaround [%zu/%zu] %s (%s, k=%lld%s, %lld samples): loss %.3fx nearest, %.1f%% flipped, %.1f s\n",
                   li + 1, sel.layers.size(), l.node.c_str(), l.op_type.c_str(), (long long)l.k,
                   lr.blocks > 1 ? str_cat(" in ", lr.blocks, " blocks").c_str() : "", (long long)lr.samples, ratio,
                   100.0 * double(lr.changed) / double(std::max<int64_t>(lr.weights, 1)), lr.seconds);
    }
    rep.layers.push_back(std::move(lr));
  }
  rep.seconds = since(start);
  return res;
}

void use_rounded_codes(QuantizedWeight& q, const QuantizedWeight& chosen, int64_t axis) {
  if (chosen.values.shape() != q.values.shape() || chosen.scales.size() != q.scales.size()) return;
  const Shape& shape = q.values.shape();
  int64_t channels = 1, inner = q.values.numel();
  if (axis >= 0 && size_t(axis) < shape.size()) {
    channels = shape[size_t(axis)];
    inner = 1;
    for (size_t d = size_t(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  }
  if (channels <= 0 || inner <= 0 || int64_t(q.scales.size()) != channels) return;
  const int64_t outer = q.values.numel() / (channels * inner);
  int8_t* dst = q.values.data<int8_t>();
  const int8_t* src = chosen.values.data<int8_t>();
  for (int64_t c = 0; c < channels; ++c) {
    if (q.scales[size_t(c)] != chosen.scales[size_t(c)]) continue;
    for (int64_t o = 0; o < outer; ++o)
      std::copy_n(src + (o * channels + c) * inner, inner, dst + (o * channels + c) * inner);
  }
}

std::string format_adaround_summary(const AdaRoundReport& r) {
  std::ostringstream os;
  std::vector<double> ratios;
  int64_t weights = 0, changed = 0;
  for (auto& l : r.layers) {
    if (l.loss_nearest > 0) ratios.push_back(l.loss_adaround / l.loss_nearest);
    weights += l.weights;
    changed += l.changed;
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "adaround:    %zu layers, %d iterations, %.1f s", r.layers.size(), r.iterations,
                r.seconds);
  os << buf;
  if (!ratios.empty()) {
    std::sort(ratios.begin(), ratios.end());
    std::snprintf(buf, sizeof buf,
                  ": layer loss %.2fx nearest (median, calibration inputs), %.1f%% of weights rounded the other way",
                  ratios[ratios.size() / 2], 100.0 * double(changed) / double(std::max<int64_t>(weights, 1)));
    os << buf;
  }
  os << "\n";
  if (!r.skipped.empty()) {
    os << "             " << r.skipped.size() << " layers keep nearest rounding: ";
    for (size_t i = 0; i < r.skipped.size() && i < 4; ++i)
      os << (i ? ", " : "") << r.skipped[i].first << " (" << r.skipped[i].second << ")";
    if (r.skipped.size() > 4) os << ", ...";
    os << "\n";
  }
  return os.str();
}

}  // namespace lowbit::quant
