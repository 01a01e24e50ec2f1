// THE op table: every operator lowbit supports appears exactly once here.
// Columns: name, first ai.onnx opset handled, last opset handled, family (source file), summary.
// From this list come the declarations of infer_<Op>/ref_<Op>, the registry (op_table.cpp),
// docs/operators.md (lowbit ops --markdown) and the conformance suite's notion of "supported".
#pragma once

// clang-format off
#define LOWBIT_OP_LIST(X) \
  /* elementwise: src/ops/elementwise.cpp, src/kernels/ref/elementwise.cpp */ \
  X(Add,                7, 17, elementwise, "a + b, numpy broadcasting") \
  X(Sub,                7, 17, elementwise, "a - b") \
  X(Mul,                7, 17, elementwise, "a * b") \
  X(Div,                7, 17, elementwise, "a / b (integer division truncates)") \
  X(Pow,                7, 17, elementwise, "a ^ b") \
  X(Min,                7, 17, elementwise, "element-wise minimum of N inputs") \
  X(Max,                7, 17, elementwise, "element-wise maximum of N inputs") \
  X(Sum,                7, 17, elementwise, "element-wise sum of N inputs") \
  X(Sqrt,               7, 17, elementwise, "square root") \
  X(Exp,                7, 17, elementwise, "e^x") \
  X(Log,                7, 17, elementwise, "natural logarithm") \
  X(Neg,                7, 17, elementwise, "-x") \
  X(Abs,                7, 17, elementwise, "|x|") \
  X(Reciprocal,         7, 17, elementwise, "1/x") \
  X(Floor,              7, 17, elementwise, "floor(x)") \
  X(Ceil,               7, 17, elementwise, "ceil(x)") \
  X(Erf,                9, 17, elementwise, "error function") \
  X(Relu,               7, 17, elementwise, "max(x, 0)") \
  X(LeakyRelu,          7, 17, elementwise, "x < 0 ? alpha*x : x") \
  X(PRelu,              7, 17, elementwise, "x < 0 ? slope*x : x, slope broadcast") \
  X(Clip,               7, 17, elementwise, "clamp to [min, max] (attribute form < 11, input form >= 11)") \
  X(Sigmoid,            7, 17, elementwise, "1/(1+e^-x)") \
  X(HardSigmoid,        7, 17, elementwise, "max(0, min(1, alpha*x+beta))") \
  X(HardSwish,         14, 17, elementwise, "x * HardSigmoid(x; 1/6, 0.5)") \
  X(Tanh,               7, 17, elementwise, "tanh(x)") \
  X(Softplus,           7, 17, elementwise, "log(1+e^x)") \
  X(Elu,                7, 17, elementwise, "x < 0 ? alpha*(e^x-1) : x") \
  X(Where,              9, 17, elementwise, "cond ? a : b, broadcasting") \
  X(Equal,              7, 17, elementwise, "a == b -> bool") \
  X(Less,               7, 17, elementwise, "a < b -> bool") \
  X(LessOrEqual,       12, 17, elementwise, "a <= b -> bool") \
  X(Greater,            7, 17, elementwise, "a > b -> bool") \
  X(GreaterOrEqual,    12, 17, elementwise, "a >= b -> bool") \
  X(Not,                7, 17, elementwise, "logical not") \
  X(And,                7, 17, elementwise, "logical and") \
  X(Or,                 7, 17, elementwise, "logical or") \
  X(Xor,                7, 17, elementwise, "logical xor") \
  X(Cast,               7, 17, elementwise, "convert element type (saturating rules of ONNX)") \
  X(Identity,           7, 17, elementwise, "copy") \
  X(Dropout,            7, 17, elementwise, "inference: identity (and an all-true mask)") \
  /* conv & matmul: src/ops/conv_gemm.cpp, src/kernels/ref/conv_gemm.cpp */ \
  X(Conv,               7, 17, conv_gemm, "N-d convolution: groups, dilations, pads, auto_pad") \
  /* quantized elementwise and global average (com.microsoft semantics; written by pass lower_qdq): src/ops/qlinear_binary.cpp */ \
  X(QLinearAdd,        10, 17, qlinear_binary, "C = quantize(dequantize(A) + dequantize(B)), broadcasting; fused activation") \
  X(QLinearMul,        10, 17, qlinear_binary, "C = quantize(dequantize(A) * dequantize(B)), broadcasting; fused activation") \
  X(QLinearGlobalAveragePool, 10, 17, qlinear_binary, "Y = quantize(mean over spatial dims of dequantize(X)), exact integer sum") \
  X(QLinearAveragePool, 10, 17, qlinear_binary, "Y = quantize(AveragePool(dequantize(X))): pads, ceil_mode, count_include_pad; exact integer sums") \
  X(QLinearMatMul,     10, 17, conv_gemm, "quantized MatMul: int8/uint8 A and B (per-row a, per-column b scales), requantized output") \
  X(MatMulIntegerToFloat, 10, 17, conv_gemm, "float Y = (A - a_zp)(B - b_zp) * a_scale * b_scale + bias: int8 matmul, float output") \
  X(QLinearConv,       10, 17, conv_gemm, "quantized Conv: int8/uint8 X and W, int32 bias, requantized output (per-channel w_scale)") \
  X(ConvTranspose,      7, 17, conv_gemm, "N-d transposed convolution: groups, output_padding, output_shape") \
  X(Gemm,               7, 17, conv_gemm, "alpha*op(A)*op(B) + beta*C") \
  X(MatMul,             7, 17, conv_gemm, "numpy matmul with batch broadcasting") \
  /* normalization, pooling, softmax: src/ops/norm_pool.cpp, src/kernels/ref/norm_pool.cpp */ \
  X(BatchNormalization, 7, 17, norm_pool, "inference batch norm (scale, bias, running mean/var)") \
  X(InstanceNormalization, 7, 17, norm_pool, "per-instance, per-channel normalization") \
  X(LayerNormalization, 17, 17, norm_pool, "normalize over the trailing axes from `axis`") \
  X(MaxPool,            7, 17, norm_pool, "N-d max pooling: pads, dilations, ceil_mode, Indices output") \
  X(AveragePool,        7, 17, norm_pool, "N-d average pooling: pads, ceil_mode, count_include_pad") \
  X(GlobalAveragePool,  7, 17, norm_pool, "mean over spatial dims") \
  X(GlobalMaxPool,      7, 17, norm_pool, "max over spatial dims") \
  X(Softmax,            7, 17, norm_pool, "softmax (coerced-2D before opset 13, single axis from 13)") \
  X(LogSoftmax,         7, 17, norm_pool, "log of softmax, same axis rules") \
  /* shape & data movement: src/ops/shape_ops.cpp, src/kernels/ref/shape_ops.cpp */ \
  X(Concat,             7, 17, shape_ops, "join along an axis") \
  X(Split,              7, 17, shape_ops, "split along an axis (attribute or input sizes)") \
  X(Slice,              7, 17, shape_ops, "strided slice (attributes < 10, inputs >= 10)") \
  X(Gather,             7, 17, shape_ops, "take along an axis, negative indices allowed") \
  X(Shape,              7, 17, shape_ops, "shape as int64 (start/end from 15)") \
  X(Size,               7, 17, shape_ops, "element count as int64") \
  X(Reshape,            7, 17, shape_ops, "new shape; 0 copies a dim, -1 infers one (allowzero 14)") \
  X(Flatten,            7, 17, shape_ops, "to 2-D at `axis`") \
  X(Transpose,          7, 17, shape_ops, "permute axes") \
  X(DepthToSpace,       1, 17, shape_ops, "channel blocks to blocksize x blocksize spatial blocks (DCR, and CRD from 11)") \
  X(Squeeze,            7, 17, shape_ops, "drop size-1 axes (attribute < 13, input >= 13)") \
  X(Unsqueeze,          7, 17, shape_ops, "insert size-1 axes (attribute < 13, input >= 13)") \
  X(Expand,             8, 17, shape_ops, "broadcast to a shape") \
  X(Tile,               7, 17, shape_ops, "repeat along each axis") \
  X(Pad,                7, 17, shape_ops, "constant/reflect/edge padding (attribute < 11, inputs >= 11)") \
  X(Constant,           7, 17, shape_ops, "a constant tensor (value / value_* attributes)") \
  X(ConstantOfShape,    9, 17, shape_ops, "fill a shape with one value") \
  X(Range,             11, 17, shape_ops, "start, limit, delta -> 1-D sequence") \
  /* resize: src/ops/resize.cpp, src/kernels/ref/resize.cpp */ \
  X(Resize,            10, 17, resize, "nearest/linear(/cubic) resize, every coordinate_transformation_mode") \
  X(Upsample,           7,  9, resize, "nearest/linear upsampling by scales (deprecated at opset 10)") \
  /* reductions & quantization: src/ops/reduce_quant.cpp, src/kernels/ref/{reduce,quantize}.cpp, src/quant/quant_math.h */ \
  X(ReduceMean,         7, 17, reduce_quant, "mean over axes") \
  X(ReduceSum,          7, 17, reduce_quant, "sum over axes (axes input from 13)") \
  X(ReduceMax,          7, 17, reduce_quant, "max over axes") \
  X(ReduceMin,          7, 17, reduce_quant, "min over axes") \
  X(ReduceProd,         7, 17, reduce_quant, "product over axes") \
  X(ReduceL2,           7, 17, reduce_quant, "sqrt of sum of squares over axes") \
  X(ArgMax,             7, 17, reduce_quant, "index of the maximum (keepdims, select_last_index)") \
  X(ArgMin,             7, 17, reduce_quant, "index of the minimum") \
  X(QuantizeLinear,    10, 17, reduce_quant, "q = saturate(round_half_even(x/scale) + zero_point), per tensor or per axis") \
  X(DequantizeLinear,  10, 17, reduce_quant, "x = (q - zero_point) * scale, per tensor or per axis")
// clang-format on
