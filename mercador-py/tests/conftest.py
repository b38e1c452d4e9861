"""Fixtures: the running testbed (its env file) and a real story on it.

The session fixture ``story`` starts B's publisher service and A's
subscriber service (``mercador serve``, SQLite, free ports on 127.0.0.1),
then, through this package's own API: B's admin onboards a partner and
publishes a vregion offered to it; A's admin registers the publisher and
binds the vregion as a region of A. alice (``testbed-a-alice``) then
reaches it by K2K. B's publisher keeps its store in the testbed's
``mercador_b`` database, the store Keystone B's catalog driver reads, so
alice's tokens in the vregion are confined to its services
(``test_catalog_plugin.py``). Everything is removed at the end. It holds A's SAML
identity 0 (``a-entity.lock``), as the demo and the Rust tests through
``testbed-a-alice`` do. Tests fail, never skip, without a testbed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import secrets
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest

import mercador

REPO = Path(__file__).resolve().parents[2]


def _env_file() -> Path:
    path = os.environ.get("MERCADOR_TESTBED_ENV")
    if not path:
        path = subprocess.run(
            [str(REPO / "testbed/testbed.sh"), "env"], check=True, capture_output=True, text=True
        ).stdout.strip()
    p = Path(path)
    if not p.is_file():
        raise RuntimeError(f"no testbed env file at {p}: start the testbed (testbed/testbed.sh start)")
    return p


def _read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip().strip("'\"")
    return env


def load_testbed() -> dict[str, str]:
    """The testbed's env file, also applied to os.environ (OS_CLIENT_CONFIG_FILE...)."""
    env = _read_env(_env_file())
    os.environ["OS_CLIENT_CONFIG_FILE"] = env["OS_CLIENT_CONFIG_FILE"]
    os.environ.pop("OS_CLOUD", None)
    return env


@pytest.fixture(scope="session")
def tb() -> dict[str, str]:
    """The running testbed's env file."""
    return load_testbed()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mercador_bin() -> str:
    binary = os.environ.get("MERCADOR_BIN") or str(REPO / "target/debug/mercador")
    if not Path(binary).is_file():
        raise RuntimeError(f"{binary} is missing: cargo build -p mercador-cli (scripts/lib/python-tests.sh does)")
    return binary


class Service:
    def __init__(
        self, kind: str, tb: dict[str, str], workdir: Path, *, database_url: str | None = None,
        key_file: str | None = None,
    ) -> None:
        self.kind = kind
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        if key_file is None:
            key = workdir / f"{kind}.key"
            key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
            key.chmod(0o600)
            key_file = str(key)
        env = dict(os.environ)
        env.update(
            {
                "MERCADOR_KEYSTONE__CLOUDS_YAML": tb["OS_CLIENT_CONFIG_FILE"],
                "MERCADOR_DATABASE__URL": database_url or f"sqlite://{workdir}/mercador-{kind}.db",
                "MERCADOR_SECRETS__KEY_FILE": key_file,
                "MERCADOR_SERVER__LISTEN": f"127.0.0.1:{port}",
                "MERCADOR_SERVER__PUBLIC_URL": self.url,
            }
        )
        if kind == "publisher":
            env.update(
                {
                    "MERCADOR_SERVER__REGION": tb["KEYSTONE_B_REGION"],
                    "MERCADOR_FEDERATION__SP_URL": tb["KEYSTONE_B_ECP_URL"],
                    "MERCADOR_FEDERATION__METADATA_DIR": tb["KEYSTONE_B_SHIB_METADATA_DIR"],
                }
            )
        else:
            env.update(
                {
                    "MERCADOR_SERVER__REGION": tb["KEYSTONE_A_REGION"],
                    "MERCADOR_FEDERATION__ENTITY_ID": tb["KEYSTONE_A_IDP_ENTITY_ID"],
                    "MERCADOR_FEDERATION__METADATA_URL": tb["KEYSTONE_A_IDP_METADATA_URL"],
                }
            )
        self.log = workdir / f"{kind}.log"
        self.proc = subprocess.Popen(
            [mercador_bin(), "serve", kind, "--config", str(REPO / f"examples/demo/{kind}.toml")],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"mercador serve {kind} did not start:\n{self.log.read_text()[-2000:]}")
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_entity_on_b(tb: dict[str, str], entity_id: str) -> None:
    """Deletes B's identity providers holding ``entity_id`` and its metadata
    file in Shibboleth's directory: what the Rust tests' K2K fixture leaves
    (as ``mercador_tests::publisher::free_entity_on_b`` does), so that the
    story's subscribe finds B not trusting this identity yet."""
    conn = openstack.connect(cloud="testbed-b")
    try:
        idps = conn.identity.get("/OS-FEDERATION/identity_providers").json()["identity_providers"]
        for idp in idps:
            if entity_id in (idp.get("remote_ids") or []):
                conn.identity.delete(f"/OS-FEDERATION/identity_providers/{idp['id']}").raise_for_status()
    finally:
        conn.close()
    digest = hashlib.sha1(entity_id.encode()).hexdigest()
    (Path(tb["KEYSTONE_B_SHIB_METADATA_DIR"]) / f"{digest}.xml").unlink(missing_ok=True)


@contextlib.contextmanager
def running_story(tb: dict[str, str], workdir: Path) -> Iterator[dict[str, Any]]:
    """Both services running and a vregion of B bound on A, through this
    package's API; all of it removed at the end. Holds A's SAML identity 0."""
    state = Path(tb["MERCADOR_TESTBED_STATE"])
    lock = (state / "a-entity.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # A's SAML identity 0, in turn with the demo and the Rust tests
    free_entity_on_b(tb, tb["KEYSTONE_A_IDP_ENTITY_ID"])
    suffix = secrets.token_hex(3)
    names = {
        "partner": f"py-a-{suffix}",
        "vregion": f"py{suffix}",
        "publisher": f"py-b-{suffix}",
        "alias": f"py-{suffix}",
    }
    # B's publisher store: the one Keystone B's catalog driver reads (testbed/testbed.sh).
    publisher = Service(
        "publisher", tb, workdir, database_url=tb["MERCADOR_B_PUBLISHER_DATABASE_URL"],
        key_file=tb["MERCADOR_B_PUBLISHER_KEY_FILE"],
    )
    subscriber = Service("subscriber", tb, workdir)
    b_admin = mercador.Cloud.from_config("testbed-b")
    a_admin = mercador.Cloud.from_config("testbed-a")
    admin = mercador.PublisherAdmin(b_admin, url=publisher.url)
    sub = mercador.Subscriber(a_admin, url=subscriber.url)
    done: list[str] = []
    try:
        onboarded = admin.onboard_partner(names["partner"], description="pytest of mercador-py")
        done.append("partner")
        spec = {
            "name": names["vregion"],
            "description": "pytest of mercador-py",
            "region": tb["KEYSTONE_B_REGION"],
            "service_types": ["identity"],
            "roles": ["member", "reader"],
            "metadata": {"country": "PT"},
            "max_subscriptions": 2,
            "partners": [names["partner"]],
        }
        created = admin.create_vregion(spec)
        done.append("vregion")
        published = admin.publish_vregion(names["vregion"])
        registered = sub.register_publisher(
            names["publisher"],
            keystone_url=tb["KEYSTONE_B_URL"],
            application_credential_id=onboarded["application_credential_id"],
            application_credential_secret=onboarded["application_credential_secret"],
            exchange_url=f"{publisher.url}/v1/exchange",
        )
        done.append("publisher")
        binding = sub.bind(names["publisher"], names["vregion"], alias=names["alias"])
        done.append("binding")
        yield {
            **names,
            "tb": tb,
            "publisher_url": publisher.url,
            "publisher_database_url": tb["MERCADOR_B_PUBLISHER_DATABASE_URL"],
            "subscriber_url": subscriber.url,
            "onboarded": onboarded,
            "spec": spec,
            "created": created,
            "published": published,
            "registered": registered,
            "binding": binding,
            "admin": admin,
            "sub": sub,
            "b_admin": b_admin,
            "a_admin": a_admin,
            "sp": f"mercador-{names['alias']}",
            "workdir": workdir,
        }
    finally:
        try:
            if "binding" in done:
                try:
                    sub.cancel_binding(names["alias"])
                except mercador.NotFound:
                    pass
            if "publisher" in done:
                sub.remove_publisher(names["publisher"])
            if "vregion" in done:
                admin.delete_vregion(names["vregion"], purge=True)
            if "partner" in done:
                admin.remove_partner(names["partner"])
        finally:
            publisher.stop()
            subscriber.stop()
            lock.close()




@pytest.fixture(scope="session")
def story(tb: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_story(tb, tmp_path_factory.mktemp("services")) as story:
        yield story


@pytest.fixture
def alice(tb: dict[str, str]) -> mercador.Cloud:
    """alice's cloud, new for each test (a token made before the binding lists no service provider of it)."""
    return mercador.Cloud.from_config("testbed-a-alice")


def alice_auth(tb: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        "auth_url": tb["KEYSTONE_A_URL"],
        "username": tb["KEYSTONE_A_DEMO_USER"],
        "password": tb["KEYSTONE_A_DEMO_PASSWORD"],
        "user_domain_name": tb["KEYSTONE_A_DEMO_DOMAIN"],
        "project_name": tb["KEYSTONE_A_DEMO_PROJECT"],
        "project_domain_name": tb["KEYSTONE_A_DEMO_DOMAIN"],
        **extra,
    }


def all_secrets(story: dict[str, Any]) -> list[str]:
    """Every secret the tests handle, to look for in reprs, logs and errors."""
    tb = story["tb"]
    values = [v for k, v in tb.items() if k.endswith("PASSWORD")]
    values.append(story["onboarded"]["application_credential_secret"])
    for cloud in (story["b_admin"], story["a_admin"]):
        values.append(cloud.token().id)
    return [v for v in values if v and len(v) >= 8]
