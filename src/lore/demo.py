"""`python -m lore.demo [DB]`: ingest the sample workspace, search it, pack context for an agent."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from .context.render import render_markdown
from .engine import Lore
from .errors import LoreError

DEMO_DB = Path(".lore") / "demo.db"
NAMESPACE = "northwind"
QUESTION = "why did the payments webhook book a payment twice?"
BUDGET = 400


def run(db: str | Path = DEMO_DB, *, out: TextIO | None = None, err: TextIO | None = None) -> None:
    """Open (or create) `db`, ingest the sample workspace (again: it adds nothing), then query."""
    from .samples import ingest_workspace

    out = out or sys.stdout
    err = err or sys.stderr
    print(f"opening {db} (first run loads the embedder and ingests the samples)…", file=err)
    with Lore.open(db) as lore:
        reports = ingest_workspace(lore, namespace=NAMESPACE)
        print(f"# Ingested the sample workspace into namespace {NAMESPACE!r}", file=out)
        for name, report in sorted(reports.items()):
            print(
                f"  {name}: added {report.added} · duplicates {report.duplicates}"
                f" · failed {report.failed}",
                file=out,
            )
            for problem in report.problems:
                print(f"  {problem}", file=err)
        added, duplicates, failed = (
            sum(getattr(r, name) for r in reports.values())
            for name in ("added", "duplicates", "failed")
        )
        print(f"  total: added {added} · duplicates {duplicates} · failed {failed}", file=out)

        print(f"\n# Search: {QUESTION}", file=out)
        for rank, hit in enumerate(lore.search(QUESTION, k=5, namespace=NAMESPACE), start=1):
            record = hit.record
            who = " · ".join(p for p in (record.session_id, record.actor) if p)
            why = ", ".join(f"{name} #{h.rank}" for name, h in hit.why.items())
            text = " ".join(record.text.split())
            text = text if len(text) <= 160 else text[:159] + "…"
            print(f"{rank}. [{hit.score:.4f}] {who}: {text}\n   why: {why}", file=out)

        pack = lore.context(QUESTION, BUDGET, namespace=NAMESPACE)
        print(
            f"\n# Context pack: {len(pack.fragments)} fragments,"
            f" {pack.tokens}/{pack.budget_tokens} tokens ({pack.encoding})\n",
            file=out,
        )
        print(render_markdown(pack), file=out)
        if pack.fragments:
            print(f"\n(expand any handle: lore --db {db} expand {pack.fragments[0].id})", file=out)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        run(args[0] if args else DEMO_DB)
    except LoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
