"""Another site's page embedding a web chat widget, served from its own origin (another port).

The widget is either the project's (loaded from the gateway, as a customer's site would) or
`rasa-webchat`, Rasa's community widget, from the bundle npm installed into
tests/browser/rasa_webchat/ (`make test` runs `npm ci` there; nothing is fetched at run time).
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Route

from tests.support.net import free_port

RASA_WEBCHAT = Path(__file__).resolve().parent.parent / "browser" / "rasa_webchat"
RASA_WEBCHAT_BUNDLE = RASA_WEBCHAT / "node_modules" / "rasa-webchat" / "lib" / "index.js"
MISSING_BUNDLE = (
    f"rasa-webchat is not installed at {RASA_WEBCHAT_BUNDLE}. `make test` installs it; by hand: "
    f"cd {RASA_WEBCHAT} && npm ci --no-audit --no-fund --ignore-scripts"
)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title></head>
<body><h1>Island Parcels — a shop that embeds the support chat</h1>{widget}</body></html>"""


def project_widget(gateway_url: str) -> str:
    src = html.escape(f"{gateway_url}/static/webchat/widget.js")
    server = html.escape(gateway_url)
    return f'<script src="{src}" data-server="{server}" data-open="true" defer></script>'


def rasa_webchat_widget(gateway_url: str) -> str:
    options = json.dumps(
        {
            "socketUrl": gateway_url,
            "socketPath": "/socket.io/",
            "customData": {"language": "en"},
            "title": "Island Parcels",
            # No init payload: the widget then sends a user_uttered with no message first.
        }
    )
    return (
        '<div id="webchat"></div><script src="/rasa-webchat.js"></script>'
        f"<script>window.WebChat.default({options}, null);</script>"
    )


@asynccontextmanager
async def other_site(widget: str) -> AsyncIterator[str]:
    """Serve a page with `widget` in it on its own port; yields the page's URL."""

    async def page(_request: object) -> HTMLResponse:
        return HTMLResponse(PAGE.format(widget=widget))

    async def bundle(_request: object) -> FileResponse:
        return FileResponse(RASA_WEBCHAT_BUNDLE, media_type="text/javascript")

    app = Starlette(routes=[Route("/", page), Route("/rasa-webchat.js", bundle)])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await task
