// Turns raw terminal output (escapes, \r overwrites, backspaces) into the plain text a screen would show, streaming.

/** Limits that keep a renderer's memory bounded whatever a program prints. */
export interface TerminalTextOptions {
  /** A line longer than this is cut there and continued on the next line (like a terminal wrapping). */
  maxLineChars?: number;
  /**
   * Lines above the cursor kept editable once the program moves the cursor up (multi-line progress displays):
   * a terminal's height less one, since no cursor reaches above the screen. Older lines are final. Until the
   * first cursor-up every finished line is final at once, so ordinary output streams without delay (the
   * frame printed before that first cursor-up stays in the text once).
   */
  maxHeldLines?: number;
  /** Keep maxHeldLines editable from the start: exact for a whole transcript, but lines come out that much later. */
  holdFromStart?: boolean;
}

const DEFAULT_MAX_LINE_CHARS = 16_384;
const DEFAULT_MAX_HELD_LINES = 23;
/** CSI parameters longer than this are not ours to interpret: the sequence is skipped. */
const MAX_CSI_PARAM_CHARS = 64;
const TAB_WIDTH = 8;

type ParserState = 'ground' | 'esc' | 'esc-intermediate' | 'csi' | 'string' | 'string-esc';

/**
 * A small terminal model for transcripts: a cursor over a few editable lines, everything scrolled past is
 * final text. It interprets what changes a transcript (CR, LF, BS, TAB, erase-in-line, cursor moves) and
 * drops the rest (colours, modes, titles, OSC hyperlinks, bells). Chunks may split escapes and lines anywhere.
 * Full-screen programs (editors, `top` without -b) come out as their last screen at best: this is not xterm.
 */
export class TerminalText {
  private readonly maxLineChars: number;
  private readonly maxHeldLines: number;
  /** Editable lines, the cursor's among them; lines[0] is the oldest not yet final. */
  private lines: string[][] = [[]];
  private row = 0;
  private col = 0;
  /** How many lines above the cursor stay editable: 0 until the program first moves the cursor up. */
  private hold = 0;
  private state: ParserState = 'ground';
  private params = '';
  private out = '';

  constructor(options: TerminalTextOptions = {}) {
    this.maxLineChars = Math.max(1, options.maxLineChars ?? DEFAULT_MAX_LINE_CHARS);
    this.maxHeldLines = Math.max(0, options.maxHeldLines ?? DEFAULT_MAX_HELD_LINES);
    if (options.holdFromStart) this.hold = this.maxHeldLines;
  }

  /** Feed raw terminal text; returns the text that became final (whole lines, each ending with \n). */
  write(chunk: string): string {
    for (const ch of chunk) this.feed(ch);
    return this.take();
  }

  /** The lines not final yet, as they look now (the current prompt or progress bar); '' when the cursor line is empty. */
  screen(): string {
    const rendered = this.lines.map(renderLine);
    while (rendered.length > 0 && rendered[rendered.length - 1] === '') rendered.pop();
    return rendered.join('\n');
  }

  /** The last non-empty line on screen (for a prompt: what the program asked), '' if none. */
  lastLine(): string {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const text = renderLine(this.lines[i]!);
      if (text.trim() !== '') return text;
    }
    return '';
  }

  /** Everything not yet returned, as final text (the program has ended). */
  end(): string {
    const rendered = this.lines.map(renderLine);
    let last = rendered.length;
    while (last > 0 && rendered[last - 1] === '') last--;
    // Lines a line feed finished keep their \n; the cursor's unfinished line has none.
    const rest = rendered.slice(0, last).join('\n') + (last > 0 && last < rendered.length ? '\n' : '');
    this.lines = [[]];
    this.row = 0;
    this.col = 0;
    this.state = 'ground';
    return this.take() + rest;
  }

  private take(): string {
    const text = this.out;
    this.out = '';
    return text;
  }

  private feed(ch: string): void {
    switch (this.state) {
      case 'ground':
        return this.ground(ch);
      case 'esc':
        return this.escape(ch);
      case 'esc-intermediate':
        // ESC ( B and friends: one more character ends it.
        this.state = 'ground';
        return;
      case 'csi':
        return this.csi(ch);
      case 'string':
        // OSC / DCS / APC / PM / SOS bodies are skipped (titles, hyperlinks, clipboard): BEL or ST ends them.
        if (ch === '\x07' || ch === '\u009c') this.state = 'ground';
        else if (ch === '\x1b') this.state = 'string-esc';
        return;
      case 'string-esc':
        this.state = ch === '\\' ? 'ground' : ch === '\x1b' ? 'string-esc' : 'string';
        return;
    }
  }

  private ground(ch: string): void {
    const code = ch.codePointAt(0)!;
    if (code >= 0x20 && code !== 0x7f && (code < 0x80 || code > 0x9f)) return this.print(ch);
    switch (ch) {
      case '\n':
      case '\x0b':
      case '\x0c':
        return this.lineFeed();
      case '\r':
        this.col = 0;
        return;
      case '\b':
        this.col = Math.max(0, this.col - 1);
        return;
      case '\t':
        this.moveTo(Math.min(this.maxLineChars - 1, (Math.floor(this.col / TAB_WIDTH) + 1) * TAB_WIDTH));
        return;
      case '\x1b':
        this.state = 'esc';
        return;
      case '\u009b':
        this.startCsi();
        return;
      case '\u009d':
      case '\u0090':
      case '\u009e':
      case '\u009f':
      case '\u0098':
        this.state = 'string';
        return;
      default:
        // BEL, NUL, SO/SI, DEL and other controls show nothing.
        return;
    }
  }

  private escape(ch: string): void {
    if (ch === '[') return this.startCsi();
    if (ch === ']' || ch === 'P' || ch === '_' || ch === '^' || ch === 'X') {
      this.state = 'string';
      return;
    }
    this.state = 'ground';
    if (ch >= ' ' && ch <= '/') {
      this.state = 'esc-intermediate';
      return;
    }
    if (ch === 'M')
      this.cursorUp(1); // reverse index
    else if (ch === 'E') this.lineFeed();
    else if (ch === 'D') this.lineFeed(true);
    else if (ch === '\x1b') this.state = 'esc';
    // ESC 7 / 8 (save/restore cursor), ESC = / > (keypad modes), ESC c (reset): nothing a transcript shows.
  }

  private startCsi(): void {
    this.state = 'csi';
    this.params = '';
  }

  private csi(ch: string): void {
    const code = ch.charCodeAt(0);
    if (code >= 0x40 && code <= 0x7e) {
      this.state = 'ground';
      if (this.params.length <= MAX_CSI_PARAM_CHARS) this.applyCsi(ch, this.params);
      return;
    }
    if (code === 0x1b) {
      // A new escape aborts the unfinished one.
      this.state = 'esc';
      return;
    }
    if (code < 0x20) return this.ground(ch); // controls inside a CSI still act
    if (this.params.length <= MAX_CSI_PARAM_CHARS) this.params += ch;
  }

  private applyCsi(final: string, params: string): void {
    // Private (?...), and >, =, < prefixed sequences set modes: nothing to render.
    if (/^[?<=>]/.test(params)) return;
    const nums = params.split(';').map((p) => (p === '' ? NaN : Number.parseInt(p, 10)));
    const n = (i: number, dflt: number) => {
      const v = nums[i];
      return v === undefined || Number.isNaN(v) || v === 0 ? dflt : v;
    };
    const raw0 = Number.isNaN(nums[0] ?? NaN) ? 0 : nums[0]!;
    switch (final) {
      case 'K':
        return this.eraseInLine(raw0);
      case 'J':
        return this.eraseInDisplay(raw0);
      case 'A':
      case 'F':
        this.cursorUp(n(0, 1));
        if (final === 'F') this.col = 0;
        return;
      case 'B':
      case 'E':
        // Down within what is on screen; a terminal's cursor stops at the bottom line.
        this.row = Math.min(this.lines.length - 1, this.row + n(0, 1));
        if (final === 'E') this.col = 0;
        return;
      case 'C':
        return this.moveTo(this.col + n(0, 1));
      case 'D':
        this.col = Math.max(0, this.col - n(0, 1));
        return;
      case 'G':
      case '`':
        return this.moveTo(n(0, 1) - 1);
      case 'H':
      case 'f':
        this.gotoRow(n(0, 1) - 1);
        return this.moveTo(n(1, 1) - 1);
      case 'd':
        return this.gotoRow(n(0, 1) - 1);
      case 'X': {
        const line = this.current();
        for (let i = this.col; i < Math.min(line.length, this.col + n(0, 1)); i++) line[i] = ' ';
        return;
      }
      case 'P': {
        this.current().splice(this.col, n(0, 1));
        return;
      }
      case '@': {
        const line = this.current();
        if (this.col < line.length) line.splice(this.col, 0, ...Array<string>(n(0, 1)).fill(' '));
        if (line.length > this.maxLineChars) line.length = this.maxLineChars;
        return;
      }
      default:
        // m (colours), r (scroll region), h/l (modes), s/u, n (reports): nothing to render.
        return;
    }
  }

  private current(): string[] {
    return this.lines[this.row]!;
  }

  private print(ch: string): void {
    if (this.col >= this.maxLineChars) this.lineFeed();
    const line = this.current();
    while (line.length < this.col) line.push(' ');
    line[this.col] = ch;
    this.col++;
  }

  private moveTo(col: number): void {
    this.col = Math.max(0, Math.min(col, this.maxLineChars - 1));
  }

  /**
   * LF: next line (a new one at the bottom), then lines above the editable window become final. A bare \n
   * also returns to column 0: a terminal's driver makes it \r\n, and a pipe's "a\nb" is two lines.
   * Cursor-down and index (keepCol) stay in their column, as on a terminal.
   */
  private lineFeed(keepCol = false): void {
    this.row++;
    if (this.row === this.lines.length) this.lines.push([]);
    if (!keepCol) this.col = 0;
    this.commitAbove();
  }

  private commitAbove(): void {
    const keep = Math.max(0, this.row - this.hold);
    if (keep === 0) return;
    for (const line of this.lines.splice(0, keep)) this.out += renderLine(line) + '\n';
    this.row -= keep;
  }

  private cursorUp(count: number): void {
    // From now on keep lines editable: this program redraws what it printed above.
    this.hold = this.maxHeldLines;
    this.row = Math.max(0, this.row - count);
  }

  /** CUP/VPA rows count from the top of the editable window (the screen's top is unknown to a transcript). */
  private gotoRow(row: number): void {
    this.hold = this.maxHeldLines;
    const target = Math.max(0, Math.min(row, this.maxHeldLines));
    while (this.lines.length <= target) this.lines.push([]);
    this.row = target;
  }

  private eraseInLine(mode: number): void {
    const line = this.current();
    if (mode === 0) line.length = Math.min(line.length, this.col);
    else if (mode === 1) for (let i = 0; i <= Math.min(this.col, line.length - 1); i++) line[i] = ' ';
    else line.length = 0;
  }

  private eraseInDisplay(mode: number): void {
    if (mode === 0) {
      this.eraseInLine(0);
      this.lines.length = this.row + 1;
    } else if (mode === 1) {
      for (let r = 0; r < this.row; r++) this.lines[r] = [];
      this.eraseInLine(1);
    } else {
      // Clear screen: what was on it is replaced (a redrawing program's next frame), the cursor stays.
      this.lines = this.lines.map(() => []);
    }
  }
}

function renderLine(line: string[]): string {
  return line.join('').trimEnd();
}

/** Render a whole terminal transcript at once. */
export function renderTerminalText(raw: string, options?: TerminalTextOptions): string {
  const t = new TerminalText({ holdFromStart: true, ...options });
  return t.write(raw) + t.end();
}
