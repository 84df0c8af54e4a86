"""Schemathesis hooks for the order-api contract fuzz test (test/contractFuzz.test.ts).

Each hook keeps a generated request inside what the OpenAPI document says but JSON Schema
cannot express, so "a documented-valid request was rejected" means a real disagreement:

- `total`, when sent, must equal the sum of price x quantity (documented in its description):
  a valid `total` is replaced by the exact sum of valid lines.
- The computed order total has a documented maximum: requests whose valid lines add up to more
  are dropped (the API answers 422 `order.total_too_large`, tested in placeOrder.test.ts).
- An `Idempotency-Key` used again with another request is a 422: every valid key is made fresh.
- `cursor` is opaque, valid only as the API handed it out for that customer (the stateful phase
  follows the `NextPage` link, but may pair its cursor with another generated `customerId`): any
  other well-formed one is dropped (over 1024 characters it stays, as a negative case). A cursor of
  another customer is a documented 422, tested in listOrders.test.ts.

Invalid values are left alone, so negative cases stay negative.
"""

import base64
import json
import re
import uuid
from decimal import Decimal

import schemathesis

MAX_PRICE = Decimal("1000000000")
MAX_TOTAL = Decimal("9999999999999.99")
CENT = Decimal("0.01")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _amount(value, maximum):
    """The exact decimal of a valid amount, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if amount < 0 or amount > maximum or amount % CENT != 0:
        return None
    return amount


def _valid_lines_total(body):
    """The exact total of the body's lines when every line is valid, else None."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list) or not body["items"]:
        return None
    total = Decimal(0)
    for line in body["items"]:
        if not isinstance(line, dict):
            return None
        price = _amount(line.get("price"), MAX_PRICE)
        quantity = line.get("quantity")
        # 28.0 is an integer to JSON Schema (and to JSON.parse).
        if isinstance(quantity, bool) or not isinstance(quantity, (int, float)) or quantity != int(quantity):
            return None
        if price is None or not 1 <= quantity <= 1000:
            return None
        total += price * int(quantity)
    return total


def _issued_cursor(cursor, customer_id):
    """Whether a cursor looks like one the API handed out for this customer's listing."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        return False
    return isinstance(key, dict) and key.get("gsi1pk") == f"CUSTOMER#{customer_id}"


def _is_place_order(case):
    return case.method.upper() == "POST" and case.path == "/orders"


@schemathesis.hook
def filter_case(context, case):
    if _is_place_order(case):
        total = _valid_lines_total(case.body)
        if total is not None and total > MAX_TOTAL:
            return False
    return True


@schemathesis.hook
def map_case(context, case):
    key = case.headers.get("Idempotency-Key") if case.headers else None
    if isinstance(key, str) and IDEMPOTENCY_KEY.match(key):
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
    if _is_place_order(case) and isinstance(case.body, dict) and "total" in case.body:
        total = _valid_lines_total(case.body)
        if total is not None and _amount(case.body["total"], MAX_TOTAL) is not None:
            case.body["total"] = float(total) if total != total.to_integral_value() else int(total)
    if case.method.upper() == "GET" and case.path == "/orders" and isinstance(case.query, dict):
        cursor = case.query.get("cursor")
        issued = _issued_cursor(cursor, case.query.get("customerId")) if isinstance(cursor, str) else False
        if isinstance(cursor, str) and len(cursor) <= 1024 and not issued:
            del case.query["cursor"]
    return case
