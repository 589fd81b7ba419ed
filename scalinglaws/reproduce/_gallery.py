"""The gallery of a reproduction directory: `index.md` and a static `index.html` showing every
reproduced figure with its report."""

import html


__all__ = ["gallery_html", "gallery_markdown"]


def gallery_markdown(entries: list[dict]) -> str:
    """`entries`: per figure `id`, `paper`, `caption`, `png`, `report` (file names), `quick`,
    `note` (what quick changed), `body` (the report's lines)."""
    lines = ["# Reproduced figures", "", "Made by `scalinglaws reproduce`; each figure links its report.", ""]
    for entry in entries:
        lines += [f"## {entry['id']}: {entry['caption']}", "", f"{entry['paper']}. {_version_line(entry)}", ""]
        lines += [f"![{entry['id']}]({entry['png']})", "", f"Report: [{entry['report']}]({entry['report']})", ""]
        lines += [*entry["body"], ""]
    return "\n".join(lines) + "\n"


def gallery_html(entries: list[dict]) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>scalinglaws: reproduced figures</title>',
        "<style>body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}"
        "img{max-width:100%;border:1px solid #ddd}table{border-collapse:collapse;margin:0.5em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}nav a{margin-right:1em}</style>",
        "</head><body>",
        "<h1>Reproduced figures</h1>",
        "<nav>" + "".join(f'<a href="#{_e(e["id"])}">{_e(e["id"])}</a>' for e in entries) + "</nav>",
    ]
    for entry in entries:
        parts += [
            f'<h2 id="{_e(entry["id"])}">{_e(entry["id"])}: {_e(entry["caption"])}</h2>',
            f"<p>{_e(entry['paper'])}. {_e(_version_line(entry))}</p>",
            f'<p><img src="{_e(entry["png"])}" alt="{_e(entry["id"])}"></p>',
            f'<p>Report: <a href="{_e(entry["report"])}">{_e(entry["report"])}</a></p>',
            _markdown_to_html(entry["body"]),
        ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _version_line(entry: dict) -> str:
    return f"Quick version: {entry['note']}." if entry["quick"] else "Full version."


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


def _markdown_to_html(lines: list[str]) -> str:
    """The subset of Markdown the reports use: headings, pipe tables, paragraphs and list items."""
    out, table = [], []

    def flush() -> None:
        if table:
            rows = [row for row in table if not set(row.replace("|", "").strip()) <= {"-", ":", " "}]
            cells = [[_e(c.strip()) for c in row.strip().strip("|").split("|")] for row in rows]
            head = "".join(f"<th>{c}</th>" for c in cells[0])
            body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells[1:])
            out.append(f"<table><tr>{head}</tr>{body}</table>")
            table.clear()

    for line in lines:
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")) + 2, 6)
            out.append(f"<h{level}>{_e(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            out.append(f"<ul><li>{_e(line[2:])}</li></ul>")
        elif line.strip():
            out.append(f"<p>{_e(line)}</p>")
    flush()
    return "\n".join(out)
