"""What every HTTP response shares: errors as {"detail": "..."} with the right status, and security headers."""

from __future__ import annotations

import http

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from retrieval.errors import (BadQuestion, CiteqaError, IndexCorrupt, IndexNotFound, ModelMismatch, ReaderUnavailable,
                              RefreshBusy)
from retrieval.errors import StoreUnavailable

ERROR_STATUS = {BadQuestion: 422, IndexNotFound: 503, IndexCorrupt: 503, ModelMismatch: 503, ReaderUnavailable: 503,
                StoreUnavailable: 503, RefreshBusy: 409}


def add_error_handlers(app: FastAPI) -> None:
    """Every error is {"detail": "..."} with the right status, Starlette's own 404/405 included; never a traceback."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException):
        detail = str(err.detail)
        if detail == http.HTTPStatus(err.status_code).phrase:
            detail = f"{detail}: {request.method} {request.url.path}"
        return JSONResponse({"detail": detail}, err.status_code, headers=err.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError):
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in err.errors()]
        if any(e["type"] == "json_invalid" for e in errors):
            return JSONResponse({"detail": "the request body is not valid JSON"}, 400)
        if any(e["loc"] == ["body"] and e["type"] in ("model_attributes_type", "missing") for e in errors):
            return JSONResponse({"detail": "the body must be a JSON object (Content-Type: application/json)",
                                 "errors": errors}, 422)
        detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:] or e['loc']))}: {e['msg']}" for e in errors[:5])
        return JSONResponse({"detail": detail, "errors": errors}, 422)

    @app.exception_handler(CiteqaError)
    async def library_error(request: Request, err: CiteqaError):
        status = next((s for kind, s in ERROR_STATUS.items() if isinstance(err, kind)), 500)
        return JSONResponse({"detail": str(err)}, status)

    @app.exception_handler(Exception)  # Starlette sends this, then re-raises for the server to log the traceback
    async def unexpected(request: Request, err: Exception):
        return JSONResponse({"detail": "internal error: the server logged it"}, 500)


class SecurityHeaders:
    """The page and its script run only what this server sends: nothing is fetched from other hosts."""

    HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
               (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; base-uri 'none'; "
                                            b"form-action 'self'; frame-ancestors 'none'")]

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in ("/docs", "/redoc"):  # FastAPI's docs load their UI from a CDN
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)
