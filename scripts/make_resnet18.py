#!/usr/bin/env python3
"""Export a ResNet-18-shaped network with seeded random weights to ONNX (opset 13).

Topology (He et al., "Deep Residual Learning for Image Recognition", 2016, the
18-layer variant): input 1x3x224x224; Conv 7x7 stride 2 (64 ch) + BN + ReLU;
MaxPool 3x3 stride 2 pad 1; four stages of two BasicBlocks (64, 128, 256, 512
channels; the first block of stages 2-4 has stride 2 and a 1x1 projection
shortcut with BN); GlobalAveragePool; Flatten; Gemm to the classes.
BatchNormalization nodes are kept in the graph (no Conv+BN fusion).

The weights are random (not trained): the network exists to measure the
engine's speed and memory on a realistically sized residual graph. BN running
statistics are randomised too (seeded) so that BN is not the identity.
Defined directly in torch (torchvision is not needed).

Usage:
    python3 scripts/make_resnet18.py [OUTPUT] [--classes 1000] [--seed 0]
OUTPUT defaults to /tmp/resnet18.onnx. The file (~45 MB) is not committed.
"""

import argparse
import os
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, in_ch, out_ch, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = x if self.downsample is None else self.downsample(x)
        return F.relu(y + skip)


class ResNet18(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        layers = []
        in_ch = 64
        for out_ch, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers.append(nn.Sequential(BasicBlock(in_ch, out_ch, stride), BasicBlock(out_ch, out_ch, 1)))
            in_ch = out_ch
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1)  # exported as GlobalAveragePool
        return self.fc(torch.flatten(x, 1))


def relu_count(model):
    """ReLU units for one 224x224 input, counted by running the model with hooks on F.relu outputs."""
    total = 0
    original = F.relu

    def counting(x, inplace=False):
        nonlocal total
        total += x.numel()
        return original(x, inplace=inplace)

    F.relu = counting
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, 224, 224))
    finally:
        F.relu = original
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", nargs="?", default="/tmp/resnet18.onnx")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-check", action="store_true", help="skip the onnx checker and onnxruntime run")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = ResNet18(args.classes)
    generator = torch.Generator().manual_seed(args.seed + 1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.weight.data = 0.5 + torch.rand(n, generator=generator)
            module.bias.data = 0.2 * torch.randn(n, generator=generator)
            module.running_mean.data = 0.1 * torch.randn(n, generator=generator)
            module.running_var.data = 0.5 + torch.rand(n, generator=generator)
    model.eval()

    with warnings.catch_warnings():
        # The TorchScript exporter is used on purpose (no onnxscript needed;
        # TrainingMode.PRESERVE keeps BatchNormalization unfused).
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model, (torch.zeros(1, 3, 224, 224),), args.output,
            input_names=["input"], output_names=["logits"], opset_version=13,
            training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False, dynamo=False)

    relus = relu_count(model)
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.output} ({os.path.getsize(args.output)} bytes), {params} parameters, {relus} ReLU units")
    if args.no_check:
        return

    import onnx
    import onnxruntime as ort

    proto = onnx.load(args.output)
    onnx.checker.check_model(proto)
    ops = {}
    for node in proto.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    print("ops:", dict(sorted(ops.items())))
    assert ops.get("BatchNormalization") == 20, ops
    x = torch.from_numpy(np.random.default_rng(args.seed).random((1, 3, 224, 224), dtype=np.float32))
    with torch.no_grad():
        reference = model(x).numpy()
    session = ort.InferenceSession(args.output, providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    print(f"max |onnxruntime - torch| = {float(np.abs(got - reference).max()):.3e} (max |logit| {float(np.abs(reference).max()):.3g})")


if __name__ == "__main__":
    main()
