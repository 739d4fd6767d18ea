import { CompletionRequest, CompletionResult, CompletionStream, LlmProvider } from '../llm-provider.port';
import { badResponse, bearer, countOr, estimateTokens, isRecord, ProviderClientOptions, ProviderHttpClient } from '../../common/http';
import { DependencyError } from '../../common/errors';
import { completionStream } from '../openai/completion-stream';

export interface OllamaLlmOptions extends ProviderClientOptions {
  /** dependency name in errors and labels; default `ollama` */
  provider?: string;
  /** the whole call, a streamed body included; default 60 000 ms */
  timeoutMs?: number;
  /** streaming: until the response headers arrive (a cold model loads first); default min(timeoutMs, 30 000) */
  firstByteTimeoutMs?: number;
}

/**
 * Chat from Ollama's native API: `POST {baseUrl}/api/chat`, JSON mode via `format: json`,
 * streaming as NDJSON (one object a line, the last with `done: true` and the token counts).
 */
export class OllamaLlmProvider extends LlmProvider {
  readonly provider: string;
  private readonly http: ProviderHttpClient;
  private readonly timeoutMs: number;
  private readonly firstByteTimeoutMs: number;

  constructor(options: OllamaLlmOptions) {
    super();
    this.provider = options.provider ?? 'ollama';
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.firstByteTimeoutMs = options.firstByteTimeoutMs ?? Math.min(this.timeoutMs, 30_000);
    this.http = new ProviderHttpClient({ ...options, provider: this.provider, headers: bearer(options.apiKey), timeoutMs: this.timeoutMs });
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const body = await this.http.postJson('/api/chat', { ...this.body(request), stream: false }, { signal: request.signal });
    if (!isRecord(body) || !isRecord(body.message) || typeof body.message.content !== 'string') {
      throw badResponse(this.provider, 'chat answer has no `message.content` text');
    }
    return this.result(body, request, body.message.content);
  }

  stream(request: CompletionRequest): CompletionStream {
    return completionStream(request.signal, async (signal, emit) => {
      const stream = await this.http.postStream(
        '/api/chat',
        { ...this.body(request), stream: true },
        { signal, firstByteTimeoutMs: this.firstByteTimeoutMs, totalTimeoutMs: this.timeoutMs },
      );
      let text = '';
      for await (const line of stream.lines()) {
        if (line.trim() === '') continue;
        const event = parseLine(line);
        if (!isRecord(event)) throw badResponse(this.provider, `stream line is not a JSON object: ${line.slice(0, 80)}`);
        if (event.error !== undefined)
          throw badResponse(
            this.provider,
            `stream reported an error: ${(typeof event.error === 'string' ? event.error : JSON.stringify(event.error)).slice(0, 200)}`,
          );
        if (!isRecord(event.message) && event.done !== true)
          throw badResponse(this.provider, 'stream line has neither `message` nor `done`');
        const delta = isRecord(event.message) ? event.message.content : undefined;
        if (typeof delta === 'string' && delta !== '') {
          text += delta;
          emit(delta);
        }
        if (event.done === true) return this.result(event, request, text);
      }
      throw new DependencyError(this.provider, 'unavailable', 'chat stream ended before `done: true`');
    });
  }

  private body(request: CompletionRequest): Record<string, unknown> {
    const options = {
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      ...(request.maxTokens === undefined ? {} : { num_predict: request.maxTokens }),
    };
    return {
      model: request.model,
      messages: request.messages,
      ...(request.json ? { format: 'json' } : {}),
      ...(Object.keys(options).length > 0 ? { options } : {}),
    };
  }

  private result(body: Record<string, unknown>, request: CompletionRequest, text: string): CompletionResult {
    return {
      text,
      model: typeof body.model === 'string' ? body.model : request.model,
      usage: {
        inputTokens: countOr(body.prompt_eval_count, estimateTokens(request.messages.map((m) => m.content))),
        outputTokens: countOr(body.eval_count, estimateTokens([text])),
      },
      finishReason: typeof body.done_reason === 'string' ? body.done_reason : undefined,
    };
  }
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
