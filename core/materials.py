"""The tracked materials and how people name them."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Iterator

from core.errors import UnknownMaterial
from core.models import Material


def _normalize(text: str) -> str:
    """Compatibility forms folded (full-width letters from an East Asian keyboard,
    ligatures, no-break spaces), case and spacing ignored."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s_\-]+", " ", folded).strip()


class MaterialCatalog:
    """Resolves what a buyer types ("Aluminum", "copper") to a tracked material."""

    def __init__(self, materials: Iterable[Material]) -> None:
        self._materials = {m.key: m for m in materials}
        self._names: dict[str, Material] = {}
        self._index()

    def _index(self) -> None:
        self._names = {}
        for material in self._materials.values():
            for name in (material.key, material.name, *material.aliases):
                self._names[_normalize(name)] = material

    def put(self, material: Material) -> None:
        """Adds a material (at the end) or changes it, for everyone holding this catalog."""
        self._materials[material.key] = material
        self._index()

    def reset(self, materials: Iterable[Material]) -> None:
        """Makes `materials` the catalog's materials again (an import that failed)."""
        self._materials = {m.key: m for m in materials}
        self._index()

    def owner_of(self, name: str) -> Material | None:
        """The material this exact name (key, name or alias) belongs to, if any."""
        return self._names.get(_normalize(name))

    def __iter__(self) -> Iterator[Material]:
        return iter(self._materials.values())

    def __len__(self) -> int:
        return len(self._materials)

    @property
    def keys(self) -> list[str]:
        return list(self._materials)

    def get(self, key: str) -> Material:
        return self._materials[key]

    def resolve(self, text: str) -> Material:
        """The material `text` names, by key, name or alias, ignoring case and spacing."""
        wanted = _normalize(text)
        if wanted in self._names:
            return self._names[wanted]
        close = difflib.get_close_matches(wanted, list(self._names), n=1, cutoff=0.5)
        suggestion = self._names[close[0]].key if close else None
        raise UnknownMaterial(text, self.keys, suggestion)
