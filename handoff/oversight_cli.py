"""What `python -m gateway.cli export` and `python -m gateway.cli data purge` do."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import typer

from bot.files.store import file_store_from_settings
from bot.logs import configure_logging
from bot.rasa_client import RasaClient
from bot.settings import Settings
from bot.store.db import create_engine, create_session_factory
from bot.store.migrate import SchemaNotCurrent, ensure_schema_current
from bot.store.models import utcnow
from handoff.customer_data import erase_contact, export_contact, find_contact
from handoff.dates import check_range
from handoff.errors import HandoffError, Invalid
from handoff.export import ExportFormat, ExportKind, write_export
from handoff.retention import purge_inactive

T = TypeVar("T")


def _day(value: datetime | None, *, after: bool = False) -> datetime | None:
    if value is None:
        return None
    day = value.replace(tzinfo=UTC, hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1) if after else day


def export_to(
    settings: Settings,
    out: Path,
    export_format: str,
    start: datetime | None,
    end: datetime | None,
    *,
    kind: str = "conversations",
) -> int:
    try:
        chosen = ExportFormat(export_format.lower())
    except ValueError:
        typer.echo("--format must be csv or jsonl.", err=True)
        raise typer.Exit(2) from None
    try:  # the API's rule: a day past 9999-12-30 has no next day, and crashed the export
        check_range(start.date() if start else None, end.date() if end else None)
    except Invalid as error:
        typer.echo(f"{error.message} (--start/--end)", err=True)
        raise typer.Exit(2) from None
    try:
        rows = ExportKind(kind.lower())
    except ValueError:
        typer.echo("--kind must be conversations or episodes.", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.LOG_LEVEL)

    async def run() -> int:
        engine = create_engine(settings.DATABASE_URL)
        try:
            await ensure_schema_current(engine)
            sessions = create_session_factory(engine)
            since, until = _day(start), _day(end, after=True)
            if str(out) == "-":
                return await write_export(
                    sessions, sys.stdout, export_format=chosen, since=since, until=until, kind=rows
                )
            with out.open("w", encoding="utf-8", newline="") as file:
                return await write_export(
                    sessions, file, export_format=chosen, since=since, until=until, kind=rows
                )
        finally:
            await engine.dispose()

    return _run(run())


def purge(settings: Settings, older_than_days: int | None, *, dry_run: bool) -> str:
    days = older_than_days or settings.RETENTION_DAYS
    if days is None:
        typer.echo("Say how old: --older-than-days N, or set RETENTION_DAYS.", err=True)
        raise typer.Exit(2)
    configure_logging(settings.LOG_LEVEL)

    async def run() -> str:
        engine = create_engine(settings.DATABASE_URL)
        try:
            await ensure_schema_current(engine)
            rasa = RasaClient(
                settings.RASA_URL,
                timeout=settings.RASA_TIMEOUT_SECONDS,
                channel_token=settings.RASA_CHANNEL_TOKEN,
            )
            try:
                report = await purge_inactive(
                    create_session_factory(engine),
                    older_than_days=days,
                    actor=f"cli:{getpass.getuser()}",
                    now=utcnow(),
                    dry_run=dry_run,
                    erase_tracker=rasa.erase_tracker,
                    files=file_store_from_settings(settings),
                )
            finally:
                await rasa.close()
            return report.summary().capitalize() + "."
        finally:
            await engine.dispose()

    return _run(run())


def customer(settings: Settings, reference: str, *, erase: bool) -> str:
    """`data customer export|erase CONTACT`: JSON of everything held, or what was erased."""
    configure_logging(settings.LOG_LEVEL)

    async def run() -> str:
        engine = create_engine(settings.DATABASE_URL)
        rasa = RasaClient(
            settings.RASA_URL,
            timeout=settings.RASA_TIMEOUT_SECONDS,
            channel_token=settings.RASA_CHANNEL_TOKEN,
        )
        try:
            await ensure_schema_current(engine)
            sessions = create_session_factory(engine)
            async with sessions() as session:
                contact = await find_contact(session, reference)
                if not erase:
                    held = await export_contact(session, contact, rasa=rasa)
                    return json.dumps(held, ensure_ascii=False, indent=2)
                contact_id = contact.id
            counts = await erase_contact(
                sessions, contact_id, rasa=rasa, actor=f"cli:{getpass.getuser()}", now=utcnow()
            )
            return json.dumps(dict(counts))
        finally:
            await rasa.close()
            await engine.dispose()

    try:
        return _run(run())
    except HandoffError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from None


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except SchemaNotCurrent as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
