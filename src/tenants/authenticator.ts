import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { nowIso } from '../common/clock';
import { UnauthorizedError } from '../common/errors';
import { ApiKeysRepository } from './api-keys.repository';
import { keyMatchesHash, keysEqual, parseLookupPrefix } from './api-key-secret';
import type { Principal } from './principal';

/** last_used_at is written at most this often per key, so reads do not turn into writes. */
const LAST_USED_RESOLUTION_MS = 60_000;

@Injectable()
export class Authenticator {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly apiKeys: ApiKeysRepository,
  ) {}

  /** Resolves the presented key to a principal, or throws 401 without saying which check failed. */
  async authenticate(presented: string | undefined): Promise<Principal> {
    if (!presented) throw new UnauthorizedError('an API key is required (Authorization: Bearer <key> or X-API-Key)');
    if (this.config.adminApiKey && keysEqual(presented, this.config.adminApiKey)) return { kind: 'platform-admin' };
    const lookupPrefix = parseLookupPrefix(presented);
    const key = lookupPrefix ? await this.apiKeys.findByLookupPrefix(lookupPrefix) : null;
    const now = nowIso();
    if (!key || !keyMatchesHash(presented, key.keyHash) || key.revokedAt !== null || (key.expiresAt !== null && key.expiresAt <= now)) {
      throw new UnauthorizedError('the API key is invalid, expired or revoked');
    }
    if (!key.lastUsedAt || Date.parse(now) - Date.parse(key.lastUsedAt) > LAST_USED_RESOLUTION_MS) {
      await this.apiKeys.touchLastUsed(key.id, now);
    }
    return { kind: 'tenant', tenantId: key.tenantId, keyId: key.id, scopes: key.scopes };
  }
}
