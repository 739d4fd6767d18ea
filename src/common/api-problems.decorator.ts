import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';

export class ProblemDto {
  @ApiProperty({ example: 'https://self-rag-pipeline.dev/problems/not-found' }) type: string;
  @ApiProperty({ example: 'Not Found' }) title: string;
  @ApiProperty({ example: 404 }) status: number;
  @ApiProperty({ example: "knowledge base '…' not found" }) detail: string;
  @ApiProperty({ example: '/v1/knowledge-bases/…' }) instance: string;
  @ApiProperty({ example: '0b5c…' }) request_id: string;
  @ApiPropertyOptional({
    description: '422 only: every wrong field',
    type: 'array',
    items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
  })
  errors?: Array<{ field: string; message: string }>;
  @ApiPropertyOptional({ description: '502/503/504 only: the dependency that failed' }) dependency?: string;
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'malformed request (e.g. invalid JSON)',
  401: 'no API key, or an invalid, expired or revoked one',
  403: 'the key lacks the scope this route needs',
  404: 'not found, or owned by another tenant',
  409: 'conflict with an existing resource',
  413: 'body or upload too large',
  415: 'unsupported document type',
  422: 'invalid body or query: every wrong field is named in `errors`',
  429: 'rate limited or over quota; see Retry-After',
  502: 'a dependency answered with an error or garbage',
  503: 'a dependency is unavailable',
  504: 'a dependency timed out',
};

/** Documents the problem+json answers a route can give. */
export function ApiProblems(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: DESCRIPTIONS[status] ?? 'error',
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDto' } } },
      }),
    ),
  );
}
