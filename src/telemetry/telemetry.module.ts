import { Module } from '@nestjs/common';
import { DatabaseModule } from '../database';
import { KnowledgeBasesModule } from '../knowledge-bases';
import { TenantsModule } from '../tenants';
import { BusinessGauges } from './business-gauges';
import { EventLoopMetrics } from './event-loop-monitor';

@Module({
  imports: [DatabaseModule, KnowledgeBasesModule, TenantsModule],
  providers: [BusinessGauges, EventLoopMetrics],
  exports: [BusinessGauges],
})
export class TelemetryModule {}
