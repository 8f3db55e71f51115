#!/usr/bin/python3
"""Writes test/fixtures/onnx/: a small ResNet-style network exported by PyTorch to ONNX, a few
images, and PyTorch's own activations on them, so that tests of the ONNX file backbone
(src/backbone/onnx-file.ts) compare mixhead's maps with PyTorch's without needing Python.

Run once with Debian's python3-torch (torch 1.13 exports without the `onnx` package):

    /usr/bin/python3 scripts/onnx-fixture.py

Files written (all small; the models are ~60 KB each):
- tiny-resnet.onnx        NCHW input [batch, 3, 64, 64] (dynamic batch), the whole classifier
                          (stem, two basic blocks, global average pool, linear): its output is logits,
                          so a backbone must be cut with --node at the last block.
- tiny-resnet-nhwc.onnx   the same weights, fixed batch 1, NHWC input [1, 64, 64, 3] and NHWC output
                          [1, 8, 8, 16] (the last block's maps, already cut).
- images/*.png            three 64×64 RGB images (already at the input size: no resize).
- expected.json           cut names, the ImageNet normalisation used, and per image the last block's
                          maps as H×W×C (row-major) plus the logits, from PyTorch's forward in float32.
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'onnx')
SIZE = 64
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


class Block(nn.Module):
    """torchvision's BasicBlock shape: conv-bn-relu-conv-bn, plus the (downsampled) input, relu."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + (x if self.down is None else self.down(x)))


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        self.layer1 = Block(8, 8, 1)
        self.layer2 = Block(8, 16, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 5)

    def features(self, x):
        return self.layer2(self.layer1(self.stem(x)))

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class NhwcFeatures(nn.Module):
    """The same network's maps with NHWC in and out, as a TensorFlow export would have them."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.features(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def seeded_net():
    torch.manual_seed(20)
    net = TinyResNet()
    # Running statistics away from (0, 1), so BatchNorm is not the identity at inference.
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


def images():
    rng = np.random.default_rng(20)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    out = []
    for i in range(3):
        f = rng.uniform(1, 6, size=3)
        p = rng.uniform(0, 6.3, size=3)
        smooth = np.stack([np.sin(f[c] * (xx + (c + 1) * yy) * 3 + p[c]) for c in range(3)], axis=-1)
        noise = rng.normal(0, 0.15, size=(SIZE, SIZE, 3))
        out.append(np.clip((smooth * 0.45 + 0.5 + noise) * 255, 0, 255).round().astype(np.uint8))
    return out


def main():
    os.makedirs(os.path.join(OUT, 'images'), exist_ok=True)
    net = seeded_net()
    dummy = torch.zeros(1, 3, SIZE, SIZE)
    path = os.path.join(OUT, 'tiny-resnet.onnx')
    torch.onnx.export(net, dummy, path, input_names=['input'], output_names=['logits'], dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}}, opset_version=13)
    nhwc = NhwcFeatures(net).eval()
    torch.onnx.export(nhwc, torch.zeros(1, SIZE, SIZE, 3), os.path.join(OUT, 'tiny-resnet-nhwc.onnx'), input_names=['image'], output_names=['maps'], opset_version=13)

    entries = []
    for i, px in enumerate(images()):
        name = f'img{i}.png'
        Image.fromarray(px).save(os.path.join(OUT, 'images', name))
        back = np.asarray(Image.open(os.path.join(OUT, 'images', name)).convert('RGB'))
        assert (back == px).all()
        x = torch.from_numpy(back.astype(np.float32) / 255).permute(2, 0, 1)
        x = ((x - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)).unsqueeze(0)
        with torch.no_grad():
            maps = net.features(x)[0].permute(1, 2, 0).contiguous()
            logits = net(x)[0]
        entries.append({'image': f'images/{name}', 'maps': [float(v) for v in maps.flatten()], 'logits': [float(v) for v in logits]})
    expected = {
        'generatedBy': 'scripts/onnx-fixture.py',
        'torch': torch.__version__,
        'size': SIZE,
        'mean': MEAN,
        'std': STD,
        'featureShape': [8, 8, 16],
        'images': entries,
    }
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f)
    print('wrote', OUT)


if __name__ == '__main__':
    main()
