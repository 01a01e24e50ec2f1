#!/usr/bin/python3
"""Exports the torchvision test models to ONNX (opset 13, dynamic batch axis) and PyTorch's own outputs.

    export_torchvision.py OUT_DIR

Writes OUT_DIR/<model>.onnx and, for every input OUT_DIR/inputs/<model>_b<N>.npy (see make_inputs.py,
which must run first), PyTorch's output OUT_DIR/reference/<model>_b<N>.torch.npy.

Weights are random with a fixed seed: the machine has no network, so pretrained weights cannot be
downloaded. Random weights exercise exactly the same graph and numerics. BatchNorm statistics and
affine parameters are randomized too (torchvision initializes them to the identity transform, which
would hide BN-folding mistakes).
"""
import os
import sys

import numpy as np
import torch
import torchvision

import make_inputs

SEED = 20240601
OPSET = 13


class ResNet18ViewFlatten(torchvision.models.ResNet):
    """ResNet18 whose forward flattens with x.view(x.size(0), -1), as many user models do. With a dynamic
    batch this exports Shape -> Gather -> Unsqueeze -> Concat -> Reshape instead of Flatten."""

    def __init__(self):
        super().__init__(torchvision.models.resnet.BasicBlock, [2, 2, 2, 2])

    def forward(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = x.view(x.size(0), -1)
        return self.fc(x)


def randomize_batchnorm(model, generator):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
                m.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(c, generator=generator) * 0.1)


def build(name):
    torch.manual_seed(SEED)
    if name in ("resnet18", "resnet18_bn"):
        model = torchvision.models.resnet18()
    elif name == "resnet18_view":
        model = ResNet18ViewFlatten()
    elif name == "resnet50":
        model = torchvision.models.resnet50()
    elif name == "mobilenet_v2":
        model = torchvision.models.mobilenet_v2()
    else:
        raise ValueError(name)
    randomize_batchnorm(model, torch.Generator().manual_seed(SEED + 1))
    return model.eval()


def export(name, model, path):
    dummy = torch.zeros(1, 3, 224, 224)
    kwargs = {}
    if name == "resnet18_bn":
        # Keep BatchNormalization nodes (no Conv+BN folding at export) so lowbit's importer sees them.
        kwargs = dict(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    torch.onnx.export(model, dummy, path, opset_version=OPSET, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, **kwargs)


def main():
    out_dir = sys.argv[1]
    os.makedirs(os.path.join(out_dir, "reference"), exist_ok=True)
    torch.set_num_threads(2)
    for name, spec in make_inputs.MODELS.items():
        if spec["source"] != "torchvision":
            continue
        model = build(name)
        path = os.path.join(out_dir, name + ".onnx")
        export(name, model, path)
        for batch_tag, _ in spec["inputs"]:
            x = np.load(make_inputs.input_path(out_dir, name, batch_tag))
            with torch.no_grad():
                y = model(torch.from_numpy(x)).numpy()
            np.save(os.path.join(out_dir, "reference", "%s_%s.torch.npy" % (name, batch_tag)), y)
        print("exported", path)


if __name__ == "__main__":
    main()
