// Loaded with `node --require ./dist/instrumentation.js` before anything else, so the
// OpenTelemetry SDK patches modules before Nest, Express and the drivers are required.
import { startTelemetry } from './telemetry/sdk';

startTelemetry();
