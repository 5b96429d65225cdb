"""The dashboard's chart data for Chart.js: bucket labels in the user's time zone, translated legends and
axis titles. static/js/dashboard.js draws what this describes."""

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from portal.models import EXECUTION_STATUSES
from portal.services.dashboard import Overview
from portal.web.labels import label

STATUS_COLOURS = {"completed": "#2f9e44", "failed": "#e03131", "timeout": "#f08c00", "cancelled": "#868e96",
                  "pending": "#74c0fc", "running": "#1f5fbf"}
# how a bucket's start is shown, per range (Babel date patterns)
LABEL_FORMAT = {"1h": "HH:mm", "24h": "HH:mm", "7d": "d MMM HH:mm", "30d": "d MMM"}


def charts(overview: Overview) -> dict:
    """Runs per bucket stacked by status, and the error rate per bucket in percent."""
    labels = [format_datetime(start, LABEL_FORMAT[overview.range]) for start in overview.buckets]
    return {
        "runs": {
            "labels": labels,
            "datasets": [{"label": str(label("execution_status", status)), "data": overview.runs[status],
                          "backgroundColor": STATUS_COLOURS[status]}
                         for status in EXECUTION_STATUSES if overview.totals[status]],
            "x": str(_l("Time")), "y": str(_l("Runs")),
        },
        "errors": {
            "labels": labels,
            "datasets": [{"label": str(_l("Error rate")), "borderColor": STATUS_COLOURS["failed"],
                          "data": [None if rate is None else round(rate * 100, 2) for rate in overview.error_rates]}],
            "x": str(_l("Time")), "y": str(_l("Error rate, %")),
        },
    }
