#!/usr/bin/env python3
"""Independent reference for the constant radii of EvidentONNX (Network.constantRadii).

For the shipped Networks/digits_resnet/digits_resnet.onnx, every BatchNormalization channel:
the loader's held constants (recomputed here with the same IEEE binary64 operations:
scale = gamma / sqrt(var + eps), shift = beta - mean * scale, which Python evaluates exactly
as Swift does, no fused operations) and an upper bound of |exact - held| from high-precision
decimal arithmetic (150 significant digits; the decimal square root and quotient err by at
most 1e-149 relatively, and a margin of 1e-145 relatively covers that).

Also two small DOUBLE Gemm models whose alpha/beta products are inexact in binary64:
gemm_double_alpha_beta.onnx (C a bias vector: exact errors of alpha*B and beta*C by
fractions.Fraction) and gemm_double_full_C_inexact_beta.onnx (C varies along the rows; the
loader must reject it, since an addConstant cannot carry a radius).

Writes constant_radii.json beside this script. Run once (needs numpy and onnx):
    python3 Tests/EvidentONNXTests/Fixtures/make_constant_radius_fixtures.py
"""
import json
import math
import os
import struct
from decimal import Decimal, getcontext
from fractions import Fraction

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
getcontext().prec = 150
MARGIN = Decimal("1e-145")


def bits(x):
    return struct.pack(">d", float(x)).hex()


def up(d):
    """The smallest double >= the non-negative Decimal or Fraction d."""
    exact = Fraction(d)
    f = float(exact)
    if Fraction(f) < exact:
        f = math.nextafter(f, math.inf)
    return f


def batch_norm_records(path):
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    records = []
    for node in m.graph.node:
        if node.op_type != "BatchNormalization":
            continue
        eps = next((a.f for a in node.attribute if a.name == "epsilon"), float(np.float32(1e-5)))
        eps = float(np.float32(eps))  # a float attribute: float32, exact in double
        gamma, beta, mean, var = (inits[n].astype(np.float64) for n in node.input[1:5])
        scale, shift, scale_err, shift_err, rounded, magnitude = [], [], [], [], [], []
        for c in range(len(gamma)):
            g, b, mu, v = float(gamma[c]), float(beta[c]), float(mean[c]), float(var[c])
            s_held = g / math.sqrt(v + eps)
            t_held = b - mu * s_held
            s_exact = Decimal(g) / (Decimal(v) + Decimal(eps)).sqrt()
            t_exact = Decimal(b) - Decimal(mu) * s_exact
            ds = abs(s_exact - Decimal(s_held)) + MARGIN * abs(s_exact)
            dt = abs(t_exact - Decimal(t_held)) + MARGIN * (abs(Decimal(mu) * s_exact) + abs(Decimal(b)))
            scale.append(bits(s_held))
            shift.append(bits(t_held))
            scale_err.append(bits(up(ds)))
            shift_err.append(bits(up(dt)))
            magnitude.append(bits(abs(b) + abs(mu * s_held)))  # the size of the terms of the shift
            # Rounding certainly occurred when the difference is far above the decimal noise.
            rounded.append([abs(s_exact - Decimal(s_held)) > Decimal("1e-130") * abs(s_exact),
                            abs(t_exact - Decimal(t_held)) > Decimal("1e-130") * (abs(Decimal(mu) * s_exact) + abs(Decimal(b)))])
        records.append({"node": node.name, "scale": scale, "shift": shift, "scaleError": scale_err,
                        "shiftError": shift_err, "rounded": rounded,
                        "shiftMagnitude": magnitude})
    return records


def gemm_models():
    rng = np.random.default_rng(7)
    alpha, beta = 0.3, 0.7  # float attributes: stored as float32 0.3f, 0.7f
    b = rng.standard_normal((4, 3))  # K x N, DOUBLE
    c = rng.standard_normal(3)
    x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.DOUBLE, [1, 3])
    node = helper.make_node("Gemm", ["x", "b", "c"], ["y"], alpha=alpha, beta=beta)
    graph = helper.make_graph([node], "gemm", [x], [y],
                              initializer=[numpy_helper.from_array(b, "b"), numpy_helper.from_array(c, "c")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)
    onnx.save(model, os.path.join(HERE, "gemm_double_alpha_beta.onnx"))
    a32, b32 = Fraction(float(np.float32(alpha))), Fraction(float(np.float32(beta)))
    # The loader's linear weight is B transposed: row n holds column n of B.
    weight_err, bias_err = [], []
    for n in range(3):
        for k in range(4):
            exact = a32 * Fraction(float(b[k, n]))
            held = float(np.float32(alpha)) * float(b[k, n])
            weight_err.append(bits(up(abs(exact - Fraction(held)))))
    for n in range(3):
        exact = b32 * Fraction(float(c[n]))
        held = float(np.float32(beta)) * float(c[n])
        bias_err.append(bits(up(abs(exact - Fraction(held)))))

    full_c = rng.standard_normal((2, 3))
    x2 = helper.make_tensor_value_info("x", TensorProto.DOUBLE, [2, 4])
    y2 = helper.make_tensor_value_info("y", TensorProto.DOUBLE, [2, 3])
    node2 = helper.make_node("Gemm", ["x", "b", "c"], ["y"], beta=beta)
    graph2 = helper.make_graph([node2], "gemm_full", [x2], [y2],
                               initializer=[numpy_helper.from_array(b, "b"), numpy_helper.from_array(full_c, "c")])
    model2 = helper.make_model(graph2, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)
    onnx.save(model2, os.path.join(HERE, "gemm_double_full_C_inexact_beta.onnx"))
    return {"file": "gemm_double_alpha_beta.onnx", "weightError": weight_err, "biasError": bias_err}


out = {"digits_resnet": batch_norm_records(os.path.join(ROOT, "Networks", "digits_resnet", "digits_resnet.onnx")),
       "gemm": gemm_models()}
with open(os.path.join(HERE, "constant_radii.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(len(out["digits_resnet"]), "BatchNormalization nodes")
