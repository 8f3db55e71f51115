#!/usr/bin/env python3
"""PyTorch (CPU) reference for mixhead's benchmarks: `npm run bench` runs it beside mixhead.

Written the way a PyTorch user would write each workload, with the reference given its best:
torch.set_num_threads(THREADS) (default 2, this machine's cores), inference_mode for extraction,
and whatever BLAS / oneDNN the installed torch links (reported by `info`).

Subcommands (each prints one JSON object on its last stdout line):
  info                                   torch/BLAS/oneDNN facts, a 2048^2 sgemm's GFLOP/s,
                                         MobileNetV2 multiply-adds counted with forward hooks
  precompute --data DIR [--batch 16] [--arch mobilenet_v2|resnet50]
                                         PNG/JPEG files -> mobilenet_v2(weights=None).features maps
                                         (pixels / 255), or a torchvision ResNet's maps before its
                                         average pool (ImageNet normalisation, as torchvision's docs)
  export-resnet --arch resnet50 --out F  torchvision ResNet (random weights, seed 0) to ONNX, dynamic
                                         batch, opset 13: the ONNX backbone mixhead's row runs
  decode --data DIR                      PIL decode + resize only (what "decode included" costs)
  forward [--batch 32] [--reps 5]        mobilenet_v2(weights=None).features on random batches:
                                         the backbone alone, seconds of each batch
  train --n N --epochs E --head linear|mlp|conv [--mix-at features|hidden] [--hidden 256] [--batch 64] [--alpha 0.4]
                                         head on N random ReLU-like 1280x7x7 maps with per-sample
                                         mixup (gather by a permutation) and stacked labels
"""
import argparse
import json
import os
import sys
import time

THREADS = int(os.environ.get("BENCH_THREADS", "2"))


def emit(obj):
    print(json.dumps(obj), flush=True)


def import_torch():
    import torch

    torch.set_num_threads(THREADS)
    return torch


def loaded_libs(words):
    """Shared objects mapped into this process whose path contains one of `words`."""
    found = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and any(w in parts[5] for w in words):
                    found.add(os.path.realpath(parts[5]))
    except OSError:
        pass
    return sorted(found)


def mobilenet_v2_macs(torch, size=224):
    """Multiply-adds of mobilenet_v2().features at size x size, summed over its convolutions."""
    from torchvision.models import mobilenet_v2

    model = mobilenet_v2(weights=None).features.eval()
    total = [0]

    def hook(mod, inp, out):
        k = mod.kernel_size[0] * mod.kernel_size[1]
        total[0] += out.numel() * (mod.in_channels // mod.groups) * k

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(hook)
    with torch.inference_mode():
        model(torch.zeros(1, 3, size, size))
    return total[0]


def cmd_info(_args):
    torch = import_torch()
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    for _ in range(2):
        a @ b
    reps = 10
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    dt = (time.perf_counter() - t) / reps
    config = torch.__config__.show()
    blas_info = next((p.split("=", 1)[1] for p in config.replace(",", " ").split() if p.startswith("BLAS_INFO=")), "?")
    emit(
        {
            "torch": torch.__version__,
            "torchvision": __import__("torchvision").__version__,
            "python": sys.version.split()[0],
            "threads": torch.get_num_threads(),
            "mkldnn": bool(torch.backends.mkldnn.is_available()),
            "blasInfo": blas_info,
            "blasLibs": loaded_libs(["blas", "openblas", "mkl_rt", "libmkl"]),
            "sgemm2048GFlops": 2 * 2048**3 / dt / 1e9,
            "mobilenetV2FeaturesMacs224": mobilenet_v2_macs(torch, 224),
        }
    )


def list_images(root, limit=None):
    exts = (".png", ".jpg", ".jpeg", ".webp")
    files = []
    for d, _, names in os.walk(root):
        files += [os.path.join(d, n) for n in names if n.lower().endswith(exts)]
    files.sort()
    return files[:limit] if limit else files


def load_224(path, size=224):
    """PIL decode, shorter side to `size`, centre crop (mixhead's default --fit cover), RGB."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        s = size / min(w, h)
        nw, nh = max(size, round(w * s)), max(size, round(h * s))
        im = im.resize((nw, nh), Image.BILINEAR)
        left, top = (nw - size) // 2, (nh - size) // 2
        return im.crop((left, top, left + size, top + size))


def cmd_decode(args):
    import numpy as np

    files = list_images(args.data, args.limit)
    t = time.perf_counter()
    for f in files:
        np.asarray(load_224(f), dtype=np.float32)
    dt = time.perf_counter() - t
    emit({"images": len(files), "seconds": dt, "imagesPerSecond": len(files) / dt})


def cmd_precompute(args):
    import numpy as np

    torch = import_torch()
    from torchvision.models import mobilenet_v2

    files = list_images(args.data, args.limit)
    t_build = time.perf_counter()
    if args.arch == "mobilenet_v2":
        model = mobilenet_v2(weights=None).features.eval()
        mean, std = torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1)
    else:
        import torchvision

        torch.manual_seed(0)
        full = getattr(torchvision.models, args.arch)(weights=None)
        model = torch.nn.Sequential(*list(full.children())[:-2]).eval()
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    build_s = time.perf_counter() - t_build
    with torch.inference_mode():
        model(torch.zeros(args.batch, 3, 224, 224))  # warm-up (oneDNN primitive creation), not timed
    decode_s = 0.0
    forward_s = 0.0
    out_shape = None
    t0 = time.perf_counter()
    for i in range(0, len(files), args.batch):
        td = time.perf_counter()
        arr = np.stack([np.asarray(load_224(f), dtype=np.float32) for f in files[i : i + args.batch]]) / 255.0
        x = (torch.from_numpy(arr).permute(0, 3, 1, 2) - mean) / std
        decode_s += time.perf_counter() - td
        tf_ = time.perf_counter()
        with torch.inference_mode():
            y = model(x)
        feats = y.permute(0, 2, 3, 1).contiguous().numpy()  # H x W x C maps, as a cache would store them
        forward_s += time.perf_counter() - tf_
        out_shape = list(feats.shape[1:])
    total = time.perf_counter() - t0
    emit(
        {
            "images": len(files),
            "batch": args.batch,
            "threads": torch.get_num_threads(),
            "seconds": total,
            "decodeSeconds": decode_s,
            "forwardSeconds": forward_s,
            "modelBuildSeconds": build_s,
            "imagesPerSecond": len(files) / total,
            "featureShape": out_shape,
        }
    )


def cmd_forward(args):
    torch = import_torch()
    from torchvision.models import mobilenet_v2

    model = mobilenet_v2(weights=None).features.eval()
    x = torch.rand(args.batch, 3, 224, 224)
    times = []
    with torch.inference_mode():
        model(x)  # warm-up (oneDNN primitive creation), not timed
        for _ in range(args.reps):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    times.sort()
    median = times[len(times) // 2]
    emit({"batch": args.batch, "threads": torch.get_num_threads(), "batchSeconds": times, "imagesPerSecond": args.batch / median})


def cmd_export_resnet(args):
    torch = import_torch()
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, args.arch)(weights=None).eval()
    t = time.perf_counter()
    torch.onnx.export(model, torch.zeros(1, 3, 224, 224), args.out, input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
    emit({"file": args.out, "arch": args.arch, "seconds": time.perf_counter() - t, "bytes": os.path.getsize(args.out)})


def cmd_train(args):
    torch = import_torch()
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(args.seed)
    n, c, h, w, k = args.n, 1280, 7, 7, 10
    # Random ReLU-like maps, N x C x H x W (PyTorch's layout), in memory like a loaded cache.
    x_all = torch.relu(torch.randn(n, c, h, w))
    y_all = torch.randint(0, k, (n,))
    if args.head == "linear":
        model = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(c, k))
    elif args.head == "mlp":
        # pool -> dense -> ReLU -> (manifold mix) -> dropout -> dense, as mixhead's mlp head.
        model = nn.ModuleList([nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, args.hidden), nn.ReLU()), nn.Sequential(nn.Dropout(0.3), nn.Linear(args.hidden, k))])
    else:
        model = nn.Sequential(
            nn.Conv2d(c, args.hidden, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(args.hidden, k)
        )

    def forward(xb, mix=None):
        """Logits; `mix` = (lam, perm, tap) mixes the maps (tap 0) or the hidden layer (tap 1)."""
        def mixed(t, tap):
            if mix is None or mix[2] != tap:
                return t
            lam = mix[0].view(-1, *([1] * (t.dim() - 1)))
            return lam * t + (1 - lam) * t[mix[1]]  # a gather, as a PyTorch user writes it
        if args.head == "mlp":
            return model[1](mixed(model[0](mixed(xb, 0)), 1))
        return model(mixed(xb, 0))

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    beta = torch.distributions.Beta(torch.tensor([args.alpha]), torch.tensor([args.alpha]))
    epochs = []
    for epoch in range(args.epochs):
        model.train()
        t = time.perf_counter()
        order = torch.randperm(n)
        loss_sum = 0.0
        for i in range(0, n, args.batch):
            idx = order[i : i + args.batch]
            xb, yb = x_all[idx], y_all[idx]
            b = xb.shape[0]
            lam = beta.sample((b,)).view(b)  # per-sample lambda
            perm = torch.randperm(b)
            # Manifold mixup (--mix-at hidden, mlp): the tap drawn per batch among the features and the hidden layer.
            tap = int(torch.randint(0, 2, (1,))) if args.mix_at == "hidden" and args.head == "mlp" else 0
            logits = forward(xb, (lam, perm, tap))
            loss = (lam * F.cross_entropy(logits, yb, reduction="none") + (1 - lam) * F.cross_entropy(logits, yb[perm], reduction="none")).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * b
        train_s = time.perf_counter() - t
        eval_s = 0.0
        if args.eval:
            # What mixhead's trainer also does every epoch: the clean training set, inference mode.
            te = time.perf_counter()
            model.eval()
            with torch.inference_mode():
                for i in range(0, n, 256):
                    F.cross_entropy(forward(x_all[i : i + 256]), y_all[i : i + 256], reduction="sum").item()
            eval_s = time.perf_counter() - te
        epochs.append({"trainSeconds": train_s, "evalSeconds": eval_s, "loss": loss_sum / n})
    emit({"n": n, "batch": args.batch, "head": args.head, "mixAt": args.mix_at, "threads": torch.get_num_threads(), "epochs": epochs})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info")
    for name in ("precompute", "decode"):
        s = sub.add_parser(name)
        s.add_argument("--data", required=True)
        s.add_argument("--batch", type=int, default=16)
        s.add_argument("--limit", type=int, default=None)
        s.add_argument("--arch", default="mobilenet_v2", choices=["mobilenet_v2", "resnet18", "resnet50"])
    s = sub.add_parser("export-resnet")
    s.add_argument("--arch", default="resnet50", choices=["resnet18", "resnet50"])
    s.add_argument("--out", required=True)
    s = sub.add_parser("forward")
    s.add_argument("--batch", type=int, default=32)
    s.add_argument("--reps", type=int, default=5)
    s = sub.add_parser("train")
    s.add_argument("--n", type=int, default=2048)
    s.add_argument("--epochs", type=int, default=3)
    s.add_argument("--head", choices=["linear", "mlp", "conv"], default="linear")
    s.add_argument("--mix-at", choices=["features", "hidden"], default="features")
    s.add_argument("--hidden", type=int, default=256)
    s.add_argument("--batch", type=int, default=64)
    s.add_argument("--alpha", type=float, default=0.4)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--eval", action="store_true", help="also evaluate the clean training set each epoch")
    args = p.parse_args()
    {"info": cmd_info, "export-resnet": cmd_export_resnet, "precompute": cmd_precompute, "decode": cmd_decode, "forward": cmd_forward, "train": cmd_train}[args.cmd](args)


if __name__ == "__main__":
    main()
