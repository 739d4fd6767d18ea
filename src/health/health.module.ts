import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DeepHealthService } from './deep-health.service';
import { HealthController } from './health.controller';
import { DatabaseHealthIndicator, RedisHealthIndicator, VectorStoreHealthIndicator } from './indicators';
import { LivenessController } from './liveness.controller';

@Module({
  imports: [TerminusModule],
  controllers: [LivenessController, HealthController],
  providers: [DatabaseHealthIndicator, VectorStoreHealthIndicator, RedisHealthIndicator, DeepHealthService],
})
export class HealthModule {}
