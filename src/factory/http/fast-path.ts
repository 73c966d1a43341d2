/**
 * Small hot routes answered straight from the `node:http` request listener, before Hono and the
 * @hono/node-server adapters. A `POST /schematics` through Hono costs about three times the CPU of
 * the route's own work: a Web `Request` and `Response`, header objects materialised and converted
 * back, and one async layer per middleware. A fast route produces the very response the Hono path
 * produces — same status, body and header lines in the same order, the same CORS, `Server` and
 * `X-Request-ID` headers, the same access-log line and request metric — so which path answered is
 * invisible to clients (test/factory/fast-path.test.ts compares the two byte for byte).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { EXPOSED_HEADERS, type AllowOrigin } from "./cors.js";
import { errorResponse } from "./plain-error.js";
import { collectIncoming } from "./read-body.js";
import { REQUEST_ID, serverHeader } from "./request-context.js";

/** What a fast route answers: status, its own headers (lower-case names) and a text body. */
export interface FastReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * A fast route: it reads the request body (up to a limit), then answers. `known` answers from
 * memory, synchronously, when it can — a repeated request then costs no promise and no await
 * between the last body byte and the response; otherwise `answer` does the work.
 */
export interface FastRoute {
  /** The most body bytes accepted; a larger body is `tooLarge()`'s error (HTTP 413). */
  limit: number;
  tooLarge: () => Error;
  known?: (body: Buffer) => FastReply | undefined;
  answer: (body: Buffer) => Promise<FastReply>;
}

/** One finished request, as the access log records it (both paths report the same fields). */
export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  seconds: number;
  requestId: string | undefined;
}

/** Called once per finished request (access log, metrics). */
export type RequestObserver = (r: RequestRecord) => void;

/** Per-app registry of fast routes and what their responses must carry. */
export class FastPaths {
  /** Method → URL → route. */
  readonly #routes = new Map<string, Map<string, FastRoute>>();
  readonly #plans = new WeakMap<Record<string, string>, [Plan | undefined, Plan | undefined]>();
  readonly #observers: RequestObserver[] = [];
  readonly #server: string;
  /** Exchanges answered during this turn of the event loop, written together at its end. */
  #ready: Exchange[] = [];

  constructor(
    serverVersion: string,
    readonly allowOrigin: AllowOrigin,
    readonly log: ((e: unknown) => void) | undefined,
  ) {
    this.#server = serverHeader(serverVersion);
  }

  /** Answers `method url` (exact URL, no query) with `route` instead of Hono. */
  add(method: string, url: string, route: FastRoute): void {
    let byUrl = this.#routes.get(method);
    if (byUrl === undefined) this.#routes.set(method, (byUrl = new Map<string, FastRoute>()));
    byUrl.set(url, route);
  }

  /** Adds an observer of finished fast-path requests. */
  observe(o: RequestObserver): void {
    this.#observers.push(o);
  }

  /** The route for this request, if a fast route takes it. */
  match(incoming: IncomingMessage): FastRoute | undefined {
    return this.#routes.get(incoming.method ?? "")?.get(incoming.url ?? "");
  }

  /** Reads the body, answers through `route` (or with the error response) with every cross-cutting header. */
  serve(route: FastRoute, incoming: IncomingMessage, outgoing: ServerResponse): void {
    new Exchange(this, route, incoming, outgoing).start();
  }

  /**
   * Queues a finished exchange; every exchange answered in this turn of the event loop is
   * recorded and written at its end (`setImmediate` runs after the poll phase has handed out
   * every readable socket). Written together, a turn's responses reach the clients together:
   * a client waiting on many connections is woken once for them instead of once per response,
   * and the server runs its parse and write code in runs rather than interleaved. Measured on
   * a bare `node:http` server, the same change takes 20 % off the CPU per request (user and
   * system) at 64 connections; the delay it adds is the rest of the turn, microseconds.
   */
  finish(reply: FastReply, ex: Exchange): void {
    ex.reply = reply;
    if (this.#ready.length === 0) setImmediate(this.#writeReady);
    this.#ready.push(ex);
  }

  readonly #writeReady = (): void => {
    const ready = this.#ready;
    this.#ready = [];
    for (const ex of ready) {
      try {
        this.#record(ex);
        this.#write(ex.reply!, ex.id, ex.incoming, ex.outgoing);
      } catch {
        // What is left is a socket that failed under us (observers do not throw).
        ex.outgoing.destroy();
      }
    }
  };

  #record(ex: Exchange): void {
    const seconds = (performance.now() - ex.started) / 1000;
    for (const o of this.#observers)
      o({
        method: ex.incoming.method ?? "",
        path: ex.incoming.url ?? "",
        status: ex.reply!.status,
        seconds,
        requestId: ex.id,
      });
  }

  /** The error response for `e`, then `finish`. */
  fail(e: unknown, ex: Exchange): void {
    void replyOf(errorResponse(e, this.log)).then((r) => this.finish(r, ex));
  }

  /**
   * Writes the reply as the Hono path would: the handler's headers plus `Vary`, CORS, `Server`
   * and `X-Request-ID`, in the sorted order a `Headers` object iterates them, then Content-Length.
   */
  #write(reply: FastReply, id: string, incoming: IncomingMessage, outgoing: ServerResponse): void {
    const origin = this.allowOrigin(rawHeader(incoming.rawHeaders, "origin"));
    const plan = this.#plan(reply.headers, origin !== undefined);
    const raw: (string | number)[] = [];
    for (let i = 0; i < plan.length; i += 2) {
      const v = plan[i + 1]!;
      raw.push(plan[i] as string, v === ID ? id : v === ORIGIN ? origin! : (v as string));
    }
    raw.push("Content-Length", Buffer.byteLength(reply.body));
    outgoing.writeHead(reply.status, raw);
    outgoing.end(reply.body);
    // A body left unread (refused as too large) is drained, as @hono/node-server drains it.
    if (!incoming.readableEnded) drain(incoming);
  }

  /**
   * The header lines for a handler's header set, with or without CORS: names in order, each
   * followed by its value or a slot filled per request. Handlers answer with a few constant
   * header objects, so the merge and sort run once per object, not per request.
   */
  #plan(headers: Record<string, string>, cors: boolean): Plan {
    let pair = this.#plans.get(headers);
    if (pair === undefined) {
      pair = [undefined, undefined];
      this.#plans.set(headers, pair);
    }
    const cached = pair[cors ? 1 : 0];
    if (cached !== undefined) return cached;
    const all: Record<string, string | symbol> = { ...headers };
    all.vary = headers.vary === undefined ? "Origin" : `${headers.vary}, Origin`;
    if (cors) {
      all["access-control-allow-origin"] = ORIGIN;
      all["access-control-expose-headers"] = EXPOSED_HEADERS;
    }
    all.server = this.#server;
    all["x-request-id"] = ID;
    const plan: Plan = [];
    for (const k of Object.keys(all).sort()) plan.push(k, all[k]!);
    pair[cors ? 1 : 0] = plan;
    return plan;
  }
}

/**
 * One request on a fast route: collects the body (as @hono/node-server's path would refuse it:
 * declared or actual size over the limit is a 413, a connection closed early is an error), then
 * answers from memory or through the route's promise.
 */
class Exchange {
  readonly started = performance.now();
  readonly id: string;
  /** Set once answered (see `FastPaths.finish`). */
  reply: FastReply | undefined;

  constructor(
    readonly paths: FastPaths,
    readonly route: FastRoute,
    readonly incoming: IncomingMessage,
    readonly outgoing: ServerResponse,
  ) {
    // Node joins repeated headers with ", " as `Headers.get` does, so both paths see one string.
    const given = rawHeader(incoming.rawHeaders, "x-request-id");
    this.id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
  }

  start(): void {
    const { incoming, route } = this;
    const declared = Number(rawHeader(incoming.rawHeaders, "content-length") ?? "NaN");
    if (Number.isFinite(declared) && declared > route.limit) return this.#fail(route.tooLarge());
    collectIncoming(
      incoming,
      route.limit,
      route.tooLarge,
      (body) => this.#answer(body),
      (e) => this.#fail(e),
    );
  }

  #answer(body: Buffer): void {
    let reply: FastReply | undefined;
    try {
      reply = this.route.known?.(body);
    } catch (e) {
      this.paths.fail(e, this);
      return;
    }
    if (reply !== undefined) {
      this.paths.finish(reply, this);
      return;
    }
    this.route.answer(body).then(
      (r) => this.paths.finish(r, this),
      (e: unknown) => this.paths.fail(e, this),
    );
  }

  #fail(e: unknown): void {
    this.paths.fail(e, this);
  }
}

/**
 * A request header from Node's raw list, repeated values joined with ", " as `incoming.headers`
 * joins them (origin, x-request-id; a repeated content-length never gets past Node's parser).
 * Reading the raw list leaves Node's lazily built `headers` object unbuilt: the fast path
 * needs three headers, the object costs every one.
 */
export function rawHeader(raw: readonly string[], lowerName: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== lowerName.length || name.toLowerCase() !== lowerName) continue;
    value = value === undefined ? raw[i + 1]! : `${value}, ${raw[i + 1]!}`;
  }
  return value;
}

/** Header names and values alternating; a value may be a per-request slot. */
type Plan = (string | symbol)[];
const ID = Symbol("request ID");
const ORIGIN = Symbol("allowed origin");

/** A Web error response as a fast reply (errors are rare: no need to be quick here). */
async function replyOf(res: Response): Promise<FastReply> {
  const headers: Record<string, string> = {};
  for (const [k, v] of res.headers) headers[k] = v;
  return { status: res.status, headers, body: await res.text() };
}

const DRAIN_MS = 500;
const DRAIN_BYTES = 64 << 20;

/** Reads and drops the rest of a request body; a client that keeps sending is disconnected. */
function drain(incoming: IncomingMessage): void {
  let n = 0;
  const stop = () => {
    clearTimeout(timer);
    incoming.off("data", onData);
    incoming.off("end", stop);
    incoming.off("error", stop);
  };
  const cut = () => {
    stop();
    incoming.socket?.destroySoon?.();
  };
  const onData = (c: Buffer) => {
    n += c.length;
    if (n > DRAIN_BYTES) cut();
  };
  const timer = setTimeout(cut, DRAIN_MS);
  timer.unref();
  incoming.on("data", onData);
  incoming.on("end", stop);
  incoming.on("error", stop);
  incoming.resume();
}
