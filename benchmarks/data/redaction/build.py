"""Build the labelled JSONL files from the hand-marked sources (*.txt) beside this script.

Markup: one record per line; `⟦kind|value⟧` marks an expected span; `\\n` is a line break;
a leading `[topic=LABEL] ` marks a record that topic rules should mask; `#` starts a comment.
Run: python benchmarks/data/redaction/build.py  (writes labelled.jsonl, heldout2.jsonl,
heldout3.jsonl, heldout4.jsonl, heldout5.jsonl and heldout6.jsonl)

labelled.jsonl (the dev set) is chat, transcripts, email, traces, docs and heldout.txt (the
first held-out set, merged into dev once it had been seen); heldout2.jsonl is the second
held-out set, heldout2_*.txt (one file per connector style); heldout3.jsonl is the third
held-out set, heldout3_*.txt (same five styles); heldout4.jsonl is the fourth held-out set,
heldout4_*.txt (same five styles, written blind like the third); heldout5.jsonl is the fifth,
heldout5_*.txt (same five styles, written blind too); heldout6.jsonl is the sixth,
heldout6_*.txt (same five styles, written blind too).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARK = re.compile(r"⟦([a-z_]+)\|(.*?)⟧", re.S)
TOPIC = re.compile(r"^\[topic=([a-z/_]+)\] ")


def parse_line(line: str) -> dict[str, object]:
    """One marked-up line to {"text", "spans", "topic"}; offsets are in the plain text."""
    topic = None
    if match := TOPIC.match(line):
        topic, line = match.group(1), line[match.end():]
    line = line.replace("\\n", "\n")
    text, spans, cursor = [], [], 0
    length = 0
    for match in MARK.finditer(line):
        before = line[cursor:match.start()]
        text.append(before)
        length += len(before)
        value = match.group(2)
        spans.append({"kind": match.group(1), "start": length, "end": length + len(value)})
        text.append(value)
        length += len(value)
        cursor = match.end()
    text.append(line[cursor:])
    return {"text": "".join(text), "spans": spans, "topic": topic}


def build(names: list[str], out: Path) -> int:
    rows = []
    for name in names:
        source = HERE / f"{name}.txt"
        for number, raw in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip() or raw.startswith("#"):
                continue
            row = parse_line(raw)
            rows.append({"id": f"{name}:{number}", "source": name, **row})
    with out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


DEV = ["chat", "transcripts", "email", "traces", "docs", "heldout"]
HELDOUT2 = [f"heldout2_{name}" for name in ("chat", "transcripts", "email", "traces", "docs")]
HELDOUT3 = [f"heldout3_{name}" for name in ("chat", "transcripts", "email", "traces", "docs")]
HELDOUT4 = [f"heldout4_{name}" for name in ("chat", "transcripts", "email", "traces", "docs")]
HELDOUT5 = [f"heldout5_{name}" for name in ("chat", "transcripts", "email", "traces", "docs")]
HELDOUT6 = [f"heldout6_{name}" for name in ("chat", "transcripts", "email", "traces", "docs")]


if __name__ == "__main__":
    dev = build(DEV, HERE / "labelled.jsonl")
    held = build(HELDOUT2, HERE / "heldout2.jsonl")
    held3 = build(HELDOUT3, HERE / "heldout3.jsonl")
    held4 = build(HELDOUT4, HERE / "heldout4.jsonl")
    held5 = build(HELDOUT5, HERE / "heldout5.jsonl")
    held6 = build(HELDOUT6, HERE / "heldout6.jsonl")
    print(f"labelled.jsonl: {dev} records; heldout2.jsonl: {held} records; "
          f"heldout3.jsonl: {held3} records; heldout4.jsonl: {held4} records; "
          f"heldout5.jsonl: {held5} records; heldout6.jsonl: {held6} records")
