export * from './chunker-settings';
export type { Chunk } from './chunk-text';
export { chunkText, chunkTextWithContext } from './chunk-text';
export { countTokens, TOKENIZER_ENCODING } from '../../text/tokenizer';
