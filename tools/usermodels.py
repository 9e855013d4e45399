"""User models for the reliability probe and its tests: factories that misbehave the ways users' do.

Copied into a case's folder, imported as ``usermodels``: ``buggy`` raises at batch 4; ``stops`` sends its own
process the signal named by ``STOP_WITH`` at its 60th call; the others break the factory contract.
"""

import os
import signal

import torch
from torch import nn


class Buggy(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 2)

    def forward(self, x):
        if x.shape[0] >= 4:
            raise ValueError(f"shape bug at batch {x.shape[0]}")
        return self.linear(x)


def buggy():
    return Buggy(), lambda b: torch.randn(b, 8)


class Stops(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 2)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 60 and os.environ.get("STOP_WITH"):
            os.kill(os.getpid(), getattr(signal, os.environ["STOP_WITH"]))
        return self.linear(x)


def stops():
    return Stops(), lambda b: torch.randn(b, 8)


def raises():
    raise RuntimeError("weights file missing: /models/w.pt")


def not_a_pair():
    return nn.Linear(8, 2)


def list_input():
    return nn.Linear(8, 2), lambda b: [0.0] * 8
