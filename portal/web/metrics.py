"""GET /metrics: Prometheus text format; a bearer token is required when JSR_METRICS_TOKEN is set."""

import hmac

from flask import Blueprint, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST

from portal.services import metrics
from portal.services.metrics import QUEUE_DEPTH_KEY

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape():
    token = current_app.config["JSR_METRICS_TOKEN"]
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and not (scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())):
        return "", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}
    body = metrics.exposition(current_app.extensions[QUEUE_DEPTH_KEY])
    return body, 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}
