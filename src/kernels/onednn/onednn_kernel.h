// oneDNN kernels: one object per node and concrete input layout, built once by the runtime plan
// (src/runtime/plan.cpp) and executed many times.
//
//   std::vector<onednn::KernelInput> ins = {{x_desc, nullptr}, {w_desc, &weights}, {b_desc, &bias}};
//   std::unique_ptr<onednn::Kernel> k = onednn::create_kernel(node, opset, ins, {output_shape});
//   if (!k) { /* no oneDNN kernel for this node: run the reference kernel */ }
//   k->execute(stream, {x_memory, {}, {}}, {y_memory});   // y_memory has k->output_descs[0]
//
// Activations may arrive and leave in oneDNN's blocked layouts (nChw16c...): the kernel records the
// layout of each input it was built for (input_descs) and the layout it writes (output_descs); the plan
// passes blocked memory between consecutive oneDNN kernels and reorders to plain row-major only where
// a reference kernel or a graph output needs it. Weights are constants, reordered once at build time.
#pragma once
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "ir/graph.h"
#include "lowbit/status.h"
#include "runtime/thread_pool.h"

namespace lowbit {
struct FusedActivation;
}

namespace lowbit::onednn {

using dnnl::memory;

// The CPU engine (process-wide; oneDNN engines are thread-safe and cheap to share).
const dnnl::engine& cpu_engine();
// Threads oneDNN's OpenMP runtime uses for primitives launched from the calling thread (<= 0: all cores).
void set_num_threads(int threads);

// Row-major (plain) float32 desc of `shape`; rank 0 is treated as {1}. Fails for rank > 12.
memory::desc plain_desc(const Shape& shape, memory::data_type dt = memory::data_type::f32);
// Strides (in elements) of a strided layout without inner blocking or padding (plain, nhwc, any permutation);
// false for blocked or padded layouts.
bool unblocked_strides(const memory::desc& d, std::vector<int64_t>* strides);
// True when `desc` is the row-major layout of its own dims (no padding, no blocking).
bool is_plain(const memory::desc& desc);
// The dims of a desc as a lowbit Shape.
Shape desc_shape(const memory::desc& desc);
// The same layout with another element type (f32 <-> s8/u8 of the same blocking).
memory::desc with_data_type(const memory::desc& d, memory::data_type type);
// lowbit's element type for a oneDNN one (f32, s8, u8, s32), kFloat32 for others.
DType desc_dtype(const memory::desc& d);
// oneDNN's element type for a lowbit one (f32 for the types oneDNN kernels do not exchange).
memory::data_type dnnl_dtype(DType t);

// A one-element s32 memory: a runtime zero point for DNNL_ARG_ATTR_ZERO_POINTS.
memory zero_point_memory(int32_t z);

struct KernelInput {
  memory::desc desc;                 // layout the input arrives in (zero desc: omitted input)
  const Tensor* constant = nullptr;  // the value when it is a model constant (weights, bias, clip bounds)
};

// Input i when it is a baked constant holding one value (a per-tensor scale or zero point), else nullptr.
const Tensor* scalar_constant(const std::vector<KernelInput>& inputs, size_t i);

// An input a primitive needs in layout `want` while it arrives in `from`: a reorder into scratch memory, built once
// when the two differ (then apply() returns the reordered copy; else the input itself).
struct InputReorder {
  void prepare(const memory::desc& from, const memory::desc& want) {
    if (from == want) return;
    reorder = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), from, cpu_engine(), want));
    scratch = memory(want, cpu_engine());
  }
  memory apply(dnnl::stream& stream, memory src) {  // a handle: copies share the buffer
    if (!reorder) return src;
    reorder.execute(stream, src, scratch);
    return scratch;
  }
  dnnl::reorder reorder;
  memory scratch;
};

class Kernel;

// A residual a convolution accumulates onto in dst (oneDNN's sum post-op, or lowbit's own kernel doing the same):
// input `index` (arriving in `from`) is read in dst's buffer as `in_dst` (dst's layout; its own element type for
// int8). prepare() records the input's layout on the kernel and lets the plan hand the residual's own buffer over
// as dst when the residual dies at the node; apply() copies it in otherwise.
struct ResidualInDst {
  void prepare(Kernel& k, int index, const memory::desc& from, const memory::desc& in_dst);
  void apply(dnnl::stream& stream, const std::vector<memory>& inputs, const memory& dst) const;
  explicit operator bool() const { return index >= 0; }

  int index = -1;
  memory::desc in_dst;
  dnnl::reorder copy;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Runs the node. inputs[i] is the memory of node input i (ignored for constants the kernel keeps);
  // outputs[i] must have output_descs[i]. Throws dnnl::error on a oneDNN failure (the plan catches it).
  virtual void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) = 0;

  // What runs the node, for tests and profiles: "onednn" for oneDNN primitives, else lowbit's own kernel.
  virtual const char* implementation() const { return "onednn"; }

  std::vector<memory::desc> input_descs;   // per node input: the layout built for (zero desc for constants)
  std::vector<memory::desc> output_descs;  // per node output
  // Output 0 may take over this input's buffer when the input's value dies at this node and its layout is
  // in_place_desc (the kernel then finds its operand already in dst: a residual sum needs no copy). -1: never.
  int in_place_input = -1;
  memory::desc in_place_desc;
  // lowbit's own loops (lookup tables, int8 elementwise) split work on the plan's pool; oneDNN primitives use
  // oneDNN's threads. Set by the plan after creation; may stay null (then they run on the calling thread).
  ThreadPool* pool = nullptr;
};

// The oneDNN kernel for `node` given its inputs' layouts and the output shapes inference computed, or
// nullptr when oneDNN has none for this op, dtype, attribute combination or layout (the plan falls back to
// the reference kernel). Never throws.
std::unique_ptr<Kernel> create_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                      const std::vector<Shape>& output_shapes);

// Per-family factories used by create_kernel (each returns nullptr when it does not apply; may throw dnnl::error).
std::unique_ptr<Kernel> create_conv_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                           const std::vector<Shape>& output_shapes);
std::unique_ptr<Kernel> create_pool_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                           const std::vector<Shape>& output_shapes);
std::unique_ptr<Kernel> create_eltwise_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                              const std::vector<Shape>& output_shapes);
std::unique_ptr<Kernel> create_binary_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                             const std::vector<Shape>& output_shapes);
std::unique_ptr<Kernel> create_softmax_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                              const std::vector<Shape>& output_shapes);
std::unique_ptr<Kernel> create_gemm_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                           const std::vector<Shape>& output_shapes);
std::unique_ptr<Kernel> create_matmul_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                             const std::vector<Shape>& output_shapes);
std::unique_ptr<Kernel> create_conv_transpose_kernel(const Node& node, int opset,
                                                     const std::vector<KernelInput>& inputs,
                                                     const std::vector<Shape>& output_shapes);
std::unique_ptr<Kernel> create_resize_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                             const std::vector<Shape>& output_shapes);
std::unique_ptr<Kernel> create_concat_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                             const std::vector<Shape>& output_shapes);
// QLinearConv on int8 primitives (src/kernels/onednn/qconv.cpp).
std::unique_ptr<Kernel> create_qconv_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                            const std::vector<Shape>& output_shapes);
// QLinearMatMul with constant int8 weights on the int8 matmul primitive (src/kernels/onednn/qmatmul.cpp).
std::unique_ptr<Kernel> create_qmatmul_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                              const std::vector<Shape>& output_shapes);
// Per-tensor QuantizeLinear / DequantizeLinear as reorders (src/kernels/onednn/quantize.cpp).
std::unique_ptr<Kernel> create_quantize_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                               const std::vector<Shape>& output_shapes);
// QLinearAdd / QLinearMul on strided int8 layouts (src/kernels/onednn/qlinear_binary.cpp).
// Reshape / Flatten / Squeeze / Unsqueeze of a plain input: in place when the input dies there, else a memcpy.
std::unique_ptr<Kernel> create_reshape_kernel(const std::vector<KernelInput>& inputs,
                                              const std::vector<Shape>& output_shapes);
// DepthToSpace (DCR) on an nhwc copy of its input, any element type.
std::unique_ptr<Kernel> create_depth_to_space_kernel(const Node& node, const std::vector<KernelInput>& inputs,
                                                     const std::vector<Shape>& output_shapes);
// MatMulIntegerToFloat with constant int8 B: the int8 matmul, float output, bias as a post-op.
std::unique_ptr<Kernel> create_matmul_integer_to_float_kernel(const std::vector<KernelInput>& inputs,
                                                              const std::vector<Shape>& output_shapes);
// QLinearGlobalAveragePool on an unblocked int8/uint8 input (nhwc or plain): integer sums on the plan's pool.
std::unique_ptr<Kernel> create_qlinear_global_average_kernel(const Node& node, const std::vector<KernelInput>& inputs,
                                                             const std::vector<Shape>& output_shapes);
std::unique_ptr<Kernel> create_qlinear_binary_kernel(const Node& node, int opset,
                                                     const std::vector<KernelInput>& inputs,
                                                     const std::vector<Shape>& output_shapes);
// Gather(256-entry table, int8/uint8 codes): lookup tables (src/kernels/onednn/lookup.cpp).
std::unique_ptr<Kernel> create_lookup_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                             const std::vector<Shape>& output_shapes);
// LayerNormalization (opset >= 17, Y only) and InstanceNormalization (src/kernels/onednn/norm.cpp).
std::unique_ptr<Kernel> create_norm_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                           const std::vector<Shape>& output_shapes);

// The oneDNN geometry of a forward convolution (Conv, QLinearConv) of an input `in` with weights `w`
// (M x C/group x k...) giving `out`: false when ranks, channels, attributes or the output size do not fit (the
// caller then leaves the node to the reference kernel).
struct ConvDims {
  memory::dims strides, dilates, pad_l, pad_r;  // dilates count the gaps (ONNX dilation - 1)
  int64_t group = 1, out_channels = 0;
};
bool conv_dims(const Node& node, const Shape& in, const Shape& w, const Shape& out, ConvDims* d);

// An eltwise step (algorithm + alpha/beta) for an ONNX activation, used both by the standalone eltwise
// kernel and as a post-op of Conv. HardSigmoid needs two steps (linear, then clip to [0, 1]).
struct EltwiseStep {
  dnnl::algorithm algorithm;
  float alpha = 0, beta = 0;
};
// Steps for activation `op` ("Relu", "LeakyRelu", "Clip", ...) with the given attributes; false if unsupported.
bool activation_steps(const std::string& op, float alpha, float beta, bool has_alpha, bool has_beta,
                      std::vector<EltwiseStep>* steps);
// For lowbit's own FP32 convolutions (streaming, Winograd): the bias (input 2, zeros when omitted) padded with
// zeros to `padded` channels; and the kernel's layouts — input 0 as it arrives, output in nChw16c, the fused
// residual (input 3) accumulated in dst when `residual`.
memory padded_conv_bias(const std::vector<KernelInput>& inputs, int64_t channels, int64_t padded);
// The channel-blocked layout lowbit's own convolutions use on this CPU (simd.h): nChw16c with AVX-512, else nChw8c
// (what oneDNN's own AVX2 kernels pick).
memory::format_tag own_blocked_tag();
void set_blocked_conv_layouts(Kernel& k, const std::vector<KernelInput>& inputs, const Shape& out_shape,
                              bool residual, ResidualInDst* residual_in_dst);
// FP32 Conv on small output maps (7x7; 14x14 for 1x1) whose input arrives in nChw16c, as lowbit's own AVX-512
// GEMM that prefetches weights ahead (src/kernels/onednn/conv_streaming.cpp); nullptr where it does not apply.
std::unique_ptr<Kernel> create_streaming_conv_kernel(const std::vector<KernelInput>& inputs, const Shape& out_shape,
                                                     const ConvDims& cd, const FusedActivation& act);
// FP32 3x3 stride-1 pad-1 Conv (channels multiples of 16) as lowbit's own AVX-512 Winograd F(2x2) / F(4x4, 3x3)
// in nChw16c (src/kernels/onednn/conv_winograd.cpp); nullptr where it does not apply.
bool winograd_applies(const Shape& in, const Shape& w, const ConvDims& d);
std::unique_ptr<Kernel> create_winograd_conv_kernel(const std::vector<KernelInput>& inputs, const Shape& out_shape,
                                                    const ConvDims& cd, const FusedActivation& act);
// ConvTranspose with stride == kernel, no padding, dilation or groups, as one matmul writing nhwc output patches
// (nullptr when the node is not of that form; may throw dnnl::error).
std::unique_ptr<Kernel> create_patch_conv_transpose_kernel(const Node& node, const std::vector<KernelInput>& inputs,
                                                           const std::vector<Shape>& output_shapes,
                                                           const std::vector<EltwiseStep>& steps);

}  // namespace lowbit::onednn
