#!/usr/bin/env node
// cc-executor preExecute hook: when the command's cwd holds a virtualenv (.venv), activate it first.
// Config: { "hooks": { "preExecute": [ { "argv": ["/path/to/venv.mjs"], "match": "^(python|pip|pytest|uv) " } ] } }
import { existsSync } from 'node:fs';
import { join } from 'node:path';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const request = JSON.parse(input);

const PREFIX = '. .venv/bin/activate && '; // `.` is `source` in every POSIX shell
if (request.command === undefined) process.exit(0); // argv requests run without a shell: nothing to prefix
if (request.command.startsWith(PREFIX)) process.exit(0);
if (!existsSync(join(request.cwd, '.venv', 'bin', 'activate'))) process.exit(0); // empty stdout: no change

process.stdout.write(JSON.stringify({ command: PREFIX + request.command }));
