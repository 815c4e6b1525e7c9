"""The Django settings bridge and webhook view, through Django's own test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from django.test import Client, override_settings
from django.urls import path

from enrollpay import PaymentSystem
from enrollpay.errors import InvalidInputError
from enrollpay.integrations import MAX_WEBHOOK_BODY
from enrollpay.integrations.api import payment_details, plan_options
from enrollpay.integrations.django import (
    database_url,
    get_system,
    make_api_views,
    make_webhook_view,
    reset_system,
    settings_env,
    stripe_webhook_view,
    system_from_settings,
)
from enrollpay.storage.sql import SqlStore

from .conftest import Paid

SQLITE = "django.db.backends.sqlite3"
POSTGRES = "django.db.backends.postgresql"


@pytest.fixture(scope="module")
def django_db_path(django_site: Path) -> Iterator[Path]:
    """Django configured once for this process, its default database a fresh SQLite file."""
    yield django_site
    reset_system()  # close the store the tests made get_system() open


@pytest.fixture
def no_stripe_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Stripe keys in the environment."""
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)


def urls(paid: Paid) -> type:
    """A URLconf with a view on the paid system and the default view on get_system()."""

    class Urls:
        plans, details = make_api_views(paid.system)
        urlpatterns: Any = (
            path("api/webhooks/stripe", make_webhook_view(paid.system)),
            path("default/webhooks/stripe", stripe_webhook_view),
            path("api/plans", plans),
            path("api/enrollments/<str:enrollment_id>/payment", details),
        )

    return Urls


@pytest.fixture
def client(paid: Paid, django_db_path: Path) -> Iterator[Client]:
    """Django's test client, enforcing CSRF checks, routed to the webhook views."""
    with override_settings(ROOT_URLCONF=urls(paid)):
        yield Client(enforce_csrf_checks=True)


def post(client: Client, url: str, payload: bytes, headers: Any) -> Any:
    """POST raw bytes as the gateway does."""
    return client.post(url, data=payload, content_type="application/json", headers=dict(headers))


def test_a_signed_event_is_processed_once_without_a_csrf_token(client: Client, paid: Paid) -> None:
    """The view is CSRF-exempt: delivery 200 processed, redelivery 200 duplicate."""
    first = post(client, "/api/webhooks/stripe", paid.hook.payload, paid.hook.headers)
    again = post(client, "/api/webhooks/stripe", paid.hook.payload, paid.hook.headers)

    assert (first.status_code, first.json()) == (
        200,
        {"result": "processed", "event_id": paid.hook.event_id},
    )
    assert (again.status_code, again.json()["result"]) == (200, "duplicate")
    assert paid.system.payment_details(paid.enrollment_id).paid.minor == 29999


def test_the_api_views_serve_plans_and_payment_details(client: Client, paid: Paid) -> None:
    """GET plans and payment details: the library's JSON; OPTIONS is 405, a stranger 404."""
    product = paid.system.payment_details(paid.enrollment_id).product
    post(client, "/api/webhooks/stripe", paid.hook.payload, paid.hook.headers)

    plans = client.get("/api/plans", {"product": product.id})
    details = client.get(f"/api/enrollments/{paid.enrollment_id}/payment")
    missing = client.get("/api/plans")
    stranger = client.get("/api/enrollments/enr_nope/payment")
    # CSRF would stop a POST before the view; OPTIONS reaches it and is not GET.
    other = client.options("/api/plans")

    assert (plans.status_code, plans.json()) == (200, plan_options(paid.system, product))
    assert details.status_code == 200
    assert details.json() == payment_details(paid.system.payment_details(paid.enrollment_id))
    assert (details.json()["has_access"], details.json()["paid_through"]) == (True, "2027-03-15")
    assert (missing.status_code, missing.json()["error"]) == (422, "invalid_input")
    assert (stranger.status_code, stranger.json()["error"]) == (404, "not_found")
    assert other.status_code == 405


def test_forged_oversized_and_non_post_requests_are_refused(client: Client, paid: Paid) -> None:
    """A forged signature is 400, a body over the limit 413, a GET 405; nothing is applied."""
    forged = paid.fake.webhook("payment_intent.succeeded", {"id": "pi_1"}, secret="whsec_guess")

    bad = post(client, "/api/webhooks/stripe", forged.payload, forged.headers)
    big = post(client, "/api/webhooks/stripe", b" " * (MAX_WEBHOOK_BODY + 1), paid.hook.headers)
    get = client.get("/api/webhooks/stripe")

    assert (bad.status_code, bad.json()) == (400, {"error": "invalid webhook"})
    assert (big.status_code, big.json()) == (413, {"error": "webhook body too large"})
    assert get.status_code == 405
    assert paid.system.payment_details(paid.enrollment_id).paid.minor == 0


def test_the_default_view_uses_the_system_built_from_settings(
    client: Client, paid: Paid, django_db_path: Path, no_stripe_env: None
) -> None:
    """stripe_webhook_view runs on DATABASES["default"]; without Stripe keys it answers 503."""
    answer = post(client, "/default/webhooks/stripe", paid.hook.payload, paid.hook.headers)
    system = get_system()

    assert (answer.status_code, answer.json()) == (503, {"error": "webhooks are not configured"})
    assert isinstance(system.store, SqlStore)
    assert system.store.engine.url.database == str(django_db_path)
    assert system.gateway is None
    assert get_system() is system


def test_overriding_the_setting_rebuilds_the_system(
    django_db_path: Path, tmp_path: Path, no_stripe_env: None
) -> None:
    """A changed ENROLLPAY setting (as in tests) drops the cached system and builds a new one."""
    before = get_system()
    other = tmp_path / "payments.db"
    with override_settings(ENROLLPAY={"DATABASE_URL": f"sqlite:///{other}", "TIMEZONE": "UTC"}):
        during = get_system()
    after = get_system()

    assert during is not before
    assert isinstance(during.store, SqlStore)
    assert during.store.engine.url.database == str(other)
    assert after is not during
    assert isinstance(after.store, SqlStore)
    assert after.store.engine.url.database == str(django_db_path)


@pytest.mark.parametrize(
    ("entry", "url"),
    [
        ({"ENGINE": SQLITE, "NAME": "/srv/site/db.sqlite3"}, "sqlite:////srv/site/db.sqlite3"),
        ({"ENGINE": SQLITE, "NAME": Path("/srv/db.sqlite3")}, "sqlite:////srv/db.sqlite3"),
        ({"ENGINE": SQLITE, "NAME": "db.sqlite3"}, "sqlite:///db.sqlite3"),
        ({"ENGINE": SQLITE, "NAME": ":memory:"}, "sqlite://"),
        ({"ENGINE": SQLITE, "NAME": "file:memorydb_default?mode=memory&cache=shared"}, "sqlite://"),
        (
            {"ENGINE": SQLITE, "NAME": "file:/srv/db.sqlite3?mode=ro"},
            "sqlite:///file:/srv/db.sqlite3?mode=ro&uri=true",
        ),
        ({"ENGINE": POSTGRES, "NAME": "shop"}, "postgresql+psycopg:///shop"),
        (
            {"ENGINE": POSTGRES, "NAME": "shop", "HOST": "/var/run/postgresql", "PORT": ""},
            "postgresql+psycopg:///shop?host=%2Fvar%2Frun%2Fpostgresql",
        ),
        (
            {
                "ENGINE": "django.contrib.gis.db.backends.postgis",
                "NAME": "geo",
                "USER": "app",
                "HOST": "db.internal",
                "PORT": 6432,
                "OPTIONS": {"sslmode": "require", "pool": True, "isolation_level": 2},
            },
            "postgresql+psycopg://app@db.internal:6432/geo?sslmode=require",
        ),
    ],
)
def test_database_url_from_a_databases_entry(entry: dict[str, Any], url: str) -> None:
    """SQLite paths and memory databases, PostgreSQL hosts, sockets and libpq options."""
    assert database_url(entry) == url


def test_a_postgres_password_survives_the_url() -> None:
    """Characters that mean something in a URL are escaped and come back intact."""
    url = database_url(
        {"ENGINE": POSTGRES, "NAME": "shop", "USER": "app", "PASSWORD": "p@ss/w:rd?#", "HOST": "h"}
    )

    parsed = sa.make_url(url)
    assert (parsed.username, parsed.password, parsed.host, parsed.database) == (
        "app",
        "p@ss/w:rd?#",
        "h",
        "shop",
    )


def test_other_database_engines_are_refused() -> None:
    """MySQL (or anything not SQLite/PostgreSQL) is a clear configuration error."""
    with pytest.raises(InvalidInputError, match=r"'django\.db\.backends\.mysql'"):
        database_url({"ENGINE": "django.db.backends.mysql", "NAME": "shop"})


def test_settings_env_reads_the_enrollpay_setting_then_the_environment() -> None:
    """The alias picks the database; Stripe keys come from the setting, else the environment."""
    site = SimpleNamespace(
        DATABASES={
            "default": {"ENGINE": SQLITE, "NAME": "/srv/site.db"},
            "payments": {"ENGINE": POSTGRES, "NAME": "pay", "HOST": "db"},
        },
        ENROLLPAY={"DATABASE": "payments", "STRIPE_SECRET_KEY": "sk_test_setting"},
    )

    env = settings_env(site, {"STRIPE_SECRET_KEY": "sk_env", "STRIPE_WEBHOOK_SECRET": "whsec_env"})

    assert env == {
        "ENROLLPAY_DATABASE_URL": "postgresql+psycopg://db/pay",
        "STRIPE_SECRET_KEY": "sk_test_setting",
        "STRIPE_WEBHOOK_SECRET": "whsec_env",
    }


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"STRIPE_KEY": "sk_test_x"}, "unknown ENROLLPAY setting"),
        ({"DATABASE": "nope"}, "names no database"),
    ],
)
def test_settings_mistakes_are_refused(conf: dict[str, str], message: str) -> None:
    """A misspelt key or an unknown alias fails at start-up, not at the first payment."""
    site = SimpleNamespace(DATABASES={"default": {"ENGINE": SQLITE, "NAME": ""}}, ENROLLPAY=conf)

    with pytest.raises(InvalidInputError, match=message):
        settings_env(site, {})


def test_system_from_settings_builds_on_the_sqlite_file(tmp_path: Path) -> None:
    """A Django SQLite database gets the payment tables next to Django's own."""
    site = SimpleNamespace(DATABASES={"default": {"ENGINE": SQLITE, "NAME": tmp_path / "x.db"}})

    system = system_from_settings(site, {})

    assert isinstance(system, PaymentSystem)
    assert isinstance(system.store, SqlStore)
    tables = sa.inspect(system.store.engine).get_table_names()
    assert "enrollpay_enrollments" in tables
    system.store.close()
