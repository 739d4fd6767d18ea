/**
 * A protocol-level stand-in for the Qdrant REST API (v1.x), for tests where no Qdrant can run. It
 * serves exactly what the QdrantVectorStore adapter calls, with the real server's JSON envelopes
 * (`{result, status, time}`, errors as `{status: {error}}`), status codes and validation: an
 * unknown collection is a 404, a vector of the wrong dimension a 400, a malformed body a 400.
 * Cosine collections store normalized vectors and score by dot product, as Qdrant does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface StoredPoint {
  id: string | number;
  vector: number[];
  payload: JsonObject;
  version: number;
}

interface Collection {
  size: number;
  distance: 'Cosine' | 'Dot' | 'Euclid' | 'Manhattan';
  points: Map<string, StoredPoint>;
  payloadSchema: Map<string, JsonObject>;
  version: number;
}

class QdrantHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const DISTANCES = ['Cosine', 'Dot', 'Euclid', 'Manhattan'];
const INDEX_TYPES = ['keyword', 'integer', 'float', 'geo', 'text', 'bool', 'datetime', 'uuid'];
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export interface FakeQdrantServer {
  url: string;
  /** every request seen, as `METHOD /path?query`, for assertions on how the adapter talks */
  requests: string[];
  /** the stored collections, for assertions (payload indexes, raw payloads) */
  collections: Map<string, Collection>;
  close(): Promise<void>;
}

export async function startFakeQdrantServer(options: { apiKey?: string } = {}): Promise<FakeQdrantServer> {
  const collections = new Map<string, Collection>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    requests.push(`${req.method} ${req.url}`);
    readBody(req)
      .then((body) => {
        if (options.apiKey !== undefined && req.headers['api-key'] !== options.apiKey) {
          res.writeHead(401, { 'content-type': 'text/plain' }).end('Invalid api-key');
          return;
        }
        const result = route(collections, req.method ?? 'GET', new URL(req.url ?? '/', 'http://qdrant'), body, res);
        if (result !== undefined) send(res, 200, { result, status: 'ok', time: seconds(started) });
      })
      .catch((error: unknown) => {
        const status = error instanceof QdrantHttpError ? error.status : 500;
        const message = error instanceof Error ? error.message : String(error);
        send(res, status, { status: { error: message }, time: seconds(started) });
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    collections,
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** answers a request; returns the `result` to wrap in Qdrant's envelope, or undefined when it answered itself */
function route(
  collections: Map<string, Collection>,
  method: string,
  url: URL,
  body: Json | undefined,
  res: ServerResponse,
): Json | undefined {
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (method === 'GET' && path === '/') {
    send(res, 200, { title: 'qdrant - vector search engine', version: '1.15.0', commit: 'fake' });
    return undefined;
  }
  if (method === 'GET' && (path === '/healthz' || path === '/livez' || path === '/readyz')) {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(`${path.slice(1)} check passed`);
    return undefined;
  }
  if (method === 'GET' && path === '/collections') {
    return { collections: [...collections.keys()].map((name) => ({ name })) };
  }
  const match = /^\/collections\/([^/]+)(\/.*)?$/.exec(path);
  if (!match) throw new QdrantHttpError(404, `Not found: ${path}`);
  const name = decodeURIComponent(match[1]);
  const rest = match[2] ?? '';

  if (rest === '/exists' && method === 'GET') return { exists: collections.has(name) };
  if (rest === '' && method === 'PUT') return createCollection(collections, name, object(body));
  if (rest === '' && method === 'DELETE') return collections.delete(name);

  const collection = collections.get(name);
  if (!collection) throw new QdrantHttpError(404, `Not found: Collection \`${name}\` doesn't exist!`);
  const wait = url.searchParams.get('wait') === 'true';
  const done = (): Json => ({ operation_id: collection.version++, status: wait ? 'completed' : 'acknowledged' });

  if (rest === '' && method === 'GET') return collectionInfo(collection);
  if (rest === '/index' && method === 'PUT') {
    createPayloadIndex(collection, object(body));
    return done();
  }
  if (rest === '/points' && method === 'PUT') {
    upsertPoints(collection, object(body));
    return done();
  }
  if (rest === '/points/delete' && method === 'POST') {
    deletePoints(collection, object(body));
    return done();
  }
  if (rest === '/points/count' && method === 'POST') {
    const request = object(body ?? {});
    const filter = request.filter === undefined || request.filter === null ? undefined : object(request.filter, 'filter');
    let count = 0;
    for (const point of collection.points.values()) if (matchesFilter(point, filter)) count++;
    return { count };
  }
  if (rest === '/points/query' && method === 'POST') {
    const request = object(body);
    return { points: searchPoints(collection, request, request.query, 'query') };
  }
  if (rest === '/points/search' && method === 'POST') {
    const request = object(body);
    return searchPoints(collection, request, request.vector, 'vector');
  }
  throw new QdrantHttpError(404, `Not found: ${method} ${path}`);
}

function createCollection(collections: Map<string, Collection>, name: string, body: JsonObject): Json {
  if (!/^[A-Za-z0-9_.-]{1,255}$/.test(name)) {
    throw new QdrantHttpError(422, `Validation error in path parameters: [name: collection name contains forbidden characters]`);
  }
  const vectors = object(body.vectors, 'vectors');
  const size = vectors.size;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) {
    throw new QdrantHttpError(400, 'Json deserialize error: vectors.size: invalid value, expected a positive integer');
  }
  if (typeof vectors.distance !== 'string' || !DISTANCES.includes(vectors.distance)) {
    throw new QdrantHttpError(
      400,
      `Json deserialize error: vectors.distance: unknown variant \`${typeof vectors.distance === 'string' ? vectors.distance : JSON.stringify(vectors.distance)}\`, expected one of \`Cosine\`, \`Euclid\`, \`Dot\`, \`Manhattan\``,
    );
  }
  if (collections.has(name)) throw new QdrantHttpError(409, `Wrong input: Collection \`${name}\` already exists!`);
  collections.set(name, {
    size,
    distance: vectors.distance as Collection['distance'],
    points: new Map(),
    payloadSchema: new Map(),
    version: 0,
  });
  return true;
}

function collectionInfo(collection: Collection): Json {
  const payloadSchema: JsonObject = {};
  for (const [field, params] of collection.payloadSchema) {
    let points = 0;
    for (const point of collection.points.values()) if (valuesAt(point.payload, field).length > 0) points++;
    payloadSchema[field] = { data_type: params.type, params, points };
  }
  return {
    status: 'green',
    optimizer_status: 'ok',
    indexed_vectors_count: 0,
    points_count: collection.points.size,
    segments_count: 1,
    config: {
      params: {
        vectors: { size: collection.size, distance: collection.distance },
        shard_number: 1,
        replication_factor: 1,
        write_consistency_factor: 1,
        on_disk_payload: true,
      },
      hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false },
      optimizer_config: {
        deleted_threshold: 0.2,
        vacuum_min_vector_number: 1000,
        default_segment_number: 0,
        max_segment_size: null,
        memmap_threshold: null,
        indexing_threshold: 10000,
        flush_interval_sec: 5,
        max_optimization_threads: null,
      },
      wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
      quantization_config: null,
    },
    payload_schema: payloadSchema,
  };
}

function createPayloadIndex(collection: Collection, body: JsonObject): void {
  if (typeof body.field_name !== 'string' || body.field_name === '') {
    throw new QdrantHttpError(400, 'Json deserialize error: missing field `field_name`');
  }
  const schema = body.field_schema;
  const params: JsonObject =
    typeof schema === 'string' ? { type: schema } : schema && typeof schema === 'object' && !Array.isArray(schema) ? schema : {};
  if (typeof params.type !== 'string' || !INDEX_TYPES.includes(params.type)) {
    throw new QdrantHttpError(400, `Json deserialize error: field_schema: unknown variant \`${JSON.stringify(schema)}\``);
  }
  if (params.is_tenant !== undefined && params.type !== 'keyword' && params.type !== 'uuid') {
    throw new QdrantHttpError(400, 'Json deserialize error: field_schema: unknown field `is_tenant`');
  }
  collection.payloadSchema.set(body.field_name, params);
}

function upsertPoints(collection: Collection, body: JsonObject): void {
  let incoming: { id: Json; vector: Json; payload: Json }[];
  if (Array.isArray(body.points)) {
    incoming = body.points.map((point) => {
      const p = object(point, 'points[]');
      return { id: p.id, vector: p.vector, payload: p.payload ?? {} };
    });
  } else if (body.batch && typeof body.batch === 'object' && !Array.isArray(body.batch)) {
    const { ids, vectors, payloads } = body.batch;
    if (!Array.isArray(ids) || !Array.isArray(vectors) || ids.length !== vectors.length) {
      throw new QdrantHttpError(400, 'Wrong input: batch ids and vectors must have the same length');
    }
    incoming = ids.map((id, i) => ({ id, vector: vectors[i], payload: Array.isArray(payloads) ? payloads[i] : {} }));
  } else {
    throw new QdrantHttpError(400, 'Json deserialize error: data did not match any variant of untagged enum PointInsertOperations');
  }
  // validate the whole request before changing anything, as Qdrant does
  const parsed = incoming.map(({ id, vector, payload }) => {
    const pointId = parsePointId(id);
    if (!Array.isArray(vector) || !vector.every((v) => typeof v === 'number')) {
      throw new QdrantHttpError(400, 'Json deserialize error: data did not match any variant of untagged enum VectorStruct');
    }
    if (vector.length !== collection.size) {
      throw new QdrantHttpError(400, `Wrong input: Vector dimension error: expected dim: ${collection.size}, got ${vector.length}`);
    }
    return { pointId, vector, payload: object(payload ?? {}, 'payload') };
  });
  for (const { pointId, vector, payload } of parsed) {
    collection.points.set(String(pointId), {
      id: pointId,
      vector: collection.distance === 'Cosine' ? normalize(vector) : vector,
      payload,
      version: collection.version,
    });
  }
}

function deletePoints(collection: Collection, body: JsonObject): void {
  if (Array.isArray(body.points)) {
    for (const id of body.points) collection.points.delete(String(parsePointId(id)));
    return;
  }
  if (body.filter === undefined) {
    throw new QdrantHttpError(400, 'Json deserialize error: data did not match any variant of untagged enum PointsSelector');
  }
  const filter = object(body.filter, 'filter');
  for (const [key, point] of collection.points) if (matchesFilter(point, filter)) collection.points.delete(key);
}

function searchPoints(collection: Collection, request: JsonObject, vector: Json | undefined, field: string): Json[] {
  if (!Array.isArray(vector) || !vector.every((v) => typeof v === 'number')) {
    throw new QdrantHttpError(400, `Json deserialize error: ${field}: data did not match any variant`);
  }
  if (vector.length !== collection.size) {
    throw new QdrantHttpError(400, `Wrong input: Vector dimension error: expected dim: ${collection.size}, got ${vector.length}`);
  }
  const limit = request.limit ?? 10;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw new QdrantHttpError(422, 'Validation error in JSON body: [limit: value 0 invalid, must be 1 or larger]');
  }
  const offset = typeof request.offset === 'number' ? request.offset : 0;
  const filter = request.filter === undefined || request.filter === null ? undefined : object(request.filter, 'filter');
  const query = collection.distance === 'Cosine' ? normalize(vector) : vector;
  const threshold = typeof request.score_threshold === 'number' ? request.score_threshold : undefined;
  const scored: { point: StoredPoint; score: number }[] = [];
  for (const point of collection.points.values()) {
    if (!matchesFilter(point, filter)) continue;
    const score = similarity(collection.distance, query, point.vector);
    if (threshold === undefined || score >= threshold) scored.push({ point, score });
  }
  const ascending = collection.distance === 'Euclid' || collection.distance === 'Manhattan';
  scored.sort((a, b) => (ascending ? a.score - b.score : b.score - a.score));
  return scored.slice(offset, offset + limit).map(({ point, score }) => {
    const result: JsonObject = { id: point.id, version: point.version, score };
    const payload = selectPayload(point.payload, request.with_payload ?? false);
    if (payload !== undefined) result.payload = payload;
    if (request.with_vector === true) result.vector = point.vector;
    return result;
  });
}

function selectPayload(payload: JsonObject, selector: Json): JsonObject | undefined {
  if (selector === true) return payload;
  if (Array.isArray(selector)) {
    return Object.fromEntries(selector.filter((k): k is string => typeof k === 'string' && k in payload).map((k) => [k, payload[k]]));
  }
  if (selector && typeof selector === 'object' && Array.isArray(selector.include)) return selectPayload(payload, selector.include);
  return undefined;
}

// --- filters ---------------------------------------------------------------------------------

function matchesFilter(point: StoredPoint, filter: JsonObject | undefined): boolean {
  if (!filter) return true;
  const list = (clause: Json | undefined): Json[] =>
    clause === undefined || clause === null ? [] : Array.isArray(clause) ? clause : [clause];
  const must = list(filter.must);
  const should = list(filter.should);
  const mustNot = list(filter.must_not);
  for (const key of Object.keys(filter)) {
    if (!['must', 'should', 'must_not', 'min_should'].includes(key)) {
      throw new QdrantHttpError(
        400,
        `Json deserialize error: unknown field \`${key}\`, expected one of \`should\`, \`min_should\`, \`must\`, \`must_not\``,
      );
    }
  }
  if (!must.every((c) => matchesCondition(point, c))) return false;
  if (should.length > 0 && !should.some((c) => matchesCondition(point, c))) return false;
  return !mustNot.some((c) => matchesCondition(point, c));
}

function matchesCondition(point: StoredPoint, condition: Json): boolean {
  const c = object(condition, 'condition');
  if ('must' in c || 'should' in c || 'must_not' in c) return matchesFilter(point, c);
  if (Array.isArray(c.has_id)) return c.has_id.some((id) => String(parsePointId(id)) === String(point.id));
  if (typeof c.key !== 'string')
    throw new QdrantHttpError(400, 'Json deserialize error: data did not match any variant of untagged enum Condition');
  const values = valuesAt(point.payload, c.key);
  if (c.match !== undefined) {
    const m = object(c.match, 'match');
    if ('value' in m) {
      if (m.value === null || typeof m.value === 'object')
        throw new QdrantHttpError(400, 'Json deserialize error: match.value must be a string, integer or boolean');
      return values.some((v) => v === m.value);
    }
    if ('any' in m) {
      if (!Array.isArray(m.any) || !m.any.every((v) => typeof v === 'string' || Number.isInteger(v))) {
        throw new QdrantHttpError(400, 'Json deserialize error: match.any must be a list of strings or a list of integers');
      }
      return values.some((v) => (m.any as Json[]).includes(v));
    }
    if ('except' in m && Array.isArray(m.except)) return !values.some((v) => (m.except as Json[]).includes(v));
    throw new QdrantHttpError(400, 'Json deserialize error: data did not match any variant of untagged enum Match');
  }
  if (c.range !== undefined) {
    const r = object(c.range, 'range');
    return values.some(
      (v) =>
        typeof v === 'number' &&
        (typeof r.gt !== 'number' || v > r.gt) &&
        (typeof r.gte !== 'number' || v >= r.gte) &&
        (typeof r.lt !== 'number' || v < r.lt) &&
        (typeof r.lte !== 'number' || v <= r.lte),
    );
  }
  if (c.is_empty === true) return values.length === 0;
  throw new QdrantHttpError(400, 'Json deserialize error: data did not match any variant of untagged enum Condition');
}

/**
 * The values at a payload path (Qdrant's syntax, below), as Qdrant reads them: a key steps into an
 * object only, `[]` into every element of an array, `[n]` into one; an array at the end of the path
 * matches when any of its elements does.
 */
function valuesAt(payload: JsonObject, key: string): Json[] {
  let current: Json[] = [payload];
  for (const part of parsePayloadPath(key)) {
    const next: Json[] = [];
    for (const value of current) {
      if (part === '[]') {
        if (Array.isArray(value)) next.push(...value);
      } else if (typeof part === 'number') {
        if (Array.isArray(value) && part < value.length) next.push(value[part]);
      } else if (value && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, part)) {
        next.push(value[part]);
      }
    }
    current = next;
  }
  return current.flatMap((value) => (Array.isArray(value) ? value : [value])).filter((v) => v !== null);
}

/**
 * Qdrant's payload path: keys joined by `.`, each either plain (letters, digits, `_`, `-`) or in
 * double quotes (anything but `"` and `\`, no escapes), then any of `[n]` and `[]`. A path that
 * does not parse is a 400, as Qdrant answers.
 */
function parsePayloadPath(path: string): Array<string | number> {
  const parts: Array<string | number> = [];
  let i = 0;
  const key = (): string => {
    if (path[i] === '"') {
      const end = path.indexOf('"', i + 1);
      const inner = end < 0 ? '' : path.slice(i + 1, end);
      if (end < 0 || inner.includes('\\')) throw new QdrantHttpError(400, `Bad request: Invalid path: ${path}`);
      i = end + 1;
      return inner;
    }
    const match = /^[\p{L}\p{N}_-]+/u.exec(path.slice(i));
    if (!match) throw new QdrantHttpError(400, `Bad request: Invalid path: ${path}`);
    i += match[0].length;
    return match[0];
  };
  parts.push(key());
  while (i < path.length) {
    if (path[i] === '.') {
      i++;
      parts.push(key());
    } else if (path.startsWith('[]', i)) {
      i += 2;
      parts.push('[]');
    } else {
      const index = /^\[(\d+)\]/.exec(path.slice(i));
      if (!index) throw new QdrantHttpError(400, `Bad request: Invalid path: ${path}`);
      i += index[0].length;
      parts.push(Number(index[1]));
    }
  }
  return parts;
}

// --- helpers ---------------------------------------------------------------------------------

function parsePointId(id: Json): string | number {
  if (typeof id === 'number' && Number.isInteger(id) && id >= 0) return id;
  if (typeof id === 'string' && UUID.test(id)) {
    const hex = id.replace(/-/g, '').toLowerCase();
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  throw new QdrantHttpError(400, `Unable to parse UUID: ${typeof id === 'string' ? id : JSON.stringify(id)}`);
}

function normalize(vector: number[]): number[] {
  const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
  return norm === 0 ? vector : vector.map((v) => v / norm);
}

function similarity(distance: Collection['distance'], a: number[], b: number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    if (distance === 'Euclid') sum += (a[i] - b[i]) ** 2;
    else if (distance === 'Manhattan') sum += Math.abs(a[i] - b[i]);
    else sum += a[i] * b[i];
  }
  return distance === 'Euclid' ? Math.sqrt(sum) : sum;
}

function object(value: Json | undefined, what = 'body'): JsonObject {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new QdrantHttpError(400, `Json deserialize error: ${what}: invalid type, expected a map`);
  }
  return value;
}

async function readBody(req: IncomingMessage): Promise<Json | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new QdrantHttpError(400, `Json deserialize error: ${(error as Error).message}`);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}
