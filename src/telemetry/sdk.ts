/** Placeholder until the telemetry SDK lands: the start hook exists so the start command is final. */
export function startTelemetry(): void {}
