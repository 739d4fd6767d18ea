import { Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { createDataSource } from './data-source';
import { HotReads } from './hot-reads';

const slowQueryLogger = new Logger('database');

@Module({
  providers: [
    {
      provide: DataSource,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => {
        const dataSource = createDataSource(config.database, {
          warn: (message, fields) => slowQueryLogger.warn({ message, ...fields }),
        });
        await dataSource.initialize();
        await dataSource.runMigrations({ transaction: 'each' });
        return dataSource;
      },
    },
    HotReads,
  ],
  exports: [DataSource, HotReads],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
