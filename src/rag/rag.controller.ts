import { Body, Controller, HttpCode, Logger, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { abortedOnClientClose } from '../common/client-disconnect';
import { ApiProblems } from '../common/api-problems.decorator';
import { toProblem } from '../common/problem-details.filter';
import { CurrentTenant, RequireScope, type TenantContext } from '../tenants';
import { RagRequestDto, RagResponseDto } from './rag.dto';
import { RagService, type RagEvent, type RagRequest } from './rag.service';

export const DEFAULT_RAG_TOP_K = 5;

@ApiTags('rag')
@ApiBearerAuth()
@ApiSecurity('api-key')
@ApiProblems(401, 403)
@Controller('v1/rag')
export class RagController {
  private readonly logger = new Logger('RagController');

  constructor(private readonly rag: RagService) {}

  @Post()
  @HttpCode(200)
  @RequireScope('read')
  @ApiOperation({
    summary: 'Answer a question from knowledge bases with citations and Self-RAG reflection (read scope)',
    description:
      'With `stream: true` the answer comes as server-sent events: `step` (each Self-RAG step and verdict), `delta` ' +
      '(answer text as it is generated), `discard` (the round failed its grades; a new round follows), then one ' +
      '`answer` event with the whole answer object, or one `error` event with a problem document.',
  })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({ type: RagResponseDto })
  @ApiProblems(400, 404, 413, 422, 502, 503, 504)
  async answer(
    @CurrentTenant() tenant: TenantContext,
    @Body() body: RagRequestDto,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const request: RagRequest = {
      query: body.query,
      kbIds: body.kb_ids,
      mode: body.mode ?? 'self-rag',
      topK: body.top_k ?? DEFAULT_RAG_TOP_K,
      filters: body.filters,
    };
    const kbs = await this.rag.requireKnowledgeBases(tenant, request.kbIds);
    // a client that goes away cancels the work, LLM calls included
    const signal = abortedOnClientClose(res);
    if (!body.stream) {
      try {
        const answer = await this.rag.answer(tenant, request, kbs, { signal: signal });
        res.status(200).json(answer);
      } catch (error) {
        // nobody is left to tell
        if (signal.aborted) return;
        throw error;
      }
      return;
    }
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    const send = (event: string, data: unknown) => {
      if (!res.writableEnded && !signal.aborted) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    try {
      const answer = await this.rag.answer(tenant, request, kbs, {
        signal: signal,
        onEvent: (event: RagEvent) => send(event.type, withoutType(event)),
      });
      send('answer', answer);
    } catch (error) {
      if (!signal.aborted) {
        const { problem } = toProblem(error, req.originalUrl.split('?')[0] ?? req.url);
        if (problem.status >= 500) this.logger.error(`streamed answer failed: ${(error as Error)?.message ?? String(error)}`);
        send('error', problem);
      }
    } finally {
      res.end();
    }
  }
}

function withoutType(event: RagEvent): Record<string, unknown> {
  const { type: _type, ...rest } = event;
  return rest;
}
