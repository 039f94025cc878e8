#!/usr/bin/env python3
"""Builds the structural-operator fixtures (Slice, Split, Gather, Neg) and their onnxruntime outputs.

Each model goes to `structural/NAME.onnx`; `structural_fixtures.json` records, per model,
the file, opset, element type, input and output shapes, a seeded input and onnxruntime's
output. Most models are DOUBLE, so that onnxruntime's rounding cannot hide a wrong index;
a few are FLOAT (onnxruntime then computes in float32). Models under `structural/errors/`
must be refused; they have no outputs.

Run from anywhere (needs numpy, onnx, onnxruntime):
    python3 Tests/EvidentBoundsTests/Fixtures/make_structural_fixtures.py
The Swift tests never run Python.
"""

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "structural")
ERRORS = os.path.join(HERE, "errors")
IR_FOR_OPSET = {7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min

rng = np.random.default_rng(20261207)
records = []


def ints(*values):
    return np.array(values, dtype=np.int64)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def node(op, inputs, outputs, name=None, **attrs):
    return helper.make_node(op, inputs, outputs, name=name or f"{op}_{outputs[0]}", **attrs)


def model(nodes, input_shape, initializers=(), opset=13, elem=TensorProto.DOUBLE):
    inputs = [helper.make_tensor_value_info("x", elem, input_shape)]
    if IR_FOR_OPSET[opset] < 4:  # IR 3 lists every initializer among the graph inputs
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in initializers]
    graph = helper.make_graph(nodes, "structural", inputs, [helper.make_tensor_value_info("y", elem, None)],
                              initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=IR_FOR_OPSET[opset],
                             producer_name="evident-fixtures")


def weights(*shape, dtype=np.float64):
    return (rng.standard_normal(shape) * 0.6).astype(dtype)


def as_float(initializers):
    """The initializers with DOUBLE tensors turned into FLOAT ones."""
    out = []
    for t in initializers:
        a = numpy_helper.to_array(t)
        out.append(numpy_helper.from_array(a.astype(np.float32) if a.dtype == np.float64 else a, t.name))
    return out


def add(name, nodes, input_shape, initializers=(), opset=13, elem=TensorProto.DOUBLE, selection=None, listing=None):
    """Saves the model and records onnxruntime's output; a DOUBLE model onnxruntime has no
    kernel for is made FLOAT instead (the name keeps no promise about the type)."""
    if elem == TensorProto.FLOAT:
        initializers = as_float(initializers)
    m = model(nodes, input_shape, initializers, opset, elem)
    try:
        session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 - onnxruntime raises its own types
        if elem != TensorProto.DOUBLE or "NOT_IMPLEMENTED" not in str(error):
            raise
        elem = TensorProto.FLOAT
        m = model(nodes, input_shape, as_float(initializers), opset, elem)
        session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    if selection is None:  # the first fixtures: pure element selections unless named otherwise
        selection = not any(word in name for word in ("relu", "neg", "constant"))
    dtype = np.float64 if elem == TensorProto.DOUBLE else np.float32
    x = rng.standard_normal(input_shape).astype(dtype)
    (y,) = session.run(None, {"x": x})
    # The output's declared shape is onnxruntime's.
    m.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", elem, list(y.shape)))
    onnx.checker.check_model(m, full_check=True)
    os.makedirs(HERE, exist_ok=True)
    onnx.save(m, os.path.join(HERE, name + ".onnx"))
    (records if listing is None else listing).append({"name": name, "file": "structural/" + name + ".onnx", "opset": opset,
                    "selection": selection,
                    "element_type": "double" if elem == TensorProto.DOUBLE else "float",
                    "input_shape": list(input_shape), "output_shape": list(y.shape),
                    "input": [float(v) for v in x.flatten()], "output": [float(v) for v in y.flatten()]})


# ---- Slice ------------------------------------------------------------------------------
add("slice_opset9_attributes", [node("Slice", ["x"], ["y"], starts=[1, 0], ends=[3, 100], axes=[1, 2])],
    [1, 4, 6], opset=9)
add("slice_opset7_default_axes_float", [node("Slice", ["x"], ["y"], starts=[0, 1, -4], ends=[1, -1, 1000])],
    [1, 5, 6], opset=7, elem=TensorProto.FLOAT)
add("slice_opset10_inputs", [node("Slice", ["x", "s", "e", "a"], ["y"])], [1, 3, 7],
    [init("s", ints(2, 1)), init("e", ints(-1, 3)), init("a", ints(2, 1))], opset=10)
add("slice_opset13_negative_steps", [node("Slice", ["x", "s", "e", "a", "t"], ["y"])], [1, 4, 9],
    [init("s", ints(-1, 0)), init("e", ints(INT64_MIN, INT64_MAX)), init("a", ints(-1, 1)), init("t", ints(-2, 3))])
add("slice_opset11_clamped_no_axes", [node("Slice", ["x", "s", "e"], ["y"])], [2, 5],
    [init("s", ints(-100, 2)), init("e", ints(INT64_MAX, 100))], opset=11)
add("slice_whole_tensor", [node("Slice", ["x", "s", "e"], ["y"])], [1, 6],
    [init("s", ints(0, 0)), init("e", ints(1, INT64_MAX))])

# ---- Split ------------------------------------------------------------------------------
add("split_opset11_attribute",
    [node("Split", ["x"], ["a", "b"], axis=1, split=[2, 4]), node("Concat", ["b", "a"], ["y"], axis=1)],
    [1, 6, 3], opset=11)
add("split_opset13_input_negative_axis",
    [node("Split", ["x", "s"], ["a", "b", "c"], axis=-1), node("Sub", ["a", "c"], ["d"]),
     node("Concat", ["d", "b"], ["y"], axis=-1)],
    [1, 2, 4], [init("s", ints(1, 2, 1))])
add("split_opset13_equal_parts_one_unused",
    [node("Split", ["x"], ["a", "b", "c"], axis=1), node("Add", ["a", "c"], ["y"])], [1, 6])
add("split_opset7_float", [node("Split", ["x"], ["a", "b"], axis=0, split=[1, 2]), node("Flatten", ["b"], ["y"])],
    [3, 2], opset=7, elem=TensorProto.FLOAT)

# ---- Gather -----------------------------------------------------------------------------
add("gather_axis1_negative_indices", [node("Gather", ["x", "i"], ["y"], axis=1)], [1, 5, 3], [init("i", ints(-1, 0, 2))])
add("gather_repeated_indices_matrix", [node("Gather", ["x", "i"], ["y"], axis=2)], [1, 2, 4],
    [init("i", np.array([[0, 3], [3, 3], [1, 0]], dtype=np.int64))])
add("gather_scalar_index", [node("Gather", ["x", "i"], ["y"], axis=2)], [1, 4, 3], [init("i", np.array(1, dtype=np.int64))])
add("gather_int32_indices_opset11_float", [node("Gather", ["x", "i"], ["y"])], [3, 2],
    [init("i", np.array([2, 0, 2], dtype=np.int32))], opset=11, elem=TensorProto.FLOAT)

# ---- Neg and constant folding -------------------------------------------------------------
add("neg_activation", [node("Neg", ["x"], ["n"]), node("Gemm", ["n", "w"], ["y"], transB=1)], [1, 3],
    [init("w", weights(2, 3))])
add("slice_of_shape_folded",
    [node("Shape", ["x"], ["s"]), node("Slice", ["s", "z", "two"], ["lead"]), node("Concat", ["lead", "m1"], ["t"], axis=0),
     node("Reshape", ["x", "t"], ["y"])],
    [1, 2, 3, 4], [init("z", ints(0)), init("two", ints(2)), init("m1", ints(-1))])
add("split_of_constant_folded",
    [node("Split", ["c"], ["c1", "c2"], axis=1, split=[2, 4]), node("Add", ["x", "c2"], ["y"])], [1, 4],
    [init("c", weights(1, 6))], opset=11)

# ---- A ReLU network through all of them, for bounds and verification -----------------------
add("relu_network_slice_split_gather",
    [node("Gemm", ["x", "w1", "b1"], ["g"], transB=1), node("Relu", ["g"], ["h"]),
     node("Split", ["h", "sizes"], ["p", "q"], axis=1),
     node("Slice", ["q", "s", "e", "a", "t"], ["r"]),
     node("Gather", ["p", "i"], ["pg"], axis=1), node("Neg", ["pg"], ["ng"]),
     node("Add", ["r", "ng"], ["u"]), node("Relu", ["u"], ["v"]),
     node("Gemm", ["v", "w2", "b2"], ["y"], transB=1)],
    [1, 6],
    [init("w1", weights(12, 6)), init("b1", weights(12) * 0.3), init("sizes", ints(5, 7)),
     init("s", ints(6)), init("e", ints(INT64_MIN)), init("a", ints(1)), init("t", ints(-2)),
     init("i", ints(4, 1, 1, 0)), init("w2", weights(3, 4)), init("b2", weights(3) * 0.3)])


# ---- Piecewise-linear activations ----------------------------------------------------------
F = TensorProto.FLOAT
FLT_MAX = float(np.finfo(np.float32).max)


def scalar(name, value, dtype=np.float64):
    return init(name, np.array(value, dtype=dtype))


add("clip_opset7_attributes_float", [node("Clip", ["x"], ["y"], min=-0.4, max=0.6)], [1, 3, 4], opset=7, elem=F,
    selection=False)
add("clip_opset11_inputs", [node("Gemm", ["x", "w"], ["g"], transB=1), node("Clip", ["g", "lo", "hi"], ["y"])], [1, 4],
    [init("w", weights(6, 4)), scalar("lo", -0.5), scalar("hi", 0.75)], opset=11, selection=False)
add("clip_opset13_max_only", [node("Clip", ["x", "", "hi"], ["y"])], [2, 5], [scalar("hi", 0.25)], selection=False)
add("clip_opset12_flt_max_min", [node("Clip", ["x", "lo", "hi"], ["y"])], [1, 6],
    [scalar("lo", -FLT_MAX), scalar("hi", 1.0)], opset=12, selection=False)
add("leakyrelu_default_alpha_opset7", [node("Gemm", ["x", "w", "b"], ["g"], transB=1), node("LeakyRelu", ["g"], ["y"])],
    [1, 4], [init("w", weights(5, 4)), init("b", weights(5))], opset=7, elem=F, selection=False)
add("leakyrelu_alpha_opset16", [node("LeakyRelu", ["x"], ["y"], alpha=0.2)], [1, 2, 3], opset=16, selection=False)
add("prelu_channel_slopes_opset9", [node("PRelu", ["x", "s"], ["y"])], [1, 3, 2, 2],
    [init("s", np.array([[[0.1]], [[-0.3]], [[0.5]]]))], opset=9, selection=False)
add("max_two_activations", [node("Gemm", ["x", "w1"], ["a"], transB=1), node("Gemm", ["x", "w2"], ["b"], transB=1),
                            node("Max", ["a", "b"], ["y"])], [1, 3],
    [init("w1", weights(4, 3)), init("w2", weights(4, 3))], selection=False)
add("min_broadcast_with_constant", [node("Gemm", ["x", "w1"], ["a"], transB=1), node("Unsqueeze", ["a", "ax"], ["a3"]),
                                    node("Slice", ["a3", "s", "e", "k"], ["b"]),
                                    node("Min", ["a3", "b", "c"], ["y"])], [1, 3],
    [init("w1", weights(4, 3)), init("ax", ints(1)), init("s", ints(1)), init("e", ints(2)), init("k", ints(2)),
     init("c", np.array([0.3, -0.2, 0.1, 0.5]).reshape(1, 1, 4))], selection=False)
add("max_activation_and_scalar_opset8", [node("Max", ["x", "c"], ["y"])], [2, 3], [init("c", np.array([0.1]))],
    opset=8, selection=False)

# ---- Linear and structural maps -------------------------------------------------------------
add("expand_activation", [node("Expand", ["x", "shape"], ["y"])], [1, 3, 1], [init("shape", ints(2, 3, 4))], opset=8,
    selection=True)
add("reducesum_opset11_axes_attribute_drop", [node("ReduceSum", ["x"], ["y"], axes=[1, -1], keepdims=0)], [2, 3, 4],
    opset=11, selection=False)
add("reducesum_opset13_axes_input", [node("ReduceSum", ["x", "a"], ["y"])], [1, 2, 3, 3], [init("a", ints(2, 3))],
    selection=False)
add("reducesum_all_axes", [node("ReduceSum", ["x"], ["y"], keepdims=0)], [2, 3], selection=False)
add("reducemean_opset13_attribute", [node("ReduceMean", ["x"], ["y"], axes=[2, 3])], [1, 3, 3, 2], selection=False)
add("reducemean_opset18_input", [node("ReduceMean", ["x", "a"], ["y"], keepdims=0)], [1, 3, 5], [init("a", ints(0, 2))],
    opset=18, selection=False)
add("pad_reflect_opset11", [node("Pad", ["x", "p"], ["y"], mode="reflect")], [1, 2, 3, 4],
    [init("p", ints(0, 0, 2, 1, 0, 0, 1, 3))], opset=11, selection=True)
add("pad_edge_opset13", [node("Pad", ["x", "p"], ["y"], mode="edge")], [1, 3, 2], [init("p", ints(0, 1, 2, 0, 2, 0))],
    selection=True)
add("pad_wrap_opset19", [node("Pad", ["x", "p"], ["y"], mode="wrap")], [1, 2, 3], [init("p", ints(0, 1, 2, 0, 0, 4))],
    opset=19, selection=True)
add("pad_constant_value_and_crop_opset11", [node("Pad", ["x", "p", "v"], ["y"])], [1, 2, 4, 4],
    [init("p", ints(0, 0, 1, -1, 0, 0, -2, 2)), scalar("v", 0.7)], opset=11, selection=False)
add("pad_opset7_attributes_value", [node("Pad", ["x"], ["y"], pads=[0, 1, 0, 2], value=-1.5)], [2, 3], opset=7,
    selection=False)
add("pad_opset18_axes", [node("Pad", ["x", "p", "", "a"], ["y"])], [1, 2, 3], [init("p", ints(1, 2, 0, 1)), init("a", ints(-1, 1))],
    opset=18, selection=True)
add("upsample_opset7_nearest_attribute", [node("Upsample", ["x"], ["y"], scales=[1.0, 1.0, 2.0, 3.0])], [1, 2, 2, 3],
    opset=7, elem=F, selection=True)
add("upsample_opset9_linear_input", [node("Upsample", ["x", "s"], ["y"], mode="linear")], [1, 1, 3, 3],
    [init("s", np.array([1, 1, 2, 2], dtype=np.float32))], opset=9, elem=F, selection=False)
add("resize_opset10_nearest", [node("Resize", ["x", "s"], ["y"])], [1, 2, 3, 2],
    [init("s", np.array([1, 1, 2, 1.5], dtype=np.float32))], opset=10, elem=F, selection=True)
add("resize_opset11_linear_align_corners_sizes", [node("Resize", ["x", "roi", "sc", "sz"], ["y"], mode="linear",
                                                      coordinate_transformation_mode="align_corners")],
    [1, 2, 3, 4], [init("roi", np.zeros(0, dtype=np.float32)), init("sc", np.zeros(0, dtype=np.float32)),
                   init("sz", ints(1, 2, 5, 7))], opset=11, elem=F, selection=False)
add("resize_opset13_nearest_half_pixel_prefer_ceil", [node("Resize", ["x", "", "s"], ["y"], mode="nearest",
                                                          nearest_mode="round_prefer_ceil")],
    [1, 1, 4, 5], [init("s", np.array([1, 1, 1.5, 0.6], dtype=np.float32))], elem=F, selection=False)
add("resize_opset13_linear_pytorch_half_pixel_down", [node("Resize", ["x", "", "s"], ["y"], mode="linear",
                                                          coordinate_transformation_mode="pytorch_half_pixel")],
    [1, 2, 6, 4], [init("s", np.array([1, 1, 0.5, 0.75], dtype=np.float32))], elem=F, selection=False)
add("resize_opset13_nearest_asymmetric_floor", [node("Resize", ["x", "", "s"], ["y"], mode="nearest",
                                                    coordinate_transformation_mode="asymmetric", nearest_mode="floor")],
    [1, 1, 3, 3], [init("s", np.array([1, 1, 2, 2], dtype=np.float32))], elem=F, selection=True)
add("resize_opset13_tf_half_pixel_for_nn", [node("Resize", ["x", "", "", "sz"], ["y"], mode="nearest",
                                                coordinate_transformation_mode="tf_half_pixel_for_nn")],
    [1, 1, 3, 4], [init("sz", ints(1, 1, 7, 6))], elem=F, selection=False)
add("resize_opset19_linear_half_pixel_symmetric", [node("Resize", ["x", "", "s"], ["y"], mode="linear",
                                                       coordinate_transformation_mode="half_pixel_symmetric")],
    [1, 1, 3, 4], [init("s", np.array([1, 1, 2.5, 1.5], dtype=np.float32))], opset=19, elem=F, selection=False)
add("resize_opset18_axes_sizes_linear", [node("Resize", ["x", "", "", "sz"], ["y"], mode="linear", axes=[3, 2])],
    [1, 2, 3, 3], [init("sz", ints(5, 4))], opset=18, elem=F, selection=False)
add("convtranspose_stride2_pads", [node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 0, 0, 1])],
    [1, 2, 3, 3], [init("w", weights(2, 3, 3, 3)), init("b", weights(3))], elem=F, selection=False)
add("convtranspose_groups_dilations_output_padding",
    [node("ConvTranspose", ["x", "w"], ["y"], group=2, strides=[3, 2], dilations=[2, 1], output_padding=[1, 1])],
    [1, 4, 2, 3], [init("w", weights(4, 1, 2, 3))], elem=F, selection=False)
add("convtranspose_output_shape_same_upper",
    [node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], output_shape=[5, 6], auto_pad="SAME_UPPER")],
    [1, 1, 3, 3], [init("w", weights(1, 2, 3, 3))], elem=F, selection=False)
add("convtranspose_auto_pad_same_lower_opset11",
    [node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 1], auto_pad="SAME_LOWER")],
    [1, 2, 2, 3], [init("w", weights(2, 2, 2, 2))], opset=11, elem=F, selection=False)
add("convtranspose_large_pads_crop", [node("ConvTranspose", ["x", "w"], ["y"], pads=[3, 2, 2, 3], strides=[2, 2])],
    [1, 1, 4, 4], [init("w", weights(1, 1, 3, 3))], elem=F, selection=False)
add("conv_group_2_of_4", [node("Conv", ["x", "w", "b"], ["y"], group=2, pads=[1, 0, 1, 0])], [1, 4, 3, 3],
    [init("w", weights(6, 2, 2, 2)), init("b", weights(6))], selection=False)
add("add_sub_broadcast_activations", [node("Gemm", ["x", "w"], ["g"], transB=1), node("Unsqueeze", ["g", "a"], ["u"]),
                                      node("Transpose", ["u"], ["t"], perm=[0, 2, 1]), node("Add", ["u", "t"], ["s"]),
                                      node("Sub", ["s", "g"], ["y"])], [1, 3],
    [init("w", weights(4, 3)), init("a", ints(1))], selection=False)
add("sum_with_constants_and_cast", [node("Cast", ["x"], ["xc"], to=TensorProto.DOUBLE), node("Neg", ["xc"], ["n"]),
                                    node("Sum", ["xc", "c1", "n", "c2", "xc"], ["y"])], [2, 3],
    [init("c1", weights(3)), init("c2", weights(2, 1))], selection=False)
add("conv1d_pool1d", [node("Conv", ["x", "w"], ["c"], strides=[2], pads=[1, 2], dilations=[2]),
                      node("MaxPool", ["c"], ["m"], kernel_shape=[2], pads=[1, 0]),
                      node("AveragePool", ["m"], ["a"], kernel_shape=[2], strides=[1]),
                      node("GlobalAveragePool", ["a"], ["y"])], [1, 2, 9],
    [init("w", weights(3, 2, 3))], selection=False)

# ---- Folding of constants ---------------------------------------------------------------------
add("range_constant_indices_folded", [node("Range", ["z", "six", "two"], ["i"]), node("Gather", ["x", "i"], ["y"], axis=1)],
    [1, 6, 2], [init("z", np.array(0, dtype=np.int64)), init("six", np.array(6, dtype=np.int64)),
                init("two", np.array(2, dtype=np.int64))], opset=11, selection=True)
add("matmul_of_constants_folded", [node("MatMul", ["c1", "c2"], ["c"]), node("Add", ["x", "c"], ["y"])], [1, 3],
    [init("c1", weights(1, 4)), init("c2", weights(4, 3))], selection=False)
add("max_expand_of_constants_folded", [node("Max", ["c1", "c2"], ["m"]), node("Expand", ["m", "shape"], ["c"]),
                                       node("Mul", ["x", "c"], ["y"])], [2, 3],
    [init("c1", weights(1, 3)), init("c2", weights(1, 1)), init("shape", ints(2, 1))], opset=13, selection=False)
add("constant_of_shape_cast_folded",
    [node("Shape", ["x"], ["s"]), node("ConstantOfShape", ["s"], ["c"], value=numpy_helper.from_array(np.array([0.5]))),
     node("Cast", ["s"], ["sf"], to=TensorProto.DOUBLE), node("Gather", ["sf", "one"], ["n"]),
     node("Mul", ["c", "n"], ["cn"]), node("Add", ["x", "cn"], ["y"])], [2, 3],
    [init("one", np.array(1, dtype=np.int64))], selection=False)

# ---- A network with a ReLU and the new maps, for bounds and verification -----------------------
add("relu_network_composite",
    [node("Conv", ["x", "wc"], ["c"], pads=[1, 1, 1, 1]), node("LeakyRelu", ["c"], ["l"], alpha=0.1),
     node("ConvTranspose", ["l", "wt"], ["t"], strides=[2, 2], pads=[1, 1, 1, 1]),
     node("Resize", ["t", "", "", "sz"], ["r"], mode="linear"), node("Pad", ["r", "p"], ["q"], mode="reflect"),
     node("Clip", ["q", "lo", "hi"], ["k"]), node("ReduceMean", ["k"], ["m"], axes=[3], keepdims=0),
     node("Flatten", ["m"], ["f"]), node("Gemm", ["f", "wg"], ["y"], transB=1)],
    [1, 2, 4, 4],
    [init("wc", weights(3, 2, 3, 3)), init("wt", weights(3, 2, 3, 3)), init("sz", ints(1, 2, 5, 5)),
     init("p", ints(0, 0, 1, 1, 0, 0, 1, 1)), scalar("lo", -0.6, np.float32), scalar("hi", 0.8, np.float32),
     init("wg", weights(3, 14))], elem=F, selection=False)

# ---- Several graph inputs and outputs: one flattened input and output, concatenated in order ----
def add_multi(name, nodes, inputs, outputs, initializers=(), opset=13):
    elem = TensorProto.DOUBLE
    graph = helper.make_graph(nodes, "structural", [helper.make_tensor_value_info(n, elem, s) for n, s in inputs],
                              [helper.make_tensor_value_info(n, elem, None) for n in outputs], initializer=list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=IR_FOR_OPSET[opset],
                          producer_name="evident-fixtures")
    session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {n: rng.standard_normal(s) for n, s in inputs}
    results = session.run(None, feeds)
    for k, (n, y) in enumerate(zip(outputs, results)):
        m.graph.output[k].CopyFrom(helper.make_tensor_value_info(n, elem, list(y.shape)))
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, os.path.join(HERE, name + ".onnx"))
    x = np.concatenate([feeds[n].flatten() for n, _ in inputs])
    y = np.concatenate([r.flatten() for r in results])
    records.append({"name": name, "file": "structural/" + name + ".onnx", "opset": opset, "selection": False,
                    "element_type": "double",
                    "input_shape": list(inputs[0][1]) if len(inputs) == 1 else [int(x.size)],
                    "output_shape": list(results[0].shape) if len(results) == 1 else [int(y.size)],
                    "input": [float(v) for v in x], "output": [float(v) for v in y]})


add_multi("two_inputs_two_outputs",
          [node("Gemm", ["a", "w1"], ["g1"], transB=1), node("Gemm", ["b", "w2"], ["g2"], transB=1),
           node("Add", ["g1", "g2"], ["s"]), node("Relu", ["s"], ["y1"]), node("Sub", ["g1", "g2"], ["y2"])],
          [("a", [1, 3]), ("b", [1, 2])], ["y1", "y2"], [init("w1", weights(4, 3)), init("w2", weights(4, 2))])
add_multi("second_input_feeds_only_shape",
          [node("Shape", ["b"], ["shape"]), node("Reshape", ["a", "shape"], ["r"]), node("Relu", ["r"], ["y"])],
          [("a", [1, 6]), ("b", [2, 3])], ["y"])
add_multi("output_twice_and_intermediate",
          [node("Gemm", ["a", "w1"], ["g"], transB=1), node("Relu", ["g"], ["h"]), node("Gemm", ["h", "w2"], ["y"], transB=1)],
          [("a", [1, 3])], ["y", "g"], [init("w1", weights(4, 3)), init("w2", weights(2, 4))])

# ---- Every opset from 7 to 21: the operators in that opset's form (evaluation only) ---------------
sweep = []


def opset_forms(opset):
    """A chain through the operators whose form changes with the opset, valid at `opset`."""
    nodes, inits = [], []
    if opset < 10:
        nodes.append(node("Slice", ["x"], ["s"], starts=[0, 1], ends=[1, 4], axes=[0, 3]))
    else:
        nodes.append(node("Slice", ["x", "ss", "se", "sa"], ["s"]))
        inits += [init("ss", ints(0, 1)), init("se", ints(1, 4)), init("sa", ints(0, 3))]
    if opset < 11:
        nodes.append(node("Pad", ["s"], ["p"], pads=[0, 0, 0, 1, 0, 0, 0, 1], mode="edge"))
        nodes.append(node("Clip", ["p"], ["c"], min=-0.8, max=0.9))
    else:
        nodes.append(node("Pad", ["s", "pp"], ["p"], mode="edge"))
        nodes.append(node("Clip", ["p", "lo", "hi"], ["c"]))
        inits += [init("pp", ints(0, 0, 0, 1, 0, 0, 0, 1)), scalar("lo", -0.8, np.float32), scalar("hi", 0.9, np.float32)]
    nodes.append(node("LeakyRelu", ["c"], ["l"], alpha=0.05))
    if opset < 9:
        nodes.append(node("Upsample", ["l"], ["u"], scales=[1.0, 1.0, 2.0, 1.0]))
    elif opset == 9:
        nodes.append(node("Upsample", ["l", "us"], ["u"]))
        inits.append(init("us", np.array([1, 1, 2, 1], dtype=np.float32)))
    elif opset == 10:
        nodes.append(node("Resize", ["l", "us"], ["u"]))
        inits.append(init("us", np.array([1, 1, 2, 1], dtype=np.float32)))
    else:
        nodes.append(node("Resize", ["l", "roi", "us"], ["u"], mode="linear"))
        inits += [init("roi", np.zeros(0, dtype=np.float32)), init("us", np.array([1, 1, 2, 1], dtype=np.float32))]
    nodes.append(node("ConvTranspose", ["u", "wt"], ["t"], strides=[1, 2]))
    inits.append(init("wt", weights(2, 2, 1, 2, dtype=np.float32)))
    if opset < 13:
        nodes.append(node("ReduceSum", ["t"], ["r"], axes=[3], keepdims=1))
        nodes.append(node("Squeeze", ["r"], ["q"], axes=[3]))
        nodes.append(node("Split", ["q"], ["a", "b"], axis=2, split=[3, 3]))
    else:
        nodes.append(node("ReduceSum", ["t", "ra"], ["r"], keepdims=1))
        nodes.append(node("Squeeze", ["r", "ra"], ["q"]))
        inits.append(init("ra", ints(3)))
        if opset < 18:
            nodes.append(node("Split", ["q", "sp"], ["a", "b"], axis=2))
            inits.append(init("sp", ints(3, 3)))
        else:
            nodes.append(node("Split", ["q"], ["a", "b"], axis=2, num_outputs=2))
    if opset < 8:
        nodes.append(node("Max", ["a", "b"], ["mx"]))
    else:
        nodes.append(node("Max", ["a", "b", "mc"], ["mx"]))
        inits.append(init("mc", np.array([-0.2], dtype=np.float32)))
    if opset < 18:
        nodes.append(node("ReduceMean", ["mx"], ["mean"], axes=[1], keepdims=0))
    else:
        nodes.append(node("ReduceMean", ["mx", "ma"], ["mean"], keepdims=0))
        inits.append(init("ma", ints(1)))
    if opset < 13:
        nodes.append(node("Unsqueeze", ["mean"], ["un"], axes=[1]))
    else:
        nodes.append(node("Unsqueeze", ["mean", "ua"], ["un"]))
        inits.append(init("ua", ints(1)))
    nodes.append(node("PRelu", ["un", "slope"], ["pr"]))
    inits.append(init("slope", np.array([0.25], dtype=np.float32).reshape(1, 1, 1)))
    nodes.append(node("Transpose", ["pr"], ["tr"], perm=[0, 2, 1]))
    nodes.append(node("Gather", ["tr", "gi"], ["ga"], axis=1))
    inits.append(init("gi", ints(2, 0, 1)))
    nodes.append(node("Neg", ["ga"], ["ng"]))
    if opset >= 12:
        nodes.append(node("Dropout", ["ng", "ratio"], ["dr"]))
        inits.append(init("ratio", np.array(0.5, dtype=np.float32)))
    else:
        nodes.append(node("Dropout", ["ng"], ["dr"], **({"is_test": 1} if opset < 7 else {})))
    nodes.append(node("Identity", ["dr"], ["id"]))
    nodes.append(node("Flatten", ["id"], ["y"], axis=1))
    if opset >= 8:
        nodes[-1:] = [node("Flatten", ["id"], ["f"], axis=1), node("Expand", ["f", "ex"], ["y"])]
        inits.append(init("ex", ints(2, 1)))
    return nodes, inits


for opset in range(7, 22):
    nodes, inits = opset_forms(opset)
    add(f"opset{opset}_forms", nodes, [1, 2, 3, 5], inits, opset=opset, elem=F, selection=False, listing=sweep)

with open(os.path.join(os.path.dirname(HERE), "structural_fixtures.json"), "w") as f:
    json.dump({"models": records, "opset_sweep": sweep}, f, indent=1)
    f.write("\n")


# ---- Models that must be refused -----------------------------------------------------------
def save_error(name, m):
    os.makedirs(ERRORS, exist_ok=True)
    onnx.save(m, os.path.join(ERRORS, name + ".onnx"))


save_error("several_unsupported_operators",
           model([node("Gemm", ["x", "w"], ["g"], transB=1), node("Sigmoid", ["g"], ["s1"], name="sig_a"),
                  node("Tanh", ["s1"], ["t"], name="tanh_a"), node("Sigmoid", ["t"], ["s2"], name="sig_b"),
                  node("Softmax", ["s2"], ["y"], name="")],
                 [1, 3], [init("w", weights(2, 3))]))
save_error("empty_slice", model([node("Slice", ["x", "s", "e"], ["y"], name="empty")], [1, 4],
                                [init("s", ints(0, 3)), init("e", ints(1, 1))]))
save_error("gather_index_out_of_range", model([node("Gather", ["x", "i"], ["y"], name="far", axis=1)], [1, 4],
                                              [init("i", ints(0, 4))]))
save_error("split_sizes_disagree", model([node("Split", ["x", "s"], ["y", "z"], name="uneven", axis=1)], [1, 4],
                                         [init("s", ints(1, 2))]))
print(f"{len(records)} models")
