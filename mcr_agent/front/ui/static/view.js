// Drawing helpers. Text from the video, the memory or the model is only ever set as
// textContent (never parsed as HTML), so markup in it shows as written.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clock(seconds) {
  const s = Math.max(0, Number(seconds) || 0);
  const minutes = Math.floor(s / 60);
  const rest = (s - minutes * 60).toFixed(1).padStart(4, "0");
  return `${minutes}:${rest}`;
}

export function span(start, end) {
  return `[${clock(start)}\u2013${clock(end)}]`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "?";
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s` : `${s} s`;
}

function place(node, start, end, total) {
  const left = total > 0 ? (100 * start) / total : 0;
  const width = total > 0 ? (100 * Math.max(end - start, 0)) / total : 0;
  node.style.left = `${Math.min(left, 100)}%`;
  node.style.width = `${Math.max(Math.min(width, 100 - left), 0.4)}%`;
}

// The timeline: one block per scene (its keyframe as background), evidence spans on top.
export function drawScenes(box, scenes, total, play) {
  box.replaceChildren();
  for (const scene of scenes) {
    const block = el("button", {
      type: "button",
      class: "scene",
      title: `${span(scene.start, scene.end)} scene ${scene.index}: ${scene.caption || ""}`,
      dataset: { start: scene.start, end: scene.end },
      onclick: () => play(scene.start, scene.end),
    });
    if (scene.thumbnail) block.append(el("img", { src: scene.thumbnail, alt: "" }));
    place(block, scene.start, scene.end, total);
    box.append(block);
  }
}

export function drawSpans(box, evidence, total, play) {
  box.replaceChildren();
  for (const item of evidence) {
    const mark = el("button", {
      type: "button",
      class: "span",
      title: `${span(item.start, item.end)} ${item.source}: ${item.text}`,
      dataset: { start: item.start, end: item.end },
      onclick: () => play(item.start, item.end),
    });
    place(mark, item.start, item.end, total);
    box.append(mark);
  }
}

export function drawAxis(box, total) {
  box.replaceChildren();
  if (!(total > 0)) return;
  for (let i = 0; i <= 4; i += 1) {
    const tick = el("span", { text: clock((total * i) / 4) });
    tick.style.left = `${25 * i}%`;
    box.append(tick);
  }
}

// One timed entry: "[0:05.0–0:09.0] text", a button that plays its span.
export function entryRow(entry, play, extra = "") {
  return el(
    "li",
    {},
    el(
      "button",
      {
        type: "button",
        class: "entry",
        dataset: { start: entry.start, end: entry.end },
        onclick: () => play(entry.start, entry.end),
      },
      el("span", { class: "time", text: span(entry.start, entry.end) }),
      extra ? el("span", { class: "tag", text: extra }) : null,
      el("span", { class: "text", text: entry.text }),
    ),
  );
}

export function chip(item, play) {
  const by = item.cited_by ? ` (cited by ${item.cited_by})` : "";
  const text = `${span(item.start, item.end)} ${item.source}${by}: ${item.text}`;
  return el("button", {
    type: "button",
    class: "chip",
    title: text,
    text: text.length > 140 ? `${text.slice(0, 139)}\u2026` : text,
    dataset: { start: item.start, end: item.end },
    onclick: () => play(item.start, item.end),
  });
}

export function stepRow(step) {
  const args = Object.keys(step.args || {}).length ? JSON.stringify(step.args) : "";
  const call = step.tool
    ? el("div", { class: "call" }, el("span", { class: "tool", text: step.tool }),
      args ? el("code", { class: "args", title: args, text: args }) : null)
    : null;
  return el(
    "li",
    { class: "step", dataset: { node: step.node } },
    el("span", { class: "node", text: step.node }),
    el("div", { class: "body" }, call, el("div", { class: "summary", text: step.summary })),
    el("span", { class: "secs", text: `${Number(step.duration_s || 0).toFixed(1)} s` }),
  );
}

// The answer card: letter, text, status line, evidence chips. A fallback's letter is our
// guess, not the model's answer: it is not shown as the verdict, and the card says why.
export function answerCard(answer, play, verified) {
  const answered = !answer.status || answer.status === "answered";
  const status = [
    answer.status || "answered",
    `confidence ${Number(answer.confidence).toFixed(2)}`,
    `route ${answer.route}`,
    verified ? `check: ${verified}` : "not verified",
    `${answer.usage.model_calls} model calls, ${Number(answer.usage.wall_s).toFixed(1)} s`,
  ].join(" \u00b7 ");
  const chips = answer.evidence.map((item) => chip(item, play));
  return [
    el(
      "div",
      { class: "verdict" },
      answered && answer.choice ? el("span", { class: "letter", text: answer.choice }) : null,
      el("span", { class: "answer-text", text: answer.answer }),
    ),
    el("p", { class: "status", text: status }),
    answer.error ? el("p", { class: "status", text: `why: ${answer.error}` }) : null,
    el("div", { class: "chips" }, chips.length ? chips : el("span", { class: "dim", text: "no evidence cited" })),
  ].filter((node) => node !== null); // replaceChildren would print a null as the text "null"
}
