import { parentPort, workerData } from 'node:worker_threads';
import { serializeError, type PortThreadTarget } from './port-thread';

/** The worker side of `PortThread`: builds the hosted object, then runs each call message on it. */
const target = workerData as PortThreadTarget;
const port = parentPort!;

async function main(): Promise<void> {
  let instance: Record<string, (...args: unknown[]) => unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module is named at run time, by the parent
    const moduleExports = require(target.modulePath) as Record<
      string,
      new (argument: unknown) => Record<string, (...args: unknown[]) => unknown>
    >;
    const exported = moduleExports[target.exportName];
    instance = new exported(target.argument);
    if (typeof instance.init === 'function') await instance.init();
  } catch (error) {
    port.postMessage({ error: serializeError(error) });
    return;
  }
  port.on('message', ({ id, method, args }: { id: number; method: string; args: unknown[] }) => {
    void (async () => {
      try {
        if (typeof instance[method] !== 'function') throw new Error(`${target.name} has no method ${method}`);
        const result = await instance[method](...args);
        port.postMessage({ id, result });
      } catch (error) {
        port.postMessage({ id, error: serializeError(error) });
      }
    })();
  });
  port.postMessage({ started: true });
}

void main();
