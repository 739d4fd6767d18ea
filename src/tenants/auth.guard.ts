import { Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ForbiddenError, UnauthorizedError } from '../common/errors';
import { AdmissionGate, clientAddress, presentedKeyHash } from '../rate-limit';
import { presentedKey } from '../common/presented-key';
import { currentRequestContext } from '../common/request-context';
import { ACCESS_RULE, type AccessRule } from './auth.decorators';
import { Authenticator } from './authenticator';
import { hasScope, type Principal } from './principal';

/**
 * Global guard: every route states its access rule; a route without one is refused,
 * so a new controller cannot be left open by mistake.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: Authenticator,
    @Optional() private readonly gate?: AdmissionGate,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [context.getHandler(), context.getClass()]);
    if (!rule) throw new ForbiddenError('route has no access rule');
    if (rule.kind === 'public') return true;

    const request = context.switchToHttp().getRequest<Request & { principal?: Principal }>();
    const presented = presentedKey(request.headers);
    let principal: Principal;
    try {
      principal = await this.authenticator.authenticate(presented);
    } catch (error) {
      // a wrong key costs a lookup: counted against the caller's address (a missing one costs nothing)
      if (presented && error instanceof UnauthorizedError) this.gate?.authenticationFailed(clientAddress(request));
      throw error;
    }
    if (presented) this.gate?.authenticated(presentedKeyHash(request)!);
    request.principal = principal;
    const logContext = currentRequestContext();
    if (logContext && principal.kind === 'tenant') {
      logContext.tenantId = principal.tenantId;
      logContext.userId = principal.keyId;
    }

    switch (rule.kind) {
      case 'platform-admin':
        if (principal.kind !== 'platform-admin') throw new ForbiddenError('this route needs the platform admin key');
        return true;
      case 'platform-or-tenant-admin':
        if (principal.kind === 'tenant' && !hasScope(principal.scopes, 'admin')) {
          throw new ForbiddenError("this route needs a key with the 'admin' scope");
        }
        return true;
      case 'tenant':
        if (principal.kind !== 'tenant') throw new ForbiddenError('this route needs a tenant API key, not the platform admin key');
        if (!hasScope(principal.scopes, rule.scope)) throw new ForbiddenError(`this route needs a key with the '${rule.scope}' scope`);
        return true;
    }
  }
}
