"""Issue 11 finding 6: memory is an input too. A real `image2ad serve` process (bench/
hostile_memory.py) takes 8 parallel uploads of a 5 KB PNG of 40 megapixels and 4 parallel 64 MiB
request headers; its peak RSS growth stays bounded, and the headers are refused with 431."""

from __future__ import annotations

from pathlib import Path

from bench.hostile_memory import big_header_request, header_case, serve, upload_case

from tests.fixtures.hostile import report

UPLOAD_GROWTH_MIB = 400  # the target; today's decode of 8 such images took ~1.8 GiB
HEADER_GROWTH_MIB = 64  # 4 x 64 MiB headers took ~370 MiB when they were read whole


def test_parallel_40_megapixel_uploads_stay_within_memory(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        result = upload_case(server)
    growth = result["peak_rss_growth_mib"]
    assert report(
        "6 upload decode memory",
        "test_parallel_40_megapixel_uploads_stay_within_memory",
        expected=f"8 parallel 40 MP uploads: 201 each, peak RSS growth <= {UPLOAD_GROWTH_MIB} MiB",
        observed=f"statuses {result['statuses']}, growth {growth} MiB",
        passed=growth <= UPLOAD_GROWTH_MIB and result["statuses"] == [201] * 8,
        peak_rss_growth_mib=growth,
    ), result


def test_parallel_64_mib_headers_are_refused_early(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        result = header_case(server)
        ordinary = big_header_request(server.port, 16 * 1024)  # a big cookie, say
    assert ordinary == 200
    growth = result["peak_rss_growth_mib"]
    assert report(
        "6 header size",
        "test_parallel_64_mib_headers_are_refused_early",
        expected=f"4 parallel 64 MiB headers: 431 each, peak RSS growth <= {HEADER_GROWTH_MIB} MiB",
        observed=f"statuses {result['statuses']}, growth {growth} MiB",
        passed=growth <= HEADER_GROWTH_MIB and result["statuses"] == [431] * 4,
        peak_rss_growth_mib=growth,
    ), result
