export { LlmModule } from './llm.module';
export { LlmService } from './llm.service';
export type { ChatMessage, TokenUsage } from './llm-provider.port';
