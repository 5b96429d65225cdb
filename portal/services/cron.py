"""Cron time arithmetic in a script's time zone: pure functions, no database.

Expressions are evaluated in local wall-clock time, then mapped to UTC with the zone's rules,
so `0 9 * * *` in Europe/Berlin fires at 09:00 local time all year (08:00 UTC in winter,
07:00 UTC in summer). Across DST changes it behaves as Vixie cron does:

* a wall time the clock skips (spring forward: 02:30 on the day clocks go from 02:00 to 03:00)
  fires once, at the moment after the gap (03:30 local, the same elapsed time after 02:00);
* a wall time the clock passes twice (fall back) fires once, at its first occurrence, unless
  the expression fires every hour (hour field `*`): then it follows real time and fires in the
  repeated hour too, so `*/15 * * * *` keeps firing every 15 minutes.
"""

import calendar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import get_day_names, get_month_names
from cron_descriptor import ExpressionDescriptor, FormatError, MissingFieldError, Options, WrongArgumentError
from croniter import CroniterError, croniter

# Near a DST change many candidates may be looked at (a minute-by-minute expression across a
# repeated hour); elsewhere one or two are.
_MAX_CANDIDATES = 500
_NEAR = timedelta(hours=3)  # more than the largest DST shift anywhere (2 h)
# The portal's languages that cron-descriptor can describe in, with its locale for each.
_DESCRIBED = {"en": "en_US", "ru": "ru_RU"}


def next_fire(expression: str, timezone: str, after: datetime) -> datetime:
    """The first fire time strictly after `after` (aware), in UTC. Raises CroniterError when none."""
    zone = ZoneInfo(timezone)
    after = after.astimezone(UTC)
    offsets = [(after + shift).astimezone(zone).utcoffset() for shift in (-_NEAR, timedelta(0), _NEAR)]
    spread = max(offsets) - min(offsets)  # zero unless a DST change is near
    every_hour = expression.split()[1] == "*"
    # Slots are walked in wall-clock order from the earliest wall time `after` can have nearby.
    candidates = croniter(expression, (after + min(offsets)).replace(tzinfo=None) - timedelta(seconds=1))
    best: datetime | None = None
    horizon: datetime | None = None
    for _ in range(_MAX_CANDIDATES):
        slot = candidates.get_next(datetime)
        if horizon is not None and slot > horizon:
            return best
        for instant in _instants(slot, zone, every_hour):
            if instant > after and (best is None or instant < best):
                best, horizon = instant, slot + spread
        if best is not None and not spread:
            return best
    if best is not None:
        return best
    raise CroniterError(f"no fire time of {expression!r} found after {after.isoformat()}")


def _instants(slot: datetime, zone: ZoneInfo, every_hour: bool) -> tuple[datetime, ...]:
    """The moments (UTC) at which the wall-clock `slot` fires."""
    first, second = (slot.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    if first == second:
        return (first,)
    if first.astimezone(zone).replace(tzinfo=None) != slot:  # skipped by a spring-forward gap
        return () if every_hour else (first,)
    return (first, second) if every_hour else (first,)


def upcoming_runs(expression: str, timezone: str, n: int, after: datetime | None = None) -> list[datetime]:
    """The next `n` fire times after `after` (default: now), in UTC: the portal's schedule preview."""
    times: list[datetime] = []
    moment = after or datetime.now(UTC)
    for _ in range(n):
        moment = next_fire(expression, timezone, moment)
        times.append(moment)
    return times


def never_fires(expression: str, timezone: str) -> bool:
    """True for a valid expression that names no existing moment (e.g. `0 0 31 2 *`)."""
    try:
        next_fire(expression, timezone, datetime.now(UTC))
    except CroniterError:
        return True
    return False


def describe(expression: str, language: str) -> str | None:
    """The expression in words in `language` ("At 09:00, Monday through Friday"), 24-hour clock; None
    for a language cron-descriptor lacks (the portal says it its own way) or an expression it cannot read."""
    locale = _DESCRIBED.get(language)
    if locale is None:
        return None
    options = Options()
    options.locale_code = locale
    options.use_24hour_time_format = True
    try:
        description = ExpressionDescriptor(expression, options).get_description()
    except (FormatError, MissingFieldError, WrongArgumentError):
        return None
    if language != "en":  # cron-descriptor names days and months as the process's C locale does: in English
        names = [(calendar.day_name[number], name) for number, name in
                 get_day_names("wide", "stand-alone", locale=language).items()]
        names += [(calendar.month_name[number], name) for number, name in
                  get_month_names("wide", "stand-alone", locale=language).items()]
        for english, local in names:
            description = description.replace(english, local)
    return description
