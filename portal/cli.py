"""`flask --app app jsr ...` commands."""

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from portal.services import accounts, demo, executions, libraries, scheduler, secrets
from portal.services import runtime as runtime_service
from portal.services.errors import ServiceError
from portal.services.rbac import Actor, Role
from runtime import HANDLERS, RunRequest, transform
from runtime.modules import may_be_module

jsr = AppGroup("jsr", help="JS Runtime Portal commands.")


def _tenant_id(slug: str | None) -> str:
    """The id of the tenant a command acts for; '' (no tenant: ctx.db/cache/secrets/events refuse) without one."""
    if slug is None:
        return ""
    try:
        return accounts.tenant_by_slug(slug).id
    except ServiceError as exc:
        _fail(exc)


def _modules(tenant_id: str, source: str) -> dict[str, str]:
    """The tenant's libraries, for a source that may import them."""
    return libraries.modules_for(tenant_id) if tenant_id and may_be_module(source) else {}


def _json_file(path: Path, option: str):
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.BadParameter(f"not a JSON file: {exc}", param_hint=option) from None


@jsr.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--input", "input_json", default="null", help="Input as JSON.")
@click.option("--handler", default="main", type=click.Choice(HANDLERS), show_default=True)
@click.option("--tenant", "tenant_slug", default=None,
              help="Slug of the tenant the run acts for: ctx.db, ctx.cache, ctx.secrets and ctx.events need one.")
def run_file(file: Path, input_json: str, handler: str, tenant_slug: str | None) -> None:
    """Run FILE once and print its output, logs and error."""
    try:
        payload = json.loads(input_json)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--input") from None
    source, tenant_id = file.read_text(), _tenant_id(tenant_slug)
    request = RunRequest(source=source, tenant_id=tenant_id, handler=handler, input=payload,
                         context={"trigger": {"type": "manual"}}, limits=runtime_service.default_limits(),
                         modules=_modules(tenant_id, source))
    result = runtime_service.pool().run(request)
    for entry in result.logs:
        click.echo(f"[{entry.level}] {entry.message}", err=True)
    if result.error:
        click.echo(f"error ({result.error.kind.value}): {result.error}", err=True)
        if result.error.stack:
            click.echo(result.error.stack, err=True)
    else:
        click.echo(json.dumps(result.output, indent=2, ensure_ascii=False))
    click.echo(f"{result.status} in {result.duration_ms:.2f} ms, memory {result.memory_bytes} B, "
               f"host calls {result.host_calls}", err=True)
    sys.exit(0 if result.ok else 1)


@jsr.command("transform")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--events", "events_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="RudderStack's request list as JSON: [{message, metadata, destination, credentials}].")
@click.option("--tenant", "tenant_slug", default=None,
              help="Slug of the tenant the run acts for (its secrets back getCredential).")
@click.option("--test", "test_mode", is_flag=True, help="Test mode: log() lines are returned.")
def transform_file(file: Path, events_file: Path, tenant_slug: str | None, test_mode: bool) -> None:
    """Run the RudderStack transformation FILE over EVENTS and print {transformedEvents, logs} as JSON."""
    try:
        events = transform.check_events(_json_file(events_file, "--events"))
    except transform.TransformInputError as exc:
        raise click.BadParameter(str(exc), param_hint="--events") from None
    source, tenant_id = file.read_text(), _tenant_id(tenant_slug)
    request = transform.request_for(source, tenant_id, events, test_mode=test_mode,
                                    credentials=secrets.credentials(tenant_id) if tenant_id else None,
                                    modules=_modules(tenant_id, source))
    result = runtime_service.pool().run(request)
    click.echo(json.dumps(transform.response_from(events, result), indent=2, ensure_ascii=False))


def _system() -> Actor:
    return Actor.system()


def _fail(exc: ServiceError) -> None:
    detail = exc.to_dict()
    raise click.ClickException(json.dumps(detail, ensure_ascii=False, default=str))


@jsr.command("create-tenant")
@click.argument("slug")
@click.option("--name", default="", help="Display name (defaults to the slug).")
def create_tenant(slug: str, name: str) -> None:
    """Create a tenant."""
    try:
        tenant = accounts.create_tenant(_system(), slug, name)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"tenant {tenant.slug} {tenant.id}")


@jsr.command("create-user")
@click.argument("email")
@click.option("--tenant", "tenant_slug", help="Tenant slug (omit for a superadmin).")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.DEVELOPER.value, show_default=True)
@click.password_option(help="Password (prompted when omitted).")
def create_user(email: str, tenant_slug: str | None, role: str, password: str) -> None:
    """Create a user in a tenant (or a superadmin)."""
    try:
        tenant_id = accounts.tenant_by_slug(tenant_slug).id if tenant_slug else None
        user = accounts.create_user(_system(), tenant_id, email, password, role)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"user {user.email} {user.role} {user.id}")


@jsr.command("create-token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True)
@click.option("--role", type=click.Choice([r.value for r in Role if r is not Role.SUPERADMIN]), default=None,
              help="Defaults to the user's role; never above it.")
@click.option("--expires-in-days", type=int, default=None, help="Expiry (default: until revoked).")
def create_token(email: str, name: str, role: str | None, expires_in_days: int | None) -> None:
    """Create an API token; the secret is shown once."""
    try:
        user = accounts.user_by_email(email)
        secret, token = accounts.create_token(_system(), user.id, name, role, expires_in_days)
    except ServiceError as exc:
        _fail(exc)
    click.echo(secret)


@jsr.command("list-tokens")
@click.option("--tenant", "tenant_slug", required=True, help="Tenant slug.")
def list_tokens(tenant_slug: str) -> None:
    """List a tenant's API tokens (never their secrets), newest first."""
    try:
        tenant = accounts.tenant_by_slug(tenant_slug)
        tokens = accounts.list_tokens(_system(), tenant.id, limit=500)
    except ServiceError as exc:
        _fail(exc)
    for token in tokens:
        state = "revoked" if token.revoked_at else f"expires {token.expires_at:%Y-%m-%d}" if token.expires_at else ""
        click.echo(f"{token.id}  {token.prefix}…  {token.role:10} {token.name}  {state}".rstrip())


@jsr.command("revoke-token")
@click.argument("token_id")
@click.option("--tenant", "tenant_slug", required=True, help="Tenant slug.")
def revoke_token(token_id: str, tenant_slug: str) -> None:
    """Revoke an API token at once."""
    try:
        token = accounts.revoke_token(_system(), accounts.tenant_by_slug(tenant_slug).id, token_id)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"revoked {token.prefix}…")


@jsr.command("seed-demo")
def seed_demo() -> None:
    """Create the demo tenant with an admin, a developer, a viewer and one script of each type (idempotent)."""
    created = demo.seed()
    if created is None:
        click.echo("demo tenant already present")
        return
    for email, role in created:
        click.echo(f"{role:10} {email}  password: {demo.PASSWORD}")


@jsr.command("cleanup")
@click.option("--days", type=int, default=None,
              help="Retention in days for every tenant (default: each tenant's own, else JSR_RETENTION_DAYS).")
def cleanup(days: int | None) -> None:
    """Delete finished executions older than the retention period."""
    count = executions.cleanup(days)
    click.echo(f"deleted {count} executions")


@jsr.command("tick")
@click.option("--now", "now_text", default=None, metavar="ISO-8601",
              help="Run the pass as if it were this time (default: now); a time without offset is UTC.")
def tick(now_text: str | None) -> None:
    """One scheduler pass: fire every due scheduled script once."""
    now = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter("use an ISO 8601 time, e.g. 2026-11-27T10:00:00Z", param_hint="--now") from None
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
    result = scheduler.tick(now)
    click.echo(f"fired {len(result.fired)}, skipped {len(result.skipped)} still running")
