"""A served process freezes its start-up objects and runs full collections less often."""

from __future__ import annotations

import subprocess
import sys

from image2ad.heap import FULL_COLLECTION_EVERY


def test_freeze_keeps_young_thresholds_and_spaces_full_collections() -> None:
    # In a child: freezing and thresholds are process-wide and would outlive this test.
    script = (
        "import gc; from image2ad.heap import freeze_startup_objects; "
        "before = gc.get_threshold(); freeze_startup_objects(); after = gc.get_threshold(); "
        "print(gc.get_freeze_count() > 0, before[:2] == after[:2], after[2])"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", str(FULL_COLLECTION_EVERY)]
