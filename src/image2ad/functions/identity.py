"""Who calls a function: an API key, or a Supabase Auth user token mapped to a local account."""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request

from image2ad.auth import repository as accounts
from image2ad.auth import service as auth
from image2ad.auth import web
from image2ad.errors import Conflict, InvalidInput, NotAuthenticated
from image2ad.functions import repository
from image2ad.models import User
from image2ad.runtime import Runtime

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
# Supabase signs user tokens with HS256 and the project's JWT secret; no other algorithm is
# accepted, so a token cannot pick its own (the "alg: none" and key-confusion attacks).
ALGORITHMS = ["HS256"]


@dataclass(frozen=True)
class SupabaseUser:
    subject: str
    email: str | None


def caller(request: Request, rt: Runtime) -> User:
    """The user behind `Authorization: Bearer …`: an API key, else a Supabase user token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated(
            "Send an API key or a Supabase user token as `Authorization: Bearer …`.",
            headers=_CHALLENGE,
        )
    if token.startswith(auth.API_KEY_PREFIX):
        user = auth.authenticate_api_key(rt.db, token)
        if user is None:
            raise NotAuthenticated("This API key is not valid.", headers=_CHALLENGE)
        return user
    supabase = rt.settings.supabase
    if supabase.jwt_secret is None:
        raise NotAuthenticated("This API key is not valid.", headers=_CHALLENGE)
    claims = verify(token, supabase.jwt_secret.get_secret_value(), supabase.jwt_audience)
    user = local_user(rt, claims, web.client_address(request))
    if user.disabled_at is not None:
        raise NotAuthenticated("This account is disabled.", headers=_CHALLENGE)
    return user


def verify(token: str, secret: str, audience: str) -> SupabaseUser:
    """The token's user if its signature, expiry and audience hold; 401 otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=ALGORITHMS,
            audience=audience,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("The Supabase token has expired.", headers=_CHALLENGE) from exc
    except jwt.InvalidAudienceError as exc:
        raise NotAuthenticated(
            f"The Supabase token is not for {audience!r} users.", headers=_CHALLENGE
        ) from exc
    except jwt.InvalidTokenError as exc:
        raise NotAuthenticated("The Supabase token is not valid.", headers=_CHALLENGE) from exc
    subject, email = claims.get("sub"), claims.get("email")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise NotAuthenticated("The Supabase token names no user.", headers=_CHALLENGE)
    return SupabaseUser(subject, email if isinstance(email, str) and email else None)


def local_user(rt: Runtime, claims: SupabaseUser, address: str) -> User:
    """The account linked to the Supabase user; made on first use like a sign-up."""
    with rt.db.session(read_only=True) as session:
        user = repository.linked_user(session, claims.subject)
    if user is not None:
        return user
    try:
        return _sign_up(rt, claims, address)
    except IntegrityError as exc:
        # A concurrent first request linked it first, or a sign-up took the email meanwhile.
        with rt.db.session(read_only=True) as session:
            user = repository.linked_user(session, claims.subject)
        if user is None:
            raise _email_taken() from exc
        return user


def _sign_up(rt: Runtime, claims: SupabaseUser, address: str) -> User:
    if claims.email is None:
        raise InvalidInput("The Supabase user has no email address; sign in with one.")
    email = auth.normalize_email(claims.email)
    rt.limiter.hit(
        rt.settings.signup_rate_limit,
        "signup",
        address,
        message="Too many new accounts from your network.",
    )
    with rt.db.session() as session:
        if accounts.get_user_by_email(session, email) is not None:
            # image2ad does not verify emails: linking by address would hand an account to
            # whoever registered that address first, here or at Supabase.
            raise _email_taken()
        user = auth.create_user(session, email, credits_granted=rt.settings.signup_credits)
        repository.link(session, claims.subject, user.id)
        return user


def _email_taken() -> Conflict:
    return Conflict(
        "An image2ad account with this email already exists and is not linked to this "
        "Supabase user; use its API key.",
        field="email",
    )
