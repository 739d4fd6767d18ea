export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface CompletionRequest {
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  maxTokens?: number;
  /** ask for a JSON object answer (OpenAI `response_format: json_object`, Ollama `format: json`) */
  json?: boolean;
  signal?: AbortSignal;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface CompletionResult {
  text: string;
  model: string;
  usage: TokenUsage;
  finishReason?: string;
}

/** A streamed completion: text deltas as they come, then the whole result. */
export interface CompletionStream {
  deltas: AsyncIterable<string>;
  result: Promise<CompletionResult>;
}

/** Port for hosted chat LLMs (openai-compatible, ollama). The offline answerer lives in rag/. */
export abstract class LlmProvider {
  abstract readonly provider: string;
  abstract complete(request: CompletionRequest): Promise<CompletionResult>;
  abstract stream(request: CompletionRequest): CompletionStream;
}
