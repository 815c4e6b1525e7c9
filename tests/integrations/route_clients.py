"""One test client for the JSON API over FastAPI, Flask or Django, answering alike.

The route tests run once per framework: each builds the framework's app the
way its docs say (FastAPI routers, Flask ``init_app`` prefixes, Django
``api_urls()`` included under a prefix) and asks through the framework's own
test client. Answers come back as :class:`Answer`, with lower-case header
names, so one set of assertions holds for the three.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

import attrs
import django
from django.conf import settings
from django.test import Client as DjangoClient
from django.test import override_settings
from django.urls import include, path
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask

from enrollpay import PaymentSystem
from enrollpay.integrations.django import api_urls, plan_change_urls
from enrollpay.integrations.fastapi import api_router, attach_system, plan_change_router
from enrollpay.integrations.flask import init_app

Framework = Literal["fastapi", "flask", "django"]
FRAMEWORKS: Final[tuple[Framework, ...]] = ("fastapi", "flask", "django")
_NO_BODY: Final = object()


def configure_django(directory: Path) -> Path:
    """Django configured once for the process (SQLite file in ``directory``); its database path.

    Whichever test module comes first configures it, with the CSRF middleware
    on, so that the webhook view's CSRF exemption is tested for real.
    """
    if not settings.configured:
        settings.configure(
            SECRET_KEY="not-a-secret",
            ALLOWED_HOSTS=["testserver"],
            INSTALLED_APPS=[],
            MIDDLEWARE=[
                "django.middleware.common.CommonMiddleware",
                "django.middleware.csrf.CsrfViewMiddleware",
            ],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                                   "NAME": str(directory / "site.db")}},
            USE_TZ=True,
        )  # fmt: skip
        django.setup()
    return Path(settings.DATABASES["default"]["NAME"])


@attrs.frozen
class Answer:
    """A response: status, headers (lower-case names) and body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode()

    def json(self) -> Any:
        """The body as JSON."""
        return jsonlib.loads(self.content)


class RouteClient:
    """GET and POST against one framework's app with the API under ``/api``."""

    def __init__(
        self, framework: Framework, system: PaymentSystem, *, api: bool, plan_change: bool
    ) -> None:
        self.framework = framework
        self._fastapi: TestClient | None = None
        if framework == "fastapi":
            app = FastAPI()
            attach_system(app, system)
            if api:
                app.include_router(api_router(), prefix="/api")
            if plan_change:
                app.include_router(plan_change_router(), prefix="/api")
            self._fastapi = TestClient(app)
        elif framework == "flask":
            flask_app = Flask("shop")
            init_app(
                flask_app,
                system,
                api_prefix="/api" if api else None,
                plan_change_prefix="/api" if plan_change else None,
            )
            self._flask = flask_app.test_client()
        else:
            patterns = (api_urls(system) if api else []) + (
                plan_change_urls(system) if plan_change else []
            )

            class Urls:
                urlpatterns: Any = (path("api/", include(patterns)),)

            self._urls = Urls
            self._django = DjangoClient()

    def __enter__(self) -> RouteClient:
        if self._fastapi is not None:
            self._fastapi.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._fastapi is not None:
            self._fastapi.__exit__(kind, error, trace)

    def get(self, url: str, params: Mapping[str, str] | None = None) -> Answer:
        """GET ``url`` with the query ``params``."""
        if self._fastapi is not None:
            got = self._fastapi.get(url, params=params)
            return Answer(got.status_code, dict(got.headers.items()), got.content)
        if self.framework == "flask":
            answer = self._flask.get(url, query_string=params)
            return _answer(answer.status_code, answer.headers.items(), answer.data)
        with override_settings(ROOT_URLCONF=self._urls):
            reply = self._django.get(url, params)
        return _answer(reply.status_code, reply.items(), reply.content)

    def post(self, url: str, *, json: object = _NO_BODY, content: bytes | None = None) -> Answer:
        """POST ``json`` (encoded) or the raw ``content``; neither: an empty body."""
        if self._fastapi is not None:
            if json is not _NO_BODY:
                sent = self._fastapi.post(url, json=json)
            else:
                sent = self._fastapi.post(url, content=content)
            return Answer(sent.status_code, dict(sent.headers.items()), sent.content)
        raw = jsonlib.dumps(json).encode() if json is not _NO_BODY else (content or b"")
        if self.framework == "flask":
            answer = self._flask.post(url, data=raw, content_type="application/json")
            return _answer(answer.status_code, answer.headers.items(), answer.data)
        with override_settings(ROOT_URLCONF=self._urls):
            reply = self._django.post(url, data=raw, content_type="application/json")
        return _answer(reply.status_code, reply.items(), reply.content)


def _answer(status: int, headers: Any, body: bytes) -> Answer:
    return Answer(status, {name.lower(): value for name, value in headers}, body)


def route_client(
    framework: Framework, system: PaymentSystem, *, api: bool = True, plan_change: bool = False
) -> RouteClient:
    """A client of ``framework``'s app serving ``system``'s API (and plan changes) under /api."""
    return RouteClient(framework, system, api=api, plan_change=plan_change)
