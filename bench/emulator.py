"""Run the Kie emulator standalone with any `EmulatorSettings` knob (the CLI exposes a few).

.venv/bin/python -m bench.emulator --port 8090 --admin-key KEY --settings '{"create_limit": 200}'
"""

from __future__ import annotations

import argparse
import json

import uvicorn

from image2ad.providers.emulator.app import create_app
from image2ad.providers.emulator.settings import EmulatorSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-key", required=True, help="Bearer key of the /_admin routes")
    parser.add_argument("--settings", default="{}", help="EmulatorSettings fields as JSON")
    args = parser.parse_args()
    knobs = json.loads(args.settings)
    settings = EmulatorSettings(
        public_url=f"http://127.0.0.1:{args.port}", admin_key=args.admin_key, **knobs
    )
    app = create_app(settings)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
