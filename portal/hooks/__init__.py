"""The public webhook blueprint: one catch-all route; the hooks service does the work."""

from flask import Blueprint, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from portal.extensions import csrf
from portal.services import hooks, metrics

bp = Blueprint("hooks", __name__, url_prefix="/hooks")
csrf.exempt(bp)  # callers are other servers; they authenticate with the hook's token or signature
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@bp.route("/<slug>/<path:path>", methods=METHODS, provide_automatic_options=False)
def hook(slug: str, path: str):
    found = hooks.route(slug, path)
    hooks.check_method(found, request.method)
    hooks.count(found)
    limit = current_app.config["JSR_HOOK_BODY_BYTES"]
    request.max_content_length = limit
    try:
        raw_body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise hooks.PayloadTooLarge(limit) from None
    headers = {name.lower(): value for name, value in request.headers.items()}
    query = request.args.to_dict(flat=True)
    hooks.authenticate(found, headers, query, raw_body)
    execution, answer = hooks.run(found, hooks.request_object(
        found, method=request.method, path=request.path, query=query, headers=headers, raw_body=raw_body,
        content_type=request.content_type or "", ip=request.remote_addr))
    response = current_app.response_class(answer.body, status=answer.status, headers=answer.headers)
    response.headers["Content-Security-Policy"] = hooks.HOOK_CSP
    response.headers["X-JSR-Execution-Id"] = execution.id
    return response


@bp.after_request
def count_answer(response):
    """Every answer of the blueprint, errors included, by status (jsr_webhook_responses_total)."""
    metrics.WEBHOOKS.labels(str(response.status_code)).inc()
    return response
