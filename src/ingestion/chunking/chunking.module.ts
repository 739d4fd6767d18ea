import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { InProcessTextChunker, TextChunker, ThreadedTextChunker } from './text-chunker';

/** The text chunker, shared by ingestion and the offline answerer. */
@Module({
  providers: [
    {
      provide: TextChunker,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): TextChunker => (config.embeddedThreads ? new ThreadedTextChunker() : new InProcessTextChunker()),
    },
  ],
  exports: [TextChunker],
})
export class ChunkingModule implements OnApplicationShutdown {
  constructor(@Inject(TextChunker) private readonly chunker: TextChunker) {}

  async onApplicationShutdown(): Promise<void> {
    await this.chunker.close();
  }
}
