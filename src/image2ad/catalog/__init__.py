"""The model catalog: which Kie models run each generation type, their inputs and prices."""

from image2ad.catalog.catalog import Catalog, Quote
from image2ad.catalog.spec import GenerationType, ModelSpec, ParamSpec

__all__ = ["Catalog", "GenerationType", "ModelSpec", "ParamSpec", "Quote"]
