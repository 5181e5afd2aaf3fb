"""Label sets of the text model."""

from __future__ import annotations

# The 27 Bitext customer-service intents (check_invoices folded into check_invoice).
INTENTS: tuple[str, ...] = (
    "cancel_order",
    "change_order",
    "change_shipping_address",
    "check_cancellation_fee",
    "check_invoice",
    "check_payment_methods",
    "check_refund_policy",
    "complaint",
    "contact_customer_service",
    "contact_human_agent",
    "create_account",
    "delete_account",
    "delivery_options",
    "delivery_period",
    "edit_account",
    "get_invoice",
    "get_refund",
    "newsletter_subscription",
    "payment_issue",
    "place_order",
    "recover_password",
    "registration_problems",
    "review",
    "set_up_shipping_address",
    "switch_account",
    "track_order",
    "track_refund",
)

_INTENT_ALIASES = {"check_invoices": "check_invoice"}


def canonical_intent(name: str) -> str:
    name = name.strip()
    name = _INTENT_ALIASES.get(name, name)
    if name not in INTENTS:
        raise ValueError(f"Unknown intent {name!r}")
    return name
