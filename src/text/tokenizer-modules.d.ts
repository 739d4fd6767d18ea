// js-tiktoken ships typings for this entry point only under package
// "exports", which this project's `moduleResolution: node` does not read.
declare module 'js-tiktoken/ranks/cl100k_base' {
  import type { TiktokenBPE } from 'js-tiktoken/lite';
  const ranks: TiktokenBPE;
  export default ranks;
}
