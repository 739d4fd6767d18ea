import { Module } from '@nestjs/common';
import { KnowledgeBasesModule } from '../knowledge-bases/knowledge-bases.module';
import { BusinessGauges } from './business-gauges';
import { EventLoopMetrics } from './event-loop-monitor';

@Module({
  imports: [KnowledgeBasesModule],
  providers: [BusinessGauges, EventLoopMetrics],
  exports: [BusinessGauges],
})
export class TelemetryModule {}
