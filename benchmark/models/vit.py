"""ViT on the 15×15 crop of the annual composite.

3×3 patches give 25 tokens, embedded to 256 by a strided convolution (the usual patch
embedding), then 6 encoder layers (8 heads, hidden 512, dropout 0.2) and a linear head on
the [CLS] state (paper Appendix).
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models.blocks import ClsEncoder
from benchmark.models.protocols import BuildRequest
from benchmark.params import ViTParams
from benchmark.train import TorchClassifier, build_network


class ViT(nn.Module):
    """(batch, bands, 15, 15) → class logits."""

    def __init__(self, p: ViTParams, n_bands: int, n_classes: int, size: int = 15) -> None:
        super().__init__()
        if size % p.patch:
            raise ValueError(f"ViT input {size}×{size} is not a multiple of patch {p.patch}")
        n_tokens = (size // p.patch) ** 2
        self.patch_embed = nn.Conv2d(n_bands, p.embed_dim, kernel_size=p.patch, stride=p.patch)
        self.encoder = ClsEncoder(n_tokens, p.embed_dim, p.heads, p.hidden_dim, p.layers, p.dropout)
        self.head = nn.Linear(p.embed_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, not probabilities: the loss and ``predict_proba`` apply the softmax."""
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)  # (batch, 25, dim)
        return self.head(self.encoder(tokens))


def build(req: BuildRequest[ViTParams]) -> TorchClassifier:
    """Registry builder: the shared training loop around a freshly seeded ViT."""
    return build_network(
        req, lambda: ViT(req.params, n_bands=req.n_bands, n_classes=req.n_classes)
    )
