// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { loadLatchkey } from '../src/index';

describe('loadLatchkey during server-side rendering', () => {
  it('resolves with null and touches nothing', async () => {
    expect(typeof window).toBe('undefined');
    await expect(loadLatchkey('https://latchkey.example')).resolves.toBeNull();
  });
});
