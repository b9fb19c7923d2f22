// The docs agree with the code: every error code and config key is in its table (and nothing else), links resolve.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../src/config.js';
import { ERROR_CODES } from '../src/errors.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const README = read('README.md');

/** The text of the `## title` section of a doc, up to the next `## ` heading. */
function section(doc: string, title: string): string {
  const text = read(doc);
  const start = text.indexOf(`\n## ${title}\n`);
  expect(start, `${doc}: section "## ${title}"`).toBeGreaterThanOrEqual(0);
  const end = text.indexOf('\n## ', start + 4);
  return text.slice(start, end === -1 ? undefined : end);
}

function firstColumnCodes(text: string): string[] {
  return [...text.matchAll(/^\|\s*`([^`]+)`\s*\|/gm)].map((m) => m[1]!);
}

/** README.md, SECURITY.md and every docs/*.md. */
function markdownFiles(): string[] {
  return [
    'README.md',
    'SECURITY.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
}

describe('docs', () => {
  it('docs/errors.md documents every error code exactly once, and no other', () => {
    const documented = firstColumnCodes(section('docs/errors.md', 'Tool error codes')).filter((c) => /^[A-Z_]+$/.test(c));
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('docs/configuration.md documents every configuration key, and no other', () => {
    const documented = firstColumnCodes(section('docs/configuration.md', 'Keys'));
    expect(documented.sort()).toEqual(Object.keys(ConfigSchema.shape).sort());
  });

  it('the README gives the install-and-start and test commands', () => {
    expect(README).toContain('npm install && npm start');
    expect(README).toMatch(/^npm test\b/m);
  });

  it('every relative link in README.md and docs/ points to a file that exists', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      // Links outside code spans and fences: [text](target) with a relative target.
      const text = read(file)
        .replace(/```[\s\S]*?```/g, '')
        .replace(/`[^`\n]*`/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (target === '' || /^[a-z]+:/i.test(target)) continue;
        if (!existsSync(resolve(ROOT, dirname(file), target))) broken.push(`${file}: ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
