import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { DatabaseModule } from '../database';
import { EmbeddingsModule } from '../embeddings';
import { KnowledgeBasesModule } from '../knowledge-bases';
import { LexicalIndexModule } from '../lexical-index';
import { TenantsModule } from '../tenants';
import { VectorStoreModule } from '../vector-store';
import { DocumentsController } from './documents.controller';
import { DocumentsRepository } from './documents.repository';
import { DocumentsService } from './documents.service';
import { IndexCleaner } from './index-cleaner';
import { DocumentIngestionPipeline } from './jobs/document-ingestion.pipeline';
import { IngestionJobsRepository, IngestionWorkRepository } from './jobs/ingestion-jobs.repository';
import { IngestionWorkers } from './jobs/ingestion-workers';
import { DocumentProcessor } from './parsing';
import { BullMqIngestionQueue } from './queue/bullmq/bullmq-ingestion';
import { DatabaseIngestionQueue } from './queue/database/database-ingestion-queue';
import { IngestionQueue } from './queue/ingestion-queue.port';
import { OrphanSweeper } from './orphan-sweeper';
import { PendingJobsQuota } from './pending-jobs-quota';
import { UploadSizeInterceptor } from './upload-size.interceptor';

/** Upload, document management and the durable ingestion jobs with their workers. */
@Module({
  imports: [
    DatabaseModule,
    EmbeddingsModule,
    VectorStoreModule,
    LexicalIndexModule,
    KnowledgeBasesModule,
    TenantsModule,
    MulterModule.registerAsync({
      inject: [APP_CONFIG],
      // file names are UTF-8 (what browsers and curl send), not busboy's default latin1
      useFactory: (config: AppConfig) => ({
        defParamCharset: 'utf8',
        limits: { fileSize: config.maxUploadBytes, files: 1, fields: 10, fieldSize: 64 * 1024 },
      }),
    }),
  ],
  controllers: [DocumentsController],
  providers: [
    {
      provide: IngestionQueue,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): IngestionQueue =>
        config.redisUrl ? new BullMqIngestionQueue(config.redisUrl) : new DatabaseIngestionQueue(),
    },
    DocumentsRepository,
    IngestionJobsRepository,
    IngestionWorkRepository,
    IndexCleaner,
    {
      provide: DocumentProcessor,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new DocumentProcessor(config.parsing),
    },
    DocumentIngestionPipeline,
    PendingJobsQuota,
    DocumentsService,
    IngestionWorkers,
    OrphanSweeper,
    UploadSizeInterceptor,
  ],
  exports: [IndexCleaner],
})
export class IngestionModule {}
