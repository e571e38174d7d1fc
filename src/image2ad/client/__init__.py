"""The image2ad Python SDK: `Client` and `AsyncClient` over the HTTP API.

It imports nothing of the server, so it runs wherever httpx, pydantic and tenacity do::

    from image2ad.client import Client

    with Client("http://127.0.0.1:8000", api_key) as client:
        job = client.run("text-to-image", "Cold brew can on ice", aspect_ratio="4:5")
        png = client.download(job)
"""

from image2ad.client.aio import AsyncClient
from image2ad.client.errors import (
    AuthenticationError,
    Conflict,
    Image2adError,
    InsufficientCredits,
    InvalidInput,
    JobFailed,
    ModelUnavailable,
    NetworkError,
    NotFound,
    RateLimited,
    ServerError,
    WaitTimeout,
)
from image2ad.client.models import Job, JobError, JobPage, Me, Pack, PackPage, Upload
from image2ad.client.sync import Client

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "Conflict",
    "Image2adError",
    "InsufficientCredits",
    "InvalidInput",
    "Job",
    "JobError",
    "JobFailed",
    "JobPage",
    "Me",
    "ModelUnavailable",
    "NetworkError",
    "NotFound",
    "Pack",
    "PackPage",
    "RateLimited",
    "ServerError",
    "Upload",
    "WaitTimeout",
]
