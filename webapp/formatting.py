"""Number and time formats for the dashboard, used as Jinja filters.

Figures arrive as exact decimal strings (from the current-volume document and the query rows); they are
formatted here on the server, compact for the eye ("$12.34B") and in full for the `title` attribute.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from markupsafe import Markup, escape
from quart import Quart

_UNITS = (
    (Decimal(1), ""),
    (Decimal(10) ** 3, "K"),
    (Decimal(10) ** 6, "M"),
    (Decimal(10) ** 9, "B"),
    (Decimal(10) ** 12, "T"),
)
_CENT = Decimal("0.01")
NO_FIGURE = "—"


def to_decimal(value: Any) -> Decimal | None:
    """A Decimal from a decimal string, int or Decimal; None for None, "" or anything not a number."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def usd_compact(value: Any) -> str:
    """`$12.34B`, `$456.70M`, `$9.99K`, `$12.30`; `—` when there is no figure."""
    number = to_decimal(value)
    if number is None:
        return NO_FIGURE
    sign = "-" if number < 0 else ""
    magnitude = abs(number)
    for size, suffix in _UNITS:
        # Rounded before choosing the unit, so 999,999.999 shows as $1.00M rather than $1,000.00K.
        scaled = (magnitude / size).quantize(_CENT, ROUND_HALF_EVEN)
        if scaled < 1000 or suffix == "T":
            return f"{sign}${scaled:,}{suffix}"
    raise AssertionError("unreachable: the last unit always returns")


def usd_full(value: Any) -> str:
    """Every digit of the stored figure with thousands separators: `$12,345,678.901234`."""
    number = to_decimal(value)
    if number is None:
        return "no figure"
    sign = "-" if number < 0 else ""
    whole, _, fraction = format(abs(number), "f").partition(".")
    grouped = f"{int(whole):,}"
    return f"{sign}${grouped}.{fraction}" if fraction else f"{sign}${grouped}"


def money_html(value: Any, css_class: str = "") -> Markup:
    """A figure for the page: compact for the eye, every digit in the title, the exact value in `<data>`.

    The `money` macro in `templates/macros/format.html` is this; long tables call it directly, since a
    Jinja macro call costs several times the formatting (a two-year table has hundreds of figures).
    """
    if value is None:
        return Markup(f'<span class="num {escape(css_class)}" title="No figure">{NO_FIGURE}</span>')
    return Markup(
        f'<data class="num {escape(css_class)}" value="{escape(value)}" '
        f'title="{escape(usd_full(value))} USD">{escape(usd_compact(value))}</data>'
    )


def percent(value: Any, places: int = 2) -> str:
    """A fraction 0..1 as a percentage: `0.4321` -> `43.21%`."""
    number = to_decimal(value)
    if number is None:
        return NO_FIGURE
    return f"{(number * 100).quantize(Decimal(10) ** -places, ROUND_HALF_EVEN)}%"


def signed_percent(value: Any) -> str:
    """A percentage figure with its sign: `1.5` -> `+1.50%`, `-0.2` -> `−0.20%`."""
    number = to_decimal(value)
    if number is None:
        return NO_FIGURE
    rounded = number.quantize(_CENT, ROUND_HALF_EVEN)
    if rounded > 0:
        return f"+{rounded}%"
    if rounded < 0:
        return f"−{abs(rounded)}%"
    return "0.00%"


def age(seconds: Any) -> str:
    """A duration for humans: `42 s`, `3 min`, `2 h 5 min`, `3 d 4 h`."""
    if seconds is None:
        return "never"
    total = max(0, int(seconds))
    if total < 60:
        return f"{total} s"
    minutes, _ = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def utc_time(value: Any) -> str:
    """`2024-03-01 12:00:05 UTC` from an ISO string or an aware datetime."""
    at = parse_time(value)
    if at is None:
        return "never"
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds_since(value: Any, now: datetime | None = None) -> int | None:
    at = parse_time(value)
    if at is None:
        return None
    return int(((now or datetime.now(UTC)) - at).total_seconds())


def register_filters(app: Quart) -> None:
    app.jinja_env.globals["money_html"] = money_html
    app.jinja_env.filters.update(
        usd_compact=usd_compact,
        usd_full=usd_full,
        percent=percent,
        signed_percent=signed_percent,
        age=age,
        utc_time=utc_time,
        seconds_since=seconds_since,
    )
