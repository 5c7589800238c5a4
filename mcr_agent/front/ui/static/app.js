// The page: pick or upload a video, index it, browse and search its memory, ask, watch
// the steps stream in, and play the evidence. All work is done by the server's API.
import {
  answerCard, drawAxis, drawScenes, drawSpans, duration, el, entryRow, stepRow,
} from "./view.js";

const $ = (id) => document.getElementById(id);
const LEVELS = [
  ["scene", "Captions"], ["asr", "Transcript"], ["subtitle", "Subtitles"],
  ["ocr", "On-screen text"], ["segment", "Segments"], ["video", "Summary"],
];
const state = { video: null, memory: null, duration: 0, stopAt: null, tab: "scene" };
const history = JSON.parse(sessionStorage.getItem("mcr-history") || "[]");

// --- talking to the server -------------------------------------------------------------
async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new Error("the app does not answer: is `mcr-agent ui` still running?");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const why = body && (body.error || body.detail);
    throw new Error(typeof why === "string" ? why : `request refused (HTTP ${response.status})`);
  }
  return body;
}

function post(path, body) {
  return api(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
}

// Follows a job's events until its last one; `on` maps event types to handlers.
function follow(job, on) {
  const source = new EventSource(`/api/jobs/${encodeURIComponent(job)}/events`);
  for (const [type, handler] of Object.entries(on)) {
    source.addEventListener(type, (message) => {
      const event = JSON.parse(message.data);
      if (["answer", "indexed", "failed"].includes(type)) source.close();
      handler(event);
    });
  }
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      source.close();
      if (on.failed) on.failed({ message: "lost the connection to the app: reload the page" });
    }
  };
  return source;
}

function notice(message, kind = "error") {
  const box = $("notice");
  box.textContent = message || "";
  box.className = kind;
  box.hidden = !message;
}

// --- the player -------------------------------------------------------------------------
function play(start, end) {
  const player = $("player");
  state.stopAt = end > start ? end : null;
  markPlaying(start, end);
  player.currentTime = start;
  player.play().catch(() => {}); // a browser may refuse to autoplay; the seek still holds
}

// The chips and timeline marks of the span being played stand out.
function markPlaying(start, end) {
  for (const node of document.querySelectorAll(".chip, .span")) {
    const same = Number(node.dataset.start) === start && Number(node.dataset.end) === end;
    node.classList.toggle("playing", start !== null && same);
  }
}

function watchPlayer() {
  const player = $("player");
  player.addEventListener("timeupdate", () => {
    if (state.stopAt !== null && player.currentTime >= state.stopAt) {
      player.pause();
      state.stopAt = null;
      markPlaying(null, null);
    }
    const head = $("playhead");
    head.style.left = state.duration ? `${(100 * player.currentTime) / state.duration}%` : "0";
  });
  player.addEventListener("seeking", () => {
    if (state.stopAt !== null && player.currentTime > state.stopAt) state.stopAt = null;
  });
  player.addEventListener("error", () => notice("the browser cannot play this video file " +
    "(its codec); the memory and the answers still work"));
}

// --- the video list ---------------------------------------------------------------------
async function loadVideos() {
  const list = $("videos");
  let videos;
  try {
    videos = await api("/api/videos");
  } catch (error) {
    list.replaceChildren(el("li", { class: "error", text: error.message }));
    return;
  }
  if (!videos.length) {
    list.replaceChildren(el("li", { class: "dim", text: "no video yet: upload one, or start " +
      "the app with --videos DIR" }));
    return;
  }
  list.replaceChildren(...videos.map((video) => el("li", {},
    el("button", {
      type: "button",
      class: `video-item${state.video === video.id ? " selected" : ""}`,
      dataset: { id: video.id },
      disabled: Boolean(video.error),
      title: video.error || video.id,
      onclick: () => selectVideo(video),
    },
    el("span", { class: "name", text: video.name }),
    el("span", { class: "meta", text: video.error ? "unreadable" : duration(video.duration) }),
    el("span", { class: `badge ${video.indexed ? "ok" : ""}`,
      text: video.indexed ? "indexed" : "not indexed" })))));
}

async function selectVideo(video) {
  state.video = video.id;
  state.memory = null;
  state.duration = video.duration || 0;
  notice("");
  $("empty").hidden = true;
  $("viewer").hidden = false;
  $("video-title").textContent = video.name;
  $("player").src = `/media/${video.id.split("/").map(encodeURIComponent).join("/")}`;
  $("progress").replaceChildren();
  $("video-state").textContent = "";
  $("index-btn").hidden = true;
  $("memory").hidden = true;
  $("scenes").replaceChildren();
  $("axis").replaceChildren();
  $("steps").replaceChildren();
  $("answer").hidden = true;
  $("ask-state").textContent = "";
  $("ask-btn").disabled = false;
  for (const node of document.querySelectorAll(".video-item")) {
    node.classList.toggle("selected", node.dataset.id === video.id);
  }
  drawSpans($("spans"), [], 0, play);
  drawHistory();
  await loadMemory();
}

// --- indexing ---------------------------------------------------------------------------
function stageRow(name) {
  const box = $("progress");
  let row = [...box.children].find((node) => node.dataset.stage === name);
  if (!row) {
    // The memory's file lock says "process"; here it is as often another tab.
    const label = name.startsWith("waiting for another process")
      ? "waiting: another tab or process is indexing this video" : name;
    row = el("div", { class: "stage", dataset: { stage: name } },
      el("span", { class: "stage-name", text: label }), el("progress", {}),
      el("span", { class: "stage-info" }));
    box.append(row);
  }
  return row;
}

function onProgress(event) {
  const row = stageRow(event.name);
  const bar = row.querySelector("progress");
  if (event.type === "stage_done") {
    bar.max = 1;
    bar.value = 1;
    row.classList.add("done");
    row.querySelector(".stage-info").textContent = event.summary;
    return;
  }
  if (event.total) { // a bar without a value is drawn as "busy" (no total known)
    bar.max = event.total;
    bar.value = event.type === "progress" ? Math.min(event.done, event.total) : 0;
    row.querySelector(".stage-info").textContent = event.type === "progress"
      ? `${Math.round((100 * event.done) / event.total)}%` : "";
  }
}

const progressHandlers = { stage: onProgress, progress: onProgress, stage_done: onProgress };

async function startIndex() {
  const video = state.video;
  $("index-btn").disabled = true;
  $("video-state").textContent = "indexing…";
  $("progress").replaceChildren();
  notice("");
  let job;
  try {
    ({ job } = await post("/api/index", { video }));
  } catch (error) {
    notice(error.message);
    $("index-btn").disabled = false;
    return;
  }
  follow(job, {
    ...progressHandlers,
    indexed: async (event) => {
      $("index-btn").disabled = false;
      const lacking = event.missing_captions.length;
      const why = event.caption_error || "no model server answered";
      const notes = [...event.warnings];
      if (lacking) {
        notes.push(`${lacking} scene(s) have no caption yet (${why}): press Complete ` +
          "captions once a model server answers; everything else is saved");
      }
      notice(notes.join(" \u00b7 "), "info");
      await loadVideos();
      if (state.video === video) {
        $("progress").replaceChildren(); // the counts are in the line under the title now
        await loadMemory();
      }
    },
    failed: (event) => {
      $("index-btn").disabled = false;
      $("video-state").textContent = "not indexed";
      notice(event.message);
    },
  });
}

// --- the memory -------------------------------------------------------------------------
async function loadMemory() {
  const video = state.video;
  let memory;
  try {
    memory = await api(`/api/memory?video=${encodeURIComponent(video)}`);
  } catch (error) {
    if (state.video !== video) return;
    $("memory").hidden = true;
    $("scenes").replaceChildren();
    $("video-state").textContent = error.message;
    $("index-btn").textContent = "Index";
    $("index-btn").hidden = false;
    return;
  }
  if (state.video !== video) return;
  state.memory = memory;
  state.duration = memory.duration;
  $("memory").hidden = false;
  // A complete memory needs no button; one without captions can be completed.
  $("index-btn").textContent = "Complete captions";
  $("index-btn").hidden = !memory.missing_captions.length;
  const counts = memory.counts;
  $("video-state").textContent = `indexed: ${counts.scenes ?? 0} scenes, ` +
    `${counts.asr ?? 0} transcript lines, ${counts.ocr ?? 0} on-screen texts` +
    (memory.missing_captions.length ? `, ${memory.missing_captions.length} without captions` : "");
  drawScenes($("scenes"), memory.scenes, memory.duration, play);
  drawAxis($("axis"), memory.duration);
  drawTabs();
}

function drawTabs() {
  const levels = state.memory.levels;
  $("tabs").replaceChildren(...LEVELS.map(([level, label]) => el("button", {
    type: "button",
    class: `tab${state.tab === level ? " active" : ""}`,
    dataset: { level },
    text: `${label} (${levels[level].length})`,
    onclick: () => { state.tab = level; drawTabs(); },
  })));
  const entries = levels[state.tab];
  $("entries").replaceChildren(...(entries.length ? entries.map((e) => entryRow(e, play))
    : [el("li", { class: "dim", text: "nothing at this level" })]));
  $("search-levels").replaceChildren(...LEVELS.map(([level, label]) => el("label", {},
    el("input", { type: "checkbox", name: "level", value: level }), label)));
}

async function search(event) {
  event.preventDefault();
  const query = $("search-input").value.trim();
  const results = $("search-results");
  if (!query || !state.memory) return;
  const params = new URLSearchParams({ q: query, k: "10" });
  for (const box of document.querySelectorAll("#search-levels input:checked")) {
    params.append("level", box.value);
  }
  results.hidden = false;
  results.replaceChildren(el("li", { class: "dim", text: "searching…" }));
  try {
    const hits = await api(`/api/memories/${state.memory.memory}/search?${params}`);
    results.replaceChildren(...(hits.length ? hits.map((h) => entryRow(h, play, h.level))
      : [el("li", { class: "dim", text: "no hit" })]));
  } catch (error) {
    results.replaceChildren(el("li", { class: "error", text: error.message }));
  }
}

// --- asking -----------------------------------------------------------------------------
async function ask(event) {
  event.preventDefault();
  const video = state.video;
  const question = $("question").value.trim();
  if (!video || !question) return;
  const options = ["A", "B", "C", "D"]
    .map((letter) => [letter, $(`opt-${letter}`).value.trim()])
    .filter(([, text]) => text)
    .map(([letter, text]) => `${letter}. ${text}`);
  const steps = [];
  $("steps").replaceChildren();
  $("answer").hidden = true;
  $("ask-state").textContent = "sending…";
  $("ask-btn").disabled = true;
  let job;
  try {
    ({ job } = await post("/api/ask", { video, question, options, mode: $("mode").value }));
  } catch (error) {
    $("ask-state").textContent = "";
    $("ask-btn").disabled = false;
    notice(error.message);
    return;
  }
  const building = (event) => { // a question about an unindexed video builds its memory
    if (state.video === video && !state.memory) {
      $("video-state").textContent = "indexing for this question\u2026";
      $("index-btn").hidden = true;
    }
    onProgress(event);
  };
  follow(job, {
    ...progressHandlers,
    stage: building,
    status: (e) => { $("ask-state").textContent = e.text; },
    step: (step) => {
      steps.push(step);
      if (state.video === video) $("steps").append(stepRow(step));
    },
    answer: (answer) => {
      $("ask-btn").disabled = false;
      const item = { job, video, question, answer, steps };
      history.unshift(item);
      sessionStorage.setItem("mcr-history", JSON.stringify(history.slice(0, 50)));
      if (state.video === video) showAnswer(item);
      drawHistory();
      if (state.video === video && !state.memory) { // the question built the memory
        $("progress").replaceChildren();
        loadVideos();
        loadMemory();
      }
    },
    failed: (e) => {
      $("ask-btn").disabled = false;
      $("ask-state").textContent = "";
      if (state.video === video) {
        $("answer").hidden = false;
        $("answer").replaceChildren(el("p", { class: "error", text: e.message }));
      }
    },
  });
}

function showAnswer(item) {
  const verify = [...item.steps].reverse().find((s) => s.node === "verify");
  $("ask-state").textContent = `answered: ${item.question}`;
  $("steps").replaceChildren(...item.steps.map(stepRow));
  $("answer").hidden = false;
  $("answer").replaceChildren(...answerCard(item.answer, play, verify && verify.summary));
  drawSpans($("spans"), item.answer.evidence, state.duration, play);
}

function drawHistory() {
  const mine = history.filter((item) => item.video === state.video);
  $("history").replaceChildren(...(mine.length ? mine.map((item) => el("li", {},
    el("button", { type: "button", class: "asked", onclick: () => showAnswer(item) },
      item.answer.choice ? el("b", { text: `${item.answer.choice} ` }) : null,
      el("span", { text: item.question })),
    el("span", { class: "traces" }, "trace: ",
      el("a", { href: `/api/jobs/${item.job}/trace.html`, download: "", text: "HTML" }), " ",
      el("a", { href: `/api/jobs/${item.job}/trace.json`, download: "", text: "JSON" }))))
    : [el("li", { class: "dim", text: "none yet" })]));
}

// --- upload -----------------------------------------------------------------------------
// The file goes as the request body (no form encoding); XHR reports the upload's progress.
function send(file) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", `/api/upload?name=${encodeURIComponent(file.name)}`);
    request.setRequestHeader("Content-Type", "application/octet-stream");
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) {
        const percent = Math.floor((100 * event.loaded) / event.total);
        $("upload-state").textContent = `uploading ${file.name}: ${percent}%`;
      }
    };
    request.onload = () => {
      let body = null;
      try { body = JSON.parse(request.responseText); } catch { /* not JSON */ }
      if (request.status === 200 && body) resolve(body);
      else reject(new Error((body && body.error) || `upload refused (HTTP ${request.status})`));
    };
    request.onerror = () => reject(new Error("the upload was cut off: is the app still running?"));
    request.send(file);
  });
}

async function upload() {
  const file = $("upload-input").files[0];
  if (!file) return;
  $("upload-state").textContent = `uploading ${file.name}\u2026`;
  notice("");
  try {
    const video = await send(file);
    $("upload-state").textContent = `uploaded as ${video.name}`;
    await loadVideos();
    await selectVideo(video);
  } catch (error) {
    $("upload-state").textContent = "";
    notice(error.message);
  }
  $("upload-input").value = "";
}

async function loadStatus() {
  const line = $("server");
  try {
    const status = await api("/api/status");
    const mb = Math.round(status.max_upload / 1e6);
    $("upload-state").textContent = `up to ${mb} MB; stored in the cache folder`;
    if (status.server_error) {
      line.className = "server down";
      line.textContent = `No model server at ${status.base_url}: ${status.hint}.`;
    } else {
      line.className = "server up";
      line.textContent = `model ${status.model} at ${status.base_url} \u00b7 ` +
        `${status.concurrency} question(s) at once`;
    }
  } catch (error) {
    line.className = "server down";
    line.textContent = error.message;
  }
}

watchPlayer();
$("index-btn").addEventListener("click", startIndex);
$("ask-form").addEventListener("submit", ask);
$("search-form").addEventListener("submit", search);
$("upload-input").addEventListener("change", upload);
loadStatus();
loadVideos();
