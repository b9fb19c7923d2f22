// Readable log lines for a terminal: time, level, message and fields, from pino's JSON.
import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../src/log-pretty.js';

const rec = (o: Record<string, unknown>) => JSON.stringify({ level: 30, time: '2026-11-30T09:20:01.123Z', service: 'cc-executor', ...o });

describe('formatLogLine', () => {
  it('prints time, level and message, with short fields on the same line', () => {
    expect(formatLogLine(rec({ msg: 'records: found 3', records: 3, dir: '/x y' }), false)).toBe(
      '09:20:01.123 INFO  records: found 3 records=3 dir="/x y"\n',
    );
  });

  it('puts long or nested fields one per line under the message, aligned', () => {
    const text = formatLogLine(
      rec({
        msg: 'listening',
        endpoints: { websocket: 'ws://127.0.0.1:1/ws/mcp', mcp: 'http://127.0.0.1:1/mcp' },
        dataDir: '/home/me/.local/state/cc-executor',
      }),
      false,
    );
    expect(text.split('\n')).toEqual([
      '09:20:01.123 INFO  listening',
      '    endpoints.websocket  ws://127.0.0.1:1/ws/mcp',
      '    endpoints.mcp        http://127.0.0.1:1/mcp',
      '    dataDir              /home/me/.local/state/cc-executor',
      '',
    ]);
  });

  it("shows an error's message as a field and its stack indented below", () => {
    const text = formatLogLine(
      rec({ level: 50, msg: 'boom', err: { type: 'Error', message: 'bad', stack: 'Error: bad\n    at x' } }),
      false,
    );
    expect(text).toBe('09:20:01.123 ERROR boom err=bad\n    Error: bad\n        at x\n');
  });

  it('colours the level only when asked', () => {
    expect(formatLogLine(rec({ level: 40, msg: 'careful' }), true)).toContain('\x1b[33mWARN \x1b[0m');
    expect(formatLogLine(rec({ level: 40, msg: 'careful' }), false)).not.toContain('\x1b[');
  });

  it('passes a line that is not JSON through unchanged', () => {
    expect(formatLogLine('not json', false)).toBe('not json\n');
  });
});
