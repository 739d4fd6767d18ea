/**
 * `npm run bench:retrieve [-- --chunks 100000] [--seconds 15] [--connections 16] [--rates 300] [--warmup S] [--env KEY=VALUE]`
 *
 * POST /v1/retrieve under load on the embedded default (the built service as a child process,
 * SQLite, embedded vector store and BM25 index, offline embedder), SciFact loaded through the
 * documents API. 16 concurrent clients (autocannon), each request a different SciFact claim;
 * prints p50/p95/p99 latency and requests/s for hybrid, dense and sparse. `--chunks N` repeats
 * the corpus with variations (sentences rotated, a copy tag) until about N chunks are indexed,
 * the copies bundled several abstracts to a document.
 *
 * Two measurements per retriever: closed loop (16 clients, each sending its next request as soon
 * as one answers: the saturation throughput, where latency is 16 / throughput by construction) and
 * open loop at each of `--rates` requests/s over the same 16 connections (requests due on a fixed
 * schedule, latency counted from when each was due: the latency a client sees at that load).
 */
import autocannon from 'autocannon';
import { loadCorpus as loadBeirCorpus, loadQueries } from '../quality/beir';
import { datasetDir } from '../quality/datasets';
import { join } from 'node:path';
import { loadCorpus, startService, type CorpusDocument } from '../eval/service-child';
import { runPacedLoad } from '../support/load';

// dense first: its long warm-up loads the indexes and lets a large partition's graph be built
// before hybrid, the figure that matters, is measured
const RETRIEVERS = ['dense', 'sparse', 'hybrid'] as const;
const BUNDLE = 40;

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** copy `n` of a document: its sentences rotated by n and a tag, so no two copies are the same content */
function variant(document: CorpusDocument, n: number): CorpusDocument {
  if (n === 0) return document;
  const sentences = document.text.split(/(?<=\.)\s+/);
  const shift = n % Math.max(1, sentences.length);
  const rotated = [...sentences.slice(shift), ...sentences.slice(0, shift)].join(' ');
  return { id: `${document.id}#${n}`, title: `${document.title} (copy ${n})`, text: rotated, metadata: { copy: n } };
}

async function main(): Promise<void> {
  const seconds = option('seconds', 15);
  const connections = option('connections', 16);
  const targetChunks = option('chunks', 0);
  const ratesArg = process.argv[process.argv.indexOf('--rates') + 1];
  const rates = process.argv.includes('--rates')
    ? ratesArg
        .split(',')
        .map(Number)
        .filter((rate) => rate > 0)
    : [300];
  const dir =
    process.argv.find((arg, i) => i > 1 && !arg.startsWith('--') && !/^[\d,.]+$/.test(arg) && !arg.includes('=')) ?? datasetDir('scifact');
  const corpus: CorpusDocument[] = loadBeirCorpus(join(dir, 'corpus.jsonl.gz')).map((d) => ({ id: d.id, title: d.title, text: d.text }));
  const queries = loadQueries(join(dir, 'queries.jsonl')).map((q) => q.text.slice(0, 4000));
  // SciFact abstracts are about one chunk each at the default chunker
  const copies = targetChunks > 0 ? Math.max(1, Math.round(targetChunks / corpus.length)) : 1;
  // copies are bundled BUNDLE abstracts to a document (each still about one chunk), so ~100k
  // chunks take a few thousand uploads instead of 100k
  const documents = [...corpus];
  for (let n = 1; n < copies; n++) {
    const variants = corpus.map((d) => variant(d, n));
    for (let i = 0; i < variants.length; i += BUNDLE) {
      const bundle = variants.slice(i, i + BUNDLE);
      documents.push({
        id: `bundle-${n}-${i}`,
        title: `copy ${n} bundle ${i / BUNDLE}`,
        text: bundle.map((d) => `${d.title}\n${d.text}`).join('\n\n'),
        metadata: { copy: n },
      });
    }
  }

  // `--env KEY=VALUE` (repeatable) sets service configuration, e.g. OTEL_SDK_DISABLED=true
  const env = Object.fromEntries(
    process.argv.flatMap((arg, i) => (process.argv[i - 1] === '--env' ? [arg.split(/=(.*)/s).slice(0, 2)] : [])),
  );
  const service = await startService(env);
  try {
    const started = Date.now();
    const { kbId, readKey } = await loadCorpus(service.baseUrl, documents, {
      onProgress: (done, total) => process.stderr.write(`\r  indexed ${done}/${total}`),
    });
    process.stderr.write(`\n  ${documents.length} documents ingested in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    const deep = await fetch(`${service.baseUrl}/health/deep`, { headers: { authorization: 'Bearer bench-platform-admin-key-0123456789' } })
      .then((r) => r.json())
      .catch(() => undefined);
    const chunks = (deep as { checks?: { database_query?: { data?: { indexed_chunks?: number } } } } | undefined)?.checks?.database_query
      ?.data?.indexed_chunks;
    // the first search loads the indexes; above the HNSW threshold the graph is then built in the
    // background: warm up long enough (--warmup s, default 6 s per 10k chunks)
    const warmup = option('warmup', Math.max(3, Math.ceil(((chunks ?? documents.length) / 10_000) * 6)));

    const rows: string[] = [];
    const pacedRows: string[] = [];
    for (const retriever of RETRIEVERS) {
      let next = 0;
      const body = () => JSON.stringify({ query: queries[next++ % queries.length], kb_ids: [kbId], retriever, top_k: 10 });
      const common: autocannon.Options = {
        url: `${service.baseUrl}/v1/retrieve`,
        method: 'POST',
        headers: { authorization: `Bearer ${readKey}`, 'content-type': 'application/json' },
        connections,
        requests: [{ setupRequest: (request) => ({ ...request, body: body() }) }],
      };
      await run({ ...common, duration: retriever === RETRIEVERS[0] ? warmup : 3 }); // warm-up: JIT, caches, index loading
      const { result, latencies } = await run({ ...common, duration: seconds });
      const errors = result.errors + result.non2xx;
      const rps = result.requests.total / (result.duration || seconds);
      rows.push(
        `| ${retriever} | ${percentile(latencies, 50)} | ${percentile(latencies, 95)} | ${percentile(latencies, 99)} | ${rps.toFixed(0)} | ${errors} |`,
      );
      for (const rate of rates) {
        const paced = await runPacedLoad(service.baseUrl, {
          connections,
          rate,
          seconds,
          next: () => ({ method: 'POST', path: '/v1/retrieve', headers: { authorization: `Bearer ${readKey}` }, body: body() }),
        });
        pacedRows.push(
          `| ${retriever} | ${rate} | ${paced.achieved.toFixed(0)} | ${paced.p50.toFixed(1)} | ${paced.p95.toFixed(1)} | ${paced.p99.toFixed(1)} | ${paced.errors + paced.non2xx} |`,
        );
      }
    }
    process.stdout.write(
      `\nPOST /v1/retrieve, top_k 10, ${connections} connections, ${seconds} s per retriever, ${documents.length} documents${chunks ? ` / ${chunks} chunks` : ''}\n\n` +
        '| retriever | p50 ms | p95 ms | p99 ms | requests/s | errors |\n|---|---|---|---|---|---|\n' +
        `${rows.join('\n')}\n` +
        `\nOpen loop: requests due at a fixed rate over the same ${connections} connections, latency from when each was due\n\n` +
        '| retriever | offered req/s | answered req/s | p50 ms | p95 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|\n' +
        `${pacedRows.join('\n')}\n`,
    );
  } finally {
    await service.stop();
  }
}

/** runs autocannon and keeps every response time (autocannon's own summary has no p95) */
function run(options: autocannon.Options): Promise<{ result: autocannon.Result; latencies: number[] }> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve({ result, latencies })));
    instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => latencies.push(responseTime));
  });
}

function percentile(values: number[], p: number): string {
  if (values.length === 0) return '–';
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)].toFixed(1);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
