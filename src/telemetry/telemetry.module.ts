import { Module } from '@nestjs/common';
import { KnowledgeBasesModule } from '../knowledge-bases/knowledge-bases.module';
import { BusinessGauges } from './business-gauges';

@Module({
  imports: [KnowledgeBasesModule],
  providers: [BusinessGauges],
  exports: [BusinessGauges],
})
export class TelemetryModule {}
