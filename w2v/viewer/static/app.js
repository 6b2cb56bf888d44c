// The viewer's page: asks the server's /api/ for answers and draws them. No libraries, no build.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

// One request to the API; a 4xx or 5xx answer's message goes to the error line and stops here.
async function ask(name, parameters) {
  const response = await fetch("/api/" + name + "?" + new URLSearchParams(parameters));
  const answer = await response.json();
  if (!response.ok) {
    showError(answer.error || response.statusText);
    throw new Error(answer.error);
  }
  return answer;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

// Completion: the most frequent words starting with what is typed, into the shared datalist.
let completing = 0;
async function complete(event) {
  const prefix = event.target.value.trim();
  const asked = ++completing;
  if (!prefix) return;
  const answer = await ask("complete", { prefix, limit: 12 }).catch(() => null);
  if (!answer || asked !== completing) return;
  $("completions").replaceChildren(...answer.words.map((word) => Object.assign(document.createElement("option"), { value: word })));
}

async function lookUp(word) {
  clearError();
  $("search").value = word;
  const answer = await ask("neighbours", { word, k: $("k").value });
  const rows = answer.neighbours.map((neighbour, rank) => {
    const row = document.createElement("tr");
    row.dataset.word = neighbour.word;
    for (const text of [rank + 1, neighbour.word, neighbour.cosine.toFixed(4)]) {
      row.appendChild(Object.assign(document.createElement("td"), { textContent: text }));
    }
    row.addEventListener("click", () => lookUp(neighbour.word).catch(() => {}));
    return row;
  });
  $("neighbours").tBodies[0].replaceChildren(...rows);
  await drawMap(word);
}

// The map: points scaled into [-0.9, 0.9]; panning and zooming move the SVG's viewBox.
let view = { x: -1, y: -1, size: 2 };
function setView(next) {
  view = next;
  $("map").setAttribute("viewBox", `${view.x} ${view.y} ${view.size} ${view.size}`);
  // Labels and dots keep their size on screen whatever the zoom.
  $("map-layer").style.fontSize = (0.035 * view.size) / 2 + "px";
  for (const dot of $("map-layer").querySelectorAll("circle")) dot.setAttribute("r", (0.008 * view.size) / 2);
}

async function drawMap(word) {
  const answer = await ask("map", { word, k: $("map-k").value, method: $("projection").value });
  const xs = answer.points.map((point) => point.x);
  const ys = answer.points.map((point) => point.y);
  const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)) || 1;
  const middle = [(Math.max(...xs) + Math.min(...xs)) / 2, (Math.max(...ys) + Math.min(...ys)) / 2];
  const nodes = [];
  for (const point of answer.points) {
    const x = ((point.x - middle[0]) / span) * 1.8;
    const y = (-(point.y - middle[1]) / span) * 1.8;
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", x);
    dot.setAttribute("cy", y);
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", x + 0.012);
    label.setAttribute("y", y - 0.008);
    label.textContent = point.word;
    label.dataset.word = point.word;
    if (point.word === answer.word) label.classList.add("centre");
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${point.word}: cosine ${point.cosine.toFixed(4)}`;
    label.appendChild(title);
    label.addEventListener("click", (event) => {
      if (!dragged) lookUp(point.word).catch(() => {});
      event.stopPropagation();
    });
    nodes.push(dot, label);
  }
  $("map-layer").replaceChildren(...nodes);
  $("map-title").textContent = `around “${answer.word}” (${answer.method === "tsne" ? "t-SNE" : "PCA"})`;
  setView({ x: -1, y: -1, size: 2 });
}

let dragging = null;
let dragged = false;
function mapPoint(event) {
  const box = $("map").getBoundingClientRect();
  const side = Math.min(box.width, box.height);
  return {
    x: view.x + ((event.clientX - box.left - (box.width - side) / 2) / side) * view.size,
    y: view.y + ((event.clientY - box.top - (box.height - side) / 2) / side) * view.size,
    scale: view.size / side,
  };
}
$("map").addEventListener("pointerdown", (event) => {
  dragging = { clientX: event.clientX, clientY: event.clientY, view: { ...view } };
  dragged = false;
});
window.addEventListener("pointermove", (event) => {
  if (!dragging) return;
  const scale = mapPoint(event).scale;
  const dx = event.clientX - dragging.clientX;
  const dy = event.clientY - dragging.clientY;
  if (Math.abs(dx) + Math.abs(dy) > 3) dragged = true;
  setView({ x: dragging.view.x - dx * scale, y: dragging.view.y - dy * scale, size: view.size });
});
window.addEventListener("pointerup", () => {
  dragging = null;
});
$("map").addEventListener("wheel", (event) => {
  event.preventDefault();
  const at = mapPoint(event);
  const factor = Math.exp(event.deltaY * 0.001);
  setView({ x: at.x - (at.x - view.x) * factor, y: at.y - (at.y - view.y) * factor, size: view.size * factor });
}, { passive: false });
$("map-reset").addEventListener("click", () => setView({ x: -1, y: -1, size: 2 }));
$("projection").addEventListener("change", () => $("search").value && drawMap($("search").value.trim()).catch(() => {}));

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  lookUp($("search").value.trim()).catch(() => {});
});
for (const input of document.querySelectorAll("input[list]")) input.addEventListener("input", complete);

$("analogy-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  const answer = await ask("analogy", {
    a: $("analogy-a").value, b: $("analogy-b").value, c: $("analogy-c").value,
    method: $("analogy-method").value, k: 5,
  }).catch(() => null);
  $("analogy-answers").replaceChildren(...(answer ? answer.answers : []).map((found) =>
    Object.assign(document.createElement("li"), { textContent: `${found.word}  (${found.cosine.toFixed(4)})` })));
});

$("odd-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  const answer = await ask("doesnt_match", { words: $("odd-words").value }).catch(() => null);
  $("odd-answer").textContent = answer ? `“${answer.odd_one_out}” fits least` : "";
});

// The model's facts, and the loss per epoch from its training log as a line.
function drawLoss(epochs) {
  if (!epochs.length) return;
  const losses = epochs.map((epoch) => epoch.loss);
  const low = Math.min(...losses);
  const high = Math.max(...losses);
  const points = losses.map((loss, index) => {
    const x = 40 + (epochs.length > 1 ? (index / (epochs.length - 1)) * 340 : 170);
    const y = 140 - (high > low ? ((loss - low) / (high - low)) * 120 : 60);
    return `${x},${y}`;
  });
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", points.join(" "));
  const caption = document.createElementNS(SVG, "text");
  caption.setAttribute("x", 40);
  caption.setAttribute("y", 12);
  caption.textContent = `loss per epoch: ${high.toFixed(4)} → ${losses[losses.length - 1].toFixed(4)}`;
  $("loss").replaceChildren(line, caption);
  $("loss").hidden = false;
}

async function showFacts() {
  const facts = await ask("facts", {});
  const training = facts.training || {};
  const rows = {
    words: facts.words.toLocaleString(),
    dimensions: facts.dim,
    model: training.model ? `${training.model}${training.hs ? ", hierarchical softmax" : `, ${training.negative} negatives`}` : "unknown",
    window: training.window ?? "unknown",
    epochs: training.epochs ?? "unknown",
    "corpus words": facts.corpus_words == null ? "unknown" : facts.corpus_words.toLocaleString(),
  };
  $("facts").replaceChildren(...Object.entries(rows).flatMap(([name, value]) => [
    Object.assign(document.createElement("dt"), { textContent: name }),
    Object.assign(document.createElement("dd"), { textContent: value }),
  ]));
  $("facts-line").textContent = `${facts.words.toLocaleString()} words × ${facts.dim} dimensions`;
  if (facts.training) $("settings").textContent = JSON.stringify(facts.training, null, 2);
  drawLoss(facts.epochs);
}

showFacts().catch(() => {});
