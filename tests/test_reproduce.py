"""`scalinglaws reproduce`: the registry, the command's contract (exit codes, what is written and
what is never overwritten), the gallery's links, and a rerun served from the runs' cache."""

import json
import re
import time

import pytest

from scalinglaws.cli import main
from scalinglaws.reproduce import FIGURES, MANIFEST, AbstractFigure


def test_every_registered_figure_is_complete_and_listed(capsys):
    assert {"p1-fig1", "p3-plain", "p4-emergence", "p5-fig1", "p5-fig4"} <= set(FIGURES)
    for figure_id, item in FIGURES.items():
        assert isinstance(item, AbstractFigure) and item.id == figure_id
        assert re.fullmatch(r"p[1-5]-[a-z0-9-]+", figure_id)
        assert "arXiv:" in item.paper and item.caption and item.quick_note
        full, quick = item.seconds
        assert 0 < quick <= 120 and full > 0  # measured: benchmarks/results/reproduce.md
    assert main(["reproduce", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(figure_id in listed for figure_id in FIGURES)


@pytest.mark.parametrize(
    "args, key",
    [(["p9-nothing"], "FIGURE"), ([], "FIGURE"), (["--all", "p1-fig1"], "FIGURE")],
    ids=["unknown", "none", "both"],
)
def test_bad_requests_exit_2_naming_the_argument_and_write_nothing(tmp_path, capsys, args, key):
    out = tmp_path / "gallery"
    assert main(["reproduce", *args, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {key}")
    assert not out.exists()


def test_a_directory_the_tool_did_not_make_is_refused_untouched(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    assert main(["reproduce", "p5-fig1", "--quick", "--out", str(out), "--quiet"]) == 2
    assert "--out" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "my notes"


def _links(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"#][^"]*)"', html)


def test_quick_figure_gallery_links_cache_and_ownership(tmp_path, capsys):
    """A quick reproduction writes the figure, its report and a gallery whose every image and link
    exists; a second call is served from the runs' cache; a report the user edited is never
    overwritten (the call is refused before computing), and a file the user adds survives."""
    out = tmp_path / "figures"
    start = time.perf_counter()
    assert main(["reproduce", "p5-fig1", "--quick", "--out", str(out), "--quiet"]) == 0
    first = time.perf_counter() - start
    names = {p.name for p in out.iterdir()}
    assert {"p5-fig1.png", "p5-fig1.md", "index.html", "index.md", MANIFEST, "runs"} <= names
    html = (out / "index.html").read_text()
    links = _links(html)
    assert "p5-fig1.png" in links and "p5-fig1.md" in links
    assert all((out / link).is_file() for link in links)
    assert all((out / link).is_file() for link in re.findall(r"\]\(([^)]+)\)", (out / "index.md").read_text()))
    report = (out / "p5-fig1.md").read_text()
    assert "quick version" in report and "| 100 |" in report  # the table row of mode i = 100
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["figures"]["p5-fig1"]["runs"] and not manifest["figures"]["p5-fig1"]["runs"][0][1]
    assert (out / "p5-fig1.png").stat().st_size > 10_000

    capsys.readouterr()
    start = time.perf_counter()
    (out / "mine.txt").write_text("kept")
    assert main(["reproduce", "p5-fig1", "--quick", "--out", str(out), "--quiet"]) == 0
    assert "served from their cache" in capsys.readouterr().out
    assert time.perf_counter() - start < first
    manifest = json.loads((out / MANIFEST).read_text())
    assert all(cached for _, cached in manifest["figures"]["p5-fig1"]["runs"])
    assert (out / "mine.txt").read_text() == "kept"

    (out / "p5-fig1.md").write_text("my edit")
    assert main(["reproduce", "p5-fig1", "--quick", "--out", str(out), "--quiet"]) == 2
    assert "p5-fig1.md" in capsys.readouterr().err
    assert (out / "p5-fig1.md").read_text() == "my edit"
