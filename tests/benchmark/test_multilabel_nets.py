"""The BigEarthNet-MM networks: torchvision's sizes, one training step per modality, learning.

Each step test trains on 2 random 120×120 patches on the CPU (2 threads); the deeper
ResNet152, ResNet101 and VGG19 steps are marked slow, ResNet50 and VGG16 always run.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from benchmark.multilabel.nets import NETS, MultiLabelNet, build_net  # noqa: E402

PATCH = 120
MODALITIES = {"s1": 2, "s2": 10, "s1s2": 12}
# torchvision's models for 3 bands and 1,000 ImageNet classes
TORCHVISION_PARAMS = {
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
}
FEATURE_DIM = {"resnet50": 2048, "resnet101": 2048, "resnet152": 2048, "vgg16": 4096,
               "vgg19": 4096}
SLOW = {"resnet101", "resnet152", "vgg19"}


@pytest.fixture(autouse=True)
def _two_threads() -> object:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_nets_are_the_five_of_the_paper() -> None:
    assert set(NETS) == set(TORCHVISION_PARAMS)


@pytest.mark.parametrize("name", list(TORCHVISION_PARAMS))
def test_parameter_count_matches_torchvision(name: str) -> None:
    net = build_net(name, 3, 1000)
    assert _n_params(net) == TORCHVISION_PARAMS[name]


def test_resnet_keeps_torchvision_state_dict_names() -> None:
    keys = set(build_net("resnet50", 12).state_dict())
    assert {"conv1.weight", "bn1.running_mean", "layer1.0.downsample.0.weight",
            "layer4.2.bn3.weight", "fc.weight", "fc.bias"} <= keys


def _step_cases() -> list[object]:
    return [
        pytest.param(name, bands, id=f"{name}-{modality}",
                     marks=[pytest.mark.slow] if name in SLOW else [])
        for name in NETS
        for modality, bands in MODALITIES.items()
    ]


@pytest.mark.parametrize(("name", "bands"), _step_cases())
def test_one_training_step(name: str, bands: int) -> None:
    torch.manual_seed(0)
    net = build_net(name, bands)
    assert isinstance(net, MultiLabelNet)
    first_conv = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.in_channels == bands
    x = torch.randn(2, bands, PATCH, PATCH)
    y = (torch.rand(2, 19) < 0.3).float()
    before = [p.detach().clone() for p in net.parameters()]
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)

    logits = net(x)
    assert logits.shape == (2, 19)
    loss = nn.BCEWithLogitsLoss()(logits, y)
    assert torch.isfinite(loss)
    loss.backward()
    optimizer.step()
    changed = [not torch.equal(b, p) for b, p in zip(before, net.parameters(), strict=True)]
    assert all(changed), f"{changed.count(False)} parameter tensors did not change"
    del before, optimizer

    net.eval()
    with torch.no_grad():
        features = net.features(x)
        assert features.shape == (2, FEATURE_DIM[name])
        assert torch.isfinite(features).all()
        torch.testing.assert_close(net.classify(features), net(x))


def test_resnet50_overfits_a_few_samples() -> None:
    """8 random S1+S2 patches with fixed multi-hot targets: the loss halves within 30 steps.

    Half the initial ≈0.69 is well under 0.61, the best a network that only learned the
    label frequency (0.3) could reach, so halving means memorising the samples (it takes
    about 4 steps).
    """
    torch.manual_seed(0)
    net = build_net("resnet50", 12)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(8, 12, PATCH, PATCH, generator=generator)
    y = (torch.rand(8, 19, generator=generator) < 0.3).float()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    losses: list[float] = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if losses[-1] <= losses[0] / 2:
            break
    assert losses[-1] <= losses[0] / 2, losses


@pytest.mark.parametrize(
    ("name", "bands", "classes", "kwargs", "match"),
    [
        ("resnet18", 12, 19, {}, "unknown network"),
        ("vgg16", 0, 19, {}, "must be ≥ 1"),
        ("resnet50", 12, 0, {}, "must be ≥ 1"),
        ("vgg19", 12, 19, {"zero_init_residual": True}, "no residual"),
    ],
)
def test_build_net_refuses(
    name: str, bands: int, classes: int, kwargs: dict[str, bool], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        build_net(name, bands, classes, **kwargs)


def test_zero_init_residual_starts_last_batch_norms_at_zero() -> None:
    net = build_net("resnet50", 2, zero_init_residual=True)
    assert all(bool((block.bn3.weight == 0).all()) for block in net.layer1)
    default = build_net("resnet50", 2)
    assert all(bool((block.bn3.weight == 1).all()) for block in default.layer1)


def test_vgg_starts_from_tf_slims_glorot_uniform_as_the_papers_code() -> None:
    from benchmark.multilabel.nets import VGG

    torch.manual_seed(0)
    net = VGG("vgg16", 12)
    first = net.convs[0]
    fan_in, fan_out = 12 * 9, 64 * 9
    bound = (6 / (fan_in + fan_out)) ** 0.5
    assert float(first.weight.abs().max()) <= bound
    assert float(first.weight.std()) == pytest.approx(bound / 3**0.5, rel=0.05)  # uniform
    assert all(float(m.bias.abs().max()) == 0 for m in net.modules()
               if isinstance(m, nn.Conv2d | nn.Linear))
    last = net.classifier[6]
    assert float(last.weight.std()) == pytest.approx((2 / (4096 + 19)) ** 0.5, rel=0.05)
    # torchvision's initialisation stays available: N(0, 0.01) linear layers
    legacy = VGG("vgg16", 12, init="torchvision")
    assert float(legacy.classifier[6].weight.std()) == pytest.approx(0.01, rel=0.05)
    with pytest.raises(ValueError, match="unknown init 'he'"):
        VGG("vgg16", 12, init="he")
