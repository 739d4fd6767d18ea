import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '../tenants/auth.decorators';
import { telemetryRuntime } from './sdk';

@ApiTags('health')
@Controller()
export class MetricsController {
  @Get('metrics')
  @Public()
  @ApiOperation({ summary: 'Prometheus text exposition of every metric (the guide\'s names); not itself counted or traced' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } })
  metrics(@Req() req: Request, @Res() res: Response): void {
    const prometheus = telemetryRuntime()?.prometheus;
    if (!prometheus) {
      res.status(200).type('text/plain; version=0.0.4').send('# telemetry is disabled (OTEL_SDK_DISABLED=true)\n');
      return;
    }
    prometheus.getMetricsRequestHandler(req, res);
  }
}
