"""The route table the three framework adapters mount: its translations, and that they mount it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import cast

import pytest
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.test import Client, override_settings
from django.urls import include, path, reverse
from fastapi import FastAPI
from flask import Flask

from enrollpay import PaymentSystem
from enrollpay.integrations.api import ApiAnswer
from enrollpay.integrations.django import api_urls, plan_change_urls
from enrollpay.integrations.fastapi import api_router, plan_change_router
from enrollpay.integrations.flask import init_app
from enrollpay.integrations.receipts_api import ReceiptDocument
from enrollpay.integrations.routes import (
    API_ROUTES,
    PLAN_CHANGE_ROUTES,
    ROUTES_BY_NAME,
    Route,
    django_path,
    flask_path,
    parse_body,
    reply,
    serve,
)

from .route_clients import Framework, route_client

EVERY_ROUTE = API_ROUTES + PLAN_CHANGE_ROUTES
#: The table as (method, path): what each framework must serve, no more, no less.
TABLE = {(route.method, f"/api{route.path}") for route in EVERY_ROUTE}


def test_templates_translate_to_each_frameworks_syntax() -> None:
    """Braces become Flask's angle brackets and Django's str converters (no leading slash)."""
    template = "/payers/{payer_id}/statement"

    assert ROUTES_BY_NAME["enrollpay_payer_statement"].path == template
    assert ROUTES_BY_NAME["enrollpay_payer_statement"].parameters == ("payer_id",)
    assert flask_path(template) == "/payers/<payer_id>/statement"
    assert django_path(template) == "payers/<str:payer_id>/statement"
    assert django_path("/payers") == "payers"
    assert ROUTES_BY_NAME["enrollpay_payers"].parameters == ()


def test_route_names_are_unique_and_every_write_is_a_post() -> None:
    """Names key Flask's endpoints and Django's reverse(); only the seat and plan routes write."""
    assert len(ROUTES_BY_NAME) == len(EVERY_ROUTE) == 13
    posts = {route.name for route in EVERY_ROUTE if route.method == "POST"}
    assert posts == {
        "enrollpay_join_waitlist",
        "enrollpay_accept_seat_offer",
        "enrollpay_plan_preview",
        "enrollpay_plan_change",
    }
    assert all(route.method == "POST" for route in PLAN_CHANGE_ROUTES)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        (b"", None),
        (b"{oops", None),
        (b"\xff\xfe", None),
        (b"[1]", [1]),
        (b'{"user_id": "u-1"}', {"user_id": "u-1"}),
    ],
)
def test_a_body_is_its_json_or_none(raw: bytes, parsed: object) -> None:
    """Empty, malformed or undecodable bodies reach the handlers as None; JSON as its value."""
    assert parse_body(raw) == parsed


@pytest.mark.parametrize("raw", [b"{oops", b"\xff\xfe", b"[1]", b'"text"', b"null"])
def test_a_post_body_that_is_not_a_json_object_is_refused_before_the_handler(raw: bytes) -> None:
    """422 ``invalid_input`` for every POST route; the handler (which would write) never runs."""
    called: list[object] = []

    def handler(*args: object) -> ApiAnswer:
        called.append(args)
        return ApiAnswer(201, {})

    route = Route("POST", "/things", "things", handler, "Write a thing.")
    answer = serve(route, cast("PaymentSystem", object()), {}, {}, raw)

    assert (answer.status, json.loads(answer.body)) == (
        422,
        {"error": "invalid_input", "message": "the body must be a JSON object"},
    )
    assert called == []


@pytest.mark.parametrize(("raw", "body"), [(b"", None), (b"  ", None), (b'{"a": 1}', {"a": 1})])
def test_an_empty_body_or_an_object_reaches_the_handler(raw: bytes, body: object) -> None:
    """Nothing (the routes' defaults apply) or the object as parsed."""
    seen: list[object] = []

    def handler(_system: object, _path: object, _query: object, got: object) -> ApiAnswer:
        seen.append(got)
        return ApiAnswer(201, {})

    route = Route("POST", "/things", "things", handler, "Write a thing.")
    assert serve(route, cast("PaymentSystem", object()), {}, {}, raw).status == 201
    assert seen == [body]


def test_replies_carry_json_as_fastapi_writes_it_and_documents_as_they_are() -> None:
    """Compact UTF-8 JSON; a PDF keeps its type and gets its download name."""
    json_reply = reply(ApiAnswer(404, {"error": "not_found", "message": "no café"}))
    pdf_reply = reply(ReceiptDocument(200, "application/pdf", b"%PDF-", filename="R-1.pdf"))

    assert (json_reply.status, json_reply.content_type) == (404, "application/json")
    assert json_reply.body == '{"error":"not_found","message":"no café"}'.encode()
    assert dict(json_reply.headers) == {}
    assert (pdf_reply.status, pdf_reply.content_type, pdf_reply.body) == (
        200,
        "application/pdf",
        b"%PDF-",
    )
    assert pdf_reply.headers == {"Content-Disposition": 'attachment; filename="R-1.pdf"'}


def test_fastapi_mounts_the_table() -> None:
    """Both routers serve exactly the table's methods and paths, path parameters declared."""
    app = FastAPI()
    app.include_router(api_router(), prefix="/api")
    app.include_router(plan_change_router(), prefix="/api")
    paths = app.openapi()["paths"]
    served = {(method.upper(), url) for url, operations in paths.items() for method in operations}

    assert served == TABLE
    (declared,) = paths["/api/payers/{payer_id}/statement"]["get"]["parameters"]
    assert (declared["name"], declared["in"], declared["required"]) == ("payer_id", "path", True)


def test_flask_mounts_the_table(system: PaymentSystem) -> None:
    """init_app with both prefixes routes exactly the table; endpoints are the route names."""
    app = Flask("shop")
    init_app(app, system, webhook_path=None, api_prefix="/api", plan_change_prefix="/api")
    served = {
        (method, re.sub(r"<(\w+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods or ()
        if method in ("GET", "POST")
    }

    assert served == TABLE
    with app.test_request_context():
        from flask import url_for  # noqa: PLC0415 - needs the request context above

        assert url_for("enrollpay_payer", payer_id="acme") == "/api/payers/acme"


def test_django_mounts_the_table(system: PaymentSystem, django_site: object) -> None:
    """api_urls() and plan_change_urls() route exactly the table's paths; reverse() knows names."""
    del django_site
    patterns = api_urls(system) + plan_change_urls(system)

    class Urls:
        urlpatterns = (path("api/", include(patterns)),)

    served = ["/api/" + re.sub(r"<str:(\w+)>", r"{\1}", str(p.pattern)) for p in patterns]

    # One pattern a path: its view tells the methods apart (see the 405 test below).
    assert sorted(served) == sorted({url for _, url in TABLE})
    with override_settings(ROOT_URLCONF=Urls):
        assert reverse("enrollpay_payer", kwargs={"payer_id": "acme"}) == "/api/payers/acme"


def test_a_django_decorator_wraps_every_view(system: PaymentSystem, django_site: object) -> None:
    """decorator= guards each view: refused before the handler, let through when it allows."""
    del django_site

    def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        def guarded(request: HttpRequest, **kwargs: str) -> HttpResponse:
            if request.headers.get("X-Staff") != "yes":
                return HttpResponseForbidden()
            return view(request, **kwargs)

        return guarded

    class Urls:
        urlpatterns = (
            path("api/", include(api_urls(system, decorator=staff_only))),
            path("staff/", include(plan_change_urls(system, decorator=staff_only))),
        )

    with override_settings(ROOT_URLCONF=Urls):
        client = Client()
        stranger = client.get("/api/payers")
        staff = client.get("/api/payers", headers={"X-Staff": "yes"})
        change = client.post(
            "/staff/enrollments/enr_nope/plan-change", {}, content_type="application/json"
        )

    assert (stranger.status_code, staff.status_code, change.status_code) == (403, 200, 403)
    assert staff.json() == {"payers": []}


@pytest.mark.parametrize(
    ("method", "url"),
    [("GET", "/api/products/p-1/waitlist"), ("POST", "/api/payers"), ("POST", "/api/plans")],
)
def test_another_method_is_405(
    framework: Framework, system: PaymentSystem, method: str, url: str
) -> None:
    """A GET on a POST route, a POST on a GET route: refused before any handler runs."""
    with route_client(framework, system) as client:
        answer = client.get(url) if method == "GET" else client.post(url, json={})

    assert answer.status_code == 405
