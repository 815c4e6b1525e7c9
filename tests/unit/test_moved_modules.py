"""Modules that moved keep their old import paths, as silent re-exports of the same objects."""

from __future__ import annotations

import importlib

import pytest

MOVED = [
    ("enrollpay.gateways.stripe_amounts", "enrollpay.gateways.stripe.amounts"),
    ("enrollpay.gateways.stripe_client", "enrollpay.gateways.stripe.client"),
    ("enrollpay.service.ratelimit", "enrollpay.gateways.ratelimit"),
]


@pytest.mark.parametrize(("old", "new"), MOVED)
def test_an_old_path_re_exports_the_new_modules_objects(old: str, new: str) -> None:
    """Every name the old module exports is the very object of the new module."""
    old_module, new_module = importlib.import_module(old), importlib.import_module(new)
    assert old_module.__all__
    for name in old_module.__all__:
        assert getattr(old_module, name) is getattr(new_module, name), name


def test_the_stripe_package_exports_what_stripe_py_did() -> None:
    """``enrollpay.gateways.stripe`` still offers the adapter and its constants."""
    package = importlib.import_module("enrollpay.gateways.stripe")
    gateway = importlib.import_module("enrollpay.gateways.stripe.gateway")
    assert set(package.__all__) == {
        "ATTEMPT_KEY_METADATA",
        "REFUND_REFERENCE_METADATA",
        "SIGNATURE_HEADER",
        "USER_ID_METADATA",
        "StripeGateway",
        "key_livemode",
    }
    assert package.StripeGateway is gateway.StripeGateway
    assert (package.SIGNATURE_HEADER, package.ATTEMPT_KEY_METADATA) == (
        "Stripe-Signature",
        "enrollpay_attempt_key",
    )
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = package.Nothing


def test_the_fake_gateway_names_are_the_same_from_both_homes() -> None:
    """``enrollpay.testing`` and ``enrollpay.gateways.fake`` export the same fake objects."""
    fake = importlib.import_module("enrollpay.gateways.fake")
    testing = importlib.import_module("enrollpay.testing")
    for name in ("FakeCall", "FakeCharge", "FakeGateway", "Outcome", "SignedWebhook"):
        assert getattr(testing, name) is getattr(fake, name), name
    assert fake.SIGNATURE_HEADER == "Stripe-Signature"
