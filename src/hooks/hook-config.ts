// The `hooks` setting: pre/post execution hook entries, validated (regexes included) when the config loads.
import { z } from 'zod';

export const DEFAULT_HOOK_TIMEOUT_MS = 10_000;

const regexSource = z.string().superRefine((source, ctx) => {
  try {
    new RegExp(source);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(e as Error).message}` });
  }
});

const hookFields = {
  command: z.string().min(1).optional().describe('Shell command line, run by the server shell with -c'),
  argv: z.array(z.string()).min(1).optional().describe('Program and arguments, run without a shell'),
  timeoutMs: z.number().int().positive().default(DEFAULT_HOOK_TIMEOUT_MS).describe('The hook is killed (its whole group) after this'),
  match: regexSource.optional().describe("Run only when this regex matches the execution's command (or argv[0])"),
};

function exactlyOneOfCommandArgv(entry: { command?: string | undefined; argv?: string[] | undefined }): boolean {
  return (entry.command === undefined) !== (entry.argv === undefined);
}

const ONE_OF = { message: 'give exactly one of `command` or `argv`' };

export const PreHookSchema = z
  .object({
    ...hookFields,
    failClosed: z.boolean().default(false).describe('Block the execution when the hook fails or times out (default: warn and go on)'),
  })
  .strict()
  .refine(exactlyOneOfCommandArgv, ONE_OF);

// No failClosed: a post hook runs after the fact and cannot block anything.
export const PostHookSchema = z.object(hookFields).strict().refine(exactlyOneOfCommandArgv, ONE_OF);

export const HooksConfigSchema = z
  .object({
    preExecute: z.array(PreHookSchema).default([]),
    postExecute: z.array(PostHookSchema).default([]),
  })
  .strict()
  .default({ preExecute: [], postExecute: [] });

export type PreHookConfig = z.infer<typeof PreHookSchema>;
export type PostHookConfig = z.infer<typeof PostHookSchema>;
export type HooksConfig = z.infer<typeof HooksConfigSchema>;
export type HookStage = 'preExecute' | 'postExecute';
