// Every ServerError code maps to one of the original protocol's numeric codes; the session limit to -32003.
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ServerError, type ErrorCode } from '../../src/errors.js';
import { toLegacyError } from '../../transports/legacy-errors.js';
import { LEGACY_ERRORS } from '../../src/wire.js';

describe('toLegacyError', () => {
  it('maps every ServerError code to an original-protocol code and keeps the string code in data', () => {
    const known: number[] = Object.values(LEGACY_ERRORS);
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const mapped = toLegacyError(new ServerError(code, 'm', { extra: 1 }));
      expect(known, code).toContain(mapped.code);
      expect(mapped).toMatchObject({ message: 'm', data: { code, extra: 1 } });
    }
  });

  it('tells the session limit (-32003) from an execution limit (-32602)', () => {
    expect(toLegacyError(new ServerError('LIMIT_REACHED', 'x', { limit: 'maxSessions' })).code).toBe(-32003);
    expect(toLegacyError(new ServerError('LIMIT_REACHED', 'x', { limit: 'maxExecutionsPerSession' })).code).toBe(-32602);
  });

  it('reports anything else thrown as an internal error with its message', () => {
    expect(toLegacyError(new Error('boom'))).toMatchObject({ code: -32603, message: 'boom', data: { code: 'INTERNAL' } });
  });
});
