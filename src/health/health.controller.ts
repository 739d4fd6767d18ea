import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiServiceUnavailableResponse, ApiTags, ApiBearerAuth } from '@nestjs/swagger';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import type { Response } from 'express';
import { ApiProblems } from '../common/api-problems.decorator';
import { PlatformAdmin, Public } from '../tenants';
import { DeepHealthService } from './deep-health.service';
import { DatabaseHealthIndicator, RedisHealthIndicator, VectorStoreHealthIndicator } from './indicators';

class CheckDto {
  @ApiProperty({ enum: ['ok', 'error'] }) status: 'ok' | 'error';
  @ApiProperty() message: string;
  @ApiProperty() latency_ms: number;
}

export class ReadinessDto {
  @ApiProperty({ enum: ['ok', 'error'] }) status: 'ok' | 'error';
  @ApiProperty({
    type: 'object',
    additionalProperties: { $ref: '#/components/schemas/CheckDto' },
    example: { database: { status: 'ok', message: 'connected', latency_ms: 0.4 } },
  })
  checks: Record<string, CheckDto>;
  @ApiProperty({ description: 'seconds since the epoch' }) timestamp: number;
}

export class DeepHealthDto {
  @ApiProperty({ type: 'object', additionalProperties: true }) checks: Record<string, unknown>;
  @ApiProperty() timestamp: number;
}

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    private readonly database: DatabaseHealthIndicator,
    private readonly vectorStore: VectorStoreHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly deep: DeepHealthService,
  ) {}

  @Get('ready')
  @Public()
  @ApiOperation({
    summary: 'Readiness: database, vector store and Redis (when configured), each with a timeout (Kubernetes readiness probe)',
  })
  @ApiOkResponse({ type: ReadinessDto })
  @ApiServiceUnavailableResponse({ type: ReadinessDto, description: 'a dependency is down' })
  async ready(@Res({ passthrough: true }) res: Response): Promise<ReadinessDto> {
    const results = await Promise.all([
      this.database.check(),
      this.vectorStore.check(),
      ...(this.redis.configured ? [this.redis.check()] : []),
    ]);
    const checks = toChecks(results);
    const status = Object.values(checks).every((check) => check.status === 'ok') ? 'ok' : 'error';
    res.status(status === 'ok' ? 200 : 503);
    return { status, checks, timestamp: Date.now() / 1000 };
  }

  @Get('health/deep')
  @PlatformAdmin()
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Deep check (platform admin key): counts, vector collections, one LLM call when an LLM is configured' })
  @ApiOkResponse({ type: DeepHealthDto })
  @ApiProblems(401, 403)
  deepCheck(): Promise<DeepHealthDto> {
    return this.deep.check();
  }
}

/** Terminus results → the guide's `{name: {status, message, latency_ms}}` shape. */
function toChecks(results: HealthIndicatorResult[]): Record<string, CheckDto> {
  const checks: Record<string, CheckDto> = {};
  for (const result of results) {
    for (const [name, value] of Object.entries(result)) {
      const data = value as { status: string; message: string; latency_ms: number };
      checks[name] = { status: data.status === 'up' ? 'ok' : 'error', message: data.message, latency_ms: data.latency_ms };
    }
  }
  return checks;
}
