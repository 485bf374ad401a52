/**
 * Secrets of the management endpoints: the manager's CSRF token and the constant-time comparison
 * used for it and for the command's access token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh random token: 32 bytes, base64url (43 characters, safe in a header and an HTML attribute). */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Whether `given` equals `expected`, in time that does not depend on where they differ. Both are
 * hashed first, so that strings of different lengths compare in constant time too
 * (`timingSafeEqual` wants equal lengths).
 */
export function constantTimeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
