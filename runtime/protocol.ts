import { z } from 'zod';

// What crosses a worker boundary. Every request an actor receives is checked against its role's
// schema on both sides (before posting, so the sender gets the error; on arrival, so a worker
// never acts on a malformed message). Work items carry an id so that a supervisor can re-queue
// one an actor held when it crashed, and a consumer can take each exactly once.

const id = z.string().min(1);
const workItem = <T extends z.ZodType>(payload: T) => z.object({ id, attempt: z.number().int().min(0), payload });

// Rollouts travel as transferable buffers (token ids and rewards), never as copied arrays.
const tokens = z.instanceof(ArrayBuffer);
const uint32 = z.number().int().min(0).max(0xffffffff);

// A batch of rollouts to generate: each prompt (Int32 token ids) `groupSize` times, rollout i
// from seeds[i]. The sampling settings travel with the batch rather than by `configure`, so
// that a batch re-queued to a restarted sampler is sampled exactly as the first attempt was.
const rolloutBatch = z
  .object({
    prompts: z.array(tokens).min(1),
    seeds: z.array(uint32).min(1),
    groupSize: z.number().int().min(1),
    phases: z.array(z.object({ maxNewTokens: z.number().int().min(1), stopTokens: z.array(z.number().int().min(0)).readonly() })).min(1),
    sampling: z.object({ temperature: z.number().min(0), topK: z.number().int().min(0), topP: z.number().gt(0).max(1) }),
  })
  .refine((batch) => batch.seeds.length === batch.prompts.length * batch.groupSize, { message: 'needs one seed per rollout (prompts x groupSize)', path: ['seeds'] });

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
  // Rewarded rollout groups in; a GRPO step once a batch is full.
  learner: z.discriminatedUnion('type', [
    z.object({ type: z.literal('rollouts'), item: workItem(z.object({ tokens, rewards: z.instanceof(Float32Array), groupSize: z.number().int().min(2) })) }),
    configure,
  ]),
  evaluator: z.discriminatedUnion('type', [
    z.object({ type: z.literal('evaluate'), item: workItem(z.object({ checkpoint: z.string().min(1), step: z.number().int().min(0) })) }),
    configure,
  ]),
  // Hands out the next batch of contexts from the filtered corpus.
  feeder: z.discriminatedUnion('type', [
    z.object({ type: z.literal('next'), count: z.number().int().min(1) }),
    configure,
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
