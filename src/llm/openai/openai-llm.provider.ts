import { CompletionRequest, CompletionResult, CompletionStream, LlmProvider } from '../llm-provider.port';
import {
  badResponse,
  bearer,
  countOr,
  estimateTokens,
  isRecord,
  openAiApiRoot,
  ProviderClientOptions,
  ProviderHttpClient,
} from '../../common/http';
import { DependencyError } from '../../common/errors';
import { completionStream } from './completion-stream';

export interface OpenAiLlmOptions extends ProviderClientOptions {
  /** dependency name in errors and labels; default `openai` */
  provider?: string;
  /** the whole call, a streamed body included; default 60 000 ms */
  timeoutMs?: number;
  /** streaming: until the response headers arrive; default min(timeoutMs, 30 000) */
  firstByteTimeoutMs?: number;
  /** `max_tokens` (default; vLLM, Ollama, LM Studio) or `max_completion_tokens` (OpenAI's o-series and later) */
  maxTokensParam?: 'max_tokens' | 'max_completion_tokens';
}

/**
 * Chat completions from any OpenAI-compatible server: `POST {api root}/chat/completions`, JSON
 * mode via `response_format: {type: json_object}`, streaming as SSE `data:` lines with
 * `stream_options.include_usage` (deltas, then a usage chunk, then `[DONE]`).
 */
export class OpenAiLlmProvider extends LlmProvider {
  readonly provider: string;
  private readonly http: ProviderHttpClient;
  private readonly timeoutMs: number;
  private readonly firstByteTimeoutMs: number;
  private readonly maxTokensParam: 'max_tokens' | 'max_completion_tokens';

  constructor(options: OpenAiLlmOptions) {
    super();
    this.provider = options.provider ?? 'openai';
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.firstByteTimeoutMs = options.firstByteTimeoutMs ?? Math.min(this.timeoutMs, 30_000);
    this.maxTokensParam = options.maxTokensParam ?? 'max_tokens';
    this.http = new ProviderHttpClient({
      ...options,
      provider: this.provider,
      baseUrl: openAiApiRoot(options.baseUrl),
      headers: bearer(options.apiKey),
      timeoutMs: this.timeoutMs,
    });
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const body = await this.http.postJson('/chat/completions', this.body(request), { signal: request.signal });
    const choice: unknown = isRecord(body) && Array.isArray(body.choices) ? body.choices[0] : undefined;
    if (!isRecord(body) || !isRecord(choice) || !isRecord(choice.message))
      throw badResponse(this.provider, 'chat completion has no `choices[0].message`');
    const content = choice.message.content;
    if (content !== null && content !== undefined && typeof content !== 'string')
      throw badResponse(this.provider, 'chat completion content is not text');
    const text = content ?? '';
    return {
      text,
      model: typeof body.model === 'string' ? body.model : request.model,
      usage: this.usage(body.usage, request, text),
      finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : undefined,
    };
  }

  stream(request: CompletionRequest): CompletionStream {
    return completionStream(request.signal, async (signal, emit) => {
      const body = { ...this.body(request), stream: true, stream_options: { include_usage: true } };
      const stream = await this.http.postStream('/chat/completions', body, {
        signal,
        firstByteTimeoutMs: this.firstByteTimeoutMs,
        totalTimeoutMs: this.timeoutMs,
      });
      let text = '';
      let model = request.model;
      let finishReason: string | undefined;
      let usage: unknown;
      let done = false;
      let events = 0;
      for await (const line of stream.lines()) {
        if (!line.startsWith('data:')) continue;
        events++;
        const data = line.slice(5).trim();
        if (data === '[DONE]') {
          done = true;
          break;
        }
        const event = parseEvent(data);
        if (!isRecord(event)) throw badResponse(this.provider, `stream event is not a JSON object: ${data.slice(0, 80)}`);
        if (event.error !== undefined)
          throw badResponse(this.provider, `stream reported an error: ${JSON.stringify(event.error).slice(0, 200)}`);
        if (!Array.isArray(event.choices)) throw badResponse(this.provider, 'stream event has no `choices` array');
        const choice: unknown = event.choices[0];
        if (isRecord(choice)) {
          const delta = isRecord(choice.delta) ? choice.delta.content : undefined;
          if (typeof delta === 'string' && delta !== '') {
            text += delta;
            emit(delta);
          }
          if (typeof choice.finish_reason === 'string') finishReason = choice.finish_reason;
        }
        if (isRecord(event.usage)) usage = event.usage;
        if (typeof event.model === 'string') model = event.model;
      }
      if (events === 0) throw badResponse(this.provider, 'streamed chat completion is not a server-sent event stream');
      if (!done) throw new DependencyError(this.provider, 'unavailable', 'chat completion stream ended before [DONE]');
      return { text, model, usage: this.usage(usage, request, text), finishReason };
    });
  }

  private body(request: CompletionRequest): Record<string, unknown> {
    return {
      model: request.model,
      messages: request.messages,
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      ...(request.maxTokens === undefined ? {} : { [this.maxTokensParam]: request.maxTokens }),
      ...(request.json ? { response_format: { type: 'json_object' } } : {}),
    };
  }

  private usage(usage: unknown, request: CompletionRequest, text: string): CompletionResult['usage'] {
    const reported = isRecord(usage) ? usage : {};
    return {
      inputTokens: countOr(reported.prompt_tokens, estimateTokens(request.messages.map((m) => m.content))),
      outputTokens: countOr(reported.completion_tokens, estimateTokens([text])),
    };
  }
}

function parseEvent(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}
