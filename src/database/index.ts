// The database module's public surface: the module, the entities, and the query helpers the
// repositories of other modules share.
export { DatabaseModule } from './database.module';
export { HotReads } from './hot-reads';
export * from './entities';
export type { ApiKeyScope } from './entities/api-key.entity';
export type { DocumentStatus } from './entities/document.entity';
export { batches, INSERT_BATCH, lockDocuments } from './batched-writes';
export { applyKeyset } from './keyset';
export { isUniqueViolation } from './unique-violation';
export { connectionPoolStats, countConnectionPool } from './data-source';
export { logIfSlow } from './slow-query';
