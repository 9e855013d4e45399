"""Network building blocks shared by the batch-size zoo and the studies that train models.

A neutral place below both: the bench's zoo (``dlplayground.bench.models``) and the dropout study build their
networks from these classes, so neither imports the other. Each block is a plain ``nn.Module`` whose
constructor arguments say its size; dropout layers stay in place at rate 0 when unused, so eval-time dropout
can be switched on where a trained network would have it.
"""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """A plain multi-layer perceptron: Linear -> ReLU -> Dropout, repeated ``depth`` times, then a head."""

    def __init__(self, in_features: int, hidden: int, depth: int, out_features: int, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ResidualBlock(nn.Module):
    """A ResNet basic block (two 3x3 convs with batch norm) with a projected shortcut when shapes change."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SmallCNN(nn.Module):
    """A small ResNet-style CNN: a stem, one residual block per stage (stride 2 after the first), a head.

    ``dropout`` sits before the classifier so studies of evaluation-time dropout can use the same network.
    """

    def __init__(self, in_channels: int = 3, widths: tuple[int, ...] = (32, 64, 128), num_classes: int = 10,
                 dropout: float = 0.0):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks = []
        prev = widths[0]
        for i, width in enumerate(widths):
            blocks.append(ResidualBlock(prev, width, stride=1 if i == 0 else 2))
            prev = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(prev, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


class RNNClassifier(nn.Module):
    """A stacked LSTM or GRU over a sequence, classifying from the last time step."""

    def __init__(self, cell: str, input_size: int, hidden: int, layers: int, num_classes: int):
        super().__init__()
        rnn_cls = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn_cls(input_size, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class TransformerClassifier(nn.Module):
    """A pre-norm Transformer encoder over token ids with learned positions and mean pooling."""

    def __init__(self, vocab: int, seq_len: int, d_model: int, heads: int, layers: int, num_classes: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.zeros(1, seq_len, d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=4 * d_model, dropout=0.1,
                                           batch_first=True, norm_first=True)
        # enable_nested_tensor only matters with padding masks, and warns with norm_first.
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.embed(tokens) + self.pos)
        return self.head(h.mean(dim=1))
