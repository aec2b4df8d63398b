// The playground of `blip2 serve`: plain browser JavaScript, no build step. It calls the same OpenAI-compatible
// API as any client: /v1/chat/completions (streamed) for caption and ask, /v1/match for retrieval checkpoints.
"use strict";

const $ = (id) => document.getElementById(id);
let imageUrl = null;   // the picked image as a data: URL
let model = null;      // { id, kind: "generation" | "retrieval" }

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("key").value.trim();
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

function showError(message) { $("error").textContent = message || ""; }

async function errorOf(response) {
  try { return (await response.json()).error.message; } catch { return response.status + " " + response.statusText; }
}

function setImage(file) {
  if (!file || !file.type.startsWith("image/")) { showError("that is not an image"); return; }
  const reader = new FileReader();
  reader.onload = () => {
    imageUrl = reader.result;
    $("preview").src = imageUrl;
    $("preview").hidden = false;
    $("drop-hint").hidden = true;
    showError("");
    updateButtons();
  };
  reader.readAsDataURL(file);
}

function updateButtons() {
  for (const id of ["caption", "ask", "match"]) $(id).disabled = !imageUrl || !model;
}

// Streams one chat completion into the output box, piece by piece, as the server sends its SSE chunks.
async function chat(question) {
  showError("");
  $("output").textContent = "";
  $("output").dataset.pieces = "0";
  $("scores").hidden = true;
  const content = [{ type: "image_url", image_url: { url: imageUrl } }];
  if (question) content.push({ type: "text", text: question });
  const body = {
    model: model.id, stream: true,
    max_tokens: Number($("max-tokens").value) || 30,
    messages: [{ role: "user", content }],
  };
  const response = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body) });
  if (!response.ok) { showError(await errorOf(response)); return; }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") { $("output").dataset.done = "true"; return; }
      const chunk = JSON.parse(data);
      if (chunk.error) { showError(chunk.error.message); continue; }
      for (const choice of chunk.choices) {
        if (!choice.delta || !choice.delta.content) continue;
        $("output").textContent += choice.delta.content;
        $("output").dataset.pieces = String(Number($("output").dataset.pieces || 0) + 1);   // text pieces received
      }
    }
  }
}

async function match() {
  showError("");
  $("output").textContent = "";
  const texts = $("texts").value.split("\n").map((t) => t.trim()).filter((t) => t);
  if (!texts.length) { showError("write at least one text"); return; }
  const response = await fetch("/v1/match", { method: "POST", headers: headers(), body: JSON.stringify({ model: model.id, image: { url: imageUrl }, texts }) });
  if (!response.ok) { showError(await errorOf(response)); return; }
  const rows = (await response.json()).data;
  const tbody = $("scores").querySelector("tbody");
  tbody.replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    for (const v of [r.text, r.itm_probability.toFixed(4), r.itc_similarity.toFixed(4)]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    return tr;
  }));
  $("scores").hidden = false;
  $("output").dataset.done = "true";
}

// Which checkpoint is served (/ready's kind) decides what the page offers: caption and ask, or match.
async function probe() {
  const ready = await (await fetch("/ready")).json();
  const kind = ready.kind;
  model = { id: ready.model, kind };
  $("model").textContent = ready.model + (kind === "generation" ? " · captioning / VQA" : " · image-text retrieval");
  for (const el of document.querySelectorAll("[data-kind]")) el.hidden = el.dataset.kind !== kind;
  updateButtons();
}

const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); setImage(e.dataTransfer.files[0]); });
$("file").addEventListener("change", (e) => setImage(e.target.files[0]));
$("caption").addEventListener("click", () => chat(null).catch((e) => showError(String(e))));
$("ask").addEventListener("click", () => chat($("question").value.trim()).catch((e) => showError(String(e))));
$("question").addEventListener("keydown", (e) => { if (e.key === "Enter") $("ask").click(); });
$("match").addEventListener("click", () => match().catch((e) => showError(String(e))));
probe().catch((e) => showError(String(e)));
