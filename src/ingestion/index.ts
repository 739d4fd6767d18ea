export { IngestionModule } from './ingestion.module';
export { IngestionWorkers } from './jobs/ingestion-workers';
