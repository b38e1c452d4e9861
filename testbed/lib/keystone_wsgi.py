"""Keystone's WSGI application with its writes serialized across uwsgi workers.

Testbed only. Keystone on SQLite opens each transaction with a plain BEGIN,
reads, then writes; when two workers write at once, SQLite fails one of them
at once with "database is locked" (HTTP 500). Concurrent K2K logins of one
user make that routine (each writes the same shadow user and group
membership rows). Production Keystones use a database server; here every
request that may write takes an exclusive file lock shared by the workers
(uwsgi runs with --lazy-apps, so each worker opens its own lock file
description). Reads, token validation and catalog lookups stay parallel.

Also: SQLite enforces foreign keys only when asked, per connection.
Production databases always do, and Keystone relies on their ON DELETE
CASCADE (deleting an application credential deletes its role rows); without
them, SQLite re-uses the deleted row's integer id and the next application
credential collides with the orphaned rows (HTTP 409). Every connection
turns them on.
"""
import fcntl
import os
import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, 'connect')
def _sqlite_foreign_keys(dbapi_connection, _record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute('PRAGMA foreign_keys=ON')
        cursor.close()


from keystone.wsgi.api import application as keystone  # noqa: E402 - after the listener

_LOCK = open(os.environ['MERCADOR_KEYSTONE_WRITE_LOCK'], 'a')  # noqa: SIM115 - held for the worker's life


def _may_write(environ):
    if environ.get('REQUEST_METHOD', 'GET') not in ('GET', 'HEAD'):
        return True  # every create, update, delete and login (POST /v3/auth/tokens)
    path = environ.get('PATH_INFO', '')
    # The federated login is a GET that creates shadow users and memberships.
    return path.startswith('/v3/OS-FEDERATION/identity_providers/') and path.endswith('/auth')


def application(environ, start_response):
    if not _may_write(environ):
        return keystone(environ, start_response)
    fcntl.flock(_LOCK, fcntl.LOCK_EX)
    try:
        result = keystone(environ, start_response)
        try:
            return [b''.join(result)]  # the response is complete before the lock is released
        finally:
            close = getattr(result, 'close', None)
            if close is not None:
                close()
    finally:
        fcntl.flock(_LOCK, fcntl.LOCK_UN)
