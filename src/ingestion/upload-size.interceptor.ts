import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { PayloadTooLargeError } from '../common/errors';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';

/** Room for multipart boundaries and the small text fields around the file. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/**
 * Refuses a multipart upload whose declared length already exceeds MAX_UPLOAD_BYTES before a
 * byte of it is read; multer's fileSize limit stops the ones that do not declare it.
 */
@Injectable()
export class UploadSizeInterceptor implements NestInterceptor {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<Request>();
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
    return next.handle();
  }
}
