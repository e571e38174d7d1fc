from image2ad.models.api_key import ApiKey
from image2ad.models.base import Base
from image2ad.models.brand import BrandKit, Rendition
from image2ad.models.credit_entry import CreditEntry, CreditKind
from image2ad.models.idempotency_key import IdempotencyKey
from image2ad.models.job import Job
from image2ad.models.model_status import ModelStatus
from image2ad.models.pack import Pack
from image2ad.models.password_reset import PasswordReset
from image2ad.models.send_gate import SendGate
from image2ad.models.share import Share
from image2ad.models.storage_cleanup import StorageCleanup
from image2ad.models.supabase_identity import SupabaseIdentity
from image2ad.models.upload import Upload
from image2ad.models.usage_event import UsageEvent
from image2ad.models.user import User
from image2ad.models.web_session import WebSession
from image2ad.models.webhook import WebhookDelivery, WebhookEndpoint, WebhookEvent
from image2ad.models.worker import WorkerHeartbeat

__all__ = [
    "ApiKey",
    "Base",
    "BrandKit",
    "CreditEntry",
    "CreditKind",
    "IdempotencyKey",
    "Job",
    "ModelStatus",
    "Pack",
    "PasswordReset",
    "Rendition",
    "SendGate",
    "Share",
    "StorageCleanup",
    "SupabaseIdentity",
    "Upload",
    "UsageEvent",
    "User",
    "WebSession",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WorkerHeartbeat",
]
