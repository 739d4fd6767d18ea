import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Public } from '../tenants';

export class LivenessDto {
  @ApiProperty({ example: 'ok' }) status: 'ok';
  @ApiProperty({ description: 'seconds since the epoch, as in the guide', example: 1732500000.123 }) timestamp: number;
}

@ApiTags('health')
@Controller()
export class LivenessController {
  @Get('health')
  @Public()
  @ApiOperation({ summary: 'Liveness: touches no dependency (Kubernetes liveness and startup probes)' })
  @ApiOkResponse({ type: LivenessDto })
  health(): LivenessDto {
    return { status: 'ok', timestamp: Date.now() / 1000 };
  }
}
