"""push --prune of a page of a search (sekmet-fhir on 127.0.0.1; nothing mocked): the page holds only some of the
search's matches, so pruning against it would delete the other pages' resources from the server; the push is
refused (exit 2) before anything is sent, naming the page, as a count answer is. Without --prune the page is pushed
with its warning; the whole search (one page holding every match) is pruned against as before."""

from __future__ import annotations

from pathlib import Path

from test_search_pages_server import OBSERVATIONS, _next, _push, _save, _whole_pushed

from servers.fhir_servers import request, sekmet_server


def test_push_prune_of_one_page_is_refused_and_deletes_nothing(tmp_path: Path) -> None:
    (tmp_path / "server").mkdir()
    with sekmet_server(tmp_path / "server") as base:
        _whole_pushed(base, tmp_path)
        page = _save(base, "Observation?_count=3&_include=Observation:subject", tmp_path / "page1.json")
        assert _next(page)
        code, out, report = _push(base, tmp_path / "page1.json", tmp_path, "--prune")
        assert code == 2, out
        assert "page1.json: a searchset Bundle that is one page of a search result" in out
        assert "--prune" in out
        status, still = request(f"{base}/Observation?_summary=count")
        assert status == 200 and still["total"] == OBSERVATIONS, out  # nothing pruned
        code, out, report = _push(base, tmp_path / "page1.json", tmp_path, "--prune", "--dry-run")
        assert code == 2, out
        code, out, report = _push(base, tmp_path / "all.json", tmp_path, "--prune")  # the whole search: pruned
        assert code == 0 and report["warnings"] == [], out
        assert sum(c.get("deleted", 0) for c in report["counts"].values()) == 0, report["counts"]
