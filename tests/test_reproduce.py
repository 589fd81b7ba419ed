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
        assert re.fullmatch(r"p[1-5]-[a-z0-9-]+|laws", figure_id)
        assert "arXiv:" in item.paper and item.caption and item.quick_note
        full, quick = item.seconds
        assert 0 < quick <= 120  # measured: benchmarks/results/reproduce.md
        assert full > 0 or (item.needs_gpu and full != full)  # NaN: sized for a GPU, not yet timed on one
    assert main(["reproduce", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(figure_id in listed for figure_id in FIGURES)


@pytest.mark.parametrize(
    "args, key",
    [(["p9-nothing"], "FIGURE"), ([], "FIGURE"), (["--all", "p1-fig1"], "FIGURE"), (["p1-fig6"], "FIGURE")],
    ids=["unknown", "none", "both", "full-version-sized-for-a-gpu"],
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


def test_an_analysis_is_kept_beside_the_runs_and_served_only_while_it_matches(tmp_path):
    """`Runs.analysis` computes once, serves the kept numbers while the parameters and the version
    match, recomputes when the parameters change, and refuses (exit-2 error naming --out) a file
    that was edited or not written by the tool, leaving it as it is."""
    from scalinglaws.experiment import ConfigError
    from scalinglaws.reproduce import Runs

    calls = []

    def compute(scale=1.0):
        calls.append(scale)
        return {"rate": [0.5 * scale, 0.25 * scale]}

    runs = Runs(tmp_path, quick=True)
    assert runs.analysis("rates", {"k": 2}, compute) == {"rate": [0.5, 0.25]}
    assert runs.analysis("rates", {"k": 2}, lambda: compute(9.0)) == {"rate": [0.5, 0.25]}  # served
    assert runs.analysis("rates", {"k": 3}, lambda: compute(2.0)) == {"rate": [1.0, 0.5]}  # recomputed
    assert calls == [1.0, 2.0] and [cached for _, cached in runs.used] == [False, True, False]
    path = tmp_path / "quick" / "analyses" / "rates.json"
    path.write_text(path.read_text().replace("0.5", "0.4"))  # an edit
    with pytest.raises(ConfigError, match="--out"):
        runs.analysis("rates", {"k": 3}, compute)
    path.write_text('{"rate": [1]}')  # not the tool's
    with pytest.raises(ConfigError, match="--out"):
        runs.analysis("rates", {"k": 3}, compute)
    assert path.read_text() == '{"rate": [1]}' and calls == [1.0, 2.0]


def test_plateau_crossing_is_interpolated_in_log_log():
    """The plateau figure's crossing time is exact, between grid points, for a power law."""
    import numpy as np

    from scalinglaws.reproduce._p1_plateau import _crossing

    alpha = np.concatenate([[0.0], np.logspace(0, 4, 9)])
    eps = np.concatenate([[1.0], alpha[1:] ** -1.5])
    found, index = _crossing(alpha, eps, 1e-3)
    np.testing.assert_allclose(found, 10**2, rtol=1e-12)
    found, index = _crossing(alpha, eps, 3e-4)
    np.testing.assert_allclose(found, (3e-4) ** (-1 / 1.5), rtol=1e-12)
    assert alpha[index - 1] < found <= alpha[index]
    assert np.isnan(_crossing(alpha, eps, 1e-7)[0])


def _overlapping_tick_labels(figure) -> list[tuple[str, str]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    pairs = []
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t for t in axis.get_ticklabels(which="both") if t.get_visible() and t.get_text()]
            boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in labels]
            pairs += [(a, b) for i, (a, x) in enumerate(boxes) for b, y in boxes[i + 1 :] if x.overlaps(y)]
    return pairs


def test_tidy_keeps_log_tick_labels_apart_and_resolved_hides_rounding():
    """Matplotlib labels every minor tick of a log axis spanning less than two powers of ten, and the
    labels collide (the p2-asymptotic panel did); after `tidy` none do, on narrow and wide axes."""
    import numpy as np

    from scalinglaws.reproduce._common import new_figure, resolved, tidy

    def drawn():
        figure, (narrow, wide) = new_figure(2, 3.2, 3.0)
        narrow.loglog([0.25, 8.0], [0.015, 0.25])
        wide.loglog([1e-2, 1e4], [1e-9, 1.0])
        return figure

    assert _overlapping_tick_labels(drawn())  # the failure tidy exists for
    figure = drawn()
    tidy(figure)
    assert not _overlapping_tick_labels(figure)
    np.testing.assert_array_equal(np.isnan(resolved([1e-3, 1e-13, -1e-15])), [False, True, True])
