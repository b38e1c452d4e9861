"""The Python API against the testbed and the real services: every call,
errors by class, no secret in any repr or exception message."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from conftest import all_secrets, alice_auth

import mercador


def test_cloud_from_config_token_catalog_endpoint(tb: dict[str, str], alice: mercador.Cloud) -> None:
    assert alice.name == "testbed-a-alice"
    assert alice.auth_url.rstrip("/") == tb["KEYSTONE_A_URL"]
    assert alice.region_name == tb["KEYSTONE_A_REGION"]
    assert alice.interface == "public"
    token = alice.token()
    assert token.user_name == tb["KEYSTONE_A_DEMO_USER"]
    assert token.project_name == tb["KEYSTONE_A_DEMO_PROJECT"]
    assert "member" in token.roles and not token.is_federated
    assert token.expires_at.endswith("+00:00")
    assert alice.token().id == token.id  # cached
    types = {s["type"] for s in token.catalog}
    assert "identity" in types
    assert alice.endpoint("identity").startswith(tb["KEYSTONE_A_URL"].removesuffix("/v3"))
    assert token.endpoint("identity", region_name=tb["KEYSTONE_A_REGION"]) == alice.endpoint("identity")
    body = token.body()["token"]
    assert body["user"]["name"] == tb["KEYSTONE_A_DEMO_USER"] and "id" not in body
    alice.invalidate()
    assert alice.token().id != token.id


def test_cloud_from_auth_dict_and_env(tb: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    flat = mercador.Cloud.from_auth(alice_auth(tb))
    nested = mercador.Cloud.from_auth({"auth": alice_auth(tb), "region_name": tb["KEYSTONE_A_REGION"]})
    assert flat.token().user_id == nested.token().user_id
    assert nested.region_name == tb["KEYSTONE_A_REGION"]
    for key, value in {
        "OS_AUTH_URL": tb["KEYSTONE_A_URL"],
        "OS_USERNAME": tb["KEYSTONE_A_DEMO_USER"],
        "OS_PASSWORD": tb["KEYSTONE_A_DEMO_PASSWORD"],
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_NAME": tb["KEYSTONE_A_DEMO_PROJECT"],
        "OS_PROJECT_DOMAIN_NAME": "Default",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OS_CLOUD", raising=False)
    from_env = mercador.Cloud.from_config()
    assert from_env.name is None
    assert from_env.token().user_name == tb["KEYSTONE_A_DEMO_USER"]


def test_k2k_token_is_scoped_inside_the_vregion_domain(story: dict[str, Any], alice: mercador.Cloud) -> None:
    sps = [sp["id"] for sp in alice.service_providers()]
    assert story["sp"] in sps
    session = alice.k2k(story["sp"])
    token = session.token()
    assert token.is_federated
    domain_id = story["admin"].vregion(story["vregion"])["domain_id"]
    assert token.project_domain_id == domain_id
    assert set(token.roles) <= {"member", "reader"} and token.roles
    assert session.auth_url.startswith(story["tb"]["KEYSTONE_B_URL"].removesuffix("/v3"))
    assert session.token().id == token.id  # cached
    projects = session.projects()
    assert token.project_id in [p["id"] for p in projects]
    # By id and by name in its domain: the same project.
    by_id = alice.k2k(story["sp"], project_id=token.project_id).token()
    by_name = alice.k2k(
        story["sp"], project_name=token.project_name, project_domain_id=token.project_domain_id
    ).token()
    assert by_id.project_id == by_name.project_id == token.project_id
    assert session.endpoint("identity").startswith(story["tb"]["KEYSTONE_B_URL"].removesuffix("/v3"))
    with pytest.raises(mercador.InvalidInput):
        alice.k2k(story["sp"], project_name="x")  # no domain


def test_k2k_unknown_service_provider_is_not_found(story: dict[str, Any], alice: mercador.Cloud) -> None:
    with pytest.raises(mercador.NotFound) as e:
        alice.k2k("mercador-no-such-sp")
    assert "mercador-no-such-sp" in str(e.value)


def test_multicloud_one_result_per_cloud(story: dict[str, Any], alice: mercador.Cloud) -> None:
    multi = alice.multicloud()
    assert story["sp"] in [sp["id"] for sp in multi.service_providers()]
    catalogs = {r["cloud"]: r for r in multi.catalogs()}
    assert catalogs["home"]["error"] is None and catalogs["home"]["result"]
    assert catalogs[story["sp"]]["error"] is None
    assert catalogs[story["sp"]]["keystone"].startswith(story["tb"]["KEYSTONE_B_URL"].removesuffix("/v3"))
    projects = {r["cloud"]: r for r in multi.projects()}
    assert story["tb"]["KEYSTONE_A_DEMO_PROJECT"] in [p["name"] for p in projects["home"]["result"]]
    assert projects[story["sp"]]["result"]
    for result in list(catalogs.values()) + list(projects.values()):
        assert (result["result"] is None) != (result["error"] is None)
        if result["error"] is not None:
            assert isinstance(result["error"], mercador.MercadorError)


def test_publisher_admin_face(story: dict[str, Any]) -> None:
    admin: mercador.PublisherAdmin = story["admin"]
    assert admin.base_url == f"{story['publisher_url']}/v1/admin/"
    assert isinstance(story["created"], mercador.VRegion) and story["created"].state == "draft"
    assert story["published"].state == "published"
    vregion = admin.vregion(story["vregion"])
    assert vregion.name == story["vregion"] and vregion.places_taken == 1
    assert story["vregion"] in [v.name for v in admin.vregions()]
    replaced = admin.replace_vregion(story["vregion"], {**story["spec"], "description": "replaced"})
    assert replaced.description == "replaced"
    partner = admin.partner(story["partner"])
    assert isinstance(partner, mercador.Partner) and partner.name == story["partner"]
    assert story["partner"] in [p.name for p in admin.partners()]
    subs = admin.subscriptions(partner=story["partner"])
    assert len(subs) == 1 and subs[0].state == "active"
    assert admin.subscription(subs[0].id).vregion == story["vregion"]
    assert admin.subscriptions() and all(isinstance(s, mercador.Subscription) for s in admin.subscriptions())
    assert isinstance(admin.reconcile(), mercador.Record)
    # A second vregion: withdraw, delete; and revoke on a throwaway partner's draft is refused.
    spare = {**story["spec"], "name": story["vregion"] + "x", "partners": []}
    admin.create_vregion(spare)
    admin.publish_vregion(spare["name"])
    assert admin.withdraw_vregion(spare["name"]).state == "withdrawn"
    admin.delete_vregion(spare["name"], purge=True)
    with pytest.raises(mercador.NotFound):
        admin.vregion(spare["name"])


def test_exchange_face_with_the_partner_credential(story: dict[str, Any]) -> None:
    tb = story["tb"]
    partner_cloud = mercador.Cloud.from_auth(
        {
            "auth_url": tb["KEYSTONE_B_URL"],
            "application_credential_id": story["onboarded"]["application_credential_id"],
            "application_credential_secret": story["onboarded"]["application_credential_secret"],
        }
    )
    exchange = mercador.Exchange(partner_cloud, url=story["publisher_url"])
    assert exchange.base_url.endswith("/v1/exchange/")
    offers = exchange.offers()
    assert [o.name for o in offers] == [story["vregion"]]
    assert isinstance(offers[0], mercador.Offer)
    subs = exchange.subscriptions()
    assert len(subs) == 1
    sub = exchange.subscription(subs[0].id)
    assert sub.state == "active"
    access = exchange.refresh_subscription(sub.id)
    assert isinstance(access, mercador.Access)
    assert "admin" in access and "k2k" in access
    assert "***" in repr(access) and access["admin"]["token"] not in repr(access)
    # Subscribing again from the same entity id: refused (one identity provider per remote id).
    with pytest.raises(mercador.MercadorError) as e:
        exchange.subscribe(story["vregion"], entity_id=tb["KEYSTONE_A_IDP_ENTITY_ID"], metadata_url=tb["KEYSTONE_A_IDP_METADATA_URL"])
    assert isinstance(e.value, (mercador.Conflict, mercador.InvalidInput)) and e.value.status in (400, 409, 422)
    with pytest.raises(mercador.NotFound):
        exchange.cancel_subscription("no-such-subscription")


def test_subscriber_service(story: dict[str, Any]) -> None:
    sub: mercador.Subscriber = story["sub"]
    assert sub.base_url == f"{story['subscriber_url']}/v1/"
    assert story["registered"].name == story["publisher"]
    assert "application_credential_secret" not in story["registered"]
    assert sub.publisher(story["publisher"]).keystone_url.rstrip("/") == story["tb"]["KEYSTONE_B_URL"].rstrip("/")
    assert story["publisher"] in [p.name for p in sub.publishers()]
    discovery = sub.discover()
    assert isinstance(discovery, mercador.Discovery) and not discovery.errors
    assert any(o.name == story["vregion"] and o.publisher == story["publisher"] for o in discovery.offers)
    binding = sub.binding(story["alias"])
    assert isinstance(binding, mercador.Binding) and binding.state == "active"
    assert binding.service_provider == story["sp"]
    assert story["alias"] in [b.alias for b in sub.bindings(publisher=story["publisher"])]
    outcome = sub.refresh_binding(story["alias"])
    assert isinstance(outcome, mercador.RefreshOutcome) and outcome.binding.state == "active"
    assert outcome.revoked is False
    assert isinstance(sub.refresh_all(), mercador.Record)
    assert isinstance(sub.reconcile(), mercador.Record)
    with pytest.raises(mercador.Conflict):
        sub.remove_publisher(story["publisher"])  # it has a live binding


def test_validate_spec_gives_the_services_field_errors(story: dict[str, Any]) -> None:
    spec = mercador.validate_spec(story["spec"])
    assert isinstance(spec, mercador.VRegionSpec) and spec.quotas == [] and spec.domain is None
    with pytest.raises(mercador.InvalidInput) as e:
        mercador.validate_spec({**story["spec"], "roles": ["admin"], "max_subscriptions": 0})
    fields = dict(e.value.field_errors)
    assert "roles[0]" in fields and "max_subscriptions" in fields
    # The service refuses the same spec with the same fields.
    with pytest.raises(mercador.InvalidInput) as served:
        story["admin"].create_vregion({**story["spec"], "name": "pyinvalid", "roles": ["admin"], "max_subscriptions": 0})
    assert served.value.status == 400 and served.value.code
    assert {f for f, _ in served.value.field_errors} >= set(fields)
    with pytest.raises(mercador.InvalidInput) as shape:
        mercador.validate_spec({**story["spec"], "unknown_key": 1})
    assert shape.value.field_errors


def test_errors_by_class(story: dict[str, Any], tb: dict[str, str]) -> None:
    admin = story["admin"]
    with pytest.raises(mercador.NotFound) as e:
        admin.vregion("no-such-vregion")
    assert e.value.status == 404 and e.value.kind == "not_found" and isinstance(e.value, mercador.MercadorError)
    assert "no-such-vregion" in e.value.message
    with pytest.raises(mercador.Conflict) as e:
        admin.onboard_partner(story["partner"])
    assert e.value.status == 409
    with pytest.raises(mercador.AuthenticationFailed) as e:
        mercador.Cloud.from_auth(alice_auth(tb, password="wrong-password-123")).token()
    assert e.value.status == 401 and "wrong-password-123" not in str(e.value)
    with pytest.raises(mercador.Forbidden) as e:
        # The partner's credential on the admin face.
        mercador.PublisherAdmin(_b_partner_cloud(story), url=story["publisher_url"]).vregions()
    assert e.value.status == 403
    with pytest.raises(mercador.Unavailable) as e:
        mercador.Cloud.from_auth(alice_auth(tb, auth_url="http://127.0.0.1:9/v3")).token()
    assert e.value.status is None
    with pytest.raises(mercador.ConfigurationError):
        mercador.Cloud.from_auth({"username": "x"})
    with pytest.raises(mercador.ConfigurationError):
        mercador.Cloud.from_auth({"auth_url": tb["KEYSTONE_A_URL"], "no_such_setting": "1"})
    with pytest.raises(mercador.MercadorError):
        mercador.Cloud.from_config("no-such-cloud")
    with pytest.raises(mercador.InvalidInput):
        mercador.Cloud.from_config("testbed-a-alice").endpoint("identity", interface="sideways")
    classes = [
        mercador.AuthenticationFailed,
        mercador.Forbidden,
        mercador.NotFound,
        mercador.Conflict,
        mercador.InvalidInput,
        mercador.Unavailable,
        mercador.Timeout,
        mercador.TlsError,
        mercador.InvalidResponse,
        mercador.ConfigurationError,
    ]
    assert all(issubclass(c, mercador.MercadorError) for c in classes) and len(set(classes)) == 10


def _b_partner_cloud(story: dict[str, Any]) -> mercador.Cloud:
    tb = story["tb"]
    return mercador.Cloud.from_auth(
        {
            "auth_url": tb["KEYSTONE_B_URL"],
            "application_credential_id": story["onboarded"]["application_credential_id"],
            "application_credential_secret": story["onboarded"]["application_credential_secret"],
        }
    )


def test_no_secret_in_repr_log_or_exception(
    story: dict[str, Any], tb: dict[str, str], alice: mercador.Cloud, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = all_secrets(story)
    shown: list[str] = []
    sp = alice.k2k(story["sp"])
    shown += [repr(alice), repr(alice.token()), repr(sp), repr(sp.token()), repr(alice.multicloud())]
    shown += [repr(story["admin"]), repr(story["sub"]), repr(story["onboarded"]), repr(story["registered"])]
    shown += [repr(story["binding"]), repr(story["a_admin"]), repr(story["b_admin"])]
    secrets += [alice.token().id, sp.token().id]
    cloud = mercador.Cloud.from_auth(alice_auth(tb, password="not-the-password-42"))
    shown.append(repr(cloud))
    secrets.append("not-the-password-42")
    try:
        cloud.token()
    except mercador.MercadorError as e:
        shown += [str(e), repr(e), e.message]
    try:
        mercador.Cloud.from_auth({"auth_url": "http://127.0.0.1:9/v3", "token": "gAAAAAsecret-token-value"}).token()
    except mercador.MercadorError as e:
        shown += [str(e), repr(e)]
    secrets.append("gAAAAAsecret-token-value")
    assert "***" in repr(story["onboarded"])
    out, err = capfd.readouterr()
    shown += [out, err, caplog.text]
    text = "\n".join(shown)
    leaked = [s[:4] + "..." for s in secrets if s in text]
    assert not leaked, f"secrets shown: {leaked}"


def test_store_read_in_process(story: dict[str, Any]) -> None:
    """What the Keystone and Horizon plugins read next to the services: their stores."""
    publisher = mercador.Store.connect(story["publisher_database_url"])  # B's store (PostgreSQL mercador_b)
    vregion = publisher.vregion(story["vregion"])
    assert vregion is not None and vregion["state"] == "published" and vregion["region"] == story["tb"]["KEYSTONE_B_REGION"]
    assert vregion["domain_id"] == story["admin"].vregion(story["vregion"])["domain_id"]
    assert story["vregion"] in [v["name"] for v in publisher.vregions()]
    assert publisher.vregion("no-such-vregion") is None
    with mercador.Store.connect(f"sqlite://{story['workdir']}/mercador-subscriber.db") as subscriber:
        bindings = {b["alias"]: b for b in subscriber.bindings()}
    assert bindings[story["alias"]]["state"] == "active"
    assert bindings[story["alias"]]["service_provider"] == story["sp"]
    assert "admin_password_sealed" not in bindings[story["alias"]]
    assert repr(subscriber) == 'Store(backend="sqlite")'
    with pytest.raises(mercador.Unavailable):
        mercador.Store.connect("sqlite:///nonexistent-dir/x/y.db").vregions()
