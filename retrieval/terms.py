"""Words as search terms: lower-cased, stop words dropped, Snowball-stemmed. Shared by BM25 and answers."""

from __future__ import annotations

import functools
import re
import unicodedata

_TOKEN = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*", re.UNICODE)

# English function words plus the words a question is made of; none of them says what it is about.
STOP_WORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before being
below between both but by can cannot could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then there these they
this those through to too under until up very was we were what when where which while who whom
whose why will with would you your yours yourself yourselves also s t many much name named called
say says said tell kind type one ones
""".split())


@functools.lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokens(text: str) -> list[str]:
    """Word tokens, lower-cased, accents folded; "2.57", "Co.,Ltd" pieces and "O'Neil" stay whole."""
    # The whole text at once, not token by token: this runs over every sentence a question reaches.
    return _TOKEN.findall(normalise(text))


def normalise(text: str) -> str:
    """The text as tokens are read from it: lower-cased, accents folded, one apostrophe."""
    return fold(text.lower().replace("’", "'"))


def tokens_between(normalised: str, start: int, end: int) -> list[str]:
    """The tokens of normalised[start:end], without copying the slice: a passage is normalised once
    and read sentence by sentence (valid where normalising kept every offset, as it does for ASCII)."""
    return _TOKEN.findall(normalised, start, end)


# The combining diacritical marks (accents, umlauts, cedillas) that decomposition splits off a letter;
# other scripts' combining signs (Devanagari vowels, Arabic vowel marks) are part of the word and stay.
_DIACRITICS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


def fold(text: str) -> str:
    """The text without accents: people type "Maiziere" for "Maizière", "cafe" for "café"."""
    if text.isascii():
        return text
    return _DIACRITICS.sub("", unicodedata.normalize("NFKD", text))


# Irregular forms Snowball leaves alone ("met" would never match "meeting"): mapped to the base form.
IRREGULAR = dict(pair.split(":") for pair in """
met:meet held:hold gave:give given:give won:win took:take taken:take made:make went:go gone:go
began:begin begun:begin came:come saw:see seen:see told:tell said:say paid:pay led:lead left:leave
brought:bring bought:buy built:build chose:choose chosen:choose drew:draw drawn:draw fell:fall
found:find flew:fly fought:fight grew:grow grown:grow hit:hit kept:keep knew:know known:know
lost:lose meant:mean ran:run rose:rise risen:rise sent:send set:set sold:sell spoke:speak
spoken:speak spent:spend stood:stand struck:strike taught:teach thought:think threw:throw
understood:understand wrote:write written:write became:become broke:break broken:break
born:bear bore:bear children:child men:man women:woman people:person mice:mouse feet:foot
""".split())


def stem(words: list[str]) -> list[str]:
    return _stemmer().stemWords([IRREGULAR.get(w, w) for w in words])


# token -> its term, or "" for a stop word. A corpus repeats a vocabulary of tens of thousands of
# words across millions of tokens: looking each one up costs a third of stemming it again (loading
# 100k passages tokenises every one of them, and each question tokenises the sentences it reaches).
# Emptied when full, so text of unbounded vocabulary cannot grow it without limit.
_TERM_OF: dict[str, str] = {}
MAX_REMEMBERED = 300_000


def terms_of_tokens(words: list[str]) -> list[str]:
    """The content terms among tokens, in order, repeats kept."""
    term_of = _TERM_OF
    new = {w for w in words if w not in term_of}
    if new:
        if len(term_of) + len(new) > MAX_REMEMBERED:
            term_of.clear()
            new = set(words)
        term_of.update(_terms_of(new))
    try:
        return [t for t in map(term_of.__getitem__, words) if t]
    except KeyError:  # another thread emptied the table in between: these words alone, afresh
        term_of = _terms_of(set(words))
        return [t for t in map(term_of.__getitem__, words) if t]


def _terms_of(words: set[str]) -> dict[str, str]:
    words = list(words)
    return {word: "" if IRREGULAR.get(word, word) in STOP_WORDS else stemmed for word, stemmed in zip(words, stem(words))}


def terms(text: str) -> list[str]:
    """The content terms of a text, in order, repeats kept."""
    return terms_of_tokens(tokens(text))
