/** A worker-thread module for the thread-pool tests: doubles numbers, throws or exits on request. */
import { serveThreadTasks } from '../../src/util/thread-pool.js';

serveThreadTasks((input: { value: number; fail?: string; exit?: boolean }) => {
  if (input.exit === true) process.exit(5);
  if (input.fail !== undefined) throw new Error(input.fail);
  return input.value * 2;
});
