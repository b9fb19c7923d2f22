// The README's tables agree with the code: every error code and every config key is documented, and nothing else.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../src/config.js';
import { ERROR_CODES } from '../src/errors.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

function section(title: string): string {
  const start = README.indexOf(`## ${title}`);
  expect(start, `README section ${title}`).toBeGreaterThanOrEqual(0);
  const end = README.indexOf('\n## ', start + 3);
  return README.slice(start, end === -1 ? undefined : end);
}

function firstColumnCodes(text: string): string[] {
  return [...text.matchAll(/^\|\s*`([^`]+)`\s*\|/gm)].map((m) => m[1]!);
}

describe('README', () => {
  it('documents every error code exactly once, and no other', () => {
    const documented = firstColumnCodes(section('Error codes')).filter((c) => /^[A-Z_]+$/.test(c));
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('documents every configuration key, and no other', () => {
    const documented = firstColumnCodes(section('Configuration'));
    expect(documented.sort()).toEqual(Object.keys(ConfigSchema.shape).sort());
  });

  it('gives the install-and-start and test commands', () => {
    expect(README).toContain('npm install && npm start');
    expect(README).toMatch(/^npm test\b/m);
  });
});
