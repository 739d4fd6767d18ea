/**
 * Preloaded into the service by `npm run bench:load` (NODE_OPTIONS=--require …): samples the
 * event-loop delay with Node's own histogram (perf_hooks.monitorEventLoopDelay, 10 ms
 * resolution) and writes its percentiles to EVENT_LOOP_PROBE_FILE every second; SIGUSR2 resets
 * it (the bench resets it when the measured load starts). Nothing of the service is changed.
 */
'use strict';
const fs = require('node:fs');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const { isMainThread } = require('node:worker_threads');

const file = process.env.EVENT_LOOP_PROBE_FILE;
// the main thread's loop is the one serving HTTP (NODE_OPTIONS preloads into worker threads too)
if (file && isMainThread) {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const write = () => {
    const ms = (ns) => ns / 1e6;
    const snapshot = {
      count: histogram.count,
      mean_ms: ms(histogram.mean),
      p50_ms: ms(histogram.percentile(50)),
      p99_ms: ms(histogram.percentile(99)),
      max_ms: ms(histogram.max),
    };
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(snapshot));
    fs.renameSync(`${file}.tmp`, file);
  };
  setInterval(write, 1000).unref();
  process.on('SIGUSR2', () => {
    histogram.reset();
    write();
  });
}
