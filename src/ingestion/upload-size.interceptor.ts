import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { PayloadTooLargeError, RateLimitedError } from '../common/errors';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import type { Principal } from '../tenants';
import { UploadBytesBudget } from './upload-bytes-budget';

/** Room for multipart boundaries and the small text fields around the file. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/**
 * Refuses a multipart upload whose declared length already exceeds MAX_UPLOAD_BYTES before a
 * byte of it is read; multer's fileSize limit stops the ones that do not declare it. Then takes
 * the upload's bytes (MAX_UPLOAD_BYTES when undeclared) from its tenant's
 * UPLOAD_BYTES_PER_SECOND_PER_TENANT budget, or refuses it (429) before reading it.
 */
@Injectable()
export class UploadSizeInterceptor implements NestInterceptor {
  private readonly budget: UploadBytesBudget;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    // a tenant at rest can always send two uploads of the largest size at once
    this.budget = new UploadBytesBudget(config.uploadBytesPerSecondPerTenant, 2 * (config.maxUploadBytes + MULTIPART_OVERHEAD_BYTES));
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<Request & { principal?: Principal }>();
    const declared = Number(request.headers['content-length']);
    if (
      request.is('multipart/form-data') &&
      Number.isFinite(declared) &&
      declared > this.config.maxUploadBytes + MULTIPART_OVERHEAD_BYTES
    ) {
      throw new PayloadTooLargeError(
        `the upload is ${declared} bytes; the limit is ${this.config.maxUploadBytes} bytes (MAX_UPLOAD_BYTES)`,
      );
    }
    const principal = request.principal;
    if (request.is('multipart/form-data') && principal?.kind === 'tenant') {
      const bytes = Number.isFinite(declared) ? declared : this.config.maxUploadBytes;
      const waitSeconds = this.budget.take(principal.tenantId, bytes);
      if (waitSeconds > 0) {
        throw new RateLimitedError(
          `the tenant's uploads passed UPLOAD_BYTES_PER_SECOND_PER_TENANT (${this.config.uploadBytesPerSecondPerTenant} bytes/s); retry in ${Math.ceil(waitSeconds)} s`,
          waitSeconds,
        );
      }
    }
    return next.handle();
  }
}
