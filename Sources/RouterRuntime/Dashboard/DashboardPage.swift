/// The dashboard page: one self-contained HTML document (inline style and plain script, no fonts, no CDN).
///
/// The script opens `/dashboard/events` (passing on the page's own `?key=`) and redraws from each snapshot.
/// Every text from a snapshot goes in with `textContent`: route, client and model names and request paths
/// come from route files and clients, and never become markup.
enum DashboardPage {
  static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>louter dashboard</title>
    <style>
    :root { color-scheme: light dark; --muted: #777; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; }
    body { font: 13px/1.4 system-ui, sans-serif; margin: 1rem 1.5rem; }
    h1 { font-size: 1.2rem; margin: 0 0 .3rem; }
    h2 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: .15rem .5rem; border-bottom: 1px solid #8884; white-space: nowrap; }
    td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
    .muted { color: var(--muted); }
    .ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); }
    .badge { display: inline-block; padding: 0 .35rem; margin-right: .2rem; border-radius: .6rem;
      border: 1px solid #8888; font-size: 11px; }
    .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(28rem, 1fr)); gap: 0 2rem; }
    #status.live { color: var(--ok); } #status.down { color: var(--bad); }
    </style>
    </head>
    <body>
    <h1>louter</h1>
    <div><span id="status" class="down">connecting</span> ·
      <span id="updates">0</span> updates ·
      requests (this page included) <span id="server-requests">-</span> ·
      streams <span id="server-streams">-</span> ·
      connections <span id="server-connections">-</span></div>
    <div class="grid">
    <section><h2>Routes (last minute)</h2>
    <table id="routes"><thead><tr><th>route</th><th class="num">req/s</th><th class="num">count</th>
      <th class="num">errors</th><th class="num">mean</th><th class="num">mean TTFT</th></tr></thead>
      <tbody></tbody></table></section>
    <section><h2>Backends</h2>
    <table id="backends"><thead><tr><th>backend</th><th>health</th><th class="num">in flight</th>
      <th class="num">failures</th><th class="num">req/s</th><th class="num">errors</th><th class="num">mean</th>
      <th class="num">mean TTFT</th></tr></thead><tbody></tbody></table></section>
    </div>
    <h2>Client limits (this replica)</h2>
    <table id="limits"><thead><tr><th>client</th><th>limit</th><th class="num">used</th><th class="num">of</th>
      </tr></thead><tbody></tbody></table>
    <h2>In flight (<span id="inflight-count">0</span>)</h2>
    <table id="inflight"><thead><tr><th>method</th><th>path</th><th class="num">age</th></tr></thead>
      <tbody></tbody></table>
    <h2>Recent requests</h2>
    <table id="requests"><thead><tr><th>ended</th><th>route</th><th>backends tried</th><th>status</th>
      <th class="num">TTFT</th><th class="num">tok/s</th><th class="num">total</th><th class="num">overhead</th>
      <th></th><th>client</th><th>model</th></tr></thead><tbody></tbody></table>
    <h2>Route files</h2>
    <div id="config"><div id="reload" class="muted">-</div><ul id="files"></ul></div>
    <script>
    "use strict";
    const params = new URLSearchParams(location.search);
    const key = params.get("key");
    // ?updates=N closes the stream after N snapshots (a still picture: headless browsers wait for open fetches).
    const updateLimit = Math.max(0, parseInt(params.get("updates") || "0", 10) || 0);
    const source = "/dashboard/events" + (key ? "?key=" + encodeURIComponent(key) : "");
    let updates = 0;

    function cell(text, cls) {
      const td = document.createElement("td");
      td.textContent = text === null || text === undefined ? "-" : String(text);
      if (cls) td.className = cls;
      return td;
    }
    function ms(value) {
      if (value === null || value === undefined) return "-";
      return value < 1000 ? value.toFixed(1) + " ms" : (value / 1000).toFixed(2) + " s";
    }
    function fill(id, rows) {
      const body = document.querySelector("#" + id + " tbody");
      body.replaceChildren(...rows);
    }
    function row(cells, attrs) {
      const tr = document.createElement("tr");
      for (const [name, value] of Object.entries(attrs || {})) tr.setAttribute(name, String(value));
      tr.append(...cells);
      return tr;
    }
    function statusClass(status) { return status >= 500 || status === 499 ? "bad" : status >= 400 ? "warn" : "ok"; }

    function render(s) {
      document.getElementById("server-requests").textContent = s.server.requests_in_flight;
      document.getElementById("server-streams").textContent = s.server.streams_in_flight;
      document.getElementById("server-connections").textContent = s.server.open_connections;
      fill("routes", s.routes.map(r => row([
        cell(r.name), cell(r.rate.toFixed(2), "num"), cell(r.count, "num"),
        cell(r.errors, r.errors ? "num bad" : "num"), cell(ms(r.mean_ms), "num"), cell(ms(r.mean_ttft_ms), "num")
      ], {"class": "route", "data-route": r.name})));
      fill("backends", s.backends.map(b => {
        const health = b.circuit === "open" ? "cooling down " + ms(b.cool_down_ms) : b.circuit;
        return row([
          cell(b.name), cell(health, b.circuit === "closed" ? "ok" : "bad"),
          cell(b.in_flight === undefined ? "-" : b.in_flight + " / " + b.limit, "num"), cell(b.failures, "num"),
          cell(b.rate.toFixed(2), "num"), cell(b.errors, b.errors ? "num bad" : "num"), cell(ms(b.mean_ms), "num"),
          cell(ms(b.mean_ttft_ms), "num")
        ], {"class": "backend", "data-backend": b.name, "data-circuit": b.circuit});
      }));
      fill("limits", s.limits.flatMap(c => c.limits.map(l => row([
        cell(c.client), cell(l.kind), cell(l.used, l.used >= l.limit ? "num bad" : "num"), cell(l.limit, "num")
      ], {"class": "limit", "data-client": c.client, "data-kind": l.kind}))));
      document.getElementById("inflight-count").textContent = s.in_flight.count;
      fill("inflight", s.in_flight.requests.map(r => row([cell(r.method), cell(r.path), cell(ms(r.age_ms), "num")])));
      fill("requests", s.recent.map(r => {
        const chain = r.chain.length === 0 ? "-" :
          r.chain.map(h => h.outcome === "ok" ? h.backend : h.backend + " (" + h.outcome + ")").join(" → ");
        const badges = document.createElement("td");
        for (const name of r.badges) {
          const span = document.createElement("span");
          span.className = "badge badge-" + name;
          span.textContent = name;
          badges.append(span);
        }
        return row([
          cell(new Date(r.time * 1000).toLocaleTimeString()), cell(r.route), cell(chain),
          cell(r.status, statusClass(r.status)), cell(ms(r.ttft_ms), "num"),
          cell(r.tps === null ? null : r.tps.toFixed(1), "num"), cell(ms(r.total_ms), "num"),
          cell(ms(r.overhead_ms), "num"), badges, cell(r.client), cell(r.model)
        ], {"class": "request", "data-route": r.route, "data-status": r.status, "data-id": r.id});
      }));
      const reload = s.config.last_reload;
      const line = document.getElementById("reload");
      line.textContent = "generation " + s.config.generation + " · last load " +
        (reload.succeeded ? "succeeded" : "REFUSED") + " at " + new Date(reload.time * 1000).toLocaleTimeString() +
        (reload.message ? " · " + reload.message : "");
      line.className = reload.succeeded ? "ok" : "bad";
      document.getElementById("files").replaceChildren(...s.config.files.map(f => {
        const li = document.createElement("li");
        li.textContent = f;
        return li;
      }));
    }

    const events = new EventSource(source);
    events.addEventListener("snapshot", e => {
      render(JSON.parse(e.data));
      updates += 1;
      document.getElementById("updates").textContent = updates;
      const status = document.getElementById("status");
      status.textContent = "live";
      status.className = "live";
      if (updateLimit && updates >= updateLimit) {
        events.close();
        status.textContent = "paused after " + updates + " updates";
      }
    });
    events.onerror = () => {
      const status = document.getElementById("status");
      status.textContent = "reconnecting";
      status.className = "down";
    };
    </script>
    </body>
    </html>
    """#
}
