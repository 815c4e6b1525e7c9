"""The student portal: courses, checkout, my enrollments, pay now, update card.

Students "sign in as" a student id (an example shortcut: a real application
has its own login and passes its user id). With the fake gateway the pay
and card pages show a clearly marked TEST-MODE form: the student picks a
test card, the server confirms the payment at the fake
(``complete_payment``) and delivers its webhook, exactly the path a real
Stripe payment takes. No card number ever reaches the server: the choices
are names of test cards. With Stripe configured the page loads Stripe
Elements with the client secret instead (the card goes straight to Stripe).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from enrollpay import PaymentSystem
from enrollpay.domain.lifecycle import AttemptStatus, ItemStatus
from enrollpay.domain.plans import describe_plan
from enrollpay.domain.records import ScheduleItem
from enrollpay.errors import EnrollpayError, InvalidStateError, NotFoundError
from enrollpay.gateways.fake import FakeGateway, Outcome
from enrollpay.integrations.fastapi import get_system
from enrollpay.service.results import PaymentDetails

from .web import (
    fake_gateway,
    flash,
    page,
    read_form,
    redirect,
    require_student,
    safe_next,
)

__all__ = ["TEST_CARDS", "router"]

System = Annotated[PaymentSystem, Depends(get_system)]
Student = Annotated[str, Depends(require_student)]
Form = Annotated[dict[str, str], Depends(read_form)]

#: The TEST-MODE card choices: value -> (label, outcome, payment method id at the fake).
TEST_CARDS: dict[str, tuple[str, Outcome, str]] = {
    "4242": ("4242 4242 4242 4242 succeeds", Outcome("succeed"), "pm_card_visa"),
    "0002": (
        "4000 0000 0000 0002 declined",
        FakeGateway.decline("card_declined"),
        "pm_card_chargeDeclined",
    ),
    "9995": (
        "4000 0000 0000 9995 declined: insufficient funds",
        FakeGateway.decline("insufficient_funds"),
        "pm_card_chargeDeclinedInsufficientFunds",
    ),
}
#: Cards the card-update form offers (a setup moves no money, so no declines).
SETUP_CARDS = {"4242": "pm_card_visa", "5555": "pm_card_mastercard"}

#: Item statuses a student can pay now (a scheduled item only once it is due).
_PAY_NOW = {
    ItemStatus.FAILED,
    ItemStatus.REQUIRES_ACTION,
    ItemStatus.REQUIRES_PAYMENT_METHOD,
    ItemStatus.DEFAULTED,
}

router = APIRouter()


def payable_now(details: PaymentDetails, item: ScheduleItem, today: Any) -> bool:
    """Whether the portal offers "pay now" for ``item``."""
    if str(details.enrollment.status) in ("cancelled", "paused"):
        return False
    if item.status in _PAY_NOW:
        return True
    if item.status == ItemStatus.SCHEDULED:
        return bool(item.due <= today)
    if item.status == ItemStatus.PROCESSING:
        # An open checkout (on-session) can be finished; an off-session charge in flight cannot.
        attempts = [a for a in details.attempts if a.item_id == item.id]
        last = attempts[-1] if attempts else None
        return (
            last is not None
            and last.mode == "on_session"
            and last.status in (AttemptStatus.PENDING, AttemptStatus.REQUIRES_ACTION)
        )
    return False


def _owned_item(system: PaymentSystem, student: str, item_id: str) -> PaymentDetails:
    """The details of the enrollment ``item_id`` belongs to, if the student owns it."""
    for enrollment in system.list_enrollments(user_id=student):
        details = system.payment_details(enrollment.id)
        if any(i.id == item_id for i in details.items):
            return details
    raise NotFoundError(f"no schedule item {item_id!r} for this student")


# -- sign in ---------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """The start page: where to go."""
    return page(request, "home.html", {})


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    """Sign in as a student id."""
    return page(
        request, "login.html", {"next": safe_next(next, "/portal"), "values": {}, "errors": {}}
    )


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, form: Form) -> Response:
    """Remember the student id in the session."""
    student = form.get("student_id", "")
    target = safe_next(form.get("next"), "/portal")
    if not student or len(student) > 64 or any(c.isspace() for c in student):
        errors = {"student_id": "Enter your student id (letters, digits, dashes; no spaces)."}
        return page(
            request,
            "login.html",
            {"next": target, "values": form, "errors": errors},
            status=422,
        )
    request.session["student"] = student
    return redirect(target)


@router.post("/logout")
def logout(request: Request, _form: Form) -> Response:
    """Forget the student (the form's token checked: another site cannot)."""
    request.session.pop("student", None)
    return redirect("/")


# -- courses and checkout -------------------------------------------------------------


@router.get("/courses", response_class=HTMLResponse)
def courses(request: Request, system: System) -> Response:
    """Every active product, with a link to its checkout."""
    return page(request, "courses.html", {"products": system.list_products(active=True)})


def _checkout(
    request: Request, system: System, product_id: str, errors: dict[str, str], status: int = 200
) -> Response:
    product = system.get_product(product_id)
    plans = [
        {
            "index": n,
            "description": describe_plan(plan),
            "lines": system.preview_schedule(product.id, plan),
        }
        for n, plan in enumerate(system.eligible_plans(product.id))
    ]
    return page(
        request,
        "checkout.html",
        {"product": product, "plans": plans, "errors": errors},
        status=status,
    )


@router.get("/checkout/{product_id}", response_class=HTMLResponse)
def checkout(request: Request, system: System, _student: Student, product_id: str) -> Response:
    """The plans a student may choose, each with the schedule it would give."""
    return _checkout(request, system, product_id, {})


@router.post("/checkout/{product_id}", response_class=HTMLResponse)
def enroll(
    request: Request, system: System, student: Student, form: Form, product_id: str
) -> Response:
    """Enroll with the chosen plan; go to pay the first payment if one is due now."""
    plans = system.eligible_plans(product_id)
    choice = form.get("plan", "")
    if not choice.isdigit() or int(choice) >= len(plans):
        return _checkout(request, system, product_id, {"plan": "Choose a payment plan."}, 422)
    try:
        result = system.enroll(user_id=student, product_id=product_id, plan=plans[int(choice)])
    except EnrollpayError as exc:
        return _checkout(request, system, product_id, {"form": str(exc)}, 409)
    if result.requires_immediate_payment and result.payment_item_id is not None:
        return redirect(f"/portal/items/{result.payment_item_id}/pay")
    if result.enrollment.awaiting_payment_method:
        # A trial starts once a card is saved (any setup flow of the student's will do).
        flash(request, "Save a card to start your trial; it is charged when the trial ends.")
        return redirect("/portal/card")
    flash(request, "You are enrolled.")
    return redirect("/portal")


# -- my enrollments --------------------------------------------------------------------


@router.get("/portal", response_class=HTMLResponse)
def portal(request: Request, system: System, student: Student) -> Response:
    """My enrollments: schedule, payments and refunds of each, and what I can pay now."""
    today = system.today()
    entries = []
    for enrollment in system.list_enrollments(user_id=student):
        details = system.payment_details(enrollment.id)
        entries.append(
            {
                "details": details,
                "plan": describe_plan(enrollment.plan),
                "payable": {i.id for i in details.items if payable_now(details, i, today)},
                # Each payment's receipt and each refund's credit note, to link to.
                "receipts": {
                    (r.refund_id or r.payment_id): r for r in system.list_receipts(enrollment.id)
                },
            }
        )
    return page(
        request,
        "portal.html",
        {"entries": entries, "has_gateway": system.gateway is not None},
    )


def _pay_page(
    request: Request,
    system: System,
    student: str,
    item_id: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    details = _owned_item(system, student, item_id)
    item = next(i for i in details.items if i.id == item_id)
    if not payable_now(details, item, system.today()):
        flash(request, f"That payment cannot be paid now (it is {item.status}).")
        return redirect("/portal")
    session = system.start_payment(item_id)
    fake = fake_gateway(system)
    return page(
        request,
        "pay.html",
        {
            "details": details,
            "item": item,
            "test_mode": fake is not None,
            "cards": {value: label for value, (label, _, _) in TEST_CARDS.items()},
            # Only the Stripe branch puts the client secret in the page (Elements needs it).
            "client_secret": None if fake is not None else session.client_secret,
            "publishable_key": request.app.state.stripe_publishable_key,
            "error": error,
        },
        status=status,
    )


@router.get("/portal/items/{item_id}/pay", response_class=HTMLResponse)
def pay_form(request: Request, system: System, student: Student, item_id: str) -> Response:
    """Pay one item now: the TEST-MODE card form on the fake, Stripe Elements otherwise."""
    return _pay_page(request, system, student, item_id)


@router.post("/portal/items/{item_id}/pay", response_class=HTMLResponse)
def pay(request: Request, system: System, student: Student, form: Form, item_id: str) -> Response:
    """TEST MODE only: confirm the payment at the fake with the chosen test card."""
    fake = fake_gateway(system)
    if fake is None:
        # With Stripe the card is confirmed by Stripe.js in the browser, never posted here.
        raise InvalidStateError("test cards exist only when the app runs on the fake gateway")
    card = TEST_CARDS.get(form.get("card", ""))
    if card is None:
        return _pay_page(request, system, student, item_id, error="Choose a test card.", status=422)
    details = _owned_item(system, student, item_id)
    item = next(i for i in details.items if i.id == item_id)
    label, outcome, method = card
    session = system.start_payment(item_id)
    result = fake.complete_payment(session.client_secret, outcome, payment_method=method)
    fake.deliver(system)  # the webhook, as the gateway would send it
    if result.status != "succeeded":
        message = result.message or f"The card was declined ({result.decline_code})."
        return _pay_page(request, system, student, item_id, error=message, status=402)
    flash(request, f"Payment of {item.outstanding.format('en_US')} received with {label}.")
    return redirect("/portal")


# -- card update ---------------------------------------------------------------------------


@router.get("/portal/card", response_class=HTMLResponse)
def card_form(request: Request, system: System, student: Student) -> Response:
    """Save a new card for later installments (a setup flow at the gateway)."""
    secret = system.start_payment_method_update(student)
    fake = fake_gateway(system)
    if fake is not None:
        # Kept server-side: a posted secret could name another student's setup.
        request.session["setup_secret"] = secret
    return page(
        request,
        "card.html",
        {
            "test_mode": fake is not None,
            "cards": SETUP_CARDS,
            "client_secret": None if fake is not None else secret,
            "publishable_key": request.app.state.stripe_publishable_key,
            "errors": {},
        },
    )


@router.post("/portal/card", response_class=HTMLResponse)
def update_card(request: Request, system: System, student: Student, form: Form) -> Response:
    """TEST MODE only: finish the setup at the fake; its webhook saves the card."""
    fake = fake_gateway(system)
    if fake is None:
        raise InvalidStateError("test cards exist only when the app runs on the fake gateway")
    method = SETUP_CARDS.get(form.get("card", ""))
    secret = request.session.get("setup_secret")
    if method is None or not isinstance(secret, str):
        return page(
            request,
            "card.html",
            {
                "test_mode": True,
                "cards": SETUP_CARDS,
                "client_secret": None,
                "publishable_key": None,
                "errors": {"card": "Choose a test card."},
            },
            status=422,
        )
    request.session.pop("setup_secret", None)
    try:
        fake.complete_setup(secret, method)
    except KeyError:
        raise NotFoundError("unknown card setup; open the form again") from None
    fake.deliver(system)
    flash(request, "Your card was updated.")
    return redirect("/portal")
