// The inline view of one stream: its first and last lines within a budget, and a marker naming what was left out.

export interface InlineOutput {
  text: string;
  truncated: boolean;
  /** Characters not shown inline (0 when everything is). */
  omittedChars: number;
  /** Lines and bytes not shown inline, and where they are: 1-based line numbers, byte offset in the stream's log. */
  omitted: { lines: number; bytes: number; fromLine: number; toLine: number; byteOffset: number } | null;
}

/** The same text in a string that references no other (concatenating then slicing flattens into a fresh one). */
function ownCopy(text: string): string {
  return text.length === 0 ? '' : ` ${text}`.slice(1);
}

/** `text` without a high surrogate at its end: a cut there would leave half an emoji. */
function withoutSplitEnd(text: string): string {
  const last = text.charCodeAt(text.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? text.slice(0, -1) : text;
}

/** `text` without a low surrogate at its start (the other half of a character cut before it). */
function withoutSplitStart(text: string): string {
  const first = text.charCodeAt(0);
  return first >= 0xdc00 && first <= 0xdfff ? text.slice(1) : text;
}

const LAST_LINE_SCAN_CHARS = 4_096;
const MAX_LAST_LINE_CHARS = 400;

/** Count of "\n" in `text`. */
function newlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

/**
 * Head and tail of one stream, `half` characters each, shown cut at line boundaries: a fragment of a line
 * would read like a real line. Only a line longer than the whole budget is cut inside.
 */
export class InlineHeadTail {
  private head = '';
  private tail = '';
  /** The character before the tail's first one was a newline (or there was none): the tail starts a line. */
  private tailStartsLine = true;
  private totalChars = 0;
  private totalBytes = 0;
  private totalNewlines = 0;
  private lastChar = '';

  /**
   * @param half characters kept at each end
   * @param stream the stream's name, and `id` the execution's, for the marker's status call
   */
  constructor(
    private readonly half: number,
    private readonly stream: string,
    private readonly id: string | undefined,
  ) {}

  /** Add decoded text; `bytes` is the size of the raw bytes it came from. */
  append(text: string, bytes: number): void {
    if (text.length === 0) return;
    this.totalChars += text.length;
    this.totalBytes += bytes;
    this.totalNewlines += newlines(text);
    const before = this.lastChar;
    this.lastChar = text[text.length - 1]!;
    let previous = before;
    if (this.head.length < this.half) {
      const room = this.half - this.head.length;
      this.head += text.slice(0, room);
      previous = this.head[this.head.length - 1]!;
      text = text.slice(room);
      if (text.length === 0) return;
    }
    if (this.tail.length === 0 || text.length >= this.half) {
      // A chunk as long as the budget replaces the tail outright: no copy of the old tail (output floods).
      this.tail = text;
      this.tailStartsLine = previous === '' || previous === '\n';
    } else this.tail += text;
    // Amortised trim: only when the tail is twice its budget.
    if (this.tail.length > 2 * this.half) this.trimTail();
  }

  private trimTail(): void {
    this.tailStartsLine = this.tail[this.tail.length - this.half - 1] === '\n';
    this.tail = this.tail.slice(-this.half);
  }

  /** The last non-empty line so far (a prompt, for "waiting for input"), at most a few hundred characters. */
  lastLine(): string {
    const recent = (this.tail || this.head).slice(-LAST_LINE_SCAN_CHARS);
    const lines = recent.split(/\r?\n/).filter((l) => l.trim() !== '');
    return (lines.at(-1) ?? '').slice(-MAX_LAST_LINE_CHARS);
  }

  /**
   * Keep only what render() shows, in strings of their own: a slice of a big chunk's string keeps that whole
   * chunk alive in V8, so a finished run's head and tail would otherwise pin a window's worth of chunks.
   */
  compact(): void {
    if (this.tail.length > this.half) this.trimTail();
    this.head = ownCopy(this.head);
    this.tail = ownCopy(this.tail);
  }

  render(): InlineOutput {
    let tail = this.tail;
    let tailStartsLine = this.tailStartsLine;
    if (tail.length > this.half) {
      tailStartsLine = tail[tail.length - this.half - 1] === '\n';
      tail = tail.slice(-this.half);
    }
    if (this.totalChars - this.head.length - tail.length <= 0) {
      return { text: this.head + tail, truncated: false, omittedChars: 0, omitted: null };
    }
    // Cut back to whole lines at both ends (unless one line fills the whole budget; then at least never
    // through a character: half a surrogate pair is not text, and some clients refuse to encode it).
    let head = withoutSplitEnd(this.head);
    const lastNewline = head.lastIndexOf('\n');
    if (lastNewline !== -1) head = head.slice(0, lastNewline + 1);
    tail = withoutSplitStart(tail);
    let tailInsideLine = !tailStartsLine;
    if (tailInsideLine) {
      const firstNewline = tail.indexOf('\n');
      if (firstNewline !== -1 && firstNewline < tail.length - 1) {
        tail = tail.slice(firstNewline + 1);
        tailInsideLine = false;
      }
    }
    const headBytes = Buffer.byteLength(head);
    const bytes = Math.max(0, this.totalBytes - headBytes - Buffer.byteLength(tail));
    const totalLines = this.totalNewlines + (this.lastChar === '\n' ? 0 : 1);
    const tailLines = newlines(tail) + (tail.length > 0 && !tail.endsWith('\n') ? 1 : 0);
    // A head without a newline is part of line 1 (and a tail inside one line part of the last): the
    // left-out part then starts (or ends) inside that line.
    const fromLine = newlines(head) + 1;
    const toLine = Math.max(fromLine, totalLines - tailLines + (tailInsideLine ? 1 : 0));
    const lines = toLine - fromLine + 1;
    const omitted = { lines, bytes, fromLine, toLine, byteOffset: headBytes };
    const read =
      this.id === undefined
        ? 'read them with status'
        : `read them with status {"id": ${JSON.stringify(this.id)}, "stream": "${this.stream}", "lines": {"from": ${fromLine}, "to": ${toLine}}}`;
    const marker =
      `${head.endsWith('\n') || head === '' ? '' : '\n'}... [${this.stream} lines ${fromLine}-${toLine} left out ` +
      `(${lines} lines, ${bytes} bytes); ${read}] ...\n`;
    return {
      text: head + marker + tail,
      truncated: true,
      omittedChars: this.totalChars - head.length - tail.length,
      omitted,
    };
  }
}
