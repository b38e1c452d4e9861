"""Typed clients: the native clients' answers as records."""

from __future__ import annotations

from typing import Any

from mercador import _native
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
)


class PublisherAdmin:
    """The publisher's admin face, for the publisher cloud's admins.

    >>> admin = PublisherAdmin(cloud)            # the catalog's mercador-publisher
    >>> [v.name for v in admin.vregions()]
    """

    def __init__(self, cloud: _native.Cloud, url: str | None = None) -> None:
        self._c = cloud.publisher_admin(url)

    @property
    def base_url(self) -> str:
        return self._c.base_url

    def vregions(self) -> list[VRegion]:
        return [VRegion(v) for v in self._c.list_vregions()]

    def vregion(self, name: str) -> VRegion:
        return VRegion(self._c.get_vregion(name))

    def create_vregion(self, spec: dict[str, Any]) -> VRegion:
        return VRegion(self._c.create_vregion(spec))

    def replace_vregion(self, name: str, spec: dict[str, Any]) -> VRegion:
        return VRegion(self._c.replace_vregion(name, spec))

    def delete_vregion(self, name: str, *, purge: bool = False) -> None:
        self._c.delete_vregion(name, purge=purge)

    def publish_vregion(self, name: str, *, adopt_domain: bool = False) -> VRegion:
        return VRegion(self._c.publish_vregion(name, adopt_domain=adopt_domain))

    def withdraw_vregion(self, name: str) -> VRegion:
        return VRegion(self._c.withdraw_vregion(name))

    def partners(self) -> list[Partner]:
        return [Partner(p) for p in self._c.list_partners()]

    def partner(self, name: str) -> Partner:
        return Partner(self._c.get_partner(name))

    def onboard_partner(self, name: str, *, description: str = "") -> OnboardedPartner:
        return OnboardedPartner(self._c.onboard_partner(name, description=description))

    def remove_partner(self, name: str) -> None:
        self._c.remove_partner(name)

    def subscriptions(self, *, partner: str | None = None) -> list[Subscription]:
        return [Subscription(s) for s in self._c.list_subscriptions(partner=partner)]

    def subscription(self, id: str) -> Subscription:
        return Subscription(self._c.get_subscription(id))

    def revoke_subscription(self, id: str, *, purge: bool = False) -> Subscription:
        return Subscription(self._c.revoke_subscription(id, purge=purge))

    def reconcile(self) -> Record:
        return Record(self._c.reconcile())

    def __repr__(self) -> str:
        return f"PublisherAdmin(url={self._c.base_url!r})"


class Exchange:
    """The publisher's partner face, with a partner's application credential."""

    def __init__(self, cloud: _native.Cloud, url: str | None = None) -> None:
        self._c = cloud.exchange(url)

    @property
    def base_url(self) -> str:
        return self._c.base_url

    def offers(self) -> list[Offer]:
        return [Offer(o) for o in self._c.list_offers()]

    def subscribe(
        self,
        vregion: str,
        *,
        entity_id: str,
        metadata: str | None = None,
        metadata_url: str | None = None,
        keystone_url: str | None = None,
    ) -> Access:
        return Access(
            self._c.subscribe(
                vregion, entity_id=entity_id, metadata=metadata, metadata_url=metadata_url, keystone_url=keystone_url
            )
        )

    def subscriptions(self) -> list[Subscription]:
        return [Subscription(s) for s in self._c.list_subscriptions()]

    def subscription(self, id: str) -> Subscription:
        return Subscription(self._c.get_subscription(id))

    def refresh_subscription(self, id: str) -> Access:
        return Access(self._c.refresh_subscription(id))

    def cancel_subscription(self, id: str) -> Subscription:
        return Subscription(self._c.cancel_subscription(id))

    def __repr__(self) -> str:
        return f"Exchange(url={self._c.base_url!r})"


class Subscriber:
    """The subscriber service, for the subscriber cloud's admins."""

    def __init__(self, cloud: _native.Cloud, url: str | None = None) -> None:
        self._c = cloud.subscriber(url)

    @property
    def base_url(self) -> str:
        return self._c.base_url

    def register_publisher(
        self,
        name: str,
        *,
        keystone_url: str,
        application_credential_id: str,
        application_credential_secret: str,
        exchange_url: str | None = None,
    ) -> Publisher:
        return Publisher(
            self._c.register_publisher(
                name,
                keystone_url=keystone_url,
                application_credential_id=application_credential_id,
                application_credential_secret=application_credential_secret,
                exchange_url=exchange_url,
            )
        )

    def publishers(self) -> list[Publisher]:
        return [Publisher(p) for p in self._c.list_publishers()]

    def publisher(self, name: str) -> Publisher:
        return Publisher(self._c.get_publisher(name))

    def remove_publisher(self, name: str) -> None:
        self._c.remove_publisher(name)

    def discover(self) -> Discovery:
        answer = self._c.discover()
        answer["offers"] = [Offer(o) for o in answer.get("offers", [])]
        return Discovery(answer)

    def bind(self, publisher: str, vregion: str, *, alias: str | None = None) -> Binding:
        return Binding(self._c.bind(publisher, vregion, alias or vregion))

    def bindings(self, *, publisher: str | None = None) -> list[Binding]:
        return [Binding(b) for b in self._c.list_bindings(publisher=publisher)]

    def binding(self, alias: str) -> Binding:
        return Binding(self._c.get_binding(alias))

    def refresh_binding(self, alias: str) -> RefreshOutcome:
        answer = self._c.refresh_binding(alias)
        if isinstance(answer.get("binding"), dict):
            answer["binding"] = Binding(answer["binding"])
        return RefreshOutcome(answer)

    def refresh_all(self) -> Record:
        return Record(self._c.refresh_all())

    def cancel_binding(self, alias: str, *, force: bool = False) -> Binding:
        return Binding(self._c.cancel_binding(alias, force=force))

    def reconcile(self) -> Record:
        return Record(self._c.reconcile())

    def __repr__(self) -> str:
        return f"Subscriber(url={self._c.base_url!r})"
