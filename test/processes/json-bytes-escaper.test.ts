// JsonBytesEscaper (the WebAssembly escaper): byte for byte what JSON.stringify writes, for every byte, alignment and size.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ESCAPE_PIECE_BYTES, JsonBytesEscaper } from '../../src/processes/json-bytes-escaper.js';
import { callWithProgress, connectWs } from '../helpers/server.js';
import { spawnServer } from '../helpers/spawn-server.js';

/** What the escaper must write: the inside of JSON.stringify of the bytes read as latin1, written back as latin1. */
function reference(bytes: Buffer): Buffer {
  return Buffer.from(JSON.stringify(bytes.toString('latin1')).slice(1, -1), 'latin1');
}

/** Deterministic bytes (a linear congruential generator): every run tests the same inputs. */
function pseudoRandomBytes(length: number, seed: number, escapeShare: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < length; i++) out[i] = next() < escapeShare ? Math.floor(next() * 0x60) : Math.floor(next() * 256);
  return out;
}

describe('JsonBytesEscaper', () => {
  const escaper = JsonBytesEscaper.create()!;

  it('escapes each of the 256 byte values as JSON.stringify does, at every position in a 16-byte block and in the tail', () => {
    for (let byte = 0; byte < 256; byte++) {
      for (let at = 0; at < 40; at++) {
        const input = Buffer.alloc(41, 'a');
        input[at] = byte;
        expect(escaper.escape(input).equals(reference(input))).toBe(true);
      }
    }
  });

  it('matches JSON.stringify on inputs of every length up to 100 bytes and on large mixed inputs up to the piece size', () => {
    for (let length = 0; length <= 100; length++) {
      for (const share of [0, 0.05, 0.5, 1]) {
        const input = pseudoRandomBytes(length, length * 7 + Math.round(share * 100), share);
        expect(escaper.escape(input).equals(reference(input))).toBe(true);
      }
    }
    for (const [length, share] of [
      [ESCAPE_PIECE_BYTES, 0.01],
      [ESCAPE_PIECE_BYTES - 1, 0.3],
      [50_001, 0],
    ] as const) {
      const input = pseudoRandomBytes(length, length, share);
      expect(escaper.escape(input).equals(reference(input))).toBe(true);
    }
  });

  it('escapes the worst case (a whole piece of NUL bytes, six bytes each) and lines of text with their newlines', () => {
    const nul = Buffer.alloc(ESCAPE_PIECE_BYTES);
    expect(escaper.escape(nul).equals(Buffer.from('\\u0000'.repeat(ESCAPE_PIECE_BYTES), 'latin1'))).toBe(true);
    const text = 'a line with "quotes", a \\ and a tab\there ü € 😀\r\n'.repeat(900);
    const bytes = Buffer.from(text, 'utf8').subarray(0, ESCAPE_PIECE_BYTES);
    const whole = bytes.subarray(0, bytes.lastIndexOf(0x0a) + 1);
    // Valid UTF-8 in, the UTF-8 of JSON.stringify's escaped text out.
    expect(escaper.escape(whole).toString('utf8')).toBe(JSON.stringify(whole.toString('utf8')).slice(1, -1));
  });

  it('escapes several parts as their concatenation, and declines (null) more than one piece in all', () => {
    const parts = [Buffer.from('one\n'), pseudoRandomBytes(30_000, 3, 0.2), Buffer.alloc(0), Buffer.from('"two"\t')];
    expect(escaper.escapeAll(parts)?.equals(reference(Buffer.concat(parts)))).toBe(true);
    expect(escaper.escapeAll([Buffer.alloc(ESCAPE_PIECE_BYTES), Buffer.alloc(1)])).toBeNull();
    expect(() => escaper.escape(Buffer.alloc(ESCAPE_PIECE_BYTES + 1))).toThrow(RangeError);
  });

  it('returns scratch memory that the next call overwrites: callers copy it before escaping again', () => {
    const first = escaper.escape(Buffer.from('first\n'));
    const copy = Buffer.from(first);
    escaper.escape(Buffer.from('SECOND'));
    expect(copy.toString()).toBe('first\\n');
    expect(first.toString()).not.toBe('first\\n');
  });

  it('is not made where WebAssembly is off (node --jitless), and a server run that way still streams output', async () => {
    const built = fileURLToPath(new URL('../../dist/src/processes/json-bytes-escaper.js', import.meta.url));
    const probe = `import(${JSON.stringify(built)}).then((m) => console.log(String(m.JsonBytesEscaper.create())))`;
    expect(
      execFileSync(process.execPath, ['--jitless', '-e', probe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    ).toBe('undefined');
    const server = await spawnServer([], { NODE_OPTIONS: '--jitless' });
    try {
      const client = await connectWs(server.url);
      const { result, streamed } = await callWithProgress(client, 'execute', { command: `printf 'tab\\there "quoted" \\\\ done\\n'` });
      expect(result.isError).toBeFalsy();
      expect(streamed.stdout).toBe('tab\there "quoted" \\ done\n');
      await client.close();
    } finally {
      server.kill();
      await server.exited;
    }
  }, 60_000);
});
