import { Module } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { AppMetrics } from '../telemetry/app-metrics';
import type { LlmProvider } from './llm-provider.port';
import { LlmService } from './llm.service';
import { OllamaLlmProvider } from './ollama/ollama-llm.provider';
import { OpenAiLlmProvider } from './openai/openai-llm.provider';

/** The chat LLM named by LLM_PROVIDER; none on the offline default. */
export function createLlmProvider(config: AppConfig['llm']): LlmProvider | undefined {
  const options = { baseUrl: config.baseUrl ?? '', apiKey: config.apiKey, timeoutMs: config.timeoutMs };
  switch (config.provider) {
    case 'openai':
      return new OpenAiLlmProvider(options);
    case 'ollama':
      return new OllamaLlmProvider(options);
    case 'offline':
      return undefined;
  }
}

@Module({
  providers: [
    {
      provide: LlmService,
      inject: [APP_CONFIG, AppMetrics],
      useFactory: (config: AppConfig, metrics: AppMetrics) =>
        new LlmService(createLlmProvider(config.llm), config.llm.model, metrics, { captureContent: config.captureMessageContent }),
    },
  ],
  exports: [LlmService],
})
export class LlmModule {}
