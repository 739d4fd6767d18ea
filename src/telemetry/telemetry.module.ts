import { Module } from '@nestjs/common';
import { BusinessGauges } from './business-gauges';

@Module({
  providers: [BusinessGauges],
  exports: [BusinessGauges],
})
export class TelemetryModule {}
