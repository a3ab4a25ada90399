"""The multi-label training loop: early stopping keeps the best epoch; a stopped run resumes
after its last finished epoch and ends with the weights of an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from benchmark.multilabel.train import MultiLabelTrain, evaluate_loss, train_net  # noqa: E402


class Tiny(torch.nn.Module):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 8 * 8, 16),
                                        torch.nn.ReLU(), torch.nn.Dropout(0.2))
        self.head = torch.nn.Linear(16, 3)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def classify(self, f: torch.Tensor) -> torch.Tensor:
        return self.head(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


def data(n: int, seed: int) -> torch.utils.data.TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, 8, 8, generator=g)
    y = (x.mean(dim=(2, 3))[:, :1] > 0).float().repeat(1, 3)
    return torch.utils.data.TensorDataset(x, y)


class Stop(Exception):
    pass


def test_a_stopped_training_resumes_to_the_same_weights(tmp_path: Path) -> None:
    params = MultiLabelTrain(epochs=4, batch_size=8, patience=10, device="cpu", seed=3)
    train, val = data(48, 1), data(16, 2)
    torch.manual_seed(0)
    reference, history = train_net(Tiny(), train, val, params, tmp_path / "a.pt", "fp")
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]

    def stop_after_two(message: str) -> None:
        if message.startswith("epoch 2:"):
            raise Stop  # as a kill right after epoch 2's checkpoint

    torch.manual_seed(0)
    with pytest.raises(Stop):
        train_net(Tiny(), train, val, params, tmp_path / "b.pt", "fp", stop_after_two)
    seen: list[str] = []
    torch.manual_seed(99)  # a fresh process: other initial weights, overwritten by the resume
    resumed, history2 = train_net(Tiny(), train, val, params, tmp_path / "b.pt", "fp",
                                  seen.append)
    assert [m.split(":")[0] for m in seen] == ["epoch 3", "epoch 4"]
    assert history2 == history
    for (k, a), b in zip(reference.state_dict().items(), resumed.state_dict().values(),
                         strict=True):
        assert torch.equal(a, b), k
    # Another fingerprint (changed data or settings): the checkpoint is not reused.
    seen.clear()
    train_net(Tiny(), train, val, params, tmp_path / "b.pt", "other", seen.append)
    assert seen[0].startswith("epoch 1:")


def test_early_stopping_keeps_the_best_epoch(tmp_path: Path) -> None:
    params = MultiLabelTrain(epochs=30, batch_size=8, patience=2, learning_rate=0.05,
                             device="cpu", seed=1)
    val = data(8, 5)
    net, history = train_net(Tiny(), data(32, 1), val, params, tmp_path / "c.pt", "fp")
    assert len(history) < 30  # stopped early: 2 epochs without a better validation loss
    best = min(h["val_loss"] for h in history)
    assert history[-1]["val_loss"] > best
    assert evaluate_loss(net, val, 8, "cpu") == pytest.approx(best, abs=1e-6)  # best kept
