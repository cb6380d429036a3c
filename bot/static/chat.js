// The web chat: asks /v1/ask, shows cited answers, opens a cited passage inside its article.
// Everything from the server is put on the page as text (textContent, text nodes), never as HTML.
"use strict";

const state = { conversationId: null, articles: new Map() };
const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("aria-") || key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);  // strings become text nodes
  return node;
}

async function api(method, path, body) {
  const options = { method, headers: { accept: "application/json" } };
  if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const wait = response.headers.get("retry-after");
    const detail = (data && data.detail) || response.statusText || String(response.status);
    throw new Error(wait ? `${detail} (retry in ${wait} s)` : detail);
  }
  return data;
}

function say(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

// "Sentence one. [1] Sentence two. [2]": the numbers become buttons that open their citation; the reader's
// span, or each member of a set answer, is marked where it first stands in the text.
function answerText(answer, open) {
  const p = el("p", { class: "answer-text" });
  const members = answer.members || [];
  const pending = members.length ? members.map((m) => m.text) : (answer.span ? [answer.span] : []);
  const cls = members.length ? "member" : "span";
  for (const part of answer.text.split(/(\[\d+\])/)) {
    const match = /^\[(\d+)\]$/.exec(part);
    const citation = match && answer.citations.find((c) => c.n === Number(match[1]));
    if (citation) {
      p.append(el("button", { type: "button", class: "cite-ref", "aria-label": `Show passage ${citation.n}`,
                              onclick: () => open(citation) }, `[${citation.n}]`));
    } else {
      p.append(...marked(part, pending, cls));
    }
  }
  return p;
}

// `text` as nodes, each of `needles` found in it marked (once: a found needle leaves `needles`).
function marked(text, needles, cls) {
  const found = [];
  for (const needle of needles.slice()) {
    const at = text.indexOf(needle);
    if (at >= 0 && !found.some((f) => at < f.end && f.start < at + needle.length)) {
      found.push({ start: at, end: at + needle.length });
      needles.splice(needles.indexOf(needle), 1);
    }
  }
  found.sort((a, b) => a.start - b.start);
  const nodes = [];
  let at = 0;
  for (const f of found) {
    nodes.push(text.slice(at, f.start), el("mark", { class: cls }, text.slice(f.start, f.end)));
    at = f.end;
  }
  nodes.push(text.slice(at));
  return nodes;
}

// The article ranges a citation quotes: its sentences, or the whole passage for a citation without them.
function quotedRanges(c) {
  return c.sentences && c.sentences.length ? c.sentences : [{ start: c.start, end: c.end }];
}

// The sentences a citation quotes, as text: its offsets count code points of the article, and its
// quote is the passage, which starts at `start`.
function quotedSentences(c) {
  const chars = Array.from(c.quote);
  return quotedRanges(c).map((s) => chars.slice(s.start - c.start, s.end - c.start).join("")).join(" … ");
}

// A link to where a citation's article came from, or null. Only an http(s) URL becomes an href (never a
// javascript: or data: one from a page's metadata); it opens apart from the chat and is not told who sent it.
function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed : null;
  } catch (err) {
    return null;
  }
}

function sourceLink(url, label) {
  const parsed = safeUrl(url);
  if (!parsed) return null;
  return el("a", { href: parsed.href, rel: "noopener noreferrer", target: "_blank", class: "source-link" },
            label || parsed.hostname);
}

// "Original: example.org (2024-03-05); also at other.org": under a citation's quote, when its article has a source.
function sources(c) {
  const first = sourceLink(c.url);
  const others = (c.sources || []).map((url) => sourceLink(url)).filter(Boolean);
  if (!first && !others.length) return null;
  const line = el("p", { class: "sources" });
  if (first) line.append("Original: ", first, c.published ? ` (${c.published})` : "");
  others.forEach((link, k) => line.append(k === 0 ? (first ? "; also at " : "At ") : ", ", link));
  return line;
}

function renderAnswer(item, answer) {
  const open = (citation) => showPassage(citation, answer.members || []);
  const body = el("div", { class: "answer" + (answer.abstained ? " abstained" : "") });
  // The conversation had expired (or was unknown): this answer read no earlier turns, and says so first.
  if (answer.notice) body.append(el("p", { class: "notice", role: "status" }, answer.notice));
  const members = answer.members || [];
  if (members.length) {
    // A set answer: its members as a list, each marked again inside the sentences it is quoted from.
    body.append(el("p", { class: "span" }, el("strong", {}, `Answer (${members.length}): `)),
                el("ul", { class: "members", "aria-label": "Members" }, ...members.map((m) => el("li", {}, el("mark", {}, m.text)))));
  } else if (answer.span) {
    body.append(el("p", { class: "span" }, el("strong", {}, "Answer: "), el("mark", {}, answer.span)));
  }
  body.append(answerText(answer, open));
  if (answer.citations.length) {
    const list = el("ol", { class: "citations", "aria-label": "Citations" });
    for (const c of answer.citations) {
      const sentences = quotedSentences(c);
      const quote = sentences.length > 400 ? sentences.slice(0, 400) + "…" : sentences;
      list.append(el("li", {}, el("button", { type: "button", class: "citation", "data-passage": c.passage_id,
                                               onclick: () => open(c) },
                                  el("span", { class: "n" }, `[${c.n}] `), el("span", { class: "title" }, c.title)),
                     el("q", {}, quote), ...[sources(c)].filter(Boolean)));
    }
    body.append(list);
  }
  body.append(feedbackButtons(answer));
  item.append(body);
}

function feedbackButtons(answer) {
  const box = el("div", { class: "feedback" }, "Helpful? ");
  const note = el("span", { class: "note" });
  const send = async (helpful, button) => {
    try {
      await api("POST", "/v1/feedback", { conversation_id: answer.conversation_id, turn: answer.turn, helpful });
      for (const b of box.querySelectorAll("button")) b.disabled = true;
      button.setAttribute("aria-pressed", "true");
      note.textContent = " Thank you.";
    } catch (err) {
      note.textContent = ` ${err.message}`;
    }
  };
  // Arrows, not emoji: a machine without an emoji font would show empty boxes.
  const up = el("button", { type: "button", class: "feedback-up", title: "Thumbs up", "aria-pressed": "false" }, "▲ Yes");
  const down = el("button", { type: "button", class: "feedback-down", title: "Thumbs down", "aria-pressed": "false" }, "▼ No");
  up.onclick = () => send(true, up);
  down.onclick = () => send(false, down);
  box.append(up, " ", down, note);
  return box;
}

async function showPassage(citation, members = []) {
  try {
    let article = state.articles.get(citation.article_id);
    if (!article) {
      article = await api("GET", `/v1/articles/${encodeURIComponent(citation.article_id)}`);
      state.articles.set(citation.article_id, article);
    }
    // Offsets count code points (Python); JavaScript strings count UTF-16 units. The passage is shown
    // faintly around the sentences the answer quotes, which are marked.
    const chars = Array.from(article.text);
    const piece = (a, b) => chars.slice(a, b).join("");
    const sentences = quotedRanges(citation).slice().sort((a, b) => a.start - b.start);
    const passage = el("span", { class: "passage" });
    let at = citation.start;
    const marks = [];
    for (const s of sentences) {
      // The members of a set answer that this sentence gives, marked inside its mark.
      const inside = members.filter((m) => m.article_id === citation.article_id && s.start <= m.start && m.end <= s.end)
        .sort((a, b) => a.start - b.start);
      const nodes = [];
      let from = s.start;
      for (const m of inside) {
        nodes.push(piece(from, m.start), el("mark", { class: "member" }, piece(m.start, m.end)));
        from = m.end;
      }
      nodes.push(piece(from, s.end));
      const mark = el("mark", { tabIndex: -1 }, ...nodes);
      passage.append(piece(at, s.start), mark);
      marks.push(mark);
      at = s.end;
    }
    passage.append(piece(at, citation.end));
    const text = $("viewer-text");
    text.replaceChildren(piece(0, citation.start), passage, piece(citation.end));
    const mark = marks[0];
    $("viewer-title").textContent = article.title;
    $("viewer-meta").textContent = [article.date, `passage ${citation.passage_id}`].filter(Boolean).join(" · ");
    const original = sourceLink(article.url, "the original");
    if (original) $("viewer-meta").append(" · ", original);
    $("viewer").hidden = false;
    mark.scrollIntoView({ block: "center" });
    mark.focus({ preventScroll: true });
  } catch (err) {
    say(`Could not open the article: ${err.message}`, true);
  }
}

async function ask(event) {
  event.preventDefault();
  const input = $("question");
  const question = input.value.trim();
  if (!question) return say("Type a question first.", true);
  const item = el("li", { class: "turn" }, el("p", { class: "question" }, question));
  $("log").append(item);
  $("ask").disabled = true;
  say("Looking through the articles…");
  try {
    const body = { question };
    if (state.conversationId) body.conversation_id = state.conversationId;
    const answer = await api("POST", "/v1/ask", body);
    state.conversationId = answer.conversation_id;
    renderAnswer(item, answer);
    input.value = "";
    say(answer.abstained ? "The articles don't answer that." : `Answered in ${answer.seconds.toFixed(2)} s.`);
  } catch (err) {
    item.append(el("p", { class: "error" }, err.message));
    say(err.message, true);
  } finally {
    $("ask").disabled = false;
    input.focus();
  }
}

async function newConversation() {
  const id = state.conversationId;
  state.conversationId = null;
  $("log").replaceChildren();
  $("viewer").hidden = true;
  if (id) await api("DELETE", `/v1/conversations/${encodeURIComponent(id)}`).catch(() => null);
  say("New conversation.");
  $("question").focus();
}

function closeViewer() {
  $("viewer").hidden = true;
  $("question").focus();
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", ask);
  $("new-conversation").addEventListener("click", newConversation);
  $("close-viewer").addEventListener("click", closeViewer);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("viewer").hidden) closeViewer(); });
  $("question").focus();
});
