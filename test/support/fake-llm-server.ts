/**
 * A protocol-level fake of the model servers this service talks to, for tests: a real HTTP
 * server (node:http, 127.0.0.1, random port) speaking the wire shapes of
 *
 * - OpenAI-compatible APIs: `POST /v1/embeddings`, `POST /v1/chat/completions` (plain, and
 *   SSE streaming with `stream_options.include_usage` and `data: [DONE]`), `GET /v1/models`;
 * - Ollama: `POST /api/embed`, `POST /api/chat` (plain, and NDJSON streaming, which is Ollama's
 *   default when `stream` is absent), `GET /api/tags`;
 * - Cohere/Jina/vLLM-style rerank: `POST /rerank` (also `/v1/rerank`, `/v2/rerank`).
 *
 * Answers are deterministic: embeddings are hashed bag-of-words vectors (`fakeEmbedding`, so
 * texts that share words are similar), chat answers come from a responder (default: echoes the
 * last user message; a test sets its own with `onChat`, e.g. to return Self-RAG grades as JSON),
 * rerank scores are the share of query words found in each document. Token usage counts words.
 *
 * Fault injection per route (`fail(route, fault, times)`): slow first byte, any status with
 * `Retry-After`, connection reset, malformed JSON, wrong shape, truncated or slow stream.
 * `{ kind: 'status', status: 200, body }` answers one request with any canned body (e.g. an
 * OpenAI answer with permuted indexes). Every request is recorded (`requests`) with headers
 * and body, to assert what was sent and that no secret leaked; `closedEarly` tells whether
 * the client hung up before the answer ended.
 *
 * ```ts
 * const server = await startFakeLlmServer({ apiKey: 'sk-test-123456' });
 * server.onChat((call) => (call.json ? '{"relevant": true}' : `answer to ${call.lastUserMessage}`));
 * server.fail('/v1/chat/completions', { kind: 'status', status: 429, retryAfter: 1 });
 * // … point an adapter at server.url …
 * await server.close();
 * ```
 */
import { createHash } from 'node:crypto';
import { createServer, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';

export type FakeRoute = '/v1/embeddings' | '/v1/chat/completions' | '/v1/models' | '/api/embed' | '/api/chat' | '/api/tags' | '/rerank';

export type Fault =
  /** hold the response back this long (slow first byte), then answer normally */
  | { kind: 'delay'; ms: number }
  /** answer with this status; `body` defaults to the protocol's error shape */
  | { kind: 'status'; status: number; retryAfter?: number | string; body?: unknown }
  /** destroy the socket without answering (ECONNRESET / "other side closed") */
  | { kind: 'reset' }
  /** 200 with a body that is not JSON (for a stream: one data line that is not JSON) */
  | { kind: 'malformed-json' }
  /** 200 with valid JSON of the wrong shape */
  | { kind: 'wrong-shape' }
  /** send half of the answer, then destroy the socket (streams: no `[DONE]` / `done: true`) */
  | { kind: 'truncated-stream' }
  /** stream the answer with this pause between chunks */
  | { kind: 'slow-stream'; chunkDelayMs: number };

export interface RecordedRequest {
  method: string;
  /** path without query */
  path: string;
  route?: FakeRoute;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** parsed JSON body, undefined when empty or not JSON */
  body: any;
  /** the fault this request got, if any */
  fault?: Fault;
  /** true when the client closed the connection before the answer was complete */
  closedEarly: boolean;
  /** Date.now() when the request (body included) arrived */
  receivedAt: number;
}

export interface ChatCall {
  protocol: 'openai' | 'ollama';
  model: string;
  messages: Array<{ role: string; content: string }>;
  lastUserMessage: string;
  json: boolean;
  stream: boolean;
  temperature?: number;
  maxTokens?: number;
  body: any;
}

export type ChatReply = string | { text: string; finishReason?: string };
export type ChatResponder = (call: ChatCall) => ChatReply | Promise<ChatReply>;

export interface FakeLlmServerOptions {
  /** when set, OpenAI and rerank routes answer 401 unless `Authorization: Bearer <apiKey>` */
  apiKey?: string;
  /** embedding length; a function may pick it per model. Default 32 */
  embeddingDimension?: number | ((model: string) => number);
  /** pause between streamed chunks, ms (default 0) */
  streamChunkDelayMs?: number;
  /** models listed by `/v1/models` and `/api/tags` */
  models?: string[];
}

export interface FakeLlmServer {
  /** `http://127.0.0.1:<port>`, no trailing slash and no path */
  readonly url: string;
  /** every request so far, oldest first */
  readonly requests: RecordedRequest[];
  requestsTo(route: FakeRoute): RecordedRequest[];
  /** answer chat calls with `responder` from now on; `undefined` restores the echo default */
  onChat(responder: ChatResponder | undefined): void;
  /** the next `times` requests to `route` get `fault` (Infinity: until `clearFaults`) */
  fail(route: FakeRoute, fault: Fault, times?: number): void;
  clearFaults(): void;
  /** forget requests, faults and the chat responder */
  reset(): void;
  close(): Promise<void>;
}

const ROUTES: Record<string, FakeRoute> = {
  'POST /v1/embeddings': '/v1/embeddings',
  'POST /v1/chat/completions': '/v1/chat/completions',
  'GET /v1/models': '/v1/models',
  'POST /api/embed': '/api/embed',
  'POST /api/chat': '/api/chat',
  'GET /api/tags': '/api/tags',
  'POST /rerank': '/rerank',
  'POST /v1/rerank': '/rerank',
  'POST /v2/rerank': '/rerank',
};

const defaultResponder: ChatResponder = (call) =>
  call.json ? JSON.stringify({ answer: `Echo: ${call.lastUserMessage}` }) : `Echo: ${call.lastUserMessage}`;

/** Words (Latin runs of letters/digits, single CJK characters), lowercased. */
export function fakeTokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]|[\p{L}\p{N}]+/gu) ?? [];
}

/** The fake server's embedding of `text`: hashed word counts with random signs, L2-normalized. */
export function fakeEmbedding(text: string, dimension: number): number[] {
  const vector = new Array<number>(dimension).fill(0);
  for (const token of fakeTokens(text)) {
    const hash = createHash('sha1').update(token).digest();
    const slot = hash.readUInt32BE(0) % dimension;
    vector[slot] += hash[4] & 1 ? 1 : -1;
  }
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector.map((_, i) => (i === 0 ? 1 : 0)) : vector.map((v) => v / norm);
}

export async function startFakeLlmServer(options: FakeLlmServerOptions = {}): Promise<FakeLlmServer> {
  const requests: RecordedRequest[] = [];
  const faults = new Map<FakeRoute, Array<{ fault: Fault; left: number }>>();
  const sockets = new Set<Socket>();
  let responder = defaultResponder;
  const models = options.models ?? ['fake-chat', 'fake-embed'];
  const dimensionOf = (model: string) =>
    typeof options.embeddingDimension === 'function' ? options.embeddingDimension(model) : (options.embeddingDimension ?? 32);

  const takeFault = (route: FakeRoute): Fault | undefined => {
    const queue = faults.get(route);
    const head = queue?.[0];
    if (!head) return undefined;
    if (--head.left <= 0) queue.shift();
    return head.fault;
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent && !res.destroyed) sendJson(res, 500, { error: { message: String(error), type: 'server_error' } });
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on('error', () => undefined);
    const rawBody = await readBody(req);
    const path = (req.url ?? '/').split('?')[0];
    const route = ROUTES[`${req.method} ${path}`];
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      route,
      headers: req.headers,
      rawBody,
      body: parseJson(rawBody),
      closedEarly: false,
      receivedAt: Date.now(),
    };
    requests.push(record);
    res.on('close', () => {
      if (!res.writableFinished) record.closedEarly = true;
    });
    if (!route) return sendJson(res, 404, { error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error' } });
    const ollama = route.startsWith('/api/');
    if (options.apiKey && !ollama && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendJson(res, 401, {
        error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' },
      });
    }
    const fault = takeFault(route);
    record.fault = fault;
    const streaming =
      route === '/v1/chat/completions' ? record.body?.stream === true : route === '/api/chat' && record.body?.stream !== false;
    const send = (answer: unknown) => (fault?.kind === 'truncated-stream' ? sendHalf(res, answer) : sendJson(res, 200, answer));
    let chunkDelayMs = options.streamChunkDelayMs ?? 0;
    switch (fault?.kind) {
      case 'delay':
        await delay(fault.ms);
        if (res.destroyed) return;
        break;
      case 'status': {
        const headers: Record<string, string> = fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) };
        const message = `injected fault: status ${fault.status}`;
        return sendJson(
          res,
          fault.status,
          fault.body ?? (ollama ? { error: message } : { error: { message, type: 'server_error' } }),
          headers,
        );
      }
      case 'reset':
        req.socket.destroy();
        return;
      case 'malformed-json':
        if (!streaming) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"object": "list", "data": [{"embedding": [0.1, ');
          return;
        }
        break;
      case 'wrong-shape':
        return sendJson(res, 200, { object: 'surprise', items: [{ value: 'not what the API promises' }] });
      case 'slow-stream':
        chunkDelayMs = fault.chunkDelayMs;
        break;
    }
    const body = record.body ?? {};
    switch (route) {
      case '/v1/embeddings': {
        const inputs: string[] = typeof body.input === 'string' ? [body.input] : body.input;
        const dimension = typeof body.dimensions === 'number' ? body.dimensions : dimensionOf(body.model);
        const tokens = inputs.reduce((sum, text) => sum + fakeTokens(text).length, 0);
        return send({
          object: 'list',
          data: inputs.map((text, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(text, dimension) })),
          model: body.model,
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        });
      }
      case '/api/embed': {
        const inputs: string[] = typeof body.input === 'string' ? [body.input] : body.input;
        return send({
          model: body.model,
          embeddings: inputs.map((text) => fakeEmbedding(text, dimensionOf(body.model))),
          total_duration: 1_000_000,
          load_duration: 1_000,
          prompt_eval_count: inputs.reduce((sum, text) => sum + fakeTokens(text).length, 0),
        });
      }
      case '/v1/models':
        return send({ object: 'list', data: models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'fake' })) });
      case '/api/tags':
        return send({ models: models.map((name) => ({ name, model: name, size: 1, digest: 'fake' })) });
      case '/rerank':
        return send(rerank(body));
      case '/v1/chat/completions':
      case '/api/chat':
        return chat(route === '/api/chat' ? 'ollama' : 'openai', body, res, fault, chunkDelayMs, send);
    }
  }

  async function chat(
    protocol: 'openai' | 'ollama',
    body: any,
    res: ServerResponse,
    fault: Fault | undefined,
    chunkDelayMs: number,
    send: (answer: unknown) => void,
  ): Promise<void> {
    const messages: ChatCall['messages'] = Array.isArray(body.messages) ? body.messages : [];
    const maxTokens = protocol === 'openai' ? (body.max_completion_tokens ?? body.max_tokens) : body.options?.num_predict;
    const call: ChatCall = {
      protocol,
      model: body.model,
      messages,
      lastUserMessage: [...messages].reverse().find((m) => m.role === 'user')?.content ?? '',
      json: protocol === 'openai' ? body.response_format?.type === 'json_object' : body.format === 'json',
      stream: protocol === 'openai' ? body.stream === true : body.stream !== false,
      temperature: protocol === 'openai' ? body.temperature : body.options?.temperature,
      maxTokens,
      body,
    };
    const reply = await responder(call);
    let text = typeof reply === 'string' ? reply : reply.text;
    let finishReason = (typeof reply === 'string' ? undefined : reply.finishReason) ?? 'stop';
    const pieces = text.split(/(?<=\s)(?=\S)/).filter((p) => p !== '');
    if (typeof maxTokens === 'number' && pieces.length > maxTokens) {
      pieces.length = maxTokens;
      text = pieces.join('');
      finishReason = 'length';
    }
    const promptTokens = messages.reduce((sum, m) => sum + fakeTokens(m.content ?? '').length, 0);
    const completionTokens = fakeTokens(text).length;
    const created = Math.floor(Date.now() / 1000);
    const id = `chatcmpl-fake-${requests.length}`;

    if (!call.stream) {
      if (protocol === 'openai') {
        return send({
          id,
          object: 'chat.completion',
          created,
          model: call.model,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finishReason, logprobs: null }],
          usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
        });
      }
      return send({
        model: call.model,
        created_at: new Date().toISOString(),
        message: { role: 'assistant', content: text },
        done: true,
        done_reason: finishReason,
        total_duration: 1_000_000,
        prompt_eval_count: promptTokens,
        eval_count: completionTokens,
      });
    }

    const lines: string[] = [];
    if (protocol === 'openai') {
      const includeUsage = body.stream_options?.include_usage === true;
      const chunk = (choices: unknown[], usage?: unknown) =>
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: call.model, choices, ...(includeUsage ? { usage: usage ?? null } : {}) })}\n\n`;
      lines.push(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
      for (const piece of pieces) lines.push(chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]));
      lines.push(chunk([{ index: 0, delta: {}, finish_reason: finishReason }]));
      if (includeUsage)
        lines.push(
          chunk([], { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens }),
        );
      lines.push('data: [DONE]\n\n');
    } else {
      const at = () => new Date().toISOString();
      for (const piece of pieces)
        lines.push(
          `${JSON.stringify({ model: call.model, created_at: at(), message: { role: 'assistant', content: piece }, done: false })}\n`,
        );
      lines.push(
        `${JSON.stringify({ model: call.model, created_at: at(), message: { role: 'assistant', content: '' }, done: true, done_reason: finishReason, total_duration: 1_000_000, prompt_eval_count: promptTokens, eval_count: completionTokens })}\n`,
      );
    }
    if (fault?.kind === 'malformed-json')
      lines.splice(1, 0, protocol === 'openai' ? 'data: {"choices": [{"delta": \n\n' : '{"message": {"content": \n');

    res.writeHead(
      200,
      protocol === 'openai'
        ? { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }
        : { 'content-type': 'application/x-ndjson' },
    );
    res.flushHeaders();
    const cut = fault?.kind === 'truncated-stream' ? Math.max(1, Math.floor(lines.length / 2)) : lines.length;
    for (let i = 0; i < cut; i++) {
      if (res.destroyed) return;
      if (i > 0 && chunkDelayMs > 0) await delay(chunkDelayMs);
      if (res.destroyed) return;
      res.write(lines[i]);
    }
    if (cut < lines.length) {
      await delay(5);
      res.socket?.destroy();
      return;
    }
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    requestsTo: (route) => requests.filter((r) => r.route === route),
    onChat: (next) => {
      responder = next ?? defaultResponder;
    },
    fail: (route, fault, times = 1) => {
      const queue = faults.get(route) ?? [];
      queue.push({ fault, left: times });
      faults.set(route, queue);
    },
    clearFaults: () => faults.clear(),
    reset: () => {
      requests.length = 0;
      faults.clear();
      responder = defaultResponder;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function rerank(body: any): unknown {
  const documents: unknown[] = Array.isArray(body.documents) ? body.documents : [];
  const texts = documents.map((d) => (typeof d === 'string' ? d : String((d as { text?: string } | null)?.text ?? '')));
  const queryWords = new Set(fakeTokens(String(body.query ?? '')));
  const scored = texts.map((text, index) => {
    const words = new Set(fakeTokens(text));
    const hits = [...queryWords].filter((w) => words.has(w)).length;
    return { index, relevance_score: queryWords.size === 0 ? 0 : hits / queryWords.size };
  });
  scored.sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index);
  const topN = typeof body.top_n === 'number' ? body.top_n : scored.length;
  return {
    id: 'rerank-fake',
    model: body.model,
    results: scored.slice(0, topN),
    usage: { total_tokens: texts.reduce((sum, t) => sum + fakeTokens(t).length, 0) },
    meta: { billed_units: { search_units: 1 } },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Promise the whole body (content-length), send half of it, then drop the connection. */
function sendHalf(res: ServerResponse, body: unknown): void {
  const text = Buffer.from(JSON.stringify(body));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(text.length) });
  res.write(text.subarray(0, Math.floor(text.length / 2)));
  setTimeout(() => res.socket?.destroy(), 5);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text: string): any {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
