/**
 * A forked helper process with a bounded request/answer exchange over IPC, so the benchmark never
 * waits on a child without a deadline.
 */
import { fork } from 'node:child_process';

/**
 * Forks `modulePath` with `args` and `execArgv`, and waits (at most `timeoutMs`) for its first
 * message; a child that does not send one in time is killed. `track(child)` is called at once with
 * the ChildProcess, so the caller can end it whatever happens. Returns
 * `{ pid, first, request(message, timeoutMs), stop(message, timeoutMs), kill() }`.
 */
export async function startChild(modulePath, args, { execArgv = [], timeoutMs = 10_000, track } = {}) {
  const child = fork(modulePath, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  track?.(child);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let nextId = 1;
  let first;
  try {
    first = await withTimeout(
      new Promise((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => reject(new Error(`${modulePath} exited with code ${code} before it was ready`)));
      }),
      timeoutMs,
      `${modulePath} did not start`,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    pid: child.pid,
    first,
    /** Sends `message` with an id and resolves with the child's `result` for it. */
    request(message, timeoutMs) {
      const id = nextId++;
      const answer = new Promise((resolve, reject) => {
        const onMessage = (reply) => {
          if (reply?.id !== id) return;
          child.off('message', onMessage);
          if (reply.error !== undefined) reject(new Error(reply.error));
          else resolve(reply.result);
        };
        child.on('message', onMessage);
      });
      child.send({ ...message, id });
      return withTimeout(answer, timeoutMs, `${modulePath} gave no answer within ${timeoutMs} ms`);
    },
    /** Asks the child to end with `message`; kills it if it has not exited within `timeoutMs`. */
    async stop(message, timeoutMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      if (child.connected) child.send(message);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const status = await exited;
      clearTimeout(timer);
      return status;
    },
    /** Ends the child at once (the watchdog's way out). */
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
