import { InitialSchema1732500000000 } from './1732500000000-initial-schema';
import { IngestionGenerations1732600000000 } from './1732600000000-ingestion-generations';
import { IngestionTenantFairness1732700000000 } from './1732700000000-ingestion-tenant-fairness';
import { IngestionClaimByTenant1732800000000 } from './1732800000000-ingestion-claim-by-tenant';

/** Every migration, in order. New ones are appended here. */
export const MIGRATIONS = [
  InitialSchema1732500000000,
  IngestionGenerations1732600000000,
  IngestionTenantFairness1732700000000,
  IngestionClaimByTenant1732800000000,
];
