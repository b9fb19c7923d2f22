// Structured logs on stderr (fd 2): stdout belongs to the stdio transport.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destinationFd = 2): Logger {
  return pino(
    { level, base: { service: 'cc-executor' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: destinationFd, sync: true }),
  );
}
