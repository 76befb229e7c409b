import { timingSafeEqual } from 'node:crypto';
import { ServerError, Status, type CallContext, type ServerMiddleware } from 'nice-grpc';

/**
 * Requires `authorization: Bearer <token>` on every call of the service it
 * is attached to; anything else is UNAUTHENTICATED before the handler runs.
 */
export function bearerTokenMiddleware(token: string): ServerMiddleware {
  const expected = Buffer.from(`Bearer ${token}`);
  const check = (context: CallContext): void => {
    const given = Buffer.from(context.metadata.get('authorization') ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ServerError(Status.UNAUTHENTICATED, 'missing or wrong bearer token');
    }
  };
  return async function* (call, context) {
    check(context);
    return yield* call.next(call.request, context);
  };
}
