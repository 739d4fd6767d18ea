import { Module } from '@nestjs/common';
import { BusinessGauges } from './business-gauges';
import { MetricsController } from './metrics.controller';

@Module({
  controllers: [MetricsController],
  providers: [BusinessGauges],
  exports: [BusinessGauges],
})
export class TelemetryModule {}
