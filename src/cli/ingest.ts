import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { SingleBar, Presets } from 'cli-progress';

const SUPPORTED = new Set(['.txt', '.text', '.md', '.markdown', '.html', '.htm', '.xhtml', '.pdf', '.docx']);
const USAGE = `usage: npm run ingest -- --kb <knowledge base id> [--url http://localhost:8020] [--key <api key> | env SELF_RAG_API_KEY] [--concurrency 4] [--no-wait] <folder>`;

interface Summary {
  queued: string[];
  duplicates: string[];
  rejected: Array<{ file: string; status: number; detail: string }>;
}

function filesUnder(folder: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(folder, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    if (entry.isFile() && SUPPORTED.has(path.extname(entry.name).toLowerCase())) found.push(full);
  }
  return found.sort();
}

/** A 429 `rate-limited` (the tenant's pending-jobs limit) is waited out as its Retry-After says; a `quota-exceeded` is final. */
async function upload(
  url: string,
  key: string,
  kb: string,
  file: string,
): Promise<{ status: number; body: { id?: string; detail?: string } }> {
  for (;;) {
    const form = new FormData();
    form.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
    form.append('metadata', JSON.stringify({ source_path: file }));
    const response = await fetch(`${url}/v1/knowledge-bases/${kb}/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: form,
    });
    const body = (await response.json().catch(() => ({}))) as { id?: string; detail?: string; type?: string };
    const retryAfter = Number(response.headers.get('retry-after'));
    if (response.status !== 429 || !body.type?.endsWith('/rate-limited') || !(retryAfter > 0)) return { status: response.status, body };
    await delay(retryAfter * 1000);
  }
}

async function statusOf(url: string, key: string, kb: string, id: string): Promise<string> {
  const response = await fetch(`${url}/v1/knowledge-bases/${kb}/documents/${id}`, { headers: { authorization: `Bearer ${key}` } });
  return ((await response.json()) as { status: string }).status;
}

/** Runs `work` over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/** `npm run ingest`: uploads every supported file of a folder through the API, then waits for indexing. */
async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      kb: { type: 'string' },
      url: { type: 'string', default: 'http://localhost:8020' },
      key: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      'no-wait': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const key = values.key ?? process.env.SELF_RAG_API_KEY;
  if (values.help || !values.kb || !key || positionals.length !== 1) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const url = values.url.replace(/\/+$/, '');
  const folder = positionals[0];
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
    process.stderr.write(`not a folder: ${folder}\n`);
    return 2;
  }
  const files = filesUnder(folder);
  const summary: Summary = { queued: [], duplicates: [], rejected: [] };
  const bar = new SingleBar({ format: 'upload  [{bar}] {value}/{total} files | {file}', hideCursor: true }, Presets.shades_classic);
  bar.start(files.length, 0, { file: '' });
  await pool(files, Math.max(1, Number(values.concurrency) || 4), async (file) => {
    try {
      const { status, body } = await upload(url, key, values.kb!, file);
      if (status === 202 && body.id) summary.queued.push(body.id);
      else if (status === 200) summary.duplicates.push(file);
      else summary.rejected.push({ file, status, detail: body.detail ?? '' });
    } catch (error) {
      summary.rejected.push({ file, status: 0, detail: (error as Error).message });
    }
    bar.increment(1, { file: path.basename(file) });
  });
  bar.stop();
  process.stdout.write(`queued ${summary.queued.length}, duplicates ${summary.duplicates.length}, rejected ${summary.rejected.length}\n`);
  for (const { file, status, detail } of summary.rejected) process.stdout.write(`  rejected ${file}: ${status} ${detail}\n`);

  let failed = 0;
  if (!values['no-wait'] && summary.queued.length > 0) {
    const pending = new Set(summary.queued);
    let indexed = 0;
    const wait = new SingleBar(
      { format: 'index   [{bar}] {value}/{total} documents | failed {failed}', hideCursor: true },
      Presets.shades_classic,
    );
    wait.start(pending.size, 0, { failed: 0 });
    while (pending.size > 0) {
      await pool([...pending], 8, async (id) => {
        const status = await statusOf(url, key, values.kb!, id).catch(() => 'unknown');
        if (status === 'indexed' || status === 'failed') {
          pending.delete(id);
          if (status === 'indexed') indexed++;
          else failed++;
        }
      });
      wait.update(indexed + failed, { failed });
      if (pending.size > 0) await delay(500);
    }
    wait.stop();
    process.stdout.write(`indexed ${indexed}, failed ${failed}\n`);
  }
  return summary.rejected.length > 0 || failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`ingest failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
