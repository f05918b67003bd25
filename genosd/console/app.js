// genosd's web console: no build step, no framework. Everything goes through the same API and
// roles as any client; the key lives in this tab's session storage, never in a URL.

const KEY = "genosd.key";
const ROW = 30; // px per device row (the table renders only the rows in view)
const state = { key: sessionStorage.getItem(KEY), principal: null, role: null, devices: [],
  byName: new Map(), events: null, listeners: new Set() };

// -- small helpers ---------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.style.display = "block";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.style.display = "none"; }, 5000);
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${state.key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers,
    body: body === undefined ? undefined : JSON.stringify(body) });
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (response.status === 401) {
    if (sessionStorage.getItem(KEY)) logout(); // a session's key stopped working
    throw new Error(`the key was refused: ${data && data.error ? data.error.message : "unauthorized"}`);
  }
  if (!response.ok) {
    const message = data && data.error ? data.error.message : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return data;
}

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "—";
}

function duration(seconds) {
  if (seconds === undefined || seconds === null) return "—";
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  return days ? `${days}d ${hours}h` : `${hours}h ${Math.floor((seconds % 3600) / 60)}m`;
}

function rate(bits) {
  if (bits === undefined || bits === null) return "—";
  const units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s"];
  let n = Number(bits); let u = 0;
  while (n >= 1000 && u < units.length - 1) { n /= 1000; u += 1; }
  return `${n.toFixed(n < 10 && u ? 1 : 0)} ${units[u]}`;
}

function statusCell(status) {
  return h("span", { class: `status-${status}` }, status);
}

function diffView(lines) {
  return h("div", { class: "diff", role: "region", "aria-label": "diff", tabindex: "0" },
    ...lines.map((line) => h("div", {
      class: line.startsWith("+") && !line.startsWith("+++") ? "add"
        : line.startsWith("-") && !line.startsWith("---") ? "del" : "" }, line)));
}

// -- the event stream ------------------------------------------------------------------------

function connectEvents() {
  if (state.events) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/events`);
  state.events = ws;
  ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", key: state.key })));
  ws.addEventListener("message", (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "welcome") {
      state.principal = data.principal; state.role = data.role;
      document.getElementById("who").textContent = `${data.principal} (${data.role})`;
      ws.send(JSON.stringify({ type: "subscribe",
        topics: ["device.status", "poll.result", "run", "alert"] }));
    } else if (data.type === "event") {
      if (data.topic === "device.status") {
        const device = state.byName.get(data.data.device);
        if (device) device.status = data.data.status;
      } else if (data.topic === "poll.result") {
        const device = state.byName.get(data.data.device);
        if (device) {
          device.last_poll = data.time;
          for (const field of ["uptime_seconds", "cpu_percent", "error_rate"]) {
            if (field in data.data) device[field] = data.data[field];
          }
        }
      } else if (data.topic === "alert") {
        toast(`${data.data.severity || "alert"}: ${data.data.message || data.data.kind}`);
      }
      for (const listener of state.listeners) listener(data);
    }
  });
  ws.addEventListener("close", () => {
    state.events = null;
    if (state.key) setTimeout(connectEvents, 2000);
  });
}

// -- pages -----------------------------------------------------------------------------------

function loginPage(main) {
  const input = h("input", { id: "key", type: "password", autocomplete: "off", required: true,
    "aria-describedby": "key-help" });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { "aria-labelledby": "login-title", onsubmit: async (event) => {
    event.preventDefault();
    state.key = input.value.trim();
    try {
      await api("/api/v1/devices?limit=1");
      sessionStorage.setItem(KEY, state.key);
      document.getElementById("logout").hidden = false;
      connectEvents();
      location.hash = "#/devices";
    } catch (err) {
      state.key = null;
      error.textContent = err.message;
    }
  } },
  h("h1", { id: "login-title" }, "Log in"),
  h("label", { for: "key" }, "API key"), input,
  h("p", { id: "key-help" }, "A key from `genosd keys create`; kept in this tab only."),
  h("button", { class: "primary", type: "submit" }, "Log in"), error);
  main.append(form);
  input.focus();
}

async function devicesPage(main) {
  const filter = h("input", { id: "filter", type: "search", placeholder: "name, site, platform, status" });
  const count = h("span", { "aria-live": "polite" });
  const body = h("tbody");
  const spacer = h("div");
  const table = h("table", { "aria-label": "devices" },
    h("thead", {}, h("tr", {}, ...["Device", "Status", "Platform", "Site", "Uptime", "CPU",
      "Errors/s", "Compliance", "Last poll", "Last error"].map((t) => h("th", { scope: "col" }, t)))), body);
  const scroller = h("div", { class: "scroller", tabindex: "0" }, table, spacer);
  main.append(h("h1", {}, "Devices"), h("label", { for: "filter" }, "Filter"), filter, " ", count,
    scroller);
  const page = await api("/api/v1/devices?limit=1000");
  state.devices = page.items;
  state.byName = new Map(page.items.map((d) => [d.name, d]));
  let shown = state.devices;
  const draw = () => {
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW) - 5);
    const visible = shown.slice(first, first + Math.ceil(scroller.clientHeight / ROW) + 10);
    body.replaceChildren(...visible.map((d) => h("tr", { "data-device": d.name },
      h("td", {}, h("a", { href: `#/device/${encodeURIComponent(d.name)}` }, d.name)),
      h("td", {}, statusCell(d.status)), h("td", {}, d.platform || ""), h("td", {}, d.site || ""),
      h("td", {}, duration(d.uptime_seconds)), h("td", {}, d.cpu_percent == null ? "—" : `${d.cpu_percent.toFixed(0)} %`),
      h("td", { class: d.error_rate ? "error" : "" }, d.error_rate == null ? "—" : d.error_rate),
      h("td", {}, d.compliance == null ? "—" : d.compliance.toFixed(0)), h("td", {}, when(d.last_poll)),
      h("td", {}, d.last_error || ""))));
    table.style.transform = `translateY(${first * ROW}px)`;
    spacer.style.height = `${Math.max(0, shown.length * ROW - table.offsetHeight)}px`;
  };
  const apply = () => {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    shown = state.devices.filter((d) => words.every((w) =>
      [d.name, d.site, d.platform, d.status, d.role, ...d.groups].some((v) => (v || "").toLowerCase().includes(w))));
    count.textContent = `${shown.length} of ${state.devices.length}`;
    draw();
  };
  filter.addEventListener("input", apply);
  scroller.addEventListener("scroll", draw);
  const listener = (event) => {
    if (event.topic === "device.status" || event.topic === "poll.result") {
      if (!document.body.contains(scroller)) { state.listeners.delete(listener); return; }
      draw();
    }
  };
  state.listeners.add(listener);
  apply();
}

async function devicePage(main, name) {
  main.append(h("h1", {}, name));
  const grid = h("div", { class: "grid" });
  main.append(grid);
  const card = (title, ...content) => grid.append(h("section", { class: "card",
    "aria-label": title }, h("h2", {}, title), ...content));
  const [device, facts, metrics, versions, compliance, traps, traffic] = await Promise.allSettled([
    api(`/api/v1/devices/${encodeURIComponent(name)}`),
    api(`/api/v1/devices/${encodeURIComponent(name)}/facts`),
    api(`/api/v1/devices/${encodeURIComponent(name)}/metrics`),
    api(`/api/v1/devices/${encodeURIComponent(name)}/configs`),
    api(`/api/v1/devices/${encodeURIComponent(name)}/compliance`),
    api(`/api/v1/traps?device=${encodeURIComponent(name)}&limit=20`),
    api(`/api/v1/devices/${encodeURIComponent(name)}/metrics/history?field=in_bps&minutes=60&points=60`),
  ]);
  const trend = new Map(traffic.status === "fulfilled"
    ? traffic.value.series.map((s) => [s.series, s.points]) : []);
  if (device.status === "fulfilled") {
    const d = device.value;
    card("Status", h("p", {}, statusCell(d.status), ` — ${d.hostname} ${d.platform || ""}`),
      h("p", {}, `last poll ${when(d.last_poll)}`), d.last_error ? h("p", { class: "error" }, d.last_error) : null);
  }
  if (facts.status === "fulfilled") {
    const f = facts.value.facts || {};
    card("Facts", h("dl", {}, ...Object.entries(f).filter(([, v]) => typeof v !== "object")
      .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])),
    h("h3", {}, "Neighbours"), h("ul", {}, ...(f.lldp || []).concat(f.cdp || []).map((n) =>
      h("li", {}, Object.entries(n).filter(([, v]) => v && typeof v === "string").slice(0, 4)
        .map(([k, v]) => `${k} ${v}`).join(", ")))));
  } else {
    card("Facts", h("p", {}, facts.reason.message));
  }
  if (metrics.status === "fulfilled") {
    const rows = metrics.value.series.filter((s) => s.measurement === "interface");
    card("Interfaces", h("table", { "aria-label": "interfaces" },
      h("thead", {}, h("tr", {}, ...["Interface", "Oper", "In", "In, last hour", "Out", "Errors in"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...rows.map((s) => h("tr", {},
        h("td", {}, s.tags.ifName || s.tags.ifDescr || s.tags.ifIndex),
        h("td", {}, s.fields.ifOperStatus === 1 ? "up" : "down"),
        h("td", {}, rate(s.fields.in_bps)),
        h("td", {}, sparkline(trend.get(s.tags.ifName || s.tags.ifDescr || s.tags.ifIndex) || [])),
        h("td", {}, rate(s.fields.out_bps)),
        h("td", {}, s.fields.in_errors_rate ?? "—"))))));
  }
  if (versions.status === "fulfilled") {
    const diff = h("div");
    const items = versions.value.items || [];
    card("Config versions", h("ul", {}, ...items.map((v, i) => h("li", {},
      h("button", { type: "button", onclick: async () => {
        const older = items[i + 1];
        if (!older) { diff.replaceChildren(h("p", {}, "the first version")); return; }
        const shown = await api(`/api/v1/devices/${encodeURIComponent(name)}/configs/${older.id}/diff?to=${v.id}`).catch((e) => ({ error: e.message }));
        diff.replaceChildren(shown.error ? h("p", { class: "error" }, shown.error)
          : diffView((shown.diff || "").split("\n")));
      } }, `${v.id.slice(0, 10)} — ${when(v.time)} — ${v.author}`)))), diff);
  }
  if (compliance.status === "fulfilled") {
    const c = (compliance.value.items || [])[0] || {};
    card("Compliance", h("p", {}, `score ${c.score ?? "—"} (${c.source || "never checked"}, ${when(c.checked_at)})`),
      h("ul", {}, ...(c.findings || []).map((f) => h("li", {}, `${f.severity}: ${f.rule} — ${f.message}`))));
  }
  if (traps.status === "fulfilled") {
    card("Traps", h("ul", {}, ...(traps.value.items || []).map((t) => h("li", {}, `${when(t.received_at)} ${t.name}`))));
  }
}

async function approvalsPage(main) {
  main.append(h("h1", {}, "Changes and approvals"));
  const detail = h("div");
  const list = await api("/api/v1/approvals?limit=100");
  main.append(h("table", { "aria-label": "changes" },
    h("thead", {}, h("tr", {}, ...["#", "Device", "Status", "By", "Created"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...list.items.map((c) => h("tr", {},
      h("td", {}, h("button", { type: "button", onclick: () => showChange(detail, c.id) }, `#${c.id}`)),
      h("td", {}, c.device), h("td", {}, c.status), h("td", {}, c.created_by), h("td", {}, when(c.created_at)))))),
  detail);
}

async function showChange(detail, id) {
  const change = await api(`/api/v1/approvals/${id}`);
  const outcome = h("p", { role: "status" });
  const act = (verb) => async () => {
    try {
      const body = verb === "approve" ? { sha256: change.sha256 } : undefined;
      const done = await api(`/api/v1/approvals/${id}/${verb}`, { method: "POST", body });
      outcome.textContent = `${verb}: change #${id} is ${done.status || (done.change && done.change.status)}`;
    } catch (err) {
      outcome.textContent = `${verb} refused: ${err.message}`;
      outcome.className = "error";
    }
  };
  detail.replaceChildren(h("h2", {}, `Change #${id} on ${change.device} (${change.status})`),
    h("p", {}, `sha256 ${change.sha256}`), diffView(change.diff),
    h("p", {}, ...(change.findings || []).map((f) => `${f.severity}: ${f.message}; `)),
    h("button", { class: "primary", type: "button", onclick: act("approve") }, "Approve this diff"), " ",
    h("button", { type: "button", onclick: act("reject") }, "Reject"), outcome);
}

async function runsPage(main) {
  main.append(h("h1", {}, "Playbooks and runs"));
  const list = await api("/api/v1/playbooks");
  const body = h("div", { class: "grid" });
  const detail = h("div", { "aria-live": "polite" });
  let open = null;
  main.append(body, detail);
  const showRun = async (id) => {
    open = id;
    const run = await api(`/api/v1/runs/${id}`);
    const hosts = [...new Set(run.steps.flatMap((s) => Object.keys(s.hosts)))].sort();
    detail.replaceChildren(h("h2", {}, `Run #${run.id} of ${run.playbook}: ${run.status}`),
      h("p", {}, `${run.actor}, ${when(run.started_at)}${run.check ? ", check mode" : ""}`
        + (run.stopped_because ? ` — stopped: ${run.stopped_because}` : "")),
      h("table", { "aria-label": `run ${run.id} steps` },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Step"),
          ...hosts.map((host) => h("th", { scope: "col" }, host)))),
        h("tbody", {}, ...run.steps.map((step) => h("tr", {}, h("th", { scope: "row" }, step.step),
          ...hosts.map((host) => {
            const result = step.hosts[host];
            return h("td", { class: result ? `status-${result.status === "ok" ? "up" : result.status === "failed" ? "down" : "unknown"}` : "",
              title: result && result.error ? result.error : "" }, result ? result.status : "");
          }))))));
  };
  const draw = async () => {
    const sections = [];
    for (const playbook of list.items) {
      const runs = await api(`/api/v1/playbooks/${encodeURIComponent(playbook.name)}/runs?limit=5`);
      sections.push(h("section", { class: "card", "aria-label": playbook.name }, h("h2", {}, playbook.name),
        h("p", {}, playbook.description || ""), h("ul", {}, ...runs.items.map((r) =>
          h("li", {}, h("button", { type: "button", onclick: () => showRun(r.id) }, `#${r.id}`),
            ` ${r.status} — ${r.actor}, ${when(r.started_at)}`)))));
    }
    body.replaceChildren(...sections);
  };
  const listener = (event) => {
    if (!document.body.contains(body)) { state.listeners.delete(listener); return; }
    if (event.topic !== "run" || event.data.kind !== "playbook") return;
    if (event.data.status !== "step_finished") draw();
    if (open !== null && event.data.run === open) showRun(open);
  };
  state.listeners.add(listener);
  await draw();
}

function chatPage(main) {
  const log = h("div", { class: "chat-log", role: "log", "aria-live": "polite", "aria-label": "conversation" });
  const input = h("textarea", { id: "question", rows: 3 });
  let session = null;
  let current = null;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/plugins/chat/ws`,
    ["genosd", `genosd.key.${state.key}`]);
  ws.addEventListener("message", (message) => {
    const event = JSON.parse(message.data);
    if (event.type === "token") {
      current.textContent += event.text;
    } else if (event.type === "tool_call") {
      log.insertBefore(h("div", { class: "tool" }, `→ ${event.tool} ${JSON.stringify(event.arguments)}`), current);
    } else if (event.type === "tool_result") {
      log.insertBefore(h("div", { class: "tool" }, `  ${event.tool}: ${event.ok ? "ok" : event.error}`), current);
    } else if (event.type === "done") {
      session = event.session;
      current.textContent = event.content;
      current.dataset.done = "true";
    } else if (event.type === "error") {
      current.textContent = `error: ${event.message}`;
      current.className = "msg error";
    }
    log.scrollTop = log.scrollHeight;
  });
  const form = h("form", { onsubmit: (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    log.append(h("div", { class: "msg user" }, text));
    current = h("div", { class: "msg answer" });
    log.append(current);
    ws.send(JSON.stringify({ type: "message", content: text, session }));
    input.value = "";
  } }, h("label", { for: "question" }, "Ask the assistant"), input,
  h("button", { class: "primary", type: "submit" }, "Send"));
  // Enter sends, Shift+Enter starts a new line
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  main.append(h("h1", {}, "Assistant"), log, form);
  input.focus();
}

const SVG = "http://www.w3.org/2000/svg";

function sparkline(points) {
  if (points.length < 2) return "—";
  const values = points.map((p) => p[1]);
  const low = Math.min(...values); const high = Math.max(...values);
  const span = high - low || 1;
  const path = points.map((p, i) => `${(i / (points.length - 1)) * 96 + 2},${22 - ((p[1] - low) / span) * 20}`).join(" ");
  return svg("svg", { width: 100, height: 24, viewBox: "0 0 100 24", role: "img",
    "aria-label": `from ${rate(values[0])} to ${rate(values[values.length - 1])}, peak ${rate(high)}` },
  svg("polyline", { points: path, fill: "none", stroke: "#0550ae", "stroke-width": 1.5 }));
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

async function topologyPage(main) {
  const graph = await api("/api/v1/topology");
  main.append(h("h1", {}, "Topology"));
  if (graph.devices_without_facts.length) {
    main.append(h("p", {}, `No facts yet for ${graph.devices_without_facts.join(", ")}: their links are not known.`));
  }
  const size = 640;
  const center = size / 2;
  const radius = size / 2 - 90;
  const place = new Map(graph.nodes.map((n, i) => {
    const angle = (2 * Math.PI * i) / Math.max(graph.nodes.length, 1) - Math.PI / 2;
    return [n.name, [center + radius * Math.cos(angle), center + radius * Math.sin(angle)]];
  }));
  const picture = svg("svg", { viewBox: `0 0 ${size} ${size}`, width: size, height: size, role: "img",
    "aria-label": `${graph.nodes.length} devices, ${graph.links.length} links` });
  for (const link of graph.links) {
    const [x1, y1] = place.get(link.a); const [x2, y2] = place.get(link.b);
    picture.append(svg("line", { x1, y1, x2, y2, class: `link ${link.state}`, "stroke-width": 3 },
      svg("title", {}, `${link.a} ${link.a_interface} — ${link.b} ${link.b_interface}: ${link.state}`)));
  }
  for (const node of graph.nodes) {
    const [x, y] = place.get(node.name);
    const colour = node.status === "up" ? "#116329" : node.status === "down" ? "#a40e26" : "#57606a";
    const link = svg("a", { href: node.external ? "#/topology" : `#/device/${encodeURIComponent(node.name)}` },
      svg("circle", { cx: x, cy: y, r: 14, fill: node.external ? "#ffffff" : colour, stroke: colour, "stroke-width": 2 }),
      svg("text", { x, y: y + 30, "text-anchor": "middle", "font-size": 13 }, node.name));
    picture.append(link);
  }
  main.append(picture, h("table", { "aria-label": "links" },
    h("thead", {}, h("tr", {}, ...["Device", "Interface", "Device", "Interface", "State"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...graph.links.map((l) => h("tr", {}, h("td", {}, l.a), h("td", {}, l.a_interface),
      h("td", {}, l.b), h("td", {}, l.b_interface), h("td", {}, l.state))))));
}

async function systemPage(main) {
  const system = await api("/api/v1/system");
  main.append(h("h1", {}, "System"),
    h("p", {}, `genosd ${system.version} on Python ${system.python}, up since ${when(system.started_at)}`),
    system.restart_required.length ? h("p", { class: "error" }, `A restart applies: ${system.restart_required.join(", ")}`) : null,
    h("h2", {}, "Backends"),
    h("table", { "aria-label": "backends" },
      h("thead", {}, h("tr", {}, ...["Backend", "Kind", "Healthy", "Detail"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...system.backends.map((b) => h("tr", {}, h("td", {}, b.name), h("td", {}, b.kind),
        h("td", {}, statusCell(b.healthy ? "up" : "down")), h("td", {}, b.detail || ""))))),
    h("h2", {}, "Jobs"),
    h("table", { "aria-label": "jobs" },
      h("thead", {}, h("tr", {}, ...["Job", "Owner", "Schedule", "Runs", "Failures", "Last run", "Last error", "Next run"]
        .map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...system.jobs.map((j) => h("tr", {}, h("td", {}, j.name), h("td", {}, j.owner),
        h("td", {}, j.schedule), h("td", {}, j.runs), h("td", {}, j.failures), h("td", {}, when(j.last_run)),
        h("td", { class: j.last_error ? "error" : "" }, j.last_error || ""), h("td", {}, when(j.next_run)))))));
}

// -- routing ---------------------------------------------------------------------------------

const ROUTES = [
  [/^#\/devices$/, devicesPage], [/^#\/device\/(.+)$/, devicePage],
  [/^#\/topology$/, topologyPage], [/^#\/approvals$/, approvalsPage], [/^#\/runs$/, runsPage], [/^#\/chat$/, chatPage],
  [/^#\/system$/, systemPage],
];

async function route() {
  const main = document.getElementById("main");
  main.replaceChildren();
  if (!state.key) { loginPage(main); return; }
  const hash = location.hash || "#/devices";
  for (const link of document.querySelectorAll("nav a")) {
    link.toggleAttribute("aria-current", hash.startsWith(link.getAttribute("href")));
    if (link.hasAttribute("aria-current")) link.setAttribute("aria-current", "page");
  }
  for (const [pattern, page] of ROUTES) {
    const match = hash.match(pattern);
    if (match) {
      try {
        await page(main, ...match.slice(1).map(decodeURIComponent));
      } catch (err) {
        main.append(h("p", { class: "error", role: "alert" }, err.message));
      }
      main.focus();
      return;
    }
  }
  location.hash = "#/devices";
}

function logout() {
  state.key = null;
  sessionStorage.removeItem(KEY);
  if (state.events) state.events.close();
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  route();
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("logout").addEventListener("click", logout);
  if (state.key) { document.getElementById("logout").hidden = false; connectEvents(); }
  route();
});
