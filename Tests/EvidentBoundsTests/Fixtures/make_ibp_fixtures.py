#!/usr/bin/env python3
"""IBP margins of every CIFAR instance of reference/lirpa_bounds.csv, computed independently
of Evident with numpy, in float64 and in float32.

auto_LiRPA's reference margins are float32. Where IBP margins reach 10^3 its rounding
error exceeds 1e-4; this fixture gives float64 values from a second implementation to test
Evident's IBP against tightly, and the float32 column shows how far float32 arithmetic
alone moves the same computation (summation order differs from auto_LiRPA's, so the
float32 column is an illustration, not a replica).

IBP as auto_LiRPA computes it: centre-radius form through Conv and Gemm, the
specification C folded into the last Gemm (W' = C W, b' = C b) before intervals are
applied. The margin of a clause "Y_a >= Y_b" is the lower bound of Y_b - Y_a.

Usage: python3 Tests/EvidentBoundsTests/Fixtures/make_ibp_fixtures.py [BENCHMARKS_DIR]
(default ../shared/benchmarks); writes ibp_margins.csv beside this script.
"""
import csv, os, re, sys
import numpy as np
import onnx
from onnx import numpy_helper


def conv(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (wd + 2 * pad - kw) // stride + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return np.einsum('mckl,nckluv->nmuv', w, cols) + b.reshape(1, -1, 1, 1)


def ibp_margins(model, lower, upper, spec, dtype):
    weights = {t.name: numpy_helper.to_array(t).astype(dtype) for t in model.graph.initializer}
    env = {model.graph.input[0].name: (lower.astype(dtype), upper.astype(dtype))}
    nodes = list(model.graph.node)
    for index, node in enumerate(nodes):
        l, u = env[node.input[0]]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == 'Conv':
            w, b = weights[node.input[1]], weights[node.input[2]]
            stride, pad = attrs.get('strides', [1, 1])[0], attrs.get('pads', [0, 0, 0, 0])[0]
            centre = conv((u + l) / 2, w, b, stride, pad)
            radius = conv((u - l) / 2, np.abs(w), np.zeros_like(b), stride, pad)
            env[node.output[0]] = (centre - radius, centre + radius)
        elif node.op_type == 'Relu':
            env[node.output[0]] = (np.maximum(l, 0), np.maximum(u, 0))
        elif node.op_type == 'Add':
            l2, u2 = env[node.input[1]]
            env[node.output[0]] = (l + l2, u + u2)
        elif node.op_type == 'Flatten':
            env[node.output[0]] = (l.reshape(l.shape[0], -1), u.reshape(u.shape[0], -1))
        elif node.op_type == 'Gemm':
            w, b = weights[node.input[1]], weights[node.input[2]]
            if attrs.get('transB', 0):
                w = w.T
            if index == len(nodes) - 1:
                c = spec.astype(dtype)
                w, b = w @ c.T, c @ b
            centre = ((u + l) / 2) @ w + b
            radius = ((u - l) / 2) @ np.abs(w)
            env[node.output[0]] = (centre - radius, centre + radius)
        else:
            raise SystemExit(f'unsupported operator {node.op_type}')
    return env[nodes[-1].output[0]][0][0]


def read_property(path, inputs, outputs):
    lower, upper = np.full(inputs, np.nan), np.full(inputs, np.nan)
    text = open(path).read()
    for op, i, v in re.findall(r'\(assert \((<=|>=) X_(\d+) ([-+0-9.eE]+)\)\)', text):
        (upper if op == '<=' else lower)[int(i)] = float(v)
    if np.isnan(lower).any() or np.isnan(upper).any():
        raise SystemExit(f'{path}: not every input is bounded')
    rows = []
    for op, a, b in re.findall(r'\(and \((>=|<=) Y_(\d+) Y_(\d+)\)\)', text):
        a, b = int(a), int(b)
        if op == '<=':
            a, b = b, a  # Y_a <= Y_b is Y_b >= Y_a
        c = np.zeros(outputs)
        c[b] += 1
        c[a] -= 1
        rows.append(c)
    return lower, upper, np.array(rows)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else '../shared/benchmarks'
    instances = []
    with open(os.path.join(root, 'reference/lirpa_bounds.csv'), newline='') as f:
        for row in csv.DictReader(f):
            if row['method'] == 'IBP':
                instances.append((row['onnx'], row['vnnlib']))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ibp_margins.csv')
    with open(out, 'w', newline='') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(['onnx', 'vnnlib', 'float64_margins', 'float32_margins'])
        for onnx_path, vnnlib_path in instances:
            model = onnx.load(os.path.join(root, onnx_path))
            shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
            lower, upper, spec = read_property(os.path.join(root, vnnlib_path), int(np.prod(shape)), 10)
            lower, upper = lower.reshape(shape), upper.reshape(shape)
            m64 = ibp_margins(model, lower, upper, spec, np.float64)
            m32 = ibp_margins(model, lower, upper, spec, np.float32)
            writer.writerow([onnx_path, vnnlib_path, ';'.join(repr(float(v)) for v in m64),
                             ';'.join(repr(float(v)) for v in m32)])
    print(f'wrote {len(instances)} instances to {out}')


if __name__ == '__main__':
    main()
