import { waitFor } from './ports';

/** Multipart upload of one file (+ metadata JSON text) with the platform's fetch and FormData. */
export async function uploadFile(
  baseUrl: string,
  key: string,
  kbId: string,
  name: string,
  bytes: Buffer | string,
  fields: Record<string, string> = {},
) {
  const form = new FormData();
  form.append('file', new Blob([typeof bytes === 'string' ? Buffer.from(bytes) : bytes]), name);
  for (const [field, value] of Object.entries(fields)) form.append(field, value);
  const response = await fetch(`${baseUrl}/v1/knowledge-bases/${kbId}/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
    body: form,
  });
  const text = await response.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body, headers: response.headers };
}

/** Polls a document until it is indexed or failed. */
export async function waitForDocument(baseUrl: string, key: string, kbId: string, documentId: string, timeoutMs = 30_000): Promise<any> {
  let last: any;
  await waitFor(
    async () => {
      const response = await fetch(`${baseUrl}/v1/knowledge-bases/${kbId}/documents/${documentId}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      last = await response.json();
      return last.status === 'indexed' || last.status === 'failed';
    },
    timeoutMs,
    `document ${documentId} to finish (last: ${JSON.stringify(last)})`,
  );
  return last;
}

/** Every document of a KB (all pages). */
export async function listAllDocuments(baseUrl: string, key: string, kbId: string, status?: string): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: '100', ...(cursor ? { cursor } : {}), ...(status ? { status } : {}) });
    const response = await fetch(`${baseUrl}/v1/knowledge-bases/${kbId}/documents?${query.toString()}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const page = (await response.json()) as { items: any[]; next_cursor: string | null };
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}
