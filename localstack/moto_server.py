"""moto's server, answering one request at a time.

`moto_server` serves every request on its own thread, and moto's DynamoDB is not written for
that: a conditional write checks and then writes without a lock, and a cancelled
TransactWriteItems "rolls back" by restoring a copy of the whole table taken when it started,
which throws away writes that other threads committed meanwhile. Under the store contract's
race (64 deciders per request) plain `moto_server` let two deciders win the same request.
Real DynamoDB makes every request atomic; so does this server, by dispatching one request at a
time (connections are still accepted concurrently). `GET /cavra-emulator` tells
localstack/start.sh that the server on the port is this one.

    python moto_server.py -H 127.0.0.1 -p 4566
"""

import argparse
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

MARKER = b"cavra emulator: moto, one request at a time\n"


def serialized(app):
    lock = threading.Lock()

    def serve(environ, start_response):
        if environ.get("PATH_INFO") == "/cavra-emulator":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [MARKER]
        with lock:
            result = app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]

    return serve


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        serialized(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
