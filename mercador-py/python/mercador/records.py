"""Typed views of the Mercador services' JSON documents.

Each record is a read-only mapping with attribute access to its fields
(``vregion.name`` or ``vregion["name"]``); ``repr`` masks every secret
(passwords, tokens, credential secrets).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

_SECRET_WORDS = ("password", "secret", "token")


def _masked(key: str, value: Any) -> Any:
    if any(word in key.lower() for word in _SECRET_WORDS) and isinstance(value, str):
        return "***"
    if isinstance(value, dict):
        return {k: _masked(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(key, v) for v in value]
    return value


class Record(Mapping[str, Any]):
    """A service document: a mapping with attribute access."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", dict(data or {}))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def to_dict(self) -> dict[str, Any]:
        """The document as a plain dict (secrets included)."""
        return dict(self._data)

    def __repr__(self) -> str:
        shown = {k: _masked(k, v) for k, v in self._data.items()}
        return f"{type(self).__name__}({shown!r})"


class VRegionSpec(Record):
    """A vregion's spec: name, region, service_types, roles, quotas, ..."""


class VRegion(Record):
    """A vregion at the publisher: spec fields, state, domain, places taken."""


class Partner(Record):
    """A partner of the publisher."""


class OnboardedPartner(Record):
    """The onboarding answer: ``partner`` and the application credential (its secret this once)."""


class Subscription(Record):
    """A subscription (publisher side): state, step, owned objects."""


class Access(Record):
    """A subscription with what the subscriber needs: K2K URLs, admin user and token, services."""


class Offer(Record):
    """A vregion offered to a partner (places left, the caller's subscription)."""


class Publisher(Record):
    """A publisher registered at the subscriber service (never its secret)."""


class Discovery(Record):
    """Discovery's answer: ``offers`` and per-publisher ``errors``."""


class Binding(Record):
    """A vregion bound as a region of the subscriber's cloud."""


class RefreshOutcome(Record):
    """A binding's refresh: ``binding``, ``repaired``, ``repaired_by_publisher``, ``revoked``."""
