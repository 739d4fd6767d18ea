import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmService } from '../../../src/llm/llm.service';
import { OpenAiLlmProvider } from '../../../src/llm/openai/openai-llm.provider';
import { AppMetrics } from '../../../src/telemetry/app-metrics';
import { startFakeLlmServer, type FakeLlmServer } from '../../support/fake-llm-server';

const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

describe('LlmService (instrumented chat calls)', () => {
  let server: FakeLlmServer;
  let llm: LlmService;

  beforeAll(async () => {
    server = await startFakeLlmServer();
    llm = new LlmService(
      new OpenAiLlmProvider({ baseUrl: `${server.url}/v1`, timeoutMs: 2000, retry: { retries: 0 }, breaker: false }),
      'fake-chat',
      new AppMetrics(),
    );
  });

  afterAll(async () => {
    await server?.close();
  });

  it('makes one chat client span with GenAI attributes and token usage, never the prompt or the answer', async () => {
    exporter.reset();
    server.onChat(() => 'the secret answer is forty-two');
    const result = await llm.complete({
      purpose: 'grade_support',
      messages: [{ role: 'user', content: 'prompt with a private phrase' }],
      json: true,
    });
    expect(result.text).toBe('the secret answer is forty-two');
    const [span] = exporter.getFinishedSpans();
    expect(span.name).toBe('chat fake-chat');
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'fake-chat',
      'gen_ai.usage.input_tokens': result.usage.inputTokens,
      'gen_ai.usage.output_tokens': result.usage.outputTokens,
      'self_rag.step': 'grade_support',
    });
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    const attributes = JSON.stringify(span.attributes);
    expect(attributes).not.toContain('private phrase');
    expect(attributes).not.toContain('forty-two');
  });

  it('puts the prompt and the answer on the span, in the GenAI message shape, only when content capture is opted in', async () => {
    const capturing = new LlmService(
      new OpenAiLlmProvider({ baseUrl: `${server.url}/v1`, timeoutMs: 2000, retry: { retries: 0 }, breaker: false }),
      'fake-chat',
      new AppMetrics(),
      { captureContent: true },
    );
    exporter.reset();
    server.onChat(() => 'the secret answer is forty-two');
    await capturing.complete({
      purpose: 'generate',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'prompt with a private phrase' },
      ],
    });
    const [span] = exporter.getFinishedSpans();
    expect(JSON.parse(String(span.attributes['gen_ai.input.messages']))).toEqual([
      { role: 'system', parts: [{ type: 'text', content: 'be brief' }] },
      { role: 'user', parts: [{ type: 'text', content: 'prompt with a private phrase' }] },
    ]);
    expect(JSON.parse(String(span.attributes['gen_ai.output.messages']))[0]).toMatchObject({
      role: 'assistant',
      parts: [{ type: 'text', content: 'the secret answer is forty-two' }],
    });
  });

  it('ends a streamed call’s span when the stream ends, and marks a failed one as an error', async () => {
    exporter.reset();
    server.onChat(() => 'one two three');
    const stream = llm.stream({ purpose: 'generate', messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    for await (const delta of stream.deltas) text += delta;
    expect(text.trim()).toBe('one two three');
    await stream.result;
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['chat fake-chat']);

    exporter.reset();
    server.fail('/v1/chat/completions', { kind: 'status', status: 500 }, 1);
    await expect(llm.complete({ purpose: 'generate', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({
      dependency: 'openai',
    });
    const [failed] = exporter.getFinishedSpans();
    expect(failed.status.code).toBe(2);
    expect(failed.attributes['error.type']).toBe('unavailable');
  });

  it('reports offline when no LLM is configured', () => {
    const offline = new LlmService(undefined, 'offline-extractive', new AppMetrics());
    expect(offline.configured).toBe(false);
    expect(offline.providerName).toBe('offline');
  });
});
