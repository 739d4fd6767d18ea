import { context, INVALID_SPAN_CONTEXT, SpanKind, trace, type Span } from '@opentelemetry/api';
import type { AppMetrics } from '../telemetry/app-metrics';
import { STATUS } from '../telemetry/metric-names';
import {
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_OUTPUT_TYPE,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  GEN_AI_OPERATION_NAME_VALUE_CHAT,
  GEN_AI_OUTPUT_TYPE_VALUE_JSON,
} from '../telemetry/semconv';
import { childSpansRecorded, markSpanError, tracer } from '../telemetry/spans';
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
    return context
      .with(ctx, () => provider.complete(request))
      .then(
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
    const started = performance.now();
    // under a parent that records nothing the call runs in the parent's context: no span, no attributes, no prompt serialised
    if (!childSpansRecorded()) return { span: NOT_RECORDED, started, ctx: context.active() };
    const span = tracer().startSpan(`chat ${this.model}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_CHAT,
        [ATTR_GEN_AI_PROVIDER_NAME]: this.providerName,
        [ATTR_GEN_AI_REQUEST_MODEL]: this.model,
        ...(call.temperature !== undefined ? { [ATTR_GEN_AI_REQUEST_TEMPERATURE]: call.temperature } : {}),
        ...(call.maxTokens !== undefined ? { [ATTR_GEN_AI_REQUEST_MAX_TOKENS]: call.maxTokens } : {}),
        ...(call.json ? { [ATTR_GEN_AI_OUTPUT_TYPE]: GEN_AI_OUTPUT_TYPE_VALUE_JSON } : {}),
        'self_rag.step': call.purpose,
        // GenAI semantic conventions' message shape: role and text parts
        ...(this.options.captureContent
          ? {
              [ATTR_GEN_AI_INPUT_MESSAGES]: JSON.stringify(
                call.messages.map((m) => ({ role: m.role, parts: [{ type: 'text', content: m.content }] })),
              ),
            }
          : {}),
      },
    });
    return { span, started, ctx: trace.setSpan(context.active(), span) };
  }

  private finish(span: Span, started: number, result: CompletionResult): void {
    if (span.isRecording()) {
      span.setAttributes({
        [ATTR_GEN_AI_RESPONSE_MODEL]: result.model,
        [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: result.usage.inputTokens,
        [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: result.usage.outputTokens,
        ...(result.finishReason ? { [ATTR_GEN_AI_RESPONSE_FINISH_REASONS]: [result.finishReason] } : {}),
        ...(this.options.captureContent
          ? {
              [ATTR_GEN_AI_OUTPUT_MESSAGES]: JSON.stringify([
                {
                  role: 'assistant',
                  parts: [{ type: 'text', content: result.text }],
                  ...(result.finishReason ? { finish_reason: result.finishReason } : {}),
                },
              ]),
            }
          : {}),
      });
    }
    span.end();
    this.metrics.recordLlmCall(this.providerName, this.model, STATUS.success, (performance.now() - started) / 1000, result.usage);
  }

  private fail(span: Span, started: number, error: unknown): void {
    markSpanError(span, error);
    span.end();
    this.metrics.recordLlmCall(this.providerName, this.model, STATUS.error, (performance.now() - started) / 1000);
  }
}

const NOT_RECORDED: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

function withoutPurpose(call: LlmCall): Omit<CompletionRequest, 'model'> {
  const { purpose: _purpose, ...request } = call;
  return request;
}
