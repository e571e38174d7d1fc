"""`_share.html` takes its target from the including page: a job's or a pack's links."""

from __future__ import annotations

from image2ad.web.render import templates


def render(**context: str) -> str:
    return templates.env.get_template("_share.html").render(**context)


def test_the_partial_shares_a_job_or_a_pack() -> None:
    job = render(share_job_id="job-1")
    assert 'data-share-kind="job" data-share-target="job-1"' in job
    assert "this result" in job
    pack = render(share_pack_id="pack-1")
    assert 'data-share-kind="pack" data-share-target="pack-1"' in pack
    assert "these results" in pack
    # Ids make the fields' names and labels unique when a page holds two panels.
    assert 'name="share-expiry-pack-1"' in pack and 'id="share-url-pack-1"' in pack
    assert pack.count('type="radio"') == 3 and 'value="604800" checked' in pack


def test_the_partial_includes_with_one_line() -> None:
    page = templates.env.from_string(
        '{% with share_pack_id = pack.id %}{% include "_share.html" %}{% endwith %}'
    )
    assert 'data-share-target="p-9"' in page.render(pack={"id": "p-9"})
