import { context, SpanKind, trace, type Span } from '@opentelemetry/api';
import type { AppMetrics } from '../telemetry/app-metrics';
import { STATUS } from '../telemetry/metric-names';
import { markSpanError, TRACER_NAME } from '../telemetry/spans';
import type { CompletionRequest, CompletionResult, CompletionStream, LlmProvider } from './llm-provider.port';

export type LlmCall = Omit<CompletionRequest, 'model'> & {
  /** what the call is for (`generate`, `grade_relevance`…), a span attribute; never the prompt */
  purpose: string;
};

/**
 * The configured chat LLM, instrumented: every call is one `chat {model}` client span with the
 * GenAI semantic-convention attributes (operation, provider, model, token usage, finish reason;
 * never the prompt or the answer) and one llm_calls_total / llm_call_duration_seconds.
 * `provider` is undefined on the offline default (the extractive answerer needs no LLM).
 */
export class LlmService {
  constructor(
    private readonly provider: LlmProvider | undefined,
    readonly model: string,
    private readonly metrics: AppMetrics,
    /** opt-in (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT): prompt and answer on the span */
    private readonly options: { captureContent?: boolean } = {},
  ) {}

  get configured(): boolean {
    return this.provider !== undefined;
  }

  get providerName(): string {
    return this.provider?.provider ?? 'offline';
  }

  complete(call: LlmCall): Promise<CompletionResult> {
    const provider = this.requireProvider();
    const { span, started, ctx } = this.startSpan(call);
    const request = { ...withoutPurpose(call), model: this.model };
    return context.with(ctx, () => provider.complete(request)).then(
      (result) => {
        this.finish(span, started, result);
        return result;
      },
      (error: unknown) => {
        this.fail(span, started, error);
        throw error;
      },
    );
  }

  stream(call: LlmCall): CompletionStream {
    const provider = this.requireProvider();
    const { span, started, ctx } = this.startSpan(call);
    const request = { ...withoutPurpose(call), model: this.model };
    let inner: CompletionStream;
    try {
      inner = context.with(ctx, () => provider.stream(request));
    } catch (error) {
      this.fail(span, started, error);
      throw error;
    }
    const result = inner.result.then(
      (value) => {
        this.finish(span, started, value);
        return value;
      },
      (error: unknown) => {
        this.fail(span, started, error);
        throw error;
      },
    );
    // a consumer that stops at a failed delta never awaits `result`: not an unhandled rejection
    result.catch(() => undefined);
    return { deltas: inner.deltas, result };
  }

  private requireProvider(): LlmProvider {
    if (!this.provider) throw new Error('no LLM is configured (LLM_PROVIDER=offline)');
    return this.provider;
  }

  private startSpan(call: LlmCall): { span: Span; started: number; ctx: ReturnType<typeof context.active> } {
    const span = trace.getTracer(TRACER_NAME).startSpan(`chat ${this.model}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': this.providerName,
        'gen_ai.request.model': this.model,
        ...(call.temperature !== undefined ? { 'gen_ai.request.temperature': call.temperature } : {}),
        ...(call.maxTokens !== undefined ? { 'gen_ai.request.max_tokens': call.maxTokens } : {}),
        ...(call.json ? { 'gen_ai.output.type': 'json' } : {}),
        'self_rag.step': call.purpose,
        // GenAI semantic conventions' message shape: role and text parts
        ...(this.options.captureContent
          ? { 'gen_ai.input.messages': JSON.stringify(call.messages.map((m) => ({ role: m.role, parts: [{ type: 'text', content: m.content }] }))) }
          : {}),
      },
    });
    return { span, started: performance.now(), ctx: trace.setSpan(context.active(), span) };
  }

  private finish(span: Span, started: number, result: CompletionResult): void {
    span.setAttributes({
      'gen_ai.response.model': result.model,
      'gen_ai.usage.input_tokens': result.usage.inputTokens,
      'gen_ai.usage.output_tokens': result.usage.outputTokens,
      ...(result.finishReason ? { 'gen_ai.response.finish_reasons': [result.finishReason] } : {}),
      ...(this.options.captureContent
        ? { 'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: result.text }], ...(result.finishReason ? { finish_reason: result.finishReason } : {}) }]) }
        : {}),
    });
    span.end();
    this.metrics.recordLlmCall(this.providerName, this.model, STATUS.success, (performance.now() - started) / 1000, result.usage);
  }

  private fail(span: Span, started: number, error: unknown): void {
    markSpanError(span, error);
    span.end();
    this.metrics.recordLlmCall(this.providerName, this.model, STATUS.error, (performance.now() - started) / 1000);
  }
}

function withoutPurpose(call: LlmCall): Omit<CompletionRequest, 'model'> {
  const { purpose: _purpose, ...request } = call;
  return request;
}
