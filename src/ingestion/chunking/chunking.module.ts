import { Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
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
export class ChunkingModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(TextChunker) private readonly chunker: TextChunker,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Where ingestion workers run, the chunker is ready before they start (they start at
   * application bootstrap, after every module's init): a worker's first documents do not wait
   * for the thread and the tokenizer to load while another replica's go ahead.
   */
  async onModuleInit(): Promise<void> {
    if (this.config.role !== 'api') await this.chunker.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.chunker.close();
  }
}
