// What every tool receives: the engine plus the calling session.
import type { Engine } from '../src/engine.js';
import type { Session } from '../src/sessions/session-registry.js';

/** The engine, and the session the call came from. */
export type ToolDeps = Engine & { session: Session };
