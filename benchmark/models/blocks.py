"""The transformer block the three neural models share: tokens in, a [CLS] summary out.

Pre-norm encoder layers (more stable to train from scratch than post-norm), a learned
[CLS] token and learned positional embeddings, as in ViT.
"""

from __future__ import annotations

import torch
from torch import nn


class ClsEncoder(nn.Module):
    """Prepend [CLS], add positions, run ``layers`` encoder layers, return the [CLS] state."""

    def __init__(
        self, n_tokens: int, dim: int, heads: int, hidden: int, layers: int, dropout: float
    ) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, n_tokens + 1, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        nn.init.trunc_normal_(self.cls, std=0.02)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model=dim,
            nhead=heads,
            dim_feedforward=hidden,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(batch, n_tokens, dim) → (batch, dim)."""
        cls = self.cls.expand(tokens.shape[0], -1, -1)
        x = self.dropout(torch.cat([cls, tokens], dim=1) + self.pos)
        return self.norm(self.encoder(x)[:, 0])
