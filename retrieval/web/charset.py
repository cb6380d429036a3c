"""Decode a saved or fetched HTML page to text: BOM, HTTP header, meta charset, then the bytes themselves."""

from __future__ import annotations

import codecs
import logging
import re

log = logging.getLogger(__name__)

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# The WHATWG Encoding Standard's aliases that matter in practice: browsers decode these labels as the
# superset on the right, so a page labelled ISO-8859-1 that uses curly quotes (0x93, 0x94) reads right.
_SUPERSETS = {
    "iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "l1": "cp1252", "ascii": "cp1252",
    "us-ascii": "cp1252", "iso8859-1": "cp1252", "iso-8859-9": "cp1254", "latin5": "cp1254",
    "iso-8859-11": "cp874", "tis-620": "cp874", "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "gb_2312-80": "gb18030", "big5": "big5hkscs", "shift_jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "windows-31j": "cp932", "euc-kr": "cp949", "ks_c_5601-1987": "cp949",
    # A page that says UTF-16 in a meta tag was evidently read as ASCII to find it: the spec says UTF-8.
    "utf-16": "utf-8", "utf-16le": "utf-8", "utf-16be": "utf-8", "x-user-defined": "cp1252",
}
# Browsers look at the first 1024 bytes; real pages put long scripts first, so we look further.
_PRESCAN = 16384
_META = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_:.()+-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""")
_HEADER = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_:.()+-]+)""", re.IGNORECASE)


def decode_html(data: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, codec used) for an HTML page's bytes; `content_type` is the HTTP header, when there was one.

    Order: a byte-order mark; else valid UTF-8 with non-ASCII bytes (servers and templates often
    declare ISO-8859-1 over UTF-8 bytes, while legacy bytes that happen to form valid UTF-8 are
    vanishingly rare); else the HTTP header's charset; else a meta tag or XML declaration; else a
    guess from the bytes (charset-normalizer); else windows-1252, as browsers do. Bytes the chosen
    codec cannot read become U+FFFD rather than losing the page.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(codec, errors="replace"), codec
    if not data.isascii():
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    declared = [_from_header(content_type), *_declared_in(data[:_PRESCAN])]
    for label in declared:
        codec = _codec(label)
        if codec:
            return data.decode(codec, errors="replace"), codec
    if data.isascii():
        return data.decode("ascii"), "ascii"
    guess = _guess(data)
    return data.decode(guess, errors="replace"), guess


def _from_header(content_type: str | None) -> str | None:
    match = _HEADER.search(content_type or "")
    return match.group(1) if match else None


def _declared_in(head: bytes) -> list[str]:
    found = [m.group(1) for m in (_XML_DECLARATION.match(head),) if m]
    found += [m.group(1) for m in _META.finditer(head)]
    return [f.decode("ascii", "replace") for f in found]


def _codec(label: str | None) -> str | None:
    """Python's codec for a charset label, or None for an unknown one (which is then ignored)."""
    if not label:
        return None
    label = label.strip().lower()
    label = _SUPERSETS.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        log.debug("unknown charset label %r ignored", label)
        return None
    # A declared UTF-8 page whose bytes are not valid UTF-8 still decodes as UTF-8, with replacements.
    return _SUPERSETS.get(name, name)


def _guess(data: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is None:
        return "cp1252"
    return _codec(best.encoding) or "cp1252"
