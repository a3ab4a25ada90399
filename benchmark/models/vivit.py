"""ViViT, factorised encoder (Arnab et al. 2021, model 2) on 12 monthly 15×15 frames.

Tubelets of 3 frames × 3×3 pixels are embedded by a strided 3-D convolution: 4 time
groups × 25 spatial tokens. A spatial encoder (depth 3) summarises each time group into
its [CLS] state, a temporal encoder (depth 3) runs over the 4 summaries, and the head
classifies the temporal [CLS] state (embedding 256, hidden 512, 8 heads; paper Appendix).
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models.blocks import ClsEncoder
from benchmark.models.protocols import BuildRequest
from benchmark.params import ViViTParams
from benchmark.train import TorchClassifier, build_network


class ViViT(nn.Module):
    """(batch, 12, bands, 15, 15) → class logits."""

    def __init__(
        self, p: ViViTParams, n_bands: int, n_classes: int, frames: int = 12, size: int = 15
    ) -> None:
        super().__init__()
        if frames % p.tubelet or size % p.patch:
            raise ValueError(
                f"ViViT input {frames}×{size}×{size} is not a multiple of tubelet "
                f"{p.tubelet}×{p.patch}×{p.patch}"
            )
        self.n_groups = frames // p.tubelet
        n_spatial = (size // p.patch) ** 2
        self.tubelet_embed = nn.Conv3d(
            n_bands,
            p.embed_dim,
            kernel_size=(p.tubelet, p.patch, p.patch),
            stride=(p.tubelet, p.patch, p.patch),
        )
        self.spatial = ClsEncoder(
            n_spatial, p.embed_dim, p.heads, p.hidden_dim, p.spatial_layers, p.dropout
        )
        self.temporal = ClsEncoder(
            self.n_groups, p.embed_dim, p.heads, p.hidden_dim, p.temporal_layers, p.dropout
        )
        self.head = nn.Linear(p.embed_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits; the spatial encoder runs on all time groups at once as one big batch."""
        batch = x.shape[0]
        tubes = self.tubelet_embed(x.transpose(1, 2))  # (batch, dim, groups, rows, cols)
        dim = tubes.shape[1]
        tokens = tubes.flatten(3).permute(0, 2, 3, 1)  # (batch, groups, spatial, dim)
        frames = self.spatial(tokens.reshape(batch * self.n_groups, -1, dim))
        return self.head(self.temporal(frames.reshape(batch, self.n_groups, dim)))


def build(req: BuildRequest[ViViTParams]) -> TorchClassifier:
    """Registry builder: the shared training loop around a freshly seeded ViViT."""
    return build_network(
        req, lambda: ViViT(req.params, n_bands=req.n_bands, n_classes=req.n_classes)
    )
