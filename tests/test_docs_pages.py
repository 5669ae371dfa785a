"""The documentation's sources, without building the site: the API page documents every
public name, the README stays a front door whose links lead somewhere, and the guide pages'
links to files resolve. (`pytest -m docs` checks the built site: tests/docs/test_site.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import rnnkit

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _local_links(page: Path) -> list[str]:
    links = LINK.findall(page.read_text(encoding="utf-8"))
    return [link for link in links if not re.match(r"[a-z]+:", link)]


def test_api_page_documents_every_public_name() -> None:
    page = (DOCS / "api.rst").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\.\. (?:auto\w+|py:data):: (\w+)", page, flags=re.M))
    assert documented == set(rnnkit.__all__)


def test_readme_is_a_front_door() -> None:
    readme = ROOT / "README.md"
    assert len(readme.read_text(encoding="utf-8").splitlines()) <= 220
    links = _local_links(readme)
    assert "docs/guide/getting-started.md" in links
    for link in links:
        assert (ROOT / link.split("#")[0]).exists(), link


def test_guide_links_to_files_resolve() -> None:
    pages = [*sorted((DOCS / "guide").glob("*.md")), DOCS / "index.md"]
    for page in pages:
        for link in _local_links(page):
            path = link.split("#")[0]
            assert not path or (page.parent / path).exists(), f"{page.name}: {link}"


def test_every_tutorial_is_a_numbered_gallery_script() -> None:
    scripts = sorted(path.name for path in (DOCS / "tutorials").glob("*.py"))
    assert [name.split("_")[1] for name in scripts] == [str(n) for n in range(1, 8)]
