// The body of every actor thread (actor.ts): imports the actor module, then answers requests
// one at a time in arrival order. A malformed request is answered with the validation error;
// a handler that throws is left to crash the thread, for the supervisor to restart.

import { parentPort, workerData } from 'node:worker_threads';
import type { ActorBehaviour, ActorWorkerData } from './actor.ts';
import { Mailbox } from './mailbox.ts';
import { validateMessage, type Envelope, type Role } from './protocol.ts';

const { module, name, role, capacity, data } = workerData as ActorWorkerData;
const port = parentPort!;
const behaviour = ((await import(module)) as { default: ActorBehaviour<Role> }).default;
if (behaviour?.role !== role) throw new Error(`${module} is not a ${role} actor (its default export's role is ${String(behaviour?.role)})`);

// The parent keeps at most `capacity` requests in flight, so this never has to wait for room.
const inbox = new Mailbox<Extract<Envelope, { kind: 'request' }>>(capacity);
port.on('message', (envelope: Envelope) => {
  if (envelope.kind === 'request') void inbox.put(envelope);
});

for (;;) {
  const request = await inbox.take();
  let message;
  try {
    message = validateMessage(role, name, request.message);
  } catch (error) {
    const reply: Envelope = { kind: 'reply', id: request.id, ok: false, error: (error as Error).message };
    port.postMessage(reply);
    continue;
  }
  const { value, transfer = [] } = await behaviour.handle(message, { name, data });
  const reply: Envelope = { kind: 'reply', id: request.id, ok: true, value };
  port.postMessage(reply, transfer);
}
