import type { LatchkeyError } from './types';

export function latchkeyError(code: string, message?: string | null, integration?: string | null): LatchkeyError {
  const error = new Error(message || code) as LatchkeyError;
  error.name = 'LatchkeyError';
  error.code = code;
  if (integration) error.integration = integration;
  return error;
}
