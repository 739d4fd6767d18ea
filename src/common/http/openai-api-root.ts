/**
 * The API root of an OpenAI-compatible server, to which `/embeddings`, `/chat/completions` and
 * `/models` are appended. Rule: a base URL without a path (`http://vllm:8000`) gets `/v1`;
 * a base URL with a path is used as given, like the OpenAI SDK's `baseURL`
 * (`https://api.openai.com/v1`, `https://api.groq.com/openai/v1`, `http://host/v1beta/openai`).
 */
export function openAiApiRoot(baseUrl: string): string {
  const url = new URL(baseUrl);
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.origin}${path === '' ? '/v1' : path}`;
}
