import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import type { LoggerService } from '@nestjs/common';
import { AppModule } from './app.module';
import { IngestionWorkers } from './ingestion';
import type { AppConfig } from './config/app-config';
import { ProblemDto } from './common/api-problems.decorator';
import { problemAwareBodyParsers } from './common/body-parsers';
import { drainingMiddleware } from './common/draining';
import { workerRoleMiddleware } from './common/worker-role.middleware';
import { ProblemDetailsFilter } from './common/problem-details.filter';
import { requestIdMiddleware } from './common/request-id.middleware';
import { createValidationPipe } from './common/validation';
import { httpObservabilityMiddleware } from './telemetry/http-observability.middleware';
import { AdmissionGate, admissionMiddleware } from './rate-limit';
import { SERVICE_VERSION } from './common/version';

export interface CreateAppOptions {
  logger?: LoggerService | false;
  /** ingestion workers start once the HTTP server listens, not at bootstrap (the service: /health before any claim) */
  workersAfterListen?: boolean;
}

/** Builds the whole HTTP application; main.ts and the e2e tests both start it this way. */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    logger: options.logger ?? false,
    abortOnError: false,
  });
  if (options.workersAfterListen) app.get(IngestionWorkers).startWhenListening();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');
  // Express hashes every response body (sha1) into a weak ETag, POST answers included, where no
  // client can use it (a retrieval answer is 10-20 kB); conditional GETs are not part of this API
  app.set('etag', false);
  app.use(drainingMiddleware);
  app.use(requestIdMiddleware);
  if (config.role === 'worker') app.use(workerRoleMiddleware);
  app.use(httpObservabilityMiddleware);
  // refuses a client already over its limit before body parsing, authentication and the guards
  app.use(admissionMiddleware(app.get(AdmissionGate)));
  app.use(helmet({ contentSecurityPolicy: false, crossOriginEmbedderPolicy: false }));
  app.use(...problemAwareBodyParsers(config.bodyLimitBytes));
  if (config.corsOrigins.length > 0)
    app.enableCors({ origin: config.corsOrigins, exposedHeaders: ['X-Request-ID', 'X-Trace-ID', 'Retry-After'] });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemDetailsFilter());

  const openApi = new DocumentBuilder()
    .setTitle('Self-RAG Pipeline')
    .setDescription(
      'Multi-tenant retrieval-augmented-generation knowledge-base service. Every error is application/problem+json (RFC 9457).',
    )
    .setVersion(SERVICE_VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key (srk_…) or the platform admin key' })
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'api-key')
    .build();
  const document = SwaggerModule.createDocument(app, openApi, { extraModels: [ProblemDto] });
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', yamlDocumentUrl: 'docs-yaml' });
  return app;
}
