"""`lore redact`: preview what a redaction policy strips from files, writing nothing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from ..ingest.base import available_formats
from ..redact import Redactor, load_policy
from ..redact.preview import preview
from .app import Settings, cli, emit_json, json_option, note


def stats_line(counts: Counter[str]) -> str:
    """One line saying what was stripped: values per kind, records masked or dropped."""
    kinds = sorted((k, n) for k, n in counts.items() if k not in ("masked", "dropped", "topic")
                   and not k.startswith("topic:"))
    values = sum(n for _, n in kinds)
    detail = ", ".join(f"{k} {n}" for k, n in kinds)
    text = f"redacted {values} value{'s' if values != 1 else ''}"
    text += f" ({detail})" if detail else ""
    return text + f" · {counts.get('masked', 0)} masked · {counts.get('dropped', 0)} dropped"


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--dry-run", is_flag=True,
    help="List each value the policy strips (kind, file, line, masked preview) instead of"
    " printing the redacted records.",
)
@click.option(
    "--policy", type=click.Path(dir_okay=False, path_type=Path),
    envvar="LORE_REDACTION_POLICY", default=None,
    help="Redaction policy (TOML). [env: LORE_REDACTION_POLICY; default: the built-in policy]",
)
@click.option(
    "--format", "fmt", type=click.Choice(["auto", *available_formats()]), default="auto",
    show_default=True, help="Input format; auto detects it per file.",
)
@json_option
@click.pass_obj
def redact(
    settings: Settings, paths: tuple[Path, ...], dry_run: bool, policy: Path | None, fmt: str,
    as_json: bool,
) -> None:
    """Show what redaction does to PATHS (files, or folders walked), writing nothing.

    Files are read by the same connectors as `lore ingest`. With --dry-run, each value the
    policy would strip is listed with its kind, file, line and a masked preview (a secret
    shows at most its first 4 characters, never the whole value); without it, each record
    is printed as it would be stored. Records a topic rule masks or drops are listed too.
    """
    redactor = Redactor(load_policy(policy))
    report = preview(paths, redactor, fmt)
    if as_json:
        data = {"policy": redactor.policy.source, **report.summary()}
        if dry_run:
            data["findings"] = [f.to_dict() for f in report.findings]
            data["records"] = [
                {k: v for k, v in r.items() if k != "text"} for r in report.records
                if r["status"] != "kept"
            ]
        else:
            data["records"] = report.records
        emit_json(data)
        return
    if dry_run:
        for f in report.findings:
            where = f"{f.file}:{f.line}" if f.line is not None else f"{f.file} ({f.place})"
            field = "" if f.field == "text" else f" [{f.field}]"
            click.echo(f"{where}  {f.kind:<11} {f.preview}  -> {f.placeholder}{field}")
        for record in report.records:
            if record["status"] != "kept":
                where = record["file"] + (f":{record['line']}" if record["line"] else "")
                click.echo(f"{where}  {record['status']} whole record: {record['topic']}")
    else:
        for record in report.records:
            if record["status"] == "dropped":
                continue
            where = record["file"] + (f":{record['line']}" if record["line"] else "")
            click.echo(f"{where}: {record['text']}")
    note(f"policy {redactor.policy.source} · {report.files} file(s) · {len(report.records)}"
         f" records · {stats_line(report.counts)} · nothing written")
    for problem in report.problems:
        note(str(problem))
    for path in report.unsupported:
        note(f"{path}: skipped, not a format Lore reads (pass --format to force one)")
