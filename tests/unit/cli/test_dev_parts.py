"""Pure parts of the operator CLI: URL table, database resolution, demo data, mailbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from candour_cli import databases, demo
from candour_cli.console import Endpoints, prefixed, render_table, story_count_line, url_rows
from candour_cli.devstate import load_or_create_secret
from candour_cli.mailbox import MailStore
from candour_cli.services import BY_NAME, lookup
from candour_cli.topics import Layout, compare, expected_topics
from candour_common.events import OrganisationLanguage
from candour_common.topics import TopicNames
from candour_intake.adapters.directory_csv import DirectoryFileError, parse_directory

pytestmark = pytest.mark.unit


def test_url_table_lists_docs_mailbox_and_tokens() -> None:
    endpoints = Endpoints(
        host="127.0.0.1",
        service_ports={"story-intake": 8001, "search": 8004},
        admin_ports={"story-intake": 9001, "search": 9004},
        mailbox_port=8025,
        kafka_bootstrap="127.0.0.1:9092",
        database="postgresql://postgres@127.0.0.1:5433/postgres",
    )
    rows = dict(url_rows(endpoints, {"moderator": "tok"}))
    assert rows["story-intake API docs"] == "http://127.0.0.1:8001/docs"
    assert rows["search API docs"] == "http://127.0.0.1:8004/docs"
    assert rows["story-intake metrics (admin port)"] == "http://127.0.0.1:9001/metrics"
    assert rows["mailbox (caught email)"] == "http://127.0.0.1:8025"
    assert rows["mailbox API (Mailpit v1)"].endswith("/api/v1/messages")
    assert rows["moderator token"] == "tok"
    lines = render_table(url_rows(endpoints, {}))
    assert lines[0] == lines[-1] and set(lines[0]) == {"-"}


def test_the_banner_lists_the_pages_people_use_first() -> None:
    """Issue 23: the banner named API docs and metrics, not the pages people use."""
    ports = {"story-intake": 8001, "moderation": 8002, "notifications": 8003, "search": 8004}
    endpoints = Endpoints("127.0.0.1", ports, {}, None, "kafka:9092", "pg")
    rows = url_rows(endpoints, {})
    first = dict(rows[:7])
    assert first["Share a story"] == "http://127.0.0.1:8001/share"
    assert first["Moderation console"] == "http://127.0.0.1:8002/console"
    assert first["Read and search stories"] == "http://127.0.0.1:8004/"
    assert first["Organisations"] == "http://127.0.0.1:8004/organisations"
    assert first["Staff: email alerts"] == "http://127.0.0.1:8003/alerts"
    assert first["Staff: respond to stories"] == "http://127.0.0.1:8001/respond"


def test_the_story_count_suggests_fresh_only_when_there_are_thousands() -> None:
    assert story_count_line(4) == "stories: 4 in this dev platform"
    assert "--fresh" not in story_count_line(999)
    many = story_count_line(25_000)
    assert "25,000" in many and "candour dev --fresh" in many


def test_no_mailbox_rows_when_smtp_is_external() -> None:
    endpoints = Endpoints("127.0.0.1", {}, {}, None, "kafka:9092", "pg")
    assert not any("mailbox" in what for what, _ in url_rows(endpoints, {}))


def test_prefix_is_padded_and_coloured_only_when_asked() -> None:
    assert prefixed("search", "hello\n", colour=False) == "search       | hello"
    assert prefixed("search", "hello", colour=True).startswith("\x1b[")


def test_database_per_service_on_one_server() -> None:
    intake = BY_NAME["story-intake"]
    env = {"CANDOUR_DATABASE_URL": "postgresql://u:secret@db:5432/postgres?sslmode=require"}
    url, derived = databases.resolve(intake, env=env)
    assert url == "postgresql://u:secret@db:5432/candour_intake?sslmode=require" and derived
    own = {**env, "CANDOUR_STORY_INTAKE_DATABASE_URL": "postgresql://x@h/intake"}
    assert databases.resolve(intake, env=own) == ("postgresql://x@h/intake", False)
    assert databases.resolve(intake, explicit="postgresql://e@h/e", env=own)[0].endswith("/e")
    assert databases.redact(url) == "postgresql://u:***@db:5432/candour_intake?sslmode=require"


def test_service_lookup_accepts_aliases_and_names_choices() -> None:
    assert lookup("intake").module == "candour_intake"
    assert lookup("Search").migrations_package == "candour_search.migrations"
    with pytest.raises(KeyError, match="choose one of"):
        lookup("billing")


def test_demo_directory_is_valid_and_has_the_named_trusts() -> None:
    organisations = {o.id: o for o in demo.demo_directory()}
    assert organisations["TAD"].name == "Bradford District Care NHS Foundation Trust"
    assert organisations["RTV"].name == "North West Boroughs Healthcare NHS Foundation Trust"
    assert organisations["RXA"].name == "Cheshire and Wirral Partnership NHS Foundation Trust"
    assert len(organisations) >= 6
    assert all(len(o.services) >= 3 for o in organisations.values())
    known = {(o.id, s.id) for o in organisations.values() for s in o.services}
    for story in demo.STORIES:
        assert (story.story["organisation_id"], story.story["service_id"]) in known
    assert {s["organisation_id"] for s in demo.SUBSCRIPTIONS} <= set(organisations)


def test_demo_directory_has_the_seven_welsh_health_boards_in_welsh() -> None:
    boards = {o.id: o for o in demo.demo_directory() if o.id.startswith("7A")}
    assert {code: o.name_cy for code, o in boards.items()} == {
        "7A1": "Bwrdd Iechyd Prifysgol Betsi Cadwaladr",
        "7A2": "Bwrdd Iechyd Prifysgol Hywel Dda",
        "7A3": "Bwrdd Iechyd Prifysgol Bae Abertawe",
        "7A4": "Bwrdd Iechyd Prifysgol Caerdydd a'r Fro",
        "7A5": "Bwrdd Iechyd Prifysgol Cwm Taf Morgannwg",
        "7A6": "Bwrdd Iechyd Prifysgol Aneurin Bevan",
        "7A7": "Bwrdd Iechyd Addysgu Powys",
    }
    assert boards["7A7"].name == "Powys Teaching Health Board"
    for board in boards.values():
        assert board.email_language is OrganisationLanguage.BILINGUAL
        assert len(board.services) >= 3
        assert all(s.programme == "mental-health" and s.name_cy for s in board.services)


def test_directory_csv_errors_name_every_bad_line() -> None:
    text = (
        "organisation_id,organisation_name,organisation_type,service_id,service_name\n"
        "TAD,Bradford District Care NHS Foundation Trust,nhs_trust,TAD-CMHT,CMHT\n"
        "not ods!,Somewhere,nhs_trust,,\n"
        "RXA,,nhs_trust,,\n"
    )
    with pytest.raises(DirectoryFileError) as caught:
        parse_directory(text)
    assert [e.line for e in caught.value.errors] == [3, 4]


def test_topics_compare_reports_missing_short_and_under_replicated() -> None:
    names = expected_topics(TopicNames("t-"))
    assert "t-story.approved" in names and "t-story.approved.dlq" in names
    found = {"a": Layout(3, 3), "b": Layout(1, 3), "d": Layout(3, 1)}
    states = compare(["a", "b", "c", "d"], found, 3, 3)
    assert [s.verdict for s in states] == [
        "ok",
        "fewer partitions than 3",
        "missing",
        "replication factor 1, want 3",
    ]


def test_jwt_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path)
    assert len(first) >= 32 and load_or_create_secret(tmp_path) == first
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o077 == 0


RAW = (
    b"From: Candour <alerts@candour.example>\r\nTo: Staff <staff@trust.example>\r\n"
    b"Subject: New story\r\nMessage-ID: <abc@candour.example>\r\n"
    b"Date: Tue, 25 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nA story   about care.\r\n"
    b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>A story about care.</p>\r\n"
    b"--b--\r\n"
)


def test_mailbox_keeps_messages_in_mailpit_shapes(tmp_path: Path) -> None:
    store = MailStore(tmp_path)
    stored = store.add(RAW, ["staff@trust.example", "hidden@trust.example"])
    summary = stored.summary()
    assert summary["From"] == {"Name": "Candour", "Address": "alerts@candour.example"}
    assert summary["To"] == [{"Name": "Staff", "Address": "staff@trust.example"}]
    assert summary["Bcc"] == [{"Name": "", "Address": "hidden@trust.example"}]
    assert summary["MessageID"] == "abc@candour.example"
    assert summary["Snippet"] == "A story about care."
    assert summary["Created"].endswith("Z") and not summary["Read"]
    detail = stored.detail()
    assert detail["Text"].strip() == "A story   about care."
    assert "<p>" in detail["HTML"] and detail["Date"].startswith("2026-11-25T10:00:00")
    # Kept on disk: a new store over the same directory sees it, then deletes it.
    again = MailStore(tmp_path)
    assert [m.id for m in again] == [stored.id]
    again.delete()
    assert len(again) == 0 and not list(tmp_path.glob("*.eml"))


async def test_mailbox_api_lists_shows_and_deletes(tmp_path: Path) -> None:
    import httpx

    from candour_cli.mailbox import create_mailbox_app

    store = MailStore(tmp_path)
    first = store.add(RAW, ["staff@trust.example"])
    store.add(RAW.replace(b"New story", b"Second"), ["staff@trust.example"])
    transport = httpx.ASGITransport(app=create_mailbox_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://mailbox") as http:
        listing = (await http.get("/api/v1/messages")).json()
        assert (listing["total"], listing["count"], listing["unread"]) == (2, 2, 2)
        assert listing["messages"][0]["Subject"] == "Second"  # newest first
        message = (await http.get(f"/api/v1/message/{first.id}")).json()
        assert (
            message["Subject"] == "New story" and message["Read"] is True
        )  # marked read on open, as Mailpit
        assert (await http.get("/api/v1/messages")).json()["unread"] == 1
        assert (await http.get("/api/v1/message/nope")).status_code == 404
        page = await http.get(f"/view/{first.id}")
        assert page.status_code == 200 and 'sandbox=""' in page.text
        deleted = await http.request("DELETE", "/api/v1/messages", json={"IDs": [first.id]})
        assert deleted.status_code == 200
        assert (await http.get("/api/v1/messages")).json()["total"] == 1
        await http.delete("/api/v1/messages")
        assert (await http.get("/api/v1/messages")).json()["total"] == 0
