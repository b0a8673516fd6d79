/**
 * The one page `containet graph --serve` serves: self-contained (inline CSS
 * and script, no CDN, no framework). Every second it fetches /api/lab, puts
 * the picture in (the server made the SVG, every text escaped) and fills the
 * ports' table with their rates and counters; when the daemon (or the server)
 * cannot be reached it says so, with the reason, and keeps trying. A click on a port downloads a capture
 * of it from /capture/<port>. See docs/graph.md.
 */

/** The page, its script allowed by @nonce (the Content-Security-Policy's). */
export function page(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>containet lab</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fff}
header{display:flex;gap:16px;align-items:center;padding:8px 16px;background:#1f3b63;color:#fff}
header h1{font-size:18px;margin:0}
#status{font-size:13px}#status.down{background:#c0392b;padding:2px 8px;border-radius:4px}
header label{font-size:13px;margin-left:auto}header input{width:4em}
main{padding:12px 16px}
#picture{overflow:auto;border:1px solid #ddd;margin-bottom:16px}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #e3e3e3;padding:3px 10px;text-align:right}
th:nth-child(-n+3),td:nth-child(-n+3){text-align:left}
tr[data-port]{cursor:pointer}tr[data-port]:hover{background:#fff6d8}
</style>
</head>
<body>
<header><h1>containet lab</h1><span id="status">loading…</span>
<label>capture for <input id="seconds" type="number" min="0" value="10"> s (0: until the download is cancelled)</label></header>
<main>
<div id="picture"></div>
<table id="ports">
<thead><tr><th>port</th><th>lan</th><th>node</th><th>rx pkt/s</th><th>tx pkt/s</th><th>rx B/s</th><th>tx B/s</th><th>drops/s</th><th>rx pkts</th><th>tx pkts</th><th>drops</th></tr></thead>
<tbody></tbody>
</table>
</main>
<script nonce="${nonce}">
'use strict';
const COLS = ['rxPps', 'txPps', 'rxBps', 'txBps', 'dropsPs'];
const TOTALS = ['rxPackets', 'txPackets', 'drops'];
function num(v) {
  if (v === null || v === undefined) return '-';
  return v >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1);
}
function cell(tr, cls, text) {
  const td = document.createElement('td');
  td.className = cls;
  td.textContent = text;
  tr.appendChild(td);
}
function fill(lab) {
  document.getElementById('picture').innerHTML = lab.svg;
  const body = document.querySelector('#ports tbody');
  const rows = [];
  for (const p of lab.ports) {
    const tr = document.createElement('tr');
    tr.dataset.port = p.name;
    cell(tr, 'name', p.name);
    cell(tr, 'lan', p.lan);
    cell(tr, 'node', p.group || '-');
    for (const c of COLS) cell(tr, c.toLowerCase(), num(p.rates ? p.rates[c] : null));
    for (const c of TOTALS) cell(tr, c.toLowerCase(), num(p.counters ? p.counters[c] : null));
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}
function status(text, down) {
  const s = document.getElementById('status');
  s.textContent = text;
  s.className = down ? 'down' : '';
}
async function tick() {
  try {
    let r;
    try {
      r = await fetch('api/lab', { cache: 'no-store' });
    } catch (e) {
      throw new Error('the graph server is unreachable: ' + e.message);
    }
    const j = await r.json().catch(() => ({ error: 'HTTP ' + r.status }));
    if (!r.ok) throw new Error(j.error || 'HTTP ' + r.status);
    fill(j);
    status('updated ' + new Date(j.at).toLocaleTimeString(), false);
  } catch (e) {
    status(e.message + ' (retrying)', true);
  }
  setTimeout(tick, 1000);
}
document.addEventListener('click', (ev) => {
  const el = ev.target.closest('[data-port]');
  if (!el) return;
  const secs = Math.max(0, Math.floor(Number(document.getElementById('seconds').value) || 0));
  const a = document.createElement('a');
  a.href = 'capture/' + encodeURIComponent(el.dataset.port) + (secs ? '?seconds=' + secs : '');
  a.download = el.dataset.port + '.pcapng';
  document.body.appendChild(a);
  a.click();
  a.remove();
});
tick();
</script>
</body>
</html>
`;
}
