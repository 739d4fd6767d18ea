import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DatabaseModule } from '../database';
import { LlmModule } from '../llm';
import { VectorStoreModule } from '../vector-store';
import { DeepHealthService } from './deep-health.service';
import { HealthController } from './health.controller';
import { DatabaseHealthIndicator, RedisHealthIndicator, VectorStoreHealthIndicator } from './indicators';
import { LivenessController } from './liveness.controller';

@Module({
  imports: [TerminusModule, DatabaseModule, VectorStoreModule, LlmModule],
  controllers: [LivenessController, HealthController],
  providers: [DatabaseHealthIndicator, VectorStoreHealthIndicator, RedisHealthIndicator, DeepHealthService],
})
export class HealthModule {}
