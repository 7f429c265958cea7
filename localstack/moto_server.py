"""moto's server, answering one request at a time.

`moto_server` serves every request on its own thread, and moto's DynamoDB is not written for
that: a conditional write checks and then writes without a lock, and a cancelled
TransactWriteItems "rolls back" by restoring a copy of the whole table taken when it started,
which throws away writes that other threads committed meanwhile. Under the store contract's
race (64 deciders per request) plain `moto_server` let two deciders win the same request.
Real DynamoDB makes every request atomic; so does this server, by dispatching one request at a
time (connections are still accepted concurrently). `GET /cavra-emulator` tells
localstack/start.sh that the server on the port is this one.

The whole-table copy behind that rollback also costs time and memory in proportion to the
table, on every transaction (the contract race's 32,000 transactions grew moto past 20 GB).
With requests serialised, undoing a cancelled transaction needs only the items it touched, so
this server keeps an undo log of those items instead of copying the table.

    python moto_server.py -H 127.0.0.1 -p 4566 [--idle-exit SECONDS] [--leases DIR]

The tests start it detached, so one server serves every test process. With `--leases DIR`,
each test process that uses it leaves a file named after its PID in DIR; the server exits a
few seconds after the last of those processes has ended, so the test command stops the
emulator it started (a later test process starts a new one). `--idle-exit` is the backstop:
exit once no request has arrived for that long.
"""

import argparse
import copy
import logging
import os
import signal
import sys
import threading
import time

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

MARKER = b"cavra emulator: moto, one request at a time\n"


class _CopyButNotTables:
    """Stands in for the `copy` module inside moto's DynamoDB models: tables are "copied" as
    themselves, so moto's rollback (restoring that copy) changes nothing and the undo log below
    does the real rollback."""

    def deepcopy(self, value, memo=None):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


def _key_of(table, op):
    if "Key" in op:
        return op["Key"]
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _restore(table, key, saved):
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    if saved is None:
        table.delete_item(hash_value, range_value)
    elif range_value is not None:
        table.items[hash_value][range_value] = saved
    else:
        table.items[hash_value] = saved


def _install_item_undo_log():
    dynamodb_models.copy = _CopyButNotTables()
    transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        undo = []
        for entry in transact_items:
            op = next(iter(entry.values()), {})
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            try:
                key = _key_of(table, op)
            except KeyError:
                continue  # moto reports the malformed item itself
            undo.append((table, key, copy.deepcopy(self.get_item(table.name, key))))
        try:
            return transact(self, transact_items)
        except Exception:
            for table, key, saved in reversed(undo):
                _restore(table, key, saved)
            raise

    DynamoDBBackend.transact_write_items = transact_write_items


def serialized(app, last_request):
    lock = threading.Lock()

    def serve(environ, start_response):
        last_request[0] = time.monotonic()
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


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_leases(folder):
    """The PIDs with a lease file in `folder` that still run; dead ones' files are removed."""
    alive = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return alive
    for name in names:
        if not name.isdigit():
            continue
        if _alive(int(name)):
            alive.append(int(name))
        else:
            try:
                os.remove(os.path.join(folder, name))
            except FileNotFoundError:
                pass
    return alive


def watch_leases(folder, grace):
    """Exits once no leaseholder has run for `grace` seconds (after the first lease)."""
    seen = False
    last_alive = time.monotonic()
    while True:
        time.sleep(0.5)
        if live_leases(folder):
            seen = True
            last_alive = time.monotonic()
        elif seen and time.monotonic() - last_alive >= grace:
            # Checked again right before exiting: a test process that just took a lease
            # keeps the server.
            if not live_leases(folder):
                os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    parser.add_argument("--idle-exit", type=float, default=0, help="exit after this many idle seconds (0: never)")
    parser.add_argument("--leases", default="", help="exit once every process with a PID file here has ended")
    parser.add_argument("--lease-grace", type=float, default=5, help="seconds without a live lease before exiting")
    args = parser.parse_args()
    if args.leases:
        threading.Thread(target=watch_leases, args=(args.leases, args.lease_grace), daemon=True).start()
    last_request = [time.monotonic()]
    if args.idle_exit > 0:
        def watch():
            while time.monotonic() - last_request[0] < args.idle_exit:
                time.sleep(1)
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _install_item_undo_log()
    # No line per request (werkzeug logs each at INFO): under the store contract's race that
    # was a fifth of the server's time and megabytes of log. Warnings and errors still show.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        serialized(app, last_request),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
