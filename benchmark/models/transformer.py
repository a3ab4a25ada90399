"""Pixel transformer: the center pixel's 12 monthly composites as 12 tokens.

Each month's 10 reflectances are linearly embedded (128), a [CLS] token and learned month
positions are added, 3 encoder layers (4 heads, hidden 256, dropout 0.2) follow, and the
[CLS] state is classified (paper Appendix).
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models.blocks import ClsEncoder
from benchmark.models.protocols import BuildRequest
from benchmark.params import PixelTransformerParams
from benchmark.train import TorchClassifier, build_network


class PixelTransformer(nn.Module):
    """(batch, 12, bands) → class logits."""

    def __init__(
        self, p: PixelTransformerParams, n_bands: int, n_classes: int, n_months: int = 12
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(n_bands, p.embed_dim)
        self.encoder = ClsEncoder(
            n_months, p.embed_dim, p.heads, p.hidden_dim, p.layers, p.dropout
        )
        self.head = nn.Linear(p.embed_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, not probabilities: the loss and ``predict_proba`` apply the softmax."""
        return self.head(self.encoder(self.embed(x)))


def build(req: BuildRequest[PixelTransformerParams]) -> TorchClassifier:
    """Registry builder: the shared training loop around a freshly seeded PixelTransformer."""
    return build_network(
        req, lambda: PixelTransformer(req.params, n_bands=req.n_bands, n_classes=req.n_classes)
    )
