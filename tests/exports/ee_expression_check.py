"""A stricter fake server: check a serialized Earth Engine expression as the server would.

Why: the fakes answer from what they decode out of a request, so an expression the real
server rejects, or one that means something else, would pass. Every request the fakes see
goes through :func:`check_expression` (the hook is :func:`tests.exports.gee_fakes.
invocations`, which every fake uses to decode a request), which raises
:class:`ExpressionError` naming the mistake:

- every function is one of the real algorithms (``ee/tests/algorithms.json``, the
  signatures shipped in the earthengine-api wheel), called with its argument names only,
  and with every required argument;
- a band selected by name from a known collection exists there
  (:data:`DATASET_BANDS`, e.g. ``B8A``, not ``B8a``);
- the order of operations the server needs: bands are selected by their original names
  before ``ImageCollection.toBands`` (which renames them ``<system:index>_<band>``); a
  footprint test on ``.geo`` is ``Filter.contains`` (the footprint contains the geometry,
  not ``isContained``) and comes after a ``filterBounds`` of the same collection (else the
  server scans the whole collection without its spatial index).

The check is an abstract evaluation of the expression graph: each node gets what is known
of its value (the collection it comes from, whether its bands still have their original
names, whether a bounds filter was applied), function bodies of ``Collection.map`` are
evaluated with their argument bound to an element of the mapped collection.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import ee

ALGORITHMS_JSON = Path(ee.__file__).parent / "tests" / "algorithms.json"

# COPERNICUS/S2_SR_HARMONIZED bands, from the catalog page
# https://developers.google.com/earth-engine/datasets/catalog/COPERNICUS_S2_SR_HARMONIZED#bands
S2_SR_HARMONIZED_BANDS = (
    "B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12",
    "AOT", "WVP", "SCL", "TCI_R", "TCI_G", "TCI_B", "MSK_CLDPRB", "MSK_SNWPRB",
    "QA10", "QA20", "QA60", "MSK_CLASSI_OPAQUE", "MSK_CLASSI_CIRRUS", "MSK_CLASSI_SNOW_ICE",
)
# COPERNICUS/S1_GRD bands, from
# https://developers.google.com/earth-engine/datasets/catalog/COPERNICUS_S1_GRD#bands
S1_GRD_BANDS = ("HH", "HV", "VV", "VH", "angle")
DATASET_BANDS: dict[str, tuple[str, ...]] = {
    "COPERNICUS/S2_SR_HARMONIZED": S2_SR_HARMONIZED_BANDS,
    "COPERNICUS/S1_GRD": S1_GRD_BANDS,
}
_REGEX = re.compile(r"[.*+?\[\](){}|^$\\]")  # a band selector that is a regular expression
_PASS_THROUGH = ("input", "collection", "image", "value", "object", "feature", "image1")


class ExpressionError(AssertionError):
    """The real server would reject the expression, or it does not mean what was meant."""


@dataclass(frozen=True)
class Signature:
    """An algorithm's argument names, and those it cannot do without."""

    arguments: frozenset[str]
    required: frozenset[str]


@cache
def algorithms() -> dict[str, Signature]:
    """Name (``Image.select``) → signature, from the wheel's algorithm list."""
    raw = json.loads(ALGORITHMS_JSON.read_text(encoding="utf-8"))["algorithms"]
    out = {}
    for algorithm in raw:
        args = algorithm.get("arguments", [])
        out[algorithm["name"].removeprefix("algorithms/")] = Signature(
            frozenset(a["argumentName"] for a in args),
            frozenset(a["argumentName"] for a in args if not a.get("optional")),
        )
    return out


@dataclass(frozen=True)
class Known:
    """What the check knows of one node's value."""

    dataset: str | None = None  # the collection its images come from
    stage: str | None = None  # "original" band names, "stacked" (toBands), "renamed"
    bounded: bool = False  # a bounds filter was applied (collections)
    constant: Any = None
    is_constant: bool = False
    bounds_filter: bool = False  # this is a Filter.intersects(.all, geometry)
    footprint_filter: bool = False  # this is a Filter on ".geo"


UNKNOWN = Known()


@dataclass(frozen=True)
class Function:
    """A ``functionDefinitionValue``: evaluated where it is applied."""

    names: tuple[str, ...]
    body: Any


def check_expression(expression: Any) -> None:
    """Raise :class:`ExpressionError` if the server would reject ``expression`` (an ee
    object, or its cloud-API encoding ``{"result": …, "values": …}``)."""
    tree = expression if _is_encoded(expression) else ee.serializer.encode(
        expression, is_compound=True, for_cloud_api=True)
    _Checker(tree).run()


def _is_encoded(value: Any) -> bool:
    return isinstance(value, dict) and "result" in value and "values" in value


class _Checker:
    def __init__(self, tree: Mapping[str, Any]) -> None:
        self.values: Mapping[str, Any] = tree["values"]
        self.result = tree["result"]

    def run(self) -> None:
        self.evaluate(self.values[self.result], {})

    def evaluate(self, node: Any, env: Mapping[str, Known]) -> Known | Function:
        if not isinstance(node, dict):
            return UNKNOWN
        if "valueReference" in node:
            return self.evaluate(self.values[node["valueReference"]], env)
        if "argumentReference" in node:
            return env.get(node["argumentReference"], UNKNOWN)
        if "constantValue" in node:
            return Known(constant=node["constantValue"], is_constant=True)
        if "arrayValue" in node:
            for item in node["arrayValue"].get("values", []):
                self.evaluate(item, env)
            return UNKNOWN
        if "dictionaryValue" in node:
            for item in node["dictionaryValue"].get("values", {}).values():
                self.evaluate(item, env)
            return UNKNOWN
        if "functionDefinitionValue" in node:
            definition = node["functionDefinitionValue"]
            return Function(tuple(definition.get("argumentNames", [])), definition["body"])
        if "functionInvocationValue" in node:
            return self.invoke(node["functionInvocationValue"], env)
        return UNKNOWN

    def invoke(self, call: Mapping[str, Any], env: Mapping[str, Known]) -> Known:
        raw_args: Mapping[str, Any] = call.get("arguments", {})
        name = call.get("functionName")
        if name is None:  # a call of a function value (functionReference): not checked
            for value in raw_args.values():
                self.evaluate(value, env)
            return UNKNOWN
        self.check_signature(name, raw_args)
        args = {key: self.evaluate(value, env) for key, value in raw_args.items()}
        known = {k: v for k, v in args.items() if isinstance(v, Known)}
        rule = _RULES.get(name)
        if rule is not None:
            return rule(self, name, args, known, env)
        if name.startswith("Filter."):
            return _filter(name, known)
        for key in _PASS_THROUGH:
            value = known.get(key)
            if value is not None and value.dataset is not None:
                return replace(value, constant=None, is_constant=False)
        return UNKNOWN

    @staticmethod
    def check_signature(name: str, args: Mapping[str, Any]) -> None:
        signature = algorithms().get(name)
        if signature is None:
            raise ExpressionError(f"{name}: no such Earth Engine algorithm")
        unknown = sorted(set(args) - signature.arguments)
        if unknown:
            raise ExpressionError(f"{name}: no argument(s) {unknown}; it takes "
                                  f"{sorted(signature.arguments)}")
        missing = sorted(signature.required - set(args))
        if missing:
            raise ExpressionError(f"{name}: required argument(s) {missing} missing")

    def apply(self, function: Known | Function, element: Known) -> Known:
        """The result of a mapped function's body with its argument bound to ``element``."""
        if not isinstance(function, Function):
            return UNKNOWN
        env = dict.fromkeys(function.names, element)
        body = function.body
        node = self.values[body] if isinstance(body, str) else body
        result = self.evaluate(node, env)
        return result if isinstance(result, Known) else UNKNOWN


def _load_collection(checker: _Checker, name: str, args: Any, known: Any, env: Any) -> Known:
    return Known(dataset=str(known["id"].constant), stage="original")


def _load_image(checker: _Checker, name: str, args: Any, known: Any, env: Any) -> Known:
    return Known(dataset=str(known["id"].constant).rsplit("/", 1)[0], stage="original")


def _collection_filter(checker: _Checker, name: str, args: Any, known: Any, env: Any) -> Known:
    collection = known.get("collection", UNKNOWN)
    test = known.get("filter", UNKNOWN)
    if test.footprint_filter and not collection.bounded:
        raise ExpressionError(
            f"footprint test on '.geo' of {collection.dataset or 'a collection'} without a "
            "filterBounds before it: filterBounds(geometry) must come first, so the server "
            "uses its spatial index instead of testing every image's footprint")
    return replace(collection, bounded=collection.bounded or test.bounds_filter)


def _filter(name: str, known: Mapping[str, Known]) -> Known:
    left = known.get("leftField", UNKNOWN).constant
    right = known.get("rightField", UNKNOWN).constant
    if ".geo" in (left, right):
        if name != "Filter.contains" or left != ".geo":
            raise ExpressionError(
                f"{name}(leftField={left!r}, rightField={right!r}) tests the footprint the "
                "wrong way: an image's footprint must contain the point's buffer, "
                "Filter.contains(leftField='.geo', rightValue=buffer)")
        return Known(footprint_filter=True)
    if name == "Filter.intersects" and left == ".all":
        return Known(bounds_filter=True)
    if name in ("Filter.and", "Filter.or"):
        return UNKNOWN
    return UNKNOWN


def _map(checker: _Checker, name: str, args: Any, known: Any, env: Any) -> Known:
    collection = known.get("collection", UNKNOWN)
    element = replace(collection, bounded=False)
    result = checker.apply(args.get("baseAlgorithm", UNKNOWN), element)
    return replace(result, bounded=collection.bounded)


def _to_bands(checker: _Checker, name: str, args: Any, known: Any, env: Any) -> Known:
    collection = known.get("collection", UNKNOWN)
    return Known(dataset=collection.dataset, stage="stacked")


def _select(checker: _Checker, name: str, args: Any, known: Any, env: Any) -> Known:
    image = known.get("input", UNKNOWN)
    selectors = known.get("bandSelectors", UNKNOWN).constant
    names = [s for s in selectors or [] if isinstance(s, str) and not _REGEX.search(s)]
    real = DATASET_BANDS.get(image.dataset or "")
    if image.stage == "stacked":
        plain = [s for s in names if any(s in bands for bands in DATASET_BANDS.values())]
        if plain:
            raise ExpressionError(
                f"Image.select({plain}) after ImageCollection.toBands: toBands renamed the "
                "bands '<system:index>_<band>' by then; select the original band names on "
                "the collection, before toBands")
    elif image.stage == "original" and real is not None:
        wrong = [s for s in names if s not in real]
        if wrong:
            raise ExpressionError(
                f"Image.select: no band(s) {wrong} in {image.dataset}; its bands are "
                f"{', '.join(real)} (names are case-sensitive)")
    renamed = known.get("newNames") is not None and known["newNames"].constant is not None
    return replace(image, stage="renamed" if renamed else image.stage)


def _rename(checker: _Checker, name: str, args: Any, known: Any, env: Any) -> Known:
    return replace(known.get("input", UNKNOWN), stage="renamed")


_RULES = {
    "ImageCollection.load": _load_collection,
    "Image.load": _load_image,
    "Collection.filter": _collection_filter,
    "Collection.map": _map,
    "ImageCollection.toBands": _to_bands,
    "Image.select": _select,
    "Image.rename": _rename,
}
