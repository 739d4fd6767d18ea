/**
 * The flooding tenant of `npm run bench:flood`, a process of its own run at the lowest CPU
 * priority (nice 19): on a real deployment the flood comes from other machines, so its own CPU
 * must not delay the service or the measuring client here. `connections` keep-alive clients each
 * send the next retrieve as soon as the last one answered, ignoring Retry-After (a hostile or
 * broken client). Prints the count of answers per status as JSON when `seconds` have passed.
 * Argument: the JSON of { baseUrl, key, body, connections, seconds }.
 */
'use strict';
const http = require('node:http');

const { baseUrl, key, body, connections, seconds } = JSON.parse(process.argv[2]);
const url = new URL(baseUrl);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const statuses = {};
let errors = 0;
const deadline = performance.now() + seconds * 1000;
const payload = Buffer.from(body);

function one() {
  return new Promise((resolve) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/v1/retrieve',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': payload.length },
      },
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
  process.stdout.write(JSON.stringify({ statuses, errors, seconds }));
});
