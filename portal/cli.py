"""`flask --app app jsr ...` commands."""

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from portal.services import runtime as runtime_service
from runtime import HANDLERS, RunRequest

jsr = AppGroup("jsr", help="JS Runtime Portal commands.")


@jsr.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--input", "input_json", default="null", help="Input as JSON.")
@click.option("--handler", default="main", type=click.Choice(HANDLERS), show_default=True)
@click.option("--tenant", default="cli", show_default=True, help="Tenant id the run acts for.")
def run_file(file: Path, input_json: str, handler: str, tenant: str) -> None:
    """Run FILE once and print its output, logs and error."""
    try:
        payload = json.loads(input_json)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--input") from None
    request = RunRequest(source=file.read_text(), tenant_id=tenant, handler=handler, input=payload,
                         context={"trigger": {"type": "manual"}}, limits=runtime_service.default_limits())
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
