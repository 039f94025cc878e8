#!/usr/bin/env python3
"""Generate local-robustness properties (VNN-LIB) for Networks/digits_resnet.

For each chosen held-out image x with label c and each epsilon, the property's
input region is the L-infinity ball of radius epsilon around x clipped to
[0, 1], and its unsafe set is "some other logit reaches the label's logit":
    OR_{j != c} (Y_j >= Y_c).
`sat` therefore means an adversarial example exists, `unsat` that the network
is robust there (VNN-COMP convention).

Images are the first IMAGES held-out test images (in split order) that the
network classifies correctly; the split is the one of
Networks/digits_resnet/train.py (same seed). File names use the image's index
in sklearn.datasets.load_digits().

Unless --no-check is given, each property is also analysed (all float64):
  * IBP: interval bound propagation, lower bound of min_j (Y_c - Y_j);
  * CROWN: backward linear relaxation (adaptive lower ReLU slopes, CROWN
    intermediate bounds) on a dense copy of the graph, same margin bound;
    a positive bound proves the property (`unsat`);
  * PGD: a seeded projected-gradient attack on the margin; a negative margin
    that survives rounding to float32 and onnxruntime is a counterexample
    (`sat`), written to Specs/counterexamples/ in VNN-COMP format.
Results go to Specs/expected.csv (result unknown where neither settles it).

Usage (from the repository root):
    python3 Specs/make_specs.py [--no-check]
"""

import argparse
import importlib.util
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONNX_REL = "Networks/digits_resnet/digits_resnet.onnx"
EPSILONS = ["0.01", "0.02", "0.05", "0.1"]
IMAGES = 2
TIMEOUT_SECONDS = 120
PGD_SEED = 0
PGD_RESTARTS = 20
PGD_STEPS = 100


def load_training_module():
    path = os.path.join(ROOT, "Networks", "digits_resnet", "train.py")
    spec = importlib.util.spec_from_file_location("digits_train", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def input_box(image, eps):
    return np.clip(image - eps, 0.0, 1.0), np.clip(image + eps, 0.0, 1.0)


def vnnlib_text(lower, upper, label, eps_text, dataset_index):
    lines = [
        f"; digits_resnet local robustness: load_digits() image {dataset_index}, label {label},",
        f"; L-infinity radius {eps_text} around pixel/16, clipped to [0, 1].",
        "; Unsafe (sat) if some other logit is >= the label's logit.",
        "",
    ]
    lines += [f"(declare-const X_{i} Real)" for i in range(lower.size)]
    lines.append("")
    lines += [f"(declare-const Y_{j} Real)" for j in range(10)]
    lines.append("")
    lines.append("; Input constraints:")
    for i in range(lower.size):
        lines.append(f"(assert (>= X_{i} {float(lower[i])!r}))")
        lines.append(f"(assert (<= X_{i} {float(upper[i])!r}))")
    lines.append("")
    lines.append("; Output constraints:")
    lines.append("(assert (or")
    for j in range(10):
        if j != label:
            lines.append(f"    (and (>= Y_{j} Y_{label}))")
    lines.append("))")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- analysis

def onnx_attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


class DenseGraph:
    """digits_resnet as dense affine maps between ReLU layers, in float64.

    h_0 is the input; pre-activation k (k = 1..K) is a_k = sum_j M_kj h_j + b_k
    over earlier h_j, and h_k = relu(a_k); the output is sum_j M_j h_j + b.
    Conv and BatchNormalization are turned into dense matrices by applying
    them to basis vectors.
    """

    def __init__(self, path):
        import torch
        import torch.nn.functional as F

        proto = onnx.load(path)
        w = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in proto.graph.initializer}
        shape_in = tuple(d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim)[1:]
        n_in = int(np.prod(shape_in))
        env = {proto.graph.input[0].name: ({0: np.eye(n_in)}, np.zeros(n_in), shape_in)}
        self.pre = []
        for node in proto.graph.node:
            op = node.op_type
            terms, b, shape = env[node.input[0]]
            if op == "Conv":
                weight = torch.from_numpy(w[node.input[1]])
                kw = dict(stride=onnx_attr(node, "strides", [1, 1]), padding=onnx_attr(node, "pads", [0] * 4)[:2])

                def apply(columns, shape=shape, weight=weight, kw=kw):
                    out = F.conv2d(torch.from_numpy(columns.T.reshape(-1, *shape).copy()), weight, None, **kw)
                    return out.reshape(out.shape[0], -1).numpy().T, tuple(out.shape[1:])

                nb, out_shape = apply(b[:, None])
                nb = nb[:, 0]
                if len(node.input) > 2:
                    nb = nb + np.repeat(w[node.input[2]], out_shape[1] * out_shape[2])
                env[node.output[0]] = ({j: apply(m)[0] for j, m in terms.items()}, nb, out_shape)
            elif op == "BatchNormalization":
                scale = w[node.input[1]] / np.sqrt(w[node.input[4]] + onnx_attr(node, "epsilon", 1e-5))
                shift = w[node.input[2]] - w[node.input[3]] * scale
                hw = int(np.prod(shape[1:]))
                s, t = np.repeat(scale, hw), np.repeat(shift, hw)
                env[node.output[0]] = ({j: s[:, None] * m for j, m in terms.items()}, s * b + t, shape)
            elif op == "Add":
                terms2, b2, _ = env[node.input[1]]
                merged = dict(terms)
                for j, m in terms2.items():
                    merged[j] = merged[j] + m if j in merged else m
                env[node.output[0]] = (merged, b + b2, shape)
            elif op == "Relu":
                self.pre.append((terms, b))
                k = len(self.pre)
                env[node.output[0]] = ({k: np.eye(len(b))}, np.zeros(len(b)), shape)
            elif op == "Flatten":
                env[node.output[0]] = (terms, b, (len(b),))
            elif op == "Gemm":
                weight, bias = w[node.input[1]], w[node.input[2]]
                env[node.output[0]] = ({j: weight @ m for j, m in terms.items()}, weight @ b + bias, (len(bias),))
            else:
                raise ValueError(f"unsupported operator {op}")
        self.out = env[proto.graph.output[0].name][:2]

    def evaluate(self, x):
        h = {0: x}
        for k, (terms, b) in enumerate(self.pre, 1):
            h[k] = np.maximum(sum(m @ h[j] for j, m in terms.items()) + b, 0.0)
        terms, b = self.out
        return sum(m @ h[j] for j, m in terms.items()) + b

    def ibp(self, lower, upper, spec):
        bounds = {0: (lower, upper)}

        def affine(terms, b):
            mid = b + sum(m @ ((bounds[j][0] + bounds[j][1]) / 2) for j, m in terms.items())
            rad = sum(np.abs(m) @ ((bounds[j][1] - bounds[j][0]) / 2) for j, m in terms.items())
            return mid, rad

        for k, (terms, b) in enumerate(self.pre, 1):
            mid, rad = affine(terms, b)
            bounds[k] = (np.maximum(mid - rad, 0.0), np.maximum(mid + rad, 0.0))
        terms, b = self.out
        mid, rad = affine({j: spec @ m for j, m in terms.items()}, spec @ b)
        return mid - rad

    def _backward(self, spec, terms, b, bounds, lower, upper):
        """Lower bound of spec @ (sum_j M_j h_j + b) over the box."""
        lam = {j: spec @ m for j, m in terms.items()}
        const = spec @ b
        for k in range(max(lam), 0, -1):
            if k not in lam:
                continue
            coeff = lam.pop(k)
            l, u = bounds[k]
            unstable = (l < 0) & (u > 0)
            up_slope = np.where(u <= 0, 0.0, np.where(l >= 0, 1.0, u / np.where(unstable, u - l, 1.0)))
            up_bias = np.where(unstable, -up_slope * l, 0.0)
            lo_slope = np.where(u <= 0, 0.0, np.where(l >= 0, 1.0, (u > -l).astype(np.float64)))
            pos, neg = np.maximum(coeff, 0.0), np.minimum(coeff, 0.0)
            a = pos * lo_slope + neg * up_slope
            const = const + neg @ up_bias
            terms_k, b_k = self.pre[k - 1]
            const = const + a @ b_k
            for j, m in terms_k.items():
                lam[j] = lam[j] + a @ m if j in lam else a @ m
        a0 = lam.get(0, np.zeros((spec.shape[0], lower.size)))
        return const + a0 @ ((lower + upper) / 2) - np.abs(a0) @ ((upper - lower) / 2)

    def crown(self, lower, upper, spec):
        bounds = {}
        for k, (terms, b) in enumerate(self.pre, 1):
            eye = np.eye(len(b))
            bounds[k] = (self._backward(eye, terms, b, bounds, lower, upper),
                         -self._backward(-eye, terms, b, bounds, lower, upper))
        unstable = sum(int(((l < 0) & (u > 0)).sum()) for l, u in bounds.values())
        return self._backward(spec, self.out[0], self.out[1], bounds, lower, upper), unstable


def margin_spec(label):
    """Rows e_label - e_j for j != label (in j order)."""
    rows = []
    for j in range(10):
        if j != label:
            row = np.zeros(10)
            row[label], row[j] = 1.0, -1.0
            rows.append(row)
    return np.array(rows)


def pgd(graph_torch, lower, upper, label, seed):
    """Seeded PGD on min_j (Y_label - Y_j); returns (best margin, best point)."""
    import torch

    lo, hi = torch.from_numpy(lower), torch.from_numpy(upper)
    others = [j for j in range(10) if j != label]
    gen = torch.Generator().manual_seed(seed)
    step = float((hi - lo).max()) / 10
    best, best_x = float("inf"), None
    for _ in range(PGD_RESTARTS):
        x = lo + (hi - lo) * torch.rand(lo.shape, generator=gen, dtype=torch.float64)
        for _ in range(PGD_STEPS):
            x.requires_grad_(True)
            y = graph_torch(x)
            margin = y[label] - torch.max(y[others])
            if float(margin.detach()) < best:
                best, best_x = float(margin.detach()), x.detach().clone()
            (grad,) = torch.autograd.grad(margin, x)
            x = torch.min(torch.max(x.detach() - step * grad.sign(), lo), hi)
    return best, best_x.numpy()


def torch_graph(dense):
    import torch

    pre = [({j: torch.from_numpy(m) for j, m in t.items()}, torch.from_numpy(b)) for t, b in dense.pre]
    out_terms = {j: torch.from_numpy(m) for j, m in dense.out[0].items()}
    out_b = torch.from_numpy(dense.out[1])

    def run(x):
        h = {0: x}
        for k, (terms, b) in enumerate(pre, 1):
            h[k] = torch.relu(sum(m @ h[j] for j, m in terms.items()) + b)
        return sum(m @ h[j] for j, m in out_terms.items()) + out_b

    return run


def float32_inside(point, lower, upper):
    """point rounded to float32 values that lie inside [lower, upper]."""
    x = point.astype(np.float32)
    x = np.where(x.astype(np.float64) < lower, np.nextafter(x, np.float32(np.inf)), x)
    x = np.where(x.astype(np.float64) > upper, np.nextafter(x, np.float32(-np.inf)), x)
    assert np.all(x.astype(np.float64) >= lower) and np.all(x.astype(np.float64) <= upper)
    return x


def write_counterexample(path, x32, y32, note):
    with open(path, "w") as f:
        f.write(f"; {note}\n(")
        entries = [f"(X_{i} {float(v)!r})" for i, v in enumerate(x32)]
        entries += [f"(Y_{j} {float(v)!r})" for j, v in enumerate(y32)]
        f.write("\n".join(entries) + ")\n")


# ----------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-check", action="store_true", help="only write the VNN-LIB files and instances.csv")
    args = parser.parse_args()

    train = load_training_module()
    x, y, _, idx_test = train.load_split()
    onnx_path = os.path.join(ROOT, ONNX_REL)
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])

    chosen = []
    for k, index in enumerate(idx_test):
        logits = session.run(["logits"], {"input": x[index:index + 1]})[0][0]
        if int(np.argmax(logits)) == int(y[index]):
            chosen.append((k, int(index)))
        if len(chosen) == IMAGES:
            break

    specs_dir = os.path.join(ROOT, "Specs")
    cex_dir = os.path.join(specs_dir, "counterexamples")
    dense = None if args.no_check else DenseGraph(onnx_path)
    run_torch = None if dense is None else torch_graph(dense)
    rows, expected = [], []
    for k, index in chosen:
        image = x[index].reshape(-1).astype(np.float64)
        label = int(y[index])
        if dense is not None:
            assert np.abs(dense.evaluate(image) - session.run(["logits"], {"input": x[index:index + 1]})[0][0]).max() < 1e-4
        for eps_text in EPSILONS:
            stem = f"digits_resnet_img{index}_eps{eps_text}"
            lower, upper = input_box(image, float(eps_text))
            with open(os.path.join(specs_dir, stem + ".vnnlib"), "w") as f:
                f.write(vnnlib_text(lower, upper, label, eps_text, index))
            rows.append(f"../{ONNX_REL},{stem}.vnnlib,{TIMEOUT_SECONDS}")
            if dense is None:
                print(f"{stem}: split position {k}, label {label}")
                continue

            spec = margin_spec(label)
            ibp = float(dense.ibp(lower, upper, spec).min())
            crown, unstable = dense.crown(lower, upper, spec)
            crown = float(crown.min())
            attack, point = pgd(run_torch, lower, upper, label, PGD_SEED)
            result, evidence = "unknown", "none"
            if crown > 0:
                result, evidence = "unsat", "CROWN"
            elif attack < 0:
                x32 = float32_inside(point, lower, upper)
                y32 = session.run(["logits"], {"input": x32.reshape(1, 1, 8, 8)})[0][0]
                if np.max(np.delete(y32, label)) >= y32[label]:
                    os.makedirs(cex_dir, exist_ok=True)
                    note = (f"PGD counterexample for {stem}.vnnlib (label {label}); X rounded to float32 "
                            f"inside the box, Y from onnxruntime (float32)")
                    write_counterexample(os.path.join(cex_dir, stem + ".counterexample"), x32, y32, note)
                    result, evidence = "sat", "PGD"
            expected.append(f"../{ONNX_REL},{stem}.vnnlib,{result},{evidence},"
                            f"{ibp:.6f},{crown:.6f},{unstable},{attack:.6f}")
            print(f"{stem}: split position {k}, label {label}, IBP {ibp:.4f}, CROWN {crown:.4f} "
                  f"({unstable} unstable ReLUs), PGD {attack:.4f} -> {result}")

    with open(os.path.join(specs_dir, "instances.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    if expected:
        with open(os.path.join(specs_dir, "expected.csv"), "w") as f:
            f.write("onnx,vnnlib,result,evidence,ibp_min_margin,crown_min_margin,crown_unstable_relus,pgd_min_margin\n")
            f.write("\n".join(expected) + "\n")


if __name__ == "__main__":
    main()
