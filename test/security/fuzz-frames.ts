// Seeded generators of hostile WebSocket frames for the fuzz suite, each with the outcome the server must produce.
// Every generated command is harmless: `echo`, `true`, `cat` of given stdin, in a temp dir; anything else
// carries a field that makes validation fail before a process could start.

export type JsonRpcId = string | number;

export type Expectation =
  /** Exactly one reply (result or error) with this id; with `orNull`, id null is fine too (id unreadable). */
  | { kind: 'reply'; id: JsonRpcId | null; orNull?: boolean; mustFail?: boolean; stdout?: string }
  /** `count` replies with this id (duplicate ids). */
  | { kind: 'replies'; id: JsonRpcId; count: number }
  /** No reply (notifications, responses the server never asked for): checked with a ping sent after it. */
  | { kind: 'none' }
  /** The server closes the connection with this code. */
  | { kind: 'close'; code: 1003 | 1007 | 1009 };

export interface Frame {
  category: string;
  /** Sent back to back: strings as text frames, Buffers as text frames of raw bytes unless `binary`. */
  data: Array<string | Buffer>;
  binary?: boolean;
  expect: Expectation;
}

export interface FuzzContext {
  rand: () => number;
  /** Directory every command runs in. */
  cwd: string;
  /** Ids of executions seen in replies (to aim `control`/`status` at real ones). */
  knownIds: string[];
  nextId: () => string;
  /** Largest frame the server accepts. */
  maxPayloadBytes: number;
}

/** mulberry32: small, fast, good enough to make every run reproducible from its seed. */
export function createPrng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
const int = (rand: () => number, min: number, max: number) => min + Math.floor(rand() * (max - min + 1));
const word = (rand: () => number) =>
  Array.from({ length: int(rand, 1, 12) }, () => pick(rand, [...'abcdefghijklmnopqrstuvwxyz0123456789'])).join('');

/** Placeholder for number literals JSON.stringify cannot write (1e400, 123456789012345678901234567890). */
const raw = (literal: string) => `__RAW_${literal}__`;
const encode = (value: unknown) => JSON.stringify(value).replace(/"__RAW_([^"]*?)__"/g, '$1');

function request(id: JsonRpcId, method: string, params?: unknown): Record<string, unknown> {
  return { jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) };
}

function call(id: JsonRpcId, name: string, args: unknown): Record<string, unknown> {
  return request(id, 'tools/call', { name, arguments: args });
}

// Values of the wrong type for each kind of tool field: validation must refuse every one.
const WRONG: Record<string, unknown[]> = {
  string: [0, 1.5, true, false, null, [], ['x'], {}, { a: 1 }, raw('1e400')],
  strings: ['echo', 5, true, null, {}, [5], [null], [['x']], [{}], [true]],
  record: ['x', 5, true, null, [], ['a'], { a: 1 }, { a: null }, { a: ['x'] }, { a: {} }],
  positiveInt: ['5', true, null, [], {}, 0, -1, 1.5, raw('-1e308'), raw('1e400'), raw('123456789012345678901234567890')],
  nonNegativeInt: ['5', true, null, [], {}, -1, 0.5, raw('-1e400'), raw('1e400')],
  boolean: ['true', 1, 0, null, [], {}],
  action: ['PAUSE', 'stop', 5, null, [], {}, ''],
  scope: ['everything', 5, null, [], true],
  grace: [-1, 600_001, 1.5, '100', null, raw('1e400')],
  maxBytes: [0, -1, 8 * 1024 * 1024 + 1, '10', null, raw('1e400')],
  id: ['', 5, null, true, [], {}],
};

const TOOL_FIELDS: Record<string, Record<string, keyof typeof WRONG>> = {
  execute: {
    command: 'string',
    argv: 'strings',
    cwd: 'string',
    env: 'record',
    stdin: 'string',
    timeoutMs: 'positiveInt',
    idleTimeoutMs: 'positiveInt',
    background: 'boolean',
    detach: 'boolean',
    waitMs: 'nonNegativeInt',
  },
  control: { id: 'id', action: 'action', signal: 'string', graceMs: 'grace' },
  status: { id: 'id', sinceSeq: 'nonNegativeInt', maxBytes: 'maxBytes', scope: 'scope' },
};

function validArgs(ctx: FuzzContext, tool: string): Record<string, unknown> {
  if (tool === 'execute') return { argv: ['echo', 'never-runs'], cwd: ctx.cwd };
  if (tool === 'control') return { id: 'no-such-execution', action: 'cancel' };
  return { id: 'no-such-execution' };
}

type Generator = (ctx: FuzzContext) => Frame;

const reply = (id: JsonRpcId | null, more: Partial<Extract<Expectation, { kind: 'reply' }>> = {}): Expectation => ({
  kind: 'reply',
  id,
  ...more,
});

const GENERATORS: Array<[weight: number, Generator]> = [
  // Not JSON at all, or JSON cut short: -32700 (or -32600 if it happens to parse), id null.
  [
    8,
    (ctx) => {
      const { rand } = ctx;
      const whole = encode(call(ctx.nextId(), 'execute', { argv: ['echo', word(rand)], cwd: ctx.cwd }));
      const text = pick(rand, [
        () => whole.slice(0, int(rand, 1, whole.length - 1)),
        () => '{not json',
        () => "{'jsonrpc':'2.0','id':1,'method':'ping'}",
        () => '{"jsonrpc":"2.0","id":1,"method":"ping",}',
        () => '{"jsonrpc":"2.0","id":NaN,"method":"ping"}',
        () => '{"jsonrpc":"2.0","id":1,"method":"pi\u0000ng"}', // raw control character inside a string
        () => '{"jsonrpc":"2.0","id":1,"method":"ping"}}',
        () => '',
        () => ' \n\t ',
        () => Array.from({ length: int(rand, 1, 200) }, () => String.fromCharCode(int(rand, 32, 0x2fff))).join(''),
      ])();
      return { category: 'invalid-json', data: [text], expect: reply(null) };
    },
  ],
  // Valid JSON that is no JSON-RPC message: id null.
  [
    5,
    (ctx) => {
      const text = pick(ctx.rand, [
        '42',
        '"ping"',
        'null',
        'true',
        '[]',
        '{}',
        '[{"jsonrpc":"2.0","id":1,"method":"ping"}]',
        '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}',
        '{"jsonrpc":"2.0","id":[1],"method":"ping"}',
        '{"jsonrpc":"2.0","id":true,"method":"ping"}',
      ]);
      return { category: 'non-message', data: [text], expect: reply(null) };
    },
  ],
  // Objects with a readable id but not a valid request: -32600 with the id (or null).
  [
    6,
    (ctx) => {
      const id = ctx.nextId();
      const msg = pick(ctx.rand, [
        { jsonrpc: '2.0', id },
        { jsonrpc: '1.0', id, method: 'ping' },
        { id, method: 'ping' },
        { jsonrpc: 2, id, method: 'ping' },
        { jsonrpc: '2.0', id, method: 5 },
        { jsonrpc: '2.0', id, method: null },
        { jsonrpc: '2.0', id, method: 'ping', params: 5 },
        { jsonrpc: '2.0', id, method: 'ping', params: 'x' },
        { jsonrpc: '2.0', id, method: 'tools/call', params: [1, 2] },
      ]);
      return { category: 'invalid-request', data: [encode(msg)], expect: reply(id, { orNull: true }) };
    },
  ],
  // Methods nobody serves, requests named like notifications, the legacy protocol's names.
  [
    6,
    (ctx) => {
      const id = ctx.nextId();
      const method = pick(ctx.rand, [
        'execute',
        'control',
        'hook_status',
        'pong',
        'tools/execute',
        'resources/list',
        'resources/subscribe',
        'prompts/get',
        'sampling/createMessage',
        'logging/setLevel',
        'completion/complete',
        'notifications/initialized',
        '',
        ' ',
        'rpc.discover',
        '__proto__',
        'constructor',
        'x'.repeat(int(ctx.rand, 100, 5_000)),
        word(ctx.rand),
      ]);
      return { category: 'unknown-method', data: [encode(request(id, method, {}))], expect: reply(id) };
    },
  ],
  // Notifications and responses the server never asked for: no reply.
  [
    6,
    (ctx) => {
      const msg = pick(ctx.rand, [
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'never-sent', reason: 'x' } },
        { jsonrpc: '2.0', method: 'notifications/cancelled', params: {} },
        { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 5 } },
        { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
        { jsonrpc: '2.0', method: word(ctx.rand), params: { a: [1, 2, 3] } },
        { jsonrpc: '2.0', id: ctx.nextId(), result: {} },
        { jsonrpc: '2.0', id: 987654321, result: { content: [] } },
        { jsonrpc: '2.0', id: ctx.nextId(), error: { code: -1, message: 'client error' } },
      ]);
      return { category: 'notification-or-response', data: [encode(msg)], expect: { kind: 'none' } };
    },
  ],
  // Deep nesting, as the whole frame or inside a tool argument.
  [
    4,
    (ctx) => {
      const id = ctx.nextId();
      const budget = ctx.maxPayloadBytes - 400;
      const depth = int(ctx.rand, 50, Math.floor(budget / 6));
      const nested = ctx.rand() < 0.5 ? '['.repeat(depth * 2) + ']'.repeat(depth * 2) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      const where = pick(ctx.rand, ['frame', 'command', 'argv', 'env', 'meta', 'id']);
      if (where === 'frame') return { category: 'deep-nesting', data: [nested.slice(0, budget)], expect: reply(null) };
      const inner = nested.length > budget ? '[1]' : nested;
      const args =
        where === 'command'
          ? `{"command":${inner},"cwd":${JSON.stringify(ctx.cwd)}}`
          : where === 'argv'
            ? `{"argv":["echo",${inner}]}`
            : `{"argv":["echo","x"],"env":{"A":${inner}}}`;
      const text =
        where === 'meta'
          ? `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"ping","params":{"_meta":{"deep":${inner}}}}`
          : where === 'id'
            ? `{"jsonrpc":"2.0","id":${inner},"method":"ping"}`
            : `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":{"name":"execute","arguments":${args}}}`;
      // ping with deep _meta is a fine request; every other placement must be refused
      return {
        category: 'deep-nesting',
        data: [text],
        expect: where === 'id' ? reply(null) : reply(id, { orNull: true, mustFail: where !== 'meta' }),
      };
    },
  ],
  // Huge, tiny, negative and non-integer numbers as ids and in numeric fields.
  [
    6,
    (ctx) => {
      const rand = ctx.rand;
      if (rand() < 0.4) {
        const literal = pick(rand, ['1e308', '-1e308', '1e400', '123456789012345678901234567890', '0.5', '-0', '9007199254740993', '-1']);
        const text = `{"jsonrpc":"2.0","id":${literal},"method":"ping"}`;
        // Echoed as parsed when it is a usable id, else null (1e400 parses to Infinity).
        return { category: 'huge-number-id', data: [text], expect: reply(Number(literal), { orNull: true }) };
      }
      const id = ctx.nextId();
      const literal = pick(rand, ['1e308', '-1e308', '1e400', '-1e400', '123456789012345678901234567890', '1e-400', '-0', '4.9e-324']);
      const tool = pick(rand, ['execute', 'control', 'status']);
      const field = pick(
        rand,
        Object.entries(TOOL_FIELDS[tool]!).filter(([, kind]) => /Int|grace|maxBytes/.test(kind)),
      )[0];
      const args = { ...validArgs(ctx, tool), [field]: raw(literal) };
      // execute's base args would run `echo`: make it fail unless the number itself is refused
      if (tool === 'execute') args.argv = ['no-such-program-xyz-fuzz'];
      return { category: 'huge-number-field', data: [encode(call(id, tool, args))], expect: reply(id, { mustFail: true }) };
    },
  ],
  // The wrong type in every tool field, and wrong shapes of the call itself.
  [
    20,
    (ctx) => {
      const rand = ctx.rand;
      const id = ctx.nextId();
      if (rand() < 0.15) {
        const params = pick(rand, [
          { name: 5, arguments: {} },
          { name: null },
          { name: 'execute', arguments: 'echo hi' },
          { name: 'execute', arguments: ['echo', 'hi'] },
          { name: 'execute', arguments: 5 },
          { name: 'execute', arguments: null },
          { name: 'no-such-tool', arguments: {} },
          { name: 'execute' },
          {},
        ]);
        return { category: 'wrong-call-shape', data: [encode(request(id, 'tools/call', params))], expect: reply(id, { mustFail: true }) };
      }
      const tool = pick(rand, Object.keys(TOOL_FIELDS));
      const [field, kind] = pick(rand, Object.entries(TOOL_FIELDS[tool]!));
      const args = { ...validArgs(ctx, tool), [field]: pick(rand, WRONG[kind]!) };
      return { category: `wrong-type:${tool}.${field}`, data: [encode(call(id, tool, args))], expect: reply(id, { mustFail: true }) };
    },
  ],
  // NUL bytes in every string field (escaped: the JSON is valid, the strings are not usable).
  [
    8,
    (ctx) => {
      const rand = ctx.rand;
      const id = ctx.nextId();
      const nul = (s: string) => {
        const at = int(rand, 0, s.length);
        return `${s.slice(0, at)}\u0000${s.slice(at)}`;
      };
      const variant = pick(rand, [
        'command',
        'argv0',
        'argv1',
        'cwd',
        'envKey',
        'envValue',
        'stdin',
        'control',
        'status',
        'tool',
        'method',
        'id',
      ]);
      const base = { argv: ['echo', 'x'], cwd: ctx.cwd };
      const frames: Record<string, [Record<string, unknown>, Expectation]> = {
        command: [call(id, 'execute', { command: nul('echo hi'), cwd: ctx.cwd }), reply(id, { mustFail: true })],
        argv0: [call(id, 'execute', { ...base, argv: [nul('echo'), 'x'] }), reply(id, { mustFail: true })],
        argv1: [call(id, 'execute', { ...base, argv: ['echo', nul('x')] }), reply(id, { mustFail: true })],
        cwd: [call(id, 'execute', { ...base, cwd: nul(ctx.cwd) }), reply(id, { mustFail: true })],
        envKey: [call(id, 'execute', { ...base, env: { [nul('KEY')]: 'v' } }), reply(id, { mustFail: true })],
        envValue: [call(id, 'execute', { ...base, env: { KEY: nul('v') } }), reply(id, { mustFail: true })],
        stdin: [call(id, 'execute', { argv: ['cat'], cwd: ctx.cwd, stdin: nul('in') }), reply(id)],
        control: [call(id, 'control', { id: nul('abcd'), action: 'signal', signal: nul('SIGINT') }), reply(id, { mustFail: true })],
        status: [call(id, 'status', { id: nul('abcd'), scope: nul('all') }), reply(id, { mustFail: true })],
        tool: [call(id, nul('execute'), base), reply(id, { mustFail: true })],
        method: [request(id, nul('tools/list'), {}), reply(id, { mustFail: true })],
        id: [request(nul(id), 'ping'), reply(null, { orNull: true })],
      };
      const [msg, expect] = frames[variant]!;
      if (variant === 'id') return { category: 'nul:id', data: [encode(msg)], expect: reply(msg.id as string) };
      return { category: `nul:${variant}`, data: [encode(msg)], expect };
    },
  ],
  // Lone surrogates (valid JSON escapes, invalid Unicode) in strings.
  [
    4,
    (ctx) => {
      const id = ctx.nextId();
      const s = pick(ctx.rand, ['\ud800', '\udfff', 'a\ud83d', '\ude00b']);
      const msg = pick(ctx.rand, [
        call(id, 'execute', { argv: ['echo', `x${s}`], cwd: ctx.cwd }),
        call(id, 'execute', { command: `echo ${s}`, cwd: ctx.cwd }),
        call(id, 'execute', { argv: ['echo', 'x'], cwd: `${ctx.cwd}/${s}` }),
        call(id, 'execute', { argv: ['echo', 'x'], cwd: ctx.cwd, env: { [`K${s}`]: s } }),
        call(id, 'status', { id: s }),
        request(id, `tools/${s}`, {}),
      ]);
      return { category: 'lone-surrogate', data: [encode(msg)], expect: reply(id) };
    },
  ],
  // Very long command strings and argv, under the frame limit: they run `echo`.
  [
    3,
    (ctx) => {
      const id = ctx.nextId();
      const n = int(ctx.rand, 1_000, ctx.maxPayloadBytes - 1_000);
      if (ctx.rand() < 0.5) {
        return {
          category: 'long-command',
          data: [encode(call(id, 'execute', { command: `echo ${'a'.repeat(n)}`, cwd: ctx.cwd }))],
          expect: reply(id),
        };
      }
      const parts = Array.from({ length: Math.floor(n / 14) }, () => 'bbbbbbbbb'); // 12 bytes each once encoded
      return { category: 'long-argv', data: [encode(call(id, 'execute', { argv: ['echo', ...parts], cwd: ctx.cwd }))], expect: reply(id) };
    },
  ],
  // Ordinary, harmless executions (their ids feed control and status).
  [
    8,
    (ctx) => {
      const id = ctx.nextId();
      const w = word(ctx.rand);
      const [args, stdout] = pick(ctx.rand, [
        [{ argv: ['echo', w] }, `${w}\n`],
        [{ command: `echo ${w}` }, `${w}\n`],
        [{ argv: ['true'] }, ''],
        [{ argv: ['cat'], stdin: w }, w],
        [{ argv: ['echo', w], background: true }, undefined],
        [{ argv: ['echo', w], waitMs: 0 }, undefined],
        [{ argv: ['echo', w], timeoutMs: 60_000, idleTimeoutMs: 60_000 }, `${w}\n`],
      ] as Array<[Record<string, unknown>, string | undefined]>);
      return {
        category: 'execute',
        data: [encode(call(id, 'execute', { ...args, cwd: ctx.cwd }))],
        expect: reply(id, stdout === undefined ? {} : { stdout }),
      };
    },
  ],
  // control: any action on ids that do not exist; on real ids only those that refuse an exited execution
  // (a signal or kill could reach a reused process group id).
  [
    6,
    (ctx) => {
      const id = ctx.nextId();
      const real = ctx.knownIds.length > 0 && ctx.rand() < 0.5;
      const target = real ? pick(ctx.rand, ctx.knownIds) : pick(ctx.rand, ['', 'abc', 'zzzz', word(ctx.rand), 'f'.repeat(36)]);
      const action = real
        ? pick(ctx.rand, ['pause', 'resume', 'cancel'])
        : pick(ctx.rand, ['pause', 'resume', 'cancel', 'kill', 'signal', 'stop']);
      const signal = pick(ctx.rand, ['SIGKILL', 'TERM', 'SIGNOPE', '9', '', 'sigint']);
      return {
        category: 'control',
        data: [encode(call(id, 'control', { id: target, action, signal, graceMs: int(ctx.rand, 0, 100) }))],
        expect: reply(id),
      };
    },
  ],
  // status of real and unknown ids, cursors anywhere, lists.
  [
    5,
    (ctx) => {
      const id = ctx.nextId();
      const target = ctx.knownIds.length > 0 && ctx.rand() < 0.6 ? pick(ctx.rand, ctx.knownIds) : undefined;
      const args =
        target === undefined
          ? { scope: pick(ctx.rand, ['session', 'all']) }
          : { id: ctx.rand() < 0.3 ? target.slice(0, 4) : target, sinceSeq: int(ctx.rand, 0, 5), maxBytes: int(ctx.rand, 1, 100) };
      return { category: 'status', data: [encode(call(id, 'status', args))], expect: reply(id) };
    },
  ],
  // Two requests with one id, back to back.
  [
    3,
    (ctx) => {
      const id = ctx.rand() < 0.5 ? ctx.nextId() : int(ctx.rand, 0, 1_000_000);
      const second = pick(ctx.rand, [request(id, 'ping'), call(id, 'status', {}), request(id, 'tools/list')]);
      return { category: 'duplicate-id', data: [encode(request(id, 'ping')), encode(second)], expect: { kind: 'replies', id, count: 2 } };
    },
  ],
  [
    1,
    () => ({
      category: 'binary',
      data: [Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping"}')],
      binary: true,
      expect: { kind: 'close', code: 1003 },
    }),
  ],
  [
    1,
    (ctx) => {
      const n = ctx.maxPayloadBytes + int(ctx.rand, 1, 64 * 1024);
      const frame = encode(call(ctx.nextId(), 'execute', { command: `echo ${'z'.repeat(n)}`, cwd: ctx.cwd }));
      return { category: 'oversize', data: [frame], expect: { kind: 'close', code: 1009 } };
    },
  ],
  // Invalid UTF-8 inside a string field of a text frame.
  [
    2,
    (ctx) => {
      const bad = Buffer.from(
        pick(ctx.rand, [
          [0xff],
          [0xc3, 0x28],
          [0x80],
          [0xc0, 0xaf],
          [0xed, 0xa0, 0x80],
          [0xf4, 0x90, 0x80, 0x80],
          [0xe2, 0x82],
          [0xfe, 0xfe],
        ]),
      );
      const field = pick(ctx.rand, ['command', 'cwd', 'method', 'id']);
      const id = JSON.stringify(ctx.nextId());
      const [head, tail] =
        field === 'method'
          ? [`{"jsonrpc":"2.0","id":${id},"method":"tools/`, '"}']
          : field === 'id'
            ? ['{"jsonrpc":"2.0","id":"', '","method":"ping"}']
            : [`{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"execute","arguments":{"${field}":"echo `, '"}}}'];
      return {
        category: `invalid-utf8:${field}`,
        data: [Buffer.concat([Buffer.from(head), bad, Buffer.from(tail)])],
        expect: { kind: 'close', code: 1007 },
      };
    },
  ],
];

const TOTAL_WEIGHT = GENERATORS.reduce((n, [w]) => n + w, 0);

export function generateFrame(ctx: FuzzContext): Frame {
  let r = ctx.rand() * TOTAL_WEIGHT;
  for (const [w, gen] of GENERATORS) {
    if ((r -= w) < 0) return gen(ctx);
  }
  return GENERATORS[0]![1](ctx);
}
