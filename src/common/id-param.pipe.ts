import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { NotFoundError } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A path id that is not a UUID cannot name anything: 404, before any query runs. */
@Injectable()
export class IdParamPipe implements PipeTransform<string, string> {
  constructor(private readonly resource: string) {}

  transform(value: string, _metadata: ArgumentMetadata): string {
    if (typeof value !== 'string' || !UUID.test(value)) throw new NotFoundError(this.resource, value);
    return value.toLowerCase();
  }
}
