// The command whose stdout every streaming figure moves: exactly N bytes of 80-byte ASCII lines, cheap to make.

/** 79 printable ASCII characters; with the newline, lines of 80 bytes. */
const LINE = 'cc-executor bench line: the quick brown fox jumps over the lazy dog 0123456789ab';

/** A bash command that writes exactly `bytes` bytes of text lines to stdout and exits 0. */
export function producerCommand(bytes: number): string {
  return `yes '${LINE}' | head -c ${bytes}`;
}

/** A bash command that writes exactly `bytes` bytes of one line with no newline at all. */
export function singleLineCommand(bytes: number): string {
  return `head -c ${bytes} /dev/zero | tr '\\0' x`;
}

/** A bash command that writes exactly `bytes` NUL bytes (6 bytes each once JSON-escaped). */
export function nulCommand(bytes: number): string {
  return `head -c ${bytes} /dev/zero`;
}
