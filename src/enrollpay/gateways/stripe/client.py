"""Building a :class:`stripe.StripeClient` the way enrollpay wants it.

``build_client`` gives a client with network retries on (the SDK reuses the
request's ``Idempotency-Key`` on every retry, so a retried charge is never
a second charge) and with the SDK's per-request telemetry off.

Telemetry in stripe-python 16 has two parts:

- the ``X-Stripe-Client-Telemetry`` header (the previous request's id and
  duration), sent by the HTTP client. :class:`TelemetryFreeHTTPClient`
  wraps the SDK's default HTTP client and never sends it, per client;
- a ``telemetry_id`` (stored by the SDK in ``~/.config/stripe``) and the
  platform string in ``X-Stripe-Client-User-Agent``, added by the SDK's
  requestor when the *global* ``stripe.enable_telemetry`` is true. No
  client option controls them, and enrollpay does not change global SDK
  settings; set ``stripe.enable_telemetry = False`` once at start-up if
  you want them gone as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe

__all__ = ["DEFAULT_NETWORK_RETRIES", "TelemetryFreeHTTPClient", "build_client", "client_option"]

#: Retries of a failed request (connection errors, 409, 5xx) by the SDK itself.
DEFAULT_NETWORK_RETRIES = 2


class TelemetryFreeHTTPClient(stripe.HTTPClient):
    """An SDK HTTP client that delegates to another and sends no telemetry header.

    The SDK's retry loop (``request_with_retries``) runs in this class, so
    the telemetry hooks it calls are the no-ops below; the wrapped client
    only performs the individual HTTP requests.
    """

    name = "enrollpay"

    def __init__(self, inner: stripe.HTTPClient | None = None) -> None:
        super().__init__()
        self._inner = inner if inner is not None else stripe.new_default_http_client()

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        """Perform one request with the wrapped client."""
        return self._inner.request(method, url, headers, post_data)

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        """Perform one streaming request with the wrapped client."""
        return self._inner.request_stream(method, url, headers, post_data)

    def close(self) -> None:
        """Close the wrapped client."""
        self._inner.close()  # type: ignore[no-untyped-call] # untyped in the SDK

    def _add_telemetry_header(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        return headers

    def _record_request_metrics(self, response: Any, request_start: Any, usage: Any) -> None:
        return None


def build_client(
    api_key: str,
    *,
    max_network_retries: int = DEFAULT_NETWORK_RETRIES,
    api_base: str | None = None,
    http_client: stripe.HTTPClient | None = None,
) -> stripe.StripeClient:
    """A :class:`stripe.StripeClient` with retries on and no telemetry header.

    ``api_base`` points the client elsewhere than ``https://api.stripe.com``
    (a local test server, stripe-mock); ``http_client`` is the SDK HTTP
    client to wrap (default: the SDK's own choice).
    """
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=max_network_retries,
        http_client=TelemetryFreeHTTPClient(http_client),
    )


def client_option(client: stripe.StripeClient, name: str) -> Any:
    """A setting of the client, read from its requestor (the SDK has no public getter).

    Used for the API key's mode and the configured retries; ``None`` when
    the SDK's internals change, and callers then need explicit arguments.
    """
    requestor = getattr(client, "_requestor", None)
    if name == "api_key":
        return getattr(requestor, "api_key", None)
    return getattr(getattr(requestor, "_options", None), name, None)
