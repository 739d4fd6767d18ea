import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { EmbeddedLexicalIndex } from './embedded/embedded-lexical-index';
import { threadedLexicalIndex } from './embedded/threaded-lexical-index';
import { LexicalIndex } from './lexical-index.port';
import { PostgresLexicalIndex } from './postgres/postgres-lexical-index';

/** The BM25 index: embedded (SQLite under DATA_DIR, on its own thread) by default, PostgreSQL full text with DATABASE_URL. */
@Module({
  providers: [
    {
      provide: LexicalIndex,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig): Promise<LexicalIndex> => {
        const index =
          config.database.type === 'postgres'
            ? new PostgresLexicalIndex({ connectionString: config.database.url, slowQueryMs: config.database.slowQueryMs })
            : config.embeddedThreads
              ? threadedLexicalIndex({ dataDir: config.dataDir })
              : new EmbeddedLexicalIndex({ dataDir: config.dataDir });
        await index.init();
        return index;
      },
    },
  ],
  exports: [LexicalIndex],
})
export class LexicalIndexModule implements OnApplicationShutdown {
  constructor(@Inject(LexicalIndex) private readonly index: LexicalIndex) {}

  async onApplicationShutdown(): Promise<void> {
    await this.index.close();
  }
}
