import type { Jieba } from '@node-rs/jieba';

/**
 * jieba with its default dictionary, loaded once on first use (~150 ms): the native module and its
 * dictionary are required only then, so a process (or thread) that never meets Chinese text never
 * holds them.
 */
let jieba: Jieba | undefined;

/** Chinese word segmentation (jieba, HMM on for words missing from the dictionary) */
export function segmentChinese(text: string): string[] {
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use */
  jieba ??= (require('@node-rs/jieba') as typeof import('@node-rs/jieba')).Jieba.withDict(
    (require('@node-rs/jieba/dict') as typeof import('@node-rs/jieba/dict')).dict,
  );
  /* eslint-enable @typescript-eslint/no-require-imports */
  return jieba.cut(text, true);
}
