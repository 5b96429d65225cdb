"""Translated names of every enum the portal shows, and what each kind of run error means.

Stored values stay English identifiers; only their display goes through Flask-Babel.
"""

from datetime import UTC, datetime

from flask import Flask
from flask_babel import format_decimal, format_percent, format_timedelta
from flask_babel import lazy_gettext as _l

from portal.services.rbac import Role

LABELS = {
    "role": {Role.SUPERADMIN: _l("Superadmin"), Role.ORG_ADMIN: _l("Org admin"), Role.DEVELOPER: _l("Developer"),
             Role.VIEWER: _l("Viewer")},
    "script_type": {"scheduled": _l("Scheduled"), "http": _l("Webhook"), "event": _l("Event"),
                    "oneoff": _l("One-off"), "embedded": _l("Embedded")},
    "script_status": {"draft": _l("Draft"), "active": _l("Active"), "paused": _l("Paused"),
                      "disabled": _l("Disabled"), "archived": _l("Archived")},
    "execution_status": {"pending": _l("Pending"), "running": _l("Running"), "completed": _l("Completed"),
                         "failed": _l("Failed"), "timeout": _l("Timed out"), "cancelled": _l("Cancelled")},
    "trigger": {"manual": _l("Manual"), "schedule": _l("Schedule"), "http": _l("Webhook"), "event": _l("Event"),
                "api": _l("API"), "embedded": _l("Embedded"), "test": _l("Test")},
    "dead_letter_status": {"dead": _l("Waiting"), "replayed": _l("Replayed")},
    "http_auth": {"none": _l("None"), "token": _l("Token"), "hmac": _l("HMAC signature")},
    "verdict": {"same": _l("Same"), "changed": _l("Changed"), "now_failing": _l("Now failing"),
                "now_passing": _l("Now passing"), "still_failing": _l("Still failing")},
    "log_level": {"log": _l("log"), "info": _l("info"), "warn": _l("warn"), "error": _l("error"),
                  "debug": _l("debug")},
    # Every action the services write to the audit trail (tests/web/test_labels.py finds them in the code).
    "audit_action": {
        "auth.failed": _l("Sign-in failed"), "auth.locked": _l("Account locked"), "auth.login": _l("Signed in"),
        "auth.signin_link_used": _l("Sign-in link used"),
        "dead_letter.discard": _l("Dead letter discarded"), "dead_letter.replay": _l("Dead letter replayed"),
        "execution.cancel": _l("Run cancelled"),
        "library.create": _l("Library created"), "library.delete": _l("Library deleted"),
        "library.update": _l("Library updated"),
        "script.create": _l("Script created"), "script.delete": _l("Script deleted"),
        "script.hook_secret": _l("Webhook secret rotated"), "script.rollback": _l("Script rolled back"),
        "script.run": _l("Script run by hand"), "script.status": _l("Script status changed"),
        "script.update": _l("Script updated"),
        "secret.create": _l("Secret created"), "secret.update": _l("Secret updated"),
        "secret.delete": _l("Secret deleted"),
        "tenant.act_as": _l("Acting as the tenant started"), "tenant.act_as_end": _l("Acting as the tenant ended"),
        "tenant.activate": _l("Tenant activated"), "tenant.deactivate": _l("Tenant deactivated"),
        "tenant.create": _l("Tenant created"), "tenant.settings": _l("Tenant settings changed"),
        "token.create": _l("API token created"), "token.revoke": _l("API token revoked"),
        "user.create": _l("User created"), "user.password": _l("Password changed"),
        "user.signin_link": _l("Sign-in link issued"), "user.update": _l("User changed"),
    },
}

# Every error kind a run can end with (runtime.ErrorKind, plus the kinds the services record for runs
# that ended outside the script): a title and what to do about it, in the user's language.
ERROR_KINDS = {
    "syntax": (_l("Syntax error"), _l("The code cannot be parsed. Fix the marked line; the editor shows the "
                                      "problem as you type.")),
    "runtime": (_l("The script threw an error"), _l("An exception escaped the handler. Read the message and the "
                                                    "stack, then catch the error or fix its cause.")),
    "timeout": (_l("Time limit reached"), _l("The run took longer than its time limit, waiting for host calls "
                                             "included. Look for endless loops or slow calls, or raise the "
                                             "script's timeout within the tenant's maximum.")),
    "memory": (_l("Memory limit reached"), _l("The script allocated more memory than allowed. Process data in "
                                              "smaller pieces or raise the script's memory limit.")),
    "stack_overflow": (_l("Stack overflow"), _l("Calls nested too deeply, usually endless recursion. Add a base "
                                                "case or turn the recursion into a loop.")),
    "output_too_large": (_l("Output too large"), _l("The returned value is larger than allowed. Return less data "
                                                    "or store it with ctx.db and return a reference.")),
    "host_call_limit": (_l("Too many host calls"), _l("The run used up its budget of ctx.* calls. Batch the calls "
                                                      "or raise the script's host-call limit.")),
    "host_fault": (_l("A host call failed"), _l("A ctx.* call could not be served. The message says which one; "
                                                "retry later or check its arguments.")),
    "source_too_large": (_l("Script too large"), _l("The source is larger than the limit. Move shared code into "
                                                    "a library or shorten the script.")),
    "busy": (_l("No runner free"), _l("Too many runs of this tenant or script are running at once. Try again in "
                                      "a moment.")),
    "crashed": (_l("The runner crashed"), _l("The process running the script stopped unexpectedly. The run was "
                                             "ended and a fresh runner took over; try again.")),
    "internal": (_l("Internal error"), _l("Something went wrong outside the script. Try again; if it keeps "
                                          "happening, report the execution id.")),
    "cancelled": (_l("Cancelled"), _l("The run was cancelled before it started.")),
}


def label(kind: str, value) -> str:
    """The translated name of `value` among the enum `kind`; unknown values are shown as they are."""
    return LABELS[kind].get(value, value) if value is not None else ""


def explain(error: dict | None) -> tuple | None:
    """(title, advice) of a stored or returned error, by its kind."""
    if not error:
        return None
    return ERROR_KINDS.get(error.get("kind"), ERROR_KINDS["internal"])


def ago(moment: datetime | None) -> str:
    """'5 minutes ago' / 'in 2 hours' in the user's language."""
    if moment is None:
        return ""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return format_timedelta(moment - datetime.now(UTC), add_direction=True)


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(label=label, explain=explain, ago=ago, LABELS=LABELS)
    app.jinja_env.filters["number"] = format_decimal  # 1 234,5 in Russian, 1,234.5 in English
    app.jinja_env.filters["percent"] = lambda share: format_percent(share, "#,##0.0%")  # 0.123 -> 12.3% / 12,3 %
