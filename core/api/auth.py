"""Sign-up, log-in, log-out and the current browser session."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import JSONBody
from msgspec import Meta

from core.api.deps import current_session
from core.auth.devices import DEVICE_COOKIE, DEVICE_COOKIE_PATH
from core.auth.passwords import MAX_LENGTH, MIN_LENGTH
from core.auth.sessions import COOKIE_NAME
from core.auth.tokens import Actor
from core.errors import UnsupportedMediaType
from core.platform import Platform

#: What ``normal_email`` accepts: something, an @, a domain with a dot; no blank inside.
Email = Annotated[str, Meta(min_length=3, max_length=320, pattern=r"^\s*\S+@[^@\s]*\.[^@\s]*\s*$")]
#: A password to check: any length up to the cap.
Password = Annotated[str, Meta(min_length=1, max_length=MAX_LENGTH)]
#: A password to set: long enough (``check_strength``).
NewPassword = Annotated[str, Meta(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]


class SignUp(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: NewPassword
    name: Annotated[str, Meta(max_length=200)] = ""


class LogIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password


class SessionView(msgspec.Struct):
    """The logged-in person and the CSRF token their cookie-authenticated writes must send
    in ``X-CSRF-Token``."""

    person: Actor
    csrf_token: str
    expires_at: datetime | None = None


def _require_json(request: Request[Any, Any, Any]) -> None:
    """Log-in and sign-up set a cookie before any CSRF token exists: insisting on a JSON
    body means a cross-site form (which can only send ``text/plain``, form or multipart
    without a CORS preflight) cannot log a visitor into someone else's account."""
    if request.content_type[0] != "application/json":
        raise UnsupportedMediaType("send the credentials as application/json")


def _address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _session_cookie(platform: Platform, value: str) -> Cookie:
    return Cookie(
        key=COOKIE_NAME,
        value=value,
        httponly=True,
        samesite="lax",
        secure=platform.settings.secure_cookies,
        max_age=platform.settings.session_days * 86400,
        path="/",
    )


async def _open_session(
    request: Request[Any, Any, Any], platform: Platform, person: Actor, status: int
) -> Response[SessionView]:
    cookie, csrf = await platform.sessions.open(
        person.id, user_agent=request.headers.get("user-agent", "")
    )
    return Response(
        SessionView(person=person, csrf_token=csrf),
        status_code=status,
        cookies=[_session_cookie(platform, cookie)],
    )


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/signup",
        summary="Create an account and log in",
        description=(
            "Answers 201 with a session whether or not the email is registered, so the "
            "answer does not tell which. For a registered email nothing changes: no "
            "password is set and the session returned is not one (requests with it are "
            "401); log in instead."
        ),
    )
    async def sign_up(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SignUp],
        platform: NamedDependency[Platform],
    ) -> Response[SessionView]:
        _require_json(request)
        result = await platform.accounts.sign_up(
            data.email, data.password, data.name, address=_address(request)
        )
        if result.created:
            return await _open_session(request, platform, result.person, 201)
        cookie, csrf = platform.sessions.decoy()
        return Response(
            SessionView(person=result.person, csrf_token=csrf),
            status_code=201,
            cookies=[_session_cookie(platform, cookie)],
        )

    @post(
        "/login",
        summary="Log in with email and password",
        description=(
            "Failed attempts slow the account down. A browser that has logged in to the "
            "account before sends its `creator_device` cookie (set here, sent only to this "
            "route) and waits on a delay of its own, so nobody else's guesses keep it out."
        ),
    )
    async def log_in(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LogIn],
        platform: NamedDependency[Platform],
    ) -> Response[SessionView]:
        _require_json(request)
        devices = platform.devices
        device = devices.known(request.cookies.get(DEVICE_COOKIE), data.email)
        person = await platform.accounts.log_in(
            data.email, data.password, address=_address(request), device=device
        )
        response = await _open_session(request, platform, person, 200)
        response.set_cookie(
            key=DEVICE_COOKIE,
            value=devices.issue(data.email, device),
            httponly=True,
            samesite="strict",
            secure=platform.settings.secure_cookies,
            max_age=devices.max_age,
            path=DEVICE_COOKIE_PATH,
        )
        return response

    @post("/logout", summary="End this browser session", status_code=204)
    async def log_out(
        self, request: Request[Any, Any, Any], platform: NamedDependency[Platform]
    ) -> Response[None]:
        await current_session(request)  # a log-out is a write: it needs the CSRF token
        await platform.sessions.close(request.cookies[COOKIE_NAME])
        response: Response[None] = Response(None, status_code=204)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    @get("/session", summary="The current browser session and its CSRF token")
    async def session(self, request: Request[Any, Any, Any]) -> SessionView:
        info = await current_session(request)
        return SessionView(
            person=info.person, csrf_token=info.csrf_token, expires_at=info.expires_at
        )
