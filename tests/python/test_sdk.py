"""The official Python SDK (PyPI `appwrite`) against edgewrite: the flows a Python backend runs,
every delete included. The SDK validates each answer against its pydantic models, so a model
that lacks a field or carries a wrong type fails here. With EDGEWRITE_MODEL_ANSWERS set, every
answer is also written there (JSON lines) for the Node suites' model check, which holds it against
Appwrite 1.9.6's model exactly (tests/e2e/check-answers.mjs). `cargo xtask test` runs this file
after the Node suites, against the same server; to run it by hand:

    EDGEWRITE_ENDPOINT=http://127.0.0.1:8787/v1 EDGEWRITE_PROJECT_ID=dev \\
    EDGEWRITE_API_KEY=... python tests/python/test_sdk.py
"""

import hashlib
import json
import os
import sys
import time
import traceback
import warnings

import requests
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.id import ID
from appwrite.input_file import InputFile
from appwrite.models import Document, File, Row, User
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role
from appwrite.services.account import Account
from appwrite.services.databases import Databases
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from appwrite.services.teams import Teams
from appwrite.services.users import Users

ENDPOINT = os.environ.get("EDGEWRITE_ENDPOINT", "http://127.0.0.1:8787/v1")
PROJECT = os.environ.get("EDGEWRITE_PROJECT_ID", "dev")
API_KEY = os.environ.get("EDGEWRITE_API_KEY", "")
PASSWORD = "a-python-password-7"
TESTS = []


ANSWERS = os.environ.get("EDGEWRITE_MODEL_ANSWERS", "")
CURRENT_TEST = {"name": ""}


def record_answers():
    """Wraps `requests.request`, which the SDK calls for every request, to write each answer to
    EDGEWRITE_MODEL_ANSWERS."""
    original = requests.request

    def recording(method, url, **kwargs):
        response = original(method, url, **kwargs)
        content_type = response.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            kind, body = "json", response.json()
        else:
            kind, body = ("text" if response.content else "empty"), response.content[:64].decode("latin-1")
        headers = {k.lower(): v for k, v in (kwargs.get("headers") or {}).items()}
        answer = {
            "test": CURRENT_TEST["name"],
            "method": method,
            "url": response.url if response.status_code < 300 or response.status_code >= 400 else url,
            "status": response.status_code,
            "kind": kind,
            "body": body,
            "format": headers.get("x-appwrite-response-format", ""),
        }
        with open(ANSWERS, "a", encoding="utf-8") as out:
            out.write(json.dumps(answer) + "\n")
        return response

    requests.request = recording


def test(fn):
    TESTS.append(fn)
    return fn


def admin():
    return Client().set_endpoint(ENDPOINT).set_project(PROJECT).set_key(API_KEY)


def uid(tag):
    return f"{tag}{int(time.time() * 1000):x}{os.urandom(2).hex()}"


def email(tag):
    return f"{uid(tag)}@python.example.com"


def rejects(call, code, kind):
    try:
        call()
    except AppwriteException as e:
        assert e.code == code and e.type == kind, f"expected {code} {kind}, got {e.code} {e.type}: {e.message}"
        return
    raise AssertionError(f"expected {code} {kind}, the call succeeded")


@test
def account_sign_up_session_prefs_and_logout():
    address = email("acct")
    user = Users(admin()).create(ID.unique(), email=address, password=PASSWORD, name="Py")
    assert user.email == address
    session = Account(admin()).create_email_password_session(address, PASSWORD)
    client = Client().set_endpoint(ENDPOINT).set_project(PROJECT).set_session(session.secret)
    account = Account(client)
    me = account.get()
    assert me.id == user.id and me.email == address
    account.update_prefs({"theme": "dark", "zeta": 1, "alpha": 2})
    prefs = account.get().prefs.data
    assert list(prefs) == ["theme", "zeta", "alpha"], prefs
    assert account.list_sessions().total == 1
    account.delete_session("current")
    rejects(account.get, 401, "general_unauthorized_scope")


@test
def users_create_list_update_and_delete():
    users = Users(admin())
    made = users.create(ID.unique(), email=email("usr"), password=PASSWORD, name="Before")
    assert isinstance(made, User) and made.name == "Before"
    assert users.update_name(made.id, "After").name == "After"
    users.update_prefs(made.id, {"a": 1})
    listed = users.list(queries=[Query.equal("$id", [made.id])])
    assert listed.total == 1 and listed.users[0].id == made.id
    users.delete(made.id)
    rejects(lambda: users.get(made.id), 404, "user_not_found")


@test
def teams_and_memberships():
    teams = Teams(admin())
    team = teams.create(uid("team"), "Pythonistas")
    member = Users(admin()).create(ID.unique(), email=email("member"), password=PASSWORD)
    membership = teams.create_membership(team.id, ["editor"], user_id=member.id)
    assert membership.confirm is True and membership.roles == ["editor"]
    assert teams.list_memberships(team.id).total == 1
    teams.delete_membership(team.id, membership.id)
    teams.delete(team.id)
    rejects(lambda: teams.get(team.id), 404, "team_not_found")


@test
def databases_collections_documents():
    db = Databases(admin())
    database = uid("pydb")
    db.create(database, "py")
    db.create_collection(database, "notes", "Notes", permissions=[Permission.read(Role.any())])
    db.create_string_attribute(database, "notes", "text", 64, False)
    db.create_integer_attribute(database, "notes", "n", False)
    wait_available(lambda: db.get_attribute(database, "notes", "n"))
    for i in range(3):
        doc = db.create_document(database, "notes", f"d{i}", {"text": f"note {i}", "n": i})
        assert isinstance(doc, Document) and doc.id == f"d{i}"
    page = db.list_documents(database, "notes", queries=[Query.greater_than("n", 0), Query.order_asc("n")])
    assert page.total == 2 and [d.id for d in page.documents] == ["d1", "d2"]
    assert db.update_document(database, "notes", "d1", {"text": "changed"}).data["text"] == "changed"
    db.delete_document(database, "notes", "d0")
    rejects(lambda: db.get_document(database, "notes", "d0"), 404, "document_not_found")
    db.delete_attribute(database, "notes", "text")
    db.delete_collection(database, "notes")
    db.delete(database)
    rejects(lambda: db.get(database), 404, "database_not_found")


@test
def tablesdb_rows_and_transactions():
    t = TablesDB(admin())
    database = uid("pytd")
    t.create(database, "py")
    t.create_table(database, "scores", "Scores", permissions=[Permission.read(Role.any())])
    t.create_string_column(database, "scores", "who", 32, True)
    t.create_integer_column(database, "scores", "points", False)
    wait_available(lambda: t.get_column(database, "scores", "points"))
    row = t.create_row(database, "scores", "r1", {"who": "ada", "points": 1})
    assert isinstance(row, Row) and row.id == "r1"
    assert t.upsert_row(database, "scores", "r2", {"who": "alan", "points": 2}).id == "r2"
    # A transaction: staged writes apply together on commit.
    tx = t.create_transaction(ttl=120)
    staged = t.create_row(database, "scores", "r3", {"who": "grace", "points": 3}, transaction_id=tx.id)
    assert staged.id == "r3"
    t.update_row(database, "scores", "r1", {"points": 10}, transaction_id=tx.id)
    t.delete_row(database, "scores", "r2", transaction_id=tx.id)
    rejects(lambda: t.get_row(database, "scores", "r3"), 404, "row_not_found")
    assert t.update_transaction(tx.id, commit=True).status == "committed"
    rows = t.list_rows(database, "scores", queries=[Query.order_asc("$id")])
    assert [(r.id, r.data["points"]) for r in rows.rows] == [("r1", 10), ("r3", 3)], rows
    t.delete_row(database, "scores", "r1")
    t.delete_table(database, "scores")
    t.delete(database)


@test
def storage_chunked_upload_download_preview_and_deletes():
    s = Storage(admin())
    bucket = uid("pyb")
    s.create_bucket(bucket, "py", permissions=[Permission.read(Role.any())], maximum_file_size=50_000_000)
    data = os.urandom(6 * 1024 * 1024 + 123)
    made = s.create_file(bucket, ID.unique(), InputFile.from_bytes(data, "big.bin"))
    assert isinstance(made, File) and made.sizeoriginal == len(data)
    assert made.chunkstotal == 2 and made.chunksuploaded == 2
    got = s.get_file(bucket, made.id)
    assert (got.folder, got.key) == ("", "big.bin")
    body = s.get_file_download(bucket, made.id)
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()
    image = s.create_file(bucket, ID.unique(), InputFile.from_bytes(png(32, 24), "pic.png"))
    preview = s.get_file_preview(bucket, image.id, width=16)
    assert preview[:8] == b"\x89PNG\r\n\x1a\n", preview[:16]
    assert s.list_files(bucket).total == 2
    s.delete_file(bucket, made.id)
    s.delete_file(bucket, image.id)
    rejects(lambda: s.get_file(bucket, made.id), 404, "storage_file_not_found")
    s.delete_bucket(bucket)


def wait_available(get):
    for _ in range(50):
        got = get()
        status = got.get("status") if isinstance(got, dict) else getattr(got, "status", None)
        if getattr(status, "value", status) == "available":
            return
        time.sleep(0.1)
    raise AssertionError("the attribute never became available")


def png(width, height):
    """A small RGB PNG (a gradient), built by hand."""
    import struct
    import zlib

    def chunk(kind, payload):
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"".join(bytes((x * 8 % 256, y * 8 % 256, 128)) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class QuietStderr:
    """The SDK prints Appwrite's version warning (it is built for a newer server) on every
    call, as it would against Appwrite 1.9.6: keep the test's own output readable."""

    def __init__(self, stream):
        self.stream = stream
        self.dropped = False

    def write(self, text):
        if text.startswith("Warning: The current SDK is built for Appwrite"):
            self.dropped = True
        elif not (self.dropped and text == "\n"):
            self.dropped = False
            self.stream.write(text)
        else:
            self.dropped = False

    def flush(self):
        self.stream.flush()


def main():
    # The SDK flags the Databases API as deprecated in favour of TablesDB: both are served.
    warnings.showwarning = lambda *args, **kwargs: None
    sys.stderr = QuietStderr(sys.stderr)
    if not API_KEY:
        print("EDGEWRITE_API_KEY is not set", file=sys.stderr)
        return 2
    if ANSWERS:
        record_answers()
    passed = failed = 0
    for fn in TESTS:
        CURRENT_TEST["name"] = fn.__name__
        started = time.time()
        try:
            fn()
        except Exception:  # noqa: BLE001 - every failure is reported, then the next test runs
            failed += 1
            print(f"✖ python: {fn.__name__} ({(time.time() - started) * 1000:.0f}ms)")
            traceback.print_exc()
        else:
            passed += 1
            print(f"✔ python: {fn.__name__} ({(time.time() - started) * 1000:.0f}ms)")
    print(f"python SDK: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
