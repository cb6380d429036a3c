"""A small website on 127.0.0.1 for the web connector's tests: routes to answers, every request recorded."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from datetime import datetime, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT.parent / "shared" / "pages"  # real saved pages, read where they are (never copied here)

# Per saved page: what its metadata says, sentences of the article, and strings only its menus and footers hold.
SAVED = {
    "theguardian.com.academics": dict(
        title="Thousands of UK academics 'treated as second-class citizens'", published="2020-01-20",
        author="Richard Adams",
        url="http://www.theguardian.com/education/2020/jan/20/thousands-of-uk-academics-treated-as-second-class-citizens",
        sentences=["The report by the University and College Union claims institutions have created a pool of low-paid "
                   "staff to teach undergraduates"],
        menu=["Support The Guardian", "International edition", "Account details", "Emails & marketing"]),
    "theverge.com.ios13": dict(
        title="iOS 13 will fix the FaceTime eye contact problem", published="2019-07-03", author="Jon Porter",
        url="https://www.theverge.com/2019/7/3/20680681/ios-13-beta-3-facetime-attention-correction-eye-contact",
        sentences=["The feature, which was spotted by Mike Rundle on Twitter, only appears to be working on the iPhone XS"],
        menu=["Follow The Verge on Twitter", "The Verge main menu", "Community Guidelines", "Ethics Statement"]),
    "vice.com.amazon": dict(
        title="The Amazon Is on Fire and the Smoke Can Be Seen from Space", published="2019-08-21",
        author="Madeleine Gregory",
        url="https://www.vice.com/en_uk/article/d3avvm/the-amazon-is-on-fire-and-the-smoke-can-be-seen-from-space",
        sentences=["In the middle of the day on Monday, the sky above São Paulo, Brazil went dark."],
        menu=["Skip to main content", "Save Yourselves", "United Kingdom"]),
    "salon.com.emissions": dict(
        title="Despite everything, U.S. emissions dipped in 2019", published="2020-01-10", author="Nathanael Johnson",
        url="https://www.salon.com/2020/01/10/despite-everything-u-s-emissions-dipped-in-2019_partner/",
        sentences=["The U.S. is burning less coal."],
        menu=["News & Politics", "Economy & Innovation", "Reproduction of material from any Salon pages"]),
    "kulu-media.com.meta-outage": dict(
        title="Meta Outage Hits Facebook, Instagram and Messenger", published="2026-06-12",
        author="Kulu Media News Desk", url="https://kulu-media.com/meta-outage-hits-facebook-instagram-and-messenger/",
        sentences=["The widespread disruption triggered thousands of complaints as users reported login failures"],
        menu=["Terms and Conditions", "Cookie Policy (EU)", "All Rights Reserved"]),
}
PARAGRAPHS = ["The café on the quay, run by Inês Duarte since 2009, will close its doors on Friday after the harbour "
              "authority declined to renew its lease, the owner said.",
              "Regulars called the decision “naïve”: the café’s crème brûlée sold for €5 and drew visitors from "
              "the whole coast, according to the tourist office.",
              "The authority said the building needed repairs costing 300,000 euros and would reopen as a ferry "
              "ticket office next spring."]


@dataclass
class Answer:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0  # seconds before answering
    hang: bool = False  # accept and never answer (until the site stops)
    chunked: bool = False  # no Content-Length: the body streams in pieces
    etag: str | None = None  # answer 304 to a request that sends it back


class Site:
    """`with Site() as site:`; `site.add(path, Answer(...))` or a callable (request number, headers) -> Answer."""

    def __init__(self):
        self.routes: dict[str, Answer | Callable[[int, dict], Answer]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, headers) in arrival order
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                site._serve(self)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):  # a client that hung up on purpose: no traceback
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, answer: Answer | Callable[[int, dict], Answer]) -> str:
        self.routes[path] = answer
        return self.url(path)

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def __enter__(self) -> Site:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self.requests.append((handler.path, headers))
            number = self.hits(handler.path)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            route = self.routes.get(handler.path)
            answer = route(number, headers) if callable(route) else route
            if answer is None:
                answer = Answer(b"not here", status=404, content_type="text/plain")
            if answer.hang:
                self._stop.wait(30)
                return
            time.sleep(answer.delay)
            if answer.etag and headers.get("if-none-match") == answer.etag:
                handler.send_response(304)
                handler.send_header("ETag", answer.etag)
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            handler.send_response(answer.status)
            handler.send_header("Content-Type", answer.content_type)
            if answer.etag:
                handler.send_header("ETag", answer.etag)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            if answer.chunked:
                handler.send_header("Transfer-Encoding", "chunked")
                handler.end_headers()
                for i in range(0, len(answer.body), 65536):
                    piece = answer.body[i:i + 65536]
                    handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                handler.wfile.write(b"0\r\n\r\n")
            else:
                handler.send_header("Content-Length", str(len(answer.body)))
                handler.end_headers()
                handler.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a size cap, a timeout): that is the point of some tests
        finally:
            with self._lock:
                self.in_flight -= 1


def article_html(title: str, paragraphs: list[str], *, date: str | None = None, author: str | None = None,
                 charset: str = "utf-8", canonical: str | None = None, menu: tuple[str, ...] = ()) -> str:
    """A made news page: a menu and a footer around an article, with its metadata in meta tags."""
    meta = [f'<meta charset="{charset}">'] if charset else []
    if date:
        meta.append(f'<meta property="article:published_time" content="{date}T08:00:00Z">')
    if author:
        meta.append(f'<meta name="author" content="{author}">')
    if canonical:
        meta.append(f'<link rel="canonical" href="{canonical}">')
    nav = "".join(f'<li><a href="/{i}">{item}</a></li>' for i, item in enumerate(menu))
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html><head>{''.join(meta)}<title>{title} | Port Alba Times</title></head><body>"
            f'<header><nav class="menu"><ul>{nav}</ul></nav></header>'
            f"<main><article><h1>{title}</h1>{body}</article></main>"
            '<footer><p>Cookie settings</p><p>© Port Alba Times. All rights reserved.</p></footer></body></html>')


def rss(site: Site, items: list[tuple[str, str, str | None]]) -> Answer:
    """An RSS 2.0 feed; each item (title, path or URL, ISO date or None)."""
    body = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link if '://' in link else site.url(link))}</link>"
        + (f"<pubDate>{format_datetime(datetime.fromisoformat(d).replace(tzinfo=timezone.utc))}</pubDate>" if d else "")
        + "</item>" for t, link, d in items)
    xml = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Test news</title>{body}</channel></rss>'
    return Answer(xml.encode(), content_type="application/rss+xml")


def atom(site: Site, entries: list[tuple[str, str, str | None]], etag: str | None = None) -> Answer:
    body = "".join(
        f'<entry><title>{escape(t)}</title><link rel="alternate" href="{escape(site.url(p))}"/><id>{site.url(p)}</id>'
        + (f"<updated>{d}T09:00:00Z</updated>" if d else "") + "</entry>" for t, p, d in entries)
    xml = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Test atom</title>'
           f"<id>urn:test</id><updated>2024-01-01T00:00:00Z</updated>{body}</feed>")
    return Answer(xml.encode(), content_type="application/atom+xml", etag=etag)
