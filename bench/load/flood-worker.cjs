/**
 * The flooding tenant of `npm run bench:flood`, on a thread of its own so that its closed loop
 * does not delay the measuring client's timers: `connections` keep-alive clients each send the
 * next retrieve as soon as the last one answered, ignoring Retry-After (a hostile or broken
 * client). Posts the count of answers per status when `seconds` have passed.
 */
'use strict';
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');

const { baseUrl, key, body, connections, seconds } = workerData;
const url = new URL(baseUrl);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const statuses = {};
let errors = 0;
const deadline = performance.now() + seconds * 1000;
const payload = Buffer.from(body);

function one() {
  return new Promise((resolve) => {
    const req = http.request(
      { agent, host: url.hostname, port: url.port, method: 'POST', path: '/v1/retrieve', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        res.resume();
        res.on('end', () => {
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          resolve();
        });
      },
    );
    req.on('error', () => {
      errors += 1;
      resolve();
    });
    req.end(payload);
  });
}

Promise.all(
  Array.from({ length: connections }, async () => {
    while (performance.now() < deadline) await one();
  }),
).then(() => {
  agent.destroy();
  parentPort.postMessage({ statuses, errors, seconds });
});
