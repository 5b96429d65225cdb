"""The time-zone table behind the sandbox's Intl.DateTimeFormat (runtime/sandbox/intl.js), made at set-up.

`python -P runtime/zonetable.py OUT.js` writes every zone Python's zoneinfo knows, with its UTC
offsets and abbreviations from 1970 to 2100, as one JavaScript string that intl.js reads where
a script needs it: a zone's line is found by binary search (lines are sorted by name), an
instant's offset by binary search within the line (its records have a fixed width), so no zone
is ever parsed whole. Before 1970 a zone keeps its first offset of
1970, after 2100 the offset it ends 2100 with. The file is a build artefact (git-ignored,
remade by the Makefile) so that it follows the tzdata of the machine it is built on; every
transition written is checked against zoneinfo's own answers before the file is.

Format, one zone per line: `Name;offsets;abbreviations;transitions`. Offsets are seconds in base
36, abbreviations are tzdata's, and each transition is 8 characters: the instant in seconds since
1970 as 7 base-36 digits, then the index of the state in force from then on as one; the first
state is in force before the first transition. A zone whose data equals an earlier one is a line
`Name=Other`.
"""

import struct
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo, available_timezones

FIRST = 0  # 1970-01-01T00:00:00Z
LAST = int(datetime(2101, 1, 1, tzinfo=UTC).timestamp())
_WEEK = 7 * 86400  # past a file's last listed transition, offsets follow a yearly rule: changes months apart
_COUNTS = struct.Struct(">6l")
_TIME_DIGITS = 7  # base 36: up to 78 364 164 095 s after 1970


def _state(zone: ZoneInfo, at: int) -> tuple[int, str]:
    moment = datetime.fromtimestamp(at, UTC).astimezone(zone)
    return int(moment.utcoffset().total_seconds()), moment.tzname()


def _tzif(key: str) -> bytes:
    """The TZif file zoneinfo reads for `key`: the first found on its TZPATH, else the tzdata package's."""
    for directory in TZPATH:
        path = Path(directory, key)
        if path.is_file():
            return path.read_bytes()
    return resources.files("tzdata").joinpath("zoneinfo", *key.split("/")).read_bytes()


def _listed(data: bytes) -> list[int]:
    """The transition instants a TZif file lists (its 64-bit block, RFC 8536)."""
    if data[:4] != b"TZif":
        raise ValueError("not a TZif file")
    isut, isstd, leap, times, types, chars = _COUNTS.unpack_from(data, 20)
    if data[4] == 0:  # version 1: 32-bit times only
        return list(struct.unpack_from(f">{times}l", data, 44))
    second = 44 + times * 5 + types * 6 + chars + leap * 8 + isstd + isut
    times = _COUNTS.unpack_from(data, second + 20)[3]
    return list(struct.unpack_from(f">{times}q", data, second + 44))


def transitions(zone: ZoneInfo) -> tuple[tuple[int, str], list[tuple[int, tuple[int, str]]]]:
    """(state at FIRST, [(instant, state from then on)]) where a state is (UTC offset in seconds, abbreviation).

    The file's own transitions are checked one by one; past the last of them the range is stepped
    through a week at a time and each change bisected down to the second."""
    first = previous = _state(zone, FIRST)
    found = []
    listed = [at for at in _listed(_tzif(zone.key)) if FIRST < at < LAST]
    for at in listed:
        state = _state(zone, at)
        if state != previous:
            found.append((at, state))
            previous = state
    low = max([FIRST, *listed])
    while low < LAST:
        high = min(low + _WEEK, LAST)
        state = _state(zone, high)
        if state != previous:
            a, b = low, high  # the old state at a, another at b
            while b - a > 1:
                middle = (a + b) // 2
                if _state(zone, middle) == previous:
                    a = middle
                else:
                    b = middle
            found.append((b, _state(zone, b)))
            previous = found[-1][1]
            if previous != state:
                raise ValueError(f"{zone.key}: two changes within a week after {b}")
        low = high
    return first, found


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    sign, number = ("-", -number) if number < 0 else ("", number)
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if not number:
            return sign + text


def zone_line(zone: ZoneInfo) -> str:
    first, found = transitions(zone)
    states = [first]
    for _, state in found:
        if state not in states:
            states.append(state)
    if len(states) > 36:
        raise ValueError(f"{zone.key}: more than 36 states")
    encoded = "".join(_base36(instant).rjust(_TIME_DIGITS, "0") + _base36(states.index(state))
                      for instant, state in found)
    return ";".join([",".join(_base36(offset) for offset, _ in states),
                     ",".join(name for _, name in states), encoded])


def check(zone: ZoneInfo, line: str) -> None:
    """Decode `line` as intl.js does and compare it with zoneinfo on both sides of every transition."""
    offsets, names, encoded = line.split(";")
    states = list(zip((int(o, 36) for o in offsets.split(",")), names.split(","), strict=True))
    state, at = states[0], FIRST
    probes = [(FIRST, state)]
    for record in range(0, len(encoded), _TIME_DIGITS + 1):
        instant = int(encoded[record:record + _TIME_DIGITS], 36)
        probes.append(((at + instant) // 2, state))  # the middle of the previous span
        probes.append((instant - 1, state))
        at, state = instant, states[int(encoded[record + _TIME_DIGITS], 36)]
        probes.append((at, state))
    probes.append((LAST - 1, state))
    for instant, expected in probes:
        if _state(zone, instant) != expected:
            raise ValueError(f"{zone.key} at {datetime.fromtimestamp(instant, UTC)}: "
                             f"{_state(zone, instant)} != {expected}")


def names() -> list[str]:
    """The zones the table holds: zoneinfo's, without its copies under posix/ and right/ and its odd ones."""
    return sorted(name for name in available_timezones()
                  if not name.startswith(("posix/", "right/")) and name not in ("Factory", "localtime", "posixrules"))


def table() -> str:
    lines, seen = [], {}
    for name in names():
        zone = ZoneInfo(name)
        line = zone_line(zone)
        check(zone, line)
        if line in seen:
            lines.append(f"{name}={seen[line]}")
        else:
            seen[line] = name
            lines.append(f"{name};{line}")
    return "\n".join(lines)


def main(path: str) -> None:
    """Write the table as a JavaScript string literal: its lines hold only ASCII letters, digits and ;,=+-_/"""
    body = table().replace("\n", "\\n")
    with open(path, "w", encoding="ascii") as out:
        out.write("// Generated by runtime/zonetable.py from Python's zoneinfo: do not edit.\n"
                  f"globalThis.__jsr$zones = '\\n{body}\\n';\n")


if __name__ == "__main__":
    main(sys.argv[1])
