#!/usr/bin/env python3
"""Train and export the small residual network `digits_resnet.onnx`.

Data: scikit-learn's bundled copy of the UCI "Optical Recognition of Handwritten
Digits" test set (sklearn.datasets.load_digits, 1,797 images of 8x8 pixels with
values 0..16). Nothing is downloaded. Inputs are scaled to [0, 1] by pixel / 16.

Everything is seeded and training runs single-threaded with deterministic
algorithms, so re-running this script reproduces the same weights on the same
library versions (see requirements.txt).

Usage (from the repository root):
    python3 Networks/digits_resnet/train.py [--out-dir Networks/digits_resnet]

Writes digits_resnet.onnx, example_input.txt and example_label.txt into the
output folder and prints the figures quoted in Networks/README.md.
"""

import argparse
import os
import random
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 20240531
TEST_FRACTION = 0.2
EPOCHS = 60
BATCH_SIZE = 32
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 1e-4


class BasicBlock(nn.Module):
    """Conv-BN-ReLU-Conv-BN plus a shortcut, then ReLU.

    The shortcut is the identity when shape is kept, else a 1x1 strided
    convolution followed by batch normalisation (projection shortcut).
    """

    def __init__(self, in_ch, out_ch, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_ch),
            )
        else:
            self.shortcut = None  # identity skip (no node in the exported graph)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = x if self.shortcut is None else self.shortcut(x)
        return F.relu(y + skip)


class DigitsResNet(nn.Module):
    """Stem conv (8 ch), identity block (8 ch, 8x8), down-sampling block (16 ch, 4x4), 2 Gemms."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(8)
        self.block1 = BasicBlock(8, 8, stride=1)
        self.block2 = BasicBlock(8, 16, stride=2)
        self.fc1 = nn.Linear(16 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem(x)))
        x = self.block1(x)
        x = self.block2(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def relu_count():
    """ReLU units for one 1x1x8x8 input: stem 8*8*8, block1 2*8*8*8, block2 2*16*4*4, fc1 64."""
    return 8 * 64 + 2 * 8 * 64 + 2 * 16 * 16 + 64


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


def load_split():
    digits = load_digits()
    x = (digits.data.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    indices = np.arange(len(y))
    idx_train, idx_test = train_test_split(
        indices, test_size=TEST_FRACTION, random_state=SEED, stratify=y)
    return x, y, idx_train, idx_test


def train(model, x_train, y_train):
    generator = torch.Generator().manual_seed(SEED)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = (len(y_train) + BATCH_SIZE - 1) // BATCH_SIZE
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=LEARNING_RATE, epochs=EPOCHS, steps_per_epoch=steps_per_epoch)
    xt = torch.from_numpy(x_train)
    yt = torch.from_numpy(y_train)
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(yt), generator=generator)
        total = 0.0
        for start in range(0, len(yt), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xt[batch]), yt[batch])
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(batch)
        if (epoch + 1) % 10 == 0:
            print(f"epoch {epoch + 1:3d}  train loss {total / len(yt):.4f}")


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    return float((pred == y).mean()), pred


def export(model, path):
    model.eval()
    dummy = torch.zeros(1, 1, 8, 8)
    # TrainingMode.PRESERVE exports the eval-mode graph without the exporter's
    # Conv+BatchNormalization fusion, so BatchNormalization nodes stay in the
    # graph; constant folding is off for the same reason.
    with warnings.catch_warnings():
        # The TorchScript exporter (dynamo=False) warns that it is legacy; it is
        # used on purpose: it needs no onnxscript and honours TrainingMode.PRESERVE.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model, (dummy,), path,
        input_names=["input"], output_names=["logits"],
        opset_version=13,
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,
        dynamo=False,
    )
    inline_initializer_identities(path)


def inline_initializer_identities(path):
    """Replace `Identity(initializer)` nodes by a copy of the initializer.

    The two batch normalisations whose outputs meet in block2's Add (main path
    and projection shortcut) receive identical bias gradients, so their biases
    stay bit-identical; the exporter then de-duplicates them and emits an
    Identity node. Undo that so the graph holds only Conv, BatchNormalization,
    Relu, Add, Flatten and Gemm.
    """
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(path)
    inits = {t.name: t for t in proto.graph.initializer}
    kept = []
    for node in proto.graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            copy = numpy_helper.from_array(numpy_helper.to_array(inits[node.input[0]]), node.output[0])
            proto.graph.initializer.append(copy)
        else:
            kept.append(node)
    del proto.graph.node[:]
    proto.graph.node.extend(kept)
    onnx.save(proto, path)


def check_onnx(path, model, x_test):
    import onnx
    import onnxruntime as ort

    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    ops = {}
    for node in proto.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    print("onnx ops:", dict(sorted(ops.items())))
    print("onnx opset:", [(o.domain, o.version) for o in proto.opset_import])
    assert ops.get("BatchNormalization", 0) == 6, "BatchNormalization nodes were folded"
    assert set(ops) == {"Conv", "BatchNormalization", "Relu", "Add", "Flatten", "Gemm"}, ops
    for node in proto.graph.node:
        if node.op_type == "BatchNormalization":
            assert len(node.output) == 1, "BatchNormalization exported in training mode"
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 1, 8, 8], dims

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    model.eval()
    max_diff = 0.0
    with torch.no_grad():
        for i in range(len(x_test)):
            xi = x_test[i:i + 1]
            ref = model(torch.from_numpy(xi)).numpy()
            got = session.run(["logits"], {"input": xi})[0]
            max_diff = max(max_diff, float(np.abs(ref - got).max()))
    print(f"max |onnxruntime - torch| over the test set: {max_diff:.3e}")
    assert max_diff < 1e-4
    return ops


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out-dir", default=here)
    args = parser.parse_args()

    seed_everything(SEED)
    x, y, idx_train, idx_test = load_split()
    model = DigitsResNet()
    train(model, x[idx_train], y[idx_train])

    train_acc, _ = accuracy(model, x[idx_train], y[idx_train])
    test_acc, pred = accuracy(model, x[idx_test], y[idx_test])
    n_params = sum(p.numel() for p in model.parameters())
    n_buffers = sum(b.numel() for name, b in model.named_buffers() if "num_batches" not in name)
    print(f"train images {len(idx_train)}, test images {len(idx_test)}")
    print(f"train accuracy {train_acc:.4f}")
    print(f"test accuracy {test_acc:.4f} ({int((pred == y[idx_test]).sum())}/{len(idx_test)})")
    print(f"trainable parameters {n_params}, BN running statistics {n_buffers}")
    print(f"ReLU units {relu_count()}")

    onnx_path = os.path.join(args.out_dir, "digits_resnet.onnx")
    export(model, onnx_path)
    check_onnx(onnx_path, model, x[idx_test])

    # Example: the first held-out image (in split order) that the network classifies correctly.
    k = next(i for i in range(len(idx_test)) if pred[i] == y[idx_test[i]])
    image = x[idx_test[k]].reshape(-1)
    with open(os.path.join(args.out_dir, "example_input.txt"), "w") as f:
        for row in range(8):
            f.write(" ".join(repr(float(v)) for v in image[row * 8:(row + 1) * 8]) + "\n")
    with open(os.path.join(args.out_dir, "example_label.txt"), "w") as f:
        f.write(f"{int(y[idx_test[k]])}\n")
    print(f"example: test split position {k}, dataset index {int(idx_test[k])}, label {int(y[idx_test[k]])}")


if __name__ == "__main__":
    main()
