"""The seed's four edge functions (`/functions/v1/generate-*`), served by the job pipeline.

A request creates a job like `POST /api/v1/jobs`, is held open until the job ends (bounded by
IMAGE2AD_FUNCTIONS_WAIT_S) and is answered in the seed's shape (docs/adr/0017).
"""
