"""The catalog: every model per generation type, one default each, and our prices.

The built-in models are data (models.toml beside this module); `IMAGE2AD_CATALOG_FILE` (TOML
or JSON) changes any of it without code changes: see `load` and docs/models.md.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from image2ad.catalog.spec import GenerationType, ModelSpec, Value, credits_for
from image2ad.errors import InvalidInput

# The first catalog override format: {type: {field: value}} changed the type's one model.
_FIRST_FORMAT_FIELDS = {"model": "provider_model", "price": "price_credits"}


@dataclass(frozen=True)
class Quote:
    model: ModelSpec
    params: dict[str, Value]
    credits: int


class Catalog:
    def __init__(self, models: list[ModelSpec], unit_credits: int = 1) -> None:
        self.unit_credits = unit_credits
        self._models: dict[tuple[GenerationType, str], ModelSpec] = {}
        for spec in models:
            key = (spec.type, spec.id)
            if key in self._models:
                raise ValueError(f"catalog: {spec.type.value} lists {spec.id} twice")
            self._models[key] = spec
        self._defaults: dict[GenerationType, ModelSpec] = {}
        for gen_type in GenerationType:
            marked = [s for s in self.models(gen_type) if s.default]
            if len(marked) != 1:
                names = ", ".join(s.id for s in marked) or "none"
                raise ValueError(f"catalog: {gen_type.value} needs one default model ({names})")
            if marked[0].withdrawn:
                raise ValueError(f"catalog: the default {marked[0].id} is withdrawn")
            self._defaults[gen_type] = marked[0]
        for spec in models:
            if spec.fallback and self.find(spec.type.value, spec.fallback) is None:
                raise ValueError(f"catalog: fallback {spec.fallback} of {spec.id} is not listed")

    # --- loading ------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | None = None) -> Catalog:
        """The built-in catalog, changed by the file at `path` when given."""
        text = resources.files("image2ad.catalog").joinpath("models.toml").read_text()
        data = tomllib.loads(text)
        entries = _resolve_extends(data["models"])
        unit = int(data.get("pricing", {}).get("unit_credits", 1))
        if path is not None:
            overrides = _read(path)
            entries = _apply(entries, overrides)
            unit = int(overrides.get("pricing", {}).get("unit_credits", unit))
        return cls([ModelSpec.model_validate(e) for e in entries], unit_credits=unit)

    # --- lookups ------------------------------------------------------------------------------

    def models(self, type_name: GenerationType | str | None = None) -> list[ModelSpec]:
        wanted = None if type_name is None else _type(type_name)
        return [s for (t, _), s in self._models.items() if wanted is None or t == wanted]

    def default(self, type_name: GenerationType | str) -> ModelSpec:
        return self._defaults[_type(type_name)]

    def find(self, type_name: str, model_id: str) -> ModelSpec | None:
        try:
            gen_type = GenerationType(type_name)
        except ValueError:
            return None
        return self._models.get((gen_type, model_id))

    def get(self, type_name: str, model_id: str | None = None) -> ModelSpec:
        """The model a request names (the type's default when it names none); 422 otherwise."""
        gen_type = _type(type_name)
        if model_id is None:
            return self._defaults[gen_type]
        spec = self._models.get((gen_type, model_id))
        if spec is None:
            known = ", ".join(s.id for s in self.models(gen_type) if not s.withdrawn)
            raise InvalidInput(
                f"model {model_id!r} does not run {gen_type.value}; choose one of: {known}.",
                field="model",
            )
        return spec

    # --- prices -------------------------------------------------------------------------------

    def price(self, spec: ModelSpec, params: dict[str, Any]) -> int:
        """Our credits for one run of `spec` with `params` (docs/adr/0010)."""
        if spec.price_credits is not None:
            return spec.price_credits
        reference = self._reference_cost(spec.type)
        cost = spec.kie_credits(params)
        if cost is None or reference is None:
            return self.unit_credits
        return credits_for(cost, reference, self.unit_credits)

    def default_price(self, spec: ModelSpec) -> int:
        return self.price(spec, spec.defaults())

    def _reference_cost(self, gen_type: GenerationType) -> float | None:
        default = self._defaults[gen_type]
        return default.kie_credits(default.defaults())


def _type(type_name: GenerationType | str) -> GenerationType:
    try:
        return GenerationType(type_name)
    except ValueError:
        allowed = ", ".join(t.value for t in GenerationType)
        raise InvalidInput(f"type must be one of: {allowed}.", field="type") from None


def _key(entry: dict[str, Any]) -> str:
    return f"{entry.get('type')}:{entry.get('id')}"


def _merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """`change` over `base`: `params` merge by name and each parameter field by field; any
    other value (a price rule, the images field…) is replaced whole."""
    out = dict(base)
    for name, value in change.items():
        if name == "params" and isinstance(out.get(name), dict):
            params = dict(out[name])
            for param, fields in value.items():
                params[param] = {**params.get(param, {}), **fields}
            out[name] = params
        else:
            out[name] = value
    return out


def _extended(entry: dict[str, Any], known: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An entry with `extends = "type:id"` starts from that known entry, less its default mark
    and its images field (each type takes images its own way)."""
    entry = dict(entry)
    parent_key = entry.pop("extends", None)
    if parent_key is None:
        return entry
    if parent_key not in known:
        raise ValueError(f"catalog: {_key(entry)} extends unknown {parent_key}")
    parent = {k: v for k, v in known[parent_key].items() if k not in ("default", "images")}
    return _merge(parent, entry)


def _resolve_extends(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    for entry in entries:
        entry = _extended(entry, done)
        done[_key(entry)] = entry
    return list(done.values())


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text()
    data: dict[str, Any] = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    return data


def _apply(entries: list[dict[str, Any]], overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """Overrides: `models` entries change the listed model with the same type and id (or add
    one, `extends` allowed); `defaults` = {type: id}; a top-level type key changes that type's
    default model in the first format (`model`, `price`, `label`, `params`…)."""
    by_key = {_key(e): e for e in entries}
    for change in overrides.get("models", []):
        change = _extended(change, by_key)
        key = _key(change)
        by_key[key] = _merge(by_key[key], change) if key in by_key else change
    for type_name, fields in overrides.items():
        if type_name in {t.value for t in GenerationType}:
            default = next(
                e for e in by_key.values() if e["type"] == type_name and e.get("default")
            )
            renamed = {_FIRST_FORMAT_FIELDS.get(k, k): v for k, v in fields.items()}
            by_key[_key(default)] = _merge(default, renamed)
    for type_name, model_id in overrides.get("defaults", {}).items():
        for entry in by_key.values():
            if entry["type"] == type_name:
                entry["default"] = entry["id"] == model_id
    return list(by_key.values())
