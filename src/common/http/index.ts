export * from './backoff';
export * from './circuit-breakers';
export * from './openai-api-root';
export * from './provider-http-client';
export * from './response-shape';
