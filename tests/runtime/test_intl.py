"""Intl.DateTimeFormat in the sandbox and dayjs's timezone plugin over it, checked against Python's zoneinfo."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from runtime.engine import INTL_UNIT, compile_script

ZONES = ["America/New_York", "Europe/London", "Asia/Tashkent", "Australia/Lord_Howe", "Asia/Kathmandu"]
YEARS = [1971, 1985, 1986, 1991, 2026, 2099]
TZ_IMPORTS = ("import dayjs from 'dayjs';\nimport utc from 'dayjs/plugin/utc';\n"
              "import timezone from 'dayjs/plugin/timezone';\ndayjs.extend(utc);\ndayjs.extend(timezone);\n")


def _offset(zone: ZoneInfo, at: int) -> timedelta:
    return datetime.fromtimestamp(at, UTC).astimezone(zone).utcoffset()


def edges(name: str) -> list[int]:
    """Instants (s) around each offset change of `name` in YEARS, and noon UTC of every month of them."""
    zone, found = ZoneInfo(name), []
    for year in YEARS:
        start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
        found += [int(datetime(year, month, 1, 12, tzinfo=UTC).timestamp()) for month in range(1, 13)]
        for hour in range(start, start + 366 * 86400, 3600):
            if _offset(zone, hour) != _offset(zone, hour + 3600):
                low, high = hour, hour + 3600
                while high - low > 1:
                    middle = (low + high) // 2
                    low, high = (middle, high) if _offset(zone, middle) == _offset(zone, hour) else (low, middle)
                found += [high - 1, high, high + 1, high + 1800]
    return found


@pytest.mark.parametrize("name", ZONES)
def test_format_to_parts_matches_zoneinfo_across_dst_edges(run, name):
    instants = edges(name)
    assert len(instants) > 12 * len(YEARS)  # every zone here changed its offset at least once in those years
    result = run("function main(input) {\n"
                 "  const f = new Intl.DateTimeFormat('en-US', {timeZone: input.zone, year: 'numeric',"
                 " month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',"
                 " hour12: false, timeZoneName: 'longOffset'});\n"
                 "  return input.instants.map(s => f.format(new Date(s * 1000)));\n}",
                 input={"zone": name, "instants": instants})
    zone = ZoneInfo(name)
    expected = []
    for at in instants:
        local = datetime.fromtimestamp(at, UTC).astimezone(zone)
        minutes = int(local.utcoffset().total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        offset = "GMT" if minutes == 0 else f"GMT{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        expected.append(local.strftime("%m/%d/%Y, %H:%M:%S ") + offset)
    assert result.error is None and result.output == expected


@pytest.mark.parametrize("name", ZONES)
def test_dayjs_timezone_plugin_matches_zoneinfo(run, name):
    instants = edges(name)[::3]
    locals_ = [f"{year}-{month:02d}-15 12:34:56" for year in YEARS for month in (1, 4, 7, 10)]
    result = run(TZ_IMPORTS + "export function main(input) {\n"
                 "  return [input.instants.map(s => dayjs(s * 1000).tz(input.zone).format('YYYY-MM-DDTHH:mm:ssZ')),\n"
                 "          input.locals.map(l => dayjs.tz(l, input.zone).valueOf() / 1000)];\n}",
                 input={"zone": name, "instants": instants, "locals": locals_})
    zone = ZoneInfo(name)
    assert result.error is None
    assert result.output[0] == [datetime.fromtimestamp(at, UTC).astimezone(zone).isoformat() for at in instants]
    assert result.output[1] == [datetime.fromisoformat(text).replace(tzinfo=zone).timestamp() for text in locals_]


def test_names_options_and_errors(run):
    result = run("function main() {\n"
                 "  const error = f => { try { f(); return null } catch (e) { return e.name + ': ' + e.message } };\n"
                 "  const at = new Date(Date.UTC(2026, 6, 1, 12, 5, 9));\n"
                 "  const ny = new Intl.DateTimeFormat('en-US', {timeZone: 'america/new_york', timeZoneName: 'short',"
                 " hour: 'numeric', minute: 'numeric'});\n"
                 "  return [ny.resolvedOptions().timeZone, ny.format(at), ny.formatToParts(at).map(p => p.type),\n"
                 "    Intl.DateTimeFormat().resolvedOptions().timeZone, new Intl.DateTimeFormat().format(at),\n"
                 "    at.toLocaleString('en-US', {timeZone: 'Asia/Kathmandu'}),\n"
                 "    at.toLocaleDateString('en-US', {timeZone: 'Australia/Lord_Howe'}),\n"
                 "    at.toLocaleTimeString('en-US', {timeZone: '+05:30', timeZoneName: 'short'}),\n"
                 "    new Intl.DateTimeFormat('en-US', {timeZone: 'Etc/UTC'}).resolvedOptions().timeZone,\n"
                 "    error(() => new Intl.DateTimeFormat('en-US', {timeZone: 'Mars/Olympus_Mons'})),\n"
                 "    error(() => new Intl.DateTimeFormat('en-US', {month: 'long'})),\n"
                 "    error(() => new Intl.DateTimeFormat().format(NaN)),\n"
                 "    new Date(NaN).toLocaleString('en-US', {timeZone: 'UTC'})];\n}")
    assert result.error is None and result.output == [
        "America/New_York", "8:05 AM EDT", ["hour", "literal", "minute", "literal", "dayPeriod", "literal",
                                            "timeZoneName"],
        "UTC", "7/1/2026",
        "7/1/2026, 5:50:09 PM", "7/1/2026", "5:35:09 PM GMT+5:30",
        "UTC",
        "RangeError: Invalid time zone specified: Mars/Olympus_Mons",
        "RangeError: Intl.DateTimeFormat: month 'long' is not supported by this runtime (numeric, 2-digit)",
        "RangeError: Invalid time value",
        "Invalid Date"]


def test_intl_loads_only_for_code_that_names_it_and_is_prepared_off_the_run():
    assert all(name != INTL_UNIT for name, _ in compile_script("function main() { return 1 }").modules)
    compiled = compile_script(TZ_IMPORTS + "export function main() { return dayjs.tz.guess(); }")
    assert compiled.error is None
    assert [name for name, _ in compiled.modules][0] == INTL_UNIT
    # A runner prepares its next context with what its last run loaded: the table is read off the run's path.
    assert compiled.preloadable == (INTL_UNIT, "dayjs", "dayjs/plugin/utc", "dayjs/plugin/timezone")


def test_a_preloaded_context_gives_the_same_answers():
    from runtime import Engine, HostRegistry, RunRequest

    source = TZ_IMPORTS + ("export function main() {\n"
                           "  return dayjs('2026-03-29T01:30:00Z').tz('Europe/London').format();\n}")
    compiled = compile_script(source)
    engine = Engine(preload=compiled.preloadable)
    assert engine.preloaded == set(compiled.preloadable)
    result = engine.run(RunRequest(source=source, tenant_id="t"), compiled, HostRegistry())
    assert result.output == "2026-03-29T02:30:00+01:00"


def test_every_zone_of_zoneinfo_is_known_by_its_own_name_and_utc_by_one(run):
    from runtime.zonetable import names

    result = run("function main(names) {\n"
                 "  const resolved = n => new Intl.DateTimeFormat('en-US', {timeZone: n}).resolvedOptions().timeZone;\n"
                 "  return names.filter(n => resolved(n) !== n).map(n => [n, resolved(n)]);\n}", input=names())
    assert result.error is None and len(result.output) == 17  # ECMA-402: UTC's aliases resolve to "UTC"
    words = ("GMT", "UTC", "UCT", "Universal", "Zulu", "Greenwich")
    assert all(resolved == "UTC" and any(word in name for word in words) for name, resolved in result.output)


def test_runs_see_utc_as_their_local_time(run):
    result = run("function main() { const d = new Date(Date.UTC(2026, 6, 1, 12));"
                 " return [d.getTimezoneOffset(), d.getHours(), Intl.DateTimeFormat().resolvedOptions().timeZone] }")
    assert result.output == [0, 12, "UTC"]
