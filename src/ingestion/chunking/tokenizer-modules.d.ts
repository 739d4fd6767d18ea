// js-tiktoken and gpt-tokenizer ship typings for these entry points only under package
// "exports", which this project's `moduleResolution: node` does not read.
declare module 'js-tiktoken/ranks/cl100k_base' {
  import type { TiktokenBPE } from 'js-tiktoken/lite';
  const ranks: TiktokenBPE;
  export default ranks;
}

declare module 'gpt-tokenizer/encoding/cl100k_base' {
  /** cl100k_base token count of `text`; throws on special-token text such as `<|endoftext|>` */
  export function countTokens(text: string): number;
}
