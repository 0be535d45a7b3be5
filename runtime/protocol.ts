import { z } from 'zod';

// What crosses a worker boundary. Every request an actor receives is checked against its role's
// schema on both sides (before posting, so the sender gets the error; on arrival, so a worker
// never acts on a malformed message). Work items carry an id so that a supervisor can re-queue
// one an actor held when it crashed, and a consumer can take each exactly once.

const id = z.string().min(1);
const workItem = <T extends z.ZodType>(payload: T) => z.object({ id, attempt: z.number().int().min(0), payload });

// Tokens, weights and rollouts travel as transferable buffers, never as copied arrays.
const buffer = z.instanceof(ArrayBuffer);
const uint32 = z.number().int().min(0).max(0xffffffff);

// A batch of rollouts to generate: each prompt (Int32 token ids) `groupSize` times, rollout i
// from seeds[i]. The sampling settings travel with the batch rather than by `configure`, so
// that a batch re-queued to a restarted sampler is sampled exactly as the first attempt was.
const rolloutBatch = z
  .object({
    prompts: z.array(buffer).min(1),
    seeds: z.array(uint32).min(1),
    groupSize: z.number().int().min(1),
    phases: z.array(z.object({ maxNewTokens: z.number().int().min(1), stopTokens: z.array(z.number().int().min(0)).readonly() })).min(1),
    sampling: z.object({ temperature: z.number().min(0), topK: z.number().int().min(0), topP: z.number().gt(0).max(1) }),
  })
  .refine((batch) => batch.seeds.length === batch.prompts.length * batch.groupSize, { message: 'needs one seed per rollout (prompts x groupSize)', path: ['seeds'] });

// GRPO rows, end to end in buffers: row r's prompt is prompts[promptEnds[r-1] .. promptEnds[r])
// (Int32), its response and old log-probabilities likewise by responseEnds; `groups` counts the
// rows of each group in order.
const learnerRows = z
  .object({
    prompts: buffer,
    promptEnds: z.array(z.number().int().min(0)),
    responses: buffer,
    oldLogp: buffer,
    responseEnds: z.array(z.number().int().min(0)),
    advantages: z.array(z.number()),
    groups: z.array(z.number().int().min(1)).min(1),
  })
  .refine((rows) => rows.promptEnds.length === rows.advantages.length && rows.responseEnds.length === rows.advantages.length && rows.groups.reduce((total, n) => total + n, 0) === rows.advantages.length, {
    message: 'needs a prompt end, a response end and an advantage per row, and groups that add up to the rows',
  });

const grpoSettings = z.object({
  clipLow: z.number().min(0),
  clipHigh: z.number().min(0),
  aggregation: z.enum(['token_mean', 'seq_mean']),
  klCoefficient: z.number().min(0),
  updates: z.number().int().min(1),
});

const configure = z.object({
  type: z.literal('configure'),
  configVersion: z.number().int().min(1),
  settings: z.record(z.string(), z.json()),
});

export const ROLE_MESSAGES = {
  // Prompts in, G rollouts per prompt out with their log-probabilities and entropies, sampled
  // with the newest weights of the weight store.
  sampler: z.discriminatedUnion('type', [
    z.object({ type: z.literal('sample'), item: workItem(rolloutBatch) }),
    configure,
  ]),
  // The policy's weights and AdamW state. `start` takes the starting weights (the KL reference's
  // too), `restore` a checkpoint's, `update` one GRPO update on rewarded rows; each publishes
  // the weights it leaves to the weight store. `save` writes a checkpoint.
  learner: z.discriminatedUnion('type', [
    z.object({ type: z.literal('start'), weights: buffer }),
    z.object({ type: z.literal('restore'), weights: buffer, optimizer: z.object({ step: z.number().int().min(0), m: z.array(buffer), v: z.array(buffer) }) }),
    z.object({ type: z.literal('update'), rows: learnerRows, settings: grpoSettings, lr: z.number().min(0) }),
    z.object({ type: z.literal('save'), dir: z.string().min(1), tokenizer: z.object({ path: z.string(), sha256: z.string() }), extra: z.record(z.string(), z.string()) }),
  ]),
  evaluator: z.discriminatedUnion('type', [
    z.object({ type: z.literal('evaluate'), item: workItem(z.object({ checkpoint: z.string().min(1), step: z.number().int().min(0) })) }),
  ]),
  // The kept train positions: how many there are, and the contexts at given indices.
  feeder: z.discriminatedUnion('type', [
    z.object({ type: z.literal('count') }),
    z.object({ type: z.literal('contexts'), indices: z.array(z.number().int().min(0)).min(1) }),
  ]),
} as const;

export type Role = keyof typeof ROLE_MESSAGES;
export type RoleMessage<R extends Role> = z.output<(typeof ROLE_MESSAGES)[R]>;

// The envelope around a message on a port: a request with its correlation id, or the reply to one.
export type Envelope =
  | { kind: 'request'; id: number; message: unknown }
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: string };

export class MessageError extends Error {
  override name = 'MessageError';
}

/** The message as its role's schema reads it, or a MessageError naming the actor, the message type and each problem. */
export function validateMessage<R extends Role>(role: R, actor: string, message: unknown): RoleMessage<R> {
  const schema = ROLE_MESSAGES[role];
  const parsed = schema.safeParse(message);
  if (parsed.success) return parsed.data as RoleMessage<R>;
  const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
  const known = schema.options.map((option) => option.shape.type.value);
  if (typeof type !== 'string' || !known.includes(type as never)) {
    const got = typeof type === 'string' ? `type '${type}'` : 'no string type';
    throw new MessageError(`${actor} (${role}) rejected a message with ${got}: expected one of ${known.join(', ')}`);
  }
  const problems = parsed.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : 'the message'}: ${issue.message}`);
  throw new MessageError(`${actor} (${role}) rejected '${type}': ${problems.join('; ')}`);
}
