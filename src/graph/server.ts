/**
 * The HTTP side of `containet graph --serve`: a node:http server in the CLI
 * process, a client of the daemon. It serves the page (page.ts), the lab with
 * its picture and per-port rates (/api/lab), the picture alone (/graph.svg)
 * and live captures of ports as pcapng downloads (/capture/<port>). With an
 * authtoken every request must carry it; without one, only requests naming a
 * loopback host are answered (a web page elsewhere cannot reach it through
 * DNS rebinding). See docs/graph.md.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

import { native } from '../native.js';
import { fetchLab, type DaemonRequest } from './lab.js';
import { layout } from './layout.js';
import type { Lab } from './model.js';
import { page } from './page.js';
import { counterLine, rateLine, rates, type PortRates, type Sample } from './rates.js';
import { renderSvg } from './svg.js';

/** What the server is given. */
export interface GraphServerOptions {
  host: string;
  /** 0: any free port */
  port: number;
  /** the daemon's authtoken: every HTTP request must carry it */
  token?: string | undefined;
  /** answer requests naming any host (--public); else loopback names only */
  anyHost: boolean;
  daemon: DaemonRequest;
}

/** A running server. */
export interface GraphServer {
  /** its address, as http://HOST:PORT/ */
  url: string;
  /** Stop serving and end the captures it runs. */
  close(): Promise<void>;
}

/** Captures one server runs at once: each holds a thread of Node's pool
 *  (the request to the daemon waits for the capture's end there). */
const MAX_CAPTURES = 2;
/** The cookie the token is kept in once given as ?token=. */
const COOKIE = 'containet_token';
/** How long one capture may run, s (a page asking for more gets this). */
const MAX_SECONDS = 24 * 3600;

/** The SHA-256 of @s, to compare tokens in constant time. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The token @req carries (a Bearer header, the cookie, or ?token=), if any. */
function tokenOf(req: http.IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7);
  const q = url.searchParams.get('token');
  if (q !== null) return q;
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) {
      try {
        return decodeURIComponent(v.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** True when @name is localhost or a loopback address (127.0.0.0/8, ::1). */
export function loopbackName(name: string): boolean {
  return name === 'localhost' || name === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/** True when Host header @host names a loopback address or localhost. */
export function loopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  return loopbackName(host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, ''));
}

/** Send @status with a JSON body. */
function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** A positive integer query parameter @name of @url, undefined when absent;
 *  throws naming it when it is something else. */
function queryInt(url: URL, name: string, max: number): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max) throw new Error(`"${name}" must be an integer from 1 to ${max}, not "${v}"`);
  return Number(v);
}

/** Start the server of @o; resolves once it listens. */
export async function startGraphServer(o: GraphServerOptions): Promise<GraphServer> {
  const want = o.token === undefined ? undefined : digest(o.token);
  let prev: Sample | undefined;
  let last = new Map<string, PortRates>();
  const captures = new Set<string>();
  let seq = 0;

  /** The lab now, with rates since the sample before (samples at least 0.5 s apart). */
  async function labNow(): Promise<{ lab: Lab; rates: Map<string, PortRates> }> {
    const { lab, sample } = await fetchLab(o.daemon);
    if (!prev) prev = sample;
    else if (sample.at - prev.at >= 500) {
      last = rates(prev, sample);
      prev = sample;
    }
    return { lab, rates: last };
  }

  /** /api/lab: the lab, its picture with rates, and each port's rates and counters. */
  async function apiLab(res: http.ServerResponse): Promise<void> {
    const { lab, rates: r } = await labNow();
    const svg = renderSvg(layout(lab), (p) => rateLine(r.get(p)));
    json(res, 200, {
      at: Date.now(),
      svg,
      lans: lab.lans,
      links: lab.links,
      groups: lab.groups,
      ports: lab.ports.map((p) => ({ ...p, rates: r.get(p.name) ?? null, counters: p.counters ?? null })),
    });
  }

  /** /capture/<port>: a live capture of @port streamed as a pcapng download,
   *  until the client goes, ?seconds=N pass or ?count=N frames are written. */
  async function capture(res: http.ServerResponse, port: string, url: URL): Promise<void> {
    let seconds: number | undefined;
    let count: number | undefined;
    try {
      seconds = queryInt(url, 'seconds', MAX_SECONDS);
      count = queryInt(url, 'count', Number.MAX_SAFE_INTEGER);
    } catch (e) {
      return json(res, 400, { error: (e as Error).message });
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$/.test(port)) return json(res, 400, { error: `"${port}" is not a port name` });
    const { lab } = await labNow();
    if (!lab.ports.some((p) => p.name === port)) return json(res, 404, { error: `no port named "${port}"` });
    if (captures.size >= MAX_CAPTURES) return json(res, 503, { error: `${MAX_CAPTURES} captures run already; end one first` });
    const name = `graph-${process.pid}-${++seq}`;
    const [ours, theirs] = native().socketpair('stream');
    captures.add(name);
    const sock = new net.Socket({ fd: ours, readable: true, writable: false });
    const body: Record<string, unknown> = { name, of: [port], format: 'pcapng', dir: 'both' };
    if (count !== undefined) body.count = count;
    let ended = false;
    const stop = () => {
      if (ended) return;
      ended = true;
      void o.daemon({ del: { name, force: false } }, { timeoutMs: 5000 }).catch(() => undefined);
    };
    const done = o.daemon({ capture: body }, { fd: theirs, timeoutMs: 2 ** 31 - 1 }).then(
      () => undefined,
      (e: Error) => e,
    );
    let timer: NodeJS.Timeout | undefined;
    void done.then(() => {
      // The daemon closed its copy: once ours goes, the stream ends.
      ended = true;
      if (timer) clearTimeout(timer);
      captures.delete(name);
      native().closeFd(theirs);
    });
    // The client went before the capture ended: end it (its reader is gone).
    res.once('close', () => {
      stop();
      sock.destroy();
    });
    // The capture writes its file's header as it starts: wait for that, or
    // for the daemon's refusal, before answering.
    const refused = await Promise.race([new Promise<undefined>((r) => sock.once('readable', () => r(undefined))), done]);
    if (refused) {
      sock.destroy();
      return json(res, 502, { error: `capture of ${port}: ${refused.message}` });
    }
    if (seconds !== undefined) timer = setTimeout(stop, seconds * 1000);
    res.writeHead(200, {
      'Content-Type': 'application/x-pcapng',
      'Content-Disposition': `attachment; filename="${port}.pcapng"`,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    sock.pipe(res);
  }

  /** Answer @req. */
  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!o.anyHost && !loopbackHost(req.headers.host)) return json(res, 403, { error: 'only loopback host names are answered (serve with --public for others)' });
    if (want) {
      const t = tokenOf(req, url);
      if (t === undefined || !timingSafeEqual(digest(t), want)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="containet"');
        return json(res, 401, { error: 'this containet needs its authtoken: open the page with ?token=TOKEN once, or send Authorization: Bearer TOKEN' });
      }
      if (url.searchParams.has('token')) {
        res.setHeader('Set-Cookie', `${COOKIE}=${encodeURIComponent(t)}; HttpOnly; SameSite=Strict; Path=/`);
        if (url.pathname === '/') {
          res.writeHead(303, { Location: '/' });
          res.end();
          return;
        }
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: `${req.method} is not served; use GET` });
    if (url.pathname === '/') {
      const nonce = randomBytes(16).toString('base64');
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Cache-Control': 'no-store',
        'Content-Security-Policy': `default-src 'self'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; img-src 'self' data:`,
        'X-Content-Type-Options': 'nosniff',
      });
      res.end(page(nonce));
      return;
    }
    if (url.pathname === '/api/lab') return apiLab(res);
    if (url.pathname === '/graph.svg') {
      const { lab } = await labNow();
      res.writeHead(200, { 'Content-Type': 'image/svg+xml; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(renderSvg(layout(lab), (p) => counterLine(lab.ports.find((q) => q.name === p)?.counters)));
      return;
    }
    const m = /^\/capture\/([^/]+)$/.exec(url.pathname);
    if (m) {
      if (req.method !== 'GET') return json(res, 405, { error: 'a capture is a GET' });
      let port: string;
      try {
        port = decodeURIComponent(m[1]!);
      } catch {
        return json(res, 400, { error: 'the port name is not valid URL encoding' });
      }
      return capture(res, port, url);
    }
    json(res, 404, { error: `nothing at ${url.pathname}: the page is at /` });
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      if (!res.headersSent) json(res, 503, { error: `daemon unreachable: ${e.message}` });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/`,
    close: async () => {
      await Promise.all([...captures].map((name) => o.daemon({ del: { name, force: false } }, { timeoutMs: 5000 }).catch(() => undefined)));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
