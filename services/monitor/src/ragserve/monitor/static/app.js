// The status page: fetches /api/status every second and redraws. No dependencies.
"use strict";
// Both paths run gateway → orchestrator, which then embeds (router → inference) and
// searches (query) or upserts (ingest) in retrieval; the roles label each node.
const ROLE = { gateway: "Query · Ingest", orchestrator: "pipelines", embedding_router: "Embed (cache: redis)", inference: "ModelInfer", retrieval: "Search · Upsert (qdrant)" };
const PATH = ["gateway", "orchestrator", [["embedding_router", "inference"], ["retrieval"]]];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}
const words = (state) => state.replace("_", " ").toLowerCase();
const ms = (s) => (s == null ? "–" : s < 1 ? (s * 1000).toFixed(1) + " ms" : s.toFixed(2) + " s");
const rate = (b) => (b == null ? "–" : b.toFixed(1) + "×");
const pct = (r) => (r == null ? "–" : (r * 100).toFixed(r < 0.01 ? 2 : 1) + " %");

function node(service, byName, alerts) {
  const s = byName[service];
  if (!s) return el("div", { class: "node absent", "data-service": service }, el("div", { class: "name" }, service), el("div", { class: "role" }, ROLE[service] || ""), el("div", { class: "state" }, "not watched"));
  const f = s.figures;
  const up = s.replicas.filter((r) => r.state === "SERVING").length;
  const open = alerts.filter((a) => a.labels.service === service).length;
  return el("div", { class: "node " + s.state, "data-service": service, "data-state": s.state },
    el("div", { class: "name" }, service), el("div", { class: "role" }, ROLE[service] || ""),
    el("div", { class: "state" }, words(s.state) + " · " + up + "/" + s.replicas.length + " replicas"),
    el("div", { class: "figs" },
      "p95", el("span", {}, ms(f.p95_latency_seconds)),
      "errors", el("span", {}, pct(f.error_ratio)),
      "rate", el("span", {}, f.requests_per_second.toFixed(1) + " /s")),
    el("div", { class: "alerts" }, open ? open + " alert" + (open > 1 ? "s" : "") : ""));
}

function chain(services, byName, alerts) {
  const parts = [];
  services.forEach((service, i) => { if (i) parts.push(el("span", { class: "arrow" }, "→")); parts.push(node(service, byName, alerts)); });
  return parts;
}

function flow(target, byName, alerts) {
  const [first, second, branches] = PATH;
  const fork = el("div", { class: "branches" }, ...branches.map((b) => el("div", { class: "branch" }, el("span", { class: "arrow" }, "→"), ...chain(b, byName, alerts))));
  target.replaceChildren(...chain([first, second], byName, alerts), fork);
}

function render(status) {
  const overall = document.getElementById("overall");
  overall.className = "badge " + status.overall;
  overall.textContent = "suite " + words(status.overall);
  document.getElementById("updated").textContent = "updated " + new Date(status.updated_at * 1000).toLocaleTimeString();
  document.getElementById("capabilities").replaceChildren(...status.capabilities.map((c) =>
    el("div", { class: "cap " + c.state, "data-capability": c.capability },
      el("b", {}, c.capability + ": " + words(c.state)), el("small", {}, c.reasons.join("; ") || "all good"))));
  const byName = Object.fromEntries(status.services.map((s) => [s.service, s]));
  const window = status.services.length ? status.services[0].figures.window_s : 0;
  document.getElementById("window").textContent = window ? "figures over the last " + window + " s" : "";
  flow(document.getElementById("path"), byName, status.alerts);
  document.getElementById("dependencies").replaceChildren(...status.dependencies.map((d) =>
    el("div", { class: "cap " + d.state, "data-dependency": d.name }, el("b", {}, d.name + ": " + words(d.state)), el("small", {}, d.detail))));
  const alerts = status.alerts.map((a) => el("li", { class: a.severity, "data-alert": a.id },
    el("b", {}, a.name + " "), a.summary + (a.labels.slo ? " (bad-event ratio " + pct(a.value) + ", threshold " + pct(a.threshold) + ") " : " "),
    a.runbook_url ? el("a", { href: a.runbook_url }, "runbook") : ""));
  document.getElementById("alerts").replaceChildren(...(alerts.length ? alerts : [el("li", { class: "none" }, "no alerts firing")]));
  document.querySelector("#slos tbody").replaceChildren(...status.slos.map((s) => el("tr", {},
    el("td", {}, s.name), el("td", {}, s.service), el("td", {}, (s.objective * 100).toFixed(1) + " %"),
    el("td", {}, s.windows.map((w) => w.long + " / " + w.short + ": " + rate(w.long_burn_rate) + " / " + rate(w.short_burn_rate) + " (fires above " + w.burn_rate_threshold + "×)").join(" · ")),
    el("td", {}, s.error_budget_remaining == null ? "–" : s.error_budget_remaining < 0 ? "exhausted" : pct(s.error_budget_remaining)),
    el("td", { class: s.met ? "met" : "burning" }, s.met ? "met" : "burning"))));
}

async function tick() {
  try {
    const response = await fetch("/api/status", { cache: "no-store" });
    render(await response.json());
  } catch (error) {
    document.getElementById("updated").textContent = "monitor unreachable: " + error;
  }
}
tick();
setInterval(tick, 1000);
