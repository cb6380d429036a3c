"""Synthetic conversations from SQuAD: one paragraph's questions asked in order, follow-ups worded as people word them.

There is no CoQA train here. A SQuAD paragraph's questions were written one after another about one text, so
asked in order they make a conversation; what they lack is the way people lean on the turn before. Two
rewrites supply it, each only when the words it removes are in the history the reader will see:

- a pronoun for a name of the current question that the last turns already named ("When did Beyoncé leave
  Destiny's Child?" after "What group was Beyoncé in?" -> "When did she leave Destiny's Child?");
- the words a question shares with the one before dropped ("When did Beyoncé release Dangerously in Love?"
  after "What did Beyoncé release in 2003? Dangerously in Love" -> "When?"; "Who has the power to issue a
  reprieve?" after "Who has the power to issue a pardon?" -> "And a reprieve?").

A share of follow-ups is kept as written (with their history), and every conversation's first turn has none.
The pronoun's gender and number are guessed from the paragraph's own pronouns and from organisation words in
the name: a heuristic, no NER (spaCy is not installed here).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass

WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
WH = {"what", "when", "where", "who", "whom", "whose", "which", "why", "how"}
HOW_NEXT = {"many", "much", "long", "old", "far", "often", "large", "big", "tall", "high", "fast"}
AUX = {"is", "was", "are", "were", "do", "does", "did", "has", "have", "had", "can", "could", "will", "would",
       "should", "may", "might", "must", "be", "been", "being"}
STOP = WH | AUX | {
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "from", "by", "with", "about", "as", "into", "during",
    "and", "or", "but", "that", "this", "these", "those", "there", "it", "its", "he", "his", "him", "she", "her",
    "they", "their", "them", "not", "also", "than", "then", "so", "if", "after", "before", "s", "'s", "one", "name",
}
PRONOUNS = {  # subject, object, possessive
    "he": ("he", "him", "his"), "she": ("she", "her", "her"), "it": ("it", "it", "its"), "they": ("they", "them", "their"),
}
CONNECTORS = {"of", "the", "de", "von", "van", "du", "la", "and", "for"}
ORGANISATION = {
    "university", "college", "school", "company", "church", "empire", "republic", "kingdom", "state", "states", "city",
    "museum", "library", "party", "army", "corporation", "inc", "council", "association", "institute", "society",
    "department", "court", "government", "bank", "river", "mountain", "mountains", "island", "islands", "ocean", "sea",
    "park", "street", "tower", "bridge", "palace", "cathedral", "hall", "union", "league", "club", "group", "band",
    "agency", "office", "house", "war", "act", "treaty", "festival", "award", "awards", "series", "album", "film",
    "center", "centre", "province", "county", "district", "region", "airport", "station", "hospital", "temple",
    "dynasty", "navy", "force", "committee", "organization", "organisation", "foundation", "system", "network",
}
PLACE_BEFORE = {"in", "at", "from", "to", "near", "into", "across", "throughout", "many", "much"}
DEMONYM = r"^\w+(?:ese|ist|ian|ish|ic|an)$"
DETERMINERS = {"the", "a", "an", "his", "her", "its", "their"}
CALENDAR = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
            "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of a made conversation: the question as asked, what it was in SQuAD, its answer, and how it was made."""

    question: str        # as the conversation asks it
    original: str        # SQuAD's question
    answer: str          # SQuAD's first answer, also what the history shows for this turn
    answer_start: int    # in the paragraph
    kind: str            # "first", "unchanged", "pronoun" or "ellipsis"
    history: tuple[tuple[str, str], ...]  # earlier turns as (question as asked, answer), oldest first


def words(text: str) -> list[re.Match]:
    return list(WORD.finditer(text))


def content(text: str) -> set[str]:
    """The lowercased content words of a text (no stop words, no punctuation), plurals folded."""
    return {fold(m.group().lower()) for m in words(text) if m.group()[0].isalnum() and m.group().lower() not in STOP}


def fold(word: str) -> str:
    for suffix in ("'s", "’s"):
        word = word.removesuffix(suffix)
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def names(question: str) -> list[tuple[int, int]]:
    """Character ranges of capitalised runs ("University of Notre Dame"), not the question's opening function word."""
    tokens = words(question)
    found, k = [], 0
    while k < len(tokens):
        t = tokens[k].group()
        capital = t[0].isupper() and t.lower() not in STOP and t.lower() not in CALENDAR
        if not capital or (k == 0 and t.lower() in STOP):
            k += 1
            continue
        j = k
        while j + 2 < len(tokens) and tokens[j + 1].group().lower() in CONNECTORS and tokens[j + 2].group()[0].isupper():
            j += 2
        while j + 1 < len(tokens) and tokens[j + 1].group()[0].isupper() and tokens[j + 1].group().lower() not in STOP:
            j += 1
        end = tokens[k].start() + len(re.sub(r"['’]s?$", "", question[tokens[k].start():tokens[j].end()]))
        found.append((tokens[k].start(), end))
        k = j + 1
    return found


def pronoun_for(name: str, context: str) -> str | None:
    """he / she / it / they for a name, from organisation words in it and the paragraph's own pronouns (None: unsure)."""
    lowered = [w.lower() for w in re.findall(r"\w+", name)]
    counts = Counter(w.lower() for w in re.findall(r"\w+", context))
    male = counts["he"] + counts["him"] + counts["his"] + counts["himself"]
    female = counts["she"] + counts["her"] + counts["hers"] + counts["herself"]
    neuter = counts["it"] + counts["its"]
    plural = counts["they"] + counts["their"] + counts["them"]
    if any(w in ORGANISATION for w in lowered) or any(c.isdigit() for c in name):
        return "it"
    if len(lowered) <= 3 and male + female >= 2 and male + female > neuter:
        return "he" if male >= female else "she"
    if lowered[-1].endswith("s") and not lowered[-1].endswith("ss") and plural > neuter:
        return "they"
    return "it" if neuter > male + female else None


def with_pronoun(question: str, seen: str, context: str) -> str | None:
    """The question with its first name that `seen` (the visible history) holds replaced by a pronoun, or None."""
    for start, end in names(question):
        name = question[start:end]
        before, rest = question[:start], question[end:]
        previous = before.split()[-1].lower() if before.split() else ""
        following = WORD.match(rest.lstrip())
        modifies = following is not None and following.group()[0].islower() and following.group().lower() not in STOP
        if (len(name) < 2 or name not in seen or previous in PLACE_BEFORE or name.isupper()
                or (before.split() and any(c.isupper() for c in before.split()[-1])) or (rest.startswith(".") and rest.strip() != ".")
                or (modifies and (previous in {"the", "a", "an"} or re.search(DEMONYM, name)))):
            continue  # a place ("in Berlin": "there"), an adjective ("the Chinese community"), "St.", "iPod Touch"
        chosen = pronoun_for(name, context)
        if chosen is None:
            continue
        pronoun = PRONOUNS[chosen]
        if rest.startswith(("'s", "’s")):
            form, rest = pronoun[2], rest[2:]
        elif rest.startswith(("'", "’")) and name.endswith("s"):
            form, rest = pronoun[2], rest[1:]
        else:
            form = pronoun[0] if previous in AUX | WH | {""} else pronoun[1]
        before = re.sub(r"\b[Tt]he\s+$", "", before)
        if not before.strip():
            form = form[0].upper() + form[1:]
        return re.sub(r"\s+", " ", f"{before}{form}{rest}").strip()
    return None


def wh_phrase(question: str) -> str | None:
    """The question's first wh-word, with the word after "how" when it belongs to it ("how many")."""
    tokens = [m.group().lower() for m in words(question)]
    for k, t in enumerate(tokens):
        if t in WH:
            if t == "how" and k + 1 < len(tokens) and tokens[k + 1] in HOW_NEXT:
                return f"how {tokens[k + 1]}"
            return t
    return None


def elided(question: str, previous: str, previous_answer: str, seen: str) -> str | None:
    """The question without the words it shares with the turn before, as people drop them, or None.

    "When?" when every content word is the previous turn's (question or answer); "And <phrase>?" when what is
    left is one short noun phrase that ends the question and both turns ask with the same wh-word ("Who can issue
    a pardon?" -> "Who can issue a reprieve?" -> "And a reprieve?"). Dropped words must be in `seen`, the
    history the reader is given."""
    mine, before = content(question), content(previous) | content(previous_answer)
    shared = mine & before
    wh = wh_phrase(question)
    if not shared or wh is None or not shared <= content(seen) or question.lower() == previous.lower():
        return None
    left = mine - shared
    if not left:  # "What?" / "Which?" would not say what is asked: only when / where / why / who / how many
        if wh in {"what", "which", "whose", "whom"} or wh == wh_phrase(previous):
            return None
        return wh[0].upper() + wh[1:] + "?"
    if wh_phrase(previous) != wh:
        return None
    tokens = words(question)
    marked = [k for k, m in enumerate(tokens) if m.group()[0].isalnum() and fold(m.group().lower()) in left]
    first, last = marked[0], marked[-1]
    while first > 0 and tokens[first - 1].group().lower() in DETERMINERS:
        first -= 1
    run = tokens[first:last + 1]
    inside = {fold(m.group().lower()) for m in run if m.group()[0].isalnum()}
    if inside & shared or len(run) > 5 or any(m.group()[0].isalnum() for m in tokens[last + 1:]):
        return None  # the run must end the question
    for k, m in enumerate(run):  # a noun phrase: "his title", "Native American Indian", "14 and 15"
        t = m.group()
        noun = k == len(run) - 1 and k > 0 and run[0].group().lower() in DETERMINERS
        if not (t.lower() in DETERMINERS | {"of", "and"} or t[0].isupper() or t[0].isdigit() or noun):
            return None
    return "And " + question[tokens[first].start():tokens[last].end()] + "?"


def make_conversation(context: str, qas: list[dict], rng: random.Random, *, keep_share: float = 0.3,
                      max_turns: int = 2) -> list[Turn]:
    """The paragraph's questions asked in order, as one conversation; follow-ups rewritten as above."""
    turns: list[Turn] = []
    for qa in qas:
        answer = qa["answers"][0]
        history = tuple((t.question, t.answer) for t in turns)
        asked, kind = qa["question"].strip(), "first" if not turns else "unchanged"
        if turns and rng.random() >= keep_share:
            seen = " ".join(f"{q} {a}" for q, a in history[-max_turns:])
            last = turns[-1]
            makers = [("ellipsis", lambda: elided(asked, last.original, last.answer, seen)),
                      ("pronoun", lambda: with_pronoun(asked, seen, context))]
            rng.shuffle(makers)
            for name, maker in makers:
                made = maker()
                if made and made != asked:
                    asked, kind = made, name
                    break
        turns.append(Turn(asked, qa["question"].strip(), answer["text"], answer["answer_start"], kind, history))
    return turns


def conversations(articles: list[dict], seed: int, **options):
    """(title, context, turns) for every paragraph of `articles`, the same for a seed."""
    rng = random.Random(seed)
    for article in articles:
        for paragraph in article["paragraphs"]:
            yield article["title"], paragraph["context"], make_conversation(paragraph["context"], paragraph["qas"], rng,
                                                                           **options)
