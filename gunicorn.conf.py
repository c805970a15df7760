"""gunicorn's settings for `make serve`: the web workers of a production host.

The scheduler never runs in these workers (crm.services.scheduler); it is its own process,
`flask crm scheduler`, which `make serve` starts beside them.
"""

import gc
import multiprocessing
import os

bind = os.environ.get("CRM_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("CRM_WORKERS", str(multiprocessing.cpu_count() * 2 + 1)))
threads = int(os.environ.get("CRM_THREADS", "2"))
timeout = 30
graceful_timeout = 20
# Photos come up in one request of up to MAX_CONTENT_LENGTH; slow phones on 4G need time.
keepalive = 5
accesslog = "-"
# The path without its query string, and no referrer: a query may hold a position ("Near me"), a
# search for a person's name or a reset token, and the log is kept outside the app's retention
# (crm.services.privacy.processing). gunicorn's default logs the whole request line.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)s "%(a)s"'
forwarded_allow_ips = os.environ.get("CRM_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Above the app's own limits (crm.views.security.REQUEST_TARGET_MAX, HEADER_FIELD_MAX), so
# that a request too long for them is answered by the app, as JSON on /api/ (gunicorn would
# answer 414 or 431 as HTML). 8190 is the largest request line gunicorn takes short of none.
limit_request_line = 8190
limit_request_field_size = 16380


def post_worker_init(worker):
    """What the app made at start-up stays out of the collector's way: a request then pays
    for its own garbage only (bench/requests.py times requests the same way)."""
    gc.freeze()
