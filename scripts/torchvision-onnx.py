#!/usr/bin/python3
"""Exports a torchvision ResNet (random weights, seeded) to ONNX and writes what mixhead's ONNX
backbone must reproduce: a small two-class image set at 224×224 and PyTorch's own maps of the last
block (before the average pool) on each image, ImageNet-normalised. scripts/onnx-check.ts then runs
`mixhead precompute --backbone model.onnx --node … --normalize imagenet` and compares.

    /usr/bin/python3 scripts/torchvision-onnx.py --arch resnet50 --out models/tv-resnet50

Writes under --out (models/ is ignored by git; a ResNet-50 is ~100 MB):
- model.onnx           the whole classifier, input [batch, 3, 224, 224] (dynamic batch), opset 13
- data/<class>/*.png   224×224 images of two classes (vertical vs horizontal stripes, random
                       colours, frequencies and noise), already at the input size (no resize)
- expected.json        per image: its path and the offset of its maps in expected.bin; the maps'
                       shape (H, W, C) and the normalisation
- expected.bin         float32 maps, H×W×C per image, in expected.json's order
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torchvision
from PIL import Image

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
SIZE = 224


def make_images(root, per_class, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    files = []
    for cls in ("horizontal", "vertical"):
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        for i in range(per_class):
            axis = yy if cls == "horizontal" else xx
            freq = rng.uniform(4, 12)
            colour = rng.uniform(0.2, 1, size=3)
            stripes = 0.5 + 0.5 * np.sin(2 * np.pi * freq * axis + rng.uniform(0, 6.3))
            img = stripes[..., None] * colour + rng.normal(0, 0.08, size=(SIZE, SIZE, 3))
            px = np.clip(img * 255, 0, 255).round().astype(np.uint8)
            f = os.path.join(root, cls, f"{cls[0]}{i:03d}.png")
            Image.fromarray(px).save(f)
            files.append(f)
    return files


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet50", choices=["resnet18", "resnet34", "resnet50", "resnet101"])
    p.add_argument("--out", required=True)
    p.add_argument("--per-class", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    model = getattr(torchvision.models, args.arch)(weights=None).eval()
    t = time.perf_counter()
    torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), os.path.join(args.out, "model.onnx"), input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
    export_s = time.perf_counter() - t
    # The maps before the average pool: everything but avgpool and fc.
    trunk = torch.nn.Sequential(*list(model.children())[:-2]).eval()
    files = make_images(os.path.join(args.out, "data"), args.per_class, args.seed)
    entries = []
    shape = None
    with open(os.path.join(args.out, "expected.bin"), "wb") as bin_:
        offset = 0
        for f in files:
            px = np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255
            x = torch.from_numpy(px).permute(2, 0, 1)
            x = ((x - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)).unsqueeze(0)
            with torch.inference_mode():
                maps = trunk(x)[0].permute(1, 2, 0).contiguous().numpy().astype(np.float32)
            shape = list(maps.shape)
            bin_.write(maps.tobytes())
            entries.append({"image": os.path.relpath(f, args.out), "offset": offset})
            offset += maps.size
    with open(os.path.join(args.out, "expected.json"), "w") as fh:
        json.dump({"arch": args.arch, "torch": torch.__version__, "torchvision": torchvision.__version__, "size": SIZE, "mean": MEAN, "std": STD, "featureShape": shape, "exportSeconds": export_s, "images": entries}, fh, indent=1)
    print(json.dumps({"out": args.out, "images": len(entries), "featureShape": shape, "onnxBytes": os.path.getsize(os.path.join(args.out, "model.onnx"))}))


if __name__ == "__main__":
    main()
