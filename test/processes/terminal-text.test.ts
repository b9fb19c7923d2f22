// The terminal renderer on real-world byte patterns: progress bars, colours, prompts, redraws, split chunks.
import { describe, expect, it } from 'vitest';
import { renderTerminalText, TerminalText } from '../../src/processes/terminal-text.js';

describe('TerminalText', () => {
  it('turns CRLF into LF and keeps plain lines', () => {
    expect(renderTerminalText('one\r\ntwo\r\n')).toBe('one\ntwo\n');
  });

  it('shows a carriage-return progress bar as its last state, not every frame', () => {
    let raw = '';
    for (let i = 0; i <= 500; i++) raw += `\rprogress ${String(Math.floor(i / 5)).padStart(3)}% [${'#'.repeat(i / 25)}]`;
    raw += '\r\ndone\r\n';
    expect(renderTerminalText(raw)).toBe(`progress 100% [${'#'.repeat(20)}]\ndone\n`);
  });

  it('keeps the rest of a longer line when a shorter one overwrites its start', () => {
    expect(renderTerminalText('abcdef\rXY\n')).toBe('XYcdef\n');
    expect(renderTerminalText('abcdef\rXY\x1b[K\n')).toBe('XY\n');
  });

  it('removes colours, titles, hyperlinks and mode switches', () => {
    const raw =
      '\x1b]0;my title\x07\x1b[?25l\x1b[1;31mred\x1b[0m and \x1b]8;;https://x.test\x1b\\link\x1b]8;;\x1b\\\x1b(B\x1b=\x1b[?25h\r\n';
    expect(renderTerminalText(raw)).toBe('red and link\n');
  });

  it('collapses backspaces the way a screen shows them', () => {
    expect(renderTerminalText('helo\bp\b\blp\n')).toBe('help\n');
    expect(renderTerminalText('abc\b \b\b \b\n')).toBe('a\n');
  });

  it('expands tabs to the next tab stop', () => {
    expect(renderTerminalText('a\tb\n')).toBe('a       b\n');
  });

  it('renders a multi-line progress display redrawn with cursor-up as its last frame', () => {
    let raw = '';
    for (let i = 0; i < 50; i++) {
      if (i > 0) raw += '\x1b[2A';
      raw += `\x1b[2Klayer a: ${i}%\r\n\x1b[2Klayer b: ${2 * i}%\r\n`;
    }
    raw += 'pulled\r\n';
    expect(renderTerminalText(raw)).toBe('layer a: 49%\nlayer b: 98%\npulled\n');
    // Streaming cannot take back the first frame, finished before the first cursor-up: it stays once.
    const streaming = new TerminalText();
    let out = '';
    for (let i = 0; i < raw.length; i += 7) out += streaming.write(raw.slice(i, i + 7));
    expect(out + streaming.end()).toBe('layer a: 0%\nlayer b: 0%\nlayer a: 49%\nlayer b: 98%\npulled\n');
  });

  it('gives the same text whatever the chunk boundaries, even inside escapes', () => {
    const raw = 'x\x1b[31mcol\x1b[0mour\r\n\x1b]0;t\x1b\\p 1%\rp 99%\r\nname? ';
    const whole = renderTerminalText(raw);
    for (let size = 1; size <= 5; size++) {
      const t = new TerminalText();
      let out = '';
      for (let i = 0; i < raw.length; i += size) out += t.write(raw.slice(i, i + size));
      expect(out + t.end()).toBe(whole);
    }
    expect(whole).toBe('xcolour\np 99%\nname?');
  });

  it('streams finished lines at once and keeps the prompt on screen', () => {
    const t = new TerminalText();
    expect(t.write('line one\r\nname? ')).toBe('line one\n');
    expect(t.screen()).toBe('name?');
    expect(t.lastLine()).toBe('name?');
    expect(t.write('bob\r\nhello bob\r\n')).toBe('name? bob\nhello bob\n');
    expect(t.screen()).toBe('');
  });

  it('holds memory bounded: endless lines wrap, endless escapes are skipped', () => {
    const t = new TerminalText({ maxLineChars: 100 });
    const out = t.write('y'.repeat(1_000)) + t.end();
    expect(out).toBe(`${'y'.repeat(100)}\n`.repeat(9) + 'y'.repeat(100));
    const osc = new TerminalText();
    expect(osc.write(`\x1b]0;${'z'.repeat(100_000)}\x07ok`)).toBe('');
    expect(osc.end()).toBe('ok');
    const params = new TerminalText();
    expect(params.write(`\x1b[${'1;'.repeat(50_000)}mvisible\n`)).toBe('visible\n');
  });

  it('replaces a cleared screen with the next frame', () => {
    const raw = '\x1b[H\x1b[2Jframe 1\r\nrow\r\n\x1b[H\x1b[2Jframe 2\r\nrow 2\r\n';
    expect(renderTerminalText(raw)).toBe('frame 2\nrow 2\n');
  });
});
