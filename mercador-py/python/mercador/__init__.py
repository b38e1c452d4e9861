"""Mercador: the Python API over mercador-core.

Clouds from ``clouds.yaml``/``OS_*``/an auth dict, tokens and catalogs,
Keystone-to-Keystone (K2K) tokens on a service provider, the multi-cloud
session, and typed clients of the Mercador services (the publisher's admin
and exchange faces, the subscriber service). Every network call releases
the GIL; one runtime per process (made again after ``fork``); objects may
be shared between threads. No ``repr`` shows a secret.

>>> import mercador
>>> cloud = mercador.Cloud.from_config("mycloud")
>>> sp = cloud.k2k("mercador-lisbon-b")
>>> sp.token().project_name
"""

from __future__ import annotations

from mercador._native import (
    AuthenticationFailed,
    Cloud,
    ConfigurationError,
    Conflict,
    ExchangeClient,
    Forbidden,
    InterruptedOperation,
    InvalidInput,
    InvalidResponse,
    MercadorError,
    MultiCloud,
    NotFound,
    PublisherAdminClient,
    ServiceProviderSession,
    Store,
    SubscriberClient,
    Timeout,
    TlsError,
    Token,
    Unavailable,
    __version__,
    validate_vregion_spec,
)
from mercador.records import (
    Access,
    Binding,
    Discovery,
    Offer,
    OnboardedPartner,
    Partner,
    Publisher,
    Record,
    RefreshOutcome,
    Subscription,
    VRegion,
    VRegionSpec,
)
from mercador.typed import PublisherAdmin, Exchange, Subscriber

__all__ = [
    "Access",
    "AuthenticationFailed",
    "Binding",
    "Cloud",
    "ConfigurationError",
    "Conflict",
    "Discovery",
    "Exchange",
    "ExchangeClient",
    "Forbidden",
    "InterruptedOperation",
    "InvalidInput",
    "InvalidResponse",
    "MercadorError",
    "MultiCloud",
    "NotFound",
    "Offer",
    "OnboardedPartner",
    "Partner",
    "Publisher",
    "PublisherAdmin",
    "PublisherAdminClient",
    "Record",
    "RefreshOutcome",
    "ServiceProviderSession",
    "Store",
    "Subscriber",
    "SubscriberClient",
    "Subscription",
    "Timeout",
    "TlsError",
    "Token",
    "Unavailable",
    "VRegion",
    "VRegionSpec",
    "__version__",
    "validate_spec",
    "validate_vregion_spec",
]


def validate_spec(spec: dict[str, object]) -> VRegionSpec:
    """Checks a vregion spec as the publisher service does (without
    Keystone): the spec with defaults filled in, or ``InvalidInput`` whose
    ``field_errors`` are ``[(field, message)]``."""
    return VRegionSpec(validate_vregion_spec(spec))
